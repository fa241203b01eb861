/**
 * A lock for one process: a promise chain per key. Right for a single instance; several instances
 * need `locks/postgres.ts` or `locks/redis.ts`. `processMemoryLock` is the one every client of this
 * process uses when given no lock, so two clients sharing a store (or one database file) in one
 * process never refresh one connection at once either.
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

/**
 * The default lock of every `createGatehouseClient` in this process (keys name the issuer, the client ID
 * and the connection). Holding it for one connection never delays another connection.
 */
export const processMemoryLock: RefreshLock = createMemoryLock();
