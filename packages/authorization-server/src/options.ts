/**
 * Every setting of the authorization server, its default, and why.
 * Source: SPEC.md §2 (deployment profile) and §4 (decisions).
 */
import type { CustomFetch } from 'openid-client';
import type { Clock } from './clock.ts';
import type { LoginThrottleRules } from './endpoints/login-throttle.ts';
import type { Tracer } from '@opentelemetry/api';
import { createMetrics, type GatehouseMetrics } from './operations/metrics.ts';
import type { Storage } from './storage/storage.ts';
import type { AuditStream } from './operations/audit-stream.ts';
import { DEFAULT_LAST_USE_FLUSH_INTERVAL_MS } from './storage/last-use-recorder.ts';

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
  /**
   * SPEC decision 8: seconds after a rotation during which the same client presenting the just-rotated
   * refresh token again (a retry after a lost response) gets the same successor pair instead of the
   * grant's revocation, until the successor is used. Default 30; 0 turns it off; at most 120.
   */
  refreshTokenReuseGraceSeconds?: number;
  /** How long a login session lasts; default 8 hours. */
  loginSessionLifetimeSeconds?: number;
  /**
   * SPEC decision 18, shorthand for `loginThrottle.accountAddress`: `maxFailures` failed logins per account
   * and address before delays begin (default 5), delays growing up to `windowSeconds` (default 900 s).
   */
  loginRateLimit?: { maxFailures: number; windowSeconds: number };
  /**
   * SPEC decision 18: requests allowed in one window at `/oauth/token`, `/oauth/revoke` and
   * `/oauth/token/introspect` (http/rate-limit.ts), each endpoint counted on its own, per presented
   * client_id (counted before authentication) and per address; over either limit the request is refused
   * with 429 and `Retry-After`. Default `DEFAULT_OAUTH_ENDPOINT_RATE_LIMIT`; `false` turns it off.
   */
  oauthEndpointRateLimit?: OAuthEndpointRateLimit | false;
  /**
   * Issue 13 "Partner teams": invitations one team may send in an hour, all its owners together
   * (endpoints/portal-team.ts; a fixed window from the team's first invitation in it, counted in storage `rateLimits`
   * as the password-reset limits are). Over it the invitation form is refused (429, `Retry-After`) and nothing is
   * created or e-mailed. Each invitation may create a directory user and sends an e-mail to any address, so the limit
   * is always on: a whole number, 1..MAX_TEAM_INVITATIONS_PER_HOUR (no 0 = unlimited). Default
   * DEFAULT_TEAM_INVITATIONS_PER_HOUR (`GATEHOUSE_TEAM_INVITATIONS_PER_HOUR`).
   */
  teamInvitationsPerHour?: number;
  /** SPEC decision 18 / issue 10 §3: growing login delays per key (endpoints/login-throttle.ts); each rule given replaces its default. */
  loginThrottle?: Partial<LoginThrottleRules>;
  /** SPEC decision 17: trust `X-Forwarded-Proto`/`-For` from these proxies (Fastify `trustProxy`); default none. */
  trustProxy?: boolean | string | string[];
  /**
   * SPEC decision 13: whether newly registered clients wait as `pending` until an administrator approves
   * them (and partners' branding counts as unreviewed until then). Default: true outside development,
   * false in development (approved at once). A development deployment may set it to rehearse the
   * staging review (the portal end-to-end test does).
   */
  requireClientApproval?: boolean;
  /**
   * SPEC decision 11: how long a consent page can be answered (its interaction record lives), in seconds;
   * default 600, 1..3600.
   */
  interactionLifetimeSeconds?: number;
  /**
   * RFC 9126 §5 `require_pushed_authorization_requests`: every authorization request must come by
   * reference from /oauth/par; a request by value gets `invalid_request`. Default false (then each client's
   * own `requirePushedAuthorizationRequests` decides).
   */
  requirePushedAuthorizationRequests?: boolean;
  /**
   * RFC 9449 §8: every DPoP proof at the token endpoint must carry a nonce this server provided (`DPoP-Nonce`);
   * a proof without a current one gets `use_dpop_nonce` with a fresh nonce. Nonces are stateless (an HMAC
   * of a time window, tokens/dpop-proof.ts), so any instance accepts another's. Default false.
   */
  dpopNonceRequired?: boolean;
  /**
   * Issue 15 §5: partner webhook URLs may name, and deliveries may connect to, loopback, private and link-local
   * addresses in staging too (`GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES`; webhooks/webhook-secret.ts
   * privateWebhookTargetsAllowed). Default false: staging, like production, reaches public addresses only (no SSRF
   * into the platform's network); development always allows them. Refused (an error at start) in production.
   */
  webhookAllowPrivateAddresses?: boolean;
  /** Injectable clock for tests; default the system clock. */
  clock?: Clock;
  /**
   * Fastify logger setting; default on outside tests. Tokens and secrets are never logged, nor query
   * strings (request URLs are logged as their path). `{ destination }` sends the JSON lines there (tests).
   */
  logger?: boolean | { destination: { write(line: string): void } };
  /** Issue 11 item 4: HTTP timeouts and the per-address connection ceiling; see DEFAULT_CONNECTION_LIMITS. */
  connectionLimits?: Partial<ConnectionLimits>;
  /**
   * Issue 10 §2: sign users in through the platform's OpenID Provider (endpoints/upstream-login.ts); its
   * redirect URI is `<issuer>/login/upstream/callback`. Default null: e-mail and password only.
   */
  upstreamIdentityProvider?: UpstreamIdentityProvider | null;
  /** Issue 10 §3: local accounts (invitations, password resets, TOTP); see LocalAccountOptions. Default `{}`. */
  localAccounts?: LocalAccountOptions;
  /** Issue 14: the Prometheus metrics this server updates (operations/metrics.ts); default a fresh registry. */
  metrics?: GatehouseMetrics;
  /**
   * Issue 14: serve `GET /metrics` on this application, to administrator bearer tokens; default true.
   * False when the metrics are served on their own port (`GATEHOUSE_METRICS_PORT`, main.ts).
   */
  serveMetrics?: boolean;
  /** Issue 14: OpenTelemetry tracing (operations/tracing.ts): a span per request and per storage operation; default off (null). */
  tracer?: Tracer | null;
  /**
   * Issue 14: every audit event, once recorded, also written to this stream as a JSON line
   * (operations/audit-stream.ts; `GATEHOUSE_AUDIT_STREAM`); default none (null).
   */
  auditStream?: AuditStream | null;
  /**
   * Issue 12: milliseconds between writes of the last uses requests note (storage/last-use-recorder.ts):
   * grants' and API keys' (introspection) and login sessions' visits. How late another instance's connected
   * apps page, key lists and sessions page may show a use, and how much of it a crash may lose. A whole
   * number, 1..60000; default 1000.
   */
  lastUseFlushIntervalMs?: number;
}

/** Issue 10 §3: settings of local accounts. */
export interface LocalAccountOptions {
  /** Where password-reset e-mails go (mail/mailer.ts): `smtp://` or `smtps://`. Unset: the console in development, nothing elsewhere. */
  smtpUrl?: string;
  /** The From address of those e-mails; default `Gatehouse <no-reply@localhost>`. */
  mailFrom?: string;
  /** `administrators`: users who administer any company or organization must enrol a TOTP factor at sign-in. Default `none`. */
  requireSecondFactor?: 'none' | 'administrators';
}

/** The platform's own OpenID Provider, which Gatehouse signs users in through as a relying party (issue 10 §2). */
export interface UpstreamIdentityProvider {
  /** Its issuer identifier (OpenID Connect Discovery §4); https outside development (SPEC decision 17). */
  issuer: string;
  clientId: string;
  /** Sent with HTTP Basic (`client_secret_basic`) at its token endpoint; never logged. */
  clientSecret: string;
  /** Shown on the login page: "Sign in with <name>". */
  name: string;
  /** Space-separated; must include `openid`. Default `openid email profile`. */
  scope?: string;
  /**
   * Whether the e-mail and password form stays (default true). With false, every login step goes straight
   * to the upstream provider and POST /login refuses passwords.
   */
  localPasswords?: boolean;
  /** The `fetch` openid-client uses towards the provider (its `customFetch`); default the global fetch. For proxies and tests. */
  fetch?: CustomFetch;
}

/** Fixed-window request limits of one OAuth endpoint (SPEC decision 18). */
export interface OAuthEndpointRateLimit {
  /** Length of a window in seconds, counted from the first request in it (fixed, not sliding); ≥ 1. */
  windowSeconds: number;
  /** Requests one client_id may present in a window, authenticated or not; ≥ 1. */
  maxRequestsPerClient: number;
  /** Requests one address (an IPv6 address by its /64) may send in a window; ≥ 1. */
  maxRequestsPerAddress: number;
}

/**
 * 100 requests a second per client and 200 per address, averaged over 10 s windows. A partner refreshes
 * each connection about once per access-token lifetime (900 s), so 100/s serves some 90,000 connections
 * refreshing around the clock, with room for bursts inside a window; an address gets twice that, as
 * several clients (or a resource server introspecting) may share one egress address. Secrets, codes and
 * tokens are 256-bit, so the limits are not what stops guessing: they bound what one client or one
 * address can cost the database. Deployments with bigger integrations raise them.
 */
export const DEFAULT_OAUTH_ENDPOINT_RATE_LIMIT: OAuthEndpointRateLimit = { windowSeconds: 10, maxRequestsPerClient: 1_000, maxRequestsPerAddress: 2_000 };

/** Issue 13 "Partner teams": 20 invitations a team an hour, room to bring in a whole team at once. */
export const DEFAULT_TEAM_INVITATIONS_PER_HOUR = 20;
/** The most `teamInvitationsPerHour` may be: a bound on the e-mails and directory users one team can cause. */
export const MAX_TEAM_INVITATIONS_PER_HOUR = 1000;

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
/** SPEC decision 8: the reuse grace window is at most 120 s. */
export const MAX_REFRESH_TOKEN_REUSE_GRACE_SECONDS = 120;

export function resolveOptions(options: AuthorizationServerOptions, systemClock: Clock): ResolvedOptions {
  const resolved: ResolvedOptions = {
    authorizationCodeLifetimeSeconds: 60,
    accessTokenLifetimeSeconds: 900,
    accessTokenFormat: 'opaque',
    refreshTokenLifetimeSeconds: 60 * 24 * 60 * 60,
    refreshTokenReuseGraceSeconds: 30,
    loginSessionLifetimeSeconds: 8 * 60 * 60,
    loginRateLimit: { maxFailures: 5, windowSeconds: 15 * 60 },
    loginThrottle: {},
    oauthEndpointRateLimit: DEFAULT_OAUTH_ENDPOINT_RATE_LIMIT,
    teamInvitationsPerHour: DEFAULT_TEAM_INVITATIONS_PER_HOUR,
    trustProxy: false,
    requireClientApproval: options.environment !== 'development',
    connectionLimits: {},
    interactionLifetimeSeconds: 600,
    localAccounts: {},
    requirePushedAuthorizationRequests: false,
    dpopNonceRequired: false,
    webhookAllowPrivateAddresses: false,
    upstreamIdentityProvider: null,
    clock: systemClock,
    logger: true,
    serveMetrics: true,
    tracer: null,
    auditStream: null,
    lastUseFlushIntervalMs: DEFAULT_LAST_USE_FLUSH_INTERVAL_MS,
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
  if (resolved.webhookAllowPrivateAddresses && resolved.environment === 'production') {
    throw new Error('webhookAllowPrivateAddresses is refused in production: partner webhooks there reach public addresses only (no requests into the platform\'s network)');
  }
  if (resolved.authorizationCodeLifetimeSeconds <= 0 || resolved.authorizationCodeLifetimeSeconds > MAX_AUTHORIZATION_CODE_LIFETIME_SECONDS) {
    throw new Error(`authorizationCodeLifetimeSeconds must be 1..${MAX_AUTHORIZATION_CODE_LIFETIME_SECONDS} (SPEC decision 6)`);
  }
  if (resolved.refreshTokenLifetimeSeconds < 60 * 24 * 60 * 60) {
    throw new Error('refreshTokenLifetimeSeconds must be at least 60 days (platform token lifecycle)');
  }
  if (!Number.isInteger(resolved.interactionLifetimeSeconds) || resolved.interactionLifetimeSeconds < 1 || resolved.interactionLifetimeSeconds > 3600) {
    throw new Error('interactionLifetimeSeconds must be a whole number of seconds, 1..3600 (SPEC decision 11)');
  }
  resolved.oauthEndpointRateLimit ??= DEFAULT_OAUTH_ENDPOINT_RATE_LIMIT;
  if (resolved.oauthEndpointRateLimit !== false) {
    for (const [name, value] of Object.entries(resolved.oauthEndpointRateLimit)) {
      if (!Number.isSafeInteger(value) || value < 1) throw new Error(`oauthEndpointRateLimit.${name} must be a positive integer (SPEC decision 18)`);
    }
  }
  resolved.teamInvitationsPerHour ??= DEFAULT_TEAM_INVITATIONS_PER_HOUR;
  const invitations = resolved.teamInvitationsPerHour;
  if (!Number.isInteger(invitations) || invitations < 1 || invitations > MAX_TEAM_INVITATIONS_PER_HOUR) {
    throw new Error(`teamInvitationsPerHour must be a whole number 1..${MAX_TEAM_INVITATIONS_PER_HOUR} (there is no unlimited: each invitation may create a directory user and sends an e-mail)`);
  }
  const grace = resolved.refreshTokenReuseGraceSeconds;
  if (!Number.isInteger(grace) || grace < 0 || grace > MAX_REFRESH_TOKEN_REUSE_GRACE_SECONDS) {
    throw new Error(`refreshTokenReuseGraceSeconds must be a whole number 0..${MAX_REFRESH_TOKEN_REUSE_GRACE_SECONDS} (SPEC decision 8)`);
  }
  if (!Number.isInteger(resolved.lastUseFlushIntervalMs) || resolved.lastUseFlushIntervalMs < 1 || resolved.lastUseFlushIntervalMs > 60_000) {
    throw new Error('lastUseFlushIntervalMs must be a whole number of milliseconds, 1..60000 (issue 12)');
  }
  if (resolved.tokenHmacKey.length < 32) throw new Error('tokenHmacKey must be at least 32 bytes');
  resolved.upstreamIdentityProvider ??= null;
  if (resolved.upstreamIdentityProvider) checkUpstreamIdentityProvider(resolved.upstreamIdentityProvider, resolved.environment);
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

/**
 * @throws Error when the upstream issuer is not an absolute URL, is not https outside development (SPEC
 *   decision 17; a private CA is trusted through `NODE_EXTRA_CA_CERTS`), when the client id, secret or
 *   name is empty, or when the scope lacks `openid` (OpenID Connect Core §3.1.2.1).
 */
function checkUpstreamIdentityProvider(upstream: UpstreamIdentityProvider, environment: Environment): void {
  let issuer: URL;
  try {
    issuer = new URL(upstream.issuer);
  } catch {
    throw new Error('upstreamIdentityProvider.issuer must be an absolute URL');
  }
  if (issuer.protocol !== 'https:' && !(environment === 'development' && issuer.protocol === 'http:')) {
    throw new Error(`upstreamIdentityProvider.issuer must be https in ${environment}`);
  }
  for (const name of ['clientId', 'clientSecret', 'name'] as const) {
    if (!upstream[name]) throw new Error(`upstreamIdentityProvider.${name} is required`);
  }
  if (upstream.scope !== undefined && !upstream.scope.split(' ').includes('openid')) throw new Error('upstreamIdentityProvider.scope must include openid');
}
