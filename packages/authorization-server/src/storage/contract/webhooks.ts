/**
 * The webhook part of the storage contract suite (storage.ts `webhooks`, issue 15 §5), run by
 * contract/index.ts on every backend. Times are passed in explicitly.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GrantRecord, GrantRevocationEffects, Storage, WebhookDeliveryRecord } from '../storage.ts';
import { type ContractBackend, NOW, bareClientRecord, digest } from './fixtures.ts';

const delivery = (clientId: string, overrides: Partial<WebhookDeliveryRecord> = {}): WebhookDeliveryRecord => ({
  deliveryId: `msg_${randomUUID()}`, clientId, eventType: 'grant.revoked', payload: '{"type":"grant.revoked"}', createdAt: NOW,
  attempts: 0, nextAttemptAt: NOW, lastAttemptAt: null, lastStatus: null, deliveredAt: null, ...overrides,
});

/** A client (with or without a webhook endpoint), a user and `companies` companies, each with an active grant and its tokens. */
async function grantsFixture(storage: Storage, companies: number, endpoint: boolean): Promise<{ clientId: string; grants: GrantRecord[] }> {
  const clientId = randomUUID();
  const userId = randomUUID();
  await storage.clients.create(bareClientRecord({ clientId, subjectType: 'company' }));
  await storage.users.create({ userId, email: `user-${userId}@example.com`, name: 'Alice Admin', passwordHash: null });
  if (endpoint) await storage.webhooks.setEndpoint({ clientId, url: 'https://ledgerly.example/hooks', secretCiphertext: 'v1.x', createdAt: NOW });
  const grants: GrantRecord[] = [];
  for (let index = 0; index < companies; index++) {
    const subjectId = randomUUID();
    await storage.subjects.create({ subjectType: 'company', subjectId, name: `Company ${index}`, organizationId: null });
    const codeDigest = digest();
    await storage.authorizationCodes.create({
      codeDigest, clientId, userId, redirectUri: 'https://ledgerly.example/cb', scope: ['users:read'], subjectType: 'company', subjectId,
      codeChallenge: null, issuedAt: NOW, expiresAt: NOW + 60,
    });
    await storage.authorizationCodes.consume(codeDigest, NOW);
    const grant: GrantRecord = { grantId: randomUUID(), clientId, userId, subjectType: 'company', subjectId, scope: ['users:read'], createdAt: NOW, revokedAt: null, revocationReason: null };
    const base = { grantId: grant.grantId, clientId, scope: grant.scope, issuedAt: NOW, rotatedAt: null, revokedAt: null };
    assert.equal(await storage.grants.issueForCode(codeDigest, grant, [
      { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'access', expiresAt: NOW + 900 },
      { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'refresh', expiresAt: NOW + 86_400 },
    ]), 'issued');
    grants.push(grant);
  }
  return { clientId, grants };
}

/** Effects as webhooks/webhook-events.ts builds them, recording which grants the builder saw. */
const effectsFor = (now: number, seen: string[] = []): GrantRevocationEffects => ({
  webhookDelivery: (grant) => {
    seen.push(grant.grantId);
    return delivery(grant.clientId, { eventType: 'grant.revoked', payload: JSON.stringify({ grant_id: grant.grantId, reason: grant.revocationReason }), createdAt: now, nextAttemptAt: now });
  },
});

/** The webhook contract, inside the caller's describe; `withStorage` gives each test a fresh storage. */
export function webhooksContract({ withStorage }: ContractBackend): void {
  describe('webhooks (issue 15 §5: endpoints and the durable delivery queue)', () => {
    it('an endpoint is set, replaced, found and removed', withStorage(async (storage) => {
      const clientId = randomUUID();
      assert.equal(await storage.webhooks.findEndpoint(clientId), undefined);
      await storage.webhooks.setEndpoint({ clientId, url: 'https://a.example/hook', secretCiphertext: 'v1.a', createdAt: NOW });
      await storage.webhooks.setEndpoint({ clientId, url: 'https://b.example/hook', secretCiphertext: 'v1.b', createdAt: NOW + 1 });
      assert.deepEqual(await storage.webhooks.findEndpoint(clientId), { clientId, url: 'https://b.example/hook', secretCiphertext: 'v1.b', createdAt: NOW + 1, eventTypes: null });
      assert.equal(await storage.webhooks.removeEndpoint(clientId), true);
      assert.equal(await storage.webhooks.removeEndpoint(clientId), false);
      assert.equal(await storage.webhooks.findEndpoint(clientId), undefined);
    }));

    it('claimDue takes only due deliveries, oldest due first, and leases them so a second claim gets none', withStorage(async (storage) => {
      const clientId = randomUUID();
      const later = delivery(clientId, { nextAttemptAt: NOW + 60 });
      const second = delivery(clientId, { nextAttemptAt: NOW - 5 });
      const first = delivery(clientId, { nextAttemptAt: NOW - 10 });
      const done = delivery(clientId, { nextAttemptAt: null, deliveredAt: NOW - 1, attempts: 1, lastStatus: 200, lastAttemptAt: NOW - 1 });
      for (const d of [later, second, first, done]) await storage.webhooks.enqueue(d);
      assert.deepEqual(await storage.webhooks.claimDue(NOW, 10, 30), [first, second]);
      assert.deepEqual(await storage.webhooks.claimDue(NOW, 10, 30), [], 'leased: not due again until the lease ends');
      assert.deepEqual((await storage.webhooks.claimDue(NOW + 30, 10, 30)).map((d) => d.deliveryId).sort(), [first.deliveryId, second.deliveryId].sort(),
        'due again once the lease ends (a worker that died mid-delivery loses nothing)');
    }));

    it('concurrent claims never take one delivery twice (FOR UPDATE SKIP LOCKED on PostgreSQL)', withStorage(async (storage) => {
      const clientId = randomUUID();
      const queued = Array.from({ length: 6 }, () => delivery(clientId));
      for (const d of queued) await storage.webhooks.enqueue(d);
      const claims = await Promise.all([1, 2, 3].map(() => storage.webhooks.claimDue(NOW, 3, 30)));
      const ids = claims.flat().map((d) => d.deliveryId);
      assert.equal(new Set(ids).size, ids.length, 'no delivery claimed twice');
      assert.equal(ids.length, 6);
    }));

    it('recordAttempt counts attempts and keeps the last status; list is newest first; resend makes one due again for its own client only', withStorage(async (storage) => {
      const clientId = randomUUID();
      const old = delivery(clientId, { createdAt: NOW - 100 });
      const recent = delivery(clientId);
      await storage.webhooks.enqueue(old);
      await storage.webhooks.enqueue(recent);
      await storage.webhooks.enqueue(delivery(randomUUID()));
      await storage.webhooks.recordAttempt(old.deliveryId, { at: NOW, status: 503, nextAttemptAt: NOW + 10, deliveredAt: null });
      await storage.webhooks.recordAttempt(old.deliveryId, { at: NOW + 10, status: 204, nextAttemptAt: null, deliveredAt: NOW + 10 });
      const listed = await storage.webhooks.list(clientId, 10);
      assert.deepEqual(listed.map((d) => d.deliveryId), [recent.deliveryId, old.deliveryId]);
      assert.deepEqual(listed[1], { ...old, attempts: 2, lastAttemptAt: NOW + 10, lastStatus: 204, nextAttemptAt: null, deliveredAt: NOW + 10 });
      assert.equal(await storage.webhooks.resend(randomUUID(), old.deliveryId, NOW + 20), false, 'another client cannot resend it');
      assert.equal(await storage.webhooks.resend(clientId, old.deliveryId, NOW + 20), true);
      assert.deepEqual((await storage.webhooks.claimDue(NOW + 20, 10, 30)).filter((d) => d.clientId === clientId).map((d) => d.deliveryId).sort(), [old.deliveryId, recent.deliveryId].sort());
    }));
    it('an endpoint keeps its event subscription when replaced without eventTypes; setEventTypes changes it; enqueueIfSubscribed honours it', withStorage(async (storage) => {
      const clientId = randomUUID();
      assert.equal(await storage.webhooks.enqueueIfSubscribed(delivery(clientId)), false, 'no endpoint: nothing queued');
      assert.equal(await storage.webhooks.setEventTypes(clientId, ['grant.revoked']), false, 'no endpoint to change');
      await storage.webhooks.setEndpoint({ clientId, url: 'https://a.example/hook', secretCiphertext: 'v1.a', createdAt: NOW, eventTypes: ['client.suspended'] });
      await storage.webhooks.setEndpoint({ clientId, url: 'https://b.example/hook', secretCiphertext: 'v1.b', createdAt: NOW + 1 });
      assert.deepEqual((await storage.webhooks.findEndpoint(clientId))?.eventTypes, ['client.suspended'], 'a new URL or secret keeps the subscription');
      assert.equal(await storage.webhooks.enqueueIfSubscribed(delivery(clientId, { eventType: 'grant.revoked' })), false, 'not subscribed');
      const suspended = delivery(clientId, { eventType: 'client.suspended' });
      assert.equal(await storage.webhooks.enqueueIfSubscribed(suspended), true);
      assert.deepEqual(await storage.webhooks.list(clientId, 10), [suspended]);
      assert.equal(await storage.webhooks.setEventTypes(clientId, null), true);
      assert.equal((await storage.webhooks.findEndpoint(clientId))?.eventTypes, null, 'null: every event');
      assert.equal(await storage.webhooks.enqueueIfSubscribed(delivery(clientId, { eventType: 'grant.revoked' })), true);
      await storage.webhooks.setEndpoint({ clientId, url: 'https://b.example/hook', secretCiphertext: 'v1.c', createdAt: NOW + 2, eventTypes: ['grant.revoked', 'client.deleted'] });
      assert.deepEqual((await storage.webhooks.findEndpoint(clientId))?.eventTypes, ['grant.revoked', 'client.deleted']);
    }));

    it('grants.revoke queues the delivery and records the audit event in its transaction, only when it revoked the grant', withStorage(async (storage) => {
      const { clientId, grants: [grant] } = await grantsFixture(storage, 1, true);
      const seen: string[] = [];
      const effects = { ...effectsFor(NOW + 5, seen), auditEvent: { type: 'grant.revoked', at: NOW + 5, actor: 'admin:ops', clientId, grantId: grant!.grantId } };
      assert.equal(await storage.grants.revoke(grant!.grantId, NOW + 5, 'admin_revoked', effects), true);
      assert.equal(await storage.grants.revoke(grant!.grantId, NOW + 6, 'admin_revoked', effects), false, 'already revoked');
      assert.deepEqual(seen, [grant!.grantId], 'built once, from the revoked grant');
      const queued = await storage.webhooks.list(clientId, 10);
      assert.equal(queued.length, 1, 'one delivery, not one per call');
      assert.deepEqual(JSON.parse(queued[0]!.payload), { grant_id: grant!.grantId, reason: 'admin_revoked' }, 'the builder saw the grant as revoked');
      assert.equal((await storage.audit.list({ clientId, types: ['grant.revoked'] })).length, 1);
    }));

    it('a failing effect rolls the revocation back: the grant, its tokens, the audit event and the delivery commit together or not at all', withStorage(async (storage) => {
      const { clientId, grants: [grant] } = await grantsFixture(storage, 1, true);
      await assert.rejects(storage.grants.revoke(grant!.grantId, NOW + 5, 'admin_revoked', {
        auditEvent: { type: 'grant.revoked', at: NOW + 5, actor: 'admin:ops', clientId, grantId: grant!.grantId },
        webhookDelivery: () => { throw new Error('crash between the revocation and its event'); },
      }));
      assert.equal((await storage.grants.find(grant!.grantId))?.revokedAt, null, 'not revoked');
      assert.equal((await storage.grants.listActive({ clientId })).length, 1);
      assert.deepEqual(await storage.webhooks.list(clientId, 10), [], 'no event invented');
      assert.deepEqual(await storage.audit.list({ clientId }), [], 'no audit event either');
    }));

    it('revokeAllOfClient and directory.deleteSubject queue one delivery per grant they revoked; a client without an endpoint gets none', withStorage(async (storage) => {
      const { clientId, grants } = await grantsFixture(storage, 3, true);
      const seen: string[] = [];
      assert.equal(await storage.grants.revoke(grants[0]!.grantId, NOW + 1, 'user_disconnected'), true, 'no effects: nothing queued');
      assert.equal(await storage.grants.revokeAllOfClient(clientId, NOW + 2, 'client_secret_rotated', effectsFor(NOW + 2, seen)), 2);
      assert.deepEqual(seen.sort(), [grants[1]!.grantId, grants[2]!.grantId].sort(), 'only the grants this call revoked');
      assert.deepEqual((await storage.webhooks.list(clientId, 10)).map((d) => JSON.parse(d.payload).reason), ['client_secret_rotated', 'client_secret_rotated']);

      const other = await grantsFixture(storage, 1, true);
      const silent = await grantsFixture(storage, 1, false);
      const subject = other.grants[0]!;
      const deleted = await storage.directory.deleteSubject('company', subject.subjectId, NOW + 3, 'company_deleted', effectsFor(NOW + 3));
      assert.deepEqual(deleted, { outcome: 'deleted', grantsRevoked: 1, apiKeysRevoked: 0 });
      assert.deepEqual((await storage.webhooks.list(other.clientId, 10)).map((d) => JSON.parse(d.payload)), [{ grant_id: subject.grantId, reason: 'company_deleted' }]);
      assert.equal(await storage.grants.revokeAllOfClient(silent.clientId, NOW + 4, 'client_deleted', effectsFor(NOW + 4)), 1);
      assert.deepEqual(await storage.webhooks.list(silent.clientId, 10), [], 'no endpoint: the grant is revoked, nothing is queued');
    }));

    it('deleteFinishedBefore deletes delivered and given-up deliveries created before the cutoff, oldest first, never pending ones', withStorage(async (storage) => {
      const clientId = randomUUID();
      const deliveredOld = delivery(clientId, { createdAt: NOW - 300, nextAttemptAt: null, deliveredAt: NOW - 299, attempts: 1, lastStatus: 204, lastAttemptAt: NOW - 299 });
      const givenUpOld = delivery(clientId, { createdAt: NOW - 200, nextAttemptAt: null, attempts: 8, lastStatus: 500, lastAttemptAt: NOW - 100 });
      const pendingOld = delivery(clientId, { createdAt: NOW - 400, nextAttemptAt: NOW + 60, attempts: 3, lastStatus: 503, lastAttemptAt: NOW - 1 });
      const deliveredRecent = delivery(clientId, { createdAt: NOW, nextAttemptAt: null, deliveredAt: NOW, attempts: 1, lastStatus: 200, lastAttemptAt: NOW });
      for (const d of [deliveredOld, givenUpOld, pendingOld, deliveredRecent]) await storage.webhooks.enqueue(d);
      assert.equal(await storage.webhooks.deleteFinishedBefore(NOW - 10, 1), 1, 'at most limit');
      assert.deepEqual((await storage.webhooks.list(clientId, 10)).map((d) => d.deliveryId), [deliveredRecent.deliveryId, givenUpOld.deliveryId, pendingOld.deliveryId], 'the oldest finished went first');
      assert.equal(await storage.webhooks.deleteFinishedBefore(NOW - 10, 10), 1);
      assert.equal(await storage.webhooks.deleteFinishedBefore(NOW - 10, 10), 0);
      assert.deepEqual((await storage.webhooks.list(clientId, 10)).map((d) => d.deliveryId), [deliveredRecent.deliveryId, pendingOld.deliveryId], 'pending and recent ones stay');
    }));
  });
}
