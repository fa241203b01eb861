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

describe('SQLite query plans', () => {
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
});
