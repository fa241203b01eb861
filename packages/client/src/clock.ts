/** The time source of token expiry decisions, injectable so tests move time instead of sleeping. */
export interface Clock {
  /** Whole seconds since the Unix epoch. */
  nowSeconds(): number;
  /**
   * Milliseconds on a monotonic scale (only differences mean anything): what retry budgets are measured with.
   * Optional for clocks written before it; without it, `nowSeconds() × 1000` is used.
   */
  nowMilliseconds?(): number;
}

/** The system clock: `Date.now` for seconds, `performance.now` (monotonic, unaffected by wall-clock steps) for milliseconds. */
export const systemClock: Clock = { nowSeconds: () => Math.floor(Date.now() / 1000), nowMilliseconds: () => performance.now() };

/** Milliseconds of `clock` on a monotonic scale where it has one (`Clock.nowMilliseconds`), else its whole seconds × 1000. */
export function clockMilliseconds(clock: Clock): number {
  return clock.nowMilliseconds ? clock.nowMilliseconds() : clock.nowSeconds() * 1000;
}

/** A clock tests move by hand (seconds, or milliseconds). */
export function createManualClock(startSeconds: number): Clock & {
  nowMilliseconds(): number; advanceSeconds(seconds: number): void; advanceMilliseconds(milliseconds: number): void; setSeconds(seconds: number): void;
} {
  let nowMilliseconds = startSeconds * 1000;
  return {
    nowSeconds: () => Math.floor(nowMilliseconds / 1000),
    nowMilliseconds: () => nowMilliseconds,
    advanceSeconds: (seconds) => {
      nowMilliseconds += seconds * 1000;
    },
    advanceMilliseconds: (milliseconds) => {
      nowMilliseconds += milliseconds;
    },
    setSeconds: (seconds) => {
      nowMilliseconds = seconds * 1000;
    },
  };
}
