/**
 * Users (storage.ts `Storage['users']`), written once for both databases over the SQL driver (issue 12).
 * A deleted user keeps its row (with a placeholder e-mail) for the grants that name it, and never logs in.
 */
import { toUser } from '../rows.ts';
import type { SqlDialect, SqlDriver } from '../sql/driver.ts';
import type { Storage } from '../storage.ts';

/** A user who has not been deleted, by id (the directory's reads share it). */
export const LIVE_USER = 'SELECT * FROM users WHERE user_id = ? AND deleted_at IS NULL';

/**
 * The e-mail as users are found by it on SQLite (`email_key`, migration 43): lowercased by JavaScript, every
 * Unicode letter ('Øystein@' = 'øystein@'). The address itself is kept as given. Written on both databases.
 */
export function emailKey(email: string): string {
  return email.toLowerCase();
}

/**
 * Where an e-mail equals a user's, case-insensitively: PostgreSQL compares with lower() on both sides (its
 * unique index, version 1), SQLite by `email_key` (migration 43). Pass `emailParameter` for its `?`.
 */
export const EMAIL_MATCH: Record<SqlDialect, string> = { postgres: 'lower(email) = lower(?)', sqlite: 'email_key = ?' };

/** The parameter of EMAIL_MATCH: the address as typed on PostgreSQL (lower() folds it), its key on SQLite. */
export function emailParameter(dialect: SqlDialect, email: string): string {
  return dialect === 'postgres' ? email : emailKey(email);
}

export function createUserStore(db: SqlDriver): Storage['users'] {
  return {
    async create(user) {
      await db.run('INSERT INTO users (user_id, email, email_key, name, password_hash) VALUES (?, ?, ?, ?, ?)', [user.userId, user.email, emailKey(user.email), user.name, user.passwordHash]);
    },
    async find(userId) {
      const row = await db.get('SELECT * FROM users WHERE user_id = ?', [userId]);
      return row && toUser(row);
    },
    async findByEmail(email) {
      // PostgreSQL text cannot hold NUL (it would refuse the parameter: a 500), so no stored address has one.
      if (email.includes('\u0000')) return undefined;
      const byEmail = async (typed: string) => {
        const row = await db.get(`SELECT * FROM users WHERE ${EMAIL_MATCH[db.dialect]} AND deleted_at IS NULL`, [emailParameter(db.dialect, typed)]);
        return row && toUser(row);
      };
      const found = await byEmail(email);
      // PostgreSQL's lower() folds Σ to σ, never to the word-final ς a person types ('ΟΔΟΣ@' is 'οδοσ@' there):
      // that spelling is tried too. SQLite's key is JavaScript's, which writes ς at a word's end on both sides.
      if (found || db.dialect !== 'postgres' || !email.includes('ς')) return found;
      return byEmail(email.replaceAll('ς', 'σ'));
    },
    async foldEmail(email) {
      // NUL, which PostgreSQL text cannot hold, is dropped: such an address finds no one anyway.
      const typed = email.replaceAll('\u0000', '');
      const folded = db.dialect === 'postgres' ? String((await db.get('SELECT lower(?) AS folded', [typed]))!.folded) : emailKey(typed);
      return folded.replaceAll('ς', 'σ');
    },
    async setPasswordHash(userId, passwordHash) {
      return (await db.run('UPDATE users SET password_hash = ? WHERE user_id = ? AND deleted_at IS NULL', [passwordHash, userId])).changes > 0;
    },
  };
}
