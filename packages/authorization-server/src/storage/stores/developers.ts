/**
 * Partner developers: users who may register clients in the developer portal (storage.ts
 * `Storage['developers']`), written once for both databases over the SQL driver (issue 12).
 */
import type { SqlDriver } from '../sql/driver.ts';
import type { Storage } from '../storage.ts';

export function createDeveloperStore(db: SqlDriver): Storage['developers'] {
  return {
    async add(userId) {
      await db.run('INSERT INTO partner_developers (user_id) VALUES (?) ON CONFLICT DO NOTHING', [userId]);
    },
    async isDeveloper(userId) {
      return (await db.get('SELECT 1 AS found FROM partner_developers WHERE user_id = ?', [userId])) !== undefined;
    },
    async remove(userId) {
      return (await db.run('DELETE FROM partner_developers WHERE user_id = ?', [userId])).changes > 0;
    },
  };
}
