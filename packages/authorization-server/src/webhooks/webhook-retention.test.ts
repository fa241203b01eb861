/**
 * Issue 15 §5, delivery retention: the cleanup job (storage/cleanup-job.ts `runCleanup`) deletes delivered
 * and given-up webhook deliveries older than the retention (default 30 days,
 * GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_DAYS), in batches, on both backends; pending deliveries stay however old.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { loadConfiguration } from '../configuration.ts';
import { DEFAULT_WEBHOOK_DELIVERY_RETENTION_SECONDS, runCleanup } from '../storage/cleanup-job.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage, WebhookDeliveryRecord } from '../storage/storage.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';

const postgresSkip = await postgresSkipReason();
const NOW = 1_800_000_000;
const DAY = 86_400;

const delivery = (clientId: string, ageDays: number, state: 'delivered' | 'given_up' | 'pending'): WebhookDeliveryRecord => ({
  deliveryId: `msg_${state}_${ageDays}_${randomUUID()}`, clientId, eventType: 'grant.revoked', payload: '{}', createdAt: NOW - ageDays * DAY,
  attempts: state === 'given_up' ? 8 : 1, nextAttemptAt: state === 'pending' ? NOW + 60 : null, lastAttemptAt: NOW - ageDays * DAY,
  lastStatus: state === 'delivered' ? 204 : 503, deliveredAt: state === 'delivered' ? NOW - ageDays * DAY : null,
});

for (const backend of [
  { name: 'SQLite', skip: false as string | false, open: async (): Promise<Storage> => createSqliteStorage(':memory:') },
  { name: 'PostgreSQL', skip: postgresSkip, open: (): Promise<Storage> => createTestPostgresStorage() },
]) {
  describe(`webhook delivery retention (issue 15 §5) on ${backend.name}`, { skip: backend.skip }, () => {
    it('deletes finished deliveries older than 30 days by default, then honours GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_DAYS; pending ones stay', async () => {
      const storage = await backend.open();
      try {
        const clientId = randomUUID();
        for (const [ageDays, state] of [[45, 'delivered'], [31, 'given_up'], [60, 'pending'], [29, 'delivered'], [8, 'given_up'], [1, 'delivered']] as const) {
          await storage.webhooks.enqueue(delivery(clientId, ageDays, state));
        }
        assert.equal(DEFAULT_WEBHOOK_DELIVERY_RETENTION_SECONDS, 30 * DAY);
        const first = await runCleanup(storage, NOW, 1);
        assert.equal(first.webhookDeliveries, 2, 'in batches of 1 until none is left');
        const left = async () => (await storage.webhooks.list(clientId, 10)).map((d) => d.deliveryId.split('_').slice(1, -1).join('_')).sort();
        assert.deepEqual(await left(), ['delivered_1', 'delivered_29', 'given_up_8', 'pending_60'].sort());

        const { cleanup } = loadConfiguration({ GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_DAYS: '7' });
        const second = await runCleanup(storage, NOW, 500, cleanup.auditRetentionSeconds, cleanup.webhookDeliveryRetentionSeconds);
        assert.equal(second.webhookDeliveries, 2);
        assert.ok(second.deleted >= 2, 'counted in the run\'s total');
        assert.deepEqual(await left(), ['delivered_1', 'pending_60'].sort(), 'a pending delivery is never deleted, however old');
      } finally {
        await storage.close();
      }
    });
  });
}
