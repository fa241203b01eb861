/**
 * The frame of every page: the brand (SPEC §2: shown on every page) and the stylesheet; on a signed-in
 * page also who is signed in, a link to their sessions and a "Sign out" form (issue 10 §4).
 * Anti-framing and CSP headers are set for all pages in authorization-server.ts (SPEC decision 18).
 */
import escapeHtml from 'escape-html';
import { html, SafeHtml } from './html.ts';
import { ENGLISH, LANGUAGE_NAMES, LOCALES, type Translator } from '../i18n/i18n.ts';

/**
 * What a signed-in page passes to `layout` so its header carries the "Sign out" form (a POST to
 * /logout with the page's CSRF token, endpoints/logout.ts). Every page shown to a signed-in user passes
 * it, e.g. `layout(brandName, title, body, { userName: user.name, csrfToken: reply.generateCsrf() })`.
 */
export interface SignedInHeader {
  userName: string;
  /** The page's CSRF token (`reply.generateCsrf()`), the same one its other forms carry. */
  csrfToken: string;
}

function signedInHeader(signedIn: SignedInHeader, t: Translator): SafeHtml {
  return html`<span class="signed-in"><span class="user">${signedIn.userName}</span> · <a href="/account/sessions">${t.t('layout.sessions')}</a>
<form class="sign-out" method="post" action="/logout"><input type="hidden" name="_csrf" value="${signedIn.csrfToken}"><button type="submit">${t.t('layout.signOut')}</button></form></span>`;
}

/**
 * Issue 13 "Languages": the language switch, on every page. Plain links (no script, keyboard-usable), each
 * language by its own name and marked with its `lang`; GET /language sets the choice and comes back to
 * `t.path` (endpoints/language.ts accepts only same-origin paths).
 */
function languageSwitch(t: Translator, shownOnce: boolean): SafeHtml {
  const frame = languageSwitchFrame(t, shownOnce);
  // What `new URLSearchParams({ locale, return_to: t.path })` gives, the locale (plain letters) being
  // encoded as itself: only the return path differs between pages, so only it is encoded and escaped here.
  const returnTo = escapeHtml(new URLSearchParams({ return_to: t.path }).toString());
  let links = '';
  for (const [before, after] of frame.links) links += before + returnTo + after;
  return new SafeHtml(frame.head + links + frame.tail);
}

/** The language switch without its return path, per page language: it is the same on every page. */
interface LanguageSwitchFrame {
  head: string;
  /** Per language, the markup before and after the escaped `return_to` parameter. */
  links: [string, string][];
  tail: string;
}

const languageSwitchFrames = new Map<string, LanguageSwitchFrame>();

/**
 * A page that shows a secret once (a client or webhook secret, an API key, recovery codes) marks the element
 * holding it with this attribute. Its language switch opens in a new tab: the page cannot be shown again (only
 * digests are kept), and the reader who most needs another language is the one who cannot read "shown only now".
 * Its quotes are what no escaped text can hold (`html` writes `"` as `&quot;`): an app's or a user's name that
 * spells the attribute does not mark a page.
 */
export const SHOWN_ONCE = new SafeHtml(' data-shown-once=""');

function languageSwitchFrame(t: Translator, shownOnce: boolean): LanguageSwitchFrame {
  const key = `${t.locale}${shownOnce ? ' shown-once' : ''}`;
  let frame = languageSwitchFrames.get(key);
  if (!frame) {
    const newTab = shownOnce ? html` target="_blank" rel="noopener" aria-describedby="language-new-tab"` : '';
    frame = {
      head: html`<footer><nav class="languages" aria-label="${t.t('layout.language')}"><ul>
`.value,
      links: LOCALES.map((locale) => [
        `<li><a href="${escapeHtml(`/language?${new URLSearchParams({ locale }).toString()}&`)}`,
        html`" lang="${locale}" hreflang="${locale}"${locale === t.locale ? html` aria-current="true"` : ''}${newTab}>${LANGUAGE_NAMES[locale]}</a></li>`.value,
      ]),
      tail: shownOnce ? html`
</ul><p id="language-new-tab" class="muted">${t.t('layout.languageNewTab')}</p></nav></footer>`.value : `
</ul></nav></footer>`,
    };
    languageSwitchFrames.set(key, frame);
  }
  return frame;
}

/**
 * A page whose form holds what the reader chose and a one-time reference that cannot be opened again by a link (the
 * consent page: the company picked, the interaction of a request that may have come by a spent request_uri): its
 * language switch submits that form (the form with this `id`) to `action` with the `locale` chosen, so the page is
 * shown again, in the new language, with the choices kept (defects 1 and 3 of the page review).
 */
export interface LanguageForm {
  /** The `id` of the page's form the switch submits. */
  form: string;
  /** Where it is submitted (a POST, CSRF- and Origin-checked as the form's own action). */
  action: string;
  /** Submitted without the form's own validation (`formnovalidate`): a language needs no answer first (the consent page's "Choose a company"). */
  noValidate?: boolean;
}

/** The language switch as the submit buttons of a page's form (`LanguageForm`), each language by its own name and `lang`. */
function languageFormSwitch(t: Translator, form: LanguageForm): SafeHtml {
  return html`<footer><nav class="languages" aria-label="${t.t('layout.language')}"><ul>
${LOCALES.map((locale) => html`<li><button type="submit" form="${form.form}" formaction="${form.action}" name="locale" value="${locale}" lang="${locale}"${form.noValidate ? html` formnovalidate` : ''}${locale === t.locale ? html` aria-current="true"` : ''}>${LANGUAGE_NAMES[locale]}</button></li>
`)}</ul></nav></footer>`;
}

/**
 * @param signedIn given on every page shown to a signed-in user: adds the "Sign out" form to the header.
 * @param t the page's language (i18n/i18n.ts): `<html lang>`, the header's words and the language switch.
 * @param languageForm given by a page whose language switch submits its form (`LanguageForm`) rather than links to `t.path`.
 */
export function layout(brandName: string, title: string, body: SafeHtml, signedIn?: SignedInHeader, t: Translator = ENGLISH, languageForm?: LanguageForm): string {
  return html`<!doctype html>
<html lang="${t.locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ${brandName}</title>
<link rel="stylesheet" href="/assets/gatehouse.css">
</head>
<body>
<header><span class="brand">${brandName}</span>${signedIn ? signedInHeader(signedIn, t) : ''}</header>
<main>
${body}
</main>
${languageForm ? languageFormSwitch(t, languageForm) : languageSwitch(t, body.value.includes(SHOWN_ONCE.value))}
</body>
</html>
`.value;
}

export const STYLESHEET = `
:root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; background: #f4f4f6; }
body { margin: 0; }
header { background: #1d1d1f; color: #fff; padding: 14px 24px; }
.brand { font-weight: 700; letter-spacing: .02em; }
main { max-width: 440px; margin: 40px auto; background: #fff; border-radius: 12px; padding: 28px 32px; box-shadow: 0 1px 4px rgba(0,0,0,.08); }
h1 { font-size: 1.35rem; margin: 0 0 16px; }
label { display: block; font-weight: 600; margin: 14px 0 6px; }
input[type=email], input[type=password], select { width: 100%; box-sizing: border-box; padding: 10px; border: 1px solid #c7c7cc; border-radius: 8px; font-size: 1rem; }
button { padding: 10px 18px; border-radius: 8px; border: 1px solid #1d1d1f; font-size: 1rem; cursor: pointer; }
button.primary { background: #1d1d1f; color: #fff; }
a.button { display: inline-block; padding: 10px 18px; border-radius: 8px; border: 1px solid #1d1d1f; color: #1d1d1f; text-decoration: none; }
a.button.primary { background: #1d1d1f; color: #fff; }
.actions { display: flex; gap: 12px; justify-content: flex-end; margin-top: 22px; }
.error { background: #fdecea; color: #8a1c12; padding: 10px 12px; border-radius: 8px; }
.client { display: flex; gap: 14px; align-items: center; margin-bottom: 12px; }
.client img { width: 56px; height: 56px; border-radius: 10px; object-fit: cover; }
.muted { color: #6e6e73; font-size: .92rem; }
.unverified { background: #fff4e5; color: #7a4300; padding: 10px 12px; border-radius: 8px; border: 1px solid #f0c36d; }
ul.scopes { padding-left: 20px; }
ul.scopes li { margin: 6px 0; }
code { font-size: .85em; }
textarea, input[type=url], input[type=text] { width: 100%; box-sizing: border-box; padding: 10px; border: 1px solid #c7c7cc; border-radius: 8px; font-size: 1rem; font-family: inherit; }
fieldset { border: 1px solid #c7c7cc; border-radius: 8px; margin: 14px 0 0; }
label.check { font-weight: 400; margin: 6px 0; }
nav { margin-bottom: 12px; }
.secret { background: #eef6ee; border: 1px solid #8fc18f; padding: 10px 12px; border-radius: 8px; word-break: break-all; }
.notice { background: #eef3fb; padding: 10px 12px; border-radius: 8px; }
img.logo { width: 96px; height: 96px; border-radius: 10px; }
header { display: flex; justify-content: space-between; align-items: center; gap: 12px; }
header a { color: #fff; }
.signed-in { display: flex; align-items: center; gap: 8px; font-size: .92rem; }
form.sign-out { display: inline; margin: 0; }
form.sign-out button { padding: 4px 10px; font-size: .9rem; background: transparent; color: #fff; border-color: #fff; }
form.inline { display: inline; }
table.sessions { width: 100%; border-collapse: collapse; }
table.sessions td, table.sessions th { text-align: left; padding: 6px 4px; border-bottom: 1px solid #e5e5ea; vertical-align: top; }
a.button { display: inline-block; padding: 10px 18px; border-radius: 8px; background: #1d1d1f; color: #fff; text-decoration: none; }
/* Issue 13: one type scale (1.25 ratio) and the portal's, account's and console's components; usable at 390 px. */
:root { --step-0: 1rem; --step-1: 1.25rem; --step-2: 1.5rem; --step--1: .875rem; line-height: 1.5; }
h1 { font-size: var(--step-2); line-height: 1.25; }
h2 { font-size: var(--step-1); line-height: 1.3; margin: 28px 0 10px; }
/* A partner's app name may be one long word (a German compound): headings wrap it rather than widen the page. */
h1, h2, h3, main p, main li, main label { overflow-wrap: anywhere; }
h3 { font-size: var(--step-0); margin: 18px 0 6px; }
.muted, .signed-in { font-size: var(--step--1); }
main:has(pre, .activity, table) { max-width: 880px; }
a { color: #0b57d0; }
header a, a.button { color: #fff; }
a.button.secondary { background: #fff; color: #1d1d1f; border: 1px solid #1d1d1f; }
button.danger { background: #a3160b; border-color: #a3160b; color: #fff; }
button.copy { padding: 4px 10px; font-size: var(--step--1); }
.copyable { display: inline-flex; flex-wrap: wrap; gap: 8px; align-items: center; max-width: 100%; }
.copyable code { word-break: break-all; }
/* A long URL (an otpauth: link, a client's home page) wraps rather than widening the page at 390 px. */
main a { overflow-wrap: anywhere; }
code.secret-value { font-size: var(--step-0); font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; letter-spacing: .04em; background: #fff; padding: 4px 6px; border-radius: 4px; }
dl.details { display: grid; grid-template-columns: max-content 1fr; gap: 6px 14px; margin: 0 0 12px; }
dl.details dt { font-weight: 600; }
dl.details dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.snippet { position: relative; }
.snippet pre { background: #1d1d1f; color: #f4f4f6; padding: 14px; border-radius: 8px; overflow-x: auto; font-size: var(--step--1); }
.snippet pre code { font-size: inherit; }
.snippet button.copy { position: absolute; top: 8px; right: 8px; background: #fff; }
.field-error { color: #8a1c12; font-weight: 600; margin: 4px 0 0; font-size: var(--step--1); }
[aria-invalid="true"] { border-color: #8a1c12; border-width: 2px; }
.warning { background: #fff4e5; color: #5c3300; padding: 10px 12px; border-radius: 8px; border: 1px solid #f0c36d; overflow-wrap: anywhere; }
/* Read by screen readers, not shown (the Copy buttons' "Copied" status, portal-script.ts). */
.visually-hidden { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
ol.activity { list-style: none; padding: 0; }
ol.activity li { border-bottom: 1px solid #e5e5ea; padding: 8px 0; }
ol.activity p { margin: 0 0 4px; }
form.filter { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin-bottom: 12px; }
form.filter label { margin: 0; }
form.filter select { width: auto; max-width: 100%; }
ul.links li { margin: 8px 0; }
:focus-visible { outline: 3px solid #0b57d0; outline-offset: 2px; }
input[type=checkbox], input[type=radio] { width: 24px; height: 24px; margin: 0 8px 0 0; vertical-align: middle; }
label.check { display: flex; align-items: center; flex-wrap: wrap; gap: 4px; }
.table-scroll { max-width: 100%; overflow-x: auto; }
table.sessions code { overflow-wrap: anywhere; }
@media (max-width: 480px) {
  header { padding: 12px 14px; flex-wrap: wrap; }
  main { margin: 0; border-radius: 0; padding: 20px 16px; box-shadow: none; }
  dl.details { grid-template-columns: 1fr; }
  .actions { flex-wrap: wrap; }
}
/* Issue 13 "Languages": the language switch under every page. */
footer { max-width: 880px; margin: 0 auto 32px; padding: 0 16px; }
nav.languages ul { list-style: none; display: flex; flex-wrap: wrap; justify-content: center; gap: 4px 14px; margin: 0; padding: 0; font-size: var(--step--1); }
nav.languages a { display: inline-block; padding: 6px 2px; color: #0b57d0; }
nav.languages a[aria-current="true"] { font-weight: 700; color: #1d1d1f; text-decoration: none; }
/* The consent page's switch submits its form (layout.ts LanguageForm): buttons that look like the other pages' links. */
nav.languages button { display: inline-block; padding: 6px 2px; border: 0; border-radius: 0; background: none; color: #0b57d0; font: inherit; text-decoration: underline; cursor: pointer; }
nav.languages button[aria-current="true"] { font-weight: 700; color: #1d1d1f; text-decoration: none; }
/* Issue 13, console: a branding change before and after; changed rows named in words, tinted as a second cue. */
section.branding-change { border: 1px solid #e5e5ea; border-radius: 8px; padding: 12px; margin: 12px 0; }
table.compare tr.changed td, table.compare tr.changed th { background: #fff8e1; }
table.compare a { overflow-wrap: anywhere; }
img.logo-compare { width: 64px; height: 64px; object-fit: contain; border-radius: 8px; border: 1px solid #e5e5ea; }
.tag { font-size: var(--step--1); color: #7a4b00; }
code.small { font-size: .75em; }
ul.memberships li { margin: 6px 0; }
/* Issue 13 (Marketplace): the search form, a listing's description, category and "Connected" badge. */
form.marketplace-search { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin-bottom: 16px; }
form.marketplace-search > div { flex: 1 1 160px; min-width: 0; }
form.marketplace-search label { margin: 0 0 4px; }
input[type=search] { width: 100%; box-sizing: border-box; padding: 10px; border: 1px solid #c7c7cc; border-radius: 8px; font-size: 1rem; font-family: inherit; }
p.app-description { white-space: pre-line; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 2px 8px; border-radius: 999px; font-size: var(--step--1); font-weight: 600; background: #e3f1e3; color: #1e5b1e; margin-right: 6px; }
.badge.category { background: #ececf1; color: #3a3a3f; }
`;
