/**
 * Issue 15 §5: the events partners receive, each one a partner can act on. A client without a webhook
 * endpoint, or whose endpoint is not subscribed to the event type, gets nothing queued. Payloads never
 * carry a token, a code or a secret: only ids, the subject URN and the reason.
 *
 * Grant revocations queue their `grant.revoked` deliveries INSIDE the storage transaction that revokes the
 * grant (storage.ts `GrantRevocationEffects`), so a crash between the two can neither lose nor invent an
 * event: user disconnects and admin revocations (with their audit event too), refresh-token reuse and
 * authorization-code replay (with their audit event too), client deletion and `rotate-secret
 * --revoke-grants` (per revoked grant), company and organization deletions (per revoked grant).
 * The client lifecycle events (`client.suspended`, `client.reactivated`, `client.deleted`) are queued in
 * their own statement right after the status change and its audit event.
 */
import { randomBytes } from 'node:crypto';
import type { AuditEvent, GrantRecord, GrantRevocationEffects, Storage, WebhookDeliveryRecord } from '../storage/storage.ts';
import { formatSubjectUrn } from '@gatehouse/protocol';

/** Every event type, in the order the portal, the admin API and the CLI list them. */
export const WEBHOOK_EVENT_TYPES = ['grant.revoked', 'client.suspended', 'client.reactivated', 'client.deleted'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const isWebhookEventType = (value: unknown): value is WebhookEventType => (WEBHOOK_EVENT_TYPES as readonly unknown[]).includes(value);

/**
 * Why a grant was revoked, as `grant.revoked`'s `data.reason` (the grant's stored revocation reason):
 * `user_disconnected`, `admin_revoked`, `refresh_token_reuse`, `authorization_code_replayed`,
 * `client_deleted`, `client_secret_rotated`, `company_deleted`, `organization_deleted`.
 */
export type GrantRevokedReason = string;

/** The JSON body: `{ type, timestamp (RFC 3339), data }` (Standard Webhooks payload structure). */
export interface WebhookEvent {
  type: WebhookEventType;
  timestamp: string;
  data: Record<string, string>;
}

let lastMilliseconds = 0;
let sequence = 0;

/**
 * A UUIDv7 (RFC 9562 §5.7) that sorts after every one this process made before: the millisecond, then a
 * 12-bit counter in `rand_a` (RFC 9562 §6.2, method 1), so ids of one millisecond keep their order too
 * (`crypto.randomUUIDv7` does not: its bits after the millisecond are random). A counter past 4,095 borrows
 * the next millisecond.
 */
export function monotonicUuidV7(nowMilliseconds = Date.now()): string {
  if (nowMilliseconds > lastMilliseconds) {
    lastMilliseconds = nowMilliseconds;
    sequence = 0;
  } else if (++sequence > 0xfff) {
    lastMilliseconds += 1;
    sequence = 0;
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(lastMilliseconds, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A queued delivery of one event (first attempt due at once). */
function delivery(clientId: string, now: number, type: WebhookEventType, data: Record<string, string>): WebhookDeliveryRecord {
  const event: WebhookEvent = { type, timestamp: new Date(now * 1000).toISOString(), data };
  return {
    // Time-ordered: deliveries are taken in id order after their due time, so a client's events of one second
    // reach it in the order they happened, and a receiver can order them by webhook-id.
    deliveryId: `msg_${monotonicUuidV7()}`, clientId, eventType: type, payload: JSON.stringify(event), createdAt: now,
    attempts: 0, nextAttemptAt: now, lastAttemptAt: null, lastStatus: null, deliveredAt: null,
  };
}

/** The `grant.revoked` delivery for one grant: `{ grant_id, client_id, subject_urn, reason }`. */
export function grantRevokedDelivery(urnNamespace: string, grant: GrantRecord, now: number, reason: GrantRevokedReason): WebhookDeliveryRecord {
  return delivery(grant.clientId, now, 'grant.revoked', {
    grant_id: grant.grantId, client_id: grant.clientId, subject_urn: formatSubjectUrn(urnNamespace, grant.subjectType, grant.subjectId), reason,
  });
}

/**
 * What a grant-revoking storage operation records in its own transaction: `grant.revoked` for each grant
 * it revoked (to a subscribed endpoint) and, for a single grant, `auditEvent`.
 */
export function grantRevocationEffects(urnNamespace: string, now: number, reason: GrantRevokedReason, auditEvent?: AuditEvent): GrantRevocationEffects {
  return { auditEvent, webhookDelivery: (grant) => grantRevokedDelivery(urnNamespace, grant, now, reason) };
}

type ClientEventType = 'client.suspended' | 'client.reactivated' | 'client.deleted';

/** A client lifecycle event (`{ client_id }`) for the client itself, for a storage operation to queue if subscribed. */
export function clientEventDelivery(clientId: string, now: number, type: ClientEventType): WebhookDeliveryRecord {
  return delivery(clientId, now, type, { client_id: clientId });
}

/** Queues a client lifecycle event (`{ client_id }`) for the client itself. @returns whether it was queued. */
export async function queueClientEvent(storage: Storage, clientId: string, now: number, type: ClientEventType): Promise<boolean> {
  return storage.webhooks.enqueueIfSubscribed(clientEventDelivery(clientId, now, type));
}
