/**
 * Revoking a grant with its tokens and its effects (issue 15 §5) inside a store's own transaction
 * (issue 12), written once for both databases over the SQL driver: `yield*` it inside `db.transaction`.
 * Its effects use the audit and webhook stores' steps (`insertAuditEventSteps`, `enqueueIfSubscribedSteps`).
 *
 * The hot paths of the main storage files (code exchange, rotation, `grants.revoke`) keep their own
 * dialect-specific versions; these serve the stores written over the driver (the directory first).
 */
import { toGrant } from '../rows.ts';
import type { SqlStep, SqlTransaction } from '../sql/driver.ts';
import type { GrantRevocationEffects } from '../storage.ts';
import { insertAuditEventSteps } from './audit.ts';
import { enqueueIfSubscribedSteps } from './webhooks.ts';

/** A revoked grant gains no tokens: once its latest token has expired (`cleanup_after`), cleanup may consider it. */
const CLEANUP_AFTER = '(SELECT COALESCE(MAX(t.expires_at), 0) FROM tokens t WHERE t.grant_id = grants.grant_id)';

/**
 * Revokes a grant and its tokens, and records its effects only when it was revoked now (so they commit
 * with it, or not at all: issue 15 §5). PostgreSQL: the grant row is updated first (lock order), so the
 * tokens statement then sees every token committed before it, and `cleanup_after` is computed after that.
 * SQLite, the one writer: no token can appear meanwhile, so the grant's statement sets `cleanup_after`
 * too (one statement and one index move fewer per revocation and supersede, issue 12).
 * @returns false when the grant was already revoked (or does not exist).
 */
export function* revokeGrantSteps(tx: SqlTransaction, grantId: string, now: number, reason: string, effects?: GrantRevocationEffects): SqlStep<boolean> {
  const sqlite = tx.dialect === 'sqlite';
  // Never before the grant's creation (a clock set back meanwhile): a grant created after a code was issued
  // is then live or revoked after it, which is all the SPEC decision 6 check reads (migration 33).
  const revoked = yield* tx.get(
    `UPDATE grants SET revoked_at = ${sqlite ? 'max' : 'GREATEST'}(?, created_at), revocation_reason = ?${sqlite ? `, cleanup_after = ${CLEANUP_AFTER}` : ''}
       WHERE grant_id = ? AND revoked_at IS NULL RETURNING *`,
    [now, reason, grantId],
  );
  yield* tx.run('UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL', [now, grantId]);
  // Also for a grant revoked before (a row from before cleanup_after existed has none).
  if (!sqlite || !revoked) yield* tx.run(`UPDATE grants SET cleanup_after = ${CLEANUP_AFTER} WHERE grant_id = ? AND revoked_at IS NOT NULL`, [grantId]);
  if (!revoked) return false;
  if (effects?.auditEvent) yield* insertAuditEventSteps(tx, effects.auditEvent);
  if (effects?.webhookDelivery) yield* enqueueIfSubscribedSteps(tx, effects.webhookDelivery(toGrant(revoked)));
  return true;
}
