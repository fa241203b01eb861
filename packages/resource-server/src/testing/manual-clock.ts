import type { ScheduleTimer, TimerHandle } from '../timer.ts';

/**
 * A clock tests move by hand, with the timers scheduled on it: pass `now` and `scheduleTimer` to a
 * verifier (or the platform API), then `await advance(…)` instead of sleeping.
 */
export interface ManualClock {
  /** Current time, epoch milliseconds. */
  now(): number;
  /** Schedules on this clock; a timer runs only from {@link advance} or {@link runDueTimers}. */
  readonly scheduleTimer: ScheduleTimer;
  /**
   * Moves time forward by `milliseconds`, running every timer that falls due on the way, in due
   * order, each with the clock set to its due time, and awaiting each one (a feed poll completes
   * before time moves on).
   */
  advance(milliseconds: number): Promise<void>;
  /** Runs the timers already due at the current time (e.g. after moving a clock shared with another). */
  runDueTimers(): Promise<void>;
  /** Sets the time without running timers (to follow another clock); never moves backwards. */
  set(epochMilliseconds: number): void;
  /** Timers scheduled and not yet run or cancelled. */
  readonly pendingTimers: number;
}

interface ManualTimer {
  readonly dueAtMs: number;
  readonly sequence: number;
  readonly callback: () => Promise<void>;
  cancelled: boolean;
}

/**
 * Creates a {@link ManualClock} starting at `startMs` (epoch milliseconds; default 2026-06-01T00:00Z).
 * Only for tests.
 */
export function createManualClock(startMs = Date.UTC(2026, 5, 1)): ManualClock {
  let nowMs = startMs;
  let sequence = 0;
  const timers: ManualTimer[] = [];

  function nextDue(limitMs: number): ManualTimer | undefined {
    let next: ManualTimer | undefined;
    for (const timer of timers) {
      if (!timer.cancelled && timer.dueAtMs <= limitMs && (next === undefined || timer.dueAtMs < next.dueAtMs || (timer.dueAtMs === next.dueAtMs && timer.sequence < next.sequence))) {
        next = timer;
      }
    }
    return next;
  }

  async function runUntil(limitMs: number): Promise<void> {
    for (let timer = nextDue(limitMs); timer !== undefined; timer = nextDue(limitMs)) {
      timers.splice(timers.indexOf(timer), 1);
      nowMs = Math.max(nowMs, timer.dueAtMs);
      await timer.callback();
    }
    nowMs = Math.max(nowMs, limitMs);
  }

  return {
    now: () => nowMs,
    scheduleTimer(callback, delayMilliseconds): TimerHandle {
      const timer: ManualTimer = { dueAtMs: nowMs + delayMilliseconds, sequence: sequence++, callback, cancelled: false };
      timers.push(timer);
      return {
        cancel() {
          timer.cancelled = true;
          const index = timers.indexOf(timer);
          if (index >= 0) {
            timers.splice(index, 1);
          }
        },
      };
    },
    advance(milliseconds) {
      return runUntil(nowMs + milliseconds);
    },
    runDueTimers() {
      return runUntil(nowMs);
    },
    set(epochMilliseconds) {
      nowMs = Math.max(nowMs, epochMilliseconds);
    },
    get pendingTimers() {
      return timers.length;
    },
  };
}
