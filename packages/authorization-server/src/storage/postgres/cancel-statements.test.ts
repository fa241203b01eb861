/**
 * Shutdown's deadline on PostgreSQL (Storage.cancelStatements, operations/shutdown.ts): what runs is
 * cancelled, and what was still waiting for a connection never starts — a statement that outside a
 * transaction commits on its own must not run, and commit, once the lock it would wait on goes.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import { StorageUnavailableError } from '../storage-unavailable.ts';
import { createTestPostgresStorage, eventually, postgresSkipReason, TEST_DATABASE_URL } from '../../testing/postgres.ts';

const skip = await postgresSkipReason();

describe('PostgreSQL cancelStatements (shutdown\'s deadline)', { skip }, () => {
  it('cancels the running statement, and one queued for the pool\'s only connection never runs, even after the lock goes', async () => {
    const storage = await createTestPostgresStorage({ poolSize: 1, clientCacheEntries: 0 });
    const locker = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await locker.connect();
    try {
      const userId = randomUUID();
      await storage.users.create({ userId, email: `${userId}@example.com`, name: 'Queued', passwordHash: 'before' });
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${storage.schema}.users IN ACCESS EXCLUSIVE MODE`);
      const running = storage.users.find(userId); // holds the one connection, waiting on the lock
      const queued = storage.users.setPasswordHash(userId, 'written after the deadline'); // waits for that connection
      running.catch(() => {});
      queued.catch(() => {});
      await eventually('the first statement waits on the lock', async () => {
        const waiting = await locker.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
        return waiting.rows[0]!.n > 0;
      });

      assert.equal(await storage.cancelStatements!(), 1);
      await assert.rejects(running, StorageUnavailableError);
      // The lock goes before the queued statement has settled: had it started, it would now commit.
      await locker.query('COMMIT');
      await assert.rejects(queued, StorageUnavailableError, 'the queued statement got the connection after the deadline and did not start');
      await new Promise((resolve) => setTimeout(resolve, 200));
      const row = await locker.query<{ password_hash: string }>(`SELECT password_hash FROM ${storage.schema}.users WHERE user_id = $1`, [userId]);
      assert.equal(row.rows[0]!.password_hash, 'before', 'nothing committed after the deadline');
      await assert.rejects(storage.users.find(userId), StorageUnavailableError, 'and nothing new starts');
    } finally {
      await locker.query('ROLLBACK').catch(() => {});
      await locker.end();
      await storage.close();
    }
  });
});
