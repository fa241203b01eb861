/**
 * Login sessions, stored only as the session cookie's digest (storage.ts `Storage['loginSessions']`,
 * issue 10 §4), written once for both databases over the SQL driver (issue 12). Times are seconds.
 */
import type { SqlDriver, SqlRow } from '../sql/driver.ts';
import type { LoginSessionListing, LoginSessionRecord, Storage } from '../storage.ts';
import { nullableString, toUser, USER_COLUMNS } from '../rows.ts';

/**
 * The session with its live user (a deleted user's session is no session), in one read (issue 12). The
 * user's columns are named (`u.*` would clash with the session's `created_at`), from rows.ts's list.
 */
const ACTIVE_SESSION = `SELECT s.session_digest, s.created_at, s.expires_at, COALESCE(s.last_seen_at, s.created_at) AS seen,
    ${USER_COLUMNS.map((column) => `u.${column}`).join(', ')}, u.locale
  FROM login_sessions s JOIN users u ON u.user_id = s.user_id AND u.deleted_at IS NULL
  WHERE s.session_digest = ? AND s.expires_at > ?`;

export function createLoginSessionStore(db: SqlDriver): Storage['loginSessions'] {
  return {
    async create(session) {
      await db.run('INSERT INTO login_sessions (session_digest, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
        [session.sessionDigest, session.userId, session.createdAt, session.expiresAt]);
    },
    async findActive(sessionDigest, now) {
      const row = await db.get(ACTIVE_SESSION, [sessionDigest, now], { name: 'gatehouse_active_login_session' });
      return row && { ...toLoginSession(row), lastSeenAt: Number(row.seen), user: { ...toUser(row), locale: nullableString(row.locale) } };
    },
    async delete(sessionDigest) {
      await db.run('DELETE FROM login_sessions WHERE session_digest = ?', [sessionDigest]);
    },
    async createWithDevice(session) {
      await db.run('INSERT INTO login_sessions (session_digest, user_id, created_at, expires_at, device, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)',
        [session.sessionDigest, session.userId, session.createdAt, session.expiresAt, session.device, session.createdAt]);
    },
    async touch(sessionDigest, now, minimumIntervalSeconds) {
      // At most one write per interval: a session seen recently is not written again.
      await db.run('UPDATE login_sessions SET last_seen_at = ? WHERE session_digest = ? AND COALESCE(last_seen_at, created_at) <= ?',
        [now, sessionDigest, now - minimumIntervalSeconds]);
    },
    async listActiveOfUser(userId, now) {
      return (await db.all(
        `SELECT *, COALESCE(last_seen_at, created_at) AS seen FROM login_sessions WHERE user_id = ? AND expires_at > ?
         ORDER BY seen DESC, created_at DESC, session_digest`,
        [userId, now],
      )).map(toLoginSessionListing);
    },
    async deleteOthersOfUser(userId, keptSessionDigest) {
      return (await db.run('DELETE FROM login_sessions WHERE user_id = ? AND session_digest <> ?', [userId, keptSessionDigest])).changes;
    },
  };
}

function toLoginSession(row: SqlRow): LoginSessionRecord {
  return { sessionDigest: String(row.session_digest), userId: String(row.user_id), createdAt: Number(row.created_at), expiresAt: Number(row.expires_at) };
}

/** A row with `seen` = COALESCE(last_seen_at, created_at). */
function toLoginSessionListing(row: SqlRow): LoginSessionListing {
  return { ...toLoginSession(row), device: String(row.device), lastSeenAt: Number(row.seen) };
}
