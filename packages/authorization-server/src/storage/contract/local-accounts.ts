/**
 * The local-account part of the storage contract suite (storage.ts `LocalAccountStore`, issue 10 §3),
 * run by contract/index.ts on every backend. Times are passed in explicitly.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PasswordTokenRecord, PendingLoginRecord, Storage } from '../storage.ts';
import { type ContractBackend, NOW, digest } from './fixtures.ts';

async function newUser(storage: Storage): Promise<string> {
  const userId = randomUUID();
  assert.equal(await storage.directory.createUser({ userId, email: `user-${userId}@example.com`, name: 'Alice', locale: null, createdAt: NOW, updatedAt: NOW }), 'created');
  return userId;
}

const link = (userId: string, overrides: Partial<PasswordTokenRecord> = {}): PasswordTokenRecord =>
  ({ tokenDigest: digest(), userId, purpose: 'invitation', createdAt: NOW, expiresAt: NOW + 72 * 3600, ...overrides });

/** The local-account contract, inside the caller's describe; `withStorage` gives each test a fresh storage. */
export function localAccountsContract({ withStorage }: ContractBackend): void {
  describe('localAccounts (issue 10 §3: invitations, resets, TOTP second factor)', () => {
    it('a password link is found until it expires, and consumed exactly once', withStorage(async (storage) => {
      const userId = await newUser(storage);
      const token = link(userId);
      await storage.localAccounts.createPasswordToken(token);
      assert.deepEqual(await storage.localAccounts.findPasswordToken(token.tokenDigest, NOW), token);
      assert.equal(await storage.localAccounts.findPasswordToken(token.tokenDigest, token.expiresAt), undefined, 'expired at expiresAt');
      assert.equal(await storage.localAccounts.consumePasswordToken(token.tokenDigest, token.expiresAt), undefined, 'an expired link is not consumed');
      const [first, second] = await Promise.all([
        storage.localAccounts.consumePasswordToken(token.tokenDigest, NOW + 1),
        storage.localAccounts.consumePasswordToken(token.tokenDigest, NOW + 1),
      ]);
      assert.deepEqual([first, second].filter(Boolean), [token], 'of two concurrent consumptions exactly one gets the link');
      assert.equal(await storage.localAccounts.findPasswordToken(token.tokenDigest, NOW + 2), undefined, 'a used link is gone');
    }));

    it('a new link voids the user\'s earlier unused link of the same purpose, not of the other', withStorage(async (storage) => {
      const userId = await newUser(storage);
      const invitation = link(userId);
      const reset = link(userId, { purpose: 'reset', expiresAt: NOW + 3600 });
      await storage.localAccounts.createPasswordToken(invitation);
      await storage.localAccounts.createPasswordToken(reset);
      const newer = link(userId, { createdAt: NOW + 10 });
      await storage.localAccounts.createPasswordToken(newer);
      assert.equal(await storage.localAccounts.findPasswordToken(invitation.tokenDigest, NOW + 11), undefined);
      assert.ok(await storage.localAccounts.findPasswordToken(newer.tokenDigest, NOW + 11));
      assert.ok(await storage.localAccounts.findPasswordToken(reset.tokenDigest, NOW + 11));
    }));

    it('consuming a link voids the user\'s other unused links, of either purpose, and no other user\'s', withStorage(async (storage) => {
      const userId = await newUser(storage);
      const other = await newUser(storage);
      const invitation = link(userId);
      const reset = link(userId, { purpose: 'reset', expiresAt: NOW + 3600 });
      const othersLink = link(other);
      for (const token of [invitation, reset, othersLink]) await storage.localAccounts.createPasswordToken(token);
      assert.deepEqual(await storage.localAccounts.consumePasswordToken(invitation.tokenDigest, NOW + 1), invitation);
      assert.equal(await storage.localAccounts.findPasswordToken(reset.tokenDigest, NOW + 2), undefined, 'the reset link ended with the invitation');
      assert.equal(await storage.localAccounts.consumePasswordToken(reset.tokenDigest, NOW + 2), undefined);
      assert.ok(await storage.localAccounts.findPasswordToken(othersLink.tokenDigest, NOW + 2), 'another user\'s link stays');
    }));

    it('consuming a link deletes the user\'s pending logins (they proved the old password), and no other user\'s', withStorage(async (storage) => {
      const userId = await newUser(storage);
      const other = await newUser(storage);
      const pending = (user: string): PendingLoginRecord => ({
        pendingDigest: digest(), userId: user, step: 'enrol', returnTo: '/account', createdAt: NOW, expiresAt: NOW + 600, failures: 0,
      });
      const mine = pending(userId);
      const theirs = pending(other);
      await storage.localAccounts.createPendingLogin(mine);
      await storage.localAccounts.createPendingLogin(theirs);
      const token = link(userId);
      await storage.localAccounts.createPasswordToken(token);
      assert.ok(await storage.localAccounts.consumePasswordToken(token.tokenDigest, NOW + 1));
      assert.equal(await storage.localAccounts.findPendingLogin(mine.pendingDigest, NOW + 1), undefined);
      assert.ok(await storage.localAccounts.findPendingLogin(theirs.pendingDigest, NOW + 1));
    }));

    it('a deleted user\'s link is neither found nor consumed', withStorage(async (storage) => {
      const userId = await newUser(storage);
      const token = link(userId);
      await storage.localAccounts.createPasswordToken(token);
      await storage.directory.deleteUser(userId, NOW);
      assert.equal(await storage.localAccounts.findPasswordToken(token.tokenDigest, NOW), undefined);
      assert.equal(await storage.localAccounts.consumePasswordToken(token.tokenDigest, NOW), undefined);
    }));

    it('a second factor counts once confirmed; a confirmed one cannot be restarted; removal clears it', withStorage(async (storage) => {
      const userId = await newUser(storage);
      assert.equal(await storage.localAccounts.startSecondFactor(userId, 'ciphertext-1', NOW), true);
      assert.equal(await storage.localAccounts.startSecondFactor(userId, 'ciphertext-2', NOW + 1), true, 'an unconfirmed enrolment is replaced');
      assert.deepEqual(await storage.localAccounts.findSecondFactor(userId), { userId, secretCiphertext: 'ciphertext-2', createdAt: NOW + 1, confirmedAt: null, lastTimeStep: null });
      assert.equal(await storage.localAccounts.useTimeStep(userId, 100), false, 'an unconfirmed factor accepts no code');
      const codes = [digest(), digest()];
      assert.equal(await storage.localAccounts.confirmSecondFactor(userId, 100, codes, NOW + 2), true);
      assert.equal(await storage.localAccounts.confirmSecondFactor(userId, 101, codes, NOW + 3), false, 'confirmed once');
      assert.equal(await storage.localAccounts.startSecondFactor(userId, 'ciphertext-3', NOW + 4), false);
      assert.equal((await storage.localAccounts.findSecondFactor(userId))?.secretCiphertext, 'ciphertext-2');
      assert.equal(await storage.localAccounts.countRecoveryCodes(userId), 2);
      assert.equal(await storage.localAccounts.removeSecondFactor(userId), true);
      assert.equal(await storage.localAccounts.findSecondFactor(userId), undefined);
      assert.equal(await storage.localAccounts.countRecoveryCodes(userId), 0);
      assert.equal(await storage.localAccounts.removeSecondFactor(userId), false);
    }));

    it('a TOTP time step is accepted only when later than the last accepted one (RFC 6238 §5.2: no replay)', withStorage(async (storage) => {
      const userId = await newUser(storage);
      await storage.localAccounts.startSecondFactor(userId, 'ciphertext', NOW);
      await storage.localAccounts.confirmSecondFactor(userId, 100, [], NOW);
      assert.equal(await storage.localAccounts.useTimeStep(userId, 100), false, 'the confirming code\'s step is used');
      assert.equal(await storage.localAccounts.useTimeStep(userId, 99), false, 'an earlier step is refused');
      const results = await Promise.all([storage.localAccounts.useTimeStep(userId, 101), storage.localAccounts.useTimeStep(userId, 101)]);
      assert.deepEqual(results.sort(), [false, true], 'of two concurrent uses of one code exactly one succeeds');
    }));

    it('a recovery code works once', withStorage(async (storage) => {
      const userId = await newUser(storage);
      const code = digest();
      await storage.localAccounts.startSecondFactor(userId, 'ciphertext', NOW);
      await storage.localAccounts.confirmSecondFactor(userId, 100, [code, digest()], NOW);
      assert.equal(await storage.localAccounts.useRecoveryCode(userId, digest(), NOW), false, 'an unknown code');
      assert.equal(await storage.localAccounts.useRecoveryCode(userId, code, NOW), true);
      assert.equal(await storage.localAccounts.useRecoveryCode(userId, code, NOW), false, 'a used code');
      assert.equal(await storage.localAccounts.countRecoveryCodes(userId), 1);
    }));

    it('a pending login is found until it expires, counts failures, and is deleted once', withStorage(async (storage) => {
      const userId = await newUser(storage);
      const pending: PendingLoginRecord = { pendingDigest: digest(), userId, step: 'verify', returnTo: '/portal', createdAt: NOW, expiresAt: NOW + 300, failures: 0 };
      await storage.localAccounts.createPendingLogin(pending);
      assert.deepEqual(await storage.localAccounts.findPendingLogin(pending.pendingDigest, NOW), pending);
      assert.equal(await storage.localAccounts.findPendingLogin(pending.pendingDigest, NOW + 300), undefined);
      assert.equal(await storage.localAccounts.recordPendingLoginFailure(pending.pendingDigest), 1);
      assert.equal(await storage.localAccounts.recordPendingLoginFailure(pending.pendingDigest), 2);
      const deletions = await Promise.all([storage.localAccounts.deletePendingLogin(pending.pendingDigest), storage.localAccounts.deletePendingLogin(pending.pendingDigest)]);
      assert.deepEqual(deletions.sort(), [false, true], 'of two concurrent completions exactly one wins');
    }));

    it('cleanup deletes used and expired links and expired pending logins, and keeps the rest', withStorage(async (storage) => {
      const userId = await newUser(storage);
      const expired = link(userId, { purpose: 'reset', expiresAt: NOW - 1 });
      const used = link(userId);
      const live = link(userId, { userId: await newUser(storage) });
      for (const token of [expired, used, live]) await storage.localAccounts.createPasswordToken(token);
      await storage.localAccounts.consumePasswordToken(used.tokenDigest, NOW);
      const pending = (expiresAt: number): PendingLoginRecord => ({ pendingDigest: digest(), userId, step: 'enrol', returnTo: '/', createdAt: NOW - 600, expiresAt, failures: 0 });
      const oldPending = pending(NOW - 1);
      const livePending = pending(NOW + 60);
      await storage.localAccounts.createPendingLogin(oldPending);
      await storage.localAccounts.createPendingLogin(livePending);
      assert.deepEqual(await storage.localAccounts.deleteExpired(NOW, 1), { passwordTokens: 2, pendingLogins: 1 });
      assert.ok(await storage.localAccounts.findPasswordToken(live.tokenDigest, NOW));
      assert.ok(await storage.localAccounts.findPendingLogin(livePending.pendingDigest, NOW));
      assert.deepEqual(await storage.localAccounts.deleteExpired(NOW, 10), { passwordTokens: 0, pendingLogins: 0 });
    }));
  });
}
