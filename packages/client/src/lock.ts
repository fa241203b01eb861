/**
 * The refresh lock (SPEC §3 integrator rules: "one centralised refresh with one request in flight
 * (mutex, shared promise, or a distributed lock across instances)"). Within one process the client
 * already shares one in-flight refresh per connection; the lock extends that across processes, so
 * instances of one integration never present the same refresh token twice (which the authorization
 * server treats as replay and answers by revoking the grant, SPEC decision 8).
 *
 * Implementations: `locks/memory.ts` (one process), `locks/postgres.ts` (advisory locks),
 * `locks/redis.ts` (SET NX PX with a fenced release).
 */
import { LockTimeoutError } from './errors.ts';

export interface RefreshLock {
  /**
   * Runs `work` while holding the lock named `key`, then releases it, whether `work` resolved or threw.
   * @throws LockTimeoutError when the lock is not acquired within the implementation's timeout.
   */
  withLock<T>(key: string, work: () => Promise<T>): Promise<T>;
}

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
