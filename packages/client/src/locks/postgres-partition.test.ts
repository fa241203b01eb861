/**
 * Review of the partner-side lock fixes, defect 1: on a silently dead lock connection (a network partition,
 * here a TCP proxy that stops forwarding without closing anything) `withLock` awaited `connection.end()`
 * without a bound: a finished refresh never returned and its `maxConnections` slot was never given back; and
 * nothing told the holder that its lock was gone. Now the work's result is returned at once, the release runs
 * in the background (its socket destroyed after `releaseTimeoutMilliseconds`), the slot is given back at
 * once, and a connection that does not answer a liveness check aborts the hold's signal.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import { LockLostError } from '../errors.ts';
import { startFreezingProxy, type FreezingProxy } from '../testing/freezing-proxy.ts';
import { postgresSkipReason, POSTGRES_URL } from '../testing/services.ts';
import { createPostgresLock, type PostgresRefreshLock } from './postgres.ts';

const skip = await postgresSkipReason();
const APPLICATION_NAME = `gh_test_partition_${randomBytes(6).toString('hex')}`;

describe('PostgreSQL refresh lock on a silently dead connection', { skip: skip ?? false, timeout: 30_000 }, () => {
  let proxy: FreezingProxy;
  let pool: pg.Pool;
  const locks: PostgresRefreshLock[] = [];
  let admin: pg.Client;
  before(async () => {
    admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
  });
  after(async () => {
    // The backends behind the frozen proxy: only this test's own (by application_name).
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [APPLICATION_NAME]);
    await admin.end();
  });
  beforeEach(async () => {
    const target = new URL(POSTGRES_URL);
    proxy = await startFreezingProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const url = new URL(POSTGRES_URL);
    url.port = String(proxy.port);
    url.searchParams.set('application_name', APPLICATION_NAME);
    pool = new pg.Pool({ connectionString: url.href, max: 1 });
  });
  afterEach(async () => {
    await Promise.all(locks.splice(0).map((lock) => lock.close()));
    await proxy.close();
    await pool.end();
  });

  it('returns the finished work\'s result at once, and gives its connection slot back once the frozen release is cut off', async () => {
    const lock = createPostgresLock({ pool, namespace: `client-test-${APPLICATION_NAME}`, maxConnections: 1, releaseTimeoutMilliseconds: 100, lockTimeoutMilliseconds: 5_000 });
    locks.push(lock);
    const result = await lock.withLock('connection-1', async () => {
      proxy.freeze();
      return 'refreshed';
    });
    assert.equal(result, 'refreshed');
    // The only slot is free again once the release's socket is destroyed: another key locks on a new (forwarded) connection.
    assert.equal(await lock.withLock('connection-2', async () => 'next'), 'next');
  });

  it('aborts the hold\'s signal when the connection stops answering', async () => {
    const lock = createPostgresLock({ pool, namespace: `client-test-${APPLICATION_NAME}`, livenessCheckMilliseconds: 50, releaseTimeoutMilliseconds: 100 });
    locks.push(lock);
    const reason = await lock.withLock('connection-3', async (hold) => {
      proxy.freeze();
      if (!hold!.signal.aborted) await once(hold!.signal, 'abort');
      return hold!.signal.reason;
    });
    assert.ok(reason instanceof LockLostError);
    assert.match(reason.message, /did not answer/);
  });

  it('after a loss found by the liveness check, the server ends the stranded backend and another instance gets the lock', async () => {
    const namespace = `client-test-${APPLICATION_NAME}`;
    const lock = createPostgresLock({ pool, namespace, livenessCheckMilliseconds: 50, releaseTimeoutMilliseconds: 100 });
    locks.push(lock);
    const { rows: [before] } = await admin.query<{ count: number }>('SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = $1', [APPLICATION_NAME]);
    const reason = await lock.withLock('connection-4', async (hold) => {
      proxy.freeze();
      if (!hold!.signal.aborted) await once(hold!.signal, 'abort');
      return hold!.signal.reason;
    });
    assert.ok(reason instanceof LockLostError);
    // The backend behind the frozen proxy is idle in transaction, holding the advisory lock: the server ends it
    // itself (idle_in_transaction_session_timeout, 1 050 ms here), so a direct connection gets the lock soon.
    const direct = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    const other = createPostgresLock({ pool: direct, namespace, lockTimeoutMilliseconds: 5_000 });
    try {
      assert.equal(await other.withLock('connection-4', async () => 'second holder'), 'second holder');
      const { rows: [after] } = await admin.query<{ count: number }>('SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = $1', [APPLICATION_NAME]);
      assert.ok(after!.count <= before!.count, 'the stranded backend is gone');
    } finally {
      await other.close();
      await direct.end();
    }
  });

  it('keeps the slot while a frozen release runs, so maxConnections bounds the open connections', async () => {
    const lock = createPostgresLock({ pool, namespace: `client-test-${APPLICATION_NAME}`, maxConnections: 1, releaseTimeoutMilliseconds: 800, lockTimeoutMilliseconds: 5_000 });
    locks.push(lock);
    const started = performance.now();
    assert.equal(await lock.withLock('connection-5', async () => {
      proxy.freeze();
      return 'refreshed';
    }), 'refreshed');
    assert.ok(performance.now() - started < 500, 'the result did not wait for the release');
    assert.equal(proxy.connections, 1, 'the frozen connection is still open');
    // Same lock object, so the same slots: the frozen release still holds the only one.
    const waited = performance.now();
    assert.equal(await lock.withLock('connection-6', async () => 'next'), 'next');
    assert.ok(performance.now() - waited >= 400, 'the next holder waited for the frozen release to be cut off');
  });
});
