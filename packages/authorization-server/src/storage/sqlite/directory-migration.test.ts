import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { migrations } from './migrations.ts';
import { createSqliteStorage } from './sqlite-storage.ts';

const temporaryDirectory = mkdtempSync(join(tmpdir(), 'gatehouse-sqlite-migration-'));
after(() => rmSync(temporaryDirectory, { recursive: true, force: true }));

describe('SQLite migration 7 (the directory)', () => {
  it('makes users.password_hash optional in place: existing users, their sessions and columns other migrations added all stay', async () => {
    const file = join(temporaryDirectory, `${randomUUID()}.sqlite`);
    const userId = randomUUID();
    // A database as it was before version 7, with a column another migration added to users meanwhile.
    const db = new DatabaseSync(file);
    db.exec('PRAGMA foreign_keys = ON');
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
    for (const migration of migrations.filter((candidate) => candidate.version < 7)) {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)').run(migration.version, migration.name);
    }
    db.exec('ALTER TABLE users ADD COLUMN another_branch_column TEXT');
    db.prepare("INSERT INTO users (user_id, email, name, password_hash, another_branch_column) VALUES (?, 'alice@example.com', 'Alice', '$argon2id$x', 'kept')").run(userId);
    db.prepare("INSERT INTO login_sessions (session_digest, user_id, created_at, expires_at) VALUES ('s', ?, 0, 4000000000)").run(userId);
    db.close();

    const storage = createSqliteStorage(file);
    try {
      assert.deepEqual(await storage.users.find(userId), { userId, email: 'alice@example.com', name: 'Alice', passwordHash: '$argon2id$x' });
      assert.deepEqual(await storage.directory.findUser(userId), { userId, email: 'alice@example.com', name: 'Alice', locale: null, createdAt: 0, updatedAt: 0 });
      assert.ok(await storage.loginSessions.findActive('s', 0));
      const bob = randomUUID();
      assert.equal(await storage.directory.createUser({ userId: bob, email: 'bob@example.com', name: 'Bob', locale: null, createdAt: 1, updatedAt: 1 }), 'created');
      assert.equal((await storage.users.find(bob))?.passwordHash, null);
      // E-mails stay unique case-insensitively.
      assert.equal(await storage.directory.createUser({ userId: randomUUID(), email: 'ALICE@example.com', name: 'A', locale: null, createdAt: 1, updatedAt: 1 }), 'duplicate_email');
    } finally {
      await storage.close();
    }
    const check = new DatabaseSync(file);
    try {
      assert.equal((check.prepare('SELECT another_branch_column AS value FROM users WHERE user_id = ?').get(userId) as { value: string }).value, 'kept');
      assert.deepEqual(check.prepare('PRAGMA foreign_key_check').all(), []);
      assert.equal((check.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check, 'ok');
      // Every migration after 7 applied too (other branches add theirs).
      assert.equal((check.prepare('SELECT max(version) AS version FROM schema_migrations').get() as { version: number }).version, Math.max(...migrations.map((migration) => migration.version)));
    } finally {
      check.close();
    }
  });
});
