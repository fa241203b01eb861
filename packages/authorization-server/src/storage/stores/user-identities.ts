/**
 * Links between upstream OpenID Provider accounts and directory users (storage.ts `UserIdentityStore`,
 * issue 10 §2), written once for both databases over the SQL driver (issue 12).
 */
import { toUserIdentity } from '../rows.ts';
import type { SqlDriver } from '../sql/driver.ts';
import type { UserIdentityStore } from '../storage.ts';

export function createUserIdentityStore(db: SqlDriver): UserIdentityStore {
  return {
    async find(issuer, subject) {
      const row = await db.get(
        `SELECT i.* FROM user_identities i JOIN users u ON u.user_id = i.user_id
         WHERE i.issuer = ? AND i.subject = ? AND u.deleted_at IS NULL`,
        [issuer, subject],
      );
      return row && toUserIdentity(row);
    },
    async link(identity) {
      return db.transaction(function* (tx) {
        // One statement: inserted only for a live user and with neither key taken (of concurrent links,
        // one wins: the primary key and the (issuer, user_id) unique key decide, ON CONFLICT skips).
        const inserted = yield* tx.get(
          `INSERT INTO user_identities (issuer, subject, user_id, linked_at, last_sign_in_at)
           SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE user_id = ? AND deleted_at IS NULL)
           ON CONFLICT DO NOTHING RETURNING 1 AS linked`,
          [identity.issuer, identity.subject, identity.userId, identity.linkedAt, identity.lastSignInAt, identity.userId],
        );
        if (inserted) return 'linked' as const;
        // Why not, read in the same transaction (on SQLite: as of the refused insert).
        if (!(yield* tx.get('SELECT 1 AS found FROM users WHERE user_id = ? AND deleted_at IS NULL', [identity.userId]))) return 'unknown_user' as const;
        if (yield* tx.get('SELECT 1 AS found FROM user_identities WHERE issuer = ? AND subject = ?', [identity.issuer, identity.subject])) return 'subject_taken' as const;
        return 'user_taken' as const;
      });
    },
    async recordSignIn(issuer, subject, now) {
      await db.run('UPDATE user_identities SET last_sign_in_at = ? WHERE issuer = ? AND subject = ?', [now, issuer, subject]);
    },
    async listOfUser(userId) {
      return (await db.all('SELECT * FROM user_identities WHERE user_id = ? ORDER BY issuer', [userId])).map(toUserIdentity);
    },
  };
}
