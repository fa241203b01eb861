/**
 * The periodic cleanup inside each server instance (storage.ts `cleanup.deleteExpired`). Every instance
 * runs it; the backends make concurrent runs safe, so no leader election is needed.
 */
import type { Clock } from '../clock.ts';
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
  options: { intervalSeconds: number; batchSize: number; clock: Clock; onResult?: (result: CleanupResult) => void; onError?: (error: unknown) => void },
): CleanupJob {
  let running: Promise<void> | undefined;
  const run = () => {
    if (running) return;
    const now = options.clock.nowSeconds();
    running = storage.cleanup.deleteExpired(now, options.batchSize)
      // Issue 10 §3: used or expired password links and expired pending logins go in the same run.
      .then(async (result) => {
        await storage.localAccounts.deleteExpired(now, options.batchSize);
        return result;
      })
      .then((result) => options.onResult?.(result), (error: unknown) => options.onError?.(error))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(run, options.intervalSeconds * 1000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
