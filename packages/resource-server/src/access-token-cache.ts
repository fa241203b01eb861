/**
 * The verifier's per-request cache: validation results keyed by the access token itself.
 *
 * Why the token and not its digest (issue 12): on a cache hit, everything else the resource server
 * does for a token (revocation lookup, expiry, scopes) costs well under a microsecond, while SHA-256
 * of a 550-character JWT costs about 0.9 µs, and a `Map` keyed by the whole token string hashes all
 * its characters (about as much). This cache hashes only the token's last {@link SLOT_KEY_LENGTH}
 * characters (for a JWT, its signature; for an opaque token, its random part) to find one slot, and
 * accepts the entry only when the stored token is `===` the presented one (a byte comparison, tens of
 * nanoseconds). Two tokens sharing a suffix only evict each other: a hit always means the same token.
 *
 * The trade-off: up to `maxEntries` tokens stay in this process's memory until their entry expires
 * (introspection: the TTL, 5 s by default; local mode: the token's `exp`, at most 15 minutes) or is
 * evicted, rather than only while their request is handled. Whoever can read this process's memory
 * already reads the tokens of every request in flight and the resource server's own client secret (a
 * credential that outlives any access token); the cache is never written anywhere, logged or
 * returned, and `clearCache()` empties it. Tokens are still never logged or stored at rest.
 */

/** Characters of the token's end that select its slot: 43 is a base64url 256-bit value. */
export const SLOT_KEY_LENGTH = 43;

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

/** A bounded LRU cache of validation results keyed by the access token. */
export interface AccessTokenCache<Value> {
  /**
   * The live entry for exactly this token, or `undefined` (expired entries are dropped on read).
   *
   * @param nowMs the current time, epoch milliseconds, when the caller already read the clock.
   */
  get(accessToken: string, nowMs?: number): Value | undefined;
  /**
   * Stores a result for `ttlSeconds`, but never past `notAfterMs` (epoch milliseconds), which callers
   * set to the token's own `exp` so an entry cannot outlive the token. Replaces any entry of a token
   * sharing the slot.
   */
  set(accessToken: string, value: Value, notAfterMs?: number): void;
  clear(): void;
  readonly size: number;
}

interface Entry<Value> {
  /**
   * The token, as the string last presented for it (equal in content to the one stored): a caller that
   * presents that same string again is answered by V8's identity check, where a token sliced from each
   * request's header would be compared character by character outside the optimized code (issue 12).
   */
  accessToken: string;
  readonly value: Value;
  readonly expiresAtMs: number;
}

function slotKey(accessToken: string): string {
  return accessToken.length <= SLOT_KEY_LENGTH ? accessToken : accessToken.slice(-SLOT_KEY_LENGTH);
}

/**
 * Creates a bounded in-memory cache keyed by access token (see the module comment for why). A `Map`
 * keeps insertion order, so re-inserting an entry on a hit makes the first key the least recently used.
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
  const entries = new Map<string, Entry<Value>>();
  const ttlMs = options.ttlSeconds * 1000;
  /** The entry last stored or hit: already last in `entries`, so a hit on it needs no reordering. */
  let mostRecent: Entry<Value> | undefined;

  return {
    get(accessToken, nowMs = options.now()) {
      // The entry last hit first: a client repeats its token, and this skips slicing and hashing the slot key.
      const recent = mostRecent;
      if (recent !== undefined && recent.accessToken === accessToken && nowMs < recent.expiresAtMs) {
        recent.accessToken = accessToken;
        return recent.value;
      }
      const slot = slotKey(accessToken);
      const entry = entries.get(slot);
      // The slot only narrows the search: the entry must hold this very token.
      if (entry === undefined || entry.accessToken !== accessToken) {
        return undefined;
      }
      if (nowMs >= entry.expiresAtMs) {
        entries.delete(slot);
        if (mostRecent === entry) mostRecent = undefined;
        return undefined;
      }
      if (mostRecent !== entry) {
        entries.delete(slot);
        entries.set(slot, entry);
        mostRecent = entry;
      }
      entry.accessToken = accessToken;
      return entry.value;
    },
    set(accessToken, value, notAfterMs = Number.POSITIVE_INFINITY) {
      const slot = slotKey(accessToken);
      entries.delete(slot);
      mostRecent = undefined;
      const nowMs = options.now();
      const expiresAtMs = Math.min(nowMs + ttlMs, notAfterMs);
      if (expiresAtMs <= nowMs) {
        return;
      }
      const entry: Entry<Value> = { accessToken, value, expiresAtMs };
      entries.set(slot, entry);
      mostRecent = entry;
      while (entries.size > options.maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done === true) {
          break;
        }
        entries.delete(oldest.value);
      }
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
