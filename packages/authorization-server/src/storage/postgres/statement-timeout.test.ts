/**
 * A stuck lock or database must not hold a request (and a pooled connection) forever: PostgreSQL cancels
 * a statement after `statementTimeoutMillis` (statement_timeout), and the operation fails with
 * StorageUnavailableError — a 503 with Retry-After at the HTTP layer (SPEC decision 18) — then works again
 * as soon as the lock is gone, without a restart.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { isStorageUnavailable } from '../storage-unavailable.ts';
import type { Storage } from '../storage.ts';
import { createTestPostgresStorage, postgresSkipReason, TEST_DATABASE_URL } from '../../testing/postgres.ts';
import { createCompany, fixture, issueGrant, NOW, tokenPair } from '../contract/fixtures.ts';

const skip = await postgresSkipReason();

describe('PostgreSQL statement timeout', { skip }, () => {
  let storage: Storage & { schema: string };
  before(async () => {
    storage = await createTestPostgresStorage({ statementTimeoutMillis: 300 });
  });
  after(async () => {
    await storage?.close();
  });

  it('a statement waiting on a stuck lock fails as unavailable after the timeout, and the next one succeeds once the lock is gone', async () => {
    await storage.settings.getOrCreate('probe', () => 'first');
    const holder = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${storage.schema}` });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE settings IN ACCESS EXCLUSIVE MODE');
      const started = performance.now();
      const error = await storage.settings.list('probe').then(() => undefined, (caught: unknown) => caught);
      const waitedMillis = performance.now() - started;
      assert.ok(isStorageUnavailable(error), `expected StorageUnavailableError, got ${String(error)}`);
      assert.ok(waitedMillis >= 250 && waitedMillis < 5_000, `cancelled after ${Math.round(waitedMillis)} ms`);
      await holder.query('ROLLBACK');
      assert.deepEqual(await storage.settings.list('probe'), [{ name: 'probe', value: 'first' }]);
    } finally {
      await holder.end();
    }
  });

  it("a batch cancelled on one rotation's locked grant answers the others: only that rotation fails (unavailable), and it works once the lock is gone", async () => {
    const f = await fixture(storage);
    const issued = await Promise.all([0, 1, 2].map(async () => issueGrant(storage, f, NOW, { subjectId: (await createCompany(storage)).subjectId })));
    const locked = issued[1]!;
    const holder = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${storage.schema}` });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM grants WHERE grant_id = $1 FOR UPDATE', [locked.grant.grantId]); // a long revocation, say
      // One turn: the three rotations go as one batch, which waits on the locked grant until statement_timeout.
      const outcomes = await Promise.allSettled(issued.map(({ grant, refresh }) => storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, tokenPair(grant, NOW + 10))));
      assert.deepEqual(outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : 'rejected')), ['rotated', 'rejected', 'rotated']);
      assert.ok(isStorageUnavailable((outcomes[1] as PromiseRejectedResult).reason), 'the waiting rotation: 503');
      assert.equal((await storage.tokens.findByDigest(issued[0]!.refresh.tokenDigest))!.token.rotatedAt, NOW + 10);
      assert.equal((await storage.tokens.findByDigest(locked.refresh.tokenDigest))!.token.rotatedAt, null, 'nothing of it stored');
      assert.equal((await storage.tokens.findByDigest(locked.access.tokenDigest))!.token.revokedAt, null);
      await holder.query('ROLLBACK');
      assert.equal(await storage.tokens.rotateRefreshToken(locked.refresh.tokenDigest, NOW + 20, tokenPair(locked.grant, NOW + 20)), 'rotated', 'a retry once the lock is gone');
    } finally {
      await holder.end();
    }
  });

  it('migrations are not bounded by it: a storage opened with a 1 ms timeout still migrates a fresh schema', async () => {
    const tiny = await createTestPostgresStorage({ statementTimeoutMillis: 1 });
    try {
      await tiny.checkReady().catch(() => {}); // a 1 ms budget may cancel even this; what matters is that opening succeeded
    } finally {
      await tiny.close();
    }
  });
});
