/**
 * The refresh lock (SPEC §3 integrator rules: "one centralised refresh with one request in flight
 * (mutex, shared promise, or a distributed lock across instances)"). Within one process the client
 * already shares one in-flight refresh per connection; the lock extends that across processes, so
 * while it is held no other instance of the integration presents the same refresh token (which the
 * authorization server treats as replay and answers by revoking the grant, SPEC decision 8).
 *
 * Implementations: `locks/memory.ts` (one process), `locks/postgres.ts` (advisory locks),
 * `locks/redis.ts` (SET NX PX with a fenced release), `locks/file.ts` (processes on one host).
 *
 * A lock across processes can be lost while held: its PostgreSQL connection dies (the advisory lock goes
 * with it), its Redis lease runs out unrenewed. The holder learns it from `LockHold.signal`, aborted with a
 * `LockLostError`, and the refresh checks it immediately before sending a token request (nothing is sent
 * once it is lost) and before storing the result. What it cannot do is recall a request already sent when
 * the lock is lost: another instance may then present the same refresh token, which Gatehouse answers
 * with the same new pair within its reuse grace window (SPEC decision 8, 30 s by default).
 */
import { LockTimeoutError } from './errors.ts';

/** What the work under a lock is given. */
export interface LockHold {
  /** Aborted (with a `LockLostError` as `reason`) once the lock is known to be no longer held. */
  readonly signal: AbortSignal;
}

export interface RefreshLock {
  /**
   * Runs `work` while holding the lock named `key`, then releases it, whether `work` resolved or threw.
   * A failure to release never replaces the work's result (a lease left behind expires).
   * @param work receives the hold, whose `signal` says when the lock was lost (locks that cannot be lost may omit it).
   * @throws LockTimeoutError when the lock is not acquired within the implementation's timeout.
   */
  withLock<T>(key: string, work: (hold?: LockHold) => Promise<T>): Promise<T>;
}

/** A hold whose lock is only ever released by its holder (the memory lock). */
export const UNLOSABLE_HOLD: LockHold = { signal: new AbortController().signal };

/**
 * For locks without a blocking primitive (Redis, files): calls `tryAcquire` until it returns true,
 * waiting a growing, jittered interval (5 ms doubling to 100 ms) between attempts, so waiters neither
 * spin nor wake in step.
 * @throws LockTimeoutError after `timeoutMilliseconds`.
 */
export async function pollForLock(key: string, timeoutMilliseconds: number, tryAcquire: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMilliseconds;
  let pollMilliseconds = 5;
  while (!(await tryAcquire())) {
    if (Date.now() >= deadline) throw new LockTimeoutError(`waited ${timeoutMilliseconds} ms for the refresh lock "${key}"`);
    await new Promise((resolve) => setTimeout(resolve, pollMilliseconds / 2 + Math.random() * pollMilliseconds));
    pollMilliseconds = Math.min(pollMilliseconds * 2, 100);
  }
}
