/**
 * Login rate limiting per account and per address (SPEC decision 18): a fixed window of failed attempts,
 * counted in storage (`Storage['loginThrottle']`) so every instance on one database shares the counters
 * and a client cannot spread its guesses over instances.
 *
 * Keys: `account:<SHA-256 of the normalised e-mail, base64url>` (the throttle table holds no e-mail
 * addresses) and `address:<client IP>` (already in every request log).
 */
import { createHash } from 'node:crypto';
import type { LoginRateLimit, Storage } from '../storage/storage.ts';

export interface LoginThrottleKeys {
  account: string;
  address: string;
}

export interface LoginThrottle {
  /**
   * Counts this attempt as a failure on both keys unless one of them is over its limit, atomically.
   * Called BEFORE the (slow, awaited) password check, so a parallel burst cannot pass the limit together.
   * @returns seconds to wait before another attempt (the attempt is refused and not counted), or 0 (go on).
   */
  attempt(keys: LoginThrottleKeys, now: number): Promise<number>;
  /** The attempt succeeded: takes its failure back from the address and clears the account. */
  succeeded(keys: LoginThrottleKeys, now: number): Promise<void>;
}

/** The throttle keys of a login attempt; `email` as normalised by the login endpoint (trimmed, lowercase). */
export function loginThrottleKeys(email: string, address: string): LoginThrottleKeys {
  return { account: `account:${createHash('sha256').update(email).digest('base64url')}`, address: `address:${address}` };
}

export function createLoginThrottle(limit: LoginRateLimit, store: Storage['loginThrottle']): LoginThrottle {
  return {
    async attempt(keys, now) {
      return (await store.recordFailure([keys.account, keys.address], now, limit)).retryAfterSeconds;
    },
    async succeeded(keys, now) {
      await store.retract([keys.account, keys.address], now);
      await store.reset(keys.account);
    },
  };
}
