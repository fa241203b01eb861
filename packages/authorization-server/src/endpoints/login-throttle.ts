/**
 * Login throttling that does not lock the office out (SPEC decision 18, issue 10 §3). No hard lockout:
 * growing delays (storage.ts `LoginDelayRule`), counted in storage (`Storage['loginThrottle'].attempt`)
 * so every instance on one database shares the counters and a client cannot spread its guesses over
 * instances. An attempt from an unknown browser counts on three keys:
 *
 * - `pair:<account>:<address>` first and strictest: one person guessing one account from one address
 *   is slowed after 5 failures (1 s, 2 s, 4 s … up to 15 min between attempts);
 * - `account:<account>` from every address together, with more room (20 failures), so a spray from
 *   many addresses is slowed too, without locking the account;
 * - `address:<ip>` with a much higher ceiling (100 failures), so a whole office behind one address is
 *   never blocked by a few people's typos, yet one address cannot try unlimited accounts.
 *
 * A browser the user signed in with before (a known device, sessions/known-device.ts) counts on its own
 * key `device:<device>:<account>` only: nobody else's failures, from the same address or from anywhere,
 * block it, and a stolen device cookie still earns only the same slow guessing.
 *
 * `<account>` is a SHA-256 of the normalised e-mail (the throttle table holds no e-mail addresses);
 * `<ip>` is the client address (already in every request log).
 */
import { hash } from 'node:crypto';
import type { LoginDelayRule, Storage } from '../storage/storage.ts';

export interface LoginThrottleRules {
  /** One account from one address. Default 5 free failures, then 1 s doubling up to 900 s. */
  accountAddress: LoginDelayRule;
  /** One account from every address. Default 20 free failures, then 1 s doubling up to 900 s. */
  account: LoginDelayRule;
  /** One address over every account. Default 100 free failures, then 60 s doubling up to 900 s. */
  address: LoginDelayRule;
  /** One known device for one account. Default 5 free failures, then 1 s doubling up to 900 s. */
  knownDevice: LoginDelayRule;
}

const HOUR_SECONDS = 3600;

export const DEFAULT_LOGIN_THROTTLE_RULES: LoginThrottleRules = {
  accountAddress: { freeFailures: 5, baseDelaySeconds: 1, maxDelaySeconds: 900, forgetAfterSeconds: HOUR_SECONDS },
  account: { freeFailures: 20, baseDelaySeconds: 1, maxDelaySeconds: 900, forgetAfterSeconds: HOUR_SECONDS },
  address: { freeFailures: 100, baseDelaySeconds: 60, maxDelaySeconds: 900, forgetAfterSeconds: HOUR_SECONDS },
  knownDevice: { freeFailures: 5, baseDelaySeconds: 1, maxDelaySeconds: 900, forgetAfterSeconds: HOUR_SECONDS },
};

/**
 * The rules in force: the defaults, then `loginRateLimit` (options.ts: `maxFailures` free failures per
 * account and address, delays up to `windowSeconds`), then any rule given in full in `overrides`.
 */
export function resolveLoginThrottleRules(
  loginRateLimit: { maxFailures: number; windowSeconds: number } | undefined, overrides: Partial<LoginThrottleRules> = {},
): LoginThrottleRules {
  const accountAddress = loginRateLimit
    ? { ...DEFAULT_LOGIN_THROTTLE_RULES.accountAddress, freeFailures: loginRateLimit.maxFailures, maxDelaySeconds: loginRateLimit.windowSeconds }
    : DEFAULT_LOGIN_THROTTLE_RULES.accountAddress;
  return { ...DEFAULT_LOGIN_THROTTLE_RULES, accountAddress, ...overrides };
}

export interface LoginThrottleKeys {
  accountAddress: string;
  account: string;
  address: string;
  /** Set when the browser is a known device of the account: then the only key counted. */
  knownDevice?: string;
}

export interface LoginThrottle {
  /**
   * Counts this attempt as a failure on its keys unless one of them must still wait, atomically.
   * Called BEFORE the (slow, awaited) password check, so a parallel burst cannot pass the limit together.
   * @returns seconds to wait before another attempt (the attempt is refused and not counted), or 0 (go on).
   */
  attempt(keys: LoginThrottleKeys, now: number): Promise<number>;
  /**
   * The attempt succeeded: forgets its account-and-address (or known-device) key, and takes its failure
   * back from the account and the address (an attacker's failures on the account stay counted).
   */
  succeeded(keys: LoginThrottleKeys, now: number): Promise<void>;
}

/**
 * The throttle keys of a login attempt.
 * @param foldedEmail the typed address as the database folds it (`users.foldEmail`): every spelling that finds
 *   one account counts against one key, and whether an account exists changes no key (no oracle).
 * @param address the client IP.
 * @param knownDeviceDigest the device cookie's SHA-256 when the browser is a known device of this account.
 */
export function loginThrottleKeys(foldedEmail: string, address: string, knownDeviceDigest?: string): LoginThrottleKeys {
  const accountKey = hash('sha256', foldedEmail, 'base64url');
  return {
    accountAddress: `pair:${accountKey}:${address}`,
    account: `account:${accountKey}`,
    address: `address:${address}`,
    ...(knownDeviceDigest === undefined ? {} : { knownDevice: `device:${knownDeviceDigest}:${accountKey}` }),
  };
}

export function createLoginThrottle(rules: LoginThrottleRules, store: Storage['loginThrottle']): LoginThrottle {
  const counters = (keys: LoginThrottleKeys) => (keys.knownDevice !== undefined
    ? [{ key: keys.knownDevice, rule: rules.knownDevice }]
    : [{ key: keys.accountAddress, rule: rules.accountAddress }, { key: keys.account, rule: rules.account }, { key: keys.address, rule: rules.address }]);
  return {
    async attempt(keys, now) {
      return (await store.attempt(counters(keys), now)).retryAfterSeconds;
    },
    async succeeded(keys, now) {
      if (keys.knownDevice !== undefined) {
        await store.reset(keys.knownDevice);
        return;
      }
      await store.reset(keys.accountAddress);
      await store.retract([keys.account, keys.address], now);
    },
  };
}
