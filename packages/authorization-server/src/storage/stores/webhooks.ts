/**
 * Partner webhooks (storage.ts `webhooks`, issue 15 §5): one endpoint per client and the durable delivery
 * queue, written once for both databases over the SQL driver (issue 12).
 */
import { toWebhookDelivery, toWebhookEndpoint, webhookSubscribes } from '../rows.ts';
import type { SqlDriver, SqlStep, SqlTransaction } from '../sql/driver.ts';
import type { Storage, WebhookDeliveryRecord } from '../storage.ts';

const INSERT_DELIVERY = `INSERT INTO webhook_deliveries (delivery_id, client_id, event_type, payload, created_at, attempts, next_attempt_at, last_attempt_at, last_status, delivered_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

const deliveryColumns = (d: WebhookDeliveryRecord) =>
  [d.deliveryId, d.clientId, d.eventType, d.payload, d.createdAt, d.attempts, d.nextAttemptAt, d.lastAttemptAt, d.lastStatus, d.deliveredAt];

/**
 * Issue 15 §5: inside the caller's transaction, queues the delivery if its client's endpoint receives
 * that event type. @returns whether it was queued.
 */
export function* enqueueIfSubscribedSteps(tx: SqlTransaction, delivery: WebhookDeliveryRecord): SqlStep<boolean> {
  const endpoint = yield* tx.get('SELECT event_types FROM webhook_endpoints WHERE client_id = ?', [delivery.clientId]);
  if (!endpoint || !webhookSubscribes(endpoint.event_types, delivery.eventType)) return false;
  yield* tx.run(INSERT_DELIVERY, deliveryColumns(delivery));
  return true;
}

/**
 * No client_id or delivery_id holds NUL, which PostgreSQL text cannot (it refuses the parameter: a 500 where an unknown
 * client or delivery is a 404, SPEC decision 18): a lookup by one finds nothing, as clients.find (2f97c8e).
 */
const NUL = '\u0000';

export function createWebhookStore(db: SqlDriver): Storage['webhooks'] {
  // PostgreSQL: concurrent workers and cleanup runs on several instances each take different rows, and
  // never wait for one another. SQLite has no row locks (and no such clause): one writer at a time.
  const skipLocked = db.dialect === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
  return {
    async setEndpoint(endpoint) {
      await db.run(
        `INSERT INTO webhook_endpoints (client_id, url, secret_ciphertext, created_at, event_types) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (client_id) DO UPDATE SET url = excluded.url, secret_ciphertext = excluded.secret_ciphertext, created_at = excluded.created_at,
           event_types = CASE WHEN ? THEN excluded.event_types ELSE webhook_endpoints.event_types END`,
        // Absent eventTypes keep what a replaced endpoint had (a new URL or secret does not change the subscription).
        [endpoint.clientId, endpoint.url, endpoint.secretCiphertext, endpoint.createdAt, endpoint.eventTypes ? endpoint.eventTypes.join(' ') : null,
          endpoint.eventTypes !== undefined],
      );
    },
    async removeEndpoint(clientId) {
      if (clientId.includes(NUL)) return false;
      return (await db.run('DELETE FROM webhook_endpoints WHERE client_id = ?', [clientId])).changes > 0;
    },
    async findEndpoint(clientId) {
      if (clientId.includes(NUL)) return undefined;
      const row = await db.get('SELECT * FROM webhook_endpoints WHERE client_id = ?', [clientId]);
      return row && toWebhookEndpoint(row);
    },
    async enqueueIfSubscribed(delivery) {
      return db.transaction((tx) => enqueueIfSubscribedSteps(tx, delivery));
    },
    async setEventTypes(clientId, eventTypes) {
      if (clientId.includes(NUL)) return false;
      return (await db.run('UPDATE webhook_endpoints SET event_types = ? WHERE client_id = ?', [eventTypes === null ? null : eventTypes.join(' '), clientId])).changes > 0;
    },
    async deleteFinishedBefore(cutoffSeconds, limit) {
      return (await db.run(
        `DELETE FROM webhook_deliveries WHERE delivery_id IN (
           SELECT delivery_id FROM webhook_deliveries WHERE next_attempt_at IS NULL AND created_at < ? ORDER BY created_at LIMIT ?${skipLocked})`,
        [cutoffSeconds, limit],
      )).changes;
    },
    async enqueue(delivery) {
      await db.run(INSERT_DELIVERY, deliveryColumns(delivery));
    },
    async claimDue(now, limit, leaseSeconds) {
      // Select and lease in one transaction: on SQLite the one writer, on PostgreSQL the selected rows stay
      // locked (SKIP LOCKED: another worker takes others) until the lease commits; no two workers take one.
      return db.transaction(function* (tx) {
        const due = (yield* tx.all(
          `SELECT * FROM webhook_deliveries WHERE next_attempt_at <= ? ORDER BY next_attempt_at, delivery_id LIMIT ?${skipLocked}`, [now, limit],
        )).map(toWebhookDelivery);
        if (due.length > 0) {
          yield* tx.run(`UPDATE webhook_deliveries SET next_attempt_at = ? WHERE delivery_id IN (${due.map(() => '?').join(', ')})`,
            [now + leaseSeconds, ...due.map((d) => d.deliveryId)]);
        }
        // As they were before the lease, oldest due first (on PostgreSQL a row re-checked after a concurrent
        // update may come out of ORDER BY's order: SELECT docs, "The Locking Clause").
        return due.sort((a, b) => (a.nextAttemptAt! - b.nextAttemptAt!) || (a.deliveryId < b.deliveryId ? -1 : 1));
      });
    },
    async recordAttempt(deliveryId, attempt) {
      await db.run(
        'UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = ?, last_status = ?, next_attempt_at = ?, delivered_at = ? WHERE delivery_id = ?',
        [attempt.at, attempt.status, attempt.nextAttemptAt, attempt.deliveredAt, deliveryId],
      );
    },
    async list(clientId, limit) {
      if (clientId.includes(NUL)) return [];
      return (await db.all('SELECT * FROM webhook_deliveries WHERE client_id = ? ORDER BY created_at DESC, delivery_id DESC LIMIT ?', [clientId, limit])).map(toWebhookDelivery);
    },
    async resend(clientId, deliveryId, now) {
      if (clientId.includes(NUL) || deliveryId.includes(NUL)) return false;
      return (await db.run('UPDATE webhook_deliveries SET next_attempt_at = ? WHERE delivery_id = ? AND client_id = ?', [now, deliveryId, clientId])).changes > 0;
    },
  };
}
