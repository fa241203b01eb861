/**
 * The webhook part of the storage contract suite (storage.ts `webhooks`, issue 15 §5), run by
 * storage-contract.ts on every backend. Times are passed in explicitly.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Storage, WebhookDeliveryRecord } from './storage.ts';

const NOW = 1_800_000_000;

const delivery = (clientId: string, overrides: Partial<WebhookDeliveryRecord> = {}): WebhookDeliveryRecord => ({
  deliveryId: `msg_${randomUUID()}`, clientId, eventType: 'grant.revoked', payload: '{"type":"grant.revoked"}', createdAt: NOW,
  attempts: 0, nextAttemptAt: NOW, lastAttemptAt: null, lastStatus: null, deliveredAt: null, ...overrides,
});

/** The webhook contract, inside the caller's describe; `withStorage` gives each test a fresh storage. */
export function webhooksContract(withStorage: (body: (storage: Storage) => Promise<void>) => () => Promise<void>): void {
  describe('webhooks (issue 15 §5: endpoints and the durable delivery queue)', () => {
    it('an endpoint is set, replaced, found and removed', withStorage(async (storage) => {
      const clientId = randomUUID();
      assert.equal(await storage.webhooks.findEndpoint(clientId), undefined);
      await storage.webhooks.setEndpoint({ clientId, url: 'https://a.example/hook', secretCiphertext: 'v1.a', createdAt: NOW });
      await storage.webhooks.setEndpoint({ clientId, url: 'https://b.example/hook', secretCiphertext: 'v1.b', createdAt: NOW + 1 });
      assert.deepEqual(await storage.webhooks.findEndpoint(clientId), { clientId, url: 'https://b.example/hook', secretCiphertext: 'v1.b', createdAt: NOW + 1 });
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
  });
}
