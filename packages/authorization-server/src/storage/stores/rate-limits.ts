/**
 * Request counters of the token, revocation, introspection and PAR endpoints in the database (storage.ts
 * `rateLimits`, SPEC decision 18), written once for both dialects over the SQL driver: the table
 * `rate_limit_windows` (migration 6), one row per key, shared by every process on the database. Counting
 * is where the dialects differ (one statement for every key on PostgreSQL, one per key on SQLite), so both
 * bodies sit side by side in `hit`. The cleanup job deletes ended windows.
 *
 * The counters need no durability: PostgreSQL keeps them in an UNLOGGED table (no WAL, no flush at
 * commit). This store writes every hit, exactly, and is the opt-in on both backends
 * (`rateLimitCounters: 'database'`). PostgreSQL's default counts in the instance and writes the same table
 * once per flush interval (rate-limits-shared.ts, issue 12: no round trip per request). SQLite has no
 * unlogged table; there this store is for several server processes on one file and its hits join the
 * turn's group commit. SQLite's default is rate-limits-in-memory.ts.
 */
import type { SqlDriver } from '../sql/driver.ts';
import type { RateLimitHit, Storage } from '../storage.ts';

/**
 * PostgreSQL: ONE statement for every key (one round trip, atomic per key across instances). The upsert
 * takes each row's lock, so concurrent hits queue and each sees the count the previous one committed; the
 * keys are inserted in sorted order so that concurrent hits on overlapping keys lock their rows in one
 * order (no deadlock). Named: prepared once per connection (it runs before every request of the endpoints).
 * Parameters: now, windowSeconds, the sorted distinct keys, now, now.
 */
const POSTGRES_HIT = `INSERT INTO rate_limit_windows AS w (limit_key, window_ends_at, hits)
  SELECT key, ?::bigint + ?::bigint, 1 FROM unnest(?::text[]) AS key ORDER BY key
  ON CONFLICT (limit_key) DO UPDATE SET
    hits = CASE WHEN w.window_ends_at > ?::bigint THEN w.hits + 1 ELSE 1 END,
    window_ends_at = CASE WHEN w.window_ends_at > ?::bigint THEN w.window_ends_at ELSE EXCLUDED.window_ends_at END
  RETURNING limit_key, hits, window_ends_at`;

/**
 * SQLite: one statement per key (a new window, a hit in the current one, or a new window over an ended
 * one), all in one transaction: SQLite runs one writer at a time, across processes too.
 * Parameters: key, now, windowSeconds, now, now.
 */
const SQLITE_HIT = `INSERT INTO rate_limit_windows (limit_key, window_ends_at, hits) VALUES (?, ? + ?, 1)
  ON CONFLICT (limit_key) DO UPDATE SET
    hits = CASE WHEN window_ends_at > ? THEN hits + 1 ELSE 1 END,
    window_ends_at = CASE WHEN window_ends_at > ? THEN window_ends_at ELSE excluded.window_ends_at END
  RETURNING limit_key, hits, window_ends_at`;

export function createRateLimitStore(db: SqlDriver): Storage['rateLimits'] {
  return {
    async hit(keys, windowSeconds, now) {
      checkWindowSeconds(windowSeconds);
      if (keys.length === 0) return [];
      let rows: Record<string, unknown>[];
      if (db.dialect === 'postgres') {
        const distinct = [...new Set(keys)].sort();
        rows = await db.all(POSTGRES_HIT, [now, windowSeconds, distinct, now, now], { name: 'gatehouse_rate_limit_hit' });
      } else {
        const distinct = [...new Set(keys)];
        rows = await db.transaction(function* (tx) {
          const counted: Record<string, unknown>[] = [];
          for (const key of distinct) counted.push((yield* tx.get(SQLITE_HIT, [key, now, windowSeconds, now, now]))!);
          return counted;
        });
      }
      const windows = new Map(rows.map((row): [string, RateLimitHit] => [String(row.limit_key), { hits: Number(row.hits), windowEndsAt: Number(row.window_ends_at) }]));
      return keys.map((key) => windows.get(key)!);
    },
  };
}

/** storage.ts `rateLimits.hit`: a window lasts at least one whole second. @throws RangeError otherwise. */
export function checkWindowSeconds(windowSeconds: number): void {
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1) throw new RangeError('windowSeconds must be a positive integer');
}
