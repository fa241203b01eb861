/**
 * Users (storage.ts `Storage['users']`), written once for both databases over the SQL driver (issue 12).
 * A deleted user keeps its row (with a placeholder e-mail) for the grants that name it, and never logs in.
 */
import { toUser } from '../rows.ts';
import type { SqlDriver } from '../sql/driver.ts';
import type { Storage } from '../storage.ts';

/** A user who has not been deleted, by id (the directory's reads share it). */
export const LIVE_USER = 'SELECT * FROM users WHERE user_id = ? AND deleted_at IS NULL';

export function createUserStore(db: SqlDriver): Storage['users'] {
  // Case-insensitive e-mail, each through its database's unique index: SQLite's column is COLLATE NOCASE
  // (ASCII folding), PostgreSQL's index is on lower(email) (see both migrations.ts).
  const findByEmail = db.dialect === 'postgres'
    ? 'SELECT * FROM users WHERE lower(email) = lower(?) AND deleted_at IS NULL'
    : 'SELECT * FROM users WHERE email = ? AND deleted_at IS NULL';
  return {
    async create(user) {
      await db.run('INSERT INTO users (user_id, email, name, password_hash) VALUES (?, ?, ?, ?)', [user.userId, user.email, user.name, user.passwordHash]);
    },
    async find(userId) {
      const row = await db.get('SELECT * FROM users WHERE user_id = ?', [userId]);
      return row && toUser(row);
    },
    async findByEmail(email) {
      const row = await db.get(findByEmail, [email]);
      return row && toUser(row);
    },
    async setPasswordHash(userId, passwordHash) {
      return (await db.run('UPDATE users SET password_hash = ? WHERE user_id = ? AND deleted_at IS NULL', [passwordHash, userId])).changes > 0;
    },
  };
}
