/**
 * Wrong methods and unknown paths (issue 11 item 15): a known path called with a method it does not
 * serve answers 405 with `Allow` (RFC 9110 §15.5.6); an unknown path answers 404. Neither body repeats
 * the request URL (Fastify's default 404 did, query string and any token in it included).
 *
 * A browser's navigation (GET or HEAD accepting `text/html`: a link followed, an address typed, a page
 * reloaded after a form, e.g. the consent decision) gets the same status as an HTML page in
 * its language with a way onward (`htmlPage`); every other caller gets the JSON body.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on the 405 routes this file adds: they read no body, so http/media-types.ts does not check one. */
    answersMethodNotAllowed?: boolean;
  }
}

/** The methods a path that does not serve them answers 405 to; any other method is a 404. */
const ANSWERED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/** The not-found body: fixed, never the URL. */
export const NOT_FOUND_BODY = { error: 'not_found', error_description: 'there is no such endpoint' } as const;
/** The method-not-allowed body: fixed, never the URL. */
export const METHOD_NOT_ALLOWED_BODY = { error: 'method_not_allowed', error_description: 'the endpoint does not support this method' } as const;

/**
 * Records every route added after this call, and sets the 404 handler. Call before the routes are
 * added; call the returned function once they all are: it adds, for each path, a 405 route for the
 * methods it does not serve (answered in `onRequest`, before any body is read).
 */
/** Whether the request is a browser navigating to a page (it accepts HTML), not an API call. */
function navigates(request: FastifyRequest): boolean {
  return (request.method === 'GET' || request.method === 'HEAD') && (request.headers.accept ?? '').includes('text/html');
}

/** The answer to a wrong method (405) or an unknown path (404): a page for a browser, the fixed JSON otherwise. */
function refuse(request: FastifyRequest, reply: FastifyReply, status: 404 | 405, htmlPage: ((request: FastifyRequest, status: 404 | 405) => string) | undefined): void {
  reply.code(status).header('cache-control', 'no-store');
  if (htmlPage && navigates(request)) reply.type('text/html; charset=utf-8').send(htmlPage(request, status));
  else reply.type('application/json; charset=utf-8').send(status === 404 ? NOT_FOUND_BODY : METHOD_NOT_ALLOWED_BODY);
}

/** Per server, the paths its own routes serve GET on, as patterns (`servesGet`). */
const getPatterns = new WeakMap<FastifyInstance, RegExp[]>();

/**
 * Whether `path` (no query) is a page a GET really serves on `app`, not one of the 405s this file adds for every
 * path without a GET (http/form-page.ts: a page that can be opened again). Fastify's `findRoute` finds both.
 */
export function servesGet(app: FastifyInstance, path: string): boolean {
  // A plugin's encapsulated instance (request.server) inherits from the server's by prototype.
  let patterns: RegExp[] | undefined;
  for (let instance: object | null = app; instance !== null && patterns === undefined; instance = Object.getPrototypeOf(instance)) {
    patterns = getPatterns.get(instance as FastifyInstance);
  }
  if (patterns === undefined) return app.findRoute({ method: 'GET', url: path }) !== null;
  return patterns.some((pattern) => pattern.test(path));
}

/** A route URL (`/portal/clients/:client_id`, `/assets/*`) as a pattern of the paths it serves. */
const routePattern = (url: string) =>
  new RegExp(`^${url.split(/(:[A-Za-z0-9_]+|\*)/).map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('')}$`);

/** @param htmlPage the page a browser's navigation gets instead of the JSON body (see the top of this file). */
export function installMethodNotAllowed(app: FastifyInstance, htmlPage?: (request: FastifyRequest, status: 404 | 405) => string): () => void {
  const methodsByPath = new Map<string, Set<string>>();
  let recording = true;
  app.addHook('onRoute', (route) => {
    if (!recording) return;
    const methods = methodsByPath.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    // Fastify answers HEAD for a GET route, unless the route says not to (a GET with effects, routes.ts).
    if (methods.has('GET') && route.exposeHeadRoute !== false) methods.add('HEAD');
    methodsByPath.set(route.url, methods);
  });
  app.setNotFoundHandler((request, reply) => {
    refuse(request, reply, 404, htmlPage);
  });
  return () => {
    recording = false;
    getPatterns.set(app, [...methodsByPath].filter(([, served]) => served.has('GET')).map(([url]) => routePattern(url)));
    for (const [url, served] of methodsByPath) {
      const missing = ANSWERED_METHODS.filter((method) => !served.has(method));
      if (missing.length === 0) continue;
      const allow = ANSWERED_METHODS.filter((method) => served.has(method)).join(', ');
      app.route({
        method: missing as HTTPMethods[],
        url,
        config: { answersMethodNotAllowed: true },
        onRequest: async (request, reply) => {
          reply.header('allow', allow);
          refuse(request, reply, 405, htmlPage);
          return reply;
        },
        handler: async () => undefined,
      });
    }
  };
}
