/**
 * The page a form was sent from, for a way back to it when the form could not be acted on (an expired CSRF
 * token, a session that ended meanwhile).
 */
import type { FastifyRequest } from 'fastify';
import { servesGet } from './method-not-allowed.ts';

/**
 * The `Referer`'s path (Referrer-Policy same-origin sends it only from this server's own pages) when it is
 * `issuer`'s (undefined: the request's own host) and inside `section` (/account, /portal, …; `/`: anywhere) and a
 * page that can be opened (a GET route); else the section itself. Never the query: it may carry a one-time token.
 */
export function formPage(request: FastifyRequest, issuer: string | undefined, section: string): string {
  const referer = request.headers.referer;
  if (referer === undefined) return section;
  try {
    const url = new URL(referer);
    const sameOrigin = issuer === undefined ? url.host === request.host : url.origin === new URL(issuer).origin;
    const inSection = sameOrigin && (section === '/' || url.pathname === section || url.pathname.startsWith(`${section}/`));
    // A page opened by a one-time link (set-password: its token in the query) cannot be opened without it.
    if (url.searchParams.has('token')) return section;
    // A page shown in answer to a POST (a confirmation) may have no GET route of its own, only the 405 that
    // http/method-not-allowed.ts adds for every path without one.
    return inSection && servesGet(request.server, url.pathname) ? url.pathname : section;
  } catch {
    return section;
  }
}
