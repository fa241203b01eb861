/**
 * The partner app's language switch (`POST /language`, on every page: pages.ts `layout`): where it may send the
 * browser back to, and the cookie that remembers the choice.
 *
 * The choice is a display preference, not a secret: the cookie holds only a language tag (`ledgerly_lang`,
 * `__Host-` and Secure outside development or over https, HttpOnly, SameSite=Lax, a year). It wins over
 * `Accept-Language`; an unknown value is ignored (i18n.ts `chosenLocale`).
 */

/** The language cookie's name: with `__Host-` (Secure, Path=/, no Domain) when the session cookie has it. */
export function languageCookieName(secure: boolean): string {
  return secure ? '__Host-ledgerly_lang' : 'ledgerly_lang';
}

/** How long the choice is remembered, seconds (a year, as Gatehouse's own switch). */
export const LANGUAGE_COOKIE_LIFETIME_SECONDS = 365 * 24 * 60 * 60;

const PLACEHOLDER_ORIGIN = 'http://partner-app.invalid';

/**
 * `value` when it is a same-origin relative path (RFC 3986 §4.2 path-absolute, optional query), normalised by the URL
 * parser; `/` for anything else. Never an open redirect (RFC 9700 §4.11): `https://host/`, `//host` and `/\host` (a
 * network-path reference to browsers, which read `\` as `/`) are refused, and so are control characters and spaces
 * (browsers drop tabs and newlines, so `/<TAB>/host` would be `//host`). The path is checked again after the parser
 * removed dot segments (`/.//host`, `/a/..//host` become `//host`).
 */
export function safeReturnPath(value: unknown): string {
  if (typeof value !== 'string' || value.length > 2048) return '/';
  if (!/^\/(?![/\\])[\x21-\x7E]*$/.test(value) || value.includes('\\')) return '/';
  let url: URL;
  try {
    url = new URL(value, PLACEHOLDER_ORIGIN);
  } catch {
    return '/';
  }
  if (url.origin !== PLACEHOLDER_ORIGIN || /^\/[/\\]/.test(url.pathname)) return '/';
  return `${url.pathname}${url.search}`;
}

/** The pages a GET shows again as they were, with no state in their query but `/disconnect`'s `forget=yes`. */
const RETURNABLE_PAGES = new Set(['/', '/disconnect', '/api-key']);

/**
 * Where a page's language switch comes back to, from the request that showed the page (`request.url`, path and
 * query): the page itself when a GET opens it again (`/`, `/api-key`, the confirmations `/disconnect` and
 * `/disconnect?forget=yes`; a form's answer, such as POST /api-key's, comes back to its page), else `/`. A query is
 * never carried over: `/callback`'s holds the code and `/start`'s the session handover, and neither may be used twice.
 */
export function switchReturnPath(requestUrl: string): string {
  const questionMark = requestUrl.indexOf('?');
  const path = questionMark === -1 ? requestUrl : requestUrl.slice(0, questionMark);
  if (!RETURNABLE_PAGES.has(path)) return '/';
  const forget = path === '/disconnect' && new URLSearchParams(questionMark === -1 ? '' : requestUrl.slice(questionMark + 1)).get('forget') === 'yes';
  return forget ? '/disconnect?forget=yes' : path;
}
