/**
 * The user-identity part of the storage contract suite (storage.ts `UserIdentityStore`, issue 10 §2), run by
 * contract/index.ts on every backend.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Storage, UserIdentityRecord } from '../storage.ts';
import { type ContractBackend, NOW, userRecord } from './fixtures.ts';

const ISSUER = 'https://id.platform.example';

async function liveUser(storage: Storage): Promise<string> {
  const user = userRecord({ passwordHash: null });
  await storage.users.create(user);
  return user.userId;
}

const identity = (userId: string, overrides: Partial<UserIdentityRecord> = {}): UserIdentityRecord =>
  ({ issuer: ISSUER, subject: `sub-${randomUUID()}`, userId, linkedAt: NOW, lastSignInAt: NOW, ...overrides });

export function userIdentitiesContract({ withStorage }: ContractBackend): void {
  describe('user identities (upstream OpenID Provider accounts, issue 10 §2)', () => {
    it('links (issuer, sub) to a live user and finds it by exactly that pair', withStorage(async (storage) => {
      const userId = await liveUser(storage);
      const linked = identity(userId);
      assert.equal(await storage.userIdentities.link(linked), 'linked');
      assert.deepEqual(await storage.userIdentities.find(ISSUER, linked.subject), linked);
      // OpenID Connect Core §5.7: the pair identifies the account; the same sub at another issuer is another account.
      assert.equal(await storage.userIdentities.find('https://other.example', linked.subject), undefined);
      assert.equal(await storage.userIdentities.find(ISSUER, linked.subject.toUpperCase()), undefined);
      assert.deepEqual(await storage.userIdentities.listOfUser(userId), [linked]);
    }));

    it('refuses a second link of the same (issuer, sub), and a second account at one issuer for one user, storing nothing', withStorage(async (storage) => {
      const alice = await liveUser(storage);
      const bob = await liveUser(storage);
      const first = identity(alice);
      assert.equal(await storage.userIdentities.link(first), 'linked');
      assert.equal(await storage.userIdentities.link(identity(bob, { subject: first.subject })), 'subject_taken');
      assert.equal(await storage.userIdentities.link(identity(alice)), 'user_taken');
      assert.equal((await storage.userIdentities.find(ISSUER, first.subject))?.userId, alice);
      assert.deepEqual(await storage.userIdentities.listOfUser(bob), []);
      assert.equal((await storage.userIdentities.listOfUser(alice)).length, 1);
      // Another issuer is another account: the same user may link one there.
      assert.equal(await storage.userIdentities.link(identity(alice, { issuer: 'https://other.example' })), 'linked');
    }));

    it('refuses to link an unknown or deleted user, and no longer finds the link of a user deleted afterwards', withStorage(async (storage) => {
      assert.equal(await storage.userIdentities.link(identity(randomUUID())), 'unknown_user');
      const userId = await liveUser(storage);
      const linked = identity(userId);
      assert.equal(await storage.userIdentities.link(linked), 'linked');
      assert.ok(await storage.directory.deleteUser(userId, NOW + 1));
      assert.equal(await storage.userIdentities.find(ISSUER, linked.subject), undefined);
      assert.equal(await storage.userIdentities.link(identity(userId, { issuer: 'https://other.example' })), 'unknown_user');
    }));

    it('recordSignIn moves lastSignInAt only for that identity', withStorage(async (storage) => {
      const alice = identity(await liveUser(storage));
      const bob = identity(await liveUser(storage));
      await storage.userIdentities.link(alice);
      await storage.userIdentities.link(bob);
      await storage.userIdentities.recordSignIn(ISSUER, alice.subject, NOW + 60);
      assert.equal((await storage.userIdentities.find(ISSUER, alice.subject))?.lastSignInAt, NOW + 60);
      assert.equal((await storage.userIdentities.find(ISSUER, bob.subject))?.lastSignInAt, NOW);
    }));
  });
}
