/**
 * The rate-limit windows (storage.ts `rateLimits`, SPEC decision 18), whether they live in the database
 * (PostgreSQL; SQLite with `rateLimitCounters: 'database'`) or in the process (SQLite's default).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ContractBackend, NOW } from './fixtures.ts';

export function rateLimitsContract({ withStorage, rateLimitCounters }: ContractBackend): void {
  describe(`rateLimits (SPEC decision 18: requests per client and address at the OAuth endpoints; counters in ${rateLimitCounters === 'memory' ? 'memory' : 'the database'})`, () => {
    const A = 'token:client:7af385a0-284d-48c5-b225-362862085551';

    const B = 'token:address:127.0.0.1';

    it('counts hits per key in a fixed window that starts at the first hit; the hit at its end starts a new one', withStorage(async (storage) => {
      assert.deepEqual(await storage.rateLimits.hit([A, B], 10, NOW), [{ hits: 1, windowEndsAt: NOW + 10 }, { hits: 1, windowEndsAt: NOW + 10 }]);
      assert.deepEqual(await storage.rateLimits.hit([A], 10, NOW + 4), [{ hits: 2, windowEndsAt: NOW + 10 }]);
      assert.deepEqual(await storage.rateLimits.hit([A, B], 10, NOW + 9), [{ hits: 3, windowEndsAt: NOW + 10 }, { hits: 2, windowEndsAt: NOW + 10 }]);
      // The window is current while now < windowEndsAt: at NOW + 10 both start over.
      assert.deepEqual(await storage.rateLimits.hit([B, A], 10, NOW + 10), [{ hits: 1, windowEndsAt: NOW + 20 }, { hits: 1, windowEndsAt: NOW + 20 }]);
      // A window's length is fixed when it starts; a longer one asked later applies from the next window.
      assert.deepEqual(await storage.rateLimits.hit([A], 60, NOW + 11), [{ hits: 2, windowEndsAt: NOW + 20 }]);
      assert.deepEqual(await storage.rateLimits.hit([A], 60, NOW + 25), [{ hits: 1, windowEndsAt: NOW + 85 }]);
    }));

    it('keys are independent, and a key repeated in one call is counted once', withStorage(async (storage) => {
      await storage.rateLimits.hit([A], 10, NOW);
      await storage.rateLimits.hit([A], 10, NOW);
      assert.deepEqual(await storage.rateLimits.hit(['revoke:client:other', A, A], 10, NOW + 1), [
        { hits: 1, windowEndsAt: NOW + 11 }, { hits: 3, windowEndsAt: NOW + 10 }, { hits: 3, windowEndsAt: NOW + 10 },
      ]);
      assert.deepEqual(await storage.rateLimits.hit([], 10, NOW), []);
    }));

    it('concurrent hits are each counted exactly once (atomic per key)', withStorage(async (storage) => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => storage.rateLimits.hit(i % 2 ? [A, B] : [B, A], 10, NOW)));
      const countsOf = (key: string) => results.map((result, i) => result[(i % 2 ? [A, B] : [B, A]).indexOf(key)]!.hits).sort((x, y) => x - y);
      assert.deepEqual(countsOf(A), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.deepEqual(countsOf(B), Array.from({ length: 20 }, (_, i) => i + 1));
    }));

    it('cleanup deletes ended windows only (counters in memory forget them by themselves: no rows to delete)', withStorage(async (storage) => {
      await storage.rateLimits.hit([A], 10, NOW);
      await storage.rateLimits.hit([B], 10, NOW + 5);
      const result = await storage.cleanup.deleteExpired(NOW + 10, 1);
      const rows = rateLimitCounters === 'memory' ? 0 : 1;
      assert.equal(result.rateLimitWindows, rows);
      assert.equal(result.deleted, rows);
      assert.deepEqual(await storage.rateLimits.hit([B, A], 10, NOW + 10), [{ hits: 2, windowEndsAt: NOW + 15 }, { hits: 1, windowEndsAt: NOW + 20 }]);
    }));

    it('refuses a window shorter than one second', withStorage(async (storage) => {
      await assert.rejects(storage.rateLimits.hit([A], 0, NOW), RangeError);
    }));
  });
}
