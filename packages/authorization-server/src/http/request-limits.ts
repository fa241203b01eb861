/**
 * Bounds on request bodies (issue 11 item 1): each form endpoint reads at most its own body size, and
 * form bodies are parsed in linear time with a bounded number of parameters, so one request cannot hold
 * the event loop. Too large: 413 before the body is read when `Content-Length` says so; too many
 * parameters: 400 `invalid_request` before anything is parsed.
 */
import type { FastifyInstance } from 'fastify';
import { parseFormBody } from './parameters.ts';

/** Every other route's body limit, in bytes (portal forms, admin API JSON). */
export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;

/**
 * Body limits, in bytes, of the endpoints that take small forms. An OAuth request is a handful of short
 * parameters (codes and tokens are under 1 KiB, a JWT access token about 1 KiB); the consent form also
 * carries the authorization request.
 */
export const BODY_LIMIT_BYTES_BY_ROUTE: Readonly<Record<string, number>> = {
  '/oauth/token': 8 * 1024,
  '/oauth/revoke': 8 * 1024,
  '/oauth/token/introspect': 8 * 1024,
  '/oauth/par': 8 * 1024,
  '/login': 8 * 1024,
  '/oauth/authorize/decision': 16 * 1024,
};

/**
 * Installs the form parser (repeated names kept as arrays so endpoints can refuse them, RFC 6749 §3.1,
 * §3.2) and gives each route of BODY_LIMIT_BYTES_BY_ROUTE its body limit. Call before routes are added.
 */
export function installFormBodyLimits(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const limit = BODY_LIMIT_BYTES_BY_ROUTE[route.url];
    if (limit !== undefined && route.bodyLimit === undefined) route.bodyLimit = limit;
  });
  app.removeContentTypeParser('application/x-www-form-urlencoded');
  // No bodyLimit of its own: the route's (or the server's) applies.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseFormBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
