/**
 * Login rate limiting per account and per address (SPEC decision 18): a fixed window of failed
 * attempts. In memory, so it is per instance; a shared store is the multi-instance work (issue 6).
 */
export interface LoginThrottle {
  /** Seconds until another attempt is allowed for any of the keys, or 0. */
  retryAfterSeconds(keys: string[], now: number): number;
  /** Counts an attempt as failed; called before the password check so parallel attempts cannot outrun it. */
  recordFailure(keys: string[], now: number): void;
  /** Takes back one counted failure (the attempt succeeded). */
  retract(keys: string[], now: number): void;
  reset(key: string): void;
}

export function createLoginThrottle(limit: { maxFailures: number; windowSeconds: number }, maxTrackedKeys = 100_000): LoginThrottle {
  const windows = new Map<string, { startedAt: number; failures: number }>();
  const current = (key: string, now: number) => {
    const window = windows.get(key);
    return window && now < window.startedAt + limit.windowSeconds ? window : undefined;
  };
  return {
    retryAfterSeconds(keys, now) {
      let wait = 0;
      for (const key of keys) {
        const window = current(key, now);
        if (window && window.failures >= limit.maxFailures) wait = Math.max(wait, window.startedAt + limit.windowSeconds - now);
      }
      return wait;
    },
    recordFailure(keys, now) {
      for (const key of keys) {
        const window = current(key, now);
        if (window) window.failures += 1;
        else {
          // Bounded memory: drop the oldest entry (Map keeps insertion order) unless this key had one.
          if (!windows.delete(key) && windows.size >= maxTrackedKeys) windows.delete(windows.keys().next().value!);
          windows.set(key, { startedAt: now, failures: 1 });
        }
      }
    },
    retract(keys, now) {
      for (const key of keys) {
        const window = current(key, now);
        if (window && window.failures > 0) window.failures -= 1;
      }
    },
    reset(key) {
      windows.delete(key);
    },
  };
}
