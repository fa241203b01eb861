/**
 * The queries that list by a column other than a key use an index (bench/index-usage-probe.ts shows every
 * plan): a full scan of grants grows with every connection ever made.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { createSqliteStorage } from './sqlite-storage.ts';
import { lastUsesParameters, lastUsesStatement } from '../stores/last-uses.ts';

/** The plan SQLite picks for `sql` on a freshly migrated database, its steps joined by ` | `. */
async function planOf(sql: string, ...parameters: (string | number)[]): Promise<string> {
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-plans-'));
  const path = join(directory, 'gatehouse.sqlite');
  const storage = createSqliteStorage(path);
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as Array<{ detail: string }>).map((step) => step.detail).join(' | ');
  } finally {
    db.close();
    await storage.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

describe('SQLite query plans', () => {
  it('the revocation feed reads tokens_revoked_access, which migration 30 recreated with the table (issue 15 §4)', async () => {
    const details = await planOf(
      `SELECT token_id, expires_at, revoked_at FROM tokens
         WHERE kind = 'access' AND revoked_at IS NOT NULL AND revoked_at >= ? AND expires_at > ? ORDER BY revoked_at, token_id LIMIT ?`,
      0, 0, 10,
    );
    assert.match(details, /USING INDEX tokens_revoked_access/, details);
    assert.doesNotMatch(details, /TEMP B-TREE/, `no sort: the index gives the feed's order. ${details}`);
  });

  it('the revocation feed after a token seeks tokens_revoked_access by (revoked_at, token_id), without a sort', async () => {
    const details = await planOf(
      `SELECT token_id, expires_at, revoked_at FROM tokens
         WHERE kind = 'access' AND revoked_at IS NOT NULL AND (revoked_at, token_id) > (?, ?) AND expires_at > ? ORDER BY revoked_at, token_id LIMIT ?`,
      0, '00000000-0000-4000-8000-000000000000', 0, 10,
    );
    assert.match(details, /SEARCH tokens USING INDEX tokens_revoked_access \(\(revoked_at,token_id\)>\(\?,\?\)\)/, details);
    assert.doesNotMatch(details, /TEMP B-TREE/, details);
  });

  it('findGraceSuccessor goes by primary keys alone: the presented token, its grant\'s grace record, the grant (migration 30)', async () => {
    const details = await planOf(
      `SELECT r.grant_id, r.previous_digest, r.sealed_successor, r.grace_expires_at FROM tokens t
         JOIN refresh_token_grace r ON r.grant_id = t.grant_id JOIN grants g ON g.grant_id = r.grant_id
         WHERE t.token_digest = ? AND r.previous_digest = t.token_digest AND g.revoked_at IS NULL`,
      'digest',
    );
    const steps = details.split(' | ');
    assert.equal(steps.length, 3, details);
    assert.ok(steps.every((step) => /^SEARCH \w+ USING INDEX sqlite_autoindex_(tokens|refresh_token_grace|grants)_1 \(\w+=\?\)$/.test(step)), details);
  });

  it("the code exchange's SPEC decision 6 read seeks two ranges of grants_by_subject (migration 35), never the (client, subject)'s whole history", async () => {
    const pair = 'client_id = ? AND subject_type = ? AND subject_id = ?';
    // As stores/grants.ts sqliteIssueGrantSteps reads it.
    const details = await planOf(
      `SELECT grant_id, created_at, revoked_at FROM grants WHERE ${pair} AND revoked_at IS NULL
       UNION ALL SELECT grant_id, created_at, revoked_at FROM grants WHERE ${pair} AND revoked_at > ?`,
      'c', 'company', 's', 'c', 'company', 's', 1,
    );
    const searches = details.split(' | ').filter((step) => step.startsWith('SEARCH'));
    assert.deepEqual(searches, [
      // The live grant of the pair, then the subject's grants revoked since the code's issue (any client's: a few).
      'SEARCH grants USING INDEX grants_by_subject (subject_type=? AND subject_id=? AND revoked_at=? AND client_id=?)',
      'SEARCH grants USING INDEX grants_by_subject (subject_type=? AND subject_id=? AND revoked_at>?)',
    ], details);
  });

  it("grants.findActive (the consent page's reuse) seeks the pair's live grant, never its history (grants_by_subject, migration 35)", async () => {
    // As stores/grants.ts findActive reads it.
    const details = await planOf(
      'SELECT * FROM grants WHERE client_id = ? AND subject_type = ? AND subject_id = ? AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1',
      'c', 'company', 's',
    );
    assert.match(details, /^SEARCH grants USING INDEX grants_by_subject \(subject_type=\? AND subject_id=\? AND revoked_at=\? AND client_id=\?\)/, details);
  });

  it("a subject's live grants (the directory's removal, listActive by subject) are one range of grants_by_subject, not the subject's history", async () => {
    // As stores/directory.ts reads them before revoking each.
    const details = await planOf('SELECT grant_id FROM grants WHERE subject_type = ? AND subject_id = ? AND revoked_at IS NULL ORDER BY grant_id', 'company', 's');
    assert.match(details, /^SEARCH grants USING INDEX grants_by_subject \(subject_type=\? AND subject_id=\? AND revoked_at=\?\)/, details);
  });

  it("the directory voids a user's or a subject's unredeemed codes by index: whole indexes, which redeeming a code never writes (migration 35)", async () => {
    // As stores/directory.ts voidCodes runs them.
    const voidCodes = (where: string) => `UPDATE authorization_codes SET consumed_at = COALESCE(consumed_at, ?), replayed_at = COALESCE(replayed_at, ?) WHERE grant_id IS NULL AND ${where}`;
    assert.equal(await planOf(voidCodes('user_id = ?'), 1, 1, 'u'), 'SEARCH authorization_codes USING INDEX authorization_codes_by_user (user_id=?)');
    assert.equal(
      await planOf(voidCodes('subject_type = ? AND subject_id = ?'), 1, 1, 'company', 's'),
      'SEARCH authorization_codes USING INDEX authorization_codes_by_subject (subject_type=? AND subject_id=?)',
    );
  });

  it("grants.listActive({ userId }) reads the user's active grants through grants_active_by_user (migration 29), not a scan", async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-plans-'));
    const path = join(directory, 'gatehouse.sqlite');
    const storage = createSqliteStorage(path);
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const plan = db.prepare('EXPLAIN QUERY PLAN SELECT g.* FROM grants g WHERE g.user_id = ? AND g.revoked_at IS NULL ORDER BY g.created_at DESC, g.grant_id')
        .all('user') as Array<{ detail: string }>;
      const details = plan.map((step) => step.detail).join(' | ');
      assert.match(details, /USING INDEX grants_active_by_user/, details);
      assert.doesNotMatch(details, /SCAN g\b/, details);
    } finally {
      db.close();
      await storage.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('recordUses and touch (the last-use recorder\'s batches, issue 12) walk the batch and seek each grant, API key and session by its primary key', async () => {
    for (const table of ['grants', 'api_keys', 'login_sessions'] as const) {
      const details = await planOf(lastUsesStatement('sqlite', table), ...(lastUsesParameters('sqlite', [{ id: 'a', usedAt: 1 }], 60) as [string, number]));
      const steps = details.split(' | ');
      assert.equal(steps.length, 2, details);
      assert.match(steps[0]!, /^SCAN json_each VIRTUAL TABLE/, details);
      assert.match(steps[1]!, new RegExp(`^SEARCH ${table} USING INDEX sqlite_autoindex_${table}_1 \\(\\w+=\\?\\)$`), details);
    }
  });
});
