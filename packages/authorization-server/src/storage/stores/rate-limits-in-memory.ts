/**
 * Request counters of the token, revocation, introspection and PAR endpoints held in this process's memory
 * (storage.ts `rateLimits`, SPEC decision 18): SQLite's default. The counters need no durability (a
 * restart that forgets a window only lets a client start a fresh one early), and keeping them off the
 * database means a request that otherwise only reads (an introspection) opens no write transaction and
 * waits for no COMMIT or fsync. The price: the counts are this process's own. The documented SQLite
 * deployment is one server process per database file (README, "SQLite or PostgreSQL"); several processes
 * on one file each count on their own unless `GATEHOUSE_RATE_LIMIT_COUNTERS=database` (rate-limits.ts).
 *
 * Same semantics as the table (contract/rate-limits.ts): one fixed window per key, current while
 * `now < windowEndsAt`, its length fixed when it starts. Memory is bounded without timers (nothing keeps
 * the process alive): every hit first forgets the windows that have ended, and at `maxKeys` windows a new
 * key makes room by forgetting the window that ends first (the one whose count matters least longest).
 */
import type { RateLimitHit, Storage } from '../storage.ts';
import { checkWindowSeconds } from './rate-limits.ts';

/**
 * Default of `maxKeys`. Two keys per request (address and client) per endpoint: room for 50,000 distinct
 * callers' windows at once, about 40 MiB when full (measured with `--expose-gc`: ~430 bytes a window with
 * keys as http/rate-limit.ts builds them, at most ~90 characters, Map and heap slots included).
 */
export const DEFAULT_RATE_LIMIT_KEYS = 100_000;

export interface InMemoryRateLimitOptions {
  /**
   * Most windows held at once (a whole number ≥ 1; default DEFAULT_RATE_LIMIT_KEYS). Beyond it the window
   * that ends first is forgotten, so its key starts over: a flood of new keys (many addresses) can reset
   * other callers' counts, the ones closest to starting over anyway.
   */
  maxKeys?: number;
}

/** One key's current window. */
interface Window {
  readonly key: string;
  hits: number;
  /** Seconds since the epoch. */
  readonly windowEndsAt: number;
}

/** @throws RangeError when `options.maxKeys` is not a whole number ≥ 1. */
export function createInMemoryRateLimitStore(options: InMemoryRateLimitOptions = {}): Storage['rateLimits'] {
  const maxKeys = options.maxKeys ?? DEFAULT_RATE_LIMIT_KEYS;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError('maxKeys must be a positive integer');
  const windows = new Map<string, Window>();
  // The same windows as `windows`, as a binary min-heap on windowEndsAt: the next to end is at [0].
  const byEnd: Window[] = [];

  const forgetFirstEnding = () => {
    const first = byEnd[0]!;
    const last = byEnd.pop()!;
    if (byEnd.length > 0) {
      byEnd[0] = last;
      siftDown(byEnd, 0);
    }
    windows.delete(first.key);
  };

  return {
    async hit(keys, windowSeconds, now) {
      checkWindowSeconds(windowSeconds);
      // Ended windows count for nothing: forget them first (this is what bounds memory between bursts), so
      // every window left is current and a key without one starts a new one.
      while (byEnd.length > 0 && byEnd[0]!.windowEndsAt <= now) forgetFirstEnding();
      const counted = new Map<string, RateLimitHit>();
      for (const key of keys) {
        if (counted.has(key)) continue; // a key repeated in one call is counted once
        let window = windows.get(key);
        if (window) {
          window.hits += 1;
        } else {
          while (windows.size >= maxKeys) forgetFirstEnding();
          window = { key, hits: 1, windowEndsAt: now + windowSeconds };
          windows.set(key, window);
          byEnd.push(window);
          siftUp(byEnd, byEnd.length - 1);
        }
        counted.set(key, { hits: window.hits, windowEndsAt: window.windowEndsAt });
      }
      return keys.map((key) => counted.get(key)!);
    },
  };
}

function siftUp(heap: Window[], index: number): void {
  const item = heap[index]!;
  while (index > 0) {
    const parent = (index - 1) >> 1;
    if (heap[parent]!.windowEndsAt <= item.windowEndsAt) break;
    heap[index] = heap[parent]!;
    index = parent;
  }
  heap[index] = item;
}

function siftDown(heap: Window[], index: number): void {
  const item = heap[index]!;
  for (;;) {
    let child = 2 * index + 1;
    if (child >= heap.length) break;
    if (child + 1 < heap.length && heap[child + 1]!.windowEndsAt < heap[child]!.windowEndsAt) child += 1;
    if (heap[child]!.windowEndsAt >= item.windowEndsAt) break;
    heap[index] = heap[child]!;
    index = child;
  }
  heap[index] = item;
}
