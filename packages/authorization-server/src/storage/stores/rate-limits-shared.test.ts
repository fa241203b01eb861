/**
 * PostgreSQL's default rate-limit counters, `shared` (stores/rate-limits-shared.ts, issue 12), beyond the
 * contract suite (contract/rate-limits.ts, where one instance counts exactly): two instances on one schema,
 * a flush while the database is down, the timer, and the memory bound. No sleeps: the tests call
 * `flush()` themselves (the storages' timers are set far apart) or replace the timer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import type { SqlDriver, SqlParams } from '../sql/driver.ts';
import type { Storage } from '../storage.ts';
import { createPostgresStorage } from '../postgres/postgres-storage.ts';
import { dropTestSchema, newTestSchema, postgresSkipReason, queryTestSchema, TEST_DATABASE_URL } from '../../testing/postgres.ts';
import { startTcpProxy, type TcpProxy } from '../../testing/tcp-proxy.ts';
import { createSharedRateLimitStore } from './rate-limits-shared.ts';

const skip = await postgresSkipReason();
const NOW = 1_800_000_000;
const KEY = 'introspection:client:7af385a0-284d-48c5-b225-362862085551';
/** Longer than any test: every flush here is one the test asks for. */
const BY_HAND = { rateLimitFlushIntervalMs: 3_600_000 };

const flush = (storage: Storage) => storage.rateLimits.flush!();
const hitsOf = async (storage: Storage, now: number, key = KEY) => (await storage.rateLimits.hit([key], 10, now))[0]!;

describe('shared rate-limit counters: two instances on one PostgreSQL schema (issue 12, SPEC decision 18)', { skip }, () => {
  const schema = newTestSchema();
  let a: Storage;
  let b: Storage;
  before(async () => {
    a = await createPostgresStorage(TEST_DATABASE_URL, { schema, poolSize: 2, ...BY_HAND });
    b = await createPostgresStorage(TEST_DATABASE_URL, { schema, poolSize: 2, ...BY_HAND });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await dropTestSchema(schema);
  });

  it('each counts its own hits at once and learns the other\'s at its next flush of the key; the window is the table\'s', async () => {
    for (const hits of [1, 2, 3]) assert.deepEqual(await hitsOf(a, NOW), { hits, windowEndsAt: NOW + 10 });
    // B's first hit comes 3 s later: its window is provisional (its own first hit + 10 s) until it flushes.
    assert.deepEqual(await hitsOf(b, NOW + 3), { hits: 1, windowEndsAt: NOW + 13 });
    assert.deepEqual(await hitsOf(b, NOW + 3), { hits: 2, windowEndsAt: NOW + 13 });
    await flush(a); // the table: 3
    await flush(b); // the table: 5, and B learns it
    assert.deepEqual(await hitsOf(b, NOW + 3), { hits: 6, windowEndsAt: NOW + 10 }, 'B sees A\'s hits, in the window the table decides');
    // A last learned 3: B's hits reach it with the flush of its next hit (the documented bound).
    assert.deepEqual(await hitsOf(a, NOW + 3), { hits: 4, windowEndsAt: NOW + 10 });
    await flush(a); // the table: 6 (A's 4th; B's 6th is still pending at B), and A learns it
    assert.deepEqual(await hitsOf(a, NOW + 4), { hits: 7, windowEndsAt: NOW + 10 });
    await flush(b); // the table: 7
    await flush(a); // the table: 8, and A learns it
    const [row] = (await queryTestSchema(schema, 'SELECT hits, window_ends_at FROM rate_limit_windows WHERE limit_key = $1', [KEY])).rows;
    assert.deepEqual([Number(row!.hits), Number(row!.window_ends_at)], [8, NOW + 10], 'every hit of both reached the table once');
    assert.deepEqual(await hitsOf(a, NOW + 4), { hits: 9, windowEndsAt: NOW + 10 }, 'converged: A counts every hit of both');
    await flush(a);
  });

  it('a window that ended restarts, in both instances and in the table', async () => {
    const key = `token:address:${randomBytes(4).join('.')}`;
    assert.equal((await hitsOf(a, NOW, key)).hits, 1);
    assert.equal((await hitsOf(b, NOW, key)).hits, 1);
    await flush(a);
    await flush(b); // the table: 2, window ends NOW + 10
    assert.deepEqual(await hitsOf(a, NOW + 10, key), { hits: 1, windowEndsAt: NOW + 20 }, 'at its end the window starts over');
    await flush(a); // the table restarts the window with A's hit
    assert.deepEqual(await hitsOf(b, NOW + 11, key), { hits: 1, windowEndsAt: NOW + 21 }, 'B: provisional until it flushes');
    await flush(b);
    assert.deepEqual(await hitsOf(b, NOW + 11, key), { hits: 3, windowEndsAt: NOW + 20 });
    await flush(b);
  });
});

describe('shared rate-limit counters: a flush while the database is unreachable (issue 12; SPEC decision 18)', { skip }, () => {
  const schema = newTestSchema();
  let proxy: TcpProxy;
  let storage: Storage;
  const reported: Error[] = [];
  before(async () => {
    const database = new URL(TEST_DATABASE_URL);
    proxy = await startTcpProxy({ host: database.hostname, port: Number(database.port || 5432) });
    storage = await createPostgresStorage(proxy.urlThrough(TEST_DATABASE_URL), {
      schema, poolSize: 2, connectionTimeoutMillis: 2_000, clientCacheEntries: 0, onConnectionError: (error) => reported.push(error), ...BY_HAND,
    });
  });
  after(async () => {
    proxy?.restore();
    await storage?.close();
    await proxy?.close();
    await dropTestSchema(schema);
  });

  it('throws nothing, reports once, keeps the hits and sends them when the database is back', async () => {
    assert.equal((await hitsOf(storage, NOW)).hits, 1);
    assert.equal((await hitsOf(storage, NOW)).hits, 2);
    proxy.cut();
    await flush(storage); // resolves: nothing thrown
    await flush(storage); // the outage goes on: not reported again
    const flushReports = reported.filter((error) => error.message.startsWith('rate-limit counters: flush failed'));
    assert.equal(flushReports.length, 1, reported.map((error) => error.message).join('\n'));
    assert.equal((await hitsOf(storage, NOW + 1)).hits, 3, 'still counting in this instance, the unsent hits included');
    proxy.restore();
    await flush(storage);
    const [row] = (await queryTestSchema(schema, 'SELECT hits FROM rate_limit_windows WHERE limit_key = $1', [KEY])).rows;
    assert.equal(Number(row!.hits), 3, 'the hits kept through the outage reached the table, each once');
    assert.equal((await hitsOf(storage, NOW + 1)).hits, 4);
  });
});

describe('shared rate-limit counters: timer and memory (no database: a driver that answers as the table would for one instance)', () => {
  /** A stand-in PostgreSQL driver: records each flush's keys and answers each key's delta in its provisional window. */
  function fakeDriver(fail = false) {
    const flushes: string[][] = [];
    const driver = {
      dialect: 'postgres',
      async all(_text: string, params: SqlParams = []) {
        const [keys, ends, deltas] = params as [string[], number[], number[]];
        flushes.push(keys);
        if (fail) throw new Error('unreachable');
        return keys.map((key, i) => ({ limit_key: key, hits: deltas[i], window_ends_at: ends[i] }));
      },
    } as unknown as SqlDriver;
    return { driver, flushes };
  }
  /** A timer the test ticks; records whether it was stopped. */
  function handTimer() {
    const timer = { tick: () => {}, intervalMs: 0, stopped: false };
    const startTimer = (tick: () => void, intervalMs: number) => {
      timer.tick = tick;
      timer.intervalMs = intervalMs;
      return { stop: () => void (timer.stopped = true) };
    };
    return { timer, startTimer };
  }

  it('the timer flushes every flushIntervalMs with one statement for the sorted pending keys, and sends nothing when idle', async () => {
    const { driver, flushes } = fakeDriver();
    const { timer, startTimer } = handTimer();
    const counters = createSharedRateLimitStore(driver, { flushIntervalMs: 100, startTimer });
    assert.equal(timer.intervalMs, 100);
    await counters.hit(['token:client:b', 'token:address:a'], 10, NOW);
    timer.tick();
    await counters.flush(); // waits for the tick's flush
    assert.deepEqual(flushes, [['token:address:a', 'token:client:b']]);
    timer.tick();
    await counters.flush();
    assert.equal(flushes.length, 1, 'nothing pending: no statement');
    await counters.close();
  });

  it('the default timer keeps nothing alive (unref\'d); close stops the timer and flushes what is pending once', async () => {
    const timeouts = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
    const before = timeouts();
    const real = createSharedRateLimitStore(fakeDriver().driver);
    assert.equal(timeouts(), before, 'the flush timer does not hold the event loop');
    await real.close();

    const { driver, flushes } = fakeDriver();
    const { timer, startTimer } = handTimer();
    const counters = createSharedRateLimitStore(driver, { startTimer });
    await counters.hit(['token:client:c'], 10, NOW);
    await counters.close();
    assert.equal(timer.stopped, true);
    assert.deepEqual(flushes, [['token:client:c']], 'the pending hit was flushed on close');
    await counters.close(); // twice: nothing more
    assert.equal(flushes.length, 1);
  });

  it('a failing flush resolves, keeps the hits, and is reported to onFlushError once while it keeps failing', async () => {
    const { driver } = fakeDriver(true);
    const errors: unknown[] = [];
    const counters = createSharedRateLimitStore(driver, { startTimer: handTimer().startTimer, onFlushError: (error) => errors.push(error) });
    await counters.hit(['k'], 10, NOW);
    await counters.flush();
    await counters.flush();
    assert.equal(errors.length, 1);
    assert.deepEqual(await counters.hit(['k'], 10, NOW), [{ hits: 2, windowEndsAt: NOW + 10 }]);
    await counters.close();
  });

  it('forgets windows that ended (pending hits of an ended window are not sent), and at maxKeys the window that started first', async () => {
    const { driver, flushes } = fakeDriver();
    const counters = createSharedRateLimitStore(driver, { maxKeys: 2, startTimer: handTimer().startTimer });
    await counters.hit(['long'], 60, NOW);
    await counters.hit(['short'], 5, NOW + 1);
    // At NOW + 10 `short` has ended: a new key takes its place, and `long` keeps its count.
    await counters.hit(['new'], 10, NOW + 10);
    assert.deepEqual(await counters.hit(['long'], 60, NOW + 10), [{ hits: 2, windowEndsAt: NOW + 60 }]);
    await counters.flush();
    assert.deepEqual(flushes, [['long', 'new']], 'the ended window\'s hit was not sent');
    // Full of current windows: the one that started first (`long`) goes.
    await counters.hit(['newer'], 10, NOW + 11);
    assert.deepEqual(await counters.hit(['long'], 60, NOW + 11), [{ hits: 1, windowEndsAt: NOW + 71 }]);
    for (const wrong of [0, -1, 1.5]) {
      assert.throws(() => createSharedRateLimitStore(driver, { maxKeys: wrong }), RangeError);
      assert.throws(() => createSharedRateLimitStore(driver, { flushIntervalMs: wrong }), RangeError);
    }
    await counters.close();
  });
});
