/**
 * `grants.recordUses`, `apiKeys.recordUses` and `loginSessions.touch` (storage.ts): a batch of uses in ONE
 * statement, so the server's last-use recorder (storage/last-use-recorder.ts) costs one write per batch,
 * not one per use. The batch arrives as arrays (PostgreSQL, `unnest`) or as one JSON array of
 * `[id, usedAt]` pairs (SQLite, `json_each`); on both the row's time moves to the use's only when none was
 * recorded (a session: since it was created), or the recorded one is at least `minimumIntervalSeconds`
 * older. SQLite walks the batch and seeks each row by its primary key (sqlite/query-plans.test.ts); on
 * PostgreSQL the statement is unnamed, so each is planned for its batch, and it locks its rows in key order
 * first (postgres/last-use-locks.test.ts).
 */
import type { SqlDialect, SqlDriver } from '../sql/driver.ts';
import type { RecordedUse } from '../storage.ts';

/** The tables whose rows record a last use: key, the time column, and the time when none was recorded. */
const TABLES = {
  grants: { key: 'grant_id', time: 'last_used_at', none: '0' },
  api_keys: { key: 'key_id', time: 'last_used_at', none: '0' },
  login_sessions: { key: 'session_digest', time: 'last_seen_at', none: 'login_sessions.created_at' },
} as const;

export type LastUseTable = keyof typeof TABLES;

/**
 * The statement's text; its parameters are `lastUsesParameters'`. On PostgreSQL the rows are locked first, in
 * key order (`COLLATE "C"`, as `grants.revokeAllOfClient` and `clients.changeStatus` lock a
 * client's grants): an UPDATE that joins the batch locks rows in whatever order its plan meets them, and a
 * suspension locking the same grants in key order could deadlock with it (PostgreSQL aborted one of the two,
 * to be retried after its deadlock_timeout). Rows whose time need not move are neither locked nor written.
 */
export function lastUsesStatement(dialect: SqlDialect, table: LastUseTable): string {
  const { key, time, none } = TABLES[table];
  const due = `COALESCE(${table}.${time}, ${none}) <= u.used_at - ?`;
  if (dialect === 'postgres') {
    return `WITH u AS (SELECT * FROM unnest(?::text[], ?::bigint[]) AS u (id, used_at)),
       locked AS (SELECT ${table}.${key} AS id FROM ${table} JOIN u ON ${table}.${key} = u.id
                  WHERE ${due} ORDER BY ${table}.${key} COLLATE "C" FOR NO KEY UPDATE OF ${table})
     UPDATE ${table} SET ${time} = u.used_at FROM locked JOIN u ON u.id = locked.id WHERE ${table}.${key} = locked.id`;
  }
  return `UPDATE ${table} SET ${time} = u.used_at FROM (SELECT value ->> 0 AS id, value ->> 1 AS used_at FROM json_each(?)) AS u
     WHERE ${table}.${key} = u.id AND ${due}`;
}

export function lastUsesParameters(dialect: SqlDialect, uses: readonly RecordedUse[], minimumIntervalSeconds: number): unknown[] {
  return dialect === 'postgres'
    ? [uses.map((use) => use.id), uses.map((use) => use.usedAt), minimumIntervalSeconds]
    : [JSON.stringify(uses.map((use) => [use.id, use.usedAt])), minimumIntervalSeconds];
}

export async function recordLastUses(db: SqlDriver, table: LastUseTable, uses: readonly RecordedUse[], minimumIntervalSeconds: number): Promise<void> {
  if (uses.length === 0) return;
  await db.run(lastUsesStatement(db.dialect, table), lastUsesParameters(db.dialect, uses, minimumIntervalSeconds));
}
