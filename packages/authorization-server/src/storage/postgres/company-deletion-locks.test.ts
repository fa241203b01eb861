/**
 * PostgreSQL: a company deleted (directory.deleteSubject) while one of its codes is being redeemed by the stored
 * functions themselves — `gatehouse_redeem_code` (grants.exchangeCode) and `gatehouse_exchange_ready_codes`
 * (grants.exchangeReadyCode), as migrations 47–51 left them — never leaves a live grant or a live token of the
 * deleted company (README "Directory": a company's deletion revokes every grant on it with its tokens, and voids
 * its unredeemed codes). Both orders are made on purpose with a second connection holding locks (lock-holder.ts):
 * - the redemption first: it holds the code row (FOR UPDATE) and waits on the client row (its FOR SHARE) that the
 *   other side holds; the deletion's void of the company's codes waits for the code row, so it sees the code
 *   redeemed (grant_id set, skipped), and its read of the company's grants, a statement of its own, sees the grant
 *   the redemption committed and revokes it with its tokens;
 * - the deletion first: it has voided the code (row locked) and waits on another grant of the company that the
 *   other side holds; the redemption waits for the code row, then reads it voided and redeems nothing.
 * membership-removal-locks.test.ts makes the first order with a redemption written by hand; this file drives the
 * functions.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Storage } from '../storage.ts';
import { createTestPostgresStorage, postgresSkipReason, queryTestSchema } from '../../testing/postgres.ts';
import { clientRecord, codeRecord, type Fixture, fixture, grantRecord, issueGrant, mintedPair, NOW, tokenPair } from '../contract/fixtures.ts';
import { holdLocks } from './lock-holder.ts';

const skip = await postgresSkipReason();

describe('PostgreSQL: a company deleted while one of its codes is being redeemed (gatehouse_redeem_code, gatehouse_exchange_ready_codes)', { skip }, () => {
  let storage: Storage & { schema: string };
  before(async () => {
    storage = await createTestPostgresStorage();
  });
  after(async () => {
    await storage?.close();
  });

  /** The company's grants and tokens still live: none may outlive its deletion. */
  const liveOfCompany = async (companyId: string) => (await queryTestSchema<{ grants: number; tokens: number }>(storage.schema,
    `SELECT (SELECT count(*)::int FROM grants WHERE subject_type = 'company' AND subject_id = $1 AND revoked_at IS NULL) AS grants,
            (SELECT count(*)::int FROM tokens t JOIN grants g ON g.grant_id = t.grant_id
              WHERE g.subject_type = 'company' AND g.subject_id = $1 AND t.revoked_at IS NULL) AS tokens`, [companyId])).rows[0]!;

  /** The two redemptions, each returning the grant it would create (for the checks) and the operation. */
  const redemptions = {
    'exchangeCode (gatehouse_redeem_code)': (f: Fixture, code: ReturnType<typeof codeRecord>, now: number) => {
      const grant = grantRecord(f, { createdAt: now, scope: code.scope });
      const tokens = tokenPair(grant, now);
      return { grantId: grant.grantId, tokenDigests: tokens.map((token) => token.tokenDigest), run: storage.grants.exchangeCode(code.codeDigest, f.client.clientId, now, grant, tokens) };
    },
    'exchangeReadyCode (gatehouse_exchange_ready_codes)': (f: Fixture, code: ReturnType<typeof codeRecord>, now: number) => {
      const grantId = randomUUID();
      const tokens = mintedPair(now);
      return {
        grantId, tokenDigests: tokens.map((token) => token.tokenDigest),
        run: storage.grants.exchangeReadyCode(code.codeDigest, f.client.clientId, now, {
          redirectUri: code.redirectUri, codeChallenge: code.codeChallenge, dpopJkt: null, defaultResourceScopes: code.scope,
        }, grantId, tokens),
      };
    },
  };

  for (const [name, redeem] of Object.entries(redemptions)) {
    it(`${name} in flight first: the deletion waits for it, then revokes the grant it committed with its tokens`, async () => {
      const f = await fixture(storage);
      const code = codeRecord(f, { issuedAt: NOW, expiresAt: NOW + 60 });
      await storage.authorizationCodes.create(code);
      const side = await holdLocks(storage.schema);
      try {
        // The client row, which the redemption locks (FOR SHARE) after the code row (FOR UPDATE).
        await side.query('SELECT 1 FROM clients WHERE client_id = $1 FOR NO KEY UPDATE', [f.client.clientId]);
        const redemption = redeem(f, code, NOW + 1);
        const redeemer = await side.waitingOn(redemption.run);
        const deletion = storage.directory.deleteSubject('company', f.company.subjectId, NOW + 2, 'company_deleted');
        await side.waitingOnBackend(redeemer, deletion);
        await side.end();
        assert.equal((await redemption.run).outcome, 'issued', 'the redemption committed first');
        const deleted = await deletion;
        assert.equal(deleted.outcome, 'deleted');
        assert.equal(deleted.outcome === 'deleted' && deleted.grantsRevoked, 1, 'the grant committed meanwhile was revoked');
        const grant = await storage.grants.find(redemption.grantId);
        assert.equal(grant?.revokedAt, NOW + 2);
        assert.equal(grant?.revocationReason, 'company_deleted');
        const tokens = (await queryTestSchema(storage.schema, 'SELECT revoked_at FROM tokens WHERE token_digest = ANY ($1::text[])', [redemption.tokenDigests])).rows;
        assert.equal(tokens.length, 2, 'the redemption stored its tokens');
        assert.deepEqual(await liveOfCompany(f.company.subjectId), { grants: 0, tokens: 0 }, 'no live grant or token outlives the company');
        assert.equal(await storage.directory.findSubject('company', f.company.subjectId), undefined);
      } finally {
        await side.close();
      }
    });

    it(`${name} after the deletion voided the code: it waits for the deletion, then redeems nothing`, async () => {
      const f = await fixture(storage);
      // Another client's grant on the company, which the other side holds: the deletion revokes it after voiding the codes.
      const other = clientRecord();
      await storage.clients.create(other);
      const { grant: othersGrant } = await issueGrant(storage, { ...f, client: other });
      const code = codeRecord(f, { issuedAt: NOW, expiresAt: NOW + 60 });
      await storage.authorizationCodes.create(code);
      const side = await holdLocks(storage.schema);
      try {
        await side.query('SELECT 1 FROM grants WHERE grant_id = $1 FOR UPDATE', [othersGrant.grantId]);
        const deletion = storage.directory.deleteSubject('company', f.company.subjectId, NOW + 2, 'company_deleted');
        const deleter = await side.waitingOn(deletion);
        const redemption = redeem(f, code, NOW + 3);
        await side.waitingOnBackend(deleter, redemption.run);
        await side.end();
        const deleted = await deletion;
        assert.equal(deleted.outcome === 'deleted' && deleted.grantsRevoked, 1);
        const outcome = await redemption.run;
        assert.equal(outcome.outcome, 'replayed', 'the code was voided (marked used and replayed) before the redemption read it');
        assert.equal(outcome.outcome === 'replayed' && outcome.grantId, null);
        assert.equal(await storage.grants.find(redemption.grantId), undefined, 'no grant written');
        assert.equal((await queryTestSchema(storage.schema, 'SELECT 1 FROM tokens WHERE token_digest = ANY ($1::text[])', [redemption.tokenDigests])).rows.length, 0, 'no token written');
        assert.deepEqual(await liveOfCompany(f.company.subjectId), { grants: 0, tokens: 0 });
      } finally {
        await side.close();
      }
    });
  }
});
