/**
 * A code stored for an administrator while their membership is being removed (PostgreSQL, several instances):
 * the code's insert holds the membership row (FOR KEY SHARE) until it commits, so the removal waits for it and
 * then voids it (directory deleteMembership). Without the lock, a removal committing between the insert's
 * check and its commit voided nothing, and the code outlived the right to consent that produced it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { codeRecord, fixture, NOW } from '../contract/fixtures.ts';
import { numberPlaceholders } from '../sql/driver.ts';
import type { Storage } from '../storage.ts';
import { codeForAdministratorValues, insertCodeForAdministrator } from '../stores/authorization-codes.ts';
import { createTestPostgresStorage, eventually, postgresSkipReason, TEST_DATABASE_URL } from '../../testing/postgres.ts';

const skip = await postgresSkipReason();

describe('removing a membership while a code for it commits (PostgreSQL)', { skip }, () => {
  let storage: Storage & { schema: string };
  let side: pg.Client;
  before(async () => {
    storage = await createTestPostgresStorage();
    side = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${storage.schema}` });
    await side.connect();
  });
  after(async () => {
    await side?.end();
    await storage?.close();
  });

  it('the removal waits for the code, then voids it', async () => {
    const f = await fixture(storage);
    const code = codeRecord(f);
    // Another instance stores the code for the administrator, and has not committed yet.
    await side.query('BEGIN');
    const inserted = await side.query(numberPlaceholders(insertCodeForAdministrator('postgres')), codeForAdministratorValues(code));
    assert.equal(inserted.rowCount, 1);
    const removal = storage.directory.deleteMembership(f.user.userId, { subjectType: f.company.subjectType, subjectId: f.company.subjectId }, NOW + 1);
    await eventually('the removal waits on the membership row', async () => {
      const waiting = await side.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%DELETE FROM subject_administrators%'");
      return waiting.rows[0].n > 0;
    });
    await side.query('COMMIT');
    assert.equal(await removal, true);
    assert.equal((await storage.authorizationCodes.consume(code.codeDigest, NOW + 2)).outcome, 'replayed', 'the code was voided');
  });
});
