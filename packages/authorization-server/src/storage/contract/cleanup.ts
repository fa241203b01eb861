/**
 * The cleanup job's storage side (storage.ts `cleanup`). What each store's own rows become is also checked in
 * that store's suite (interactions, pushed requests, rate limits, refresh-token grace).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AUTHORIZATION_CODE_RETENTION_SECONDS } from '../storage.ts';
import type { CleanupResult, TokenRecord } from '../storage.ts';
import { type ContractBackend, NOW, DAY_SECONDS, digest, createCompany, fixture, codeRecord, grantRecord, tokenPair, rotationChain } from './fixtures.ts';

export function cleanupContract({ withStorage }: ContractBackend): void {
  describe('cleanup (expired codes, tokens, sessions and superseded grants; never audit events)', () => {
    it('deletes exactly what expired, keeps refresh-token families until their own expiry, and only then their revoked grants', withStorage(async (storage) => {
      const f = await fixture(storage);
      const D = DAY_SECONDS;
      const C = NOW + 200 * D; // the time of the cleanup run
      const subject = async () => ({ subjectId: (await createCompany(storage)).subjectId });

      // Login sessions: expired ones (expiresAt <= now) go; a live one stays.
      const sessions = [-5, -4, -3, -2, -1, 0, 1].map((offset) => ({ sessionDigest: digest(), userId: f.user.userId, createdAt: C - 3600, expiresAt: C + offset }));
      for (const session of sessions) await storage.loginSessions.create(session);

      // An active grant refreshed over 70 days: its rotated-out refresh tokens have expired one by one,
      // but the family lives on (R2 valid until C + 60 d), so all of them stay recognisable as replays.
      const live = await rotationChain(storage, f, [C - 70 * D, C - 65 * D, C - 600], await subject());
      // An active grant nobody refreshed for 61 days: the whole family expired. The grant stays (active consent).
      const dormant = await rotationChain(storage, f, [C - 130 * D, C - 61 * D], await subject());
      // Revoked yesterday (a replay): its family is still within its expiry, so its refresh tokens stay.
      const revokedRecently = await rotationChain(storage, f, [C - 20 * D, C - 2 * D], await subject());
      await storage.grants.revoke(revokedRecently.grant.grantId, C - D, 'refresh_token_reuse');
      // Revoked long ago with a long-expired family: everything goes, the grant too.
      const revokedLongAgo = await rotationChain(storage, f, [C - 150 * D, C - 100 * D], await subject());
      await storage.grants.revoke(revokedLongAgo.grant.grantId, C - 99 * D, 'user_revoked');
      // Superseded (SPEC decision 11) by a new consent three days ago: the old grant goes with its tokens.
      const company = await subject();
      const superseded = await rotationChain(storage, f, [C - 120 * D], company);
      const successor = await rotationChain(storage, f, [C - 3 * D], company);
      assert.equal((await storage.grants.find(superseded.grant.grantId))?.revocationReason, 'superseded');
      // A revoked grant with an expired family whose code is still kept for replay detection: the code
      // refers to the grant, so the grant stays until the code goes.
      const heldSubject = await subject();
      const heldCode = codeRecord(f, { ...heldSubject, issuedAt: C - AUTHORIZATION_CODE_RETENTION_SECONDS - 59, expiresAt: C - AUTHORIZATION_CODE_RETENTION_SECONDS + 1 });
      await storage.authorizationCodes.create(heldCode);
      await storage.authorizationCodes.consume(heldCode.codeDigest, heldCode.issuedAt);
      const heldGrant = grantRecord(f, { ...heldSubject, createdAt: C - 61 * D });
      const heldTokens = tokenPair(heldGrant, C - 61 * D);
      assert.equal(await storage.grants.issueForCode(heldCode.codeDigest, heldGrant, heldTokens), 'issued');
      await storage.grants.revoke(heldGrant.grantId, C - 2 * D, 'user_revoked');

      // Unredeemed codes around the retention boundary (expiresAt + retention <= now goes).
      const codeAt = (expiresAt: number) => codeRecord(f, { issuedAt: expiresAt - 60, expiresAt });
      const codeTooOld = codeAt(C - AUTHORIZATION_CODE_RETENTION_SECONDS - 1);
      const codeAtBoundary = codeAt(C - AUTHORIZATION_CODE_RETENTION_SECONDS);
      const codeRetained = codeAt(C - AUTHORIZATION_CODE_RETENTION_SECONDS + 1);
      const codeLive = codeAt(C + 30);
      for (const code of [codeTooOld, codeAtBoundary, codeRetained, codeLive]) await storage.authorizationCodes.create(code);

      // Login-throttle windows: one ended (C - 100), one current (until C + 890).
      await storage.loginThrottle.recordFailure(['account:ended'], C - 1000, { maxFailures: 10, windowSeconds: 900 });
      await storage.loginThrottle.recordFailure(['address:current'], C - 10, { maxFailures: 10, windowSeconds: 900 });

      // Known devices: one expired (at C), one still known.
      const [deviceGone, deviceKept] = [digest(), digest()];
      await storage.knownDevices.remember(deviceGone, f.user.userId, C - 180 * D, C);
      await storage.knownDevices.remember(deviceKept, f.user.userId, C - 10, C + 180 * D);

      for (let i = 0; i < 3; i++) await storage.audit.record({ type: `event.${i}`, at: C - 200 * D + i, actor: 'system' });

      const result = await storage.cleanup.deleteExpired(C, 2);
      assert.deepEqual(result, {
        deleted: 35, loginSessions: 6, authorizationCodes: 8, accessTokens: 11, refreshTokens: 6, grants: 2, loginThrottleWindows: 1, interactions: 0, rateLimitWindows: 0, knownDevices: 1, pushedRequests: 0,
        refreshTokenGrace: 0, partnerTeamInvitations: 0,
      });
      assert.equal(await storage.knownDevices.isKnown(deviceKept, f.user.userId, C), true, 'a device still known stays');

      const exists = async (token: TokenRecord) => (await storage.tokens.findByDigest(token.tokenDigest)) !== undefined;
      const [l0, l1, l2] = live.pairs;
      assert.deepEqual(await Promise.all([l0![0], l1![0], l2![0]].map(exists)), [false, false, true], 'live grant: expired access tokens go');
      assert.deepEqual(await Promise.all([l0![1], l1![1], l2![1]].map(exists)), [true, true, true], 'live grant: the refresh family stays whole');
      // ...so presenting the oldest one is still recognised as a replay (rotated, not unknown).
      assert.equal((await storage.tokens.findByDigest(l0![1].tokenDigest))?.token.rotatedAt, C - 65 * D);
      assert.ok(await storage.grants.find(live.grant.grantId));

      for (const pair of dormant.pairs) for (const token of pair) assert.equal(await exists(token), false, 'dormant: expired family');
      assert.deepEqual(await storage.grants.find(dormant.grant.grantId), dormant.grant, 'an active grant is the record of consent: kept');

      assert.deepEqual(await Promise.all(revokedRecently.pairs.flat().map(exists)), [false, true, false, true], 'recently revoked: refresh family kept');
      assert.ok(await storage.grants.find(revokedRecently.grant.grantId));

      for (const token of revokedLongAgo.pairs.flat()) assert.equal(await exists(token), false);
      assert.equal(await storage.grants.find(revokedLongAgo.grant.grantId), undefined, 'revoked, no tokens, no code: deleted');

      for (const token of superseded.pairs.flat()) assert.equal(await exists(token), false);
      assert.equal(await storage.grants.find(superseded.grant.grantId), undefined, 'superseded, no tokens: deleted');
      assert.deepEqual(await Promise.all(successor.pairs.flat().map(exists)), [false, true]);
      assert.deepEqual(await storage.grants.find(successor.grant.grantId), successor.grant);

      for (const token of heldTokens) assert.equal(await exists(token), false);
      assert.ok(await storage.grants.find(heldGrant.grantId), 'its retained code still refers to it');

      assert.deepEqual(await storage.loginSessions.findActive(sessions.at(-1)!.sessionDigest, C), { ...sessions.at(-1)!, authenticatedAt: sessions.at(-1)!.createdAt, lastSeenAt: sessions.at(-1)!.createdAt, user: { ...f.user, locale: null } });
      assert.equal((await storage.loginThrottle.recordFailure(['address:current'], C, { maxFailures: 10, windowSeconds: 900 })).failures[0], 2, 'current window kept');
      assert.equal((await storage.loginThrottle.recordFailure(['account:ended'], C, { maxFailures: 10, windowSeconds: 900 })).failures[0], 1);
      assert.equal((await storage.audit.list()).length, 3, 'audit events are never deleted (SPEC decision 19)');

      // Codes: the retained ones still answer replays (RFC 6749 §4.1.2); the deleted ones are unknown.
      const replay = await storage.authorizationCodes.consume(heldCode.codeDigest, C);
      assert.deepEqual(replay.outcome === 'replayed' && replay.grantId, heldGrant.grantId);
      assert.equal((await storage.authorizationCodes.consume(codeRetained.codeDigest, C)).outcome, 'consumed');
      assert.equal((await storage.authorizationCodes.consume(codeLive.codeDigest, C)).outcome, 'consumed');
      for (const code of [codeTooOld, codeAtBoundary, live.code, superseded.code]) {
        assert.equal((await storage.authorizationCodes.consume(code.codeDigest, C)).outcome, 'unknown');
      }

      // Nothing more to do at the same time.
      assert.equal((await storage.cleanup.deleteExpired(C, 2)).deleted, 0);
      // Once the retained code ages out, its revoked grant goes in the same run.
      const later = await storage.cleanup.deleteExpired(C + 2, 100);
      assert.equal(later.authorizationCodes, 2); // heldCode and codeRetained
      assert.equal(later.grants, 1);
      assert.equal(await storage.grants.find(heldGrant.grantId), undefined);

      // The live family moves on: a rotation 30 days later extends it to C + 90 d. After R2's own expiry
      // (C + 60 d) every rotated-out token still stays; once the family has expired, all of it goes.
      const [a3, r3] = tokenPair(live.grant, C + 30 * D);
      assert.equal(await storage.tokens.rotateRefreshToken(l2![1].tokenDigest, C + 30 * D, [a3, r3]), 'rotated');
      await storage.cleanup.deleteExpired(C + 61 * D, 2); // other families (revokedRecently, successor) end here
      for (const token of [l0![1], l1![1], l2![1], r3]) assert.equal(await exists(token), true, 'the family lives until C + 90 d');
      assert.equal((await storage.cleanup.deleteExpired(C + 90 * D, 2)).refreshTokens, 4, 'the live family, and nothing else was left');
      for (const token of [l0![1], l1![1], l2![1], r3]) assert.equal(await exists(token), false);
      assert.ok(await storage.grants.find(live.grant.grantId), 'an active grant stays, tokens or not');
    }));

    it('concurrent cleanup runs delete every row once between them (safe on every instance at once)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const C = NOW + 100 * DAY_SECONDS;
      for (let i = 0; i < 25; i++) {
        await storage.loginSessions.create({ sessionDigest: digest(), userId: f.user.userId, createdAt: NOW, expiresAt: C - 1 - i });
      }
      for (let i = 0; i < 6; i++) {
        const { grant } = await rotationChain(storage, f, [NOW, NOW + 10], { subjectId: (await createCompany(storage)).subjectId });
        await storage.grants.revoke(grant.grantId, NOW + 20, 'user_revoked');
      }
      const runs = await Promise.all(Array.from({ length: 4 }, () => storage.cleanup.deleteExpired(C, 3)));
      const total = (kind: keyof CleanupResult) => runs.reduce((sum, run) => sum + run[kind], 0);
      assert.equal(total('loginSessions'), 25);
      assert.equal(total('accessTokens'), 12);
      assert.equal(total('refreshTokens'), 12);
      assert.equal(total('authorizationCodes'), 6);
      // A run may finish its grant pass before another run deletes the last tokens: one more run completes it.
      const after = await storage.cleanup.deleteExpired(C, 3);
      assert.equal(total('grants') + after.grants, 6);
      assert.equal(after.deleted - after.grants, 0);
    }));

    it('refuses a batch size below 1', withStorage(async (storage) => {
      await assert.rejects(storage.cleanup.deleteExpired(NOW, 0), RangeError);
    }));
  });
}
