import { createRemoteJWKSet, customFetch, errors } from 'jose';
import type { FlattenedJWSInput, JWSHeaderParameters, JWTVerifyGetKey } from 'jose';
import type { FetchFunction } from './introspection.ts';
import type { IntrospectionFailureReason } from './introspection-unavailable-error.ts';

/** `{issuer}/.well-known/jwks.json`, where Gatehouse publishes its access-token keys (RFC 7517). */
export function defaultJwksUri(issuer: string): string {
  const base = issuer.endsWith('/') ? issuer : `${issuer}/`;
  return new URL('.well-known/jwks.json', base).href;
}

/**
 * The key set could not be fetched (network, timeout, non-200, not a JWK Set): the verifier cannot
 * decide, so the request gets 503 like an introspection outage, never 401.
 */
export class JwksUnavailableError extends Error {
  readonly reason: IntrospectionFailureReason;

  constructor(reason: IntrospectionFailureReason, detail: string, options?: ErrorOptions) {
    super(detail, options);
    this.name = 'JwksUnavailableError';
    this.reason = reason;
  }
}

export interface JwksKeySetOptions {
  /** Absolute URL of the JWK Set. */
  readonly jwksUri: string;
  /** After a fetch, an unknown `kid` triggers another fetch only once this many seconds have passed. */
  readonly cooldownSeconds: number;
  /** Keys are refetched when older than this, seconds. */
  readonly cacheMaxAgeSeconds: number;
  /** Abort a JWKS request after this many milliseconds. */
  readonly timeoutMilliseconds: number;
  readonly fetch: FetchFunction | undefined;
  /** Called after each JWKS response arrives (e.g. to drop verification results made with old keys). */
  readonly onFetched?: () => void;
}

/** The published signing keys of the authorization server, cached. */
export interface JwksKeySet {
  /** Key resolver for jose's `jwtVerify`; throws {@link JwksUnavailableError} when keys cannot be fetched. */
  readonly getKey: JWTVerifyGetKey;
  /** Fetches the key set now (e.g. at start-up, so the first request does not wait). */
  reload(): Promise<void>;
  /** How many JWKS requests were sent. */
  readonly fetchCount: number;
}

/**
 * A cached remote JWK Set on jose's `createRemoteJWKSet`: fetched on first use, refetched when older
 * than `cacheMaxAgeSeconds`, and — for key rotation — refetched when a token names an unknown `kid`,
 * at most once per `cooldownSeconds` (so a flood of forged `kid`s costs one request per cooldown).
 * jose's cooldown and age run on the wall clock, not an injected one.
 */
export function createJwksKeySet(options: JwksKeySetOptions): JwksKeySet {
  const fetchFunction = options.fetch ?? ((url: string, init: RequestInit) => fetch(url, init));
  let fetchCount = 0;
  const remote = createRemoteJWKSet(new URL(options.jwksUri), {
    cooldownDuration: options.cooldownSeconds * 1000,
    cacheMaxAge: options.cacheMaxAgeSeconds * 1000,
    timeoutDuration: options.timeoutMilliseconds,
    [customFetch]: async (url, init) => {
      fetchCount += 1;
      const response = await fetchFunction(url, init);
      options.onFetched?.();
      return response;
    },
  });

  async function getKey(protectedHeader: JWSHeaderParameters, token: FlattenedJWSInput) {
    try {
      return await remote(protectedHeader, token);
    } catch (error) {
      // A key the set does not have (after a refetch) is the token's problem: invalid_token.
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
        throw error;
      }
      throw toUnavailable(error);
    }
  }

  return {
    getKey,
    async reload() {
      try {
        await remote.reload();
      } catch (error) {
        throw toUnavailable(error);
      }
    },
    get fetchCount() {
      return fetchCount;
    },
  };
}

function toUnavailable(error: unknown): JwksUnavailableError {
  if (error instanceof errors.JWKSTimeout || (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))) {
    return new JwksUnavailableError('timeout', 'JWKS request timed out', { cause: error });
  }
  if (error instanceof errors.JOSEError) {
    // Non-200, not JSON, or not a JWK Set (jose's messages name no key material).
    return new JwksUnavailableError('unexpected_response', `JWKS: ${error.message}`, { cause: error });
  }
  if (error instanceof Error) {
    const code = (error.cause as { code?: unknown } | undefined)?.code;
    return new JwksUnavailableError('network_error', `JWKS request failed: ${error.name}: ${error.message}${typeof code === 'string' ? ` (${code})` : ''}`, { cause: error });
  }
  return new JwksUnavailableError('network_error', 'JWKS request failed');
}
