/**
 * Issue 15 §5: setting and removing a client's webhook, shared by the admin API and the CLI. Each change
 * is audited (`client.webhook_set` with the URL, `client.webhook_removed`), never with the secret.
 */
import type { Storage } from '../storage/storage.ts';
import { encryptWebhookSecret, newWebhookSecret, webhookSecretKey, webhookUrlProblem } from './webhook-secret.ts';

export type SetWebhookOutcome =
  | { outcome: 'set'; url: string; secret: string; createdAt: number }
  | { outcome: 'unknown_client' }
  | { outcome: 'invalid_url'; problem: string };

/** Sets the URL with a new `whsec_` secret (returned once, stored only encrypted). */
export async function setClientWebhook(
  storage: Storage, tokenHmacKey: Buffer, environment: string, clientId: string, url: unknown, actor: string, now: number,
): Promise<SetWebhookOutcome> {
  const client = await storage.clients.find(clientId);
  if (!client || client.status === 'deleted' || client.kind !== 'client') return { outcome: 'unknown_client' };
  const problem = webhookUrlProblem(url, environment);
  if (problem) return { outcome: 'invalid_url', problem };
  const secret = newWebhookSecret();
  await storage.webhooks.setEndpoint({ clientId, url: url as string, secretCiphertext: encryptWebhookSecret(webhookSecretKey(tokenHmacKey), clientId, secret), createdAt: now });
  await storage.audit.record({ type: 'client.webhook_set', at: now, actor, clientId, details: { url: url as string } });
  return { outcome: 'set', url: url as string, secret, createdAt: now };
}

/** @returns false when the client had no webhook. */
export async function removeClientWebhook(storage: Storage, clientId: string, actor: string, now: number): Promise<boolean> {
  if (!(await storage.webhooks.removeEndpoint(clientId))) return false;
  await storage.audit.record({ type: 'client.webhook_removed', at: now, actor, clientId });
  return true;
}
