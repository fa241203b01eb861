/**
 * Refused credentials counted per caller address in fixed one-minute windows. Past the limit the address is
 * answered 429 with `Retry-After` (RFC 6585 §4) until its window ends, before anything is sent to the
 * authorization server: guessing API keys, or sending made-up access tokens to an API in introspection mode,
 * costs the sender and not this resource server's introspection budget, which the authorization server
 * limits per client (SPEC decision 18; a spent budget would answer 503 to every caller).
 *
 * IPv6 addresses count per /64 (one host usually holds a whole /64, and would otherwise escape the limit by
 * changing address). Memory is bounded: at most `maxAddresses` windows, the oldest dropped first.
 */
export interface RefusalLimit {
  /** Seconds until `address` may be checked again; 0 while it is under the limit. Reads only. */
  retryAfterSeconds(address: string): number;
  /** Counts one refusal for `address`. */
  refused(address: string): void;
}

const WINDOW_MS = 60_000;

/**
 * @param limit refusals allowed per address per minute; `0` turns the limit off (undefined is returned).
 * @param now milliseconds since the epoch (injectable for tests).
 * @param maxAddresses windows kept at most (default 10,000).
 */
export function createRefusalLimit(limit: number, now: () => number, maxAddresses = 10_000): RefusalLimit | undefined {
  if (!Number.isInteger(limit) || limit < 0) throw new TypeError('a refusal limit must be a whole number, 0 or more');
  if (limit === 0) return undefined;
  // Window start (ms) and refusals, in the order windows began (a renewed window moves to the end), so the
  // expired ones are always at the front: dropping them costs nothing per refusal on average.
  const windows = new Map<string, { windowStartMs: number; count: number }>();
  return {
    retryAfterSeconds(address) {
      const window = windows.get(addressKey(address));
      if (!window || window.count < limit) return 0;
      const remainingMs = window.windowStartMs + WINDOW_MS - now();
      return remainingMs <= 0 ? 0 : Math.max(1, Math.ceil(remainingMs / 1000));
    },
    refused(address) {
      const key = addressKey(address);
      const nowMs = now();
      const window = windows.get(key);
      if (window && nowMs - window.windowStartMs < WINDOW_MS) {
        window.count += 1;
        return;
      }
      windows.delete(key);
      for (const [oldest, value] of windows) {
        if (nowMs - value.windowStartMs < WINDOW_MS && windows.size < maxAddresses) break;
        windows.delete(oldest);
      }
      windows.set(key, { windowStartMs: nowMs, count: 1 });
    },
  };
}

/** The key an address counts under: an IPv4 address (IPv4-mapped IPv6 included) as is, IPv6 by its /64. */
export function addressKey(address: string): string {
  const unzoned = address.split('%')[0]!;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(unzoned);
  if (mapped) return mapped[1]!;
  if (!unzoned.includes(':')) return unzoned;
  const [head = '', tail] = unzoned.toLowerCase().split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0'), ...tailGroups];
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
