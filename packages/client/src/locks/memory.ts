/**
 * A lock for one process: a promise chain per key. Right for a single instance; several instances
 * need `locks/postgres.ts` or `locks/redis.ts`.
 */
import { UNLOSABLE_HOLD, type RefreshLock } from '../lock.ts';

export function createMemoryLock(): RefreshLock {
  const tails = new Map<string, Promise<void>>();
  return {
    async withLock(key, work) {
      const previous = tails.get(key) ?? Promise.resolve();
      let release!: () => void;
      const current = new Promise<void>((resolve) => {
        release = resolve;
      });
      const tail = previous.then(() => current);
      tails.set(key, tail);
      await previous;
      try {
        return await work(UNLOSABLE_HOLD);
      } finally {
        release();
        // The last holder removes the entry so idle keys do not accumulate.
        if (tails.get(key) === tail) tails.delete(key);
      }
    },
  };
}
