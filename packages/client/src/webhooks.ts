/**
 * Issue 15 §5: verify a Gatehouse webhook (Standard Webhooks, with the `standardwebhooks` library):
 * the HMAC-SHA-256 signature over `webhook-id.webhook-timestamp.body` under the endpoint's `whsec_`
 * secret, and a timestamp within 5 minutes of now (replay protection). Pass the raw body exactly as
 * received: a re-serialized JSON object no longer matches its signature.
 */
import { Webhook } from 'standardwebhooks';
import { GatehouseClientError } from './errors.ts';

/**
 * The events Gatehouse sends; `data` never carries a token. `grant.revoked`'s `reason`: `user_disconnected`,
 * `admin_revoked`, `refresh_token_reuse`, `authorization_code_replayed`, `client_deleted`,
 * `client_secret_rotated`, `company_deleted`, `organization_deleted` (mark that connection
 * unauthenticated and delete its tokens). `client.suspended`: stop calling until `client.reactivated`.
 */
export type GatehouseWebhookEvent =
  | { type: 'grant.revoked'; timestamp: string; data: { grant_id: string; client_id: string; subject_urn: string; reason: string } }
  | { type: 'client.suspended' | 'client.reactivated' | 'client.deleted'; timestamp: string; data: { client_id: string } };

/** The signature, timestamp or headers did not verify: answer 400 and ignore the body. */
export class WebhookVerificationError extends GatehouseClientError {
  override readonly name: string = 'WebhookVerificationError';
}

/**
 * @param payload the raw request body (string or bytes).
 * @param headers the request headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`); a
 *   Node `IncomingHttpHeaders` or `Headers` both work.
 * @param secret the `whsec_…` secret Gatehouse answered once when the webhook was set.
 * @returns the parsed event.
 * @throws WebhookVerificationError when a header is missing, the signature does not match, or the
 *   timestamp is more than 5 minutes away from now.
 */
export function verifyWebhook(payload: string | Uint8Array, headers: Headers | Record<string, string | string[] | undefined>, secret: string): GatehouseWebhookEvent {
  const pick = (name: string) => {
    const value = headers instanceof Headers ? headers.get(name) : headers[name];
    return Array.isArray(value) ? value[0] : value ?? undefined;
  };
  const required: Record<string, string> = {};
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    const value = pick(name);
    if (!value) throw new WebhookVerificationError(`missing ${name} header`);
    required[name] = value;
  }
  try {
    return new Webhook(secret).verify(payload, required) as GatehouseWebhookEvent;
  } catch (error) {
    throw new WebhookVerificationError(`webhook did not verify: ${error instanceof Error ? error.message : String(error)}`);
  }
}
