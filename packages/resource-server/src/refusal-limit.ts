/**
 * Refused credentials counted per caller address in fixed one-minute windows. Past the limit the address is
 * answered 429 with `Retry-After` (RFC 6585 §4) until its window ends, before anything is sent to the
 * authorization server: guessing API keys, or sending made-up access tokens to an API in introspection mode,
 * costs the sender and not this resource server's introspection budget, which the authorization server
 * limits per client (SPEC decision 18; a spent budget would answer 503 to every caller).
 *
 * Refusals are counted when a check ends; so that a burst sent at once cannot pass the limit before any of
 * it is counted, an address has at most `maxChecksInFlight` checks in flight (`start`/`finish`), a ceiling
 * far above what one client's distinct new credentials need at once. IPv6 addresses count per /64 (one host
 * usually holds a whole /64, and would otherwise escape the limit by changing address). Memory is bounded:
 * at most `maxAddresses` windows, the oldest dropped first; in-flight counts exist only while checks run.
 */
export interface RefusalLimit {
  /** Seconds until `address` may be checked again; 0 while it is under the limit. Reads only. */
  retryAfterSeconds(address: string): number;
  /** Counts one refusal for `address`. */
  refused(address: string): void;
  /** Starts a check for `address`: false (nothing started) when it already has the most checks in flight. */
  start(address: string): boolean;
  /** Ends a check `start` started. */
  finish(address: string): void;
}

const WINDOW_MS = 60_000;

/**
 * @param limit refusals allowed per address per minute; `0` turns the limit off (undefined is returned).
 * @param now milliseconds since the epoch (injectable for tests).
 * @param maxAddresses windows kept at most (default 100,000: a few MiB).
 * @param maxChecksInFlight checks one address may have running at once (default 100).
 * @throws {TypeError} `limit` not a whole number 0 or more, `maxChecksInFlight` not a whole number 1 or more.
 */
export function createRefusalLimit(limit: number, now: () => number, maxAddresses = 100_000, maxChecksInFlight = 100): RefusalLimit | undefined {
  if (!Number.isInteger(limit) || limit < 0) throw new TypeError('a refusal limit must be a whole number, 0 or more');
  if (!Number.isInteger(maxChecksInFlight) || maxChecksInFlight < 1) throw new TypeError('an in-flight ceiling must be a whole number, 1 or more');
  if (limit === 0) return undefined;
  // Window start (ms) and refusals, in the order windows began (a renewed window moves to the end), so the
  // expired ones are always at the front: dropping them costs nothing per refusal on average.
  const windows = new Map<string, { windowStartMs: number; count: number }>();
  const inFlight = new Map<string, number>();
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
    start(address) {
      const key = addressKey(address);
      const running = inFlight.get(key) ?? 0;
      if (running >= maxChecksInFlight) return false;
      inFlight.set(key, running + 1);
      return true;
    },
    finish(address) {
      const key = addressKey(address);
      const running = (inFlight.get(key) ?? 1) - 1;
      if (running <= 0) inFlight.delete(key);
      else inFlight.set(key, running);
    },
  };
}

/**
 * The key an address counts under: an IPv4 address (IPv4-mapped IPv6 included) as is; an IPv6 address by its
 * /64, except the addresses whose first 64 bits are zero (loopback, IPv4-compatible), which count alone.
 * IPv6 is read in its canonical form (the WHATWG URL parser's), however it was written.
 */
export function addressKey(address: string): string {
  const unzoned = address.split('%')[0]!;
  if (!unzoned.includes(':')) return unzoned;
  let canonical: string;
  try {
    canonical = new URL(`http://[${unzoned}]/`).hostname.slice(1, -1);
  } catch {
    return unzoned;
  }
  const [head = '', tail] = canonical.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  if (groups.slice(0, 5).every((group) => group === '0') && groups[5] === 'ffff') {
    const [high, low] = [Number.parseInt(groups[6]!, 16), Number.parseInt(groups[7]!, 16)];
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  if (groups.slice(0, 4).every((group) => group === '0')) return canonical;
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/** How a guarded check's outcomes count (`CredentialGuard.check`). */
export interface GuardOutcome<T> {
  /** Until when (ms since the epoch) a credential whose check gave `result` is known: never held back nor counted. */
  knownUntil(result: T): number;
  /** Whether a failed check counts as a refusal for its address (a refused or uncheckable credential). */
  refused(error: unknown): boolean;
  /** The error for an address held back: past its limit (`retryAfterSeconds`), or with too many checks in flight (`busy`). */
  tooMany(retryAfterSeconds: number, busy: boolean): Error;
}

/**
 * A refusal limit put around the checks of presented credentials (API keys, access tokens), one per verifier:
 * a credential once accepted is remembered by its digest (at most `maxKnown`, the oldest dropped) and never
 * held back nor counted, so a valid client behind a shared address is not locked out by others; requests with
 * a credential already being checked wait for that check and take no in-flight slot.
 */
export interface CredentialGuard {
  /**
   * Runs `check` for a credential presented from `address` (undefined: no limit), `credentialHash` its digest
   * (undefined when none could be read: nothing shared or remembered).
   * @throws `outcome.tooMany(…)` when the address is held back; whatever `check` throws otherwise.
   */
  check<T>(address: string | undefined, credentialHash: string | undefined, check: () => Promise<T>, outcome: GuardOutcome<T>): Promise<T>;
}

export function createCredentialGuard(limit: RefusalLimit | undefined, now: () => number, maxKnown = 100_000): CredentialGuard {
  const known = new Map<string, number>();
  const inFlight = new Set<string>();
  return {
    async check(address, credentialHash, check, outcome) {
      if (limit === undefined) return check();
      const knownUntil = credentialHash === undefined ? undefined : known.get(credentialHash);
      const guarded = address !== undefined && !(knownUntil !== undefined && knownUntil > now());
      if (guarded) {
        const retryAfterSeconds = limit.retryAfterSeconds(address);
        if (retryAfterSeconds > 0) throw outcome.tooMany(retryAfterSeconds, false);
      }
      // A burst sent at once is held to the in-flight ceiling before any of it is counted.
      const slot = guarded && (credentialHash === undefined || !inFlight.has(credentialHash));
      if (slot && !limit.start(address!)) throw outcome.tooMany(1, true);
      if (slot && credentialHash !== undefined) inFlight.add(credentialHash);
      try {
        const result = await check();
        if (credentialHash !== undefined) {
          known.delete(credentialHash);
          if (known.size >= maxKnown) known.delete(known.keys().next().value!);
          known.set(credentialHash, outcome.knownUntil(result));
        }
        return result;
      } catch (error) {
        if (guarded && outcome.refused(error)) limit.refused(address!);
        throw error;
      } finally {
        if (slot) {
          limit.finish(address!);
          if (credentialHash !== undefined) inFlight.delete(credentialHash);
        }
      }
    },
  };
}
