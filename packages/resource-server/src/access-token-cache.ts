import { hash } from 'node:crypto';

/**
 * The verifier's per-request caches (both modes) and the API-key verifier's: validation results keyed by
 * the SHA-256 digest of the access token (or API key).
 *
 * Why a digest (SPEC decision 9: tokens are handled as digests, and every comparison of one is
 * constant-time): finding an entry compares digests, never the presented token with a stored one, so the
 * time a lookup takes tells nothing about another client's token, and no token value stays in this
 * process's memory after its request. From issue 12 until 2026-12-06 the verifier's caches were keyed by
 * the token itself and accepted an entry when the stored token was `===` the presented one, and the
 * verifier kept the last `Authorization` value to skip parsing a repeated one: both comparisons stop at
 * the first differing character, in time that depends on another client's token. They saved the digest,
 * ~0.6 µs per request (a 550-character JWT, one-shot `crypto.hash`, on the benchmark machine).
 */
export type AccessTokenHash = string & { readonly brand: 'AccessTokenHash' };

/**
 * SHA-256 of an access token (or API key), base64url: the only form a cache keeps. One-shot `crypto.hash`
 * (~0.6 µs for a 550-character JWT, against ~1.5 µs for `createHash().update().digest()`): it runs on
 * every protected request. The brand keeps a raw token from being passed where a digest is expected.
 */
export function hashAccessToken(accessToken: string): AccessTokenHash {
  return hash('sha256', accessToken, 'base64url') as AccessTokenHash;
}

export interface AccessTokenCacheOptions {
  /** Upper bound on entries; the least recently used entry is evicted first. */
  readonly maxEntries: number;
  /**
   * How long a result is reused, in seconds; `0` disables caching. In introspection mode this is the
   * staleness bound of SPEC decision 7.
   */
  readonly ttlSeconds: number;
  /** Clock, epoch milliseconds. */
  readonly now: () => number;
}

/** A bounded LRU cache of validation results keyed by token digest ({@link hashAccessToken}). */
export interface AccessTokenCache<Value> {
  /**
   * The live entry for the digest, or `undefined` (expired entries are dropped on read).
   *
   * @param nowMs the current time, epoch milliseconds, when the caller already read the clock.
   */
  get(tokenHash: AccessTokenHash, nowMs?: number): Value | undefined;
  /**
   * Stores a result for `ttlSeconds`, but never past `notAfterMs` (epoch milliseconds), which callers
   * set to the token's own `exp` so an entry cannot outlive the token.
   */
  set(tokenHash: AccessTokenHash, value: Value, notAfterMs?: number): void;
  delete(tokenHash: AccessTokenHash): void;
  clear(): void;
  readonly size: number;
}

interface Entry<Value> {
  readonly tokenHash: AccessTokenHash;
  readonly value: Value;
  readonly expiresAtMs: number;
}

/**
 * Creates a bounded in-memory cache keyed by token digest. A `Map` keeps insertion order, so re-inserting
 * an entry on a hit makes the first key the least recently used.
 *
 * @throws {TypeError} when `maxEntries` is not a positive integer or `ttlSeconds` is negative.
 */
export function createAccessTokenCache<Value>(options: AccessTokenCacheOptions): AccessTokenCache<Value> {
  if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
    throw new TypeError('access token cache maxEntries must be a positive integer');
  }
  if (!Number.isFinite(options.ttlSeconds) || options.ttlSeconds < 0) {
    throw new TypeError('access token cache ttlSeconds must be a non-negative number');
  }
  const entries = new Map<AccessTokenHash, Entry<Value>>();
  const ttlMs = options.ttlSeconds * 1000;
  /** The entry last stored or hit: already last in `entries`, so a hit on it needs no reordering. */
  let mostRecent: Entry<Value> | undefined;

  return {
    get(tokenHash, nowMs = options.now()) {
      // A client repeats its token: the entry last hit answers without reordering the map.
      const recent = mostRecent;
      if (recent !== undefined && recent.tokenHash === tokenHash && nowMs < recent.expiresAtMs) {
        return recent.value;
      }
      const entry = entries.get(tokenHash);
      if (entry === undefined) {
        return undefined;
      }
      entries.delete(tokenHash);
      if (nowMs >= entry.expiresAtMs) {
        if (mostRecent === entry) mostRecent = undefined;
        return undefined;
      }
      entries.set(tokenHash, entry);
      mostRecent = entry;
      return entry.value;
    },
    set(tokenHash, value, notAfterMs = Number.POSITIVE_INFINITY) {
      entries.delete(tokenHash);
      mostRecent = undefined;
      const nowMs = options.now();
      const expiresAtMs = Math.min(nowMs + ttlMs, notAfterMs);
      if (expiresAtMs <= nowMs) {
        return;
      }
      const entry: Entry<Value> = { tokenHash, value, expiresAtMs };
      entries.set(tokenHash, entry);
      mostRecent = entry;
      while (entries.size > options.maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done === true) {
          break;
        }
        entries.delete(oldest.value);
      }
    },
    delete(tokenHash) {
      entries.delete(tokenHash);
      if (mostRecent?.tokenHash === tokenHash) mostRecent = undefined;
    },
    clear() {
      entries.clear();
      mostRecent = undefined;
    },
    get size() {
      return entries.size;
    },
  };
}
