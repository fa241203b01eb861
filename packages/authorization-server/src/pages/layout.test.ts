/**
 * The language switch is assembled from parts built once per page language (layout.ts): it must stay
 * byte for byte what the template built per page before, for any return path.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { html } from './html.ts';
import { layout } from './layout.ts';
import { LANGUAGE_NAMES, LOCALES, translator, type Translator } from '../i18n/i18n.ts';

/** The language switch as layout.ts wrote it per page before its parts were kept. */
function referenceSwitch(t: Translator): string {
  return html`<footer><nav class="languages" aria-label="${t.t('layout.language')}"><ul>
${LOCALES.map((locale) => html`<li><a href="/language?${new URLSearchParams({ locale, return_to: t.path }).toString()}" lang="${locale}" hreflang="${locale}"${locale === t.locale ? html` aria-current="true"` : ''}>${LANGUAGE_NAMES[locale]}</a></li>`)}
</ul></nav></footer>`.value;
}

const footerOf = (page: string) => page.slice(page.indexOf('<footer>'), page.indexOf('</footer>') + '</footer>'.length);

describe('layout: language switch', () => {
  const paths = [
    '/', '/account/sessions', '/oauth/authorize?client_id=a&redirect_uri=https%3A%2F%2Fx.example%2Fcb&state=a"b<c>&scope=x+y',
    '/p?q=é ü&r=\'"<>&amp;#frag', '/a b/c?d=%20e+f', '/\u00e6\u00f8\u00e5?x=\u{1F600}',
  ];
  for (const locale of LOCALES) {
    it(`${locale}: the same markup as the per-page template, for every return path, twice`, () => {
      for (const path of paths) {
        const t = translator(locale, path);
        for (let round = 0; round < 2; round++) {
          assert.equal(footerOf(layout('Brand', 'Title', html`<p>body</p>`, undefined, t)), referenceSwitch(t), `${locale} ${path}`);
        }
      }
    });
  }
});

describe('layout: the language switch of a page that shows a secret once', () => {
  it('opens in a new tab, says so in the page language, and the page it leaves keeps the secret; other pages are unchanged', async () => {
    const { recoveryCodesPage } = await import('./local-account-pages.ts');
    const { apiKeyShownPage } = await import('./api-key-pages.ts');
    const t = translator('de', '/account/security');
    const pages = [
      recoveryCodesPage('Brand', ['1234-5678', '2345-6789'], '/account/security', undefined, t),
      apiKeyShownPage({ brandName: 'Brand', csrfToken: 'c', signedIn: { csrfToken: 'c', name: 'Alice' }, t, title: 'Key', intro: 'Intro', value: 'gh_key', onward: html`` } as never),
    ];
    for (const page of pages) {
      const footer = footerOf(page);
      assert.equal(footer.match(/ target="_blank" rel="noopener" aria-describedby="language-new-tab"/g)?.length, LOCALES.length);
      assert.match(footer, /<p id="language-new-tab" class="muted">Diese Links öffnen sich in einem neuen Tab/);
    }
    assert.doesNotMatch(layout('Brand', 'Title', html`<p>body</p>`, undefined, t), /target="_blank"|language-new-tab/);
  });
});

describe('layout: text that names the shown-once marker', () => {
  it('does not make a page one that shows a secret once (a partner\'s app name, a user\'s name, a search typed on the page)', () => {
    const t = translator('en', '/oauth/authorize?client_id=a');
    for (const typed of [' data-shown-once', 'Fjord Books data-shown-once', '<b data-shown-once>']) {
      const page = layout('Brand', 'Title', html`<h1>Connect ${typed}</h1>`, undefined, t);
      assert.doesNotMatch(footerOf(page), /target="_blank"|language-new-tab/, typed);
    }
  });
});

describe("layout: a page's language switch that submits its form (the consent page's)", () => {
  it('is a button per language of that form, to the action given, each language by its own name and lang; no links', () => {
    const t = translator('de', '/oauth/authorize?client_id=a&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax');
    const footer = footerOf(layout('Brand', 'Title', html`<form id="consent"></form>`, undefined, t, { form: 'consent', action: '/oauth/authorize/language' }));
    assert.match(footer, /<nav class="languages" aria-label="Sprache">/);
    for (const locale of LOCALES) {
      assert.ok(footer.includes(`<button type="submit" form="consent" formaction="/oauth/authorize/language" name="locale" value="${locale}" lang="${locale}"${locale === 'de' ? ' aria-current="true"' : ''}>${LANGUAGE_NAMES[locale]}</button>`), locale);
    }
    assert.doesNotMatch(footer, /<a |return_to|request_uri/);
  });
});
