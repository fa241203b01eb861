/**
 * PostgreSQL's lock order between a membership's removal (README "Directory": the user's unredeemed codes for the
 * subject are voided in the removal's transaction) and a code being stored for that user and subject with its
 * membership check (`onlyForAdministrator`: the consent decision, a reused consent). Under READ COMMITTED the
 * check read the membership as last committed, without waiting for a removal in flight, and the removal's void
 * did not see the code (not yet committed): the code outlived the removal and redeemed for a company its user
 * no longer administers. Likewise a company's deletion and a redemption of one of its codes in flight: the grant
 * the redemption commits must be revoked with the company's others. A second connection plays one side, holding
 * its locks in an open transaction, so the interleaving is made on purpose: the storage operation is seen waiting
 * on it (pg_blocking_pids), then it commits.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Storage } from '../storage.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../../testing/postgres.ts';
import { codeRecord, fixture, NOW } from '../contract/fixtures.ts';
import { holdLocks } from './lock-holder.ts';

const skip = await postgresSkipReason();

describe('PostgreSQL: a membership removal and a code stored for that membership in flight', { skip }, () => {
  let storage: Storage & { schema: string };
  before(async () => {
    storage = await createTestPostgresStorage();
  });
  after(async () => {
    await storage?.close();
  });

  it('a code whose membership check meets a removal in flight waits for it, and is then not stored (no code outlives the removal)', async () => {
    const f = await fixture(storage);
    const removal = await holdLocks(storage.schema);
    try {
      // The removal as stores/directory.ts removeMembership runs it: the row deleted, the user's unredeemed codes
      // for the subject voided, not yet committed.
      await removal.query('DELETE FROM subject_administrators WHERE user_id = $1 AND subject_type = $2 AND subject_id = $3', [f.user.userId, 'company', f.company.subjectId]);
      await removal.query(
        'UPDATE authorization_codes SET consumed_at = COALESCE(consumed_at, $1), replayed_at = COALESCE(replayed_at, $1) WHERE grant_id IS NULL AND user_id = $2 AND subject_type = $3 AND subject_id = $4',
        [NOW, f.user.userId, 'company', f.company.subjectId],
      );
      const code = codeRecord(f);
      const stored = storage.authorizationCodes.create(code, undefined, { onlyForAdministrator: true });
      // Throws unless the check waits for the removal in flight.
      await removal.waitingOn(stored);
      await removal.end();
      const created = await stored;
      const found = await storage.authorizationCodes.find(code.codeDigest, f.client.clientId);
      assert.equal(created, false, 'the code was not stored');
      assert.equal(found, undefined, 'no code of the removed membership exists, voided or not');
    } finally {
      await removal.close();
    }
  });

  it('a company deleted while one of its codes is being redeemed revokes the grant that redemption commits (none outlives the company)', async () => {
    const f = await fixture(storage);
    const code = codeRecord(f);
    assert.equal(await storage.authorizationCodes.create(code), true);
    const redemption = await holdLocks(storage.schema);
    const grantId = randomUUID();
    try {
      // A redemption in flight, as the token endpoint's: the code consumed and its grant written, not yet committed.
      await redemption.query('UPDATE authorization_codes SET consumed_at = $1 WHERE code_digest = $2 AND consumed_at IS NULL', [NOW + 1, code.codeDigest]);
      await redemption.query(
        "INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at) VALUES ($1, $2, $3, 'company', $4, 'users:read', $5)",
        [grantId, f.client.clientId, f.user.userId, f.company.subjectId, NOW + 1],
      );
      await redemption.query('UPDATE authorization_codes SET grant_id = $1 WHERE code_digest = $2', [grantId, code.codeDigest]);
      const deletion = storage.directory.deleteSubject('company', f.company.subjectId, NOW + 2, 'company_deleted');
      await redemption.waitingOn(deletion);
      await redemption.end();
      const outcome = await deletion;
      assert.equal(outcome.outcome, 'deleted');
      const grant = await storage.grants.find(grantId);
      assert.ok(grant, 'the redemption committed its grant');
      assert.notEqual(grant.revokedAt, null, 'the grant of the deleted company is revoked');
      assert.equal(grant.revocationReason, 'company_deleted');
      assert.equal(outcome.outcome === 'deleted' ? outcome.grantsRevoked : -1, 1);
    } finally {
      await redemption.close();
    }
  });
});
