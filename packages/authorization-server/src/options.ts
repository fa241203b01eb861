/**
 * Every setting of the authorization server, its default, and why.
 * Source: SPEC.md §2 (deployment profile) and §4 (decisions).
 */
import type { Clock } from './clock.ts';
import type { Tracer } from '@opentelemetry/api';
import { createMetrics, type GatehouseMetrics } from './operations/metrics.ts';
import type { Storage } from './storage/storage.ts';

/** SPEC §2: one setting selects the environment's transport and redirect-URI rules. */
export type Environment = 'development' | 'staging' | 'production';

export interface AuthorizationServerOptions {
  /** The issuer identifier (RFC 8414 §2), e.g. `http://localhost:3000`; `https` outside development (SPEC decision 17). */
  issuer: string;
  environment: Environment;
  storage: Storage;
  /** Default `{ name: 'Gatehouse', urnNamespace: 'gatehouse' }` (SPEC §2). */
  brand?: Partial<Brand>;
  /** The resource server audience put in every access token's `aud` (RFC 7662 §2.2). */
  accessTokenAudience: string;
  /**
   * 32+ random bytes keying the HMAC of every opaque code and token (tokens/opaque-token.ts).
   * Changing it invalidates every outstanding code and token.
   */
  tokenHmacKey: Buffer;
  /** SPEC decision 6: default 60 s, at most 600 s. */
  authorizationCodeLifetimeSeconds?: number;
  /** SPEC decision 7: default 900 s. */
  accessTokenLifetimeSeconds?: number;
  /**
   * SPEC decision 7 (the format is ours): `opaque` (default) for resource servers that introspect, or
   * `jwt` (RFC 9068, ES256, key at /.well-known/jwks.json) for resource servers that also validate
   * locally. Both are stored, introspectable and revocable alike.
   */
  accessTokenFormat?: 'opaque' | 'jwt';
  /** SPEC decision 8 / platform docs: at least 60 days; default 60 days. */
  refreshTokenLifetimeSeconds?: number;
  /** How long a login session lasts; default 8 hours. */
  loginSessionLifetimeSeconds?: number;
  /** SPEC decision 18: failed logins allowed per account and per address in one window; default 10 per 15 min. */
  loginRateLimit?: { maxFailures: number; windowSeconds: number };
  /** SPEC decision 17: trust `X-Forwarded-Proto`/`-For` from these proxies (Fastify `trustProxy`); default none. */
  trustProxy?: boolean | string | string[];
  /**
   * SPEC decision 13: whether newly registered clients wait as `pending` until an administrator approves
   * them (and partners' branding counts as unreviewed until then). Default: true outside development,
   * false in development (approved at once). A development deployment may set it to rehearse the
   * staging review (the portal end-to-end test does).
   */
  requireClientApproval?: boolean;
  /** Injectable clock for tests; default the system clock. */
  clock?: Clock;
  /**
   * Fastify logger setting; default on outside tests. Tokens and secrets are never logged, nor query
   * strings (request URLs are logged as their path). `{ destination }` sends the JSON lines there (tests).
   */
  logger?: boolean | { destination: { write(line: string): void } };
  /** Issue 11 item 4: HTTP timeouts and the per-address connection ceiling; see DEFAULT_CONNECTION_LIMITS. */
  connectionLimits?: Partial<ConnectionLimits>;
  /** Issue 14: the Prometheus metrics this server updates (operations/metrics.ts); default a fresh registry. */
  metrics?: GatehouseMetrics;
  /**
   * Issue 14: serve `GET /metrics` on this application, to administrator bearer tokens; default true.
   * False when the metrics are served on their own port (`GATEHOUSE_METRICS_PORT`, main.ts).
   */
  serveMetrics?: boolean;
  /** Issue 14: OpenTelemetry tracing (operations/tracing.ts): a span per request and per storage operation; default off (null). */
  tracer?: Tracer | null;
}

export interface Brand {
  /** Shown on every page; reserved in client names (SPEC §2). */
  name: string;
  /** URN namespace `ns`: subjects `urn:<ns>:company:<uuid>`, parameter `urn_<ns>_params_oauth_subject` (SPEC §2). */
  urnNamespace: string;
}

/** Options with every default applied. */
export interface ResolvedOptions extends Required<Omit<AuthorizationServerOptions, 'brand'>> {
  brand: Brand;
}

export const MAX_AUTHORIZATION_CODE_LIFETIME_SECONDS = 600;

export function resolveOptions(options: AuthorizationServerOptions, systemClock: Clock): ResolvedOptions {
  const resolved: ResolvedOptions = {
    authorizationCodeLifetimeSeconds: 60,
    accessTokenLifetimeSeconds: 900,
    accessTokenFormat: 'opaque',
    refreshTokenLifetimeSeconds: 60 * 24 * 60 * 60,
    loginSessionLifetimeSeconds: 8 * 60 * 60,
    loginRateLimit: { maxFailures: 10, windowSeconds: 15 * 60 },
    trustProxy: false,
    requireClientApproval: options.environment !== 'development',
    connectionLimits: {},
    clock: systemClock,
    logger: true,
    serveMetrics: true,
    tracer: null,
    ...options,
    metrics: options.metrics ?? createMetrics(),
    brand: { name: 'Gatehouse', urnNamespace: 'gatehouse', ...options.brand },
  };
  const issuer = new URL(resolved.issuer);
  if (issuer.search || issuer.hash) throw new Error('issuer must not have a query or fragment (RFC 8414 §2)');
  if (resolved.issuer.endsWith('/')) throw new Error('issuer must not end with "/": it is compared as an exact string (RFC 9207 §2.4)');
  // SPEC decision 17: HTTPS everywhere but development.
  if (resolved.environment !== 'development' && issuer.protocol !== 'https:') {
    throw new Error(`issuer must be https in ${resolved.environment}`);
  }
  if (resolved.authorizationCodeLifetimeSeconds <= 0 || resolved.authorizationCodeLifetimeSeconds > MAX_AUTHORIZATION_CODE_LIFETIME_SECONDS) {
    throw new Error(`authorizationCodeLifetimeSeconds must be 1..${MAX_AUTHORIZATION_CODE_LIFETIME_SECONDS} (SPEC decision 6)`);
  }
  if (resolved.refreshTokenLifetimeSeconds < 60 * 24 * 60 * 60) {
    throw new Error('refreshTokenLifetimeSeconds must be at least 60 days (platform token lifecycle)');
  }
  if (resolved.tokenHmacKey.length < 32) throw new Error('tokenHmacKey must be at least 32 bytes');
  if (!/^[a-z][a-z0-9-]*$/.test(resolved.brand.urnNamespace)) {
    throw new Error('brand.urnNamespace must be lowercase letters, digits and "-" (it forms URNs and a parameter name)');
  }
  return resolved;
}

/**
 * How long the HTTP server waits for a client, and how many connections one address may hold (issue 11
 * item 4: a slowly sent body must not hold a connection for as long as the sender likes).
 */
export interface ConnectionLimits {
  /** Time to receive the request line and headers, in milliseconds (Node `headersTimeout`); 408 after it. */
  headersTimeoutMilliseconds: number;
  /** Time to receive the whole request, body included, in milliseconds (Node `requestTimeout`); 408 after it. */
  requestTimeoutMilliseconds: number;
  /**
   * How long an idle keep-alive connection waits for its next request, in milliseconds (Node
   * `keepAliveTimeout`). Behind a proxy that reuses connections, set it above the proxy's idle timeout.
   */
  keepAliveTimeoutMilliseconds: number;
  /** A socket that sends and receives nothing this long is closed, in milliseconds (Fastify `connectionTimeout`). */
  socketIdleTimeoutMilliseconds: number;
  /**
   * Open connections one remote address may hold; more are closed at once (0 = no ceiling). Behind a
   * proxy every connection comes from the proxy's address: raise it (or set 0) there.
   */
  maxConnectionsPerAddress: number;
}

/** Defaults: headers 10 s, whole request 30 s, keep-alive idle 5 s, socket idle 60 s, 100 connections per address. */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  headersTimeoutMilliseconds: 10_000,
  requestTimeoutMilliseconds: 30_000,
  keepAliveTimeoutMilliseconds: 5_000,
  socketIdleTimeoutMilliseconds: 60_000,
  maxConnectionsPerAddress: 100,
};

/**
 * The connection limits with their defaults applied.
 * @throws Error when a timeout is not a positive whole number of milliseconds, when the headers timeout
 *   exceeds the request timeout (Node refuses it), or when the ceiling is negative.
 */
export function resolveConnectionLimits(limits: Partial<ConnectionLimits> | undefined): ConnectionLimits {
  const resolved = { ...DEFAULT_CONNECTION_LIMITS, ...limits };
  for (const name of ['headersTimeoutMilliseconds', 'requestTimeoutMilliseconds', 'keepAliveTimeoutMilliseconds', 'socketIdleTimeoutMilliseconds'] as const) {
    if (!Number.isInteger(resolved[name]) || resolved[name] <= 0) throw new Error(`connectionLimits.${name} must be a positive whole number`);
  }
  if (resolved.headersTimeoutMilliseconds > resolved.requestTimeoutMilliseconds) {
    throw new Error('connectionLimits.headersTimeoutMilliseconds must not exceed requestTimeoutMilliseconds');
  }
  if (!Number.isInteger(resolved.maxConnectionsPerAddress) || resolved.maxConnectionsPerAddress < 0) {
    throw new Error('connectionLimits.maxConnectionsPerAddress must be 0 (no ceiling) or more');
  }
  return resolved;
}
