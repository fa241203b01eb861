/**
 * The `Origin` check on state-changing forms (SPEC decision 18; issue 11 item 6), in addition to their
 * CSRF token: a browser names the site that sent a POST in `Origin` and, in current browsers, says in
 * `Sec-Fetch-Site` whether it is this site; a form posted from another site is refused even if it
 * somehow carries a token.
 *
 * `Origin: null` decides nothing by itself: our pages send `Referrer-Policy: no-referrer`, under which
 * browsers send `Origin: null` on their own same-origin form posts (Fetch, "serializing a request
 * origin"); a sandboxed or `data:` page elsewhere sends it too, and `Sec-Fetch-Site: cross-site` with it.
 */
import type { FastifyRequest } from 'fastify';

/**
 * False when `Origin` names another origin than the issuer's, or `Sec-Fetch-Site` is present and is
 * neither `same-origin` nor `none` (typed into the address bar); true otherwise (a client that sends
 * neither, such as an old browser, still needs the CSRF token).
 * @param issuer the issuer identifier (options.ts), whose scheme, host and port are this site's origin.
 */
export function isSameOriginForm(request: FastifyRequest, issuer: string): boolean {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== 'null' && origin !== new URL(issuer).origin) return false;
  const site = request.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin' || site === 'none';
}
