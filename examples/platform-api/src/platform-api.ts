import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { createTokenVerifier, decorateAccessToken, DEFAULT_URN_NAMESPACE, fastifyLogSerializers } from '@gatehouse/resource-server';
import type { FetchFunction, ScheduleTimer, TokenVerifier, TokenVerifierOptions } from '@gatehouse/resource-server';
import { createApiKeyVerifier, createCredentialVerifier, decorateCredential } from '@gatehouse/resource-server';
import type { CredentialKind, CredentialVerifier } from '@gatehouse/resource-server';
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

/** How the platform API validates access tokens; see `@gatehouse/resource-server` for the trade-off. */
export type ValidationMode = 'introspection' | 'local';

export interface PlatformApiOptions {
  /** Issuer of the Gatehouse authorization server, e.g. `http://localhost:3000`. */
  readonly issuer: string;
  /** This API's identifier, required in `aud`, e.g. `http://localhost:3001`. */
  readonly audience: string;
  /**
   * This API's credentials at the authorization server (SPEC decision 14): for introspection, and
   * in local mode for the revocation feed.
   */
  readonly introspectionClientId: string;
  readonly introspectionClientSecret: string;
  /**
   * `introspection` (default): every token is introspected, answers cached for
   * `introspectionCacheTtlSeconds`. `local`: RFC 9068 JWT access tokens (the authorization server's
   * `accessTokenFormat: 'jwt'`) verified against its JWKS, revocations learnt from its revocation
   * feed every `revocationPollIntervalSeconds`; fails closed (503) past `maxRevocationStalenessSeconds`.
   * Either way a revoked or superseded token is refused within 5 s (SPEC decision 7).
   */
  readonly validationMode?: ValidationMode;
  /** URN namespace of the deployment (SPEC §2); default `gatehouse`. */
  readonly urnNamespace?: string;
  /** Introspection mode: staleness bound of introspection results, seconds; default 5 (SPEC decision 7). */
  readonly introspectionCacheTtlSeconds?: number;
  /** Local mode: seconds between revocation-feed polls; default 2. */
  readonly revocationPollIntervalSeconds?: number;
  /** Local mode: staleness bound, seconds; default 5. Past it without a successful poll, tokens get 503. */
  readonly maxRevocationStalenessSeconds?: number;
  /** Local mode: the longest access-token lifetime issued, seconds; default 900. */
  readonly maxAccessTokenLifetimeSeconds?: number;
  /** Local mode: seconds between JWKS refetches on an unknown `kid`; default 30. */
  readonly jwksCooldownSeconds?: number;
  /** Tolerance on `exp`, seconds; default 5. */
  readonly clockSkewSeconds?: number;
  /** Clock, epoch milliseconds; default `Date.now`. */
  readonly now?: () => number;
  /** Local mode: schedules the feed polls; default unref'd `setTimeout`. Tests pass a manual clock's. */
  readonly scheduleTimer?: ScheduleTimer;
  /** Request logging (tokens are never logged); default off. */
  readonly logger?: boolean;
  /** `fetch` used to reach the authorization server; default the global one. */
  readonly fetch?: FetchFunction;
  /**
   * RFC 9449 §7: the origin clients call this API at, for the `htu` of DPoP proofs; default the
   * audience's origin (`http://localhost:3001` in development).
   */
  readonly publicOrigin?: string;
  /**
   * A verifier to use instead of building one from the options above (which are then ignored,
   * except `issuer` and `audience` for the OpenAPI document): to share one verifier, or to put a
   * substitute in front of the same routes (the benchmark's no-authentication floor).
   */
  readonly verifier?: TokenVerifier;
  /**
   * A credential verifier to put in front of every route instead of the one built from `verifier` and an
   * API-key verifier: what each route's hook calls per request (`requireCredential`), so a substitute
   * replaces all of a route's authentication (the benchmark's no-authentication floor).
   */
  readonly credentialVerifier?: CredentialVerifier;
  /** Data behind the API; default a fresh copy of the development seed. */
  readonly store?: DataStore;
  /**
   * Issue 16: what every route accepts, Bearer access tokens and/or API keys (HTTP Basic, the key as the
   * user name); default both. API keys are introspected with `token_type_hint=api_key` and cached for
   * `introspectionCacheTtlSeconds` (the same revocation bound).
   */
  readonly acceptedCredentials?: readonly CredentialKind[];
}

/**
 * The `createTokenVerifier` options for the platform API's options (the verifier applies its own
 * defaults to what is unset).
 *
 * @throws {TypeError} when `validationMode` is neither `introspection` nor `local`.
 */
export function platformApiVerifierOptions(options: PlatformApiOptions): TokenVerifierOptions {
  // Unset options stay undefined, and the verifier applies its defaults (TOKEN_VERIFIER_DEFAULTS).
  const common = {
    issuer: options.issuer,
    audience: options.audience,
    introspectionClientId: options.introspectionClientId,
    introspectionClientSecret: options.introspectionClientSecret,
    urnNamespace: options.urnNamespace ?? DEFAULT_URN_NAMESPACE,
    clockSkewSeconds: options.clockSkewSeconds,
    now: options.now,
    fetch: options.fetch,
    publicOrigin: options.publicOrigin,
  };
  const mode = options.validationMode ?? 'introspection';
  switch (mode) {
    case 'local':
      return {
        ...common,
        mode: 'local',
        revocationPollIntervalSeconds: options.revocationPollIntervalSeconds,
        maxRevocationStalenessSeconds: options.maxRevocationStalenessSeconds,
        maxAccessTokenLifetimeSeconds: options.maxAccessTokenLifetimeSeconds,
        jwksCooldownSeconds: options.jwksCooldownSeconds,
        scheduleTimer: options.scheduleTimer,
      };
    case 'introspection':
      return { ...common, mode: 'introspection', introspectionCacheTtlSeconds: options.introspectionCacheTtlSeconds };
    default:
      throw new TypeError(`validationMode must be 'introspection' or 'local', not ${JSON.stringify(mode)}`);
  }
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
 * In local mode the verifier starts polling the revocation feed at once; closing the app stops it.
 *
 * @throws {TypeError} on invalid verifier options (see `createTokenVerifier`).
 */
export function createPlatformApi(options: PlatformApiOptions): FastifyInstance {
  const urnNamespace = options.urnNamespace ?? DEFAULT_URN_NAMESPACE;
  const verifier = options.verifier ?? createTokenVerifier(platformApiVerifierOptions(options));
  const store = options.store ?? createDataStore();
  // Issue 16: API keys resolved at the authorization server's RFC 7662 endpoint, with the same bound.
  const credentials = options.credentialVerifier ?? createCredentialVerifier({
    tokenVerifier: verifier,
    apiKeyVerifier: createApiKeyVerifier({
      issuer: options.issuer, audience: options.audience, introspectionClientId: options.introspectionClientId,
      introspectionClientSecret: options.introspectionClientSecret, urnNamespace, realm: verifier.realm,
      cacheTtlSeconds: options.introspectionCacheTtlSeconds, clockSkewSeconds: options.clockSkewSeconds, now: options.now, fetch: options.fetch,
    }),
  });
  const context = { verifier, store, urnNamespace, credentials, acceptedCredentials: options.acceptedCredentials ?? (['bearer', 'api_key'] as const) };

  const app = Fastify({ logger: options.logger === true ? { serializers: fastifyLogSerializers } : false });
  if (options.verifier === undefined) {
    app.addHook('onClose', async () => verifier.close());
  }
  // Every response, errors and 404s included, as the authorization server does (its helmet): a client
  // must not sniff a JSON error, or a refusal echoing input, into something it would run or render.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    return payload;
  });
  decorateAccessToken(app);
  decorateCredential(app);
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
  // Issue 14: readiness. The API can answer only while the authorization server answers (introspection,
  // or the JWKS and revocation feed in local mode): ready when its metadata (RFC 8414) comes back within 2 s.
  const metadataUrl = `${options.issuer}/.well-known/oauth-authorization-server`;
  app.get('/health/ready', { config: { openapi: { summary: 'Readiness', tags: ['meta'] } } }, async (_request, reply) => {
    const reachable = await fetch(metadataUrl, { signal: AbortSignal.timeout(2_000) }).then((response) => response.ok, () => false);
    reply.header('cache-control', 'no-store');
    if (reachable) return { status: 'ready' };
    return reply.code(503).header('retry-after', '5').send({ status: 'unavailable', reason: 'authorization_server_unreachable' });
  });
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
  /** Stops listening, closes idle connections and stops the verifier's background polling. */
  close(): Promise<void>;
}

/**
 * Builds the platform API and listens on `host:port` (defaults `localhost:3001`; port `0`
 * picks a free one). It does not wait for local mode's revocation-feed catch-up: requests that
 * arrive first wait for it (or get 503 if the feed does not answer).
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
