/**
 * Issue 12, "Drop indexes the hot paths do not need": which index SQLite's planner picks for every query
 * the storage runs against tokens, grants, authorization_codes, audit_events and refresh_token_grace (`EXPLAIN QUERY PLAN` on a
 * freshly migrated database, as the server runs: no ANALYZE), and which indexes no query uses. The list of
 * queries is copied from storage/sqlite/*.ts (keep it in step when a query changes); see bench/README.md,
 * "Indexes on the refresh path".
 *
 *   node bench/index-usage-probe.ts [--drop INDEX,INDEX]
 *
 * --drop  drops those indexes first: the plans the queries would get without them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createSqliteStorage } from '../packages/authorization-server/src/storage/sqlite/sqlite-storage.ts';

const QUERIES: Record<string, string> = {
  'findByDigest (refresh, introspection)': 'SELECT t.*, g.grant_id FROM tokens t JOIN grants g ON g.grant_id = t.grant_id WHERE t.token_digest = ?',
  'rotate: compare-and-swap': `UPDATE tokens SET rotated_at = ? WHERE token_digest = ? AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL
     AND EXISTS (SELECT 1 FROM grants g WHERE g.grant_id = tokens.grant_id AND g.revoked_at IS NULL) RETURNING grant_id`,
  'rotate: revoke superseded access tokens': "UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND kind = 'access' AND revoked_at IS NULL",
  'rotate: grace record upsert': `INSERT INTO refresh_token_grace (grant_id, previous_digest, sealed_successor, grace_expires_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (grant_id) DO UPDATE SET previous_digest = excluded.previous_digest, sealed_successor = excluded.sealed_successor, grace_expires_at = excluded.grace_expires_at`,
  'findGraceSuccessor': `SELECT r.grant_id FROM tokens t JOIN refresh_token_grace r ON r.grant_id = t.grant_id JOIN grants g ON g.grant_id = r.grant_id
     WHERE t.token_digest = ? AND r.previous_digest = t.token_digest AND g.revoked_at IS NULL`,
  'revokeAccessToken': "UPDATE tokens SET revoked_at = ? WHERE token_digest = ? AND kind = 'access' AND revoked_at IS NULL",
  'changeStatus (a suspension)': `UPDATE tokens SET revoked_at = ? WHERE kind = 'access' AND revoked_at IS NULL
     AND grant_id IN (SELECT grant_id FROM grants WHERE client_id = ? AND revoked_at IS NULL)`,
  'listRevokedAccessTokens': `SELECT token_id, expires_at, revoked_at FROM tokens WHERE kind = 'access' AND revoked_at IS NOT NULL AND revoked_at >= ? AND expires_at > ?
     AND (? = 0 OR audience IS ?) ORDER BY revoked_at, token_id LIMIT ?`,
  'revokeGrant: grant': 'UPDATE grants SET revoked_at = max(?, created_at), revocation_reason = ? WHERE grant_id = ? AND revoked_at IS NULL',
  'revokeGrant: tokens': 'UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL',
  'revokeGrant: cleanup_after': 'UPDATE grants SET cleanup_after = (SELECT COALESCE(MAX(expires_at), 0) FROM tokens WHERE grant_id = ?) WHERE grant_id = ? AND revoked_at IS NOT NULL',
  'issueGrant: SPEC decision 6 check and supersede': `SELECT grant_id, created_at, revoked_at FROM grants WHERE client_id = ? AND subject_type = ? AND subject_id = ? AND revoked_at IS NULL
     UNION ALL SELECT grant_id, created_at, revoked_at FROM grants WHERE client_id = ? AND subject_type = ? AND subject_id = ? AND revoked_at > ?`,
  'grants.find': 'SELECT * FROM grants WHERE grant_id = ?',
  'grants.listActive by client': `SELECT g.*, (SELECT MAX(t.issued_at) FROM tokens t WHERE t.grant_id = g.grant_id) FROM grants g WHERE g.client_id = ? AND g.revoked_at IS NULL
     ORDER BY g.created_at DESC, g.grant_id`,
  'grants.listActive by user': 'SELECT g.* FROM grants g WHERE g.user_id = ? AND g.revoked_at IS NULL ORDER BY g.created_at DESC, g.grant_id',
  'grants.listActive by subject': 'SELECT g.* FROM grants g WHERE g.subject_type = ? AND g.subject_id = ? AND g.revoked_at IS NULL ORDER BY g.created_at DESC, g.grant_id',
  'grants.findActive': 'SELECT * FROM grants WHERE client_id = ? AND subject_type = ? AND subject_id = ? AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1',
  'grants.revokeAllOfClient': 'SELECT grant_id FROM grants WHERE client_id = ? AND revoked_at IS NULL',
  'directory: grants of a subject': 'SELECT grant_id FROM grants WHERE subject_type = ? AND subject_id = ? AND revoked_at IS NULL',
  'exchange: the code': 'SELECT * FROM authorization_codes WHERE code_digest = ?',
  'cleanup: authorization codes': 'DELETE FROM authorization_codes WHERE rowid IN (SELECT x.rowid FROM authorization_codes x WHERE x.expires_at <= ? ORDER BY x.expires_at LIMIT ?)',
  "directory: void a user's unredeemed codes": 'UPDATE authorization_codes SET consumed_at = COALESCE(consumed_at, ?), replayed_at = COALESCE(replayed_at, ?) WHERE grant_id IS NULL AND user_id = ?',
  "directory: void a subject's unredeemed codes": 'UPDATE authorization_codes SET consumed_at = COALESCE(consumed_at, ?), replayed_at = COALESCE(replayed_at, ?) WHERE grant_id IS NULL AND subject_type = ? AND subject_id = ?',
  'cleanup: refresh tokens due': `SELECT x.rowid AS token_key, (SELECT max(u.expires_at) FROM tokens u WHERE u.grant_id = x.grant_id AND u.kind = 'refresh') AS family_expires_at
     FROM tokens x WHERE x.kind = 'refresh' AND COALESCE(x.cleanup_after, x.expires_at) <= ? ORDER BY COALESCE(x.cleanup_after, x.expires_at) LIMIT ?`,
  'cleanup: access tokens': "DELETE FROM tokens WHERE rowid IN (SELECT x.rowid FROM tokens x WHERE x.kind = 'access' AND x.expires_at <= ? ORDER BY x.expires_at LIMIT ?)",
  'cleanup: grants': `DELETE FROM grants WHERE rowid IN (SELECT x.rowid FROM grants x WHERE x.revoked_at IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.grant_id = x.grant_id) AND NOT EXISTS (SELECT 1 FROM authorization_codes c WHERE c.grant_id = x.grant_id)
     AND x.cleanup_after <= ? ORDER BY x.cleanup_after LIMIT ?)`,
  'cleanup: grace records': 'DELETE FROM refresh_token_grace WHERE rowid IN (SELECT x.rowid FROM refresh_token_grace x WHERE x.grace_expires_at <= ? ORDER BY x.grace_expires_at LIMIT ?)',
  'cleanup: audit retention': 'DELETE FROM audit_events WHERE event_id IN (SELECT event_id FROM audit_events WHERE at < ? ORDER BY at LIMIT ?)',
  'audit.since': 'SELECT * FROM audit_events WHERE at >= ? AND event_id > ? ORDER BY event_id LIMIT ?',
  'audit.list of a client': 'SELECT * FROM audit_events WHERE client_id = ? AND event_id < ? ORDER BY event_id DESC LIMIT ?',
  'audit.list by type': 'SELECT * FROM audit_events WHERE type IN (?, ?) ORDER BY event_id DESC LIMIT ?',
  'audit insert (trigger audit_events_no_replace)': "INSERT INTO audit_events (type, at, actor, client_id, grant_id, details) VALUES ('t', 1, 'a', 'c', 'g', '{}')",
  'authorization_codes by grant (FK check on grant delete)': 'DELETE FROM grants WHERE grant_id = ?',
};

const directory = mkdtempSync(join(tmpdir(), 'index-usage-'));
try {
  const path = join(directory, 'probe.sqlite');
  await createSqliteStorage(path).close();
  const db = new DatabaseSync(path);
  db.exec('PRAGMA foreign_keys = ON');
  const dropAt = process.argv.indexOf('--drop');
  for (const name of dropAt > 0 ? process.argv[dropAt + 1]!.split(',') : []) db.exec(`DROP INDEX ${name}`);
  const indexes = db.prepare(
    "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('tokens', 'grants', 'authorization_codes', 'audit_events', 'refresh_token_grace') ORDER BY tbl_name, name",
  ).all() as { name: string; tbl_name: string; sql: string | null }[];
  const usedBy = new Map<string, string[]>(indexes.map((index) => [index.name, []]));
  for (const [label, sql] of Object.entries(QUERIES)) {
    const parameters = (sql.match(/\?/g) ?? []).map(() => null);
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as { detail: string }[]).map((row) => row.detail);
    console.log(`${label}\n    ${plan.join('\n    ')}`);
    for (const detail of plan) {
      for (const name of usedBy.keys()) if (new RegExp(`\\b${name}\\b`).test(detail)) usedBy.get(name)!.push(label);
    }
  }
  console.log('\nindex → queries whose plan uses it');
  for (const index of indexes) {
    const users = [...new Set(usedBy.get(index.name))];
    console.log(`  ${index.tbl_name}.${index.name}${index.sql ? '' : ' (PRIMARY KEY / UNIQUE)'}: ${users.length === 0 ? 'NONE' : users.join('; ')}`);
  }
  db.close();
} finally {
  rmSync(directory, { recursive: true, force: true });
}
