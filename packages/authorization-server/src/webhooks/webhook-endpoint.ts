/**
 * Issue 15 §5: a client's webhook settings, shared by the admin API, the CLI and the developer portal, so
 * all three keep the same rules. Each change is audited (`client.webhook_set` with the URL, its query redacted by
 * webhook-secret.ts webhookUrlForAudit, and the events, `client.webhook_events_set`, `client.webhook_secret_rotated`,
 * `client.webhook_removed`, `client.webhook_resent`), never with the secret.
 */
import type { Storage } from '../storage/storage.ts';
import { WEBHOOK_EVENT_TYPES, isWebhookEventType, type WebhookEventType } from './webhook-events.ts';
import { encryptWebhookSecret, newWebhookSecret, webhookSecretKey, webhookUrlForAudit, webhookUrlProblem, type WebhookTargetRule } from './webhook-secret.ts';

export type SetWebhookOutcome =
  | { outcome: 'set'; url: string; secret: string; createdAt: number; eventTypes: WebhookEventType[] | null }
  | { outcome: 'unknown_client' }
  | { outcome: 'invalid_url'; problem: string }
  | { outcome: 'invalid_event_types'; problem: string };

/**
 * Which events an endpoint receives: null (every event, also ones added later) or a non-empty list of
 * known event types without repeats. @returns the problem, or undefined when acceptable.
 */
export function webhookEventTypesProblem(value: unknown): string | undefined {
  if (value === null) return undefined;
  if (!Array.isArray(value) || value.length === 0) return `event_types must be null (every event) or a non-empty list of: ${WEBHOOK_EVENT_TYPES.join(', ')}`;
  const unknown = value.find((type) => !isWebhookEventType(type));
  if (unknown !== undefined) return `unknown event type ${JSON.stringify(unknown)}; known: ${WEBHOOK_EVENT_TYPES.join(', ')}`;
  if (new Set(value).size !== value.length) return 'event_types must not repeat an event type';
  return undefined;
}

/** A partner client that is not deleted (webhooks belong to partner clients only). */
async function webhookClient(storage: Storage, clientId: string): Promise<boolean> {
  const client = await storage.clients.find(clientId);
  return Boolean(client && client.status !== 'deleted' && client.kind === 'client');
}

/**
 * Sets the URL with a new `whsec_` secret (returned once, stored only encrypted). `eventTypes`: null =
 * every event; undefined keeps what the endpoint had (every event for a new one). `rule`: the server's environment
 * and `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES` (webhook-secret.ts webhookUrlProblem).
 */
export async function setClientWebhook(
  storage: Storage, tokenHmacKey: Buffer, rule: WebhookTargetRule, clientId: string, url: unknown, actor: string, now: number, eventTypes?: unknown,
): Promise<SetWebhookOutcome> {
  if (!(await webhookClient(storage, clientId))) return { outcome: 'unknown_client' };
  const problem = webhookUrlProblem(url, rule.environment, rule.allowPrivateAddresses);
  if (problem) return { outcome: 'invalid_url', problem };
  const eventsProblem = eventTypes === undefined ? undefined : webhookEventTypesProblem(eventTypes);
  if (eventsProblem) return { outcome: 'invalid_event_types', problem: eventsProblem };
  const secret = newWebhookSecret();
  await storage.webhooks.setEndpoint({
    clientId, url: url as string, secretCiphertext: encryptWebhookSecret(webhookSecretKey(tokenHmacKey), clientId, secret), createdAt: now,
    ...(eventTypes === undefined ? {} : { eventTypes: eventTypes as WebhookEventType[] | null }),
  });
  const stored = (await storage.webhooks.findEndpoint(clientId))?.eventTypes ?? null;
  await storage.audit.record({ type: 'client.webhook_set', at: now, actor, clientId, details: { url: webhookUrlForAudit(url as string), event_types: stored === null ? 'all' : stored.join(' ') } });
  return { outcome: 'set', url: url as string, secret, createdAt: now, eventTypes: stored as WebhookEventType[] | null };
}

/** Changes which events the endpoint receives (null = every event); the URL and secret stay. */
export async function setClientWebhookEvents(
  storage: Storage, clientId: string, eventTypes: unknown, actor: string, now: number,
): Promise<{ outcome: 'set'; eventTypes: WebhookEventType[] | null } | { outcome: 'unknown_client' } | { outcome: 'no_webhook' } | { outcome: 'invalid_event_types'; problem: string }> {
  if (!(await webhookClient(storage, clientId))) return { outcome: 'unknown_client' };
  const problem = webhookEventTypesProblem(eventTypes);
  if (problem) return { outcome: 'invalid_event_types', problem };
  if (!(await storage.webhooks.setEventTypes(clientId, eventTypes as WebhookEventType[] | null))) return { outcome: 'no_webhook' };
  await storage.audit.record({ type: 'client.webhook_events_set', at: now, actor, clientId, details: { event_types: eventTypes === null ? 'all' : (eventTypes as string[]).join(' ') } });
  return { outcome: 'set', eventTypes: eventTypes as WebhookEventType[] | null };
}

/**
 * A new `whsec_` secret for the endpoint's URL (returned once); the old one stops signing at once, so
 * the partner must deploy the new one (Standard Webhooks receivers may accept both meanwhile).
 */
export async function rotateClientWebhookSecret(
  storage: Storage, tokenHmacKey: Buffer, clientId: string, actor: string, now: number,
): Promise<{ outcome: 'rotated'; secret: string } | { outcome: 'unknown_client' } | { outcome: 'no_webhook' }> {
  if (!(await webhookClient(storage, clientId))) return { outcome: 'unknown_client' };
  const endpoint = await storage.webhooks.findEndpoint(clientId);
  if (!endpoint) return { outcome: 'no_webhook' };
  const secret = newWebhookSecret();
  await storage.webhooks.setEndpoint({ clientId, url: endpoint.url, secretCiphertext: encryptWebhookSecret(webhookSecretKey(tokenHmacKey), clientId, secret), createdAt: now });
  await storage.audit.record({ type: 'client.webhook_secret_rotated', at: now, actor, clientId });
  return { outcome: 'rotated', secret };
}

/** Makes one of the client's deliveries due again (the same webhook-id). @returns false when the client has no such delivery. */
export async function resendWebhookDelivery(storage: Storage, clientId: string, deliveryId: string, actor: string, now: number): Promise<boolean> {
  if (!(await storage.webhooks.resend(clientId, deliveryId, now))) return false;
  await storage.audit.record({ type: 'client.webhook_resent', at: now, actor, clientId, details: { delivery_id: deliveryId } });
  return true;
}

/** @returns false when the client had no webhook. */
export async function removeClientWebhook(storage: Storage, clientId: string, actor: string, now: number): Promise<boolean> {
  if (!(await storage.webhooks.removeEndpoint(clientId))) return false;
  await storage.audit.record({ type: 'client.webhook_removed', at: now, actor, clientId });
  return true;
}
