/**
 * The local-account store (stores/local-accounts.ts, issue 10 §3) on both backends, beyond the storage
 * contract: a full set of recovery codes (one multi-row INSERT), concurrent consumption by more than two
 * callers, a restart racing a confirmation, and two cleanup runs at once (issue 12).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestPostgresStorage, postgresSkipReason } from '../../testing/postgres.ts';
import { createSqliteStorage } from '../sqlite/sqlite-storage.ts';
import type { PasswordTokenRecord, Storage } from '../storage.ts';

const NOW = 1_800_000_000;
const digest = () => randomBytes(32).toString('base64url');
const postgresSkip = await postgresSkipReason();

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`localAccounts on ${backend} (issue 12: one store for both databases)`, { skip: backend === 'postgres' ? postgresSkip : false }, () => {
    let storage: Storage;
    before(async () => {
      storage = backend === 'postgres' ? await createTestPostgresStorage() : createSqliteStorage(':memory:');
    });
    after(() => storage.close());

    const newUser = async () => {
      const userId = randomUUID();
      assert.equal(await storage.directory.createUser({ userId, email: `user-${userId}@example.com`, name: 'Alice', locale: null, createdAt: NOW, updatedAt: NOW }), 'created');
      return userId;
    };
    const link = (userId: string, overrides: Partial<PasswordTokenRecord> = {}): PasswordTokenRecord =>
      ({ tokenDigest: digest(), userId, purpose: 'reset', createdAt: NOW, expiresAt: NOW + 3600, ...overrides });

    it('confirming with ten recovery codes stores all ten, each usable once; a second confirmation stores none', async () => {
      const userId = await newUser();
      const codes = Array.from({ length: 10 }, digest);
      assert.equal(await storage.localAccounts.startSecondFactor(userId, 'ciphertext', NOW), true);
      assert.equal(await storage.localAccounts.confirmSecondFactor(userId, 100, codes, NOW), true);
      assert.equal(await storage.localAccounts.confirmSecondFactor(userId, 101, [digest()], NOW), false);
      assert.equal(await storage.localAccounts.countRecoveryCodes(userId), 10, 'the refused confirmation replaced nothing');
      for (const code of codes) assert.equal(await storage.localAccounts.useRecoveryCode(userId, code, NOW), true);
      for (const code of codes) assert.equal(await storage.localAccounts.useRecoveryCode(userId, code, NOW), false);
      assert.equal(await storage.localAccounts.countRecoveryCodes(userId), 0);
    });

    it('of five concurrent consumptions of one link exactly one gets it', async () => {
      const token = link(await newUser());
      await storage.localAccounts.createPasswordToken(token);
      const outcomes = await Promise.all(Array.from({ length: 5 }, () => storage.localAccounts.consumePasswordToken(token.tokenDigest, NOW + 1)));
      assert.deepEqual(outcomes.filter(Boolean), [token]);
    });

    it('a restart racing a confirmation never replaces the confirmed factor', async () => {
      for (let round = 0; round < 5; round += 1) {
        const userId = await newUser();
        await storage.localAccounts.startSecondFactor(userId, 'first', NOW);
        const [confirmed, restarted] = await Promise.all([
          storage.localAccounts.confirmSecondFactor(userId, 100, [digest()], NOW + 1),
          storage.localAccounts.startSecondFactor(userId, 'second', NOW + 1),
        ]);
        assert.equal(confirmed, true, 'a restart leaves the factor unconfirmed, so the confirmation always succeeds');
        const factor = await storage.localAccounts.findSecondFactor(userId);
        assert.equal(factor?.confirmedAt, NOW + 1);
        assert.equal(factor?.lastTimeStep, 100);
        // Either the restart came first (and the confirmation confirmed its secret) or it was refused.
        assert.equal(factor?.secretCiphertext, restarted ? 'second' : 'first');
      }
    });

    it('two cleanup runs at once delete every used or expired row exactly once', async () => {
      await storage.localAccounts.deleteExpired(NOW, 1000); // what earlier tests left
      const userId = await newUser();
      // Links of one user and purpose: each new one voids (uses) the one before, and all have expired.
      for (let index = 0; index < 12; index += 1) await storage.localAccounts.createPasswordToken(link(userId, { expiresAt: NOW - 1 }));
      const live = link(userId);
      await storage.localAccounts.createPasswordToken(live);
      for (let index = 0; index < 6; index += 1) {
        await storage.localAccounts.createPendingLogin({ pendingDigest: digest(), userId, step: 'verify', returnTo: '/', createdAt: NOW - 600, expiresAt: NOW - 1, failures: 0 });
      }
      const [a, b] = await Promise.all([storage.localAccounts.deleteExpired(NOW, 2), storage.localAccounts.deleteExpired(NOW, 2)]);
      assert.equal(a.passwordTokens + b.passwordTokens, 12);
      assert.equal(a.pendingLogins + b.pendingLogins, 6);
      assert.ok(await storage.localAccounts.findPasswordToken(live.tokenDigest, NOW), 'the live link is kept');
    });
  });
}
