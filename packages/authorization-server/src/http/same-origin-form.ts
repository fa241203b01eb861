/**
 * The `Origin` check of every state-changing form (SPEC decision 18: "forms carry CSRF protection and an
 * `Origin` check"; RFC 6749 §10.12, RFC 9700 §4.4.1.8): a POST a browser sent from another site is
 * refused with a 403 page before its body is read, and nothing happens. It runs beside the CSRF token
 * check, not instead of it.
 *
 * Refused: `Sec-Fetch-Site` present and other than `same-origin` or `none` (`cross-site`, `same-site`:
 * a sibling host is another origin); `Origin` present and other than the issuer's origin (in
 * `development` also the origin the request itself was addressed to, so `localhost` and `127.0.0.1`
 * both work); `Origin: null` (sandboxed or privacy-stripped: the sender cannot be known). A request with
 * neither header (not a browser's form post) is left to the CSRF token check.
 */
import { requestTranslator } from '../i18n/request-language.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorPage } from '../pages/error-page.ts';
import type { ServerContext } from '../server-context.ts';

const SAME_ORIGIN_FETCH_SITES = new Set(['same-origin', 'none']);

/** @returns a Fastify `onRequest` hook for the form routes. */
export function sameOriginFormCheck(context: ServerContext): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const issuerOrigin = new URL(context.options.issuer).origin;
  return async (request, reply) => {
    const fetchSite = request.headers['sec-fetch-site'];
    const origin = request.headers.origin;
    const crossSiteFetch = fetchSite !== undefined && !SAME_ORIGIN_FETCH_SITES.has(String(fetchSite));
    const foreignOrigin = origin !== undefined && origin !== issuerOrigin
      && !(context.options.environment === 'development' && origin === `${request.protocol}://${request.host}`);
    if (!crossSiteFetch && !foreignOrigin) return;
    request.log.info({ event: 'form.cross_origin_refused', url: request.routeOptions.url }, 'cross-origin form post refused');
    const t = requestTranslator(request);
    await reply.code(403).header('cache-control', 'no-store').type('text/html; charset=utf-8')
      .send(errorPage(context.options.brand.name, t.t('error.crossOriginTitle'), t.t('error.crossOrigin'), { t, reference: request.id }));
  };
}
