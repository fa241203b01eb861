/**
 * GET /language?locale=<tag>&return_to=<path> — the language switch of every page (issue 13 "Languages";
 * pages/layout.ts): remembers the choice in the `gatehouse_locale` cookie (SameSite=Lax, a year; `__Host-`
 * outside development) and goes back to the page the switch was on.
 *
 * Never an open redirect: `return_to` must be a same-origin relative path (`/` then no second `/` or `\`,
 * no control characters, and resolving it against this origin must stay on this origin); anything else
 * returns to `/`. An unknown `locale` changes nothing. A GET that only sets a display preference needs no
 * CSRF token: a page elsewhere linking here can at most change the language of this browser's pages.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../server-context.ts';
import { hostCookieName, hostCookieOptions } from '../http/host-cookies.ts';
import { LOCALES, type Locale } from '../i18n/i18n.ts';
import { LOCALE_COOKIE } from '../i18n/request-language.ts';

/** How long the choice is remembered. */
export const LOCALE_COOKIE_LIFETIME_SECONDS = 365 * 24 * 60 * 60;

const PLACEHOLDER_ORIGIN = 'http://gatehouse.invalid';

/**
 * `value` when it is a same-origin relative path (RFC 3986 §4.2 path-absolute with an optional query),
 * normalised by the URL parser; otherwise `/`.
 */
export function safeReturnPath(value: unknown): string {
  if (typeof value !== 'string' || value.length > 4096) return '/';
  // "//host" and "/\host" are network-path references to browsers; control characters and spaces are refused outright.
  if (!/^\/(?![/\\])[\x21-\x7E]*$/.test(value) || value.includes('\\')) return '/';
  let url: URL;
  try {
    url = new URL(value, PLACEHOLDER_ORIGIN);
  } catch {
    return '/';
  }
  if (url.origin !== PLACEHOLDER_ORIGIN) return '/';
  // The parser removes dot segments ("/.//host", "/a/..//host", "/%2e//host" become "//host"), so the path it
  // gives back is checked again: a Location that starts with "//" leaves the site (RFC 3986 §4.2, RFC 9700 §4.11).
  if (/^\/[/\\]/.test(url.pathname)) return '/';
  return `${url.pathname}${url.search}`;
}

/**
 * The language a switch asked for (`locale`, one of those offered), remembered in the switch's cookie; undefined,
 * and nothing remembered, for anything else. Also the consent page's switch (authorization.ts).
 */
export function rememberChosenLocale(context: ServerContext, reply: FastifyReply, value: unknown): Locale | undefined {
  const locale = typeof value === 'string' && (LOCALES as readonly string[]).includes(value) ? (value as Locale) : undefined;
  if (locale) {
    reply.setCookie(hostCookieName(context.options.environment, LOCALE_COOKIE), locale,
      hostCookieOptions(context.options.environment, 'lax', LOCALE_COOKIE_LIFETIME_SECONDS));
  }
  return locale;
}

export async function languageEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const query = request.query as Record<string, unknown>;
  const returnTo = safeReturnPath(query.return_to);
  rememberChosenLocale(context, reply, query.locale);
  reply.header('cache-control', 'no-store').redirect(returnTo, 303);
}
