/**
 * stores/webhooks.ts on two instances of one database, on every backend: workers on different instances
 * never claim one delivery twice, and get the deliveries as they were before the lease.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { WebhookDeliveryRecord } from '../storage.ts';
import { storeBackends } from '../../testing/store-backends.ts';

const NOW = 1_800_000_000;

const delivery = (clientId: string, nextAttemptAt: number): WebhookDeliveryRecord => ({
  deliveryId: `msg_${randomUUID()}`, clientId, eventType: 'grant.revoked', payload: '{"type":"grant.revoked"}', createdAt: NOW - 100,
  attempts: 0, nextAttemptAt, lastAttemptAt: null, lastStatus: null, deliveredAt: null,
});

for (const backend of await storeBackends()) {
  describe(`webhook deliveries on two instances (${backend.name})`, { skip: backend.skip }, () => {
    it('concurrent claims on two instances never take one delivery twice; each comes back as it was before the lease', backend.withTwo(async ({ a, b }) => {
      const clientId = randomUUID();
      const queued = Array.from({ length: 12 }, (_, i) => delivery(clientId, NOW - 60 + i));
      for (const d of queued) await a.webhooks.enqueue(d);
      const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).webhooks.claimDue(NOW, 3, 30)));
      const claimed = claims.flat();
      assert.equal(new Set(claimed.map((d) => d.deliveryId)).size, claimed.length, 'no delivery claimed twice');
      for (const d of claimed) assert.deepEqual(d, queued.find((q) => q.deliveryId === d.deliveryId));
      for (const claim of claims) assert.deepEqual(claim, claim.toSorted((x, y) => x.nextAttemptAt! - y.nextAttemptAt!), 'oldest due first');
      const rest = await b.webhooks.claimDue(NOW, 100, 30);
      assert.equal(claimed.length + rest.length, 12, 'every due delivery is claimed once');
      assert.deepEqual(await a.webhooks.claimDue(NOW + 29, 100, 30), [], 'all leased');
    }));

    it('concurrent retention runs on two instances delete each finished delivery once, never a pending one', backend.withTwo(async ({ a, b }) => {
      const clientId = randomUUID();
      for (let i = 0; i < 20; i++) await a.webhooks.enqueue({ ...delivery(clientId, NOW), nextAttemptAt: null, deliveredAt: NOW - 50, attempts: 1, lastStatus: 200, lastAttemptAt: NOW - 50 });
      for (let i = 0; i < 3; i++) await a.webhooks.enqueue(delivery(clientId, NOW + 60));
      const deleted = await Promise.all(Array.from({ length: 4 }, (_, i) => (i % 2 === 0 ? a : b).webhooks.deleteFinishedBefore(NOW, 100)));
      assert.equal(deleted.reduce((sum, n) => sum + n, 0), 20);
      assert.equal((await b.webhooks.list(clientId, 100)).length, 3);
    }));
  });
}
