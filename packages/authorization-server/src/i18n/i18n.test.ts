/**
 * The message catalogues (issue 13 "Languages"): every language has exactly English's keys with the same
 * placeholders and the same markup, every message parses as ICU MessageFormat in its language, plurals
 * follow each language's rules, values are escaped where markup is kept, and dates are the language's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import IntlMessageFormat from 'intl-messageformat';
import i18next from 'i18next';
import ICU from 'i18next-icu';
import { SCOPE_CATALOGUE } from '@gatehouse/protocol';
import { CATALOGUES, LOCALES, translator, type MessageKey, type MessageValues } from './i18n.ts';
import { en } from './locales/en.ts';
import escapeHtml from 'escape-html';
import { SafeHtml } from '../pages/html.ts';

/** The argument names a message uses (in select and plural branches too), sorted. */
function placeholders(message: string, locale: string): string[] {
  const names = new Set<string>();
  const walk = (elements: any[]): void => {
    for (const element of elements) {
      if (typeof element.value === 'string' && element.type !== 0 && element.type !== 7) names.add(element.value); // not literal, not #
      if (element.options) for (const option of Object.values(element.options) as { value: any[] }[]) walk(option.value);
      if (element.children) walk(element.children);
    }
  };
  walk(new IntlMessageFormat(message, locale, undefined, { ignoreTag: true }).getAst() as any[]);
  return [...names].sort();
}

/** The markup a message carries (tags with their attributes), sorted. */
const markup = (message: string) => [...message.matchAll(/<\/?[a-z][^>]*>/g)].map((match) => match[0]).sort();

describe('message catalogues', () => {
  const keys = Object.keys(en) as MessageKey[];

  for (const locale of LOCALES) {
    it(`${locale}: exactly the English keys, each with the same placeholders and markup`, () => {
      const catalogue = CATALOGUES[locale];
      assert.deepEqual(Object.keys(catalogue).filter((key) => !(key in en)), [], 'no extra keys');
      assert.deepEqual(keys.filter((key) => !(key in catalogue)), [], 'no missing keys');
      for (const key of keys) {
        const message = catalogue[key];
        assert.ok(message.trim() !== '', `${locale} ${key} is empty`);
        assert.deepEqual(placeholders(message, locale), placeholders(en[key], 'en'), `${locale} ${key}: placeholders`);
        assert.deepEqual(markup(message), markup(en[key]), `${locale} ${key}: markup`);
      }
    });
  }

  it('is really translated: no language copies more than a few English messages word for word', () => {
    for (const locale of LOCALES.filter((candidate) => candidate !== 'en')) {
      // Words that are the same in both languages ("Sessions", "Konto", "Status", a bare placeholder) are fine.
      const copied = keys.filter((key) => CATALOGUES[locale][key] === en[key] && /[a-z]{4,} [a-z]{4,}/i.test(en[key].replace(/\{[^}]*\}/g, '')));
      assert.deepEqual(copied, [], `${locale} copies English`);
    }
  });

  it('describes every scope of the protocol catalogue in every language (English is @gatehouse/protocol\'s wording)', () => {
    for (const [scope, wording] of SCOPE_CATALOGUE) {
      assert.equal(translator('en').scope(scope), wording);
      for (const locale of LOCALES.filter((candidate) => candidate !== 'en')) {
        assert.notEqual(translator(locale).scope(scope), wording, `${locale} ${scope}`);
      }
    }
    assert.equal(translator('de').scope('unknown:scope'), 'unknown:scope', 'a scope outside the catalogue shows its name');
  });
});

describe('translator', () => {
  it('applies each language\'s plural rules: "1 app" / "2 apps" (en, da, fr; 0 is singular in French)', () => {
    assert.equal(translator('en').t('account.appCount', { count: 1 }), '1 app is connected.');
    assert.equal(translator('en').t('account.appCount', { count: 2 }), '2 apps are connected.');
    assert.equal(translator('da').t('account.appCount', { count: 1 }), '1 app er forbundet.');
    assert.equal(translator('da').t('account.appCount', { count: 2 }), '2 apps er forbundet.');
    assert.equal(translator('fr').t('account.appCount', { count: 1 }), '1 application est connectée.');
    assert.equal(translator('fr').t('account.appCount', { count: 2 }), '2 applications sont connectées.');
    assert.equal(translator('fr').t('account.appCount', { count: 0 }), '0 application est connectée.', 'CLDR: 0 is "one" in French');
    assert.equal(translator('en').t('account.appCount', { count: 0 }), '0 apps are connected.');
    assert.equal(translator('de').t('sessions.confirmOthers', { count: 1 }), '1 andere Sitzung wird sofort abgemeldet. Dieses Gerät bleibt angemeldet.');
  });

  it('counts the connections a deletion or rotation revokes by the language\'s plural rules: "(0 active)", "(1 active)", "(2 actives)" in French', () => {
    const fr = translator('fr');
    for (const key of ['console.deleteConnections', 'portal.rotateRevokes', 'portal.deleteRevokes'] as const) {
      assert.match(fr.t(key, { count: 0, client: 'Fjord' }), /\(0 active\)/, `${key}: CLDR: 0 is "one" in French`);
      assert.match(fr.t(key, { count: 1, client: 'Fjord' }), /\(1 active\)/, key);
      assert.match(fr.t(key, { count: 2, client: 'Fjord' }), /\(2 actives\)/, key);
      assert.match(translator('es').t(key, { count: 1, client: 'Fjord' }), /\(1 activa\)/, key);
      assert.match(translator('es').t(key, { count: 0, client: 'Fjord' }), /\(0 activas\)/, key);
      assert.match(translator('da').t(key, { count: 1, client: 'Fjord' }), /\(1 aktiv\)/, key);
      assert.match(translator('sv').t(key, { count: 2, client: 'Fjord' }), /\(2 aktiva\)/, key);
    }
  });

  it('agrees the word for "no" with a neuter noun: Swedish "inget företag", "ingen organisation" (it said "ingen företag")', () => {
    const sv = translator('sv');
    assert.equal(sv.t('noSubject.heading', { subjectType: 'company' }), 'Du har inget företag att ansluta');
    assert.equal(sv.t('noSubject.heading', { subjectType: 'organization' }), 'Du har ingen organisation att ansluta');
    assert.equal(sv.t('noSubject.title', { subjectType: 'company' }), 'Inget företag att ansluta');
    assert.equal(sv.t('noSubject.title', { subjectType: 'organization' }), 'Ingen organisation att ansluta');
  });

  it('formats numbers the language\'s way', () => {
    assert.match(translator('de').t('local.securityOn', { count: 1234 }), /1\.234/);
    assert.match(translator('en').t('local.securityOn', { count: 1234 }), /1,234/);
  });

  it('escapes the values of a message with markup, and keeps the catalogue\'s own markup', () => {
    const rendered = translator('da').html('consent.willBeAbleTo', { client: '<img src=x onerror=alert(1)>' }).value;
    assert.equal(rendered, '<strong>&lt;img src=x onerror=alert(1)&gt;</strong> vil kunne:');
    assert.equal(translator('en').t('consent.title', { client: '<b>' }), 'Connect <b>', 'plain text is escaped later, by the page');
  });

  it('writes dates in the language, in UTC, to the minute (English keeps ISO 8601)', () => {
    const at = Date.UTC(2027, 0, 15, 8, 0) / 1000;
    assert.equal(translator('en').dateTime(at), '2027-01-15 08:00 UTC');
    assert.equal(translator('de').dateTime(at), '15.01.2027, 08:00 UTC');
    assert.match(translator('fr').dateTime(at), /^15 janv\. 2027.*08:00 UTC$/);
    assert.match(translator('da').dateTime(at), /^15\. jan\. 2027.*08\.00 UTC$/);
  });

  it('keeps the path the language switch returns to', () => {
    assert.equal(translator('sv', '/account/sessions').path, '/account/sessions');
    assert.equal(translator('sv').path, '/');
  });
});

describe('compiled messages (formatted without i18next per call)', () => {
  /** The same configuration i18n.ts gives i18next: its output is what pages showed before the messages were compiled. */
  const reference = i18next.createInstance();
  void reference.use(ICU).init({
    initAsync: false,
    resources: Object.fromEntries(LOCALES.map((locale) => [locale, { translation: CATALOGUES[locale] }])),
    lng: 'en', fallbackLng: 'en', supportedLngs: [...LOCALES], keySeparator: false, nsSeparator: false,
    returnNull: false, returnEmptyString: false, interpolation: { escapeValue: false },
  });
  /** Values for every argument of a message: numbers where it counts or selects by number, text with markup characters elsewhere. */
  function sampleValues(message: string, locale: string, count: number): MessageValues {
    const values: MessageValues = {};
    const walk = (elements: any[]): void => {
      for (const element of elements) {
        if (element.type === 2 || element.type === 6) values[element.value] = count; // number, plural
        else if (element.type === 3 || element.type === 4) values[element.value] = 1_800_000_000_000; // date, time
        else if (typeof element.value === 'string' && element.type !== 0 && element.type !== 7 && !(element.value in values)) values[element.value] = `<v&'"${element.value}>`;
        if (element.options) for (const option of Object.values(element.options) as { value: any[] }[]) walk(option.value);
        if (element.children) walk(element.children);
      }
    };
    walk(new IntlMessageFormat(message, locale, undefined, { ignoreTag: true }).getAst() as any[]);
    return values;
  }

  it('gives exactly what i18next gives, for every key of every language, with and without values, twice', () => {
    for (const locale of LOCALES) {
      const fixed = reference.getFixedT(locale);
      const ours = translator(locale);
      for (const key of Object.keys(en) as MessageKey[]) {
        for (const count of [0, 1, 2, 1234]) {
          const values = sampleValues(CATALOGUES[locale][key], locale, count);
          for (let round = 0; round < 2; round++) {
            assert.equal(ours.t(key, values), String(fixed(key, values)), `${locale} ${key} ${count}`);
            assert.equal(ours.html(key, values).value, new SafeHtml(String(fixed(key, escapedValues(values)))).value, `${locale} ${key} ${count} html`);
          }
        }
        assert.equal(ours.t(key), String(fixed(key, {})), `${locale} ${key} without values`);
        assert.equal(ours.t(key), String(fixed(key, {})), `${locale} ${key} without values, cached`);
      }
    }
  });

  it('falls back as i18next does when a value is missing', () => {
    for (const locale of LOCALES) {
      assert.equal(translator(locale).t('account.appCount'), String(reference.getFixedT(locale)('account.appCount', {})));
      assert.equal(translator(locale).t('consent.title', {}), String(reference.getFixedT(locale)('consent.title', {})));
    }
  });
});

function escapedValues(values: MessageValues): MessageValues {
  const escaped: MessageValues = {};
  for (const [name, value] of Object.entries(values)) escaped[name] = typeof value === 'string' ? escapeHtml(value) : value;
  return escaped;
}

describe('accessible names that contain the visible label (WCAG 2.5.3, axe label-content-name-mismatch)', () => {
  // Each button shows the first and is named by the second (aria-label): a speech-input user says what they see.
  const pairs: [MessageKey, MessageKey][] = [
    ['account.disconnect', 'account.disconnectLabel'], ['apiKeys.reconnect', 'apiKeys.reconnectLabel'], ['apiKeys.revoke', 'apiKeys.revokeLabel'],
    ['apiKeys.copy', 'apiKeys.copyLabel'], ['console.revoke', 'console.revokeLabel'], ['console.removeMembership', 'console.removeMembershipLabel'],
    ['console.action', 'console.actionLabel'], ['marketplace.connectAnother', 'marketplace.connectAnotherLabel'],
    ['team.revoke', 'team.revokeNamed'], ['team.remove', 'team.removeNamed'],
  ];
  const values = (action: string): MessageValues => ({ client: 'Ledgerly Sync', app: 'Ledgerly Sync', subject: 'Nordlys Danmark ApS', user: 'Alice Admin', name: 'Export', subjectType: 'company', action });
  const visible = (text: string) => text.replace(/…$/, '').trim().toLocaleLowerCase();

  it('in every language, each button\'s aria-label contains its visible text', () => {
    const mismatches: string[] = [];
    for (const locale of LOCALES) {
      const t = translator(locale).t;
      for (const [shown, named] of pairs) {
        for (const action of ['approve', 'suspend', 'reactivate', 'delete']) {
          const label = t(named, values(action)).toLocaleLowerCase();
          if (!label.includes(visible(t(shown, values(action))))) mismatches.push(`${locale} ${named}: "${t(named, values(action))}" lacks "${t(shown, values(action))}"`);
        }
      }
    }
    assert.deepEqual([...new Set(mismatches)], []);
  });
});
