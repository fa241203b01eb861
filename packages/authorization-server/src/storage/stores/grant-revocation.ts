/**
 * Steps several stores take inside their own transaction (issue 12), written once for both databases
 * over the SQL driver: revoking a grant with its tokens and its effects (issue 15 §5), recording an
 * audit event, queueing a partner webhook delivery. Use them with `yield*` inside `db.transaction`.
 *
 * The hot paths of the main storage files (code exchange, rotation, `grants.revoke`) keep their own
 * dialect-specific versions; these serve the stores written over the driver (the directory first).
 */
import { toGrant, webhookSubscribes } from '../rows.ts';
import type { SqlStep, SqlTransaction } from '../sql/driver.ts';
import type { AuditEvent, GrantRevocationEffects, WebhookDeliveryRecord } from '../storage.ts';

/**
 * Revokes a grant and its tokens, and records its effects only when it was revoked now (so they commit
 * with it, or not at all: issue 15 §5). PostgreSQL: the grant row is updated first (lock order), so the
 * tokens statement then sees every token committed before it.
 * @returns false when the grant was already revoked (or does not exist).
 */
export function* revokeGrantSteps(tx: SqlTransaction, grantId: string, now: number, reason: string, effects?: GrantRevocationEffects): SqlStep<boolean> {
  const revoked = yield* tx.get('UPDATE grants SET revoked_at = ?, revocation_reason = ? WHERE grant_id = ? AND revoked_at IS NULL RETURNING *', [now, reason, grantId]);
  yield* tx.run('UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL', [now, grantId]);
  // A revoked grant gains no tokens: once its latest token has expired, cleanup may consider it.
  yield* tx.run('UPDATE grants SET cleanup_after = (SELECT COALESCE(MAX(expires_at), 0) FROM tokens WHERE grant_id = ?) WHERE grant_id = ? AND revoked_at IS NOT NULL', [grantId, grantId]);
  if (!revoked) return false;
  if (effects?.auditEvent) yield* insertAuditEventSteps(tx, effects.auditEvent);
  if (effects?.webhookDelivery) yield* enqueueIfSubscribedSteps(tx, effects.webhookDelivery(toGrant(revoked)));
  return true;
}

/** Appends an audit event (SPEC decision 19); `details` is stored as JSON (text on SQLite, jsonb on PostgreSQL). */
export function* insertAuditEventSteps(tx: SqlTransaction, event: AuditEvent): SqlStep<void> {
  // No cast on the details: PostgreSQL types the parameter from its jsonb column, SQLite stores the text.
  yield* tx.run('INSERT INTO audit_events (type, at, actor, client_id, grant_id, details) VALUES (?, ?, ?, ?, ?, ?)',
    [event.type, event.at, event.actor, event.clientId ?? null, event.grantId ?? null, JSON.stringify(event.details ?? {})]);
}

/** Issue 15 §5: queues the delivery if its client's endpoint receives that event type. @returns whether it was queued. */
export function* enqueueIfSubscribedSteps(tx: SqlTransaction, d: WebhookDeliveryRecord): SqlStep<boolean> {
  const endpoint = yield* tx.get('SELECT event_types FROM webhook_endpoints WHERE client_id = ?', [d.clientId]);
  if (!endpoint || !webhookSubscribes(endpoint.event_types, d.eventType)) return false;
  yield* tx.run(
    `INSERT INTO webhook_deliveries (delivery_id, client_id, event_type, payload, created_at, attempts, next_attempt_at, last_attempt_at, last_status, delivered_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [d.deliveryId, d.clientId, d.eventType, d.payload, d.createdAt, d.attempts, d.nextAttemptAt, d.lastAttemptAt, d.lastStatus, d.deliveredAt],
  );
  return true;
}
