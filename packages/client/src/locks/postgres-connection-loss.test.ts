/**
 * Issue 11 item 2 on the partner side: the refresh lock holds a connection of its own while the refresh runs;
 * if its backend dies meanwhile (terminated, restarted, network cut), the process must not exit, the hold
 * must say the lock is lost, no connection of the pool is involved, and the next lock must work. Only this test's own
 * backends are terminated (by `application_name`; the database is shared).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { LockLostError } from '../errors.ts';
import { postgresSkipReason, POSTGRES_URL } from '../testing/services.ts';
import { createPostgresLock, type PostgresRefreshLock } from './postgres.ts';

const skip = await postgresSkipReason();
const APPLICATION_NAME = `gh_test_h2_lock_${randomBytes(6).toString('hex')}`;

describe('PostgreSQL refresh lock when its connection dies', { skip: skip ?? false, timeout: 20_000 }, () => {
  let pool: pg.Pool;
  let lock: PostgresRefreshLock | undefined;
  let admin: pg.Client;
  before(async () => {
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('application_name', APPLICATION_NAME);
    pool = new pg.Pool({ connectionString: url.href, max: 2 });
    pool.on('error', () => {});
    admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
  });
  after(async () => {
    await lock?.close();
    await admin?.end();
    await pool?.end();
  });

  it('survives the lock backend being terminated during the work, discards that connection, and locks again', async () => {
    lock = createPostgresLock({ pool, namespace: `client-test-${APPLICATION_NAME}` });
    let signal: AbortSignal | undefined;
    const result = await lock.withLock('connection-1', async (hold) => {
      signal = hold!.signal;
      const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [APPLICATION_NAME]);
      assert.equal(rows.length, 1, 'the lock holds one connection');
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      // Wait, while the lock is held, until the termination reached the client: its socket closed, it emitted
      // 'error' or 'end', and the hold's signal said so (bounded by the suite's timeout).
      if (!signal.aborted) await once(signal, 'abort');
      return 'refreshed';
    });
    assert.equal(result, 'refreshed', 'the work itself completed');
    assert.ok(signal?.aborted && signal.reason instanceof LockLostError, 'the hold says the lock was lost');
    assert.equal(pool.totalCount, 0, 'the lock never took a connection from the pool');
    assert.equal(await lock.withLock('connection-1', async () => 'again'), 'again');
  });
});
