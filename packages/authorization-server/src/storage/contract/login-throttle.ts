/**
 * The login throttle (storage.ts `loginThrottle`): fixed windows of failed logins (SPEC decision 18) and growing
 * delays per key (issue 10 §3), shared by every instance.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ContractBackend, NOW } from './fixtures.ts';

export function loginThrottleContract({ withStorage }: ContractBackend): void {
  describe('loginThrottle (SPEC decision 18: failed logins per account and address, shared by every instance)', () => {
    const A = 'account:alice';

    const B = 'address:192.0.2.7';

    const limit = (maxFailures: number, windowSeconds: number) => ({ maxFailures, windowSeconds });

    it('counts failures until maxFailures fall in one window, then refuses without counting', withStorage(async (storage) => {
      const throttle = storage.loginThrottle;
      assert.deepEqual(await throttle.recordFailure([A, B], NOW, limit(3, 900)), { retryAfterSeconds: 0, failures: [1, 1] });
      assert.deepEqual(await throttle.recordFailure([A, B], NOW + 10, limit(3, 900)), { retryAfterSeconds: 0, failures: [2, 2] });
      assert.deepEqual(await throttle.recordFailure([A, B], NOW + 20, limit(3, 900)), { retryAfterSeconds: 0, failures: [3, 3] });
      assert.deepEqual(await throttle.recordFailure([A, B], NOW + 20, limit(3, 900)), { retryAfterSeconds: 880, failures: [3, 3] });
      assert.deepEqual(await throttle.recordFailure([A, B], NOW + 899, limit(3, 900)), { retryAfterSeconds: 1, failures: [3, 3] });
    }));

    it('uses a fixed window from the first failure: refused attempts do not extend it, and it reopens exactly at its end', withStorage(async (storage) => {
      const throttle = storage.loginThrottle;
      await throttle.recordFailure([A], NOW, limit(2, 100));
      await throttle.recordFailure([A], NOW + 90, limit(2, 100));
      assert.equal((await throttle.recordFailure([A], NOW + 95, limit(2, 100))).retryAfterSeconds, 5);
      assert.equal((await throttle.recordFailure([A], NOW + 99, limit(2, 100))).retryAfterSeconds, 1);
      // At the window's end a new failure opens a fresh window with a count of one.
      assert.deepEqual(await throttle.recordFailure([A], NOW + 100, limit(2, 100)), { retryAfterSeconds: 0, failures: [1] });
      assert.deepEqual(await throttle.recordFailure([A], NOW + 150, limit(2, 100)), { retryAfterSeconds: 0, failures: [2] });
      assert.equal((await throttle.recordFailure([A], NOW + 150, limit(2, 100))).retryAfterSeconds, 50);
    }));

    it('refuses when any one key is over its limit, answers the longest wait, and then counts on no key', withStorage(async (storage) => {
      const throttle = storage.loginThrottle;
      // One address trying many accounts.
      await throttle.recordFailure(['account:a', B], NOW, limit(2, 100));
      await throttle.recordFailure(['account:b', B], NOW + 30, limit(2, 100));
      assert.deepEqual(await throttle.recordFailure(['account:c', B], NOW + 30, limit(2, 100)), { retryAfterSeconds: 70, failures: [0, 2] });
      // account:c was not counted by the refused attempt.
      assert.deepEqual(await throttle.recordFailure(['account:c', 'address:198.51.100.1'], NOW + 30, limit(2, 100)), { retryAfterSeconds: 0, failures: [1, 1] });
      // Many addresses trying one account; both keys over: the longer wait wins.
      await throttle.recordFailure([A, 'address:198.51.100.2'], NOW + 40, limit(2, 100));
      await throttle.recordFailure([A, 'address:198.51.100.3'], NOW + 60, limit(2, 100));
      assert.equal((await throttle.recordFailure([A, 'address:198.51.100.4'], NOW + 60, limit(2, 100))).retryAfterSeconds, 80);
      assert.equal((await throttle.recordFailure([A, B], NOW + 60, limit(2, 100))).retryAfterSeconds, 80);
    }));

    it('survives concurrent logins from one address: recordFailure and retract on shared keys in any order never fail (no deadlock)', withStorage(async (storage) => {
      const throttle = storage.loginThrottle;
      const attempts = Array.from({ length: 30 }, async (_, index) => {
        const account = `account:user-${index % 3}`;
        await throttle.recordFailure([account, B], NOW, limit(1_000, 900));
        await throttle.retract([B, account], NOW);
      });
      await Promise.all(attempts);
      assert.deepEqual(await throttle.recordFailure([B], NOW, limit(1_000, 900)), { retryAfterSeconds: 0, failures: [1] });
    }));

    it('retract takes back one failure in the current window (never below zero); reset forgets one key only', withStorage(async (storage) => {
      const throttle = storage.loginThrottle;
      await throttle.recordFailure([A, B], NOW, limit(2, 100));
      await throttle.recordFailure([A, B], NOW + 1, limit(2, 100));
      await throttle.retract([A, B], NOW + 2);
      assert.deepEqual(await throttle.recordFailure([A, B], NOW + 3, limit(2, 100)), { retryAfterSeconds: 0, failures: [2, 2] });
      await throttle.reset(A);
      assert.deepEqual(await throttle.recordFailure([A], NOW + 4, limit(2, 100)), { retryAfterSeconds: 0, failures: [1] });
      assert.equal((await throttle.recordFailure([B], NOW + 4, limit(2, 100))).retryAfterSeconds, 96);
      await throttle.reset('account:unknown');
      // Never below zero, and an ended window is not touched (a new failure starts over at one).
      const C = 'account:carol';
      await throttle.recordFailure([C], NOW, limit(5, 100));
      await throttle.retract([C], NOW + 1);
      await throttle.retract([C], NOW + 1);
      assert.deepEqual(await throttle.recordFailure([C], NOW + 2, limit(5, 100)), { retryAfterSeconds: 0, failures: [1] });
      await throttle.retract([C], NOW + 100);
      assert.deepEqual(await throttle.recordFailure([C], NOW + 100, limit(5, 100)), { retryAfterSeconds: 0, failures: [1] });
      await throttle.retract(['account:unknown'], NOW);
    }));

    it('of 20 concurrent attempts against a limit of 3, exactly 3 are counted (atomic check and count)', withStorage(async (storage) => {
      const results = await Promise.all(Array.from({ length: 20 }, () => storage.loginThrottle.recordFailure([A, B], NOW, limit(3, 900))));
      const counted = results.filter((result) => result.retryAfterSeconds === 0);
      assert.equal(counted.length, 3);
      assert.deepEqual(counted.map((result) => result.failures[0]).sort(), [1, 2, 3]);
      for (const refused of results.filter((result) => result.retryAfterSeconds > 0)) assert.deepEqual(refused, { retryAfterSeconds: 900, failures: [3, 3] });
    }));
  });

  describe('loginThrottle.attempt (issue 10 §3: growing delays per key instead of a hard lockout)', () => {
    const PAIR = 'pair:alice:192.0.2.7';

    const ACCOUNT = 'account:alice';

    const ADDRESS = 'address:192.0.2.7';

    const rule = (freeFailures: number, baseDelaySeconds = 1, maxDelaySeconds = 900, forgetAfterSeconds = 3600) =>
      ({ freeFailures, baseDelaySeconds, maxDelaySeconds, forgetAfterSeconds });

    it('counts the first freeFailures failures without a wait, then each further attempt waits base × 2^(n − free) after the latest failure', withStorage(async (storage) => {
      const at = (now: number) => storage.loginThrottle.attempt([{ key: PAIR, rule: rule(3) }], now);
      assert.deepEqual(await at(NOW), { retryAfterSeconds: 0, failures: [1] });
      assert.deepEqual(await at(NOW), { retryAfterSeconds: 0, failures: [2] });
      assert.deepEqual(await at(NOW), { retryAfterSeconds: 0, failures: [3] });
      assert.deepEqual(await at(NOW), { retryAfterSeconds: 1, failures: [3] }, '3 failures: wait 1 s, not counted');
      assert.deepEqual(await at(NOW + 1), { retryAfterSeconds: 0, failures: [4] });
      assert.deepEqual(await at(NOW + 2), { retryAfterSeconds: 1, failures: [4] }, '4 failures: wait 2 s after the latest');
      assert.deepEqual(await at(NOW + 3), { retryAfterSeconds: 0, failures: [5] });
      assert.deepEqual(await at(NOW + 3), { retryAfterSeconds: 4, failures: [5] });
      assert.deepEqual(await at(NOW + 7), { retryAfterSeconds: 0, failures: [6] });
      assert.deepEqual(await at(NOW + 7), { retryAfterSeconds: 8, failures: [6] });
    }));

    it('caps the delay at maxDelaySeconds and forgets a key forgetAfterSeconds after its latest failure', withStorage(async (storage) => {
      const capped = rule(0, 10, 30, 100);
      const at = (now: number) => storage.loginThrottle.attempt([{ key: PAIR, rule: capped }], now);
      assert.deepEqual(await at(NOW), { retryAfterSeconds: 0, failures: [1] });
      assert.equal((await at(NOW)).retryAfterSeconds, 20, '1 failure: 10 × 2^1');
      assert.deepEqual(await at(NOW + 20), { retryAfterSeconds: 0, failures: [2] });
      assert.equal((await at(NOW + 20)).retryAfterSeconds, 30, 'capped at 30 s');
      assert.deepEqual(await at(NOW + 50), { retryAfterSeconds: 0, failures: [3] });
      assert.equal((await at(NOW + 149)).retryAfterSeconds, 0, 'past the cap');
      // The attempt at NOW + 149 counted (4 failures, latest NOW + 149): forgotten at NOW + 249.
      assert.deepEqual(await at(NOW + 249), { retryAfterSeconds: 0, failures: [1] });
    }));

    it('refuses when any key must wait, answers the longest wait, and counts on no key', withStorage(async (storage) => {
      const throttle = storage.loginThrottle;
      const counters = (pair: string) => [{ key: pair, rule: rule(5) }, { key: ACCOUNT, rule: rule(2, 60) }, { key: ADDRESS, rule: rule(100) }];
      assert.deepEqual(await throttle.attempt(counters('pair:alice:a'), NOW), { retryAfterSeconds: 0, failures: [1, 1, 1] });
      assert.deepEqual(await throttle.attempt(counters('pair:alice:b'), NOW + 5), { retryAfterSeconds: 0, failures: [1, 2, 2] });
      assert.deepEqual(await throttle.attempt(counters('pair:alice:c'), NOW + 10), { retryAfterSeconds: 55, failures: [0, 2, 2] }, 'the account waits 60 s');
      assert.deepEqual(await throttle.attempt([{ key: ADDRESS, rule: rule(100) }], NOW + 10), { retryAfterSeconds: 0, failures: [3] }, 'the refused attempt counted nowhere');
      assert.deepEqual(await throttle.attempt([{ key: 'pair:alice:c', rule: rule(5) }], NOW + 10), { retryAfterSeconds: 0, failures: [1] });
    }));

    it('a success resets or retracts like recordFailure\'s windows; a key repeated uses its first rule', withStorage(async (storage) => {
      const throttle = storage.loginThrottle;
      await throttle.attempt([{ key: PAIR, rule: rule(1) }, { key: ADDRESS, rule: rule(1) }], NOW);
      await throttle.reset(PAIR);
      await throttle.retract([ADDRESS], NOW);
      assert.deepEqual(await throttle.attempt([{ key: PAIR, rule: rule(1) }, { key: ADDRESS, rule: rule(1) }], NOW), { retryAfterSeconds: 0, failures: [1, 1] });
      assert.deepEqual(await throttle.attempt([{ key: ACCOUNT, rule: rule(5) }, { key: ACCOUNT, rule: rule(0) }], NOW), { retryAfterSeconds: 0, failures: [1, 1] });
    }));

    it('of 20 concurrent attempts with 3 free failures, exactly 3 are counted (atomic check and count)', withStorage(async (storage) => {
      const counters = [{ key: PAIR, rule: rule(3) }, { key: ADDRESS, rule: rule(100) }];
      const results = await Promise.all(Array.from({ length: 20 }, () => storage.loginThrottle.attempt(counters, NOW)));
      const counted = results.filter((result) => result.retryAfterSeconds === 0);
      assert.equal(counted.length, 3);
      assert.deepEqual(counted.map((result) => result.failures[0]).sort(), [1, 2, 3]);
      for (const refused of results.filter((result) => result.retryAfterSeconds > 0)) assert.deepEqual(refused, { retryAfterSeconds: 1, failures: [3, 3] });
    }));
  });
}
