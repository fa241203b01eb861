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
import { rememberChosenLocale } from '../i18n/request-language.ts';

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

export async function languageEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const query = request.query as Record<string, unknown>;
  const returnTo = safeReturnPath(query.return_to);
  rememberChosenLocale(context, reply, query.locale);
  reply.header('cache-control', 'no-store').redirect(returnTo, 303);
}
