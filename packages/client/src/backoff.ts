/**
 * Bounded exponential backoff with full jitter (SPEC §3 integrator rules: "exponential backoff on
 * transient failures, never forever"). Full jitter — a uniformly random delay up to the exponential
 * cap — spreads out the retries of many instances that failed at the same moment.
 */

/** How many times, and how far apart. */
export interface RetryPolicy {
  /** Attempts in total, the first included; at least 1. Default 4. */
  maxAttempts: number;
  /** Cap of the delay after the first failure, milliseconds; doubles after each failure. Default 250. */
  baseDelayMilliseconds: number;
  /**
   * No backoff delay exceeds this, milliseconds; default 8000. A server's `Retry-After` is honoured as sent when
   * `maxElapsedMilliseconds` is set (and the retry given up when it would start past that budget); without a
   * budget it too is capped at this.
   */
  maxDelayMilliseconds: number;
  /**
   * No attempt starts later than this after the first one started, milliseconds; default 25 000 (none when
   * unset). A refresh retried after its response was lost presents the rotated-out token again, which
   * Gatehouse accepts only within its reuse grace window (30 s by default, counted from the rotation):
   * keep this below the server's window. With the default 10 s request timeout, at most 3 attempts fit.
   */
  maxElapsedMilliseconds?: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 4, baseDelayMilliseconds: 250, maxDelayMilliseconds: 8_000, maxElapsedMilliseconds: 25_000 };

/** A failure worth another attempt. */
export interface TransientFailure {
  /** `network`, `timeout`, `http_503`… */
  reason: string;
  /** The server's `Retry-After`, milliseconds, when it sent one. */
  retryAfterMilliseconds?: number | undefined;
}

export interface RetryDependencies {
  policy: RetryPolicy;
  /** Returns the failure when `error` is transient, undefined when retrying cannot help (then it is rethrown). */
  classify(error: unknown): TransientFailure | undefined;
  /** Waits; injectable so tests record delays instead of sleeping. */
  sleep(milliseconds: number): Promise<void>;
  /** Uniform in [0, 1). */
  random(): number;
  /** Called before each wait. */
  onRetry?(attempt: number, failure: TransientFailure, delayMilliseconds: number): void;
  /** The time `maxElapsedMilliseconds` is measured with, milliseconds; default `performance.now` (inject a clock in tests). */
  nowMilliseconds?(): number;
  /**
   * Carried across calls that continue one logical operation (a refresh that took its lock again): the attempts
   * already made and when the first started count toward `maxAttempts` and `maxElapsedMilliseconds`. Updated in place.
   */
  progress?: RetryProgress;
}

/** How far an operation retried over several `retryWithBackoff` calls has come. */
export interface RetryProgress {
  /** Attempts that failed transiently so far. */
  failedAttempts: number;
  /** When the first attempt started (`nowMilliseconds`), once one has. */
  startedAt?: number;
  /** The last transient failure and its error. */
  last?: { failure: TransientFailure; error: unknown };
}

/** Every attempt failed transiently. */
export class RetriesExhaustedError extends Error {
  readonly attempts: number;
  readonly failure: TransientFailure;
  constructor(attempts: number, failure: TransientFailure, cause: unknown) {
    super(`gave up after ${attempts} attempt(s): ${failure.reason}`, { cause });
    this.attempts = attempts;
    this.failure = failure;
  }
}

/**
 * The delay after `failedAttempts` failures: uniform in [0, min(max, base × 2^(failedAttempts−1))],
 * raised to the server's `Retry-After` when larger; capped at `maxDelayMilliseconds` only when the policy has
 * no `maxElapsedMilliseconds` (with one, a Retry-After past the budget ends the retries instead).
 */
export function backoffDelayMilliseconds(policy: RetryPolicy, failedAttempts: number, random: () => number, retryAfterMilliseconds = 0): number {
  const cap = Math.min(policy.maxDelayMilliseconds, policy.baseDelayMilliseconds * 2 ** (failedAttempts - 1));
  const jittered = Math.floor(random() * cap);
  // With a time budget, the server's Retry-After is honoured as sent (the budget decides whether to wait it).
  if (policy.maxElapsedMilliseconds !== undefined) return Math.max(jittered, retryAfterMilliseconds);
  return Math.min(policy.maxDelayMilliseconds, Math.max(jittered, retryAfterMilliseconds));
}

/**
 * Runs `operation` until it succeeds, fails non-transiently (rethrown as is), or attempts run out
 * (`RetriesExhaustedError`): `maxAttempts` attempts failed transiently, or the next one would start more
 * than `maxElapsedMilliseconds` after the first.
 * @param operation receives the 1-based attempt number.
 */
export async function retryWithBackoff<T>(operation: (attempt: number) => Promise<T>, dependencies: RetryDependencies): Promise<T> {
  const { policy } = dependencies;
  const maxAttempts = Math.max(1, Math.floor(policy.maxAttempts));
  const now = dependencies.nowMilliseconds ?? (() => performance.now());
  const progress: RetryProgress = dependencies.progress ?? { failedAttempts: 0 };
  const overBudget = (delay: number) =>
    policy.maxElapsedMilliseconds !== undefined && progress.startedAt !== undefined && now() - progress.startedAt + delay > policy.maxElapsedMilliseconds;
  // Continuing an operation that already failed: the next attempt is a retry, within the same limits.
  if (progress.last && (progress.failedAttempts >= maxAttempts || overBudget(0))) {
    throw new RetriesExhaustedError(progress.failedAttempts, progress.last.failure, progress.last.error);
  }
  for (let attempt = progress.failedAttempts + 1; ; attempt++) {
    progress.startedAt ??= now();
    try {
      return await operation(attempt);
    } catch (error) {
      const failure = dependencies.classify(error);
      if (!failure) throw error;
      progress.failedAttempts = attempt;
      progress.last = { failure, error };
      if (attempt >= maxAttempts) throw new RetriesExhaustedError(attempt, failure, error);
      const delay = backoffDelayMilliseconds(policy, attempt, dependencies.random, failure.retryAfterMilliseconds);
      if (overBudget(delay)) {
        const beyond = failure.retryAfterMilliseconds !== undefined && failure.retryAfterMilliseconds >= delay
          ? { ...failure, reason: `${failure.reason} (Retry-After ${Math.ceil(failure.retryAfterMilliseconds / 1000)} s is past the retry budget)` }
          : failure;
        throw new RetriesExhaustedError(attempt, beyond, error);
      }
      dependencies.onRetry?.(attempt, failure, delay);
      await dependencies.sleep(delay);
    }
  }
}

/** The real wait. */
export function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/**
 * `Retry-After` (RFC 9110 §10.2.3) in milliseconds: delay-seconds or an HTTP date; undefined when absent
 * or unreadable.
 */
export function parseRetryAfter(value: string | null, nowMilliseconds: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMilliseconds);
}
