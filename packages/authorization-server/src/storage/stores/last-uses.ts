/**
 * `grants.recordUses`, `apiKeys.recordUses` and `loginSessions.touch` (storage.ts): a batch of uses in ONE
 * statement, so the server's last-use recorder (storage/last-use-recorder.ts) costs one write per batch,
 * not one per use. The batch arrives as arrays (PostgreSQL, `unnest`) or as one JSON array of
 * `[id, usedAt]` pairs (SQLite, `json_each`); the rest of the text is the same: the row's time moves to the
 * use's only when none was recorded (a session: since it was created), or the recorded one is at least
 * `minimumIntervalSeconds` older. Both
 * databases walk the batch and seek each row by its primary key (sqlite/query-plans.test.ts; on
 * PostgreSQL the statement is unnamed, so each is planned for its batch).
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

/** The statement's text; its parameters are `lastUsesParameters`'. */
export function lastUsesStatement(dialect: SqlDialect, table: LastUseTable): string {
  const batch = dialect === 'postgres'
    ? 'unnest(?::text[], ?::bigint[]) AS u (id, used_at)'
    : '(SELECT value ->> 0 AS id, value ->> 1 AS used_at FROM json_each(?)) AS u';
  const { key, time, none } = TABLES[table];
  return `UPDATE ${table} SET ${time} = u.used_at FROM ${batch}
     WHERE ${table}.${key} = u.id AND COALESCE(${table}.${time}, ${none}) <= u.used_at - ?`;
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
