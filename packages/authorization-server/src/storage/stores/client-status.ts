/**
 * `clients.changeStatus` (storage.ts; SPEC decision 13, issue 15 §5): a suspension or a deletion with its
 * revocation, its audit event and its webhook in ONE transaction, written once for both databases over the SQL
 * driver. They were four commits (client-management.ts): a failure after the status committed left access tokens
 * of a suspended client, or grants of a deleted one, live until the action was repeated, and the audit event and
 * webhook of that call were never recorded.
 */
import { toClient } from '../rows.ts';
import type { SqlDriver, SqlStep, SqlTransaction } from '../sql/driver.ts';
import type { ClientStatus, ClientStatusChange, ClientStatusChangeOutcome } from '../storage.ts';
import { writtenRowsOf } from '../postgres/written-rows.ts';
import { insertAuditEventSteps } from './audit.ts';
import { revokeGrantSteps } from './grant-revocation.ts';
import { enqueueIfSubscribedSteps } from './webhooks.ts';

const SET_STATUS = {
  suspended: "UPDATE clients SET status = 'suspended' WHERE client_id = ? RETURNING *",
  // A deleted client's previous secret authenticates nothing: cleared with it.
  deleted: "UPDATE clients SET status = 'deleted', previous_secret_digest = NULL, previous_secret_expires_at = NULL WHERE client_id = ? RETURNING *",
} as const;

/** Access tokens of the client's active grants (the grants' client index, then tokens_by_grant: migration 27). */
const REVOKE_ACCESS_TOKENS = `UPDATE tokens SET revoked_at = ? WHERE kind = 'access' AND revoked_at IS NULL
  AND grant_id IN (SELECT grant_id FROM grants WHERE client_id = ? AND revoked_at IS NULL)`;

export function changeClientStatus(db: SqlDriver, clientId: string, change: ClientStatusChange): Promise<ClientStatusChangeOutcome> {
  // PostgreSQL: refresh tokens this instance remembers writing must not answer a rotation from memory after it.
  if (change.status === 'deleted' && db.dialect === 'postgres') writtenRowsOf(db).forgetAllGrants();
  return db.transaction((tx) => changeClientStatusSteps(tx, clientId, change));
}

function* changeClientStatusSteps(tx: SqlTransaction, clientId: string, change: ClientStatusChange): SqlStep<ClientStatusChangeOutcome> {
  const postgres = tx.dialect === 'postgres';
  // PostgreSQL lock order (storage.ts AuthenticatedClient): the client row first, so an exchange in flight (its
  // SHARE lock) commits before this reads the grants; then the grants in the rotations' key order, so a rotation
  // in flight (its grant's lock) commits first and its new access token is seen and revoked. SQLite: one writer.
  const current = yield* tx.get(`SELECT * FROM clients WHERE client_id = ?${postgres ? ' FOR NO KEY UPDATE' : ''}`, [clientId]);
  if (current === undefined) return { outcome: 'not_found' };
  const previousStatus = current.status as ClientStatus;
  if (change.status === 'suspended' && previousStatus === 'deleted') return { outcome: 'not_found' };
  const changing = previousStatus !== change.status;
  const client = toClient(changing ? (yield* tx.get(SET_STATUS[change.status], [clientId]))! : current);
  const grants = yield* tx.all(`SELECT grant_id FROM grants WHERE client_id = ? AND revoked_at IS NULL${postgres ? ' ORDER BY grant_id COLLATE "C" FOR UPDATE' : ''}`, [clientId]);
  let grantsRevoked = 0;
  if (change.status === 'deleted') {
    for (const grant of grants) {
      if (yield* revokeGrantSteps(tx, String(grant.grant_id), change.now, 'client_deleted', { webhookDelivery: change.grantRevoked })) grantsRevoked += 1;
    }
  }
  // A suspension keeps the grants (a reactivation resumes them) and stops their access tokens; after a deletion's
  // grant revocations this finds none left.
  const accessTokensRevoked = (yield* tx.run(REVOKE_ACCESS_TOKENS, [change.now, clientId])).changes;
  const done = { previousStatus, grantsRevoked, accessTokensRevoked };
  // Unchanged (completing an older version's failed revocation): recorded only if it revoked something.
  const auditEvent = changing || grantsRevoked + accessTokensRevoked > 0 ? change.auditEvent(done) : undefined;
  if (auditEvent) yield* insertAuditEventSteps(tx, auditEvent);
  if (changing && change.clientEvent) yield* enqueueIfSubscribedSteps(tx, change.clientEvent);
  return { outcome: changing ? 'changed' : 'unchanged', client, auditEvent, ...done };
}
