/**
 * Revoking a grant on a person's request (SPEC decision 15: users from the connected apps page,
 * administrators through the admin API): the grant and every token of it at once (storage
 * `grants.revoke`), with the audit event `grant.revoked` naming who did it (SPEC decision 19) and the
 * partner's `grant.revoked` webhook (issue 15 §5) in the same transaction.
 * Resource servers refuse its access tokens within the documented bound (README, decision 7).
 */
import type { Storage } from '../storage/storage.ts';
import { grantRevocationEffects } from '../webhooks/webhook-events.ts';

export type GrantRevocationOutcome = 'revoked' | 'not_found' | 'already_revoked';

/**
 * @param actor `user:<id>` or `admin:<name>`.
 * @param reason stored on the grant: `user_disconnected` or `admin_revoked`.
 * @param urnNamespace the brand's, for the `grant.revoked` webhook event's `subject_urn` (issue 15 §5).
 */
export async function revokeGrantBy(storage: Storage, grantId: string, now: number, actor: string, reason: string, urnNamespace: string): Promise<GrantRevocationOutcome> {
  const grant = await storage.grants.find(grantId);
  if (!grant) return 'not_found';
  // Issue 15 §5: the partner learns at once; the delivery and the audit event commit with the revocation.
  const auditEvent = { type: 'grant.revoked', at: now, actor, clientId: grant.clientId, grantId, details: { reason } };
  if (!(await storage.grants.revoke(grantId, now, reason, grantRevocationEffects(urnNamespace, now, reason, auditEvent)))) return 'already_revoked';
  return 'revoked';
}
