/**
 * Revoking a grant on a person's request (SPEC decision 15: users from the connected apps page,
 * administrators through the admin API): the grant and every token of it at once (storage
 * `grants.revoke`), then the audit event `grant.revoked` naming who did it (SPEC decision 19).
 * Resource servers refuse its access tokens within the documented bound (README, decision 7).
 */
import type { Storage } from '../storage/storage.ts';
import { queueGrantRevoked } from '../webhooks/webhook-events.ts';

export type GrantRevocationOutcome = 'revoked' | 'not_found' | 'already_revoked';

/**
 * @param actor `user:<id>` or `admin:<name>`.
 * @param reason stored on the grant: `user_disconnected` or `admin_revoked`.
 * @param urnNamespace the brand's, for the `grant.revoked` webhook event's `subject_urn` (issue 15 §5).
 */
export async function revokeGrantBy(storage: Storage, grantId: string, now: number, actor: string, reason: string, urnNamespace: string): Promise<GrantRevocationOutcome> {
  const grant = await storage.grants.find(grantId);
  if (!grant) return 'not_found';
  if (!(await storage.grants.revoke(grantId, now, reason))) return 'already_revoked';
  await storage.audit.record({ type: 'grant.revoked', at: now, actor, clientId: grant.clientId, grantId, details: { reason } });
  // Issue 15 §5: the partner learns at once (queued where the revocation is audited).
  await queueGrantRevoked(storage, urnNamespace, grant, now, reason);
  return 'revoked';
}
