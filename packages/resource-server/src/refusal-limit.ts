/**
 * Refused credentials counted per caller address in fixed one-minute windows. Past the limit the address is
 * answered 429 with `Retry-After` (RFC 6585 §4) until its window ends, before anything is sent to the
 * authorization server: guessing API keys, or sending made-up access tokens to an API in introspection mode,
 * costs the sender and not this resource server's introspection budget, which the authorization server
 * limits per client (SPEC decision 18; a spent budget would answer 503 to every caller).
 */
export interface RefusalLimit {
  /** Seconds until `address` may be checked again; 0 while it is under the limit. */
  retryAfterSeconds(address: string): number;
  /** Counts one refusal for `address`. */
  refused(address: string): void;
}

/**
 * @param limit refusals allowed per address per minute; `0` turns the limit off (undefined is returned).
 * @param now milliseconds since the epoch (injectable for tests).
 */
export function createRefusalLimit(limit: number, now: () => number): RefusalLimit | undefined {
  if (!Number.isInteger(limit) || limit < 0) throw new TypeError('a refusal limit must be a whole number, 0 or more');
  if (limit === 0) return undefined;
  // Window start (ms) and refusals in it. Bounded: old windows are dropped when the map grows.
  const windows = new Map<string, { windowStartMs: number; count: number }>();
  const windowOf = (address: string) => {
    const nowMs = now();
    let window = windows.get(address);
    if (!window || nowMs - window.windowStartMs >= 60_000) {
      if (windows.size >= 10_000) for (const [key, value] of windows) if (nowMs - value.windowStartMs >= 60_000) windows.delete(key);
      window = { windowStartMs: nowMs, count: 0 };
      windows.set(address, window);
    }
    return window;
  };
  return {
    retryAfterSeconds(address) {
      const window = windowOf(address);
      return window.count < limit ? 0 : Math.max(1, Math.ceil((window.windowStartMs + 60_000 - now()) / 1000));
    },
    refused(address) {
      windowOf(address).count += 1;
    },
  };
}
