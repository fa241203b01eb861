/** The time source, injectable so tests advance time instead of sleeping. */
export interface Clock {
  /** Whole seconds since the Unix epoch. */
  nowSeconds(): number;
  /**
   * Milliseconds since the Unix epoch, where the clock has them: orders the values minted within one second
   * (tokens/opaque-token.ts); without it they share the second's first instant. Nothing decides by it.
   */
  nowMilliseconds?(): number;
}

export const systemClock: Clock = { nowSeconds: () => Math.floor(Date.now() / 1000), nowMilliseconds: () => Date.now() };

/** A clock tests move by hand. */
export function createTestClock(startSeconds = 1_800_000_000): Clock & { advanceSeconds(seconds: number): void } {
  let now = startSeconds;
  return {
    nowSeconds: () => now,
    advanceSeconds: (seconds: number) => {
      now += seconds;
    },
  };
}
