/**
 * Security headers on every response (SPEC decision 18: anti-framing and a strict CSP on every page;
 * HSTS outside development, decision 17), computed by `helmet` once at startup and set on each reply in
 * one call.
 *
 * Why not @fastify/helmet: it builds a new helmet middleware for every request (option parsing and CSP
 * directive formatting each time, ~3% of an introspection's CPU) and writes each header on the raw
 * response, which also sends Fastify's `writeHead` down its slower merge path. The headers never depend on
 * the request, so they are computed once here (issue 12).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

/** The helmet configuration: every response gets the headers it produces. */
function helmetOptions(production: boolean): HelmetOptions {
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'none'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'https:', 'data:'],
        'frame-ancestors': ["'none'"],
        'base-uri': ["'none'"],
        // No form-action: browsers apply it to the redirect that follows the consent form.
      },
    },
    frameguard: { action: 'deny' },
    hsts: production ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    // No Referer leaves the site (the authorize URL carries state; RFC 9700 §4.2.4). Not `no-referrer`: with
    // it browsers send `Origin: null` on the site's own form posts, which the Origin check must refuse.
    referrerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
  };
}

/**
 * The headers helmet sets for this configuration, names in lower case: helmet's middleware run once
 * against a response that only records them.
 * @param production adds `Strict-Transport-Security` (one year, subdomains; SPEC decision 17).
 */
export function securityHeaders(production: boolean): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string) {
      headers[name.toLowerCase()] = value;
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(helmetOptions(production))({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return Object.freeze(headers);
}

/** Adds an `onRequest` hook setting securityHeaders(production) on every reply (404s and errors included). */
export function installSecurityHeaders(app: FastifyInstance, production: boolean): void {
  const headers = securityHeaders(production);
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
}
