/**
 * createAuthorizationServer(options): the composition root. Builds the Fastify application with its
 * form parser, cookies, CSRF protection, security headers and routes.
 */
import { formPage } from './http/form-page.ts';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrfProtection from '@fastify/csrf-protection';
import { systemClock } from './clock.ts';
import { createLoginThrottle, resolveLoginThrottleRules } from './endpoints/login-throttle.ts';
import { RETURN_TO } from './endpoints/login.ts';
import { OAuthError } from './errors.ts';
import { connectionTimeoutOptions, limitConnectionsPerAddress } from './http/connection-limits.ts';
import { installMethodNotAllowed } from './http/method-not-allowed.ts';
import { installRequestGuards, isUnreadableMultipartBody } from './http/request-guards.ts';
import { installMediaTypeGuard } from './http/media-types.ts';
import { DEFAULT_BODY_LIMIT_BYTES, installFormBodyLimits } from './http/request-limits.ts';
import { hostCookieName } from './http/host-cookies.ts';
import { serializeRequestForLog } from './http/request-log.ts';
import { parseParameters } from './http/parameters.ts';
import { installRequestIds, REQUEST_ID_HEADER, requestIdFor } from './http/request-id.ts';
import { installSecurityHeaders, securityHeaders } from './http/security-headers.ts';
import { resolveConnectionLimits, resolveOptions, type AuthorizationServerOptions } from './options.ts';
import { errorPage } from './pages/error-page.ts';
import { requestLocale, requestTranslator } from './i18n/request-language.ts';
import { translator } from './i18n/i18n.ts';
import { sendStorageUnavailablePage } from './http/storage-unavailable-response.ts';
import { isStorageUnavailable } from './storage/storage-unavailable.ts';
import { instrumentHttp, instrumentStorage, registerMetricsRoute, trackConnectionPool, trackLastUses } from './operations/metrics.ts';
import { traceHttp, traceStorage } from './operations/tracing.ts';
import { streamAuditEvents } from './operations/audit-stream.ts';
import { registerRoutes } from './routes.ts';
import { createLastUseRecorder } from './storage/last-use-recorder.ts';
import { GRANT_USE_RECORDING_INTERVAL_SECONDS } from './endpoints/introspection.ts';
import { API_KEY_USE_RECORDING_INTERVAL_SECONDS } from './api-keys/api-key-service.ts';
import { SESSION_LAST_SEEN_INTERVAL_SECONDS } from './sessions/login-session.ts';
import type { ServerContext } from './server-context.ts';
import { createOpaqueTokenCodec } from './tokens/opaque-token.ts';
import { loadTokenKeyring, tokenKeyRetentionSeconds } from './tokens/token-keyring.ts';
import {
  ACCESS_TOKEN_SIGNING_KEY_SETTING, loadSigningKeyRing, SESSION_HANDOVER_SIGNING_KEY_SETTING, signingKeyRetentionSeconds,
} from './tokens/signing-key.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Writes the last uses noted so far now (storage/last-use-recorder.ts), instead of within the second. Never throws. */
    flushLastUses(): Promise<void>;
  }
}

export async function createAuthorizationServer(input: AuthorizationServerOptions): Promise<FastifyInstance> {
  const options = resolveOptions(input, systemClock);
  // Issue 14: the token HMAC keyring (GATEHOUSE_TOKEN_KEY as k0, rotated keys from settings).
  const tokenKeyring = await loadTokenKeyring(options.storage, options.tokenHmacKey,
    tokenKeyRetentionSeconds(options.refreshTokenLifetimeSeconds), options.clock.nowSeconds());
  // The longest lifetime of what a signing key signs: access tokens, or session handovers (at most 300 s).
  const signingKeyRetention = signingKeyRetentionSeconds(Math.max(options.accessTokenLifetimeSeconds, 300));
  // Issue 14: each committed audit event also goes to the audit stream, when one is configured.
  const withAuditStream = (storage: ServerContext['storage']) => (options.auditStream ? streamAuditEvents(storage, options.auditStream) : storage);
  const context: ServerContext = {
    options,
    // Issue 14: every storage operation timed, audit events counted (operations/metrics.ts).
    storage: withAuditStream(instrumentStorage(options.tracer ? traceStorage(options.storage, options.tracer) : options.storage, options.metrics)),
    codec: createOpaqueTokenCodec(tokenKeyring, options.clock),
    clock: options.clock,
    // Issue 14: rings, so `gatehouse keys rotate` pre-publishes the next key and retires the old one.
    signingKey: await loadSigningKeyRing(options.storage, ACCESS_TOKEN_SIGNING_KEY_SETTING, signingKeyRetention, options.clock.nowSeconds()),
    handoverSigningKey: await loadSigningKeyRing(options.storage, SESSION_HANDOVER_SIGNING_KEY_SETTING, signingKeyRetention, options.clock.nowSeconds()),
    // Issue 12: an introspection or a page never waits for its last-use write (storage/last-use-recorder.ts).
    lastUses: {
      grants: createLastUseRecorder((uses) => context.storage.grants.recordUses(uses, GRANT_USE_RECORDING_INTERVAL_SECONDS), {
        flushIntervalMs: options.lastUseFlushIntervalMs, onFlushError: (error) => reportLastUseFailure(error),
      }),
      apiKeys: createLastUseRecorder((uses) => context.storage.apiKeys.recordUses(uses, API_KEY_USE_RECORDING_INTERVAL_SECONDS), {
        flushIntervalMs: options.lastUseFlushIntervalMs, onFlushError: (error) => reportLastUseFailure(error),
      }),
      sessions: createLastUseRecorder((visits) => context.storage.loginSessions.touch(visits, SESSION_LAST_SEEN_INTERVAL_SECONDS), {
        flushIntervalMs: options.lastUseFlushIntervalMs, onFlushError: (error) => reportLastUseFailure(error),
      }),
    },
  };
  const production = options.environment !== 'development';
  // Computed once (helmet runs to produce them), for the router's refusals, which no onRequest hook sees.
  const frameworkErrorHeaders = securityHeaders(production);
  const connectionLimits = resolveConnectionLimits(options.connectionLimits);
  const app = Fastify({
    logger: options.logger
      ? {
        level: 'info',
        redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'], censor: '[redacted]' },
        // Issue 11 item 16: a request is logged as its method and path, never its query string.
        serializers: { req: serializeRequestForLog },
        ...(typeof options.logger === 'object' ? { stream: options.logger.destination } : {}),
      }
      : false,
    // Issue 14: a request id on every log line, response and error body (http/request-id.ts).
    genReqId: requestIdFor,
    // The query string parsed as form bodies are (http/parameters.ts), noting values that do not decode.
    routerOptions: { querystringParser: parseParameters },
    // A URL the router cannot read (bad percent-encoding: FST_ERR_BAD_URL, 400; a path parameter over
    // maxParamLength: FST_ERR_MAX_PARAM_LENGTH, 414) is answered before any hook runs: without this, Fastify's
    // own JSON repeated the URL and carried none of the security headers (SPEC decision 18) or the request id.
    frameworkErrors: (error, request, fastifyReply) => {
      const status = error.statusCode === 414 ? 414 : 400;
      const reply = fastifyReply as unknown as FastifyReply;
      reply.headers(frameworkErrorHeaders).header(REQUEST_ID_HEADER, request.id).header('cache-control', 'no-store')
        .code(status).type('application/json; charset=utf-8')
        .send({ error: 'invalid_request', error_description: status === 414 ? 'a part of the request path is too long' : 'the request path could not be read', request_id: request.id });
    },
    // A body schema with additionalProperties: false refuses an unknown member (400 naming it) instead of
    // Fastify's default of dropping it silently: a misspelt member must not change what a request does.
    ajv: { customOptions: { removeAdditional: false } },
    trustProxy: options.trustProxy,
    bodyLimit: DEFAULT_BODY_LIMIT_BYTES,
    // Issue 11 item 4: header, body and idle timeouts.
    ...connectionTimeoutOptions(connectionLimits),
  });
  limitConnectionsPerAddress(app.server, connectionLimits.maxConnectionsPerAddress);
  // Once per failing spell and recorder (last-use-recorder.ts); the uses stay pending and the next interval
  // retries. An outage passes and a retry then writes what waited; any other error (a constraint, a bug in
  // the statement) will fail every retry, so it is logged as an error.
  const reportLastUseFailure = (error: unknown) => (isStorageUnavailable(error)
    ? app.log.warn({ err: error }, 'recording last uses failed: storage unavailable; retrying every interval')
    : app.log.error({ err: error }, 'recording last uses failed, not for an outage; retrying every interval'));
  // After the last request, before the storage closes (its owner closes it after the server).
  app.addHook('onClose', async () => {
    await Promise.all(Object.values(context.lastUses).map((recorder) => recorder.close()));
  });
  app.decorate('flushLastUses', async () => {
    await Promise.all(Object.values(context.lastUses).map((recorder) => recorder.flush()));
  });
  installRequestIds(app);
  // SPEC decision 18: anti-framing and a strict CSP on every response; HSTS outside development (decision
  // 17). First among the onRequest hooks, so the refusals of the hooks after it carry them too.
  installSecurityHeaders(app, production);
  // Issue 14: keys added by a rotation reach every instance before they mint (tokens/token-keyring.ts).
  app.addHook('onRequest', (_request, _reply, done) => {
    const now = options.clock.nowSeconds();
    const tokenKeys = tokenKeyring.refreshIfStale(now);
    const signingKeys = context.signingKey.refreshIfStale(now);
    const handoverKeys = context.handoverSigningKey.refreshIfStale(now);
    if (!tokenKeys && !signingKeys && !handoverKeys) return done(); // fresh: no promise per request
    Promise.all([tokenKeys, signingKeys, handoverKeys]).then(() => done(), done);
  });
  // Issue 11 item 1: a bounded, linear form parser and a body limit per endpoint.
  installFormBodyLimits(app);
  // Issue 11 items 10, 14, 16: duplicate Authorization, credentials in the URL, no-store.
  installRequestGuards(app);
  // Each route's media types (multipart only at the two upload forms, issue 11 item 9): 415 before the body is read.
  installMediaTypeGuard(app, options.brand.name, options.issuer);
  // Issue 11 item 15: 405 with Allow for wrong methods; a 404 that does not repeat the URL. A browser gets
  // them as a page in its language with a way home (a reload of /login after a refused password is a GET).
  const addMethodNotAllowedRoutes = installMethodNotAllowed(app, (request, status) => {
    // The language links come back to the home page, not to this address (never echoed: it may carry a token).
    const t = translator(requestLocale(request), '/');
    return status === 404
      ? errorPage(options.brand.name, t.t('error.notFoundTitle'), t.t('error.notFound'), { t, hint: null })
      : errorPage(options.brand.name, t.t('error.methodNotAllowedTitle'), t.t('error.methodNotAllowed'), { t, hint: null });
  });

  // SPEC decision 17: outside development, refuse anything that did not arrive over TLS. Except the two
  // health probes: a load balancer or kubelet probes the instance's own address over plain HTTP, and they
  // carry nothing (no credentials, no cookies, no data): refused, a healthy instance would be taken down.
  if (production) {
    const probes = new Set(['/health', '/health/ready']);
    app.addHook('onRequest', async (request, reply) => {
      if (request.protocol !== 'https' && !((request.method === 'GET' || request.method === 'HEAD') && probes.has(request.url.split('?')[0]!))) {
        reply.code(403).header('cache-control', 'no-store').send(new OAuthError('invalid_request', 'HTTPS is required').toJSON());
      }
    });
  }

  await app.register(fastifyCookie);
  await app.register(fastifyCsrfProtection, {
    cookieKey: hostCookieName(options.environment, 'gatehouse_csrf'), // issue 11 item 25: __Host- outside development
    cookieOpts: { path: '/', sameSite: 'lax', httpOnly: true, secure: production },
    getToken: (request) => {
      const value = (request.body as Record<string, unknown> | undefined)?._csrf;
      return typeof value === 'string' ? value : undefined;
    },
  });

  app.setErrorHandler((error: { code?: string; statusCode?: number }, request, reply) => {
    // Issue 11 item 14: an error is never cached (Fastify's own 400/413/415 included).
    reply.header('cache-control', 'no-store');
    if (error instanceof OAuthError) {
      reply.code(error.status).send(error.toJSON());
      return;
    }
    if (error.code === 'FST_CSRF_INVALID_TOKEN' || error.code === 'FST_CSRF_MISSING_SECRET') {
      // Issue 13: only the login and consent forms talk about the app; the portal's, console's and account's forms say what to do there.
      const page = /^\/(?:portal|admin|account|marketplace|logout)(?:[/?]|$)/.exec(request.url)?.[0];
      const t = requestTranslator(request);
      // The login form of a plain sign-in (to the home page, the portal, the account…) is not about an app: its
      // way onward is the page the sign-in was for.
      const loginReturnTo = request.url === '/login' ? (request.body as Record<string, unknown> | undefined)?.return_to : undefined;
      if (request.url === '/login' && !(typeof loginReturnTo === 'string' && loginReturnTo.startsWith('/oauth/authorize?'))) {
        const destination = typeof loginReturnTo === 'string' && RETURN_TO.test(loginReturnTo) ? loginReturnTo : '/';
        reply.code(403).type('text/html; charset=utf-8').send(errorPage(options.brand.name, t.t('error.formExpiredTitle'), t.t('error.formExpired'), {
          t, hint: t.t('error.formExpiredHint'), links: [{ href: destination, label: t.t('error.openAgain') }], reference: request.id,
        }));
        return;
      }
      reply.code(403).type('text/html; charset=utf-8').send(page === undefined
        ? errorPage(options.brand.name, t.t('error.formExpiredTitle'), t.t('error.formExpiredApp'), { t, reference: request.id })
        : errorPage(options.brand.name, t.t('error.formExpiredTitle'), t.t('error.formExpired'), {
          t, hint: t.t('error.formExpiredHint'),
          links: page.startsWith('/logout') ? [{ href: '/', label: t.t('error.homeShort') }] : [{ href: formPage(request, options.issuer, page.replace(/[/?]$/, '')), label: t.t('error.openAgain') }, { href: '/', label: t.t('error.homeShort') }],
          reference: request.id,
        }));
      return;
    }
    if (error.statusCode && error.statusCode < 500) {
      const description = error.statusCode === 413 ? 'the request body is too large'
        : error.statusCode === 415 ? 'the content type is not supported here' : 'the request could not be read';
      reply.code(error.statusCode).send(new OAuthError('invalid_request', description).toJSON());
      return;
    }
    if (isUnreadableMultipartBody(request)) {
      reply.code(400).send(new OAuthError('invalid_request', 'the multipart body could not be read').toJSON());
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

  // Issue 14: Prometheus metrics; GET /metrics for administrator tokens unless served on their own port.
  instrumentHttp(app, options.metrics);
  trackConnectionPool(options.metrics, options.storage);
  trackLastUses(options.metrics, { grants: context.lastUses.grants, api_keys: context.lastUses.apiKeys, sessions: context.lastUses.sessions });
  if (options.tracer) traceHttp(app, options.tracer);
  if (options.serveMetrics) registerMetricsRoute(app, options.metrics, context.storage);
  await registerRoutes(app, context, createLoginThrottle(resolveLoginThrottleRules(options.loginRateLimit, options.loginThrottle), options.storage.loginThrottle));
  addMethodNotAllowedRoutes();
  return app;
}
