/**
 * SQLite's default rate-limit counters, in the process's memory (rate-limits-in-memory.ts). The shared
 * semantics are the contract's (contract/rate-limits.ts, run on them by sqlite/sqlite-storage.test.ts);
 * here: what only memory has (bounded size, no timer) and the reason it exists, that an introspection
 * writes nothing to the database for its counters.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contractBackend } from '../contract/index.ts';
import { rateLimitsContract } from '../contract/rate-limits.ts';
import { createSqliteStorage, type RateLimitCounters } from '../sqlite/sqlite-storage.ts';
import type { Storage } from '../storage.ts';
import { introspect, obtainTokens, startTestServer } from '../../testing/harness.ts';
import { createInMemoryRateLimitStore } from './rate-limits-in-memory.ts';
import { recordSqliteStatements } from '../../testing/sqlite-statements.ts';

const NOW = 1_800_000_000;

/** The contract's storage with only `rateLimits` in use: the in-memory store under test. */
function storageWith(rateLimits: Storage['rateLimits']): Storage {
  return { rateLimits, cleanup: { deleteExpired: async () => ({ rateLimitWindows: 0, deleted: 0 }) }, close: async () => {} } as unknown as Storage;
}

describe('rate-limit counters in memory (SQLite default; SPEC decision 18)', () => {
  describe('the contract on a tiny store (maxKeys: 2, exactly the keys the suite uses at once)', () => {
    rateLimitsContract(contractBackend('memory', () => storageWith(createInMemoryRateLimitStore({ maxKeys: 2 })), { rateLimitCounters: 'memory' }));
  });

  it('forgets a window once it has ended, so the key starts over and holds no memory until then', async () => {
    const counters = createInMemoryRateLimitStore({ maxKeys: 1 });
    assert.deepEqual(await counters.hit(['a'], 10, NOW), [{ hits: 1, windowEndsAt: NOW + 10 }]);
    // At maxKeys, but 'a' has ended by NOW + 10: 'b' takes its room without evicting a current window.
    assert.deepEqual(await counters.hit(['b'], 10, NOW + 10), [{ hits: 1, windowEndsAt: NOW + 20 }]);
    assert.deepEqual(await counters.hit(['b'], 10, NOW + 11), [{ hits: 2, windowEndsAt: NOW + 20 }]);
  });

  it('at maxKeys, a new key evicts the window that ends first (not the oldest key, not the newest)', async () => {
    const counters = createInMemoryRateLimitStore({ maxKeys: 3 });
    await counters.hit(['long'], 60, NOW); // ends NOW + 60
    await counters.hit(['short'], 5, NOW + 1); // ends NOW + 6: the first to end
    await counters.hit(['middle', 'middle'], 30, NOW + 2); // ends NOW + 32
    await counters.hit(['long', 'short', 'middle'], 10, NOW + 3);
    // 'new' evicts 'short', which then starts over and evicts 'new' (by then the first to end, NOW + 14).
    assert.deepEqual(await counters.hit(['new'], 10, NOW + 4), [{ hits: 1, windowEndsAt: NOW + 14 }]);
    assert.deepEqual(await counters.hit(['long', 'middle', 'short', 'new'], 10, NOW + 5), [
      { hits: 3, windowEndsAt: NOW + 60 }, { hits: 3, windowEndsAt: NOW + 32 }, { hits: 1, windowEndsAt: NOW + 15 }, { hits: 1, windowEndsAt: NOW + 15 },
    ]);
  });

  it('holds at most maxKeys windows: past it, the windows that end first go', async () => {
    const counters = createInMemoryRateLimitStore({ maxKeys: 100 });
    // 150 keys whose windows end one second apart, in key order: only key:50 … key:149 can remain.
    for (let i = 0; i < 150; i++) await counters.hit([`key:${i}`], 1_000 + i, NOW);
    const kept = Array.from({ length: 100 }, (_, i) => `key:${50 + i}`);
    assert.ok((await counters.hit(kept, 10, NOW + 1)).every(({ hits }) => hits === 2), 'the last 100 kept their windows');
    assert.deepEqual(await counters.hit(['key:0'], 10, NOW + 1), [{ hits: 1, windowEndsAt: NOW + 11 }], 'key:0 was forgotten');
    assert.deepEqual(await counters.hit(['key:50'], 10, NOW + 1), [{ hits: 1, windowEndsAt: NOW + 11 }], 'key:0 took key:50 (ending first)');
  });

  it('never counts a hit into a window that has ended, whatever the window lengths and evictions', async () => {
    const counters = createInMemoryRateLimitStore({ maxKeys: 100 });
    const last = new Map<string, { hits: number; windowEndsAt: number }>();
    for (let i = 0; i < 5_000; i++) {
      const now = NOW + Math.floor(i / 50);
      const windowSeconds = 1 + (i % 13);
      const key = `address:${i % 700}`;
      const [window] = await counters.hit([key, 'client:x'], windowSeconds, now);
      assert.ok(window!.windowEndsAt > now && window!.windowEndsAt <= now + 13 && window!.hits >= 1);
      const before = last.get(key);
      if (!before || before.windowEndsAt <= now) assert.deepEqual(window, { hits: 1, windowEndsAt: now + windowSeconds });
      // A current window goes on counting, unless the flood evicted it (then it starts over).
      else assert.ok(window!.hits === before.hits + 1 || window!.hits === 1);
      last.set(key, window!);
    }
  });

  it('refuses a maxKeys that is not a whole number ≥ 1', () => {
    for (const maxKeys of [0, -1, 1.5, Number.NaN]) assert.throws(() => createInMemoryRateLimitStore({ maxKeys }), RangeError);
  });
});


describe('SQLite: what an introspection writes for its rate-limit counters', () => {
  /** The statements of one introspection of a fresh access token, on a server with the given counters (or limits off). */
  async function introspectionStatements(rateLimitCounters: RateLimitCounters | 'off'): Promise<string[]> {
    const storage = createSqliteStorage(':memory:', rateLimitCounters === 'off' ? {} : { rateLimitCounters });
    const server = await startTestServer({ storage, ...(rateLimitCounters === 'off' ? { oauthEndpointRateLimit: false } : {}) });
    try {
      const { tokens } = await obtainTokens(server);
      // The first introspection records the grant's use (grants.recordUse, at most once a minute): measure the second.
      await introspect(server, tokens.access_token);
      let active: unknown;
      const executed = await recordSqliteStatements(async () => {
        active = (await introspect(server, tokens.access_token)).active;
      });
      assert.equal(active, true);
      return executed;
    } finally {
      await server.close();
    }
  }

  it('with the counters in memory (the default), nothing: the same statements as with the limits off', async () => {
    const counted = await introspectionStatements('memory');
    assert.ok(!counted.some((sql) => sql.includes('rate_limit_windows')));
    assert.deepEqual(counted, await introspectionStatements('off'));
  });

  it('with GATEHOUSE_RATE_LIMIT_COUNTERS=database, one upsert per key in a write transaction (what the default avoids)', async () => {
    const counted = await introspectionStatements('database');
    assert.equal(counted.filter((sql) => sql.startsWith('INSERT INTO rate_limit_windows')).length, 2, 'the address and the client');
    assert.ok(counted.includes('BEGIN IMMEDIATE') && counted.includes('COMMIT'));
  });
});
