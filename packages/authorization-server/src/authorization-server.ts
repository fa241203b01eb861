/**
 * createAuthorizationServer(options): the composition root. Builds the Fastify application with its
 * form parser, cookies, CSRF protection, security headers and routes.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrfProtection from '@fastify/csrf-protection';
import fastifyHelmet from '@fastify/helmet';
import fastifyMultipart from '@fastify/multipart';
import { LOGO_MAX_BYTES } from './clients/client-management.ts';
import { systemClock } from './clock.ts';
import { createLoginThrottle } from './endpoints/login-throttle.ts';
import { OAuthError } from './errors.ts';
import { parseFormBody } from './http/parameters.ts';
import { resolveOptions, type AuthorizationServerOptions } from './options.ts';
import { errorPage } from './pages/error-page.ts';
import { sendStorageUnavailablePage } from './http/storage-unavailable-response.ts';
import { isStorageUnavailable } from './storage/storage-unavailable.ts';
import { registerRoutes } from './routes.ts';
import type { ServerContext } from './server-context.ts';
import { createOpaqueTokenCodec } from './tokens/opaque-token.ts';
import { loadSigningKey, SESSION_HANDOVER_SIGNING_KEY_SETTING } from './tokens/signing-key.ts';

const MAX_FORM_BODY_BYTES = 64 * 1024;

export async function createAuthorizationServer(input: AuthorizationServerOptions): Promise<FastifyInstance> {
  const options = resolveOptions(input, systemClock);
  const context: ServerContext = {
    options,
    storage: options.storage,
    codec: createOpaqueTokenCodec(options.tokenHmacKey),
    clock: options.clock,
    signingKey: await loadSigningKey(options.storage),
    handoverSigningKey: await loadSigningKey(options.storage, SESSION_HANDOVER_SIGNING_KEY_SETTING),
  };
  const production = options.environment !== 'development';
  const app = Fastify({
    logger: options.logger
      ? { level: 'info', redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'], censor: '[redacted]' } }
      : false,
    trustProxy: options.trustProxy,
    bodyLimit: MAX_FORM_BODY_BYTES,
    // Query strings are logged by default as part of the URL; codes never travel in ours (only in redirects we send).
  });

  // Repeated parameters stay visible as arrays so endpoints can refuse them (RFC 6749 §3.1, §3.2).
  app.removeContentTypeParser('application/x-www-form-urlencoded');
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_FORM_BODY_BYTES }, (_request, body, done) => {
    done(null, parseFormBody(body as string));
  });

  // SPEC decision 17: outside development, refuse anything that did not arrive over TLS.
  if (production) {
    app.addHook('onRequest', async (request, reply) => {
      if (request.protocol !== 'https') {
        reply.code(403).header('cache-control', 'no-store').send(new OAuthError('invalid_request', 'HTTPS is required').toJSON());
      }
    });
  }

  // SPEC decision 18: anti-framing and a strict CSP on every page; HSTS outside development (decision 17).
  await app.register(fastifyHelmet, {
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
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });
  await app.register(fastifyCookie);
  // The portal's forms with a logo upload: fields and the file land in request.body (so the CSRF check
  // reads `_csrf` as for any form); one file of at most 1 MiB, a bounded number of small fields.
  await app.register(fastifyMultipart, {
    attachFieldsToBody: 'keyValues',
    limits: { files: 1, fileSize: LOGO_MAX_BYTES, fields: 40, fieldSize: 16 * 1024, parts: 42 },
  });
  await app.register(fastifyCsrfProtection, {
    cookieKey: 'gatehouse_csrf',
    cookieOpts: { path: '/', sameSite: 'lax', httpOnly: true, secure: production },
    getToken: (request) => {
      const value = (request.body as Record<string, unknown> | undefined)?._csrf;
      return typeof value === 'string' ? value : undefined;
    },
  });

  app.setErrorHandler((error: { code?: string; statusCode?: number }, request, reply) => {
    if (error.code === 'FST_CSRF_INVALID_TOKEN' || error.code === 'FST_CSRF_MISSING_SECRET') {
      reply.code(403).type('text/html; charset=utf-8').send(errorPage(options.brand.name, 'This form has expired',
        'The form was not sent from this site, or it expired. Go back to the app and start connecting again.'));
      return;
    }
    if (error.statusCode && error.statusCode < 500) {
      reply.code(error.statusCode).send(new OAuthError('invalid_request', 'the request could not be read').toJSON());
      return;
    }
    // SPEC decision 18: an unreachable storage is a 503 page with Retry-After (the JSON endpoints answer it themselves).
    if (isStorageUnavailable(error)) {
      request.log.warn({ err: error }, 'storage unavailable');
      sendStorageUnavailablePage(reply, options.brand.name);
      return;
    }
    request.log.error({ err: error }, 'unhandled error');
    reply.code(500).send(new OAuthError('server_error', 'unexpected error').toJSON());
  });

  await registerRoutes(app, context, createLoginThrottle(options.loginRateLimit, options.storage.loginThrottle));
  return app;
}
