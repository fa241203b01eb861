/**
 * The authorization-code store (storage.ts `authorizationCodes`): single use (RFC 6749 §4.1.2) and bound to
 * their client (RFC 6749 §4.1.3). Redeeming a code for a grant is the grants suite's (`issueForCode`, `exchangeCode`).
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ContractBackend, NOW, digest, count, fixture, codeRecord, companyRecord, issueGrant } from './fixtures.ts';

export function authorizationCodesContract({ withStorage }: ContractBackend): void {
  describe('authorizationCodes', () => {
    it('consumes a code once with its bindings intact, then reports it replayed (RFC 6749 §4.1.2 single use)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const code = codeRecord(f);
      await storage.authorizationCodes.create(code);
      assert.deepEqual(await storage.authorizationCodes.consume(code.codeDigest, NOW + 1), { outcome: 'consumed', code });
      assert.deepEqual(await storage.authorizationCodes.consume(code.codeDigest, NOW + 2), { outcome: 'replayed', code, grantId: null });
      assert.deepEqual(await storage.authorizationCodes.consume(code.codeDigest, NOW + 3), { outcome: 'replayed', code, grantId: null });
    }));

    it('keeps a code without a PKCE challenge as null (SPEC decision 2 exception)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const code = codeRecord(f, { codeChallenge: null, scope: ['test:test'] });
      await storage.authorizationCodes.create(code);
      assert.deepEqual(await storage.authorizationCodes.consume(code.codeDigest, NOW), { outcome: 'consumed', code });
    }));

    it('reports a replay with the grant the first use produced, so its tokens can be revoked (RFC 6749 §4.1.2)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { code, grant } = await issueGrant(storage, f);
      const replay = await storage.authorizationCodes.consume(code.codeDigest, NOW + 5);
      assert.equal(replay.outcome, 'replayed');
      assert.equal(replay.outcome === 'replayed' && replay.grantId, grant.grantId);
    }));

    it('stores a code with its consent\'s audit event, both or neither (issue 12: one commit)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const code = codeRecord(f);
      const event = { type: 'consent.granted', at: NOW, actor: `user:${f.user.userId}`, clientId: f.client.clientId, details: { scope: code.scope.join(' ') } };
      await storage.authorizationCodes.create(code, event);
      assert.deepEqual(await storage.authorizationCodes.find(code.codeDigest, f.client.clientId), { code, used: false });
      assert.deepEqual((await storage.audit.list()).map(({ eventId: _, ...stored }) => stored), [{ ...event, grantId: null }]);

      // An event the database refuses (type is NOT NULL): the code is not stored either.
      const refused = codeRecord(f);
      await assert.rejects(storage.authorizationCodes.create(refused, { ...event, type: null as unknown as string }));
      assert.equal(await storage.authorizationCodes.find(refused.codeDigest, f.client.clientId), undefined);
      assert.equal((await storage.audit.list()).length, 1);
    }));

    it('onlyForAdministrator: stores the code (and its event) only while its user administers its subject (issue 10 §1, issue 12)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const event = (code: { subjectId: string }) => ({ type: 'consent.granted', at: NOW, actor: `user:${f.user.userId}`, clientId: f.client.clientId, details: { subject: code.subjectId } });
      for (const audited of [true, false]) {
        const code = codeRecord(f);
        assert.equal(await storage.authorizationCodes.create(code, audited ? event(code) : undefined, { onlyForAdministrator: true }), true);
        assert.deepEqual(await storage.authorizationCodes.find(code.codeDigest, f.client.clientId), { code, used: false });
      }
      assert.equal((await storage.audit.list()).length, 1);

      // Another company, which the user does not administer, and the user's own company once removed from it.
      const other = companyRecord();
      await storage.subjects.create(other);
      const notTheirs = codeRecord(f, { subjectId: other.subjectId });
      assert.equal(await storage.directory.deleteMembership(f.user.userId, { subjectType: f.company.subjectType, subjectId: f.company.subjectId }, NOW), true);
      const noLonger = codeRecord(f);
      for (const refused of [notTheirs, noLonger]) {
        for (const audited of [true, false]) {
          assert.equal(await storage.authorizationCodes.create(refused, audited ? event(refused) : undefined, { onlyForAdministrator: true }), false);
          assert.equal(await storage.authorizationCodes.find(refused.codeDigest, f.client.clientId), undefined);
        }
      }
      assert.equal((await storage.audit.list()).length, 1, 'no event for a refused code');
      // Without the option nothing is checked (the consent page's reuse read the subjects in the same request).
      assert.equal(await storage.authorizationCodes.create(notTheirs), true);
    }));

    it('reports an unknown digest as unknown', withStorage(async (storage) => {
      const f = await fixture(storage);
      await storage.authorizationCodes.create(codeRecord(f));
      assert.deepEqual(await storage.authorizationCodes.consume(digest(), NOW), { outcome: 'unknown' });
    }));

    it('of 20 concurrent redemptions of one code exactly one consumes it (RFC 6749 §4.1.2, atomic)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const code = codeRecord(f);
      await storage.authorizationCodes.create(code);
      const results = await Promise.all(Array.from({ length: 20 }, () => storage.authorizationCodes.consume(code.codeDigest, NOW)));
      const outcomes = results.map((result) => result.outcome);
      assert.equal(count(outcomes, 'consumed'), 1);
      assert.equal(count(outcomes, 'replayed'), 19);
    }));

    it("consume by another client reports unknown and leaves the code for its own client (RFC 6749 §4.1.3)", withStorage(async (storage) => {
      const f = await fixture(storage);
      const code = codeRecord(f);
      await storage.authorizationCodes.create(code);
      assert.deepEqual(await storage.authorizationCodes.consume(code.codeDigest, NOW, randomUUID()), { outcome: 'unknown' });
      assert.deepEqual(await storage.authorizationCodes.consume(code.codeDigest, NOW, f.client.clientId), { outcome: 'consumed', code });
      // A used code presented by another client is unknown too: no replay is recorded for it.
      assert.deepEqual(await storage.authorizationCodes.consume(code.codeDigest, NOW, randomUUID()), { outcome: 'unknown' });
    }));
  });
}
