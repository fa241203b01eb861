import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { createTokenVerifier, decorateAccessToken, DEFAULT_URN_NAMESPACE, fastifyLogSerializers } from '@gatehouse/resource-server';
import type { FetchFunction } from '@gatehouse/resource-server';
import { registerCompaniesRoute } from './companies-route.ts';
import { registerCompanyRoutes } from './company-routes.ts';
import { createDataStore } from './data-store.ts';
import type { DataStore } from './data-store.ts';
import { installErrorHandling } from './error-handling.ts';
import { registerIntrospectRoute } from './introspect-route.ts';
import { installOpenApi } from './openapi.ts';
import { healthSchema } from './schemas.ts';

/** The development deployment of docs/dev-seed.md. */
export const PLATFORM_API_DEVELOPMENT_DEFAULTS = {
  port: 3001,
  host: 'localhost',
  issuer: 'http://localhost:3000',
  audience: 'http://localhost:3001',
  introspectionClientId: 'dbb72d5e-29fb-4cf3-80cc-78a687063942',
  introspectionClientSecret: '6Q9O2m3XGCT49_h_NYPNlkxF-p9fnXsbem650ws-1sw',
} as const;

export interface PlatformApiOptions {
  /** Issuer of the Gatehouse authorization server, e.g. `http://localhost:3000`. */
  readonly issuer: string;
  /** This API's identifier, required in `aud`, e.g. `http://localhost:3001`. */
  readonly audience: string;
  /** This API's introspection credentials (SPEC decision 14). */
  readonly introspectionClientId: string;
  readonly introspectionClientSecret: string;
  /** URN namespace of the deployment (SPEC §2); default `gatehouse`. */
  readonly urnNamespace?: string;
  /** Staleness bound of introspection results, seconds; default 5 (SPEC decision 7). */
  readonly introspectionCacheTtlSeconds?: number;
  /** Tolerance on `exp`, seconds; default 5. */
  readonly clockSkewSeconds?: number;
  /** Clock, epoch milliseconds; default `Date.now`. */
  readonly now?: () => number;
  /** Request logging (tokens are never logged); default off. */
  readonly logger?: boolean;
  /** `fetch` used for introspection; default the global one. */
  readonly fetch?: FetchFunction;
  /** Data behind the API; default a fresh copy of the development seed. */
  readonly store?: DataStore;
}

/**
 * Builds the sample platform API: a Fastify instance with its routes, not listening.
 *
 * Routes: `GET /health` (public), `GET /v1/introspect` (any token), `GET /v1/companies`
 * (any token), `GET /v1/users` (`users:read`), `GET /v1/vendors` (`vendors:read`),
 * `POST /v1/vendors` (`vendors:write`), `GET /v1/accounts` (`accounts:read`),
 * `GET /v1/export-jobs` (`export-jobs:read`), `GET /v1/export-jobs/:exportJobId/items`
 * (`export-items:read`), `GET /openapi.json` (public).
 *
 * @throws {TypeError} on invalid verifier options (see `createTokenVerifier`).
 */
export function createPlatformApi(options: PlatformApiOptions): FastifyInstance {
  const urnNamespace = options.urnNamespace ?? DEFAULT_URN_NAMESPACE;
  const verifier = createTokenVerifier({
    issuer: options.issuer,
    audience: options.audience,
    introspectionClientId: options.introspectionClientId,
    introspectionClientSecret: options.introspectionClientSecret,
    urnNamespace,
    ...(options.introspectionCacheTtlSeconds === undefined ? {} : { introspectionCacheTtlSeconds: options.introspectionCacheTtlSeconds }),
    ...(options.clockSkewSeconds === undefined ? {} : { clockSkewSeconds: options.clockSkewSeconds }),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
  const store = options.store ?? createDataStore();
  const context = { verifier, store, urnNamespace };

  const app = Fastify({ logger: options.logger === true ? { serializers: fastifyLogSerializers } : false });
  decorateAccessToken(app);
  installErrorHandling(app);
  // RFC 6750 §2.2 form bodies must be parsed to be refused; Fastify parses only JSON and text.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  installOpenApi(app, { issuer: options.issuer, audience: options.audience });

  app.get(
    '/health',
    { schema: { response: { 200: healthSchema } }, config: { openapi: { summary: 'Liveness', tags: ['meta'] } } },
    async () => ({ status: 'ok' }),
  );
  registerIntrospectRoute(app, context);
  registerCompaniesRoute(app, context);
  registerCompanyRoutes(app, context);
  return app;
}

/** A listening platform API. */
export interface RunningPlatformApi {
  /** Base URL, e.g. `http://localhost:3001`. */
  readonly url: string;
  readonly app: FastifyInstance;
  /** Stops listening and closes idle connections. */
  close(): Promise<void>;
}

/**
 * Builds the platform API and listens on `host:port` (defaults `localhost:3001`; port `0`
 * picks a free one).
 */
export async function startPlatformApi(options: PlatformApiOptions & { readonly port?: number; readonly host?: string }): Promise<RunningPlatformApi> {
  const app = createPlatformApi(options);
  const host = options.host ?? PLATFORM_API_DEVELOPMENT_DEFAULTS.host;
  await app.listen({ port: options.port ?? PLATFORM_API_DEVELOPMENT_DEFAULTS.port, host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    app,
    close: () => app.close(),
  };
}
