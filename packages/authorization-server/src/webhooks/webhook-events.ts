/**
 * Issue 15 §5: the events partners receive, queued in `webhook_deliveries` right where the revocation or
 * suspension is audited. A client without a webhook endpoint gets nothing queued. Payloads never carry a
 * token, a code or a secret: only ids, the subject URN and the reason.
 */
import { randomUUID } from 'node:crypto';
import type { GrantRecord, Storage } from '../storage/storage.ts';
import { formatSubjectUrn } from '@gatehouse/protocol';

export type WebhookEventType = 'grant.revoked' | 'client.suspended';

/** The JSON body: `{ type, timestamp (RFC 3339), data }` (Standard Webhooks payload structure). */
export interface WebhookEvent {
  type: WebhookEventType;
  timestamp: string;
  data: Record<string, string>;
}

async function enqueue(storage: Storage, clientId: string, now: number, type: WebhookEventType, data: Record<string, string>): Promise<void> {
  if (!(await storage.webhooks.findEndpoint(clientId))) return;
  const event: WebhookEvent = { type, timestamp: new Date(now * 1000).toISOString(), data };
  await storage.webhooks.enqueue({
    deliveryId: `msg_${randomUUID()}`, clientId, eventType: type, payload: JSON.stringify(event), createdAt: now,
    attempts: 0, nextAttemptAt: now, lastAttemptAt: null, lastStatus: null, deliveredAt: null,
  });
}

/**
 * Queues `grant.revoked` for the grant's client. `reason`: `user_disconnected`, `admin_revoked`,
 * `refresh_token_reuse`, … (the grant's revocation reason).
 */
export async function queueGrantRevoked(storage: Storage, urnNamespace: string, grant: GrantRecord, now: number, reason: string): Promise<void> {
  await enqueue(storage, grant.clientId, now, 'grant.revoked', {
    grant_id: grant.grantId, client_id: grant.clientId, subject_urn: formatSubjectUrn(urnNamespace, grant.subjectType, grant.subjectId), reason,
  });
}

/** Queues `client.suspended` for the client itself. */
export async function queueClientSuspended(storage: Storage, clientId: string, now: number): Promise<void> {
  await enqueue(storage, clientId, now, 'client.suspended', { client_id: clientId });
}
