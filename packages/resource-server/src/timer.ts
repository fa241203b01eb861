/** A pending timer; `cancel` is idempotent. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * Runs `callback` once after `delayMilliseconds`. Injectable so tests drive background work (the
 * revocation feed's polling) with their own clock instead of sleeping: see `createManualClock` in
 * `@gatehouse/resource-server/testing`. The callback's promise never rejects.
 */
export type ScheduleTimer = (callback: () => Promise<void>, delayMilliseconds: number) => TimerHandle;

/**
 * The default {@link ScheduleTimer}: `setTimeout`, unref'd so a verifier's background polling never
 * keeps a process alive on its own.
 */
export const scheduleUnrefTimer: ScheduleTimer = (callback, delayMilliseconds) => {
  const timer = setTimeout(() => void callback(), delayMilliseconds);
  timer.unref();
  return { cancel: () => clearTimeout(timer) };
};
