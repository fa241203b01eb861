/**
 * The periodic cleanup inside each server instance (storage.ts `cleanup.deleteExpired`). Every instance
 * runs it; the backends make concurrent runs safe, so no leader election is needed.
 */
import type { Clock } from '../clock.ts';
import { startPeriodicFlush } from './periodic-flush.ts';
import type { CleanupResult, Storage } from './storage.ts';

export interface CleanupJob {
  /** Stops the timer and waits for a run in progress, so the storage can be closed after it. */
  stop(): Promise<void>;
}

/**
 * Runs a cleanup every `intervalSeconds` (first after one interval). The timer is unref'd: it never keeps
 * the process alive. A run never overlaps the previous one; a failed run is reported and the next one tries again.
 */
export function startCleanupJob(
  storage: Storage,
  options: {
    intervalSeconds: number; batchSize: number; clock: Clock; onResult?: (result: CleanupResult & { auditEvents?: number }) => void; onError?: (error: unknown) => void;
    /** Issue 14: delete audit events older than this many seconds (GATEHOUSE_AUDIT_RETENTION_DAYS); unset keeps them forever. */
    auditRetentionSeconds?: number;
    /** Issue 15 §5: delete finished webhook deliveries older than this (GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_DAYS); default 30 days. */
    webhookDeliveryRetentionSeconds?: number;
  },
): CleanupJob {
  const job = startPeriodicFlush(
    () => runCleanup(storage, options.clock.nowSeconds(), options.batchSize, options.auditRetentionSeconds, options.webhookDeliveryRetentionSeconds)
      .then((result) => options.onResult?.(result), (error: unknown) => options.onError?.(error)),
    options.intervalSeconds * 1000,
  );
  return {
    async stop() {
      job.stop();
      await job.settled();
    },
  };
}

/** Issue 15 §5: how long a delivered or given-up webhook delivery stays in the log by default: 30 days. */
export const DEFAULT_WEBHOOK_DELIVERY_RETENTION_SECONDS = 30 * 86_400;

/**
 * One cleanup run: expired rows (storage.ts `cleanup.deleteExpired`), finished webhook deliveries
 * (delivered or given up) created more than `webhookDeliveryRetentionSeconds` ago (pending ones never)
 * and, with a retention, audit events older than it, batch after batch until none is left.
 * `gatehouse cleanup` runs it too.
 */
export async function runCleanup(
  storage: Storage, now: number, batchSize: number, auditRetentionSeconds?: number,
  webhookDeliveryRetentionSeconds = DEFAULT_WEBHOOK_DELIVERY_RETENTION_SECONDS,
): Promise<CleanupResult & { auditEvents?: number; webhookDeliveries?: number }> {
  const expired = await storage.cleanup.deleteExpired(now, batchSize);
  // Issue 10 §3: used or expired password links and expired pending logins go in the same run.
  await storage.localAccounts.deleteExpired(now, batchSize);
  // RFC 9449 §11.1: seen DPoP proofs whose acceptance window has ended.
  while ((await storage.dpopProofs.deleteExpired(now, batchSize)) === batchSize);
  let webhookDeliveries = 0;
  for (let deleted = batchSize; deleted === batchSize;) {
    deleted = await storage.webhooks.deleteFinishedBefore(now - webhookDeliveryRetentionSeconds, batchSize);
    webhookDeliveries += deleted;
  }
  const result = { ...expired, webhookDeliveries, deleted: expired.deleted + webhookDeliveries };
  if (auditRetentionSeconds === undefined) return result;
  let auditEvents = 0;
  for (let deleted = batchSize; deleted === batchSize;) {
    deleted = await storage.audit.deleteOlderThan(now - auditRetentionSeconds, now, batchSize);
    auditEvents += deleted;
  }
  return { ...result, auditEvents, deleted: result.deleted + auditEvents };
}
