/**
 * Request counters of the token, revocation, introspection and PAR endpoints shared by every instance on
 * one PostgreSQL database WITHOUT a round trip per request (storage.ts `rateLimits`, SPEC decision 18,
 * issue 12 "one round trip per hot operation"): PostgreSQL's default (`GATEHOUSE_RATE_LIMIT_COUNTERS=shared`).
 *
 * Each instance counts hits in its memory and, every `flushIntervalMs` (default 250 ms), adds its pending
 * hits to the shared `rate_limit_windows` table (the one `database` mode writes per request, rate-limits.ts)
 * in ONE statement for every key that has some (sorted keys, deltas), which returns each key's shared
 * total and window end. A hit's answer is the key's last learned shared total plus this instance's hits
 * since that flush began. Windows are the table's fixed windows (contract/rate-limits.ts): a window that
 * has ended restarts at the next hit; `windowEndsAt` is the table's once a flush has learned it, and this
 * instance's provisional `first hit + windowSeconds` until then (a new row takes that end).
 *
 * Error bound: a hit is judged on the shared total learned at this instance's last flush of that key,
 * plus its own hits since. The other instances' hits since that flush are missing: while the instance
 * keeps counting the key that is at most one flush interval (plus the flush's own duration) of their
 * hits; a key it has not counted for a while is judged on the total it last learned until the flush
 * after its next hit (the sync is driven by hits: an idle key costs nothing). So across N instances a
 * limit may be overshot by what the instances admit within about one flush interval, never more; a
 * single instance counts exactly. Hits pending when their window ends are dropped (they count for
 * nothing any more), and a window's first flush may start the table's window up to one interval late.
 *
 * A failed flush (database unreachable, statement timeout) throws nothing: it is reported to
 * `onFlushError` once per outage, the hits stay pending and the next tick retries (the request's own
 * storage work answers 503 meanwhile). The timer is unref'd (it never keeps the process alive) and
 * `close()` stops it and flushes what is pending once. Memory: a key is forgotten once its window has
 * ended with nothing pending (swept at most once per second), and at `maxKeys` windows a new key makes
 * room by forgetting the window that started first, as rate-limits-in-memory.ts does.
 */
import type { SqlDriver } from '../sql/driver.ts';
import type { RateLimitHit, Storage } from '../storage.ts';
import { checkWindowSeconds } from './rate-limits.ts';
import { DEFAULT_RATE_LIMIT_KEYS } from './rate-limits-in-memory.ts';
import { startPeriodicFlush, type StartTimer } from '../periodic-flush.ts';

/** Default of `flushIntervalMs`: how late another instance's hits may be seen. */
export const DEFAULT_RATE_LIMIT_FLUSH_INTERVAL_MS = 250;

/**
 * ONE statement for every pending key (one round trip per flush, whatever the number of keys): each key's
 * delta joins the table's current window, or starts a new window ending where this instance's provisional
 * one ends when the table's has ended (or there is none). Keys are inserted in sorted order so concurrent
 * flushes (and `database` mode's hits) lock overlapping rows in one order (no deadlock). Named: prepared
 * once per connection. Parameters: the sorted keys, their provisional window ends, their deltas, now, now.
 */
const POSTGRES_FLUSH = `INSERT INTO rate_limit_windows AS w (limit_key, window_ends_at, hits)
  SELECT key, window_ends_at, delta FROM unnest(?::text[], ?::bigint[], ?::bigint[]) AS batch (key, window_ends_at, delta) ORDER BY key
  ON CONFLICT (limit_key) DO UPDATE SET
    hits = CASE WHEN w.window_ends_at > ?::bigint THEN w.hits + EXCLUDED.hits ELSE EXCLUDED.hits END,
    window_ends_at = CASE WHEN w.window_ends_at > ?::bigint THEN w.window_ends_at ELSE EXCLUDED.window_ends_at END
  RETURNING limit_key, hits, window_ends_at`;

export interface SharedRateLimitOptions {
  /** Milliseconds between flushes (a whole number ≥ 1; default DEFAULT_RATE_LIMIT_FLUSH_INTERVAL_MS). */
  flushIntervalMs?: number;
  /** Most windows held at once (a whole number ≥ 1; default DEFAULT_RATE_LIMIT_KEYS, as rate-limits-in-memory.ts). */
  maxKeys?: number;
  /** Told the first failed flush of an outage (default: nothing; the storage passes its connection-error report). */
  onFlushError?: (error: unknown) => void;
  /** Starts the periodic flush (tests replace it to flush by hand). Default: an unref'd `setInterval`. */
  startTimer?: StartTimer;
}

/** The counters, plus what the storage and tests drive. */
export type SharedRateLimitStore = Storage['rateLimits'] & {
  /** Sends the pending hits now and learns the shared totals (after a flush already under way). Never throws. */
  flush(): Promise<void>;
  /** Stops the timer and flushes what is pending once (a failure is reported, not thrown). */
  close(): Promise<void>;
};

/** One key's window as this instance knows it. */
interface Window {
  /** Seconds since the epoch: the table's end once learned, this instance's provisional one before. */
  windowEndsAt: number;
  /** The table's total at this instance's last successful flush of the window (0 before one). */
  sharedHits: number;
  /** Hits sent by the flush under way, not yet in `sharedHits`. */
  flushingHits: number;
  /** Hits counted here since, not yet sent. */
  pendingHits: number;
}

/** @throws RangeError when `flushIntervalMs` or `maxKeys` is not a whole number ≥ 1, or the driver is not PostgreSQL's. */
export function createSharedRateLimitStore(db: SqlDriver, options: SharedRateLimitOptions = {}): SharedRateLimitStore {
  if (db.dialect !== 'postgres') throw new RangeError('shared rate-limit counters are for PostgreSQL (SQLite: memory or database)');
  const flushIntervalMs = options.flushIntervalMs ?? DEFAULT_RATE_LIMIT_FLUSH_INTERVAL_MS;
  if (!Number.isInteger(flushIntervalMs) || flushIntervalMs < 1) throw new RangeError('flushIntervalMs must be a positive integer');
  const maxKeys = options.maxKeys ?? DEFAULT_RATE_LIMIT_KEYS;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError('maxKeys must be a positive integer');
  // Map order is window start order: a window that restarts is moved to the end (see `hit`).
  const windows = new Map<string, Window>();
  /** The latest `now` a hit was counted at: the flush's and the sweep's clock, so time is the caller's (tests inject it). */
  let latestNow = -Infinity;
  let sweptAt = -Infinity;
  let failing = false;
  let closed = false;

  /** Forgets windows that have ended with nothing under way (their pending hits count for nothing any more). */
  const sweep = (now: number) => {
    sweptAt = now;
    for (const [key, window] of windows) if (window.windowEndsAt <= now && window.flushingHits === 0) windows.delete(key);
  };

  const send = async () => {
    const now = latestNow;
    const keys: string[] = [];
    for (const [key, window] of windows) {
      if (window.pendingHits === 0) continue;
      if (window.windowEndsAt <= now) {
        window.pendingHits = 0; // an ended window's hits count for nothing
        continue;
      }
      keys.push(key);
    }
    if (now > sweptAt) sweep(now);
    if (keys.length === 0) return; // an idle instance sends nothing
    keys.sort();
    const sent = keys.map((key) => {
      const window = windows.get(key)!;
      window.flushingHits = window.pendingHits;
      window.pendingHits = 0;
      return window;
    });
    try {
      const rows = await db.all(POSTGRES_FLUSH, [keys, sent.map((window) => window.windowEndsAt), sent.map((window) => window.flushingHits), now, now], { name: 'gatehouse_rate_limit_flush' });
      failing = false;
      const learned = new Map(rows.map((row) => [String(row.limit_key), row]));
      keys.forEach((key, i) => {
        const window = sent[i]!;
        // A window that restarted here meanwhile (or was forgotten) is another window: the answer is not its.
        if (windows.get(key) !== window) return;
        const row = learned.get(key);
        window.flushingHits = 0;
        if (!row) return;
        window.sharedHits = Number(row.hits);
        window.windowEndsAt = Number(row.window_ends_at);
      });
    } catch (error) {
      // Keep counting here and retry at the next tick; the endpoints' own storage work reports the outage.
      for (const window of sent) {
        window.pendingHits += window.flushingHits;
        window.flushingHits = 0;
      }
      if (!failing) options.onFlushError?.(error);
      failing = true;
    }
  };

  // A slow flush is not overlapped: the next tick sends what piled up (periodic-flush.ts; the timer is unref'd).
  const { flush, stop } = startPeriodicFlush(send, flushIntervalMs, options.startTimer);

  return {
    async hit(keys, windowSeconds, now) {
      checkWindowSeconds(windowSeconds);
      if (now > latestNow) latestNow = now;
      const counted = new Map<string, RateLimitHit>();
      for (const key of keys) {
        if (counted.has(key)) continue; // a key repeated in one call is counted once
        let window = windows.get(key);
        if (window && window.windowEndsAt <= now) {
          // The window ended: a new one starts now. Moved to the end of `windows`, which stays in start order.
          windows.delete(key);
          window = undefined;
        }
        if (!window) {
          if (windows.size >= maxKeys && now > sweptAt) sweep(now);
          // At the cap: the window that started first goes (with its pending hits; see the module comment).
          while (windows.size >= maxKeys) windows.delete(windows.keys().next().value!);
          window = { windowEndsAt: now + windowSeconds, sharedHits: 0, flushingHits: 0, pendingHits: 0 };
          windows.set(key, window);
        }
        window.pendingHits += 1;
        counted.set(key, { hits: window.sharedHits + window.flushingHits + window.pendingHits, windowEndsAt: window.windowEndsAt });
      }
      return keys.map((key) => counted.get(key)!);
    },
    flush,
    async close() {
      if (closed) return;
      closed = true;
      stop();
      await flush();
    },
  };
}
