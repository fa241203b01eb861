/**
 * stores/user-identities.ts on two instances of one database, on every backend: concurrent links decide
 * one winner by the two unique keys, and a refused link names the first reason in the documented order.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Storage, UserIdentityRecord } from '../storage.ts';
import { storeBackends } from '../../testing/store-backends.ts';

const NOW = 1_800_000_000;
const ISSUER = 'https://id.platform.example';

async function liveUser(storage: Storage): Promise<string> {
  const userId = randomUUID();
  await storage.users.create({ userId, email: `user-${userId}@example.com`, name: 'Alice Admin', passwordHash: null });
  return userId;
}
const identity = (userId: string, overrides: Partial<UserIdentityRecord> = {}): UserIdentityRecord =>
  ({ issuer: ISSUER, subject: `sub-${randomUUID()}`, userId, linkedAt: NOW, lastSignInAt: NOW, ...overrides });

for (const backend of await storeBackends()) {
  describe(`user identities on two instances (${backend.name})`, { skip: backend.skip }, () => {
    it('of concurrent links of one upstream account to different users, exactly one is linked, the others subject_taken', backend.withTwo(async ({ a, b }) => {
      const users = await Promise.all(Array.from({ length: 6 }, () => liveUser(a)));
      const subject = `sub-${randomUUID()}`;
      const outcomes = await Promise.all(users.map((userId, i) => (i % 2 === 0 ? a : b).userIdentities.link(identity(userId, { subject }))));
      assert.deepEqual(outcomes.toSorted(), ['linked', 'subject_taken', 'subject_taken', 'subject_taken', 'subject_taken', 'subject_taken']);
      const winner = users[outcomes.indexOf('linked')]!;
      assert.equal((await b.userIdentities.find(ISSUER, subject))?.userId, winner);
    }));

    it('of concurrent links of one user to different accounts at one issuer, exactly one is linked, the others user_taken', backend.withTwo(async ({ a, b }) => {
      const userId = await liveUser(a);
      const outcomes = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).userIdentities.link(identity(userId))));
      assert.deepEqual(outcomes.toSorted(), ['linked', 'user_taken', 'user_taken', 'user_taken', 'user_taken', 'user_taken']);
      assert.equal((await a.userIdentities.listOfUser(userId)).length, 1);
    }));

    it('names the first reason: unknown_user before subject_taken before user_taken, storing nothing', backend.withTwo(async ({ a, b }) => {
      const alice = await liveUser(a);
      const bob = await liveUser(a);
      const taken = identity(alice);
      assert.equal(await a.userIdentities.link(taken), 'linked');
      assert.equal(await b.userIdentities.link(identity(randomUUID(), { subject: taken.subject })), 'unknown_user', 'an unknown user, and a taken subject');
      assert.equal(await b.userIdentities.link(identity(alice, { subject: taken.subject })), 'subject_taken', 'the same link again');
      assert.equal(await b.userIdentities.link(identity(bob, { subject: taken.subject })), 'subject_taken');
      assert.deepEqual(await a.userIdentities.listOfUser(bob), []);
    }));
  });
}
