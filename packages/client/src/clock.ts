/** The time source of token expiry decisions, injectable so tests move time instead of sleeping. */
export interface Clock {
  /** Whole seconds since the Unix epoch. */
  nowSeconds(): number;
}

export const systemClock: Clock = { nowSeconds: () => Math.floor(Date.now() / 1000) };

/** A clock tests move by hand. */
export function createManualClock(startSeconds: number): Clock & { advanceSeconds(seconds: number): void; setSeconds(seconds: number): void } {
  let now = startSeconds;
  return {
    nowSeconds: () => now,
    advanceSeconds: (seconds) => {
      now += seconds;
    },
    setSeconds: (seconds) => {
      now = seconds;
    },
  };
}
