/**
 * Review of the partner-side lock fixes, defects 4, 5 and 9 (PostgreSQL lock):
 * - the wait for a free lock connection (`maxConnections`) was not bounded by `lockTimeoutMilliseconds`;
 * - the lock was session-level (`pg_advisory_lock`, `SET lock_timeout` on an autocommit connection): behind a
 *   transaction-mode pooler both stay with the server connection and pass to other clients. Now it is
 *   `pg_advisory_xact_lock` in a transaction with `SET LOCAL lock_timeout`;
 * - a pool's `query_timeout`/`statement_timeout` below the lock timeout gave the waiter a raw error while its
 *   backend went on waiting for the lock.
 * Only this test's own backends are looked at (by application_name).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { LockTimeoutError } from '../errors.ts';
import { postgresSkipReason, POSTGRES_URL } from '../testing/services.ts';
import { createPostgresLock, type PostgresLockOptions, type PostgresRefreshLock } from './postgres.ts';

const skip = await postgresSkipReason();
const APPLICATION_NAME = `gh_test_lock_bounds_${randomBytes(6).toString('hex')}`;

describe('PostgreSQL refresh lock bounds', { skip: skip ?? false, timeout: 30_000 }, () => {
  let admin: pg.Client;
  const pools: pg.Pool[] = [];
  const locks: PostgresRefreshLock[] = [];
  const lockWith = (options: PostgresLockOptions) => {
    const lock = createPostgresLock(options);
    locks.push(lock);
    return lock;
  };
  const poolWith = (options: pg.PoolConfig = {}) => {
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('application_name', APPLICATION_NAME);
    const pool = new pg.Pool({ connectionString: url.href, max: 1, ...options });
    pools.push(pool);
    return pool;
  };
  before(async () => {
    admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
  });
  after(async () => {
    await Promise.all(locks.map((lock) => lock.close()));
    await admin?.end();
    await Promise.all(pools.map((pool) => pool.end()));
  });
  const namespace = `client-test-${APPLICATION_NAME}`;

  it('counts the wait for a free lock connection toward the lock timeout (LockTimeoutError)', async () => {
    const lock = lockWith({ pool: poolWith(), namespace, maxConnections: 1, lockTimeoutMilliseconds: 200 });
    const letGo = Promise.withResolvers<void>();
    const held = Promise.withResolvers<void>();
    const holder = lock.withLock('slot-a', async () => {
      held.resolve();
      await letGo.promise;
      return 'a';
    });
    try {
      await held.promise;
      await assert.rejects(lock.withLock('slot-b', async () => 'b'), LockTimeoutError);
      letGo.resolve();
      assert.equal(await holder, 'a');
      assert.equal(await lock.withLock('slot-b', async () => 'b'), 'b', 'the timed-out waiter left no claim on the slot');
    } finally {
      letGo.resolve();
    }
  });

  it('holds a transaction-scoped advisory lock with transaction-local settings (nothing left on the session)', async () => {
    const lock = lockWith({ pool: poolWith(), namespace });
    const seen = await lock.withLock('xact', async () => {
      const { rows } = await admin.query<{ state: string; query: string }>(
        'SELECT state, query FROM pg_stat_activity WHERE application_name = $1', [APPLICATION_NAME]);
      return rows;
    });
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.state, 'idle in transaction', 'the lock is held inside a transaction');
    assert.match(seen[0]!.query, /pg_advisory_xact_lock/);
  });

  it('with a pool\'s query_timeout and statement_timeout below the lock timeout: LockTimeoutError, and no backend left waiting', async () => {
    const lock = lockWith({ pool: poolWith({ query_timeout: 50, statement_timeout: 50 }), namespace, lockTimeoutMilliseconds: 300 });
    const letGo = Promise.withResolvers<void>();
    const held = Promise.withResolvers<void>();
    const holder = lock.withLock('contended', async () => {
      held.resolve();
      await letGo.promise;
    });
    try {
      await held.promise;
      await assert.rejects(lock.withLock('contended', async () => 'never'), LockTimeoutError);
      const { rows } = await admin.query(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [APPLICATION_NAME]);
      assert.equal(rows.length, 0, 'no backend of this test still waits for the lock');
    } finally {
      letGo.resolve();
    }
    await holder;
  });

  it('a pool\'s idle_in_transaction_session_timeout below the work\'s duration does not end the lock', async () => {
    const lock = lockWith({ pool: poolWith({ idle_in_transaction_session_timeout: 100 }), namespace, livenessCheckMilliseconds: 1_000 });
    const aborted = await lock.withLock('idle-pool', async (hold) => {
      await new Promise((resolve) => setTimeout(resolve, 600));
      return hold!.signal.aborted;
    });
    assert.equal(aborted, false, 'the lock was held throughout the work');
  });

  it('a healthy hold longer than its idle_in_transaction_session_timeout is kept by the liveness checks', async () => {
    // livenessCheckMilliseconds 50: the lock's transaction idles out after 1 050 ms without a check.
    const lock = lockWith({ pool: poolWith(), namespace, livenessCheckMilliseconds: 50 });
    const aborted = await lock.withLock('idle-long', async (hold) => {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      return hold!.signal.aborted;
    });
    assert.equal(aborted, false);
  });

  it('close() while a withLock waits for a free lock connection: the waiter rejects at once (lock closed) and opens no connection; the holder\'s signal is aborted', async () => {
    const lock = lockWith({ pool: poolWith(), namespace, maxConnections: 1, lockTimeoutMilliseconds: 20_000 });
    const letGo = Promise.withResolvers<void>();
    const held = Promise.withResolvers<AbortSignal>();
    const holder = lock.withLock('close-a', async (hold) => {
      const signal = hold!.signal;
      held.resolve(signal);
      await letGo.promise;
      return signal.aborted;
    });
    try {
      const signal = await held.promise;
      let ran = false;
      const waiter = lock.withLock('close-b', async () => {
        ran = true;
      });
      const waiterSettled = waiter.then(() => 'resolved', (error: Error) => error.message);
      await lock.close();
      assert.equal(signal.aborted, true, 'the hold\'s connection was ended: its lock is lost');
      // Before the fix the waiter took the slot the holder gave back after close() and opened a new connection.
      letGo.resolve();
      assert.equal(await holder, true);
      assert.match(await waiterSettled, /closed/);
      assert.equal(ran, false);
      const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [APPLICATION_NAME]);
      assert.equal(rows[0].n, 0, 'no lock connection is left open');
    } finally {
      letGo.resolve();
    }
  });
});
