/**
 * The audit log (storage.ts `audit`, SPEC decision 19: append-only), written once for both databases over
 * the SQL driver (issue 12). `insertAuditEventSteps` records an event inside another operation's
 * transaction, so the event commits with what it describes, or not at all.
 */
import { auditFilter, type Row } from '../rows.ts';
import type { SqlDriver, SqlStep, SqlTransaction } from '../sql/driver.ts';
import type { AuditEvent, Storage, StoredAuditEvent } from '../storage.ts';

// `details` is JSON text on SQLite and jsonb on PostgreSQL (the text is its input form).
const INSERT_AUDIT_EVENT = 'INSERT INTO audit_events (type, at, actor, client_id, grant_id, details) VALUES (?, ?, ?, ?, ?, ?)';

/** An audit event as the six values of `INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)`. */
export const auditEventColumns = (event: AuditEvent): unknown[] =>
  [event.type, event.at, event.actor, event.clientId ?? null, event.grantId ?? null, JSON.stringify(event.details ?? {})];

/** Records `event` inside the caller's transaction. */
export function* insertAuditEventSteps(tx: SqlTransaction, event: AuditEvent): SqlStep<void> {
  yield* tx.run(INSERT_AUDIT_EVENT, auditEventColumns(event));
}

export function createAuditStore(db: SqlDriver): Storage['audit'] {
  return {
    async record(event) {
      await db.run(INSERT_AUDIT_EVENT, auditEventColumns(event));
    },
    async list(options = {}) {
      const { where, parameters } = auditFilter(options, () => '?');
      return (await db.all(`SELECT * FROM audit_events${where} ORDER BY event_id DESC LIMIT ?`, [...parameters, options.limit ?? 100])).map(toStoredAuditEvent);
    },
    async listSince(sinceSeconds, afterEventId, limit) {
      return (await db.all('SELECT * FROM audit_events WHERE at >= ? AND event_id > ? ORDER BY event_id LIMIT ?', [sinceSeconds, afterEventId, limit])).map(toStoredAuditEvent);
    },
    async deleteOlderThan(cutoffSeconds, now, limit) {
      // The cutoff is recorded first, in the same transaction: the append-only triggers (migration 10)
      // let a DELETE through only for events older than the latest recorded cutoff.
      return db.transaction(function* (tx) {
        yield* tx.run(
          `INSERT INTO audit_retention_cutoffs (cutoff_at, recorded_at) SELECT ?, ?
           WHERE NOT EXISTS (SELECT 1 FROM audit_retention_cutoffs WHERE cutoff_at >= ?)`,
          [cutoffSeconds, now, cutoffSeconds],
        );
        return (yield* tx.run('DELETE FROM audit_events WHERE event_id IN (SELECT event_id FROM audit_events WHERE at < ? ORDER BY at LIMIT ?)', [cutoffSeconds, limit])).changes;
      });
    },
  };
}

/** An audit_events row: `event_id` and `at` are bigint on PostgreSQL (strings), `details` JSON text on SQLite. */
function toStoredAuditEvent(row: Row): StoredAuditEvent {
  return {
    eventId: Number(row.event_id), type: String(row.type), at: Number(row.at), actor: String(row.actor),
    clientId: row.client_id === null ? null : String(row.client_id), grantId: row.grant_id === null ? null : String(row.grant_id),
    details: (typeof row.details === 'string' ? JSON.parse(row.details) : row.details) as StoredAuditEvent['details'],
  };
}
