/**
 * Every setting of the authorization server, its default, and why.
 * Source: SPEC.md §2 (deployment profile) and §4 (decisions).
 */
import type { Clock } from './clock.ts';
import type { LoginThrottleRules } from './endpoints/login-throttle.ts';
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
  /**
   * SPEC decision 18, shorthand for `loginThrottle.accountAddress`: `maxFailures` failed logins per account
   * and address before delays begin (default 5), delays growing up to `windowSeconds` (default 900 s).
   */
  loginRateLimit?: { maxFailures: number; windowSeconds: number };
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
  /** Injectable clock for tests; default the system clock. */
  clock?: Clock;
  /** Fastify logger setting; default on outside tests. Tokens and secrets are never logged. */
  logger?: boolean;
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
    loginRateLimit: { maxFailures: 5, windowSeconds: 15 * 60 },
    loginThrottle: {},
    trustProxy: false,
    requireClientApproval: options.environment !== 'development',
    clock: systemClock,
    logger: true,
    ...options,
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
