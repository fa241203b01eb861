/**
 * The rate-limit windows (storage.ts `rateLimits`, SPEC decision 18), whether they live in the database
 * (SQLite with `rateLimitCounters: 'database'`; PostgreSQL, written per hit with `database` or by
 * PostgreSQL's default `shared` counters' flush) or in the process (SQLite's default).
 *
 * `shared` counters (stores/rate-limits-shared.ts) are synchronised by a timer; here every hit is followed
 * by `rateLimits.flush()` (no sleeps), so each answer after the first comes from the table, and the first
 * test runs once more without any flush: a single instance counts exactly either way. Two instances,
 * outages and the timer are stores/rate-limits-shared.test.ts's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Storage } from '../storage.ts';
import { type ContractBackend, NOW } from './fixtures.ts';

export function rateLimitsContract({ withStorage, rateLimitCounters }: ContractBackend): void {
  const place = { memory: 'memory', database: 'the database', shared: 'memory, flushed to the database' }[rateLimitCounters];
  describe(`rateLimits (SPEC decision 18: requests per client and address at the OAuth endpoints; counters in ${place})`, () => {
    const A = 'token:client:7af385a0-284d-48c5-b225-362862085551';

    const B = 'token:address:127.0.0.1';

    /** `rateLimits.hit`, then (shared counters) the flush the timer would run. The hit is counted when called. */
    const hit = async (storage: Storage, keys: string[], windowSeconds: number, now: number) => {
      try {
        return await storage.rateLimits.hit(keys, windowSeconds, now);
      } finally {
        await storage.rateLimits.flush?.();
      }
    };
    const unflushed = (storage: Storage, keys: string[], windowSeconds: number, now: number) => storage.rateLimits.hit(keys, windowSeconds, now);
    const flushings = rateLimitCounters === 'shared'
      ? [{ name: ' (a flush after every hit)', counter: hit }, { name: ' (no flush: this instance alone)', counter: unflushed }]
      : [{ name: '', counter: hit }];

    for (const { name, counter } of flushings) {
      it(`counts hits per key in a fixed window that starts at the first hit; the hit at its end starts a new one${name}`, withStorage(async (storage) => {
        assert.deepEqual(await counter(storage, [A, B], 10, NOW), [{ hits: 1, windowEndsAt: NOW + 10 }, { hits: 1, windowEndsAt: NOW + 10 }]);
        assert.deepEqual(await counter(storage, [A], 10, NOW + 4), [{ hits: 2, windowEndsAt: NOW + 10 }]);
        assert.deepEqual(await counter(storage, [A, B], 10, NOW + 9), [{ hits: 3, windowEndsAt: NOW + 10 }, { hits: 2, windowEndsAt: NOW + 10 }]);
        // The window is current while now < windowEndsAt: at NOW + 10 both start over.
        assert.deepEqual(await counter(storage, [B, A], 10, NOW + 10), [{ hits: 1, windowEndsAt: NOW + 20 }, { hits: 1, windowEndsAt: NOW + 20 }]);
        // A window's length is fixed when it starts; a longer one asked later applies from the next window.
        assert.deepEqual(await counter(storage, [A], 60, NOW + 11), [{ hits: 2, windowEndsAt: NOW + 20 }]);
        assert.deepEqual(await counter(storage, [A], 60, NOW + 25), [{ hits: 1, windowEndsAt: NOW + 85 }]);
      }));
    }

    it('keys are independent, and a key repeated in one call is counted once', withStorage(async (storage) => {
      await hit(storage, [A], 10, NOW);
      await hit(storage, [A], 10, NOW);
      assert.deepEqual(await hit(storage, ['revoke:client:other', A, A], 10, NOW + 1), [
        { hits: 1, windowEndsAt: NOW + 11 }, { hits: 3, windowEndsAt: NOW + 10 }, { hits: 3, windowEndsAt: NOW + 10 },
      ]);
      assert.deepEqual(await hit(storage, [], 10, NOW), []);
    }));

    it('concurrent hits are each counted exactly once (atomic per key)', withStorage(async (storage) => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => hit(storage, i % 2 ? [A, B] : [B, A], 10, NOW)));
      const countsOf = (key: string) => results.map((result, i) => result[(i % 2 ? [A, B] : [B, A]).indexOf(key)]!.hits).sort((x, y) => x - y);
      assert.deepEqual(countsOf(A), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.deepEqual(countsOf(B), Array.from({ length: 20 }, (_, i) => i + 1));
    }));

    it('cleanup deletes ended windows only (counters in memory forget them by themselves: no rows to delete)', withStorage(async (storage) => {
      await hit(storage, [A], 10, NOW);
      await hit(storage, [B], 10, NOW + 5);
      const result = await storage.cleanup.deleteExpired(NOW + 10, 1);
      const rows = rateLimitCounters === 'memory' ? 0 : 1;
      assert.equal(result.rateLimitWindows, rows);
      assert.equal(result.deleted, rows);
      assert.deepEqual(await hit(storage, [B, A], 10, NOW + 10), [{ hits: 2, windowEndsAt: NOW + 15 }, { hits: 1, windowEndsAt: NOW + 20 }]);
    }));

    it('refuses a window shorter than one second', withStorage(async (storage) => {
      await assert.rejects(hit(storage, [A], 0, NOW), RangeError);
    }));
  });
}
