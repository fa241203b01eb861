/**
 * What the server's periodic background jobs share: the writers that keep work in memory and send it every
 * interval (issue 12: the shared rate-limit counters, stores/rate-limits-shared.ts, and the last-use
 * recorder, last-use-recorder.ts), the cleanup job (cleanup-job.ts) and the webhook worker
 * (webhooks/webhook-worker.ts). One send runs at a time: `flush()` waits for the one under way before it starts
 * its own, and a tick that finds one under way skips (the next tick sends what piled up). The default timer
 * is unref'd: a background writer never keeps the process alive; its owner's `close()` sends what is left.
 */

/** Starts a periodic tick; tests pass one they tick by hand. @returns what stops it. */
export type StartTimer = (tick: () => void, intervalMs: number) => { stop(): void };

/** The default timer: an unref'd `setInterval`. */
export const unrefdInterval: StartTimer = (tick, intervalMs) => {
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
};

export interface PeriodicFlush {
  /** Runs `send` now, after the send under way if any. Rejects only if `send` does (the writers' never do). */
  flush(): Promise<void>;
  /** Stops the timer (a send under way goes on). */
  stop(): void;
  /** Resolves once no send is under way, without starting one (after `stop()`: before closing what sends use). */
  settled(): Promise<void>;
}

/**
 * @param send one send of what is pending; should not throw (each writer reports its own failures).
 * @param intervalMs milliseconds between ticks.
 */
export function startPeriodicFlush(send: () => Promise<void>, intervalMs: number, startTimer: StartTimer = unrefdInterval): PeriodicFlush {
  let flushing: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    while (flushing !== undefined) await flushing;
    const running = send().finally(() => {
      flushing = undefined;
    });
    flushing = running;
    return running;
  };
  const timer = startTimer(() => {
    if (flushing === undefined) void flush();
  }, intervalMs);
  const settled = async (): Promise<void> => {
    while (flushing !== undefined) await flushing.catch(() => {});
  };
  return { flush, stop: () => timer.stop(), settled };
}
