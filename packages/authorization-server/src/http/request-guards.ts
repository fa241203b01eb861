/**
 * Checks every request passes before its route runs (issue 11 items 9, 10, 14, 16), as `onRequest`
 * hooks, so they answer before any body is read:
 * - `Cache-Control: no-store` on every response of the OAuth endpoints, errors from Fastify included;
 * - two `Authorization` headers: 400 `invalid_request`;
 * - credentials in the query string of a client-authenticated endpoint: 400 `invalid_request`.
 * The media types each route takes (multipart only where MULTIPART_ROUTES says) are checked beside them, in
 * http/media-types.ts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError } from '../errors.ts';

/**
 * RFC 6749 §5.1, RFC 7009, RFC 7662 and the authorization endpoint's redirects and pages: never cached.
 * Set before the route runs, so 400/413/415 errors Fastify produces (body parser, limits) carry it too.
 */
export const NO_STORE_ROUTES: ReadonlySet<string> = new Set([
  '/oauth/authorize', '/oauth/authorize/decision', '/login',
  '/oauth/token', '/oauth/token/introspect', '/oauth/revoke', '/oauth/revoked-access-tokens',
]);

/**
 * The only routes that take `multipart/form-data` (issue 11 item 9): the portal's registration form and logo upload.
 * Elsewhere a multipart body is refused with 415 before it is read (http/media-types.ts).
 */
export const MULTIPART_ROUTES: ReadonlySet<string> = new Set(['/portal/clients', '/portal/clients/:client_id/logo']);

/**
 * The endpoints where a client authenticates (RFC 6749 §2.3.1, RFC 7009 §2.1, RFC 7662 §2.1, the revocation feed,
 * and RFC 9126 §2: the pushed authorization request endpoint, "the same rules for client authentication as would be
 * used for the token endpoint"; a client_secret in its URL was accepted with the pushed request).
 */
export const CLIENT_AUTHENTICATED_ROUTES: ReadonlySet<string> = new Set([
  '/oauth/token', '/oauth/token/introspect', '/oauth/revoke', '/oauth/revoked-access-tokens', '/oauth/par',
]);

/** Parameters that must never travel in a URL (logs, proxies and browser history keep URLs). */
const CREDENTIAL_PARAMETERS = ['client_secret', 'code', 'code_verifier', 'refresh_token', 'token'] as const;

function refuse(reply: FastifyReply, status: number, error: OAuthError): FastifyReply {
  return reply.code(status).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(error.toJSON());
}

/** Matches a multipart Content-Type (issue 11 item 9). */
const MULTIPART = /^\s*multipart\//i;

/** Requests whose body was read and parsed: their handlers started (see isUnreadableMultipartBody). */
const parsedRequests = new WeakSet<FastifyRequest>();

/**
 * Whether an error came from reading a multipart body at a route that takes one (issue 11 item 9): the
 * multipart parser throws plain errors ("Boundary not found", "Unexpected end of form") before the
 * route's handlers run; such a request is the client's fault (400), not the server's (500).
 */
export function isUnreadableMultipartBody(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  const contentType = request.headers['content-type'];
  return route !== undefined && MULTIPART_ROUTES.has(route) && contentType !== undefined && MULTIPART.test(contentType) && !parsedRequests.has(request);
}

/**
 * Adds the hooks; call before routes are added. Each is synchronous (issue 12: an `async` hook costs a
 * promise and a microtask on every request), and the "body parsed" mark is added only to the routes
 * that take multipart bodies, the only ones isUnreadableMultipartBody asks about.
 */
export function installRequestGuards(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (!MULTIPART_ROUTES.has(route.url)) return;
    const markParsed = (request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
      parsedRequests.add(request);
      done();
    };
    const existing = route.preHandler;
    // First, so the mark is set even when a later preHandler (the CSRF check) throws.
    route.preHandler = existing === undefined ? [markParsed] : [markParsed, ...(Array.isArray(existing) ? existing : [existing])];
  });
  app.addHook('onRequest', (request, reply, done) => {
    const route = request.routeOptions.url;
    if (route !== undefined && NO_STORE_ROUTES.has(route)) reply.header('cache-control', 'no-store').header('pragma', 'no-cache');

    // RFC 6749 §3.1 / RFC 6750 §3.1: one credential per request. Node keeps only the first of two
    // Authorization headers (or joins them), so the raw headers are counted.
    const raw = request.raw.rawHeaders;
    let authorizationHeaders = 0;
    for (let index = 0; index < raw.length; index += 2) {
      const name = raw[index]!;
      if (name.length === 13 && name.toLowerCase() === 'authorization') authorizationHeaders++;
    }
    if (authorizationHeaders > 1) {
      refuse(reply, 400, new OAuthError('invalid_request', 'the request has more than one Authorization header'));
      return;
    }

    // Issue 11 item 16 (RFC 6749 §2.3.1: credentials go in the Authorization header, "MUST NOT be
    // included in the request URI"): refused, so a client learns at once; the URL is never logged.
    if (route !== undefined && CLIENT_AUTHENTICATED_ROUTES.has(route) && request.url.includes('?')) {
      const query = request.query as Record<string, unknown> | undefined;
      if (query && CREDENTIAL_PARAMETERS.some((name) => query[name] !== undefined)) {
        refuse(reply, 400, new OAuthError('invalid_request', 'credentials, codes and tokens must not be sent in the URL query'));
        return;
      }
    }
    done();
  });
}
