/**
 * The PostgreSQL advisory lock. Its connections are `pg.Client`s outside the pools, so a parked holder left
 * unresolved by a failed assertion would keep the test process alive: every parked holder is let go in a
 * `finally`, every lock is closed in `after`, and the suite has a timeout.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { LockLostError, LockTimeoutError } from '../errors.ts';
import { postgresSkipReason, POSTGRES_URL } from '../testing/services.ts';
import { advisoryKey, createPostgresLock, type PostgresLockOptions, type PostgresRefreshLock } from './postgres.ts';

const skip = await postgresSkipReason();
const APPLICATION_NAME = `gh_test_lock_${randomBytes(6).toString('hex')}`;

describe('PostgreSQL advisory lock', { skip: skip ?? false, timeout: 30_000 }, () => {
  // Two pools stand for two processes: advisory locks exclude across sessions.
  let first: pg.Pool;
  let second: pg.Pool;
  let admin: pg.Client;
  const namespace = `client-test-${process.pid}-${Date.now()}`;
  const locks: PostgresRefreshLock[] = [];
  const lockOn = (pool: pg.Pool, options: Partial<PostgresLockOptions> = {}) => {
    const lock = createPostgresLock({ pool, namespace, ...options });
    locks.push(lock);
    return lock;
  };
  before(async () => {
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('application_name', APPLICATION_NAME);
    first = new pg.Pool({ connectionString: url.href, max: 2 });
    second = new pg.Pool({ connectionString: url.href, max: 2 });
    admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
  });
  after(async () => {
    await Promise.all(locks.map((lock) => lock.close()));
    await admin?.end();
    await first?.end();
    await second?.end();
  });

  async function waitUntilSomeoneWaits(key: string): Promise<void> {
    const objid = BigInt.asUintN(32, BigInt(advisoryKey(namespace, key)));
    for (let attempt = 0; attempt < 500; attempt++) {
      const { rows } = await admin.query("SELECT count(*)::int AS waiting FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1", [objid.toString()]);
      if (rows[0].waiting > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.fail(`nobody waited for "${key}" within 5 s`);
  }

  it('lets one session hold a key while another waits, then hands it over', async () => {
    const a = lockOn(first);
    const b = lockOn(second);
    const release = Promise.withResolvers<void>();
    const entered = Promise.withResolvers<void>();
    const order: string[] = [];
    const holder = a.withLock('connection-1', async () => {
      order.push('a in');
      entered.resolve();
      await release.promise;
      order.push('a out');
    });
    try {
      await entered.promise;
      const waiter = b.withLock('connection-1', async () => {
        order.push('b in');
      });
      await waitUntilSomeoneWaits('connection-1');
      assert.deepEqual(order, ['a in']);
      release.resolve();
      await Promise.all([holder, waiter]);
      assert.deepEqual(order, ['a in', 'a out', 'b in']);
    } finally {
      release.resolve();
    }
  });

  it('gives up with LockTimeoutError after lockTimeoutMilliseconds, and releases a lock whose work threw', async () => {
    const a = lockOn(first);
    const impatient = lockOn(second, { lockTimeoutMilliseconds: 50 });
    const release = Promise.withResolvers<void>();
    const entered = Promise.withResolvers<void>();
    const holder = a.withLock('connection-2', async () => {
      entered.resolve();
      await release.promise;
      throw new Error('work failed');
    });
    try {
      await entered.promise;
      await assert.rejects(impatient.withLock('connection-2', async () => 'never'), LockTimeoutError);
      release.resolve();
      await assert.rejects(holder, /work failed/);
      // Not the impatient lock: its 50 ms also bound opening its connection, which a loaded machine may take longer for.
      assert.equal(await lockOn(second).withLock('connection-2', async () => 'free again'), 'free again');
    } finally {
      release.resolve();
      await holder.catch(() => {});
    }
  });

  it('close() ends the lock connections open now (the hold learns its lock is lost) and refuses later locks', async () => {
    const lock = createPostgresLock({ pool: first, namespace, releaseTimeoutMilliseconds: 500 });
    locks.push(lock);
    const entered = Promise.withResolvers<AbortSignal>();
    const letGo = Promise.withResolvers<void>();
    const holder = lock.withLock('closing', async (hold) => {
      entered.resolve(hold!.signal);
      await letGo.promise;
      return 'done';
    });
    try {
      const signal = await entered.promise;
      await lock.close();
      if (!signal.aborted) await once(signal, 'abort');
      assert.ok(signal.reason instanceof LockLostError);
      const { rows } = await admin.query("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE '%pg_advisory_xact_lock%'", [APPLICATION_NAME]);
      assert.equal(rows.length, 0, 'no lock backend is left');
      await assert.rejects(lock.withLock('closing', async () => 'never'), /closed/);
    } finally {
      letGo.resolve();
    }
    assert.equal(await holder, 'done');
  });
});
