/**
 * The token store (storage.ts `tokens`): lookup by digest and by jti, refresh-token rotation (SPEC decision 8) with
 * its reuse grace window, revocation (RFC 7009) and the revocation feed.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEvent, GraceSuccessor, GrantRecord, TokenForCode, TokenRecord } from '../storage.ts';
import { type ContractBackend, NOW, digest, count, clientRecord, companyRecord, createCompany, fixture, tokenPair, issueGrant, mintedPair, rotationChain } from './fixtures.ts';

/** The audit event of a suspension made to revoke a client's access tokens (contract/client-status.ts has the rest). */
const suspensionEvent = (): AuditEvent => ({ type: 'client.suspended', at: NOW, actor: 'admin:ops', details: {} });

export function tokensContract({ withStorage }: ContractBackend): void {
  describe('tokens', () => {
    it('findByDigest returns the token with its grant and client (RFC 7662 §2.2 needs all three)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant, access, refresh } = await issueGrant(storage, f);
      assert.deepEqual(await storage.tokens.findByDigest(access.tokenDigest), { token: access, grant, client: f.client });
      assert.deepEqual(await storage.tokens.findByDigest(refresh.tokenDigest), { token: refresh, grant, client: f.client });
      assert.equal(await storage.tokens.findByDigest(digest()), undefined);
    }));

    it('rotateRefreshToken rotates the refresh token, revokes the grant\'s access tokens and stores the new pair (SPEC decision 8)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant, access, refresh } = await issueGrant(storage, f);
      const [newAccess, newRefresh] = tokenPair(grant, NOW + 600);
      assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 600, [newAccess, newRefresh]), 'rotated');

      const old = await storage.tokens.findByDigest(refresh.tokenDigest);
      assert.equal(old?.token.rotatedAt, NOW + 600);
      // Platform docs: "all previous tokens are invalidated immediately".
      assert.equal((await storage.tokens.findByDigest(access.tokenDigest))?.token.revokedAt, NOW + 600);
      assert.deepEqual(await storage.tokens.findByDigest(newAccess.tokenDigest), { token: newAccess, grant, client: f.client });
      assert.deepEqual(await storage.tokens.findByDigest(newRefresh.tokenDigest), { token: newRefresh, grant, client: f.client });
      assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), grant);

      // The new refresh token is current in turn.
      const [thirdAccess, thirdRefresh] = tokenPair(grant, NOW + 1200);
      assert.equal(await storage.tokens.rotateRefreshToken(newRefresh.tokenDigest, NOW + 1200, [thirdAccess, thirdRefresh]), 'rotated');
      assert.equal((await storage.tokens.findByDigest(newAccess.tokenDigest))?.token.revokedAt, NOW + 1200);
    }));

    it('rotateRefreshToken answers not_current for a rotated-out token and stores nothing (RFC 9700 §4.14.2)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant, refresh } = await issueGrant(storage, f);
      const winner = tokenPair(grant, NOW + 10);
      assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, winner), 'rotated');
      const loser = tokenPair(grant, NOW + 20);
      assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 20, loser), 'not_current');
      for (const token of loser) assert.equal(await storage.tokens.findByDigest(token.tokenDigest), undefined);
      // The winner's tokens are untouched by the failed attempt.
      for (const token of winner) assert.equal((await storage.tokens.findByDigest(token.tokenDigest))?.token.revokedAt, null);
      assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))?.token.rotatedAt, NOW + 10);
    }));

    it('rotateRefreshToken answers not_current for a token of a revoked grant and stores nothing (SPEC decision 15)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant, refresh } = await issueGrant(storage, f);
      await storage.grants.revoke(grant.grantId, NOW + 5, 'user_revoked');
      const attempt = tokenPair(grant, NOW + 10);
      assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, attempt), 'not_current');
      for (const token of attempt) assert.equal(await storage.tokens.findByDigest(token.tokenDigest), undefined);
      assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))?.token.rotatedAt, null);
    }));

    it('rotateRefreshToken answers not_current for an access token or an unknown digest (RFC 6749 §6 needs a refresh token)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant, access } = await issueGrant(storage, f);
      const attempt = tokenPair(grant, NOW + 10);
      assert.equal(await storage.tokens.rotateRefreshToken(access.tokenDigest, NOW + 10, attempt), 'not_current');
      assert.equal(await storage.tokens.rotateRefreshToken(digest(), NOW + 10, attempt), 'not_current');
      for (const token of attempt) assert.equal(await storage.tokens.findByDigest(token.tokenDigest), undefined);
      assert.equal((await storage.tokens.findByDigest(access.tokenDigest))?.token.revokedAt, null);
    }));

    it('of 20 concurrent rotations of one refresh token exactly one succeeds and one new pair is stored (SPEC decision 8, atomic)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant, refresh } = await issueGrant(storage, f);
      const attempts = Array.from({ length: 20 }, () => tokenPair(grant, NOW + 10));
      const results = await Promise.all(attempts.map((pair) => storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, pair)));
      assert.equal(count(results, 'rotated'), 1);
      assert.equal(count(results, 'not_current'), 19);
      const winner = attempts[results.indexOf('rotated')]!;
      for (const pair of attempts) {
        for (const token of pair) {
          const found = await storage.tokens.findByDigest(token.tokenDigest);
          if (pair === winner) assert.deepEqual(found?.token, token);
          else assert.equal(found, undefined);
        }
      }
    }));

    it('rotateRefreshToken and issueForCode record their audit event in the same commit, and only when they happen', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant, refresh } = await issueGrant(storage, f);
      const event = (type: string) => ({ type, at: NOW + 1, actor: `client:${f.client.clientId}`, clientId: f.client.clientId, grantId: grant.grantId, details: { note: 'x' } });
      const types = async () => (await storage.audit.list({ limit: 100 })).map((stored) => stored.type);
      const next = tokenPair(grant, NOW + 1);
      assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 1, next, event('refresh_token.rotated')), 'rotated');
      assert.equal((await types()).filter((type) => type === 'refresh_token.rotated').length, 1);
      const again = tokenPair(grant, NOW + 2);
      assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 2, again, event('refresh_token.rotated')), 'not_current');
      assert.equal((await types()).filter((type) => type === 'refresh_token.rotated').length, 1, 'no event for a rotation that did not happen');
      const stored = (await storage.audit.list({ limit: 100 })).find((e) => e.type === 'refresh_token.rotated')!;
      assert.deepEqual(stored.details, { note: 'x' });
      assert.equal(stored.grantId, grant.grantId);
    }));

    it('revokeAccessToken revokes that access token only (RFC 7009 §2.1)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant, access, refresh } = await issueGrant(storage, f);
      await storage.tokens.revokeAccessToken(access.tokenDigest, NOW + 30);
      assert.equal((await storage.tokens.findByDigest(access.tokenDigest))?.token.revokedAt, NOW + 30);
      assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))?.token.revokedAt, null);
      assert.equal((await storage.grants.find(grant.grantId))?.revokedAt, null);
      // A second revocation keeps the first time; an unknown digest is no error (RFC 7009 §2.2).
      await storage.tokens.revokeAccessToken(access.tokenDigest, NOW + 40);
      assert.equal((await storage.tokens.findByDigest(access.tokenDigest))?.token.revokedAt, NOW + 30);
      await storage.tokens.revokeAccessToken(digest(), NOW + 40);
    }));

    it('revokeAccessToken records its audit event in the same commit, only when it revoked the token now (issue 15 §5)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant, access, refresh } = await issueGrant(storage, f);
      const audited = async () => (await storage.audit.list({ limit: 100 })).filter((e) => e.type === 'access_token.revoked');
      const revokedEvent = { type: 'access_token.revoked', at: NOW + 30, actor: 'client:test', clientId: f.client.clientId, grantId: grant.grantId, details: { access_token_id: access.tokenId } };
      assert.equal(await storage.tokens.revokeAccessToken(access.tokenDigest, NOW + 30, revokedEvent), true);
      const [stored, ...more] = await audited();
      assert.equal(more.length, 0);
      assert.deepEqual(stored!.details, { access_token_id: access.tokenId });
      assert.equal(stored!.grantId, grant.grantId);
      // Revoked before, unknown, or a refresh token: nothing revoked, nothing recorded.
      assert.equal(await storage.tokens.revokeAccessToken(access.tokenDigest, NOW + 40, { ...revokedEvent, at: NOW + 40 }), false);
      assert.equal(await storage.tokens.revokeAccessToken(digest(), NOW + 40, { ...revokedEvent, at: NOW + 40 }), false);
      assert.equal(await storage.tokens.revokeAccessToken(refresh.tokenDigest, NOW + 40, { ...revokedEvent, at: NOW + 40 }), false);
      assert.equal((await audited()).length, 1, 'one event: only the call that revoked recorded one');
    }));

    it('revokeAccessToken does not revoke a refresh token (revoking one revokes its grant instead, SPEC decision 15)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { refresh } = await issueGrant(storage, f);
      await storage.tokens.revokeAccessToken(refresh.tokenDigest, NOW + 30);
      assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))?.token.revokedAt, null);
    }));

    it('a suspension (clients.changeStatus) revokes that client\'s access tokens only (not its refresh tokens or grants, not another client\'s), and the revocation feed lists them', withStorage(async (storage) => {
      const f = await fixture(storage);
      const other = clientRecord();
      await storage.clients.create(other);
      const mine = await issueGrant(storage, f);
      const others = await issueGrant(storage, { ...f, client: other });
      const suspended = await storage.clients.changeStatus(f.client.clientId, { status: 'suspended', now: NOW + 3, auditEvent: suspensionEvent });
      assert.equal(suspended.outcome === 'changed' && suspended.accessTokensRevoked, 1);
      assert.equal((await storage.tokens.findByDigest(mine.access.tokenDigest))?.token.revokedAt, NOW + 3);
      assert.equal((await storage.tokens.findByDigest(mine.refresh.tokenDigest))?.token.revokedAt, null);
      assert.equal((await storage.grants.find(mine.grant.grantId))?.revokedAt, null);
      assert.equal((await storage.tokens.findByDigest(others.access.tokenDigest))?.token.revokedAt, null);
      const feed = await storage.tokens.listRevokedAccessTokens({ sinceSeconds: NOW }, NOW + 3, 10);
      assert.deepEqual(feed.map((entry) => entry.tokenId), [mine.access.tokenId]);
    }));

    it('a token keeps its jti (tokenId): findByDigest returns it, and the revocation feed names a revoked access token by it', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant, access, refresh } = await issueGrant(storage, f);
      assert.equal((await storage.tokens.findByDigest(access.tokenDigest))?.token.tokenId, access.tokenId);
      assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))?.token.tokenId, refresh.tokenId);
      // A token id is not a digest: nothing is looked up by it (migration 30 dropped its index, issue 12).
      assert.equal(await storage.tokens.findByDigest(access.tokenId), undefined);
      await storage.grants.revoke(grant.grantId, NOW + 5, 'user_revoked');
      const revoked = await storage.tokens.findByDigest(access.tokenDigest);
      assert.deepEqual([revoked?.token.revokedAt, revoked?.grant.revokedAt], [NOW + 5, NOW + 5]);
      assert.deepEqual(await storage.tokens.listRevokedAccessTokens({ sinceSeconds: NOW }, NOW + 5, 10), [{ tokenId: access.tokenId, expiresAt: access.expiresAt, revokedAt: NOW + 5 }]);
    }));

    it('listRevokedAccessTokens lists unexpired revoked access tokens since a time, by revokedAt then tokenId (the revocation feed)', withStorage(async (storage) => {
      const f = await fixture(storage);
      // Rotation revokes the superseded access tokens (SPEC §3), revokeAccessToken one (RFC 7009), grant revocation all.
      const rotated = await rotationChain(storage, f, [NOW, NOW + 10, NOW + 20]);
      const [a0, a1, a2] = rotated.pairs.map(([access]) => access);
      await storage.tokens.revokeAccessToken(a2!.tokenDigest, NOW + 30);
      const otherCompany = companyRecord();
      await storage.subjects.create(otherCompany);
      const revokedGrant = await issueGrant(storage, f, NOW + 1, { subjectId: otherCompany.subjectId });
      await storage.grants.revoke(revokedGrant.grant.grantId, NOW + 30, 'user_revoked');
      // Revoked, but expired by the time of the query: no longer needed in the feed.
      const thirdCompany = companyRecord();
      await storage.subjects.create(thirdCompany);
      const expired = await issueGrant(storage, f, NOW - 1000, { subjectId: thirdCompany.subjectId });
      await storage.tokens.revokeAccessToken(expired.access.tokenDigest, NOW - 500);
      // Not revoked: never listed. Refresh tokens: never listed.
      const active = await issueGrant(storage, f, NOW, { subjectId: (await createCompany(storage)).subjectId });

      const now = NOW + 40;
      const at30 = [
        { tokenId: a2!.tokenId, expiresAt: a2!.expiresAt, revokedAt: NOW + 30 },
        { tokenId: revokedGrant.access.tokenId, expiresAt: revokedGrant.access.expiresAt, revokedAt: NOW + 30 },
      ].sort((x, y) => (x.tokenId < y.tokenId ? -1 : 1));
      const all = [
        { tokenId: a0!.tokenId, expiresAt: a0!.expiresAt, revokedAt: NOW + 10 },
        { tokenId: a1!.tokenId, expiresAt: a1!.expiresAt, revokedAt: NOW + 20 },
        ...at30,
      ];
      assert.deepEqual(await storage.tokens.listRevokedAccessTokens({ sinceSeconds: 0 }, now, 100), all);
      assert.deepEqual(await storage.tokens.listRevokedAccessTokens({ sinceSeconds: NOW + 20 }, now, 100), all.slice(1), 'since is inclusive');
      assert.deepEqual(await storage.tokens.listRevokedAccessTokens({ sinceSeconds: NOW + 21 }, now, 100), at30);
      assert.deepEqual(await storage.tokens.listRevokedAccessTokens({ sinceSeconds: NOW + 31 }, now, 100), []);
      assert.deepEqual(await storage.tokens.listRevokedAccessTokens({ sinceSeconds: 0 }, now, 2), all.slice(0, 2), 'at most limit');
      // expiresAt > now: a token is dropped from the feed at the second it expires.
      assert.deepEqual(await storage.tokens.listRevokedAccessTokens({ sinceSeconds: 0 }, a0!.expiresAt, 100), all.filter((entry) => entry.expiresAt > a0!.expiresAt));
      // Earlier, the expired one was still in the feed; an access token never revoked never is.
      const earlier = (await storage.tokens.listRevokedAccessTokens({ sinceSeconds: 0 }, NOW - 600, 100)).map((entry) => entry.tokenId);
      assert.ok(earlier.includes(expired.access.tokenId));
      assert.ok(!earlier.includes(active.access.tokenId) && !earlier.includes(active.refresh.tokenId));
    }));

    it('listRevokedAccessTokens after a token: the entries after it in (revokedAt, tokenId) order, so one second\'s revocations page through', withStorage(async (storage) => {
      const f = await fixture(storage);
      // 25 grants of one client, their access tokens revoked in the same second (a client's tokens at once).
      for (let index = 0; index < 25; index += 1) await issueGrant(storage, f, NOW, { subjectId: (await createCompany(storage)).subjectId });
      const suspended = await storage.clients.changeStatus(f.client.clientId, { status: 'suspended', now: NOW + 5, auditEvent: suspensionEvent });
      assert.equal(suspended.outcome === 'changed' && suspended.accessTokensRevoked, 25);
      const everything = await storage.tokens.listRevokedAccessTokens({ sinceSeconds: NOW }, NOW, 100);
      assert.equal(everything.length, 25);
      assert.ok(everything.every((entry) => entry.revokedAt === NOW + 5));
      const pages: string[][] = [];
      let position: { sinceSeconds: number; afterTokenId?: string } = { sinceSeconds: NOW };
      for (;;) {
        const page = await storage.tokens.listRevokedAccessTokens(position, NOW, 10);
        pages.push(page.map((entry) => entry.tokenId));
        if (page.length < 10) break;
        position = { sinceSeconds: page.at(-1)!.revokedAt, afterTokenId: page.at(-1)!.tokenId };
      }
      assert.deepEqual(pages.map((page) => page.length), [10, 10, 5]);
      assert.deepEqual(pages.flat(), everything.map((entry) => entry.tokenId), 'every entry once, in order');
      // Without a token the second is read from its start; after the last one, the later seconds only.
      assert.deepEqual(await storage.tokens.listRevokedAccessTokens({ sinceSeconds: NOW + 5 }, NOW, 3), everything.slice(0, 3));
      assert.deepEqual(await storage.tokens.listRevokedAccessTokens({ sinceSeconds: NOW + 5, afterTokenId: everything.at(-1)!.tokenId }, NOW, 100), []);
      assert.deepEqual(await storage.tokens.listRevokedAccessTokens({ sinceSeconds: NOW + 4, afterTokenId: everything.at(-1)!.tokenId }, NOW, 100), everything,
        'a token id within an earlier second: everything from the next second on');
    }));

    describe('refresh-token grace successors (SPEC decision 8: the reuse grace window)', () => {
      const grace = (grant: GrantRecord, previous: TokenRecord, graceExpiresAt: number): GraceSuccessor => ({
        grantId: grant.grantId, previousDigest: previous.tokenDigest, sealedSuccessor: `sealed-${randomUUID()}`, graceExpiresAt,
      });

      it('rotateRefreshToken keeps the grace successor with the rotation; findGraceSuccessor finds it by the replaced digest only', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, access, refresh } = await issueGrant(storage, f);
        const kept = grace(grant, refresh, NOW + 40);
        assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, tokenPair(grant, NOW + 10), undefined, kept), 'rotated');
        assert.deepEqual(await storage.tokens.findGraceSuccessor(refresh.tokenDigest), kept);
        assert.equal(await storage.tokens.findGraceSuccessor(access.tokenDigest), undefined);
        assert.equal(await storage.tokens.findGraceSuccessor(digest()), undefined);
      }));

      it("the grant's next rotation replaces its grace record: the used successor's predecessor finds none; a rotation without one deletes it", withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, refresh } = await issueGrant(storage, f);
        const second = tokenPair(grant, NOW + 10);
        await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, second, undefined, grace(grant, refresh, NOW + 40));
        const third = tokenPair(grant, NOW + 20);
        const keptForSecond = grace(grant, second[1], NOW + 50);
        assert.equal(await storage.tokens.rotateRefreshToken(second[1].tokenDigest, NOW + 20, third, undefined, keptForSecond), 'rotated');
        assert.equal(await storage.tokens.findGraceSuccessor(refresh.tokenDigest), undefined, 'its successor was used: no grace any more');
        assert.deepEqual(await storage.tokens.findGraceSuccessor(second[1].tokenDigest), keptForSecond);
        // Window 0: a rotation without a grace successor leaves none behind.
        assert.equal(await storage.tokens.rotateRefreshToken(third[1].tokenDigest, NOW + 30, tokenPair(grant, NOW + 30)), 'rotated');
        assert.equal(await storage.tokens.findGraceSuccessor(second[1].tokenDigest), undefined);
        assert.equal(await storage.tokens.findGraceSuccessor(third[1].tokenDigest), undefined);
      }));

      it('cleanup deletes grace records whose window ended (graceExpiresAt <= now), keeps open ones, and the rotated-out token stays a replay', withStorage(async (storage) => {
        const f = await fixture(storage);
        const chains = [];
        for (const graceExpiresAt of [NOW + 30, NOW + 40, NOW + 41, NOW + 100]) {
          const { grant, refresh } = await issueGrant(storage, f, NOW, { subjectId: (await createCompany(storage)).subjectId });
          const kept = grace(grant, refresh, graceExpiresAt);
          assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, tokenPair(grant, NOW + 10), undefined, kept), 'rotated');
          chains.push({ grant, refresh, kept });
        }
        // Batches of 1, so the run goes on past a full batch.
        const result = await storage.cleanup.deleteExpired(NOW + 40, 1);
        assert.equal(result.refreshTokenGrace, 2);
        assert.equal(result.deleted, 2);
        assert.equal(await storage.tokens.findGraceSuccessor(chains[0]!.refresh.tokenDigest), undefined);
        assert.equal(await storage.tokens.findGraceSuccessor(chains[1]!.refresh.tokenDigest), undefined);
        assert.deepEqual(await storage.tokens.findGraceSuccessor(chains[2]!.refresh.tokenDigest), chains[2]!.kept, 'the window is open until graceExpiresAt');
        assert.deepEqual(await storage.tokens.findGraceSuccessor(chains[3]!.refresh.tokenDigest), chains[3]!.kept);
        // The record went, its grant stays.
        assert.deepEqual(await storage.grants.find(chains[0]!.grant.grantId), chains[0]!.grant);
        // The rotated-out refresh token itself stays: presenting it is still recognised as reuse (not current).
        assert.equal((await storage.tokens.findByDigest(chains[0]!.refresh.tokenDigest))?.token.rotatedAt, NOW + 10);
        assert.equal(await storage.tokens.rotateRefreshToken(chains[0]!.refresh.tokenDigest, NOW + 41, tokenPair(chains[0]!.grant, NOW + 41)), 'not_current');
        // A second run finds nothing more until the next window ends.
        assert.equal((await storage.cleanup.deleteExpired(NOW + 40, 1)).refreshTokenGrace, 0);
        assert.equal((await storage.cleanup.deleteExpired(NOW + 100, 10)).refreshTokenGrace, 2);
      }));

      it('a rotation that does not happen (not_current) keeps no grace record and leaves the current one as it was', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, refresh } = await issueGrant(storage, f);
        const kept = grace(grant, refresh, NOW + 40);
        await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, tokenPair(grant, NOW + 10), undefined, kept);
        assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 11, tokenPair(grant, NOW + 11), undefined, grace(grant, refresh, NOW + 41)), 'not_current');
        assert.deepEqual(await storage.tokens.findGraceSuccessor(refresh.tokenDigest), kept, 'the loser overwrote nothing');
        assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 12, tokenPair(grant, NOW + 12)), 'not_current');
        assert.deepEqual(await storage.tokens.findGraceSuccessor(refresh.tokenDigest), kept, 'nor deleted it');
      }));

      it('of 20 concurrent rotations with grace successors, the one that rotated is the one kept (same commit)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, refresh } = await issueGrant(storage, f);
        const attempts = Array.from({ length: 20 }, () => ({ pair: tokenPair(grant, NOW + 10), kept: grace(grant, refresh, NOW + 40) }));
        const results = await Promise.all(attempts.map(({ pair, kept }) => storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, pair, undefined, kept)));
        assert.equal(count(results, 'rotated'), 1);
        assert.deepEqual(await storage.tokens.findGraceSuccessor(refresh.tokenDigest), attempts[results.indexOf('rotated')]!.kept);
      }));

      it("a revoked grant's grace record is never returned (SPEC decision 15)", withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, refresh } = await issueGrant(storage, f);
        const kept = grace(grant, refresh, NOW + 40);
        await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, tokenPair(grant, NOW + 10), undefined, kept);
        assert.deepEqual(await storage.tokens.findGraceSuccessor(refresh.tokenDigest), kept, 'open before the revocation');
        assert.equal(await storage.grants.revoke(grant.grantId, NOW + 11, 'user_revoked'), true);
        assert.equal(await storage.tokens.findGraceSuccessor(refresh.tokenDigest), undefined, 'inside its window, yet never after the revocation');
      }));

      it('a grace record is found only through the token it replaced: another grant\'s refresh token, or an unknown digest, finds none', withStorage(async (storage) => {
        const f = await fixture(storage);
        const first = await issueGrant(storage, f);
        const second = await issueGrant(storage, f, NOW, { subjectId: (await createCompany(storage)).subjectId });
        await storage.tokens.rotateRefreshToken(first.refresh.tokenDigest, NOW + 10, tokenPair(first.grant, NOW + 10), undefined, grace(first.grant, first.refresh, NOW + 40));
        assert.equal(await storage.tokens.findGraceSuccessor(second.refresh.tokenDigest), undefined);
        assert.equal(await storage.tokens.findGraceSuccessor(digest()), undefined, 'an unknown digest');
      }));
    });

    describe('rotateReadyRefreshToken (issue 12: the refresh in one round trip)', () => {
      const DEFAULT_SCOPES = ['users:read', 'vendors:write', 'vendors:read'];
      const rotatedEvent = (f: Awaited<ReturnType<typeof fixture>>, now: number, tokens: TokenForCode[]) => ({
        type: 'refresh_token.rotated', at: now, actor: `client:${f.client.clientId}`, clientId: f.client.clientId,
        details: { access_token_id: tokens[0]!.tokenId, refresh_token_id: tokens[1]!.tokenId },
      });

      it('rotates a ready token as rotateRefreshToken does: the tokens get its grant, client and scope; the audit event its scope and id; the grace record its grant', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, access, refresh } = await issueGrant(storage, f);
        const tokens = mintedPair(NOW + 10);
        const result = await storage.tokens.rotateReadyRefreshToken(
          refresh.tokenDigest, NOW + 10, { clientId: f.client.clientId, defaultResourceScopes: DEFAULT_SCOPES }, tokens, rotatedEvent(f, NOW + 10, tokens),
          { sealedSuccessor: 'sealed-ready', graceExpiresAt: NOW + 40 },
        );
        assert.equal(result.outcome, 'rotated');
        assert.ok(result.outcome === 'rotated');
        assert.equal(result.grant.grantId, grant.grantId);
        assert.equal(result.grant.subjectId, grant.subjectId);
        assert.equal(result.presented.tokenId, refresh.tokenId);
        const expected = tokens.map((token): TokenRecord => ({
          ...token, grantId: grant.grantId, clientId: f.client.clientId, scope: refresh.scope, issuedAt: NOW + 10, rotatedAt: null, revokedAt: null,
        }));
        assert.deepEqual(result.tokens, expected);
        for (const token of expected) assert.deepEqual((await storage.tokens.findByDigest(token.tokenDigest))?.token, token);
        assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))!.token.rotatedAt, NOW + 10, 'the presented token is rotated');
        assert.equal((await storage.tokens.findByDigest(access.tokenDigest))!.token.revokedAt, NOW + 10, 'the superseded access token is revoked');
        const [event] = await storage.audit.list({ types: ['refresh_token.rotated'], limit: 10 });
        assert.equal(event?.grantId, grant.grantId);
        assert.equal(event?.clientId, f.client.clientId);
        assert.deepEqual(event?.details, {
          scope: refresh.scope.join(' '), previous_refresh_token_id: refresh.tokenId, access_token_id: tokens[0]!.tokenId, refresh_token_id: tokens[1]!.tokenId,
        });
        assert.deepEqual(await storage.tokens.findGraceSuccessor(refresh.tokenDigest), {
          grantId: grant.grantId, previousDigest: refresh.tokenDigest, sealedSuccessor: 'sealed-ready', graceExpiresAt: NOW + 40,
        });
        // Its successor is current: the next ready rotation takes it, without a grace successor (window 0): the record goes.
        const next = mintedPair(NOW + 20);
        assert.equal((await storage.tokens.rotateReadyRefreshToken(tokens[1]!.tokenDigest, NOW + 20, { clientId: f.client.clientId, defaultResourceScopes: DEFAULT_SCOPES }, next)).outcome, 'rotated');
        assert.equal(await storage.tokens.findGraceSuccessor(tokens[1]!.tokenDigest), undefined);
        assert.equal(await storage.tokens.findGraceSuccessor(refresh.tokenDigest), undefined);
      }));

      it('not_ready: anything the refresh grant would check otherwise comes back as read, and nothing changes', withStorage(async (storage) => {
        const f = await fixture(storage);
        const conditions = { clientId: f.client.clientId, defaultResourceScopes: DEFAULT_SCOPES };
        const fresh = async (grantOverrides: Parameters<typeof issueGrant>[3] = {}) => issueGrant(storage, f, NOW, { subjectId: (await createCompany(storage)).subjectId, ...grantOverrides });
        const cases: Array<[string, () => Promise<{ digest: string; now?: number; conditions?: typeof conditions }>]> = [
          ['issued to another client', async () => ({ digest: (await fresh()).refresh.tokenDigest, conditions: { ...conditions, clientId: `another-client-${randomUUID()}` } })],
          ['an access token', async () => ({ digest: (await fresh()).access.tokenDigest })],
          ['expired', async () => ({ digest: (await fresh()).refresh.tokenDigest, now: NOW + 61 * 86_400 })],
          ['rotated already', async () => {
            const { grant, refresh } = await fresh();
            assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 5, tokenPair(grant, NOW + 5)), 'rotated');
            return { digest: refresh.tokenDigest };
          }],
          ['of a revoked grant', async () => {
            const { grant, refresh } = await fresh();
            assert.equal(await storage.grants.revoke(grant.grantId, NOW + 5, 'test'), true);
            return { digest: refresh.tokenDigest };
          }],
          ['of a grant that named resources (RFC 8707)', async () => ({ digest: (await fresh({ resources: ['https://api.example/ledger'] })).refresh.tokenDigest })],
          ['with a scope outside the default resource', async () => ({ digest: (await fresh()).refresh.tokenDigest, conditions: { ...conditions, defaultResourceScopes: ['users:read'] } })],
          ['bound to a DPoP key (RFC 9449 §5)', async () => {
            const { grant, refresh } = await fresh();
            const bound = tokenPair(grant, NOW + 5);
            bound[1] = { ...bound[1], dpopJkt: 'a-jwk-thumbprint' };
            assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 5, bound), 'rotated');
            return { digest: bound[1].tokenDigest };
          }],
        ];
        for (const [name, prepare] of cases) {
          const { digest: presented, now = NOW + 10, conditions: asked = conditions } = await prepare();
          const before = await storage.tokens.findByDigest(presented);
          const tokens = mintedPair(now);
          const result = await storage.tokens.rotateReadyRefreshToken(presented, now, asked, tokens, rotatedEvent(f, now, tokens), { sealedSuccessor: 'x', graceExpiresAt: now + 30 });
          assert.equal(result.outcome, 'not_ready', name);
          assert.ok(result.outcome === 'not_ready');
          assert.deepEqual(result.found, { token: before!.token, grant: before!.grant }, `${name}: the token and grant as read`);
          assert.deepEqual(await storage.tokens.findByDigest(presented), before, `${name}: unchanged`);
          for (const token of tokens) assert.equal(await storage.tokens.findByDigest(token.tokenDigest), undefined, `${name}: nothing stored`);
        }
        assert.deepEqual(await storage.tokens.rotateReadyRefreshToken(digest(), NOW, conditions, mintedPair(NOW)), { outcome: 'not_ready' }, 'an unknown digest');
        assert.deepEqual(await storage.audit.list({ types: ['refresh_token.rotated'], limit: 10 }), []);
      }));

      it('the same token presented twice at once rotates once: the other, read before or after, stores nothing', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, refresh } = await issueGrant(storage, f);
        const conditions = { clientId: f.client.clientId, defaultResourceScopes: DEFAULT_SCOPES };
        const [first, second] = [mintedPair(NOW + 10), mintedPair(NOW + 10)];
        const results = await Promise.all([first, second].map((tokens) => storage.tokens.rotateReadyRefreshToken(refresh.tokenDigest, NOW + 10, conditions, tokens)));
        assert.equal(results.filter((result) => result.outcome === 'rotated').length, 1);
        const loser = results.find((result) => result.outcome !== 'rotated')!;
        // Read current, then the compare-and-swap lost (not_current), or read after the winner's rotation (not_ready, rotated):
        // either way the refresh grant answers it as a retry within the grace window or as reuse.
        if (loser.outcome === 'not_current') {
          assert.equal(loser.grant.grantId, grant.grantId);
          assert.equal(loser.presented.tokenDigest, refresh.tokenDigest);
        } else {
          assert.equal(loser.outcome, 'not_ready');
          assert.ok(loser.outcome === 'not_ready');
          assert.equal(loser.found?.token.rotatedAt, NOW + 10);
          assert.equal(loser.found?.grant.grantId, grant.grantId);
        }
        const lost = results[0]!.outcome === 'rotated' ? second : first;
        for (const token of lost) assert.equal(await storage.tokens.findByDigest(token.tokenDigest), undefined);
      }));
    });
  });
}
