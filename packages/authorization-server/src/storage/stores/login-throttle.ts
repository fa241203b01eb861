/**
 * Failed-login counters (storage.ts `loginThrottle`, SPEC decision 18; growing delays, issue 10 §3),
 * written once for both databases over the SQL driver (issue 12).
 *
 * Every check-and-count is one transaction, atomic across instances. Only the locking differs:
 * - SQLite: the transaction is `BEGIN IMMEDIATE` (or a SAVEPOINT of the group commit's batch), so it is
 *   the only writer across processes; reading the windows and counting need no locks of their own.
 * - PostgreSQL: READ COMMITTED, so the key's rows are locked (`FOR UPDATE`) before they are read. Rows
 *   must exist to be locked: a key without one gets a placeholder with an ended window (0, "no current
 *   window"), created and locked by the same statement. Keys are locked in sorted order, so concurrent
 *   attempts on overlapping keys (two logins from one address) lock them in one order and cannot deadlock.
 * The decision and the writes are the same SQL on both (multi-row upserts, one statement per step).
 */
import { loginDelayWaitSeconds } from '../login-delay.ts';
import { nullableNumber } from '../rows.ts';
import type { SqlRow, SqlStep, SqlTransaction } from '../sql/driver.ts';
import type { SqlDriver } from '../sql/driver.ts';
import type { LoginDelayRule, Storage } from '../storage.ts';

/**
 * `?, ?, …`: one placeholder (or row of them) per key, for an `IN (…)` list or a multi-row VALUES both
 * databases read. Never empty: every operation returns early without keys (`IN ()` is an error on PostgreSQL).
 */
const placeholders = (count: number, each = '?') => Array.from({ length: count }, () => each).join(', ');

/**
 * The rows of `keys` (sorted, distinct), read for a check-and-count: on PostgreSQL created as placeholders
 * if missing and locked in key order (see the file comment); on SQLite read inside the one writer's
 * transaction. Ended windows are returned too: the caller compares `window_ends_at` with `now`.
 */
function* lockedWindows(tx: SqlTransaction, keys: readonly string[], columns: string): SqlStep<SqlRow[]> {
  if (tx.dialect === 'postgres') {
    // One statement takes every key's lock in the VALUES order (sorted by the caller): an existing row is
    // locked by the no-op update, a missing one by its insert. Inserting the missing keys first (ON CONFLICT
    // DO NOTHING) and then locking all of them in order took a new key's lock before an older, smaller
    // key's: three concurrent logins of one account after a successful one had deleted its rows
    // deadlocked (40P01, a 500 in the benchmark).
    return yield* tx.all(`INSERT INTO login_throttle (throttle_key, window_ends_at, failures) VALUES ${placeholders(keys.length, '(?, 0, 0)')}
      ON CONFLICT (throttle_key) DO UPDATE SET throttle_key = excluded.throttle_key
      RETURNING throttle_key, ${columns}`, keys);
  }
  return yield* tx.all(`SELECT throttle_key, ${columns} FROM login_throttle WHERE throttle_key IN (${placeholders(keys.length)})`, keys);
}

export function createLoginThrottleStore(db: SqlDriver): Storage['loginThrottle'] {
  return {
    async recordFailure(keys, now, limit) {
      // Sorted, so concurrent attempts on overlapping keys lock them in one order (no deadlock).
      const distinct = [...new Set(keys)].sort();
      if (distinct.length === 0) return { retryAfterSeconds: 0, failures: [] };
      const counts = await db.transaction(function* (tx) {
        const rows = yield* lockedWindows(tx, distinct, 'window_ends_at, failures');
        const current = new Map(rows.filter((row) => now < Number(row.window_ends_at))
          .map((row) => [String(row.throttle_key), { endsAt: Number(row.window_ends_at), failures: Number(row.failures) }]));
        // SPEC decision 18: a key over its limit refuses the attempt without counting it (the window stays fixed).
        let retryAfterSeconds = 0;
        for (const window of current.values()) {
          if (window.failures >= limit.maxFailures) retryAfterSeconds = Math.max(retryAfterSeconds, window.endsAt - now);
        }
        if (retryAfterSeconds > 0) return { retryAfterSeconds, failures: new Map([...current].map(([key, window]) => [key, window.failures])) };
        // One statement for every key: a failure in the current window, or (none, or an ended one) a new
        // window that starts with this failure.
        const counted = yield* tx.all(
          `INSERT INTO login_throttle (throttle_key, window_ends_at, failures) VALUES ${placeholders(distinct.length, '(?, ?, 1)')}
           ON CONFLICT (throttle_key) DO UPDATE SET
             failures = CASE WHEN login_throttle.window_ends_at > ? THEN login_throttle.failures + 1 ELSE 1 END,
             window_ends_at = CASE WHEN login_throttle.window_ends_at > ? THEN login_throttle.window_ends_at ELSE excluded.window_ends_at END
           RETURNING throttle_key, failures`,
          [...distinct.flatMap((key) => [key, now + limit.windowSeconds]), now, now],
        );
        return { retryAfterSeconds: 0, failures: new Map(counted.map((row) => [String(row.throttle_key), Number(row.failures)])) };
      });
      return { retryAfterSeconds: counts.retryAfterSeconds, failures: keys.map((key) => counts.failures.get(key) ?? 0) };
    },
    async retract(keys, now) {
      const distinct = [...new Set(keys)].sort();
      if (distinct.length === 0) return;
      const retract = `UPDATE login_throttle SET failures = failures - 1
        WHERE throttle_key IN (${placeholders(distinct.length)}) AND window_ends_at > ? AND failures > 0`;
      // SQLite: one statement, atomic by itself (one writer).
      if (db.dialect === 'sqlite') {
        await db.run(retract, [...distinct, now]);
        return;
      }
      await db.transaction(function* (tx) {
        // PostgreSQL: lock in key order first, as recordFailure does: an UPDATE … IN locks rows in scan order,
        // which deadlocked against a concurrent recordFailure on the same keys (two logins from one address).
        // The same statement as theirs, so the order is the same one (JavaScript's sort, not the collation's).
        yield* lockedWindows(tx, distinct, 'failures');
        yield* tx.run(retract, [...distinct, now]);
      });
    },
    async reset(key) {
      await db.run('DELETE FROM login_throttle WHERE throttle_key = ?', [key]);
    },
    async attempt(counters, now) {
      const rules = new Map<string, LoginDelayRule>();
      for (const { key, rule } of counters) if (!rules.has(key)) rules.set(key, rule);
      // Sorted, so concurrent attempts on overlapping keys lock them in one order (no deadlock), as recordFailure does.
      const distinct = [...rules.keys()].sort();
      if (distinct.length === 0) return { retryAfterSeconds: 0, failures: [] };
      const counts = await db.transaction(function* (tx) {
        const rows = yield* lockedWindows(tx, distinct, 'window_ends_at, failures, last_failure_at');
        const failures = new Map<string, number>();
        let retryAfterSeconds = 0;
        for (const row of rows) {
          // An ended window (or a placeholder) is a forgotten key.
          if (Number(row.window_ends_at) <= now) continue;
          const key = String(row.throttle_key);
          failures.set(key, Number(row.failures));
          retryAfterSeconds = Math.max(retryAfterSeconds, loginDelayWaitSeconds(rules.get(key)!, Number(row.failures), nullableNumber(row.last_failure_at), now));
        }
        // SPEC decision 18: an attempt that must wait is refused and counted nowhere.
        if (retryAfterSeconds > 0) return { retryAfterSeconds, failures };
        // The counts were read under the lock (or by the only writer), so one upsert stores them all.
        const values: unknown[] = [];
        for (const key of distinct) {
          const count = (failures.get(key) ?? 0) + 1;
          values.push(key, now + rules.get(key)!.forgetAfterSeconds, count, now);
          failures.set(key, count);
        }
        yield* tx.run(
          `INSERT INTO login_throttle (throttle_key, window_ends_at, failures, last_failure_at) VALUES ${placeholders(distinct.length, '(?, ?, ?, ?)')}
           ON CONFLICT (throttle_key) DO UPDATE SET window_ends_at = excluded.window_ends_at, failures = excluded.failures,
             last_failure_at = excluded.last_failure_at`,
          values,
        );
        return { retryAfterSeconds: 0, failures };
      });
      return { retryAfterSeconds: counts.retryAfterSeconds, failures: counters.map(({ key }) => counts.failures.get(key) ?? 0) };
    },
  };
}
