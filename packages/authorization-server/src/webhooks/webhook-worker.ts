/**
 * Issue 15 §5: delivers queued webhook events. Each instance runs the loop (like storage/cleanup-job.ts);
 * `webhooks.claimDue` leases deliveries so two instances never send one at the same time. A delivery is
 * signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`, with the
 * `standardwebhooks` library), POSTed with a timeout, and on anything but a 2xx retried with exponential
 * backoff: `baseDelaySeconds * 2^(attempts-1)`, at most `maxDelaySeconds`, until `maxAttempts`.
 */
import { Webhook } from 'standardwebhooks';
import type { Clock } from '../clock.ts';
import type { Storage, WebhookDeliveryRecord } from '../storage/storage.ts';
import { startPeriodicFlush } from '../storage/periodic-flush.ts';
import { decryptWebhookSecret } from './webhook-secret.ts';

export interface WebhookDeliveryOptions {
  storage: Storage;
  clock: Clock;
  /** The AES-256-GCM key of webhook-secret.ts `webhookSecretKey`. */
  secretKey: Buffer;
  /** Default: global fetch. Tests inject nothing: they run a real receiver on 127.0.0.1. */
  fetch?: typeof fetch;
  /** Default 8 attempts in all. */
  maxAttempts?: number;
  /** Default 30 seconds (then 60, 120, …). */
  baseDelaySeconds?: number;
  /** Default 3600 seconds. */
  maxDelaySeconds?: number;
  /** Per request, default 10 seconds. */
  timeoutSeconds?: number;
  /** Deliveries per run, default 50. */
  batchSize?: number;
}

/** The delay before attempt `attempts + 1`, after `attempts` failed ones (seconds). */
export function webhookBackoffSeconds(attempts: number, baseDelaySeconds = 30, maxDelaySeconds = 3600): number {
  return Math.min(maxDelaySeconds, baseDelaySeconds * 2 ** Math.max(0, attempts - 1));
}

/** One run: delivers every delivery due now (at most `batchSize`). @returns how many were attempted and delivered. */
export async function deliverDueWebhooks(options: WebhookDeliveryOptions): Promise<{ attempted: number; delivered: number }> {
  const timeoutSeconds = options.timeoutSeconds ?? 10;
  const now = options.clock.nowSeconds();
  // The lease outlasts a request's timeout, so a slow receiver is not sent the event twice at once.
  const due = await options.storage.webhooks.claimDue(now, options.batchSize ?? 50, timeoutSeconds + 30);
  let delivered = 0;
  for (const delivery of due) if (await deliverOne(options, delivery, timeoutSeconds)) delivered++;
  return { attempted: due.length, delivered };
}

async function deliverOne(options: WebhookDeliveryOptions, delivery: WebhookDeliveryRecord, timeoutSeconds: number): Promise<boolean> {
  const endpoint = await options.storage.webhooks.findEndpoint(delivery.clientId);
  const at = options.clock.nowSeconds();
  if (!endpoint) {
    // The endpoint was removed: nothing to send it to, no more attempts.
    await options.storage.webhooks.recordAttempt(delivery.deliveryId, { at, status: 0, nextAttemptAt: null, deliveredAt: null });
    return false;
  }
  const secret = decryptWebhookSecret(options.secretKey, delivery.clientId, endpoint.secretCiphertext);
  // Standard Webhooks: the id stays the same on every attempt (receivers deduplicate), the timestamp is the attempt's.
  const signature = new Webhook(secret).sign(delivery.deliveryId, new Date(at * 1000), delivery.payload);
  let status = 0;
  try {
    const response = await (options.fetch ?? fetch)(endpoint.url, {
      method: 'POST', redirect: 'manual', signal: AbortSignal.timeout(timeoutSeconds * 1000), body: delivery.payload,
      headers: {
        'content-type': 'application/json', 'webhook-id': delivery.deliveryId, 'webhook-timestamp': String(at), 'webhook-signature': signature,
      },
    });
    status = response.status;
    await response.body?.cancel();
  } catch {
    status = 0;
  }
  if (status >= 200 && status < 300) {
    await options.storage.webhooks.recordAttempt(delivery.deliveryId, { at, status, nextAttemptAt: null, deliveredAt: at });
    return true;
  }
  const attempts = delivery.attempts + 1;
  const nextAttemptAt = attempts >= (options.maxAttempts ?? 8) ? null : at + webhookBackoffSeconds(attempts, options.baseDelaySeconds, options.maxDelaySeconds);
  await options.storage.webhooks.recordAttempt(delivery.deliveryId, { at, status, nextAttemptAt, deliveredAt: null });
  return false;
}

export interface WebhookWorker {
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/** Runs `deliverDueWebhooks` every `intervalSeconds` (unref'd timer, runs never overlap; errors reported). */
export function startWebhookWorker(options: WebhookDeliveryOptions & { intervalSeconds: number; onError?: (error: unknown) => void }): WebhookWorker {
  const job = startPeriodicFlush(() => deliverDueWebhooks(options).then(() => {}, (error: unknown) => options.onError?.(error)), options.intervalSeconds * 1000);
  return {
    async stop() {
      job.stop();
      await job.settled();
    },
  };
}
