/**
 * The grant store (storage.ts `grants`): issuing a grant for a code, superseding the previous one (SPEC decision 11),
 * revoking it with its tokens (SPEC decision 15), and the code exchange as one atomic operation (issue 12).
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuthorizationCodeRecord, GrantRecord, ReadyCodeConditions, Storage, TokenForCode } from '../storage.ts';
import { type ContractBackend, type Fixture, NOW, digest, clientRecord, companyRecord, createCompany, fixture, codeRecord, grantRecord, tokenPair, issueGrant } from './fixtures.ts';

export function grantsContract({ withStorage }: ContractBackend): void {
  describe('grants', () => {
    it('issueForCode stores the grant and its tokens and links the code to the grant', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { code, grant, access, refresh } = await issueGrant(storage, f);
      assert.deepEqual(await storage.grants.find(grant.grantId), grant);
      assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), grant);
      assert.deepEqual((await storage.tokens.findByDigest(access.tokenDigest))?.token, access);
      assert.deepEqual((await storage.tokens.findByDigest(refresh.tokenDigest))?.token, refresh);
      const replay = await storage.authorizationCodes.consume(code.codeDigest, NOW + 1);
      assert.equal(replay.outcome === 'replayed' ? replay.grantId : replay.outcome, grant.grantId);
    }));

    it('issueForCode refuses with code_replayed and stores nothing when the code was replayed meanwhile (RFC 6749 §4.1.2)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const previous = await issueGrant(storage, f, NOW - 100);
      const code = codeRecord(f);
      await storage.authorizationCodes.create(code);
      assert.equal((await storage.authorizationCodes.consume(code.codeDigest, NOW)).outcome, 'consumed');
      assert.equal((await storage.authorizationCodes.consume(code.codeDigest, NOW)).outcome, 'replayed');

      const grant = grantRecord(f);
      const [access, refresh] = tokenPair(grant, NOW);
      assert.equal(await storage.grants.issueForCode(code.codeDigest, grant, [access, refresh]), 'code_replayed');
      assert.equal(await storage.grants.find(grant.grantId), undefined);
      assert.equal(await storage.tokens.findByDigest(access.tokenDigest), undefined);
      assert.equal(await storage.tokens.findByDigest(refresh.tokenDigest), undefined);
      // Nothing includes the supersession: the client's earlier grant is untouched.
      assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), previous.grant);
      assert.equal((await storage.tokens.findByDigest(previous.refresh.tokenDigest))?.token.revokedAt, null);
      // The replay still reports no grant for that code.
      const again = await storage.authorizationCodes.consume(code.codeDigest, NOW);
      assert.deepEqual(again.outcome === 'replayed' && again.grantId, null);
    }));

    it('issueForCode refuses a second grant for the same code and stores nothing (RFC 6749 §4.1.2)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { code, grant: first } = await issueGrant(storage, f);
      const second = grantRecord(f, { createdAt: NOW + 1 });
      const [access, refresh] = tokenPair(second, NOW + 1);
      assert.equal(await storage.grants.issueForCode(code.codeDigest, second, [access, refresh]), 'code_replayed');
      assert.equal(await storage.grants.find(second.grantId), undefined);
      assert.equal(await storage.tokens.findByDigest(access.tokenDigest), undefined);
      assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), first);
    }));

    it('issueForCode supersedes the previous active grant of the same client and subject, with its tokens (SPEC decision 11)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const old = await issueGrant(storage, f, NOW);
      // Same user and client, another company: a different (client, subject) pair, left alone.
      const otherCompany = companyRecord({ name: 'Nordlys Sverige AB' });
      await storage.subjects.create(otherCompany);
      const other = await issueGrant(storage, f, NOW + 10, { subjectId: otherCompany.subjectId });
      // Another client for the same company: also left alone.
      const otherClient = clientRecord({ clientName: 'Other Partner' });
      await storage.clients.create(otherClient);
      const otherClientGrant = await issueGrant(storage, { ...f, client: otherClient }, NOW + 20);

      const renewed = await issueGrant(storage, f, NOW + 100);
      const superseded = await storage.grants.find(old.grant.grantId);
      assert.equal(superseded?.revokedAt, NOW + 100);
      assert.equal(superseded?.revocationReason, 'superseded');
      assert.equal((await storage.tokens.findByDigest(old.access.tokenDigest))?.token.revokedAt, NOW + 100);
      assert.equal((await storage.tokens.findByDigest(old.refresh.tokenDigest))?.token.revokedAt, NOW + 100);
      assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), renewed.grant);

      for (const untouched of [other, otherClientGrant]) {
        assert.deepEqual(await storage.grants.find(untouched.grant.grantId), untouched.grant);
        assert.equal((await storage.tokens.findByDigest(untouched.refresh.tokenDigest))?.token.revokedAt, null);
      }
      assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', otherCompany.subjectId), other.grant);
      assert.deepEqual(await storage.grants.findActive(otherClient.clientId, 'company', f.company.subjectId), otherClientGrant.grant);
    }));

    it('findActive returns nothing for a (client, subject) without an active grant', withStorage(async (storage) => {
      const f = await fixture(storage);
      assert.equal(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), undefined);
      const { grant } = await issueGrant(storage, f);
      assert.equal(await storage.grants.findActive(f.client.clientId, 'organization', f.company.subjectId), undefined);
      await storage.grants.revoke(grant.grantId, NOW + 1, 'user_revoked');
      assert.equal(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), undefined);
      assert.equal(await storage.grants.find(randomUUID()), undefined);
    }));

    it('revoke revokes the grant and every token of it, and returns false the second time (RFC 7009 §2.1, SPEC decision 15)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant, access, refresh } = await issueGrant(storage, f);
      // A rotated refresh token and its successors are tokens of the grant too.
      const [access2, refresh2] = tokenPair(grant, NOW + 10);
      assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, [access2, refresh2]), 'rotated');

      assert.equal(await storage.grants.revoke(grant.grantId, NOW + 20, 'user_revoked'), true);
      const revoked = await storage.grants.find(grant.grantId);
      assert.equal(revoked?.revokedAt, NOW + 20);
      assert.equal(revoked?.revocationReason, 'user_revoked');
      for (const token of [access2, refresh2]) {
        assert.equal((await storage.tokens.findByDigest(token.tokenDigest))?.token.revokedAt, NOW + 20);
      }
      // Already revoked by the rotation (access) or only rotated (refresh): revoked now either way.
      assert.notEqual((await storage.tokens.findByDigest(access.tokenDigest))?.token.revokedAt, null);
      assert.notEqual((await storage.tokens.findByDigest(refresh.tokenDigest))?.token.revokedAt, null);

      assert.equal(await storage.grants.revoke(grant.grantId, NOW + 30, 'admin_revoked'), false);
      const still = await storage.grants.find(grant.grantId);
      assert.equal(still?.revokedAt, NOW + 20);
      assert.equal(still?.revocationReason, 'user_revoked');
      assert.equal(await storage.grants.revoke(randomUUID(), NOW, 'user_revoked'), false);
    }));

    it('revoke with an audit event records it with the revocation, once: not when the grant was revoked before (issue 15 §5)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant, access, refresh } = await issueGrant(storage, f);
      const auditEvent = (at: number) => ({
        type: 'grant.revoked', at, actor: `client:${f.client.clientId}`, clientId: f.client.clientId, grantId: grant.grantId, details: { via: 'refresh_token' },
      });
      assert.equal(await storage.grants.revoke(grant.grantId, NOW + 20, 'revoked_by_client', { auditEvent: auditEvent(NOW + 20) }), true);
      assert.equal((await storage.grants.find(grant.grantId))?.revokedAt, NOW + 20);
      for (const token of [access, refresh]) assert.equal((await storage.tokens.findByDigest(token.tokenDigest))?.token.revokedAt, NOW + 20);
      assert.equal(await storage.grants.revoke(grant.grantId, NOW + 30, 'revoked_by_client', { auditEvent: auditEvent(NOW + 30) }), false);
      assert.equal(await storage.grants.revoke(randomUUID(), NOW + 30, 'revoked_by_client', { auditEvent: auditEvent(NOW + 30) }), false);
      const events = (await storage.audit.list({ types: ['grant.revoked'] })).map(({ eventId: _, ...event }) => event);
      assert.deepEqual(events, [auditEvent(NOW + 20)]);
      assert.equal((await storage.grants.find(grant.grantId))?.revocationReason, 'revoked_by_client');
    }));

    it('listActive lists active grants by client, by user or by subject, newest first, with when a token was last issued', withStorage(async (storage) => {
      const f = await fixture(storage);
      const other = clientRecord();
      await storage.clients.create(other);
      const first = await issueGrant(storage, f);
      const secondCompany = await createCompany(storage);
      const second = await issueGrant(storage, f, NOW + 10, { subjectId: secondCompany.subjectId });
      const others = await issueGrant(storage, { ...f, client: other }, NOW + 20);
      const ids = (listings: { grantId: string }[]) => listings.map((listing) => listing.grantId);
      assert.deepEqual(ids(await storage.grants.listActive({ clientId: f.client.clientId })), [second.grant.grantId, first.grant.grantId]);
      assert.deepEqual(ids(await storage.grants.listActive({ userId: f.user.userId })), [others.grant.grantId, second.grant.grantId, first.grant.grantId]);
      const bySubject = await storage.grants.listActive({ subjectType: 'company', subjectId: secondCompany.subjectId });
      assert.deepEqual(ids(bySubject), [second.grant.grantId]);
      assert.equal(bySubject[0]!.lastUsedAt, NOW + 10, 'a token issued is a use');
      assert.equal(bySubject[0]!.clientId, f.client.clientId);
      await storage.grants.revoke(first.grant.grantId, NOW + 30, 'user_disconnected');
      assert.deepEqual(ids(await storage.grants.listActive({ clientId: f.client.clientId })), [second.grant.grantId]);
    }));

    it('recordUses moves each grant\'s lastUsedAt forward, at most once per interval, in one call for many grants', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant } = await issueGrant(storage, f);
      const secondCompany = await createCompany(storage);
      const second = await issueGrant(storage, f, NOW, { subjectId: secondCompany.subjectId });
      const lastUsed = async (grantId: string) => (await storage.grants.listActive({ clientId: f.client.clientId })).find((listed) => listed.grantId === grantId)!.lastUsedAt;
      assert.equal(await lastUsed(grant.grantId), NOW, 'the first tokens');
      await storage.grants.recordUses([], 60);
      await storage.grants.recordUses([{ id: grant.grantId, usedAt: NOW + 100 }, { id: second.grant.grantId, usedAt: NOW + 90 }, { id: randomUUID(), usedAt: NOW + 100 }], 60);
      assert.equal(await lastUsed(grant.grantId), NOW + 100);
      assert.equal(await lastUsed(second.grant.grantId), NOW + 90, 'each grant its own time; an unknown id changes nothing');
      await storage.grants.recordUses([{ id: grant.grantId, usedAt: NOW + 130 }, { id: second.grant.grantId, usedAt: NOW + 150 }], 60);
      assert.equal(await lastUsed(grant.grantId), NOW + 100, 'within the interval: no write');
      assert.equal(await lastUsed(second.grant.grantId), NOW + 150, 'the other grant\'s interval had passed');
      await storage.grants.recordUses([{ id: grant.grantId, usedAt: NOW + 160 }], 60);
      assert.equal(await lastUsed(grant.grantId), NOW + 160);
      await storage.grants.recordUses([{ id: grant.grantId, usedAt: NOW + 50 }], 0);
      assert.equal(await lastUsed(grant.grantId), NOW + 160, 'never backwards');
    }));

    it('a token\'s lookup brings its grant\'s recorded use (grantUseRecordedAt), absent before the first', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant, access } = await issueGrant(storage, f);
      const found = await storage.tokens.findByDigest(access.tokenDigest);
      assert.ok(found);
      assert.equal('grantUseRecordedAt' in found, false);
      await storage.grants.recordUses([{ id: grant.grantId, usedAt: NOW + 100 }], 60);
      assert.equal((await storage.tokens.findByDigest(access.tokenDigest))?.grantUseRecordedAt, NOW + 100);
      await storage.grants.recordUses([{ id: grant.grantId, usedAt: NOW + 130 }], 60);
      assert.equal((await storage.tokens.findByDigest(access.tokenDigest))?.grantUseRecordedAt, NOW + 100, 'within the interval: unchanged');
    }));

    it('revokeAllOfClient revokes every active grant of that client with its tokens, and no other client\'s (client deletion, SPEC decision 13)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const other = clientRecord();
      await storage.clients.create(other);
      const first = await issueGrant(storage, f);
      const secondCompany = await createCompany(storage);
      const second = await issueGrant(storage, f, NOW, { subjectId: secondCompany.subjectId });
      const others = await issueGrant(storage, { ...f, client: other });
      assert.equal(await storage.grants.revokeAllOfClient(f.client.clientId, NOW + 5, 'client_deleted'), 2);
      for (const issued of [first, second]) {
        const grant = await storage.grants.find(issued.grant.grantId);
        assert.equal(grant?.revokedAt, NOW + 5);
        assert.equal(grant?.revocationReason, 'client_deleted');
        for (const token of [issued.access, issued.refresh]) assert.equal((await storage.tokens.findByDigest(token.tokenDigest))?.token.revokedAt, NOW + 5);
      }
      assert.equal((await storage.grants.find(others.grant.grantId))?.revokedAt, null);
      assert.equal((await storage.tokens.findByDigest(others.access.tokenDigest))?.token.revokedAt, null);
      assert.equal(await storage.grants.revokeAllOfClient(f.client.clientId, NOW + 6, 'client_deleted'), 0);
    }));

    describe('codes outdated by what happened since they were issued (issue 11 items 7, 19; SPEC decision 6)', () => {
      /** Writes a code issued at `issuedAt`: what happens after this counts as newer (commit order, migration 48). */
      const written = async (storage: Storage, f: Fixture, issuedAt: number) => {
        const code = codeRecord(f, { issuedAt, expiresAt: issuedAt + 60 });
        await storage.authorizationCodes.create(code);
        return code;
      };
      /** Consumes a written code and tries to issue a grant for it at `now`. */
      const redeemWritten = async (storage: Storage, f: Fixture, code: AuthorizationCodeRecord, now: number) => {
        assert.equal((await storage.authorizationCodes.consume(code.codeDigest, now, f.client.clientId)).outcome, 'consumed');
        const grant = grantRecord(f, { createdAt: now });
        const tokens = tokenPair(grant, now);
        return { outcome: await storage.grants.issueForCode(code.codeDigest, grant, tokens), grant, tokens };
      };
      /** Writes a code issued at `issuedAt`, then redeems it at `now`. */
      const redeem = async (storage: Storage, f: Fixture, issuedAt: number, now: number) => redeemWritten(storage, f, await written(storage, f, issuedAt), now);

      it('issueForCode refuses a code issued before the grant was revoked (code_outdated) and creates nothing', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant: revoked } = await issueGrant(storage, f, NOW - 100);
        const code = await written(storage, f, NOW);
        await storage.grants.revoke(revoked.grantId, NOW + 5, 'user_revoked');
        const late = await redeemWritten(storage, f, code, NOW + 10);
        assert.equal(late.outcome, 'code_outdated');
        assert.equal(await storage.grants.find(late.grant.grantId), undefined);
        assert.equal(await storage.tokens.findByDigest(late.tokens[1].tokenDigest), undefined);
        assert.equal(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), undefined);
      }));

      it('issueForCode refuses an older code after a newer redemption and leaves the newer grant active', withStorage(async (storage) => {
        const f = await fixture(storage);
        const olderCode = await written(storage, f, NOW);
        const newer = await redeem(storage, f, NOW + 5, NOW + 6);
        assert.equal(newer.outcome, 'issued');
        const older = await redeemWritten(storage, f, olderCode, NOW + 10);
        assert.equal(older.outcome, 'code_outdated');
        assert.equal(await storage.grants.find(older.grant.grantId), undefined);
        assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), newer.grant);
        assert.equal((await storage.tokens.findByDigest(newer.tokens[1].tokenDigest))?.token.revokedAt, null);
      }));

      it('issueForCode still supersedes a grant that was created and revoked before the code was issued', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant: old } = await issueGrant(storage, f, NOW - 100);
        await storage.grants.revoke(old.grantId, NOW - 50, 'user_revoked');
        const { grant: current } = await issueGrant(storage, f, NOW - 40);
        const fresh = await redeem(storage, f, NOW, NOW + 10);
        assert.equal(fresh.outcome, 'issued');
        assert.equal((await storage.grants.find(current.grantId))?.revocationReason, 'superseded');
      }));

      it('issueForCode with a long history of superseded grants: the old ones neither block nor change; one created and revoked since the code still does', withStorage(async (storage) => {
        const f = await fixture(storage);
        // Twelve connections before the code, each superseding the last (the SQLite read returns only the rows that matter).
        const history: GrantRecord[] = [];
        for (let i = 0; i < 12; i++) history.push((await redeem(storage, f, NOW - 1_000 + i * 10, NOW - 1_000 + i * 10 + 1)).grant);
        const fresh = await redeem(storage, f, NOW, NOW + 10);
        assert.equal(fresh.outcome, 'issued');
        for (const [index, old] of history.entries()) {
          const stored = await storage.grants.find(old.grantId);
          assert.equal(stored?.revocationReason, 'superseded');
          // Each was superseded by the next connection; the last, live until now, by this one.
          assert.equal(stored?.revokedAt, index < history.length - 1 ? history[index + 1]!.createdAt : NOW + 10);
        }
        // A grant created after a code was written and revoked before it is redeemed outdates that code.
        const code = await written(storage, f, NOW + 20);
        const { grant: between } = await issueGrant(storage, f, NOW + 30);
        await storage.grants.revoke(between.grantId, NOW + 40, 'user_revoked');
        assert.equal((await redeemWritten(storage, f, code, NOW + 50)).outcome, 'code_outdated');
      }));

      it('issueForCode: a grant created after the code was written outdates it even when stamped before it and revoked before that (clocks set back meanwhile)', withStorage(async (storage) => {
        const f = await fixture(storage);
        // Its revocation is stamped with its creation time, never before (migration 33): so it is found in the
        // range the check reads (grants revoked since the code's window began, migration 48).
        const code = await written(storage, f, NOW + 20);
        const { grant: between } = await issueGrant(storage, f, NOW + 10);
        await storage.grants.revoke(between.grantId, NOW + 5, 'user_revoked');
        const late = await redeemWritten(storage, f, code, NOW + 50);
        assert.equal(late.outcome, 'code_outdated');
        assert.equal(await storage.grants.find(late.grant.grantId), undefined);
      }));

      it('a revocation is never stamped before the grant was created (a clock set back): revoke, supersede, revokeAllOfClient (migration 33)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant: revoked } = await issueGrant(storage, f, NOW + 30);
        assert.equal(await storage.grants.revoke(revoked.grantId, NOW + 10, 'user_revoked'), true);
        assert.equal((await storage.grants.find(revoked.grantId))?.revokedAt, NOW + 30);
        // Superseded by a redemption whose clock reads earlier than the superseded grant's creation.
        const { grant: older } = await issueGrant(storage, f, NOW + 100);
        const newer = await redeem(storage, f, NOW + 100, NOW + 50);
        assert.equal(newer.outcome, 'issued');
        assert.deepEqual(await storage.grants.find(older.grantId).then((g) => [g?.revocationReason, g?.revokedAt]), ['superseded', NOW + 100]);
        const company = await createCompany(storage);
        const { grant: other } = await issueGrant(storage, f, NOW + 200, { subjectType: company.subjectType, subjectId: company.subjectId });
        assert.equal(await storage.grants.revokeAllOfClient(f.client.clientId, NOW + 5, 'client_deleted'), 2);
        assert.equal((await storage.grants.find(other.grantId))?.revokedAt, NOW + 200);
        assert.equal((await storage.grants.find(newer.grant.grantId))?.revokedAt, NOW + 50);
      }));

    });

    describe('SPEC decision 6 in commit order: what happened after the code was written counts, what happened before does not, whatever seconds they are stamped with (migration 48)', () => {
      /** Each way a code is redeemed, each a whole redemption of a stored code at `now`. */
      const ways: Array<[name: string, redeem: (storage: Storage, f: Fixture, code: AuthorizationCodeRecord, now: number) => Promise<{ outcome: string; grantId: string }>]> = [
        ['issueForCode', async (storage, f, code, now) => {
          assert.equal((await storage.authorizationCodes.consume(code.codeDigest, now, f.client.clientId)).outcome, 'consumed');
          const grant = grantRecord(f, { createdAt: now });
          return { outcome: await storage.grants.issueForCode(code.codeDigest, grant, tokenPair(grant, now)), grantId: grant.grantId };
        }],
        ['exchangeCode', async (storage, f, code, now) => {
          const grant = grantRecord(f, { createdAt: now });
          const { outcome } = await storage.grants.exchangeCode(code.codeDigest, f.client.clientId, now, grant, tokenPair(grant, now));
          return { outcome, grantId: grant.grantId };
        }],
        ['exchangeReadyCode', async (storage, f, code, now) => {
          const grantId = randomUUID();
          const conditions: ReadyCodeConditions = { redirectUri: code.redirectUri, codeChallenge: code.codeChallenge, dpopJkt: null, defaultResourceScopes: code.scope };
          const tokens: TokenForCode[] = [
            { tokenDigest: digest(), tokenId: randomUUID(), kind: 'access', expiresAt: now + 900 },
            { tokenDigest: digest(), tokenId: randomUUID(), kind: 'refresh', expiresAt: now + 60 * 86_400 },
          ];
          const { outcome } = await storage.grants.exchangeReadyCode(code.codeDigest, f.client.clientId, now, conditions, grantId, tokens);
          return { outcome, grantId };
        }],
      ];
      const stored = async (storage: Storage, f: Fixture, issuedAt = NOW) => {
        const code = codeRecord(f, { issuedAt, expiresAt: issuedAt + 60 });
        await storage.authorizationCodes.create(code);
        return code;
      };
      const active = (storage: Storage, f: Fixture) => storage.grants.findActive(f.client.clientId, f.company.subjectType, f.company.subjectId);

      for (const [way, redeem] of ways) {
        it(`${way}: an older code of the same second, redeemed after a newer one, is code_outdated; the newer grant stays active`, withStorage(async (storage) => {
          const f = await fixture(storage);
          const older = await stored(storage, f);
          const newer = await stored(storage, f);
          const first = await redeem(storage, f, newer, NOW);
          assert.equal(first.outcome, 'issued');
          const late = await redeem(storage, f, older, NOW);
          assert.equal(late.outcome, 'code_outdated');
          assert.equal(await storage.grants.find(late.grantId), undefined);
          assert.equal((await active(storage, f))?.grantId, first.grantId);
        }));

        it(`${way}: a Disconnect in the code's second, after it was issued, makes it code_outdated; nothing is created`, withStorage(async (storage) => {
          const f = await fixture(storage);
          const { grant } = await issueGrant(storage, f, NOW - 100);
          const code = await stored(storage, f);
          assert.equal(await storage.grants.revoke(grant.grantId, NOW, 'user_revoked'), true);
          const late = await redeem(storage, f, code, NOW);
          assert.equal(late.outcome, 'code_outdated');
          assert.equal(await storage.grants.find(late.grantId), undefined);
          assert.equal(await active(storage, f), undefined);
        }));

        it(`${way}: with no live grant at issue, a grant created and revoked in the code's second after it was issued makes it code_outdated`, withStorage(async (storage) => {
          const f = await fixture(storage);
          const code = await stored(storage, f);
          const other = await redeem(storage, f, await stored(storage, f), NOW);
          assert.equal(other.outcome, 'issued');
          assert.equal(await storage.grants.revoke(other.grantId, NOW, 'user_revoked'), true);
          const late = await redeem(storage, f, code, NOW);
          assert.equal(late.outcome, 'code_outdated');
          assert.equal(await storage.grants.find(late.grantId), undefined);
        }));

        it(`${way}: a grant committed after the code was written but stamped a second earlier (its request's clock), then revoked, makes it code_outdated`, withStorage(async (storage) => {
          const f = await fixture(storage);
          const older = await stored(storage, f, NOW - 1);
          const code = await stored(storage, f);
          const other = await redeem(storage, f, older, NOW - 1);
          assert.equal(other.outcome, 'issued');
          assert.equal(await storage.grants.revoke(other.grantId, NOW, 'user_revoked'), true);
          const late = await redeem(storage, f, code, NOW);
          assert.equal(late.outcome, 'code_outdated');
          assert.equal(await storage.grants.find(late.grantId), undefined);
        }));

        it(`${way}: a grant committed before the code was written but stamped a second later (another clock) does not outdate it: the code supersedes it`, withStorage(async (storage) => {
          const f = await fixture(storage);
          const { grant } = await issueGrant(storage, f, NOW + 1);
          const code = await stored(storage, f);
          const renewed = await redeem(storage, f, code, NOW + 1);
          assert.equal(renewed.outcome, 'issued');
          assert.equal((await storage.grants.find(grant.grantId))?.revocationReason, 'superseded');
          assert.equal((await active(storage, f))?.grantId, renewed.grantId);
        }));

        it(`${way}: a code issued in the second of the grant it supersedes, or of a Disconnect of an older grant, still redeems`, withStorage(async (storage) => {
          const f = await fixture(storage);
          // The grant was live when the code was issued, in the same second: the code is newer and supersedes it.
          const { grant } = await issueGrant(storage, f, NOW);
          const renewed = await redeem(storage, f, await stored(storage, f), NOW);
          assert.equal(renewed.outcome, 'issued');
          assert.equal((await storage.grants.find(grant.grantId))?.revocationReason, 'superseded');
          // Disconnected, then connected again in that second: the code issued after the Disconnect redeems.
          assert.equal(await storage.grants.revoke(renewed.grantId, NOW + 10, 'user_revoked'), true);
          const again = await redeem(storage, f, await stored(storage, f, NOW + 10), NOW + 10);
          assert.equal(again.outcome, 'issued');
          assert.equal((await active(storage, f))?.grantId, again.grantId);
          // A grant created and revoked in one second (reuse detection), then a new connection in that second.
          const brief = await redeem(storage, f, await stored(storage, f, NOW + 20), NOW + 20);
          assert.equal(brief.outcome, 'issued');
          assert.equal(await storage.grants.revoke(brief.grantId, NOW + 20, 'refresh_token_reuse'), true);
          const after = await redeem(storage, f, await stored(storage, f, NOW + 20), NOW + 20);
          assert.equal(after.outcome, 'issued');
          assert.equal((await active(storage, f))?.grantId, after.grantId);
        }));
      }
    });

    describe('exchangeCode (issue 12: the code exchange is one atomic operation)', () => {
      const audited = async (storage: Storage, grantId: string) =>
        (await storage.audit.list({ limit: 1000 })).filter((event) => event.grantId === grantId && event.type === 'token.issued').length;

      /** A stored, unused code and what its exchange would store. */
      const prepared = async (storage: Storage, f: Fixture, issuedAt = NOW, now = NOW + 1) => {
        const code = codeRecord(f, { issuedAt, expiresAt: issuedAt + 60 });
        await storage.authorizationCodes.create(code);
        const grant = grantRecord(f, { createdAt: now });
        const tokens = tokenPair(grant, now);
        const event = { type: 'token.issued', at: now, actor: `client:${f.client.clientId}`, clientId: f.client.clientId, grantId: grant.grantId, details: { grant_type: 'authorization_code' } };
        const exchange = () => storage.grants.exchangeCode(code.codeDigest, f.client.clientId, now, grant, tokens, event);
        return { code, grant, tokens, now, exchange };
      };

      it('issueForCode for a code that is not stored answers code_replayed and stores nothing', withStorage(async (storage) => {
        const f = await fixture(storage);
        const grant = grantRecord(f);
        assert.equal(await storage.grants.issueForCode(digest(), grant, tokenPair(grant, NOW)), 'code_replayed');
        assert.equal(await storage.grants.find(grant.grantId), undefined);
      }));

      it('find reads a code of its client without changing it; another client\'s or an unknown code is undefined (RFC 6749 §4.1.3)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { code } = await prepared(storage, f);
        assert.deepEqual(await storage.authorizationCodes.find(code.codeDigest, f.client.clientId), { code, used: false });
        assert.deepEqual(await storage.authorizationCodes.find(code.codeDigest, f.client.clientId), { code, used: false });
        assert.equal(await storage.authorizationCodes.find(code.codeDigest, randomUUID()), undefined);
        assert.equal(await storage.authorizationCodes.find(digest(), f.client.clientId), undefined);
        assert.equal((await storage.authorizationCodes.consume(code.codeDigest, NOW, f.client.clientId)).outcome, 'consumed');
        assert.deepEqual(await storage.authorizationCodes.find(code.codeDigest, f.client.clientId), { code, used: true });
      }));

      it('issued: consumes the code and stores the grant, its tokens, the code\'s link and the audit event, all at once', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { code, grant, tokens, exchange } = await prepared(storage, f);
        assert.deepEqual(await exchange(), { outcome: 'issued' });
        assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), grant);
        for (const token of tokens) assert.deepEqual((await storage.tokens.findByDigest(token.tokenDigest))?.token, token);
        assert.equal(await audited(storage, grant.grantId), 1);
        assert.equal((await storage.authorizationCodes.find(code.codeDigest, f.client.clientId))?.used, true);
        // RFC 6749 §4.1.2: the next use is a replay that names the grant the first one produced.
        const replay = await storage.authorizationCodes.consume(code.codeDigest, NOW + 2, f.client.clientId);
        assert.equal(replay.outcome === 'replayed' && replay.grantId, grant.grantId);
      }));

      it('replayed: a used code is marked replayed, answers the first grant, and stores nothing else (RFC 6749 §4.1.2)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const first = await prepared(storage, f);
        assert.deepEqual(await first.exchange(), { outcome: 'issued' });
        const second = grantRecord(f, { createdAt: NOW + 2 });
        const tokens = tokenPair(second, NOW + 2);
        assert.deepEqual(await storage.grants.exchangeCode(first.code.codeDigest, f.client.clientId, NOW + 2, second, tokens), { outcome: 'replayed', grantId: first.grant.grantId });
        assert.equal(await storage.grants.find(second.grantId), undefined);
        for (const token of tokens) assert.equal(await storage.tokens.findByDigest(token.tokenDigest), undefined);
        // Revoking is the caller's decision (SPEC decision 6): the first grant is untouched.
        assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), first.grant);
        assert.equal(await audited(storage, second.grantId), 0);
      }));

      it('unknown: another client\'s code, or no such code, changes nothing and leaves the code for its own client', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { code, grant, tokens, exchange } = await prepared(storage, f);
        assert.deepEqual(await storage.grants.exchangeCode(code.codeDigest, randomUUID(), NOW + 1, grant, tokens), { outcome: 'unknown' });
        assert.deepEqual(await storage.grants.exchangeCode(digest(), f.client.clientId, NOW + 1, grant, tokens), { outcome: 'unknown' });
        assert.equal(await storage.grants.find(grant.grantId), undefined);
        assert.equal((await storage.authorizationCodes.find(code.codeDigest, f.client.clientId))?.used, false);
        assert.deepEqual(await exchange(), { outcome: 'issued' });
      }));

      it('code_outdated: a code issued before the grant was revoked consumes the code and creates nothing (SPEC decision 6)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant: revoked } = await issueGrant(storage, f, NOW - 100);
        const late = await prepared(storage, f, NOW, NOW + 10);
        await storage.grants.revoke(revoked.grantId, NOW + 5, 'user_revoked');
        assert.deepEqual(await late.exchange(), { outcome: 'code_outdated' });
        assert.equal(await storage.grants.find(late.grant.grantId), undefined);
        assert.equal(await storage.tokens.findByDigest(late.tokens[1].tokenDigest), undefined);
        assert.equal(await audited(storage, late.grant.grantId), 0);
        assert.equal((await storage.authorizationCodes.find(late.code.codeDigest, f.client.clientId))?.used, true);
      }));

      it('supersedes the previous active grant of the client and subject with its tokens (SPEC decision 11)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const old = await issueGrant(storage, f, NOW - 100);
        const fresh = await prepared(storage, f, NOW, NOW + 10);
        assert.deepEqual(await fresh.exchange(), { outcome: 'issued' });
        const superseded = await storage.grants.find(old.grant.grantId);
        assert.equal(superseded?.revokedAt, NOW + 10);
        assert.equal(superseded?.revocationReason, 'superseded');
        for (const token of [old.access, old.refresh]) assert.equal((await storage.tokens.findByDigest(token.tokenDigest))?.token.revokedAt, NOW + 10);
        assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), fresh.grant);
      }));

      it('of concurrent exchanges of one code exactly one issues, the others are replays, and one grant exists', withStorage(async (storage) => {
        const f = await fixture(storage);
        const code = codeRecord(f);
        await storage.authorizationCodes.create(code);
        const attempts = Array.from({ length: 12 }, () => {
          const grant = grantRecord(f, { createdAt: NOW + 1 });
          return { grant, tokens: tokenPair(grant, NOW + 1) };
        });
        const results = await Promise.all(attempts.map(({ grant, tokens }) => storage.grants.exchangeCode(code.codeDigest, f.client.clientId, NOW + 1, grant, tokens)));
        const winners = attempts.filter((_, i) => results[i]!.outcome === 'issued');
        assert.equal(winners.length, 1);
        for (const result of results) if (result.outcome !== 'issued') assert.deepEqual(result, { outcome: 'replayed', grantId: winners[0]!.grant.grantId });
        const stored = await Promise.all(attempts.map(({ grant }) => storage.grants.find(grant.grantId)));
        assert.equal(stored.filter(Boolean).length, 1);
      }));

      it('concurrent exchanges of different codes for one client and subject leave exactly one active grant (SPEC decision 11)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const exchanges = await Promise.all(Array.from({ length: 8 }, () => prepared(storage, f, NOW, NOW)));
        const results = await Promise.all(exchanges.map(({ exchange }) => exchange()));
        // Every code was issued before the first redemption: that one is newer than the rest, which are
        // code_outdated though all share one second (SPEC decision 6, migration 48).
        assert.deepEqual(results.map((result) => result.outcome).sort(), ['code_outdated', 'code_outdated', 'code_outdated', 'code_outdated', 'code_outdated', 'code_outdated', 'code_outdated', 'issued']);
        const active = await storage.grants.listActive({ clientId: f.client.clientId });
        assert.equal(active.length, 1);
        // Every superseded grant's tokens are revoked; only the active grant's are live.
        for (const { grant, tokens } of exchanges) {
          for (const token of tokens) {
            const live = (await storage.tokens.findByDigest(token.tokenDigest))?.token.revokedAt === null;
            assert.equal(live, grant.grantId === active[0]!.grantId);
          }
        }
      }));
    });

    describe('exchangeReadyCode (issue 12: the code exchange in one round trip when the storage can make the checks)', () => {
      const SCOPES = ['users:read', 'vendors:write', 'vendors:read'];
      /** A stored, unused code, conditions it meets, and what its exchange stores. */
      const prepared = async (storage: Storage, f: Fixture, codeOverrides: Partial<AuthorizationCodeRecord> = {}, now = NOW + 1) => {
        const code = codeRecord(f, { issuedAt: NOW, expiresAt: NOW + 60, ...codeOverrides });
        await storage.authorizationCodes.create(code);
        const conditions: ReadyCodeConditions = { redirectUri: code.redirectUri, codeChallenge: code.codeChallenge, dpopJkt: code.dpopJkt ?? null, defaultResourceScopes: SCOPES };
        const grantId = randomUUID();
        const tokens: TokenForCode[] = [
          { tokenDigest: digest(), tokenId: randomUUID(), kind: 'access', expiresAt: now + 900 },
          { tokenDigest: digest(), tokenId: randomUUID(), kind: 'refresh', expiresAt: now + 60 * 86_400 },
        ];
        const event = { type: 'token.issued', at: now, actor: `client:${f.client.clientId}`, clientId: f.client.clientId, grantId, details: { grant_type: 'authorization_code' } };
        const exchange = (changed: Partial<ReadyCodeConditions> = {}, at = now) =>
          storage.grants.exchangeReadyCode(code.codeDigest, f.client.clientId, at, { ...conditions, ...changed }, grantId, tokens, event);
        return { code, grantId, tokens, now, exchange };
      };
      const nothingIssued = async (storage: Storage, grantId: string, tokens: TokenForCode[]) => {
        assert.equal(await storage.grants.find(grantId), undefined);
        for (const token of tokens) assert.equal(await storage.tokens.findByDigest(token.tokenDigest), undefined);
        assert.equal((await storage.audit.list({ limit: 1000 })).filter((event) => event.grantId === grantId).length, 0);
      };

      it('issued: the grant and tokens take the code\'s user, subject and scope; the code is consumed and linked; the audit event gains the scope; all as returned', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { code, grantId, tokens, now, exchange } = await prepared(storage, f, { dpopJkt: 'Xd8nPXO4l-fcPD4wMQqcVn2gXQ7cE2R9bI5z-DtxoYQ' });
        const result = await exchange();
        assert.equal(result.outcome, 'issued');
        if (result.outcome !== 'issued') return;
        const grant = { grantId, clientId: f.client.clientId, userId: code.userId, subjectType: code.subjectType, subjectId: code.subjectId, scope: code.scope, createdAt: now, revokedAt: null, revocationReason: null };
        assert.deepEqual(result.grant, grant);
        assert.deepEqual(await storage.grants.findActive(f.client.clientId, code.subjectType, code.subjectId), grant);
        assert.deepEqual(result.tokens.map((token) => token.tokenDigest), tokens.map((token) => token.tokenDigest));
        for (const token of result.tokens) {
          assert.deepEqual(token, { ...tokens.find((t) => t.tokenId === token.tokenId), grantId, clientId: f.client.clientId, scope: code.scope, issuedAt: now, rotatedAt: null, revokedAt: null });
          assert.deepEqual((await storage.tokens.findByDigest(token.tokenDigest))?.token, token);
        }
        const events = (await storage.audit.list({ limit: 1000 })).filter((event) => event.grantId === grantId);
        assert.deepEqual(events.map(({ eventId: _, ...event }) => event), [result.auditEvent]);
        assert.deepEqual(result.auditEvent?.details, { grant_type: 'authorization_code', scope: 'users:read vendors:write' });
        // RFC 6749 §4.1.2: the code is used, and its replay names this grant.
        const replay = await storage.authorizationCodes.consume(code.codeDigest, now + 1, f.client.clientId);
        assert.equal(replay.outcome === 'replayed' && replay.grantId, grantId);
      }));

      it('not_ready: each unmet condition changes nothing and returns the code for the caller\'s checks; the code is still redeemed after', withStorage(async (storage) => {
        const f = await fixture(storage);
        const dpopJkt = 'Xd8nPXO4l-fcPD4wMQqcVn2gXQ7cE2R9bI5z-DtxoYQ';
        const { code, grantId, tokens, now, exchange } = await prepared(storage, f, { dpopJkt });
        const refusals: Array<[string, Partial<ReadyCodeConditions>, number?]> = [
          ['expired (RFC 6749 §4.1.2)', {}, code.expiresAt],
          ['another redirect URI (RFC 6749 §4.1.3)', { redirectUri: `${code.redirectUri}/other` }],
          ['another challenge (RFC 7636 §4.6)', { codeChallenge: 'A'.repeat(43) }],
          ['no verifier for a code with a challenge (RFC 7636 §4.6)', { codeChallenge: null }],
          ['no DPoP proof for a code with dpop_jkt (RFC 9449 §10)', { dpopJkt: null }],
          ['another DPoP key (RFC 9449 §10)', { dpopJkt: 'B'.repeat(43) }],
          ['a scope outside the default resource (RFC 8707 §2.2)', { defaultResourceScopes: ['users:read'] }],
        ];
        for (const [what, changed, at] of refusals) {
          assert.deepEqual(await exchange(changed, at), { outcome: 'not_ready', found: { code, used: false } }, what);
          await nothingIssued(storage, grantId, tokens);
        }
        assert.equal((await exchange({}, now)).outcome, 'issued');
      }));

      it('not_ready: a verifier for a code without a challenge (RFC 9700 §2.1.1), and a code with resources (RFC 8707), change nothing', withStorage(async (storage) => {
        const f = await fixture(storage);
        const plain = await prepared(storage, f, { codeChallenge: null, subjectId: f.company.subjectId });
        assert.deepEqual(await plain.exchange({ codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM' }), { outcome: 'not_ready', found: { code: plain.code, used: false } });
        await nothingIssued(storage, plain.grantId, plain.tokens);
        assert.equal((await plain.exchange()).outcome, 'issued');
        const company = await createCompany(storage);
        const withResources = await prepared(storage, f, { resources: ['https://api.example/ledger'], subjectId: company.subjectId });
        assert.deepEqual(await withResources.exchange(), { outcome: 'not_ready', found: { code: withResources.code, used: false } });
        await nothingIssued(storage, withResources.grantId, withResources.tokens);
      }));

      it('not_ready: a used code is returned as used and left for the caller (not marked replayed); another client\'s or no code returns nothing', withStorage(async (storage) => {
        const f = await fixture(storage);
        const first = await prepared(storage, f);
        assert.equal((await first.exchange()).outcome, 'issued');
        const again = await storage.grants.exchangeReadyCode(first.code.codeDigest, f.client.clientId, NOW + 2, {
          redirectUri: first.code.redirectUri, codeChallenge: first.code.codeChallenge, dpopJkt: null, defaultResourceScopes: SCOPES,
        }, randomUUID(), first.tokens.map((token) => ({ ...token, tokenDigest: digest() })));
        assert.equal(again.outcome, 'not_ready');
        assert.equal(again.outcome === 'not_ready' && again.found?.used, true);
        const replay = await storage.authorizationCodes.consume(first.code.codeDigest, NOW + 2, f.client.clientId);
        assert.equal(replay.outcome === 'replayed' && replay.grantId, first.grantId);
        const other = await prepared(storage, f, { subjectId: (await createCompany(storage)).subjectId });
        const conditions = { redirectUri: other.code.redirectUri, codeChallenge: other.code.codeChallenge, dpopJkt: null, defaultResourceScopes: SCOPES };
        assert.deepEqual(await storage.grants.exchangeReadyCode(other.code.codeDigest, randomUUID(), NOW + 1, conditions, other.grantId, other.tokens), { outcome: 'not_ready' });
        assert.deepEqual(await storage.grants.exchangeReadyCode(digest(), f.client.clientId, NOW + 1, conditions, other.grantId, other.tokens), { outcome: 'not_ready' });
        await nothingIssued(storage, other.grantId, other.tokens);
        assert.equal((await other.exchange()).outcome, 'issued');
      }));

      it('code_outdated: a code issued before the grant was revoked consumes the code and creates nothing (SPEC decision 6)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant: revoked } = await issueGrant(storage, f, NOW - 100);
        const late = await prepared(storage, f, {}, NOW + 10);
        await storage.grants.revoke(revoked.grantId, NOW + 5, 'user_revoked');
        assert.deepEqual(await late.exchange(), { outcome: 'code_outdated' });
        await nothingIssued(storage, late.grantId, late.tokens);
        assert.equal((await storage.authorizationCodes.find(late.code.codeDigest, f.client.clientId))?.used, true);
      }));

      it('supersedes the previous active grant of the client and subject with its tokens (SPEC decision 11)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const old = await issueGrant(storage, f, NOW - 100);
        const fresh = await prepared(storage, f, {}, NOW + 10);
        assert.equal((await fresh.exchange()).outcome, 'issued');
        const superseded = await storage.grants.find(old.grant.grantId);
        assert.equal(superseded?.revokedAt, NOW + 10);
        assert.equal(superseded?.revocationReason, 'superseded');
        for (const token of [old.access, old.refresh]) assert.equal((await storage.tokens.findByDigest(token.tokenDigest))?.token.revokedAt, NOW + 10);
        assert.equal((await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId))?.grantId, fresh.grantId);
      }));

      it('of concurrent exchanges of one code exactly one issues; the others are replays or find it used; one grant exists', withStorage(async (storage) => {
        const f = await fixture(storage);
        const code = codeRecord(f);
        await storage.authorizationCodes.create(code);
        const conditions = { redirectUri: code.redirectUri, codeChallenge: code.codeChallenge, dpopJkt: null, defaultResourceScopes: SCOPES };
        const attempts = Array.from({ length: 12 }, () => ({
          grantId: randomUUID(),
          tokens: [{ tokenDigest: digest(), tokenId: randomUUID(), kind: 'access', expiresAt: NOW + 900 }, { tokenDigest: digest(), tokenId: randomUUID(), kind: 'refresh', expiresAt: NOW + 86_400 }] satisfies TokenForCode[],
        }));
        const results = await Promise.all(attempts.map(({ grantId, tokens }) => storage.grants.exchangeReadyCode(code.codeDigest, f.client.clientId, NOW + 1, conditions, grantId, tokens)));
        const winners = attempts.filter((_, i) => results[i]!.outcome === 'issued');
        assert.equal(winners.length, 1);
        for (const result of results) {
          if (result.outcome === 'issued') continue;
          if (result.outcome === 'replayed') assert.equal(result.grantId, winners[0]!.grantId);
          else assert.equal(result.outcome === 'not_ready' && result.found?.used, true, JSON.stringify(result));
        }
        const stored = await Promise.all(attempts.map(({ grantId }) => storage.grants.find(grantId)));
        assert.equal(stored.filter(Boolean).length, 1);
      }));
    });
  });
}
