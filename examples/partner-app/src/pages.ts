/**
 * The partner app's pages: server-rendered HTML, every dynamic value escaped. No script runs in them;
 * the only state in the browser is the session cookie. Every text is the page language's (i18n.ts), chosen per
 * request from Accept-Language; `<html lang>` names it.
 */
import escapeHtml from 'escape-html';
import { LANGUAGE_NAMES, LOCALES, pageLanguage, withMarkup, type PageLanguage } from './i18n.ts';

export type { PageLanguage } from './i18n.ts';

export interface Company {
  id: string;
  name: string;
  countryCode: string;
  currency: string;
}

export interface User {
  name: string;
  email: string;
  role: string;
}

export interface Vendor {
  name: string;
  countryCode: string;
}

/**
 * The language switch (`lang.languageSwitch`): one POST form to /language with the session's CSRF token and the page to
 * come back to, a button per language named in that language (its `lang` set, the current one `aria-current`), so a
 * reader who cannot read the page's language still finds theirs. No script: each button submits the form.
 */
function languageSwitch(lang: PageLanguage): string {
  const { languageSwitch: target } = lang;
  if (!target) return '';
  return `<footer><form method="post" action="/language"><input type="hidden" name="_csrf" value="${escapeHtml(target.csrfToken)}"><input type="hidden" name="return_to" value="${escapeHtml(target.returnTo)}">
<nav class="languages" aria-label="${escapeHtml(lang.t.languageLabel)}"><ul>
${LOCALES.map((locale) => `<li><button type="submit" name="locale" value="${locale}" lang="${locale}"${locale === lang.locale ? ' aria-current="true"' : ''}>${escapeHtml(LANGUAGE_NAMES[locale])}</button></li>`).join('\n')}
</ul></nav></form></footer>`;
}

/** The page frame, in the page's language (English unless `lang` says otherwise), with its language switch when `lang` has one. */
export function layout(appName: string, title: string, body: string, lang: PageLanguage = pageLanguage('en')): string {
  return `<!doctype html>
<html lang="${escapeHtml(lang.locale)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · ${escapeHtml(appName)}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d2433; overflow-wrap: break-word; }
header { display: flex; flex-wrap: wrap; gap: 0 1rem; justify-content: space-between; align-items: baseline; border-bottom: 1px solid #d8dce6; margin-bottom: 1.5rem; padding-bottom: .25rem; }
button { font: inherit; padding: .5rem 1rem; border-radius: .4rem; border: 1px solid #1d4ed8; background: #1d4ed8; color: white; cursor: pointer; }
button.secondary { background: white; color: #1d4ed8; }
input { font: inherit; max-width: 100%; box-sizing: border-box; padding: .3rem; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eceff5; }
/* Long unbroken values (an e-mail address) may break anywhere, so a table fits 390 px; words elsewhere stay whole. */
td.long { overflow-wrap: anywhere; }
.notice { padding: .75rem 1rem; border-radius: .4rem; background: #fff7e6; border: 1px solid #f5c46b; }
code { font-size: .9em; overflow-wrap: anywhere; }
details { margin-top: 1.5rem; color: #4a5468; }
footer { border-top: 1px solid #d8dce6; margin-top: 2rem; padding-top: .5rem; }
nav.languages ul { list-style: none; display: flex; flex-wrap: wrap; gap: .25rem .9rem; margin: 0; padding: 0; }
nav.languages button { padding: .35rem .15rem; border: 0; border-radius: 0; background: none; color: #1d4ed8; text-decoration: underline; }
nav.languages button[aria-current="true"] { font-weight: 700; color: #1d2433; text-decoration: none; }
</style>
</head>
<body>
<header><h1>${escapeHtml(appName)}</h1><span>${escapeHtml(lang.t.tagline)}</span></header>
<main>
${body}
</main>
${languageSwitch(lang)}
</body>
</html>`;
}

function form(action: string, csrfToken: string, label: string, secondary = false): string {
  return `<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}"><button type="submit"${secondary ? ' class="secondary"' : ''}>${escapeHtml(label)}</button></form>`;
}

/**
 * The button that leads to the confirmation before Disconnect or Forget (`disconnectConfirmationPage`): a GET, which
 * changes nothing; the confirmation's own button posts to /disconnect.
 */
function confirmFirst(forget: boolean, label: string): string {
  return `<form method="get" action="/disconnect">${forget ? '<input type="hidden" name="forget" value="yes">' : ''}<button type="submit" class="secondary">${escapeHtml(label)}</button></form>`;
}

export function connectPage(lang: PageLanguage, appName: string, csrfToken: string, notice?: string): string {
  const { t } = lang;
  return layout(appName, t.connectTitle, `${notice ? `<p class="notice">${escapeHtml(notice)}</p>` : ''}
<p>${escapeHtml(t.connectIntro(appName))}</p>
${form('/connect', csrfToken, t.connectButton)}`, lang);
}

/**
 * Why a connection can no longer be used, as the Reconnect page says it: `grant_ended` — Gatehouse answered
 * `invalid_grant` (the grant was revoked, expired or ended after a reuse); `unreadable_tokens` — the stored tokens
 * cannot be decrypted here (their key left the keyring); `unknown` — nothing more is said. `code` is the error code for
 * the technical details (failures.ts `shownErrorCode`, or the SDK error's class name), never a description.
 */
export interface ConnectionEnd {
  why: 'grant_ended' | 'unreadable_tokens' | 'unknown';
  code?: string | undefined;
}

/**
 * The collapsed "Technical details" of an error: the error code alone (a developer or the app's support needs it; the
 * user does not). Empty without a code.
 */
export function technicalDetails(lang: PageLanguage, code: string | undefined): string {
  if (code === undefined) return '';
  return `<details><summary>${escapeHtml(lang.t.technicalDetails)}</summary><p>${escapeHtml(lang.t.errorCode)} <code data-testid="error-code">${escapeHtml(code)}</code></p></details>`;
}

/**
 * The connection has ended or cannot be used: why, in the user's words (no raw OAuth reason, no subject URN), then
 * Reconnect, or Forget it (after a confirmation); the error code only in the collapsed technical details.
 */
export function reconnectPage(lang: PageLanguage, appName: string, csrfToken: string, end: ConnectionEnd): string {
  const { t } = lang;
  const why = end.why === 'grant_ended' ? ` ${t.reconnectWhyGrantEnded}` : end.why === 'unreadable_tokens' ? ` ${t.reconnectWhyUnreadable}` : '';
  return layout(appName, t.reconnectTitle, `<p class="notice">${escapeHtml(`${t.connectionEnded}${why} ${t.reconnectOnward}`)}</p>
${form('/connect', csrfToken, t.reconnectButton)}
${confirmFirst(true, t.forgetEllipsis)}
${technicalDetails(lang, end.code)}`, lang);
}

/**
 * The confirmation before Disconnect (the dashboard) or Forget this connection (the Reconnect page): says what will
 * happen; its button posts to /disconnect, Cancel goes back home.
 */
export function disconnectConfirmationPage(lang: PageLanguage, appName: string, csrfToken: string, forget: boolean): string {
  const { t } = lang;
  const title = forget ? t.forgetQuestion : t.disconnectQuestion;
  const consequence = forget ? t.forgetConsequence(appName) : t.disconnectConsequence(appName);
  return layout(appName, title, `<h2>${escapeHtml(title)}</h2>
<p>${escapeHtml(consequence)} ${escapeHtml(t.connectAgainAnyTime)}</p>
${form('/disconnect', csrfToken, forget ? t.forgetButton : t.disconnectButton)}
<p><a href="/">${escapeHtml(t.cancel)}</a></p>`, lang);
}

/**
 * After "Forget this connection" for a connection whose stored tokens could not be decrypted: it is forgotten here,
 * but nothing could be sent to revoke its grant, so the user is told where to end it at Gatehouse.
 */
export function forgottenNotRevokedPage(lang: PageLanguage, appName: string, csrfToken: string, connectedAppsUrl: string): string {
  const { t } = lang;
  const link = `<a href="${escapeHtml(connectedAppsUrl)}">${escapeHtml(t.connectedAppsPageLink)}</a>`;
  return layout(appName, t.forgottenTitle, `<h2>${escapeHtml(t.forgottenTitle)}</h2>
<p>${escapeHtml(t.forgottenExplanation(appName))}</p>
<p>${withMarkup((slot: string) => t.forgottenHowToEnd(appName, slot), link)}</p>
${form('/connect', csrfToken, t.connectButton)}`, lang);
}

export interface DashboardData {
  subjectUrn: string;
  scope: readonly string[];
  companies: Company[];
  users: User[] | undefined;
  vendors: Vendor[] | undefined;
}

export function dashboardPage(lang: PageLanguage, appName: string, data: DashboardData): string {
  const { t } = lang;
  const company = data.companies[0];
  // A column marked `long` holds values without spaces to wrap at (e-mail addresses): they may break anywhere.
  const table = <Row>(caption: string, rows: Row[] | undefined, columns: [string, (row: Row) => string, 'long'?][]) => rows === undefined ? '' : `
<h3>${escapeHtml(caption)}</h3>
<table><thead><tr>${columns.map(([name]) => `<th>${escapeHtml(name)}</th>`).join('')}</tr></thead>
<tbody>${rows.map((row) => `<tr>${columns.map(([, value, long]) => `<td${long ? ' class="long"' : ''}>${escapeHtml(value(row))}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  // No company to name (none visible to the connection yet): the heading says so; the subject URN stays in the details.
  const heading = company ? withMarkup(t.connectedTo, `<span data-testid="company-name">${escapeHtml(company.name)}</span>`) : escapeHtml(t.connectedNoCompany);
  return layout(appName, t.connectedTitle, `<h2>${heading}</h2>
${company ? `<p>${escapeHtml(company.countryCode)} · ${escapeHtml(company.currency)}</p>` : ''}
${data.companies.length > 1 ? table(t.companies, data.companies, [[t.name, (row) => row.name], [t.country, (row) => row.countryCode]]) : ''}
${table(t.users, data.users, [[t.name, (row) => row.name], [t.email, (row) => row.email, 'long'], [t.role, (row) => row.role]])}
${table(t.vendors, data.vendors, [[t.name, (row) => row.name], [t.country, (row) => row.countryCode]])}
${confirmFirst(false, t.disconnectEllipsis)}
${connectionDetails(lang, data.subjectUrn, data.scope.join(' '))}`, lang);
}

/**
 * What a developer checks about a connection, collapsed: the subject URN and the scopes as granted (raw identifiers,
 * not for the user's normal view).
 */
export function connectionDetails(lang: PageLanguage, subjectUrn: string, scope: string): string {
  const { t } = lang;
  return `<details><summary>${escapeHtml(t.technicalDetails)}</summary>
<p>${escapeHtml(t.subject)} <code data-testid="subject-urn">${escapeHtml(subjectUrn)}</code></p>
<p>${escapeHtml(t.grantedScopes)} <code data-testid="scope">${escapeHtml(scope)}</code></p></details>`;
}

/** Where an error page leads besides its default (`errorPage`), and its technical details. */
export interface ErrorPageOnward {
  /** A form posted with the session's CSRF token instead of Connect (e.g. Disconnect again). */
  retry?: { action: string; label: string };
  /** A link beside it (e.g. Gatehouse's connected apps page). */
  link?: { href: string; label: string };
  /** The error code shown in the collapsed technical details (`technicalDetails`): a code, never a description. */
  code?: string | undefined;
}

/**
 * An error with a way onward: with `csrfToken`, a button (Connect, or `onward.retry`) and a link home; without, a link
 * home. `onward.link` adds a link (a page at Gatehouse where the user can finish what this app could not). `title`
 * and `message` are already in the page's language.
 */
export function errorPage(lang: PageLanguage, appName: string, title: string, message: string, csrfToken?: string, onward: ErrorPageOnward = {}): string {
  const { t } = lang;
  const button = csrfToken ? form(onward.retry?.action ?? '/connect', csrfToken, onward.retry?.label ?? t.tryAgain) : '';
  const link = onward.link ? `<p><a href="${escapeHtml(onward.link.href)}">${escapeHtml(onward.link.label)}</a></p>` : '';
  return layout(appName, title, `<h2>${escapeHtml(title)}</h2><p>${escapeHtml(message)}</p>${link}${button}${csrfToken && !onward.retry ? '' : `<p><a href="/">${escapeHtml(t.back)}</a></p>`}${technicalDetails(lang, onward.code)}`, lang);
}
