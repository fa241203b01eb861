/**
 * PostgreSQL: the last-use recorder's batch (stores/last-uses.ts) locks its rows in key order, the order in which a
 * suspension or a deletion locks a client's grants (`clients.changeStatus`, `grants.revokeAllOfClient`).
 * Before, the batch's UPDATE locked rows in the order its plan met them, and the two could deadlock: PostgreSQL then
 * aborted one of them (the driver retries it, at the cost of a deadlock_timeout). A second connection holds the later grant's lock in an open
 * transaction; the batch, sent in the opposite order, must have taken the earlier grant's lock before it waits.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Storage } from '../storage.ts';
import { createTestPostgresStorage, postgresSkipReason, TEST_DATABASE_URL } from '../../testing/postgres.ts';
import { fixture, issueGrant, NOW } from '../contract/fixtures.ts';

const skip = await postgresSkipReason();

describe('PostgreSQL: the last-use batch locks its rows in key order', { skip }, () => {
  let storage: Storage & { schema: string };
  before(async () => {
    storage = await createTestPostgresStorage();
  });
  after(async () => {
    await storage?.close();
  });

  const connect = async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${storage.schema}` });
    await client.connect();
    return client;
  };

  it('grants.recordUses with [later, earlier] holds the earlier grant while it waits for the later one (no deadlock with a suspension)', async () => {
    const f = await fixture(storage);
    const grants = [(await issueGrant(storage, f, NOW)).grant, (await issueGrant(storage, f, NOW)).grant];
    const [earlier, later] = grants.map((grant) => grant.grantId).sort();
    const holder = await connect();
    const prober = await connect();
    const observer = await connect();
    try {
      await holder.query('BEGIN');
      const holderPid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      await holder.query('SELECT 1 FROM grants WHERE grant_id = $1 FOR UPDATE', [later]);
      const recording = storage.grants.recordUses([{ id: later!, usedAt: NOW + 120 }, { id: earlier!, usedAt: NOW + 120 }], 60);
      let settled = false;
      recording.then(() => { settled = true; }, () => { settled = true; });
      for (;;) {
        assert.equal(settled, false, 'the batch finished without waiting for the held grant');
        const { rows } = await observer.query('SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))', [holderPid]);
        if (rows[0].waiting > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // A suspension locks the earlier grant first: the batch must already hold it, not be waiting for the later one
      // with nothing held (the interleaving that deadlocked).
      await prober.query('BEGIN');
      await assert.rejects(prober.query('SELECT 1 FROM grants WHERE grant_id = $1 FOR UPDATE NOWAIT', [earlier]), /could not obtain lock/);
      await prober.query('ROLLBACK');
      await holder.query('COMMIT');
      await recording;
      const { rows } = await prober.query('SELECT grant_id, last_used_at FROM grants WHERE grant_id = ANY ($1) ORDER BY grant_id', [[earlier, later]]);
      assert.deepEqual(rows.map((row) => Number(row.last_used_at)), [NOW + 120, NOW + 120]);
    } finally {
      await Promise.all([holder.end(), prober.end(), observer.end()]);
    }
  });
});
