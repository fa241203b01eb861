import type { AccessTokenValidation, AccessTokenValidator, VerifiedAccessToken } from './access-token.ts';
import { BearerTokenError } from './bearer-token-error.ts';
import { type AccessTokenHash, createAccessTokenCache, hashAccessToken } from './access-token-cache.ts';
import { bearerTokenCandidate, extractBearerToken, rejectAccessTokenOutsideHeader } from './bearer-token.ts';
import type { AuthorizationHeader, RequestParameterSources } from './bearer-token.ts';
import { createIntrospectionValidator, defaultIntrospectionEndpoint, parseAuthorizationServerUrl } from './introspection.ts';
import type { FetchFunction } from './introspection.ts';
import { assertScopeNames, findMissingScopes, formatScope } from './scope.ts';
import { defaultJwksUri } from './jwks.ts';
import { createLocalValidator } from './local-verifier.ts';
import { defaultRevocationFeedEndpoint } from './revocation-feed.ts';
import { assertUrnNamespace, DEFAULT_URN_NAMESPACE } from './subject.ts';
import { scheduleUnrefTimer } from './timer.ts';
import type { ScheduleTimer } from './timer.ts';
import { checkDpopProof, createDpopReplayCache, DpopTokenError, extractDpopToken, usesDpopScheme } from './dpop.ts';

/** Defaults of {@link TokenVerifierOptions}. */
export const TOKEN_VERIFIER_DEFAULTS = {
  urnNamespace: DEFAULT_URN_NAMESPACE,
  clockSkewSeconds: 5,
  introspectionCacheTtlSeconds: 5,
  introspectionCacheMaxEntries: 10_000,
  introspectionTimeoutMilliseconds: 5_000,
  revocationPollIntervalSeconds: 2,
  maxRevocationStalenessSeconds: 5,
  revocationPollTimeoutMilliseconds: 2_000,
  maxAccessTokenLifetimeSeconds: 900,
  jwksCooldownSeconds: 30,
  jwksCacheMaxAgeSeconds: 600,
  jwksTimeoutMilliseconds: 5_000,
  localVerificationCacheMaxEntries: 10_000,
  dpopProofWindowSeconds: 60,
  dpopReplayCacheMaxEntries: 100_000,
} as const;

/** What both validation modes need. */
interface CommonVerifierOptions {
  /** The authorization server's issuer identifier, compared exactly with `iss` (e.g. `http://localhost:3000`). */
  readonly issuer: string;
  /** This resource server's identifier, required in `aud` (e.g. `http://localhost:3001`). */
  readonly audience: string;
  /**
   * The resource server's own credentials at the authorization server (SPEC decision 14), sent as
   * `client_secret_basic`: to introspect (introspection mode) or to read the revocation feed (local mode).
   */
  readonly introspectionClientId: string;
  readonly introspectionClientSecret: string;
  /** Deployment URN namespace (SPEC §2); default `gatehouse`. */
  readonly urnNamespace?: string;
  /** `realm` of every challenge (RFC 6750 §3); default the audience. */
  readonly realm?: string;
  /** Tolerance when comparing `exp` with the local clock, seconds; default 5. */
  readonly clockSkewSeconds?: number;
  /** Clock, epoch milliseconds; default `Date.now`. Tests advance it instead of sleeping. */
  readonly now?: () => number;
  /** `fetch` used for every request to the authorization server; default the global one. */
  readonly fetch?: FetchFunction;
  /**
   * RFC 9449 §7: the origin clients address this resource server at (e.g. `https://api.example.com`), for
   * the `htu` of DPoP proofs when a request names only its path; default the audience's origin.
   */
  readonly publicOrigin?: string;
  /** RFC 9449 §4.3 item 11: seconds either side of a DPoP proof's `iat` it is accepted; default 60. */
  readonly dpopProofWindowSeconds?: number;
  /** RFC 9449 §11.1: accepted proofs remembered in memory (dpop.ts: per instance); default 100 000. */
  readonly dpopReplayCacheMaxEntries?: number;
}

/** A protected-resource request as {@link TokenVerifier.verifyProtectedResourceRequest} needs it. */
export interface ProtectedResourceRequest {
  /** Every `Authorization` value (two are refused), or `undefined`. */
  readonly authorization: AuthorizationHeader;
  /** The `DPoP` header value(s) (RFC 9449 §4.1), or `undefined`. */
  readonly dpop: string | readonly string[] | undefined;
  /** The HTTP method, e.g. `GET`. */
  readonly method: string;
  /** The request target: an absolute URI, or a path (with query) resolved against `publicOrigin`. */
  readonly url: string;
}

/**
 * Introspection mode (the default, RFC 7662): each token is sent to the authorization server, and
 * the answer is cached for `introspectionCacheTtlSeconds`, the staleness bound (SPEC decision 7).
 * Works with opaque and JWT access tokens alike.
 */
export interface IntrospectionVerifierOptions extends CommonVerifierOptions {
  readonly mode?: 'introspection';
  /** Default `{issuer}/oauth/token/introspect` (SPEC §3). */
  readonly introspectionEndpoint?: string;
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
}

/**
 * Local mode (RFC 9068 JWT access tokens, the authorization server's `accessTokenFormat: 'jwt'`):
 * signatures are verified against the published keys, and revocations are learnt from the
 * authorization server's revocation feed, polled in the background. The staleness bound is
 * `maxRevocationStalenessSeconds` (default 5): past it without a successful poll, every token is
 * refused with 503 (fail closed).
 */
export interface LocalVerifierOptions extends CommonVerifierOptions {
  readonly mode: 'local';
  /** Default `{issuer}/.well-known/jwks.json`. */
  readonly jwksUri?: string;
  /** An unknown `kid` refetches the JWKS at most once per this many seconds; default 30. */
  readonly jwksCooldownSeconds?: number;
  /** Keys are refetched when older than this, seconds; default 600. */
  readonly jwksCacheMaxAgeSeconds?: number;
  /** Timeout of one JWKS request, milliseconds; default 5 000. */
  readonly jwksTimeoutMilliseconds?: number;
  /** Default `{issuer}/oauth/revoked-access-tokens`. */
  readonly revocationFeedEndpoint?: string;
  /** Time between the starts of two feed polls, seconds; default 2. Must be below `maxRevocationStalenessSeconds`. */
  readonly revocationPollIntervalSeconds?: number;
  /**
   * The staleness bound of SPEC decision 7 in local mode, seconds; default 5. A revoked or superseded
   * token is refused at most this long after the authorization server revoked it: normally within one
   * poll interval, and when the feed does not answer, every token is refused (503) once the last
   * successful poll is older than this.
   */
  readonly maxRevocationStalenessSeconds?: number;
  /** Timeout of one feed request, milliseconds; default 2 000. */
  readonly revocationPollTimeoutMilliseconds?: number;
  /**
   * The longest access-token lifetime the authorization server issues, seconds; default 900 (SPEC
   * decision 7). The start-up catch-up reads revocations this far back; a token with a longer
   * lifetime (`exp - iat`) is refused.
   */
  readonly maxAccessTokenLifetimeSeconds?: number;
  /** Bound on cached signature verifications (LRU eviction); default 10 000. */
  readonly localVerificationCacheMaxEntries?: number;
  /** Schedules the feed's polls; default unref'd `setTimeout`. Tests inject a manual clock's. */
  readonly scheduleTimer?: ScheduleTimer;
}

/** Options of {@link createTokenVerifier}: `mode` selects the validation mode. */
export type TokenVerifierOptions = IntrospectionVerifierOptions | LocalVerifierOptions;

/** Verifies bearer access tokens of protected-resource requests. */
export interface TokenVerifier {
  /** The validation mode. */
  readonly mode: 'introspection' | 'local';
  /** The `realm` of this verifier's challenges. */
  readonly realm: string;
  /**
   * Verifies the `Authorization` header of a request and the scopes the resource needs.
   *
   * @param authorizationHeader raw header value, every value (`authorizationHeaderValues(rawHeaders)`:
   *   two headers are refused), or `undefined` when absent.
   * @param requiredScopes `resource:permission` names; every one must be granted. `[]` for
   *   "any valid token".
   * @returns the token's claims.
   * @throws {BearerTokenError} 401 without error code (no credentials), 400 `invalid_request`
   *   (malformed header, more than one `Authorization` header), 401 `invalid_token` (inactive,
   *   expired, revoked, foreign, badly signed: always the same description, the cause in `reason`),
   *   403 `insufficient_scope` (RFC 6750 §3.1).
   * @throws {IntrospectionUnavailableError} 503 when the authorization server gave no usable answer
   *   (introspection failed; JWKS unavailable; revocation feed stale).
   * @throws {TypeError} when a required scope is not a `resource:permission` name.
   */
  verifyAccessToken(authorizationHeader: AuthorizationHeader, requiredScopes: readonly string[]): Promise<VerifiedAccessToken>;
  /**
   * Verifies a request with a Bearer token (as {@link verifyAccessToken}) or a DPoP-bound one (RFC 9449 §7):
   * `Authorization: DPoP <token>` plus a `DPoP` proof for this method and URI, made with the token's key.
   * A DPoP-bound token sent as Bearer is refused in both (§7.1).
   *
   * @throws {DpopTokenError} with `WWW-Authenticate: DPoP`: 400 `invalid_request`, 401 `invalid_token` or
   *   `invalid_dpop_proof`, 403 `insufficient_scope`. Otherwise as {@link verifyAccessToken}.
   */
  verifyProtectedResourceRequest(request: ProtectedResourceRequest, requiredScopes: readonly string[]): Promise<VerifiedAccessToken>;
  /**
   * Refuses a token in the query string or form body (RFC 6750 §2.2/§2.3) with this
   * verifier's realm. See {@link rejectAccessTokenOutsideHeader}.
   *
   * @throws {BearerTokenError} 400 `invalid_request`.
   */
  rejectAccessTokenOutsideHeader(sources: Omit<RequestParameterSources, 'realm'>): void;
  /**
   * Forgets every cached result: introspection answers, or local mode's signature verifications
   * (never the revocations it knows of).
   */
  clearCache(): void;
  /**
   * Resolves when the verifier can accept tokens: at once in introspection mode; in local mode once
   * the revocation feed's start-up catch-up succeeded (it keeps retrying; race it with a timeout).
   * Rejects if the verifier is closed first.
   */
  ready(): Promise<void>;
  /** Stops background work (local mode's feed polling). Idempotent; verification after it is unsupported. */
  close(): void;
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
 * Creates a token verifier. `mode: 'introspection'` (the default) or `mode: 'local'`; see
 * {@link IntrospectionVerifierOptions} and {@link LocalVerifierOptions} for the trade-off.
 *
 * Per request, both modes: parse the header (RFC 6750 §2.1) → the mode's validation → compare
 * `exp` with the clock minus `clockSkewSeconds` → check scopes.
 * - introspection: look the token's digest up in the cache (access-token-cache.ts), else introspect (one
 *   request in flight per token); results, active or not, are cached for `introspectionCacheTtlSeconds`, never
 *   beyond `exp`; failures to reach the authorization server are not cached.
 * - local: verify the ES256 signature and claims (cached per token until `exp`), then look the `jti`
 *   up in the revocation feed. Creating a local verifier starts the feed's polling (catch-up at once,
 *   then every `revocationPollIntervalSeconds`) and a JWKS fetch; {@link TokenVerifier.close} stops it.
 *
 * @throws {TypeError} on invalid options (non-https issuer off loopback, missing credentials,
 *   poll interval not below the staleness bound, …).
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
  const clientId = nonEmpty(options.introspectionClientId, 'introspectionClientId');
  const clientSecret = nonEmpty(options.introspectionClientSecret, 'introspectionClientSecret');

  const requestedMode: unknown = options.mode;
  if (requestedMode !== undefined && requestedMode !== 'introspection' && requestedMode !== 'local') {
    throw new TypeError(`mode must be 'introspection' or 'local', not ${JSON.stringify(requestedMode)}`);
  }
  const common: ResolvedCommonOptions = { issuer, audience, urnNamespace, now, clockSkewSeconds, clientId, clientSecret };
  const mode = options.mode === 'local' ? createLocalMode(options, common) : createIntrospectionMode(options, common);
  // RFC 9449 §7: DPoP proofs at this resource server.
  const dpopProofWindowSeconds = nonNegative(options.dpopProofWindowSeconds ?? TOKEN_VERIFIER_DEFAULTS.dpopProofWindowSeconds, 'dpopProofWindowSeconds');
  const dpopReplayCache = createDpopReplayCache(options.dpopReplayCacheMaxEntries ?? TOKEN_VERIFIER_DEFAULTS.dpopReplayCacheMaxEntries);
  const publicOrigin = options.publicOrigin ?? (URL.canParse(audience) ? new URL(audience).origin : undefined);

  /** The checks after validation of a Bearer token: the same whether the outcome was cached or not. */
  function acceptBearerToken(validation: AccessTokenValidation, nowMs: number, requiredScopes: readonly string[]): VerifiedAccessToken {
    // No oracle: every invalid_token carries one fixed description; the cause goes to `reason` only.
    if (!validation.active) {
      throw BearerTokenError.invalidToken(realm, validation.reason);
    }
    const token = validation.accessToken;
    // RFC 9449 §7.1: a DPoP-bound token is not a bearer token; without its proof it is refused.
    if (token.dpopJkt !== undefined) {
      throw DpopTokenError.invalidToken('A DPoP-bound access token was sent as a Bearer token');
    }
    // RFC 7662 §2.2 exp, RFC 7519 §4.1.4: not accepted on or after exp (plus the skew).
    if (nowMs / 1000 >= token.expiresAt + clockSkewSeconds) {
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
  }

  const verifier: TokenVerifier = {
    mode: mode.name,
    realm,
    async verifyAccessToken(authorizationHeader, requiredScopes) {
      assertScopeNames(requiredScopes);
      // The hot path (issue 12): a cached token is decided synchronously, without extracting it with the
      // b64token pattern (bearerTokenCandidate: the caches hold only tokens extractBearerToken returned).
      let nowMs = now();
      const candidate = bearerTokenCandidate(authorizationHeader);
      const candidateHash = candidate === undefined ? undefined : hashAccessToken(candidate);
      let validation = candidateHash === undefined ? undefined : mode.validateCached(candidateHash, nowMs);
      if (validation === undefined) {
        const accessToken = extractBearerToken(authorizationHeader, realm);
        // Both come from this request's header: comparing them is not comparing a secret with another's.
        validation = await mode.validate(accessToken, accessToken === candidate ? candidateHash! : hashAccessToken(accessToken));
        nowMs = now();
      }
      return acceptBearerToken(validation, nowMs, requiredScopes);
    },
    async verifyProtectedResourceRequest(request, requiredScopes) {
      if (!usesDpopScheme(request.authorization)) {
        return verifier.verifyAccessToken(request.authorization, requiredScopes);
      }
      assertScopeNames(requiredScopes);
      const accessToken = extractDpopToken(request.authorization);
      const tokenHash = hashAccessToken(accessToken);
      const validation = mode.validateCached(tokenHash, now()) ?? (await mode.validate(accessToken, tokenHash));
      if (!validation.active) {
        throw DpopTokenError.invalidToken(validation.reason);
      }
      const token = validation.accessToken;
      // RFC 9449 §7.1: the DPoP scheme carries only tokens bound to a key.
      if (token.dpopJkt === undefined) {
        throw DpopTokenError.invalidToken('A Bearer access token was sent with the DPoP scheme');
      }
      if (publicOrigin === undefined && !URL.canParse(request.url)) {
        throw new TypeError('publicOrigin is required to check DPoP proofs of requests given by path');
      }
      const uri = publicOrigin === undefined ? request.url : new URL(pathOf(request.url), publicOrigin).href;
      await checkDpopProof(
        { proof: request.dpop, method: request.method, uri, accessToken, jkt: token.dpopJkt },
        { nowMs: now(), windowSeconds: dpopProofWindowSeconds, replayCache: dpopReplayCache },
      );
      // RFC 7662 §2.2 exp, RFC 7519 §4.1.4: not accepted on or after exp (plus the skew).
      if (now() / 1000 >= token.expiresAt + clockSkewSeconds) {
        throw DpopTokenError.invalidToken('The access token expired');
      }
      // RFC 6750 §3.1 insufficient_scope, in the DPoP challenge (RFC 9449 §7.1).
      const missing = findMissingScopes(token.scope, requiredScopes);
      if (missing.length > 0) {
        throw new DpopTokenError('insufficient_scope', `The access token lacks the scope ${formatScope(missing)} that this resource requires`, { requiredScopes });
      }
      return token;
    },
    rejectAccessTokenOutsideHeader(sources) {
      rejectAccessTokenOutsideHeader({ ...sources, realm });
    },
    clearCache() {
      mode.clearCache();
    },
    ready() {
      return mode.ready();
    },
    close() {
      mode.close();
    },
  };
  // verifyAccessToken without its promise, for a token the caches decide (see cachedBearerVerification).
  cachedBearerVerifications.set(verifier, (authorizationHeader, requiredScopes) => {
    assertScopeNames(requiredScopes);
    const nowMs = now();
    const candidate = bearerTokenCandidate(authorizationHeader);
    const validation = candidate === undefined ? undefined : mode.validateCached(hashAccessToken(candidate), nowMs);
    if (validation === undefined) return undefined;
    return acceptBearerToken(validation, nowMs, requiredScopes);
  });
  return verifier;
}

/**
 * {@link TokenVerifier.verifyAccessToken} for one `Authorization` value, synchronously: the token when
 * the caches decide it (a refusal they decide is thrown, as `verifyAccessToken` would reject with it),
 * `undefined` when it needs `verifyAccessToken` (not a Bearer candidate, not cached, or I/O).
 */
export type CachedBearerVerification = (authorizationHeader: string, requiredScopes: readonly string[]) => VerifiedAccessToken | undefined;

/** The synchronous hot path of each verifier {@link createTokenVerifier} made (others, e.g. substitutes, have none). */
const cachedBearerVerifications = new WeakMap<TokenVerifier, CachedBearerVerification>();

/**
 * The synchronous hot path of a verifier made by {@link createTokenVerifier}, or `undefined` for any other
 * `TokenVerifier`. For the credential verifier (issue 12): a cached request costs no promise of its own.
 */
export function cachedBearerVerification(verifier: TokenVerifier): CachedBearerVerification | undefined {
  return cachedBearerVerifications.get(verifier);
}

/** Settings both modes share, validated. */
interface ResolvedCommonOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly urnNamespace: string;
  readonly now: () => number;
  readonly clockSkewSeconds: number;
  readonly clientId: string;
  readonly clientSecret: string;
}

/** One validation mode behind {@link TokenVerifier}. */
interface ValidationMode {
  readonly name: TokenVerifier['mode'];
  /**
   * The outcome when it is known without I/O (a cached result), else `undefined`, for the digest
   * ({@link hashAccessToken}) of a token validated before or of a candidate a hit proves well-formed
   * (bearerTokenCandidate).
   */
  validateCached(tokenHash: AccessTokenHash, nowMs: number): AccessTokenValidation | undefined;
  /**
   * Only ever given tokens `extractBearerToken` returned (the caches rely on it), with their digest: a
   * request that missed the cache hashes its token once.
   */
  validate(accessToken: string, tokenHash: AccessTokenHash): Promise<AccessTokenValidation>;
  clearCache(): void;
  ready(): Promise<void>;
  close(): void;
}

function createIntrospectionMode(options: IntrospectionVerifierOptions, common: ResolvedCommonOptions): ValidationMode {
  const { now } = common;
  const validator: AccessTokenValidator = createIntrospectionValidator({
    issuer: common.issuer,
    audience: common.audience,
    urnNamespace: common.urnNamespace,
    introspectionEndpoint: options.introspectionEndpoint ?? defaultIntrospectionEndpoint(common.issuer),
    introspectionClientId: common.clientId,
    introspectionClientSecret: common.clientSecret,
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
  const cache = createAccessTokenCache<AccessTokenValidation>({
    maxEntries: options.introspectionCacheMaxEntries ?? TOKEN_VERIFIER_DEFAULTS.introspectionCacheMaxEntries,
    ttlSeconds: cacheTtlSeconds,
    now,
  });
  // Concurrent requests with the same token share one introspection request.
  const inFlight = new Map<AccessTokenHash, Promise<AccessTokenValidation>>();

  function validate(accessToken: string, tokenHash: AccessTokenHash): Promise<AccessTokenValidation> {
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
    name: 'introspection',
    validateCached: (tokenHash, nowMs) => cache.get(tokenHash, nowMs),
    validate,
    clearCache: () => cache.clear(),
    ready: () => Promise.resolve(),
    close: () => undefined,
  };
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`${name} must be a positive integer`);
  }
  return value;
}

function createLocalMode(options: LocalVerifierOptions, common: ResolvedCommonOptions): ValidationMode {
  const defaults = TOKEN_VERIFIER_DEFAULTS;
  const revocationPollIntervalSeconds = nonNegative(options.revocationPollIntervalSeconds ?? defaults.revocationPollIntervalSeconds, 'revocationPollIntervalSeconds');
  const maxRevocationStalenessSeconds = nonNegative(options.maxRevocationStalenessSeconds ?? defaults.maxRevocationStalenessSeconds, 'maxRevocationStalenessSeconds');
  // With the interval at or above the bound, every gap between two polls would refuse all tokens.
  if (revocationPollIntervalSeconds <= 0 || revocationPollIntervalSeconds >= maxRevocationStalenessSeconds) {
    throw new TypeError('revocationPollIntervalSeconds must be positive and below maxRevocationStalenessSeconds');
  }
  const jwksUri = options.jwksUri ?? defaultJwksUri(common.issuer);
  parseAuthorizationServerUrl(jwksUri, 'jwksUri');
  const revocationFeedEndpoint = options.revocationFeedEndpoint ?? defaultRevocationFeedEndpoint(common.issuer);
  parseAuthorizationServerUrl(revocationFeedEndpoint, 'revocationFeedEndpoint');

  const validator = createLocalValidator({
    issuer: common.issuer,
    audience: common.audience,
    urnNamespace: common.urnNamespace,
    clockSkewSeconds: common.clockSkewSeconds,
    maxAccessTokenLifetimeSeconds: positiveInteger(options.maxAccessTokenLifetimeSeconds ?? defaults.maxAccessTokenLifetimeSeconds, 'maxAccessTokenLifetimeSeconds'),
    jwksUri,
    jwksCooldownSeconds: nonNegative(options.jwksCooldownSeconds ?? defaults.jwksCooldownSeconds, 'jwksCooldownSeconds'),
    jwksCacheMaxAgeSeconds: nonNegative(options.jwksCacheMaxAgeSeconds ?? defaults.jwksCacheMaxAgeSeconds, 'jwksCacheMaxAgeSeconds'),
    jwksTimeoutMilliseconds: positiveInteger(options.jwksTimeoutMilliseconds ?? defaults.jwksTimeoutMilliseconds, 'jwksTimeoutMilliseconds'),
    revocationFeedEndpoint,
    revocationFeedClientId: common.clientId,
    revocationFeedClientSecret: common.clientSecret,
    revocationPollIntervalSeconds,
    maxRevocationStalenessSeconds,
    revocationPollTimeoutMilliseconds: positiveInteger(
      options.revocationPollTimeoutMilliseconds ?? defaults.revocationPollTimeoutMilliseconds,
      'revocationPollTimeoutMilliseconds',
    ),
    verificationCacheMaxEntries: positiveInteger(
      options.localVerificationCacheMaxEntries ?? defaults.localVerificationCacheMaxEntries,
      'localVerificationCacheMaxEntries',
    ),
    now: common.now,
    fetch: options.fetch,
    scheduleTimer: options.scheduleTimer ?? scheduleUnrefTimer,
  });
  validator.start();
  return {
    name: 'local',
    validateCached: (tokenHash, nowMs) => validator.validateCached(tokenHash, nowMs),
    validate: (accessToken, tokenHash) => validator.validate(accessToken, tokenHash),
    clearCache: () => validator.clearCache(),
    ready: () => validator.ready(),
    close: () => validator.close(),
  };
}

/** The path and query of an absolute URI or of a request target that is already a path. */
function pathOf(url: string): string {
  if (!URL.canParse(url)) return url.startsWith('/') ? url : `/${url}`;
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
}
