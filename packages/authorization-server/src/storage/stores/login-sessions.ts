/**
 * Login sessions, stored only as the session cookie's digest (storage.ts `Storage['loginSessions']`,
 * issue 10 §4), written once for both databases over the SQL driver (issue 12). Times are seconds.
 */
import type { SqlDriver, SqlRow } from '../sql/driver.ts';
import type { ActiveLoginSession, LoginSessionListing, LoginSessionRecord, Storage, SubjectType } from '../storage.ts';
import { nullableString, toUser, USER_COLUMNS } from '../rows.ts';
import { recordLastUses } from './last-uses.ts';

/**
 * The session with its live user (a deleted user's session is no session), in one read (issue 12). The
 * user's columns are named (`u.*` would clash with the session's `created_at`), from rows.ts's list; the
 * session's times are renamed so that the row also reads beside an interaction's (`interactions.consume`).
 */
export const ACTIVE_SESSION_COLUMNS = `s.session_digest, s.created_at AS session_created_at, s.expires_at AS session_expires_at,
  COALESCE(s.authenticated_at, s.created_at) AS session_authenticated_at,
  COALESCE(s.last_seen_at, s.created_at) AS seen, ${USER_COLUMNS.map((column) => `u.${column}`).join(', ')}, u.locale`;
export const ACTIVE_SESSION_JOIN = 'login_sessions s JOIN users u ON u.user_id = s.user_id AND u.deleted_at IS NULL';
export const ACTIVE_SESSION = `SELECT ${ACTIVE_SESSION_COLUMNS} FROM ${ACTIVE_SESSION_JOIN} WHERE s.session_digest = ? AND s.expires_at > ?`;

/** A row of `ACTIVE_SESSION_COLUMNS`. */
export function toActiveSession(row: SqlRow): ActiveLoginSession {
  return {
    sessionDigest: String(row.session_digest), userId: String(row.user_id), createdAt: Number(row.session_created_at),
    authenticatedAt: Number(row.session_authenticated_at), expiresAt: Number(row.session_expires_at), lastSeenAt: Number(row.seen), user: { ...toUser(row), locale: nullableString(row.locale) },
  };
}

/**
 * The session's row once per subject of a type its user administers, or once with NULLs when none
 * (parameters: subject type, session digest, now); in no order (`byAdministeredName`).
 */
export const ACTIVE_SESSION_WITH_SUBJECTS = `SELECT ${ACTIVE_SESSION_COLUMNS},
    sub.subject_id AS administered_id, sub.name AS administered_name, sub.organization_id AS administered_organization_id
  FROM ${ACTIVE_SESSION_JOIN}
  LEFT JOIN subject_administrators a ON a.user_id = s.user_id AND a.subject_type = ?
  LEFT JOIN subjects sub ON sub.subject_type = a.subject_type AND sub.subject_id = a.subject_id
  WHERE s.session_digest = ? AND s.expires_at > ?`;

/** Names in byte order on both, as subjects.listAdministeredBy orders them (stores/subjects.ts). */
export const byAdministeredName = (db: SqlDriver, column: string) => `ORDER BY ${column}${db.dialect === 'postgres' ? ' COLLATE "C"' : ''}`;

/** `ACTIVE_SESSION_WITH_SUBJECTS` with its rows in `administeredSubjects`' order. */
export const activeSessionWithSubjectsByName = (db: SqlDriver) => `${ACTIVE_SESSION_WITH_SUBJECTS} ${byAdministeredName(db, 'sub.name')}`;

/** The session of `ACTIVE_SESSION_WITH_SUBJECTS`'s rows, undefined for none, with `administeredSubjects`. */
export function toActiveSessionWithSubjects(rows: SqlRow[], subjectType: SubjectType): ActiveLoginSession | undefined {
  if (rows.length === 0) return undefined;
  return {
    ...toActiveSession(rows[0]!),
    administeredSubjects: rows.filter((row) => row.administered_id !== null).map((row) => ({
      subjectType, subjectId: String(row.administered_id), name: String(row.administered_name), organizationId: nullableString(row.administered_organization_id),
    })),
  };
}

export function createLoginSessionStore(db: SqlDriver): Storage['loginSessions'] {
  const withSubjects = activeSessionWithSubjectsByName(db);
  return {
    async create(session) {
      await db.run('INSERT INTO login_sessions (session_digest, user_id, created_at, expires_at, authenticated_at) VALUES (?, ?, ?, ?, ?)',
        [session.sessionDigest, session.userId, session.createdAt, session.expiresAt, session.authenticatedAt ?? null]);
    },
    async findActive(sessionDigest, now, administeredSubjectType) {
      if (administeredSubjectType === undefined) {
        const row = await db.get(ACTIVE_SESSION, [sessionDigest, now], { name: 'gatehouse_active_login_session' });
        return row && toActiveSession(row);
      }
      const rows = await db.all(withSubjects, [administeredSubjectType, sessionDigest, now], { name: 'gatehouse_active_login_session_with_subjects' });
      return toActiveSessionWithSubjects(rows, administeredSubjectType);
    },
    async delete(sessionDigest) {
      await db.run('DELETE FROM login_sessions WHERE session_digest = ?', [sessionDigest]);
    },
    async createWithDevice(session) {
      await db.run('INSERT INTO login_sessions (session_digest, user_id, created_at, expires_at, device, last_seen_at, authenticated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [session.sessionDigest, session.userId, session.createdAt, session.expiresAt, session.device, session.createdAt, session.authenticatedAt ?? null]);
    },
    async touch(visits, minimumIntervalSeconds) {
      // At most one write per interval: a session seen recently is not written again (last-uses.ts).
      await recordLastUses(db, 'login_sessions', visits, minimumIntervalSeconds);
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
