/**
 * The login throttle (stores/login-throttle.ts, SPEC decision 18, issue 10 §3) on two instances of one
 * database, on every backend: concurrent failures on one key are counted exactly, the check-and-count
 * is atomic across instances, and overlapping keys never deadlock (PostgreSQL locks them in key order;
 * SQLite has one writer). Before issue 12 only PostgreSQL ran the two-instance test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { storeBackends } from '../../testing/store-backends.ts';

const NOW = 1_800_000_000;
const ACCOUNT = 'account:x';
const ADDRESS = 'address:192.0.2.1';

for (const backend of await storeBackends()) {
  describe(`loginThrottle on two instances (${backend.name})`, { skip: backend.skip }, () => {
    it('counts 20 concurrent failures on one key, split over two instances, exactly: each gets its own count, 1 to 20', backend.withTwo(async ({ a, b }) => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? a : b).loginThrottle.recordFailure([ACCOUNT], NOW, { maxFailures: 1_000, windowSeconds: 900 })));
      assert.ok(results.every((result) => result.retryAfterSeconds === 0));
      assert.deepEqual(results.map((result) => result.failures[0]).sort((x, y) => x! - y!), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.deepEqual(await b.loginThrottle.recordFailure([ACCOUNT], NOW, { maxFailures: 1_000, windowSeconds: 900 }), { retryAfterSeconds: 0, failures: [21] });
    }));

    it('of 20 attempts spread over two instances against a limit of 3, exactly 3 are counted', backend.withTwo(async ({ a, b }) => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? a : b).loginThrottle.recordFailure([ACCOUNT, ADDRESS], NOW, { maxFailures: 3, windowSeconds: 900 })));
      const counted = results.filter((result) => result.retryAfterSeconds === 0);
      assert.deepEqual(counted.map((result) => result.failures).sort(), [[1, 1], [2, 2], [3, 3]]);
      for (const refused of results.filter((result) => result.retryAfterSeconds > 0)) assert.deepEqual(refused, { retryAfterSeconds: 900, failures: [3, 3] });
    }));

    it('of 20 delayed attempts spread over two instances with 3 free failures, exactly 3 are counted', backend.withTwo(async ({ a, b }) => {
      const rule = { freeFailures: 3, baseDelaySeconds: 1, maxDelaySeconds: 900, forgetAfterSeconds: 3600 };
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? a : b).loginThrottle.attempt([{ key: ACCOUNT, rule }, { key: ADDRESS, rule }], NOW)));
      const counted = results.filter((result) => result.retryAfterSeconds === 0);
      assert.deepEqual(counted.map((result) => result.failures).sort(), [[1, 1], [2, 2], [3, 3]]);
      for (const refused of results.filter((result) => result.retryAfterSeconds > 0)) assert.deepEqual(refused, { retryAfterSeconds: 1, failures: [3, 3] });
    }));

    it('concurrent logins from one address on two instances: recordFailure and retract on shared keys in any order never fail (no deadlock)', backend.withTwo(async ({ a, b }) => {
      const limit = { maxFailures: 1_000, windowSeconds: 900 };
      await Promise.all(Array.from({ length: 30 }, async (_, index) => {
        const storage = index % 2 === 0 ? a : b;
        const account = `account:user-${index % 3}`;
        await storage.loginThrottle.recordFailure([account, ADDRESS], NOW, limit);
        await storage.loginThrottle.retract([ADDRESS, account], NOW);
      }));
      // Every failure was taken back: each key starts over at one.
      assert.deepEqual(await a.loginThrottle.recordFailure([ADDRESS, 'account:user-0'], NOW, limit), { retryAfterSeconds: 0, failures: [1, 1] });
    }));

    it('concurrent logins of one account on two instances while successful ones reset its counter: attempt, reset and retract never fail (no deadlock)', backend.withTwo(async ({ a, b }) => {
      // The benchmark's case (one 500 in a run): a success deletes the account's row, and the next
      // attempts create it again while others hold the address's. A new key's lock must not be taken
      // before an older, smaller key's (the placeholder insert used to take it first: 40P01).
      const rule = { freeFailures: 1_000, baseDelaySeconds: 1, maxDelaySeconds: 900, forgetAfterSeconds: 3600 };
      const failures: unknown[] = [];
      await Promise.all(Array.from({ length: 8 }, async (_, worker) => {
        const storage = worker % 2 === 0 ? a : b;
        for (let round = 0; round < 25; round++) {
          const account = `account:user-${round % 2}`;
          try {
            await storage.loginThrottle.attempt([{ key: account, rule }, { key: ADDRESS, rule }, { key: 'address:a', rule }], NOW);
            if ((worker + round) % 3 === 0) await storage.loginThrottle.reset(account);
            else if ((worker + round) % 3 === 1) await storage.loginThrottle.retract([account, ADDRESS], NOW);
          } catch (error) {
            failures.push(error);
          }
        }
      }));
      assert.deepEqual(failures, []);
    }));
  });
}
