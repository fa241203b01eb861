/**
 * Directory users who may use the administrators' console at /admin (issue 13; storage.ts
 * `Storage['consoleAdministrators']`), written once for both databases over the SQL driver (issue 12).
 */
import type { SqlDriver } from '../sql/driver.ts';
import type { Storage } from '../storage.ts';

export function createConsoleAdministratorStore(db: SqlDriver): Storage['consoleAdministrators'] {
  return {
    async grant(userId, now) {
      // Inserted only for an existing user; a second grant keeps the first granted_at and answers true.
      // One transaction: on SQLite the insert and the "already held" check are one serialized write, as
      // they were; on PostgreSQL (READ COMMITTED) they are the same two statements as before.
      return db.transaction(function* (tx) {
        const inserted = yield* tx.run(
          'INSERT INTO console_administrators (user_id, granted_at) SELECT user_id, ? FROM users WHERE user_id = ? ON CONFLICT DO NOTHING', [now, userId]);
        if (inserted.changes > 0) return true;
        return (yield* tx.get('SELECT 1 AS found FROM console_administrators WHERE user_id = ?', [userId])) !== undefined;
      });
    },
    async isConsoleAdministrator(userId) {
      return (await db.get('SELECT 1 AS found FROM console_administrators WHERE user_id = ?', [userId])) !== undefined;
    },
    async revoke(userId) {
      return (await db.run('DELETE FROM console_administrators WHERE user_id = ?', [userId])).changes > 0;
    },
  };
}
