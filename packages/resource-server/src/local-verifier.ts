import { errors, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import type { AccessTokenValidation, AccessTokenValidator, VerifiedAccessToken } from './access-token.ts';
import { confirmationJkt } from './introspection-response.ts';
import { type AccessTokenHash, createAccessTokenCache, hashAccessToken } from './access-token-cache.ts';
import type { FetchFunction } from './introspection.ts';
import { IntrospectionUnavailableError } from './introspection-unavailable-error.ts';
import { createJwksKeySet, JwksUnavailableError } from './jwks.ts';
import type { JwksKeySet } from './jwks.ts';
import { createRevocationFeed } from './revocation-feed.ts';
import type { RevocationFeed } from './revocation-feed.ts';
import { parseSubjectUrn, splitScope, subjectUrnMemberName } from '@gatehouse/protocol';
import type { ScheduleTimer } from './timer.ts';

/** The only signing algorithm accepted: Gatehouse signs access tokens with ES256 (RFC 7518 §3.4). */
export const ACCESS_TOKEN_SIGNING_ALGORITHMS = ['ES256'] as const;

/** RFC 9068 §2.1: the `typ` header of a JWT access token (jose also accepts `application/at+jwt`). */
export const ACCESS_TOKEN_JWT_TYPE = 'at+jwt';

/** RFC 9068 §2.2: claims every JWT access token carries. `client_id` is checked as a string below. */
const REQUIRED_CLAIMS = ['iss', 'aud', 'exp', 'iat', 'jti', 'sub', 'client_id'];

export interface LocalValidatorOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly urnNamespace: string;
  readonly clockSkewSeconds: number;
  readonly maxAccessTokenLifetimeSeconds: number;
  readonly jwksUri: string;
  readonly jwksCooldownSeconds: number;
  readonly jwksCacheMaxAgeSeconds: number;
  readonly jwksTimeoutMilliseconds: number;
  readonly revocationFeedEndpoint: string;
  readonly revocationFeedClientId: string;
  readonly revocationFeedClientSecret: string;
  readonly revocationPollIntervalSeconds: number;
  readonly maxRevocationStalenessSeconds: number;
  readonly revocationPollTimeoutMilliseconds: number;
  readonly verificationCacheMaxEntries: number;
  readonly now: () => number;
  readonly fetch: FetchFunction | undefined;
  readonly scheduleTimer: ScheduleTimer;
}

/** Local mode's validator, with the lifecycle of its background polling. */
export interface LocalValidator extends AccessTokenValidator {
  /** Starts the revocation feed (catch-up poll at once) and fetches the JWKS. */
  start(): void;
  /** Resolves once the revocation feed has caught up. */
  ready(): Promise<void>;
  /** Stops polling. */
  close(): void;
  /** Forgets cached signature verifications. */
  clearCache(): void;
  /**
   * The outcome for a token whose signature verification is cached, decided without I/O (the hot
   * path: no promise), or `undefined` when `validate` must run (not cached, or the feed has not
   * caught up yet).
   *
   * @param tokenHash the token's digest ({@link hashAccessToken}): the caller's, so a miss does not hash twice.
   * @param nowMs the current time, epoch milliseconds.
   * @throws {IntrospectionUnavailableError} 503 when the revocation feed is stale.
   */
  validateCached(tokenHash: AccessTokenHash, nowMs: number): AccessTokenValidation | undefined;
  /** {@link AccessTokenValidator.validate}; `tokenHash` when the caller has it already. */
  validate(accessToken: string, tokenHash?: AccessTokenHash): Promise<AccessTokenValidation>;
  readonly revocationFeed: RevocationFeed;
  readonly keySet: JwksKeySet;
}

type ActiveValidation = Extract<AccessTokenValidation, { readonly active: true }>;

function inactive(reason: string): AccessTokenValidation {
  return { active: false, reason };
}

/** Maps a jose verification failure to the `error_description` of an `invalid_token` refusal. */
function describeVerificationFailure(error: unknown): string | undefined {
  if (error instanceof errors.JWTExpired) {
    return 'The access token expired';
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return 'The access token was issued by another authorization server';
    if (error.claim === 'aud') return 'The access token was not issued for this resource server';
    if (error.claim === 'typ') return 'The token is not a JWT access token (typ must be at+jwt, RFC 9068 section 2.1)';
    if (error.reason === 'missing') return `The access token has no ${error.claim} claim`;
    return `The access token's ${error.claim} claim is not acceptable`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return 'The access token is not signed with ES256';
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return 'The access token signature is not valid';
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return 'The access token is signed with a key the authorization server does not publish';
  }
  if (error instanceof errors.JWKSMultipleMatchingKeys) {
    return 'The access token names no key id (kid) and several keys match';
  }
  if (error instanceof errors.JOSEError) {
    // JWSInvalid, JWTInvalid, JOSENotSupported…: not a well-formed signed JWT (an opaque token lands here).
    return 'The access token is not a well-formed signed JWT';
  }
  return undefined;
}

/**
 * Maps verified RFC 9068 claims to a {@link VerifiedAccessToken}. Signature, `typ`, `alg`, `iss`,
 * `aud` and `exp` were checked by jose; this checks what jose does not know about: `client_id`, the
 * subject URN member (SPEC §2), and that the token's lifetime fits `maxAccessTokenLifetimeSeconds`
 * (the revocation feed's catch-up window assumes no token lives longer).
 */
export function readJwtAccessTokenClaims(
  payload: JWTPayload,
  expectations: { readonly urnNamespace: string; readonly maxAccessTokenLifetimeSeconds: number; readonly clockSkewSeconds: number; readonly nowSeconds: number },
): AccessTokenValidation {
  const clientId = payload['client_id'];
  if (typeof clientId !== 'string' || clientId === '') {
    return inactive('The access token names no client');
  }
  const { exp, iat, jti, sub } = payload;
  if (typeof exp !== 'number' || typeof iat !== 'number' || typeof jti !== 'string' || jti === '' || typeof sub !== 'string') {
    return inactive('The access token lacks a claim RFC 9068 requires');
  }
  if (iat > expectations.nowSeconds + expectations.clockSkewSeconds) {
    return inactive('The access token was issued in the future');
  }
  if (exp - iat > expectations.maxAccessTokenLifetimeSeconds) {
    return inactive('The access token lives longer than this resource server accepts');
  }
  const subjectUrn = payload[subjectUrnMemberName(expectations.urnNamespace)];
  const subject = typeof subjectUrn === 'string' ? parseSubjectUrn(expectations.urnNamespace, subjectUrn) : undefined;
  if (subject === undefined || typeof subjectUrn !== 'string') {
    return inactive('The access token has no company or organization subject');
  }
  const clientName = payload['client_name'];
  const scope = payload['scope'];
  // RFC 9449 §6.1: a bound token carries cnf.jkt.
  const dpopJkt = confirmationJkt(payload['cnf']);
  return {
    active: true,
    accessToken: {
      clientId,
      clientName: typeof clientName === 'string' && clientName !== '' ? clientName : undefined,
      scope: splitScope(typeof scope === 'string' ? scope : undefined),
      subjectType: subject.subjectType,
      subjectId: subject.subjectId,
      subjectUrn,
      userId: sub === '' ? undefined : sub,
      expiresAt: exp,
      issuedAt: iat,
      tokenId: jti,
      ...(dpopJkt === undefined ? {} : { dpopJkt }),
    },
  };
}

/**
 * Local mode (RFC 9068 JWT access tokens): verifies the signature against the authorization
 * server's published keys and checks revocation against the revocation feed, with no request per
 * token.
 *
 * Per request: a cached verification, keyed by the token's digest (signature and claims are immutable, so a
 * result is reused until the token's `exp`; see access-token-cache.ts), else `jwtVerify` (ES256 only, `typ` `at+jwt`,
 * exact `iss`, `aud`, `exp` with the skew) → `exp` against the clock → the revocation feed (which
 * throws 503 when stale). The verification cache is dropped whenever the JWKS is refetched, so a key
 * withdrawn from the set stops verifying at the next fetch (at most `jwksCacheMaxAgeSeconds`).
 *
 * `validate` resolves to an inactive outcome for tokens that are not acceptable, and rejects with
 * {@link IntrospectionUnavailableError} (503) when the JWKS cannot be fetched or the feed is stale.
 */
export function createLocalValidator(options: LocalValidatorOptions): LocalValidator {
  const now = options.now;
  // Active validations, so a hit returns the cached object itself (no allocation per request).
  const verifications = createAccessTokenCache<ActiveValidation>({
    maxEntries: options.verificationCacheMaxEntries,
    ttlSeconds: options.maxAccessTokenLifetimeSeconds + options.clockSkewSeconds,
    now,
  });
  const keySet = createJwksKeySet({
    jwksUri: options.jwksUri,
    cooldownSeconds: options.jwksCooldownSeconds,
    cacheMaxAgeSeconds: options.jwksCacheMaxAgeSeconds,
    timeoutMilliseconds: options.jwksTimeoutMilliseconds,
    fetch: options.fetch,
    onFetched: () => verifications.clear(),
  });
  const revocationFeed = createRevocationFeed({
    revocationFeedEndpoint: options.revocationFeedEndpoint,
    clientId: options.revocationFeedClientId,
    clientSecret: options.revocationFeedClientSecret,
    pollIntervalSeconds: options.revocationPollIntervalSeconds,
    maxStalenessSeconds: options.maxRevocationStalenessSeconds,
    maxAccessTokenLifetimeSeconds: options.maxAccessTokenLifetimeSeconds,
    clockSkewSeconds: options.clockSkewSeconds,
    pollTimeoutMilliseconds: options.revocationPollTimeoutMilliseconds,
    now,
    fetch: options.fetch,
    scheduleTimer: options.scheduleTimer,
  });

  async function verifySignedToken(accessToken: string): Promise<AccessTokenValidation> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(accessToken, keySet.getKey, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: [...ACCESS_TOKEN_SIGNING_ALGORITHMS],
        typ: ACCESS_TOKEN_JWT_TYPE,
        requiredClaims: REQUIRED_CLAIMS,
        currentDate: new Date(now()),
        clockTolerance: options.clockSkewSeconds,
      }));
    } catch (error) {
      if (error instanceof JwksUnavailableError) {
        throw new IntrospectionUnavailableError(error.reason, error.message);
      }
      const reason = describeVerificationFailure(error);
      if (reason === undefined) {
        throw error;
      }
      return inactive(reason);
    }
    return readJwtAccessTokenClaims(payload, {
      urnNamespace: options.urnNamespace,
      maxAccessTokenLifetimeSeconds: options.maxAccessTokenLifetimeSeconds,
      clockSkewSeconds: options.clockSkewSeconds,
      nowSeconds: now() / 1000,
    });
  }

  /** Expiry and revocation of a verified token, once the feed has caught up. */
  function currentValidation(verified: ActiveValidation, nowMs: number): AccessTokenValidation {
    const token = verified.accessToken;
    // Expiry before revocation: an expired token is refused even while the feed is stale.
    if (nowMs / 1000 >= token.expiresAt + options.clockSkewSeconds) {
      return inactive('The access token expired');
    }
    // SPEC decision 7: the feed throws 503 when stale. tokenId is always set here: readJwtAccessTokenClaims requires jti.
    if (revocationFeed.isRevoked(token.tokenId ?? '', nowMs)) {
      return inactive('The access token was revoked or superseded');
    }
    return verified;
  }

  return {
    validateCached(tokenHash, nowMs) {
      // SPEC decision 7: tokens are accepted only once the feed has caught up after start (validate waits).
      if (!revocationFeed.caughtUp) {
        return undefined;
      }
      const verified = verifications.get(tokenHash, nowMs);
      return verified === undefined ? undefined : currentValidation(verified, nowMs);
    },
    async validate(accessToken, tokenHash = hashAccessToken(accessToken)) {
      let verified = verifications.get(tokenHash);
      if (verified === undefined) {
        const validation = await verifySignedToken(accessToken);
        if (!validation.active) {
          return validation;
        }
        verified = validation;
        verifications.set(tokenHash, verified, (verified.accessToken.expiresAt + options.clockSkewSeconds) * 1000);
      }
      // Expiry before revocation: an expired token is refused even while the feed is stale.
      if (now() / 1000 >= verified.accessToken.expiresAt + options.clockSkewSeconds) {
        return inactive('The access token expired');
      }
      // SPEC decision 7: tokens are accepted only once the feed has caught up after start.
      if (!revocationFeed.caughtUp) {
        await revocationFeed.waitForCatchUp();
      }
      return currentValidation(verified, now());
    },
    start() {
      revocationFeed.start();
      // Warm the key set so the first request does not wait; a failure is retried on first use.
      keySet.reload().catch(() => undefined);
    },
    ready() {
      return revocationFeed.ready();
    },
    close() {
      revocationFeed.stop();
    },
    clearCache() {
      verifications.clear();
    },
    revocationFeed,
    keySet,
  };
}
