/**
 * The media types each route takes (review of 2026-12-08: `POST /login` logged in with a JSON body, the
 * portal's registration form took JSON, the admin API parsed form bodies), checked in one `onRequest` hook,
 * so a body of another type is refused with 415 before a byte of it is read (RFC 9110 §15.5.16), in the
 * shape its callers read:
 * - the OAuth endpoints take `application/x-www-form-urlencoded` only (RFC 6749 §4.1.3 and §3.2, RFC 7009
 *   §2.1, RFC 7662 §2.1, RFC 9126 §2.1); refused as RFC 6749 §5.2 JSON `invalid_request`, `no-store`;
 * - the browser forms (every other route outside the admin API) take `application/x-www-form-urlencoded`,
 *   the two upload forms also `multipart/form-data` (issue 11 item 9); refused with a page in the user's
 *   language and a way back (a browser never sends anything else from our forms, so only a script does);
 * - the admin API takes `application/json` (and raw image bytes at its logo route); refused as its JSON error.
 * The refusal names what the route takes in `Accept` (RFC 9110 §12.5.1 and §15.5.16).
 *
 * A media type is compared without its parameters (`; charset=UTF-8`) and case-insensitively (RFC 9110
 * §8.3.1). A request without content (no `Content-Type`, no `Content-Length` or `0`, no `Transfer-Encoding`)
 * is not checked: the admin API's lifecycle steps (`POST …/approve`) and deletions take none. Content without
 * a `Content-Type` is refused like any other type a route does not take.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requestTranslator } from '../i18n/request-language.ts';
import { errorPage } from '../pages/error-page.ts';
import { formPage } from './form-page.ts';
import { MULTIPART_ROUTES } from './request-guards.ts';

/** Who reads a route's refusals, which decides their shape. */
export type BodyCaller = 'oauth-client' | 'browser' | 'admin-api';

/** What a route's body may be: its media types (`type/subtype`, lower case; `type/*` any subtype), and who calls it. */
export interface AcceptedBodies {
  readonly mediaTypes: readonly string[];
  readonly caller: BodyCaller;
}

const FORM = 'application/x-www-form-urlencoded';
const OAUTH_FORM: AcceptedBodies = { mediaTypes: [FORM], caller: 'oauth-client' };
const BROWSER_FORM: AcceptedBodies = { mediaTypes: [FORM], caller: 'browser' };
const BROWSER_UPLOAD: AcceptedBodies = { mediaTypes: [FORM, 'multipart/form-data'], caller: 'browser' };
const ADMIN_JSON: AcceptedBodies = { mediaTypes: ['application/json'], caller: 'admin-api' };

/** The admin API's routes (admin/admin-api.ts's ADMIN_API_PREFIX; not imported, so this table stays free of the admin API's modules). */
const ADMIN_API_ROUTES = '/admin/v1/';

/**
 * Route (as Fastify names it) → what its body may be. `/admin/v1/*` stands for every other admin API route, `*`
 * for every other route (the browser forms: login, consent, language switch, logout, account, portal, console,
 * marketplace, password reset and setup, second factor…). GET, HEAD and the 405 answers of
 * http/method-not-allowed.ts read no body and are not checked.
 */
export const ACCEPTED_BODIES_BY_ROUTE: Readonly<Record<string, AcceptedBodies>> = {
  '/oauth/token': OAUTH_FORM,
  '/oauth/revoke': OAUTH_FORM,
  '/oauth/token/introspect': OAUTH_FORM,
  '/oauth/par': OAUTH_FORM,
  ...Object.fromEntries([...MULTIPART_ROUTES].map((route) => [route, BROWSER_UPLOAD])),
  // The logo arrives as its bytes; admin/admin-api.ts parses `image/*` and reads the image's type from the bytes.
  [`${ADMIN_API_ROUTES}clients/:client_id/logo`]: { mediaTypes: ['image/*'], caller: 'admin-api' },
  [`${ADMIN_API_ROUTES}*`]: ADMIN_JSON,
  '*': BROWSER_FORM,
};

/** The entry of ACCEPTED_BODIES_BY_ROUTE that applies to `route`. */
export function acceptedBodies(route: string): AcceptedBodies {
  return ACCEPTED_BODIES_BY_ROUTE[route]
    ?? (route.startsWith(ADMIN_API_ROUTES) ? ACCEPTED_BODIES_BY_ROUTE[`${ADMIN_API_ROUTES}*`]! : ACCEPTED_BODIES_BY_ROUTE['*']!);
}

/** Whether `mediaType` (lower case, no parameters; undefined when the header is missing or malformed) is one of `accepted`. */
export function acceptsMediaType(accepted: AcceptedBodies, mediaType: string | undefined): boolean {
  if (mediaType === undefined) return false;
  return accepted.mediaTypes.some((type) => (type.endsWith('/*') ? mediaType.startsWith(type.slice(0, -1)) && mediaType.length > type.length - 1 : mediaType === type));
}

/** Methods whose request Fastify reads no body of (GET, HEAD, TRACE): never checked. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'TRACE']);

/** Whether the request carries content (RFC 9112 §6.3: a `Transfer-Encoding`, or a `Content-Length` other than 0) or says its type. */
function carriesContent(request: FastifyRequest): boolean {
  const { headers } = request;
  if (headers['content-type'] !== undefined || headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

/** The 415 in the shape `accepted.caller` reads. */
function refuse(request: FastifyRequest, reply: FastifyReply, accepted: AcceptedBodies, brandName: string, issuer: string): void {
  const names = accepted.mediaTypes.join(' or ');
  reply.code(415).header('accept', accepted.mediaTypes.join(', ')).header('cache-control', 'no-store');
  if (accepted.caller === 'browser') {
    const t = requestTranslator(request);
    // The way onward is the page the form was sent from (its Referer, when it is one of ours), then home.
    reply.type('text/html; charset=utf-8').send(errorPage(brandName, t.t('error.unsupportedFormTitle'), t.t('error.unsupportedForm'), {
      t, hint: null, reference: request.id,
      links: [{ href: formPage(request, issuer, '/'), label: t.t('error.openAgain') }, { href: '/', label: t.t('error.homeShort') }],
    }));
    return;
  }
  // RFC 6749 §5.1: no-store and no-cache on every token endpoint answer; the admin API's answers are no-store too.
  if (accepted.caller === 'oauth-client') reply.header('pragma', 'no-cache');
  reply.type('application/json; charset=utf-8').send({ error: 'invalid_request', error_description: `the request body must be ${names}` });
}

/**
 * Adds the hook; call before the routes are added and after the hooks whose headers every answer carries
 * (security headers, request ids). Synchronous, like http/request-guards.ts's (issue 12).
 * @param brandName the brand the refusal page shows; @param issuer whose pages the way back may lead to.
 */
export function installMediaTypeGuard(app: FastifyInstance, brandName: string, issuer: string): void {
  // No route takes text/plain: Fastify's default parser for it goes too, so no route can be reached with one.
  app.removeContentTypeParser('text/plain');
  app.addHook('onRequest', (request, reply, done) => {
    // The method first: a GET (most requests) costs no route lookup (routeOptions builds an object per access).
    if (BODYLESS_METHODS.has(request.method) || !carriesContent(request)) {
      done();
      return;
    }
    const { url: route, config } = request.routeOptions;
    if (route === undefined || config.answersMethodNotAllowed === true) {
      done();
      return;
    }
    const accepted = acceptedBodies(route);
    if (acceptsMediaType(accepted, request.mediaType)) {
      done();
      return;
    }
    request.log.info({ event: 'request.media_type_refused', url: route, media_type: request.mediaType ?? null }, 'request body of an unaccepted media type refused');
    refuse(request, reply, accepted, brandName, issuer);
  });
}
