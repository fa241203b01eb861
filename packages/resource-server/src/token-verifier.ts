import type { AccessTokenValidation, AccessTokenValidator, VerifiedAccessToken } from './access-token.ts';
import { BearerTokenError } from './bearer-token-error.ts';
import { extractBearerToken, rejectAccessTokenOutsideHeader } from './bearer-token.ts';
import type { RequestParameterSources } from './bearer-token.ts';
import { createIntrospectionCache, hashAccessToken } from './introspection-cache.ts';
import type { AccessTokenHash } from './introspection-cache.ts';
import { createIntrospectionValidator, defaultIntrospectionEndpoint, parseAuthorizationServerUrl } from './introspection.ts';
import type { FetchFunction } from './introspection.ts';
import { assertScopeNames, findMissingScopes, formatScope } from './scope.ts';
import { assertUrnNamespace, DEFAULT_URN_NAMESPACE } from './subject.ts';

/** Defaults of {@link IntrospectionVerifierOptions}. */
export const TOKEN_VERIFIER_DEFAULTS = {
  urnNamespace: DEFAULT_URN_NAMESPACE,
  clockSkewSeconds: 5,
  introspectionCacheTtlSeconds: 5,
  introspectionCacheMaxEntries: 10_000,
  introspectionTimeoutMilliseconds: 5_000,
} as const;

/**
 * Options of the introspection mode (RFC 7662). `mode` is the discriminant a later `local`
 * (JWT, RFC 9068) mode will extend {@link TokenVerifierOptions} with.
 */
export interface IntrospectionVerifierOptions {
  readonly mode?: 'introspection';
  /** The authorization server's issuer identifier, compared exactly with `iss` (e.g. `http://localhost:3000`). */
  readonly issuer: string;
  /** This resource server's identifier, required in `aud` (e.g. `http://localhost:3001`). */
  readonly audience: string;
  /** The resource server's own introspection credentials (SPEC decision 14). */
  readonly introspectionClientId: string;
  readonly introspectionClientSecret: string;
  /** Default `{issuer}/oauth/token/introspect` (SPEC §3). */
  readonly introspectionEndpoint?: string;
  /** Deployment URN namespace (SPEC §2); default `gatehouse`. */
  readonly urnNamespace?: string;
  /** `realm` of every challenge (RFC 6750 §3); default the audience. */
  readonly realm?: string;
  /** Tolerance when comparing `exp` with the local clock, seconds; default 5. */
  readonly clockSkewSeconds?: number;
  /**
   * How long an introspection result is reused, seconds; default 5, `0` disables the cache.
   * This is the staleness bound of SPEC decision 7: a revoked or superseded access token is
   * refused at most this long after the authorization server stopped accepting it (counted
   * from when the introspection request was sent, so a slow answer does not extend it).
   */
  readonly introspectionCacheTtlSeconds?: number;
  /** Bound on cached results (LRU eviction); default 10 000. */
  readonly introspectionCacheMaxEntries?: number;
  /** Timeout of one introspection request, milliseconds; default 5 000. */
  readonly introspectionTimeoutMilliseconds?: number;
  /** Clock, epoch milliseconds; default `Date.now`. Tests advance it instead of sleeping. */
  readonly now?: () => number;
  /** `fetch` used for introspection; default the global one. */
  readonly fetch?: FetchFunction;
}

/** Options of {@link createTokenVerifier}; a union once more modes exist. */
export type TokenVerifierOptions = IntrospectionVerifierOptions;

/** Verifies bearer access tokens of protected-resource requests. */
export interface TokenVerifier {
  /** The `realm` of this verifier's challenges. */
  readonly realm: string;
  /**
   * Verifies the `Authorization` header of a request and the scopes the resource needs.
   *
   * @param authorizationHeader raw header value, `undefined` when absent.
   * @param requiredScopes `resource:permission` names; every one must be granted. `[]` for
   *   "any valid token".
   * @returns the token's claims.
   * @throws {BearerTokenError} 401 without error code (no credentials), 400 `invalid_request`
   *   (malformed header), 401 `invalid_token` (inactive, expired, foreign), 403
   *   `insufficient_scope` (RFC 6750 §3.1).
   * @throws {IntrospectionUnavailableError} 503 when the authorization server gave no usable answer.
   * @throws {TypeError} when a required scope is not a `resource:permission` name.
   */
  verifyAccessToken(authorizationHeader: string | undefined, requiredScopes: readonly string[]): Promise<VerifiedAccessToken>;
  /**
   * Refuses a token in the query string or form body (RFC 6750 §2.2/§2.3) with this
   * verifier's realm. See {@link rejectAccessTokenOutsideHeader}.
   *
   * @throws {BearerTokenError} 400 `invalid_request`.
   */
  rejectAccessTokenOutsideHeader(sources: Omit<RequestParameterSources, 'realm'>): void;
  /** Forgets every cached result (e.g. on a revocation event pushed by the authorization server). */
  clearCache(): void;
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new TypeError(`${name} must be a non-negative number`);
  }
  return value;
}

function nonEmpty(value: string, name: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`${name} is required`);
  }
  return value;
}

/**
 * Creates a token verifier in introspection mode.
 *
 * Per request: parse the header (RFC 6750 §2.1) → look up the SHA-256 of the token in the
 * cache, else introspect (one request in flight per token) → refuse inactive or foreign
 * tokens → compare `exp` with the clock minus `clockSkewSeconds` → check scopes.
 * Results, active or not, are cached for `introspectionCacheTtlSeconds`, never beyond `exp`;
 * failures to reach the authorization server are not cached.
 *
 * @throws {TypeError} on invalid options (non-https issuer off loopback, missing credentials, …).
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const issuer = nonEmpty(options.issuer, 'issuer');
  parseAuthorizationServerUrl(issuer, 'issuer');
  const audience = nonEmpty(options.audience, 'audience');
  const urnNamespace = options.urnNamespace ?? TOKEN_VERIFIER_DEFAULTS.urnNamespace;
  assertUrnNamespace(urnNamespace);
  const realm = options.realm ?? audience;
  const now = options.now ?? Date.now;
  const clockSkewSeconds = nonNegative(options.clockSkewSeconds ?? TOKEN_VERIFIER_DEFAULTS.clockSkewSeconds, 'clockSkewSeconds');

  const validator: AccessTokenValidator = createIntrospectionValidator({
    issuer,
    audience,
    urnNamespace,
    introspectionEndpoint: options.introspectionEndpoint ?? defaultIntrospectionEndpoint(issuer),
    introspectionClientId: nonEmpty(options.introspectionClientId, 'introspectionClientId'),
    introspectionClientSecret: nonEmpty(options.introspectionClientSecret, 'introspectionClientSecret'),
    introspectionTimeoutMilliseconds: nonNegative(
      options.introspectionTimeoutMilliseconds ?? TOKEN_VERIFIER_DEFAULTS.introspectionTimeoutMilliseconds,
      'introspectionTimeoutMilliseconds',
    ),
    fetch: options.fetch,
  });
  const cacheTtlSeconds = nonNegative(
    options.introspectionCacheTtlSeconds ?? TOKEN_VERIFIER_DEFAULTS.introspectionCacheTtlSeconds,
    'introspectionCacheTtlSeconds',
  );
  const cache = createIntrospectionCache<AccessTokenValidation>({
    maxEntries: options.introspectionCacheMaxEntries ?? TOKEN_VERIFIER_DEFAULTS.introspectionCacheMaxEntries,
    ttlSeconds: cacheTtlSeconds,
    now,
  });
  // Concurrent requests with the same token share one introspection request.
  const inFlight = new Map<AccessTokenHash, Promise<AccessTokenValidation>>();

  function validate(accessToken: string): Promise<AccessTokenValidation> {
    const tokenHash = hashAccessToken(accessToken);
    const cached = cache.get(tokenHash);
    if (cached !== undefined) {
      return Promise.resolve(cached);
    }
    const pending = inFlight.get(tokenHash);
    if (pending !== undefined) {
      return pending;
    }
    // The answer reflects the authorization server's state no earlier than the moment the
    // request left, so the TTL counts from then: a revocation during a slow introspection
    // still takes effect within introspectionCacheTtlSeconds.
    const sentAtMs = now();
    const request = validator
      .validate(accessToken)
      .then((validation) => {
        // Never cache past the token's own exp (the TTL bounds staleness, exp bounds validity).
        const expiresAtMs = validation.active ? validation.accessToken.expiresAt * 1000 : Number.POSITIVE_INFINITY;
        cache.set(tokenHash, validation, Math.min(sentAtMs + cacheTtlSeconds * 1000, expiresAtMs));
        return validation;
      })
      .finally(() => inFlight.delete(tokenHash));
    inFlight.set(tokenHash, request);
    return request;
  }

  return {
    realm,
    async verifyAccessToken(authorizationHeader, requiredScopes) {
      assertScopeNames(requiredScopes);
      const accessToken = extractBearerToken(authorizationHeader, realm);
      const validation = await validate(accessToken);
      if (!validation.active) {
        throw BearerTokenError.invalidToken(realm, validation.reason);
      }
      const token = validation.accessToken;
      // RFC 7662 §2.2 exp, RFC 7519 §4.1.4: not accepted on or after exp (plus the skew).
      if (now() / 1000 >= token.expiresAt + clockSkewSeconds) {
        throw BearerTokenError.invalidToken(realm, 'The access token expired');
      }
      // RFC 6750 §3.1 insufficient_scope: every required scope must be granted.
      const missing = findMissingScopes(token.scope, requiredScopes);
      if (missing.length > 0) {
        throw BearerTokenError.insufficientScope(
          realm,
          requiredScopes,
          `The access token lacks the scope ${formatScope(missing)} that this resource requires`,
        );
      }
      return token;
    },
    rejectAccessTokenOutsideHeader(sources) {
      rejectAccessTokenOutsideHeader({ ...sources, realm });
    },
    clearCache() {
      cache.clear();
    },
  };
}
