/**
 * Single-use records (stores/single-use.ts: consent interactions and pushed authorization requests) on
 * two instances of one database, on every backend: of concurrent consumers exactly one gets the record,
 * and a refused consume changes nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { InteractionRecord, PushedRequestRecord, Storage } from '../storage.ts';
import { userRecord } from '../contract/fixtures.ts';
import { storeBackends } from '../../testing/store-backends.ts';

const NOW = 1_800_000_000;
const digest = () => randomBytes(32).toString('base64url');

const interaction = (sessionDigest: string): InteractionRecord => ({
  interactionDigest: digest(), sessionDigest, clientId: randomUUID(),
  requestParameters: { client_id: 'ledgerly', scope: 'users:read', state: 'xyz' }, createdAt: NOW, expiresAt: NOW + 600,
});
/** An interaction is taken only while its login session is active: a user and a session to own it. */
async function interactionInSession(storage: Storage): Promise<InteractionRecord> {
  const user = userRecord();
  await storage.users.create(user);
  const sessionDigest = digest();
  await storage.loginSessions.create({ sessionDigest, userId: user.userId, createdAt: NOW, expiresAt: NOW + 3600 });
  return interaction(sessionDigest);
}
const pushedRequest = (): PushedRequestRecord => ({
  requestUriDigest: digest(), clientId: randomUUID(), requestParameters: { client_id: 'ledgerly', scope: 'users:read' }, createdAt: NOW, expiresAt: NOW + 60,
});

for (const backend of await storeBackends()) {
  describe(`single-use records on two instances (${backend.name})`, { skip: backend.skip }, () => {
    it('of 20 concurrent consumes of one interaction, split over two instances, exactly one gets it', backend.withTwo(async ({ a, b }) => {
      const record = await interactionInSession(a);
      await a.interactions.create(record);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).interactions.consume(record.interactionDigest, record.sessionDigest, NOW + 1)));
      assert.deepEqual(results.filter((result) => result !== undefined).map((result) => result!.interaction), [record]);
    }));

    it('of 20 concurrent consumes of one pushed request, split over two instances, exactly one gets it', backend.withTwo(async ({ a, b }) => {
      const record = pushedRequest();
      await b.pushedRequests.create(record);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).pushedRequests.consume(record.requestUriDigest, record.clientId, NOW + 1)));
      assert.deepEqual(results.filter((result) => result !== undefined), [record]);
    }));

    it('is refused at its expiry (now = expiresAt) without being used up; a consume on one instance is seen by the other', backend.withTwo(async ({ a, b }) => {
      const pushed = pushedRequest();
      await a.pushedRequests.create(pushed);
      assert.equal(await a.pushedRequests.consume(pushed.requestUriDigest, pushed.clientId, pushed.expiresAt), undefined);
      assert.deepEqual(await b.pushedRequests.consume(pushed.requestUriDigest, pushed.clientId, pushed.expiresAt - 1), pushed, 'the refusal changed nothing');
      assert.equal(await a.pushedRequests.consume(pushed.requestUriDigest, pushed.clientId, pushed.expiresAt - 1), undefined, 'used on the other instance');

      const consent = await interactionInSession(b);
      await b.interactions.create(consent);
      assert.equal(await b.interactions.consume(consent.interactionDigest, consent.sessionDigest, consent.expiresAt), undefined);
      assert.deepEqual((await a.interactions.consume(consent.interactionDigest, consent.sessionDigest, consent.expiresAt - 1))?.interaction, consent);
      assert.equal(await b.interactions.consume(consent.interactionDigest, consent.sessionDigest, NOW), undefined);
    }));

    it('keeps interactions and pushed requests apart: a key of one kind is unknown to the other', backend.withTwo(async ({ a }) => {
      const pushed = pushedRequest();
      await a.pushedRequests.create(pushed);
      assert.equal(await a.interactions.consume(pushed.requestUriDigest, pushed.clientId, NOW + 1), undefined);
      assert.deepEqual(await a.pushedRequests.consume(pushed.requestUriDigest, pushed.clientId, NOW + 1), pushed);
    }));
  });
}
