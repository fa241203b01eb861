/**
 * The partner app's message catalogues and language choice (i18n.ts): every language has every English key with the
 * same parameters (the type `Messages` already demands it; this also catches an empty or untranslated message); every
 * OAuth error code a page reports is a sentence in every language (failures.ts); and the switch's choice, else
 * Accept-Language, picks the page language.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CATALOGUES, chosenLocale, LOCALES, negotiateLocale, pageLanguage, withMarkup, type Messages } from './i18n.ts';
import { en } from './locales/en.ts';
import { connectPage, dashboardPage, errorPage, reconnectPage } from './pages.ts';
import { failureMessage, shownErrorCode } from './failures.ts';

const keys = Object.keys(en) as (keyof Messages)[];
/** A message as text: functions are called with a marker per parameter, which must all appear in it. */
const render = (message: Messages[keyof Messages], values: string[]) => (typeof message === 'function' ? (message as (...args: string[]) => string)(...values) : message);

describe('partner app message catalogues', () => {
  for (const locale of LOCALES) {
    it(`${locale}: exactly the English keys, none empty, each with the same parameters`, () => {
      const catalogue = CATALOGUES[locale];
      assert.deepEqual(Object.keys(catalogue).sort(), [...keys].sort());
      for (const key of keys) {
        const message = catalogue[key];
        assert.equal(typeof message, typeof en[key], `${locale} ${key}: a ${typeof en[key]}`);
        const markers = typeof en[key] === 'function' ? Array.from({ length: (en[key] as (...args: never[]) => string).length }, (_value, index) => `⟦${index}⟧`) : [];
        if (typeof message === 'function') assert.equal(message.length, markers.length, `${locale} ${key}: parameters`);
        const text = render(message, markers);
        assert.ok(text.trim() !== '', `${locale} ${key} is empty`);
        for (const marker of markers) assert.ok(text.includes(marker), `${locale} ${key} uses parameter ${marker}`);
      }
    });
  }

  it('is really translated: no language copies an English sentence word for word', () => {
    for (const locale of LOCALES.filter((candidate) => candidate !== 'en')) {
      const copied = keys.filter((key) => {
        const english = render(en[key], ['X', 'Y']);
        return render(CATALOGUES[locale][key], ['X', 'Y']) === english && /[a-z]{4,} [a-z]{4,}/i.test(english);
      });
      assert.deepEqual(copied, [], `${locale} copies English`);
    }
  });

  it('every OAuth error code and SDK failure a page reports is a sentence in every language, with no raw reason in the normal view', () => {
    const codes = ['invalid_grant', 'invalid_client', 'unauthorized_client', 'invalid_request', 'invalid_scope', 'server_error', 'temporarily_unavailable', 'something_new'];
    for (const locale of LOCALES) {
      const lang = pageLanguage(locale);
      for (const code of codes) {
        const message = failureMessage(lang.t, 'Ledgerly', code);
        assert.doesNotMatch(message, /_/, `${locale} ${code}: no code in the sentence`);
        const page = errorPage(lang, 'Ledgerly', 'T', message, 'csrf', { code: shownErrorCode(code) });
        assert.doesNotMatch(page.replace(/<details>[\s\S]*?<\/details>/g, ''), new RegExp(code), `${locale} ${code}`);
        if (code !== 'something_new') assert.match(page, new RegExp(`<details><summary>[^<]+</summary><p>[^<]+ <code data-testid="error-code">${code}</code></p></details>`), `${locale} ${code}`);
        else assert.doesNotMatch(page, /<details>/, 'an unknown code is not echoed');
      }
      for (const [why, reason] of [['grant_ended', 'invalid_grant: refresh token was already used'], ['unknown', 'the connection has no tokens']] as const) {
        const page = reconnectPage(lang, 'Ledgerly', 'csrf', { why, code: shownErrorCode(reason) });
        assert.doesNotMatch(page, /already used|no tokens|invalid_grant:/, `${locale}: the raw reason is not shown`);
        assert.doesNotMatch(page, /\(\s*\)/, `${locale}: no empty parentheses`);
      }
    }
    assert.equal(shownErrorCode('invalid_grant: refresh token was already used'), 'invalid_grant');
    assert.equal(shownErrorCode('<script>: x'), undefined);
    assert.equal(shownErrorCode('made_up_code'), undefined);
    assert.equal(shownErrorCode(null), undefined);
  });
});

describe('negotiateLocale (Accept-Language)', () => {
  it('picks the supported language of the highest quality, the earlier of equal ones; English when none', () => {
    assert.equal(negotiateLocale(undefined), 'en');
    assert.equal(negotiateLocale(''), 'en');
    assert.equal(negotiateLocale('de'), 'de');
    assert.equal(negotiateLocale('de-AT,de;q=0.9'), 'de');
    assert.equal(negotiateLocale('fr;q=0.4, sv;q=0.8, da;q=0.8'), 'sv');
    assert.equal(negotiateLocale('pt-BR, es-MX;q=0.5'), 'es', 'an unsupported language is skipped');
    assert.equal(negotiateLocale('pt-BR, ja'), 'en');
    assert.equal(negotiateLocale('no'), 'nb');
    assert.equal(negotiateLocale('nn-NO'), 'nb');
    assert.equal(negotiateLocale('da_DK'), 'da');
    assert.equal(negotiateLocale('de;q=0, fr'), 'fr', 'q=0 is "not acceptable"');
    assert.equal(negotiateLocale('de;q=abc, es'), 'es', 'a malformed weight skips its entry');
    assert.equal(negotiateLocale('*'), 'en');
    assert.equal(negotiateLocale(['sv', 'de']), 'sv');
  });

  it('the language switch\'s choice wins over Accept-Language when it names a page language exactly; anything else is ignored', () => {
    assert.equal(chosenLocale('fr', 'de'), 'fr');
    assert.equal(chosenLocale('nb', undefined), 'nb');
    for (const unknown of [undefined, '', 'xx', 'FR', 'de-AT', 'no', ' en']) assert.equal(chosenLocale(unknown, 'es;q=0.5, sv'), 'sv', String(unknown));
  });
});

describe('pages in a language', () => {
  it('set <html lang> and keep escaping every value, translated text included', () => {
    const app = '<b>"Ledgerly" & Co</b>';
    const page = connectPage(pageLanguage('fr'), app, 'tok"en', 'a <notice>');
    assert.match(page, /<html lang="fr">/);
    assert.ok(!page.includes('<b>'), 'the app name is escaped');
    assert.match(page, /Connectez &lt;b&gt;&quot;Ledgerly&quot; &amp; Co&lt;\/b&gt; à votre entreprise Gatehouse/);
    assert.match(page, /value="tok&quot;en"/);
    assert.match(page, /a &lt;notice&gt;/);
    assert.match(errorPage(pageLanguage('nb'), 'Ledgerly', 'T', 'M'), /<a href="\/">Tilbake<\/a>/);
  });

  it('the dashboard of a connection with no company visible names none, and shows no subject URN outside its technical details', () => {
    const subjectUrn = 'urn:gatehouse:organization:00000000-0000-4000-8000-000000000001';
    const page = dashboardPage(pageLanguage('de'), 'Ledgerly', { subjectUrn, scope: ['users:read'], companies: [], users: [], vendors: undefined });
    assert.match(page, /<h2>Verbunden\. Die Plattform zeigt dieser Verbindung noch kein Unternehmen\.<\/h2>/);
    assert.equal(page.split(subjectUrn).length - 1, 1, 'once, inside the collapsed details');
    assert.ok(page.indexOf(subjectUrn) > page.indexOf('<details>'));
  });

  it('withMarkup escapes the message and inserts the fragments as they are', () => {
    assert.equal(withMarkup((link: string) => `<go> to ${link} & back`, '<a href="/x">here</a>'), '&lt;go&gt; to <a href="/x">here</a> &amp; back');
    assert.equal(withMarkup((company: string) => `$& ${company}`, '<span>$1</span>'), '$&amp; <span>$1</span>');
  });
});
