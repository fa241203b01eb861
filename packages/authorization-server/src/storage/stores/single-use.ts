/**
 * Single-use records (issue 12), written once for both databases over the SQL driver: consent
 * interactions (SPEC decision 11) and pushed authorization requests (RFC 9126 §2.2, §4). Both are stored
 * once, then taken at most once by their owner before they expire; only the table, the key and the owner
 * column differ, so one store serves both. An interaction's owner is a login session, which is read with
 * it: created with the consent page's read of the session and consumed only while that session is active
 * (one round trip each on PostgreSQL).
 */
import { toInteraction, toPushedRequest, type Row } from '../rows.ts';
import type { SqlDriver, SqlStep, SqlTransaction } from '../sql/driver.ts';
import {
  ACTIVE_SESSION, ACTIVE_SESSION_COLUMNS, ACTIVE_SESSION_JOIN, ACTIVE_SESSION_WITH_SUBJECTS, activeSessionWithSubjectsByName, byAdministeredName, toActiveSession,
  toActiveSessionWithSubjects,
} from './login-sessions.ts';
import type { InteractionRecord, Storage } from '../storage.ts';
import { auditEventColumns } from './audit.ts';
import { codeForAdministratorValues, createCodeForAdministratorSteps, insertCodeForAdministrator } from './authorization-codes.ts';
import { writtenRowsOf } from '../postgres/written-rows.ts';

/** Where a kind of single-use record lives, and how it maps to and from its row. */
interface SingleUseTable<R> {
  table: string;
  /** The digest that names a record (primary key). */
  key: string;
  /** The column a consumer must match: only the record's owner may take it. */
  owner: string;
  /** The columns `values` fills, in order (`consumed_at` is stored NULL). */
  columns: readonly string[];
  values(record: R): unknown[];
  toRecord(row: Row): R;
}

interface SingleUseStore<R> {
  create(record: R): Promise<void>;
  /** `create` as a step of a transaction. */
  createSteps(tx: SqlTransaction, record: R): SqlStep<void>;
  /**
   * Marks the record used and returns it, only if it exists, belongs to `owner`, has not expired
   * (`now < expiresAt`) and was not used before; otherwise undefined, nothing changed.
   */
  consume(key: string, owner: string, now: number): Promise<R | undefined>;
  /** `consume` as a step of a transaction. */
  consumeSteps(tx: SqlTransaction, key: string, owner: string, now: number): SqlStep<R | undefined>;
}

function createSingleUseStore<R>(db: SqlDriver, spec: SingleUseTable<R>): SingleUseStore<R> {
  // One conditional UPDATE … RETURNING, on both databases: SQLite runs one writer at a time, and on
  // PostgreSQL a concurrent consumer queues on the row lock and re-checks consumed_at against the
  // committed row, so of two consumers exactly one sees consumed_at NULL (also across instances).
  const consume = `UPDATE ${spec.table} SET consumed_at = ?
    WHERE ${spec.key} = ? AND ${spec.owner} = ? AND consumed_at IS NULL AND expires_at > ? RETURNING *`;
  const insert = `INSERT INTO ${spec.table} (${spec.columns.join(', ')}, consumed_at) VALUES (${spec.columns.map(() => '?').join(', ')}, NULL)`;
  return {
    async create(record) {
      await db.run(insert, spec.values(record));
    },
    *createSteps(tx, record) {
      yield* tx.run(insert, spec.values(record));
    },
    async consume(key, owner, now) {
      const row = await db.get(consume, [now, key, owner, now]);
      return row && spec.toRecord(row);
    },
    *consumeSteps(tx, key, owner, now) {
      const row = yield* tx.get(consume, [now, key, owner, now]);
      return row && spec.toRecord(row);
    },
  };
}

/**
 * Consent interactions: taken once, by the login session the consent page was shown in, while that session
 * is active; returned with it (the consent decision's two reads in one, issue 12).
 */
export function createInteractionStore(db: SqlDriver): Storage['interactions'] {
  const spec: SingleUseTable<InteractionRecord> = {
    table: 'interactions', key: 'interaction_digest', owner: 'session_digest', toRecord: toInteraction,
    // request_parameters: JSON text on SQLite, jsonb on PostgreSQL (the text is its input form); toInteraction reads both.
    columns: ['interaction_digest', 'session_digest', 'client_id', 'request_parameters', 'created_at', 'expires_at'],
    values: (i) => [i.interactionDigest, i.sessionDigest, i.clientId, JSON.stringify(i.requestParameters), i.createdAt, i.expiresAt],
  };
  const store = createSingleUseStore(db, spec);
  // PostgreSQL: one statement each (one round trip). The consent page's: the session read with the user's
  // subjects, and the interaction inserted by the same statement when there is one to choose. The decision's:
  // the session joined to the UPDATE, whose row lock on the interaction makes it single use as in
  // createSingleUseStore. SQLite cannot return a joined table's columns from an UPDATE: there the session
  // is read first, in the same transaction of the one writer, as for the consent page.
  const sessionWithSubjectsOrdered = activeSessionWithSubjectsByName(db);
  const createWithSession = `WITH session AS (${ACTIVE_SESSION_WITH_SUBJECTS}),
    stored AS (INSERT INTO interactions (${spec.columns.join(', ')}, consumed_at) SELECT ${spec.columns.map(() => '?').join(', ')}, NULL
      WHERE EXISTS (SELECT 1 FROM session WHERE administered_id IS NOT NULL) RETURNING 1)
    SELECT session.*, EXISTS (SELECT 1 FROM stored) AS interaction_stored FROM session ${byAdministeredName(db, 'administered_name')}`;
  const consumeInSession = (digest: string, session: string, now: string) => `UPDATE interactions i SET consumed_at = ${now} FROM ${ACTIVE_SESSION_JOIN}
    WHERE i.interaction_digest = ${digest} AND i.session_digest = ${session} AND i.consumed_at IS NULL AND i.expires_at > ${now}
      AND s.session_digest = i.session_digest AND s.expires_at > ${now}
    RETURNING i.*, ${ACTIVE_SESSION_COLUMNS}`;
  const consumeWithSession = consumeInSession('$1', '$2', '$3');
  // The same consume, then the code only if it took the interaction, the session's user is the code's and
  // administers its subject, then the code's audit event only with the code (`?` placeholders: the code's
  // insert text is shared with authorizationCodes.create).
  // Parameters: now, interaction, session, now, now (the consume), the code's (codeForAdministratorValues),
  // the code's user again, the audit event's columns.
  const consumeWithSessionAndCode = `WITH consumed AS (${consumeInSession('?::text', '?::text', '?::bigint')}),
      code AS (${insertCodeForAdministrator('postgres', 'FROM consumed')} AND consumed.user_id = ? RETURNING 1),
      audited AS (INSERT INTO audit_events (type, at, actor, client_id, grant_id, details) SELECT ?, ?, ?, ?, ?, ? FROM code)
    SELECT consumed.*, EXISTS (SELECT 1 FROM code) AS code_created FROM consumed`;
  const peekInSession = `SELECT i.*, s.user_id AS session_user_id FROM interactions i JOIN login_sessions s ON s.session_digest = i.session_digest
    WHERE i.interaction_digest = ? AND i.session_digest = ? AND i.consumed_at IS NULL AND i.expires_at > ?`;
  /** SQLite, in the caller's transaction: `consume` (the session is read first; the one writer makes it atomic). */
  function* sqliteConsumeInSessionSteps(tx: SqlTransaction, interactionDigest: string, sessionDigest: string, now: number) {
    const session = yield* tx.get(ACTIVE_SESSION, [sessionDigest, now]);
    if (!session) return undefined;
    const interaction = yield* store.consumeSteps(tx, interactionDigest, sessionDigest, now);
    return interaction && { interaction, session: toActiveSession(session) };
  }
  // PostgreSQL: the interactions this instance stored, for `peek` without a round trip (postgres/written-rows.ts).
  const written = db.dialect === 'postgres' ? writtenRowsOf(db) : undefined;
  return {
    create: store.create,
    async createInSession(interaction, now, subjectType) {
      const values = spec.values(interaction);
      if (db.dialect === 'postgres') {
        const rows = await db.all(createWithSession, [subjectType, interaction.sessionDigest, now, ...values], { name: 'gatehouse_create_interaction_in_session' });
        const session = toActiveSessionWithSubjects(rows, subjectType);
        if (session && rows[0]!.interaction_stored === true) written?.rememberInteraction(interaction, session.userId);
        return session && { ...session, interactionStored: rows[0]!.interaction_stored === true };
      }
      return db.transaction(function* (tx) {
        const session = toActiveSessionWithSubjects(yield* tx.all(sessionWithSubjectsOrdered, [subjectType, interaction.sessionDigest, now]), subjectType);
        if (!session) return undefined;
        const interactionStored = session.administeredSubjects!.length > 0;
        if (interactionStored) yield* store.createSteps(tx, interaction);
        return { ...session, interactionStored };
      });
    },
    async peek(interactionDigest, sessionDigest, now) {
      const remembered = written?.interaction(interactionDigest);
      if (remembered) {
        const { interaction } = remembered;
        return interaction.sessionDigest === sessionDigest && now < interaction.expiresAt ? remembered : undefined;
      }
      const row = await db.get(peekInSession, [interactionDigest, sessionDigest, now]);
      return row && { interaction: toInteraction(row), userId: String(row.session_user_id) };
    },
    async consumeWithCode(interactionDigest, sessionDigest, now, code, auditEvent) {
      written?.forgetInteraction(interactionDigest);
      if (db.dialect === 'postgres') {
        const row = await db.get(consumeWithSessionAndCode, [
          now, interactionDigest, sessionDigest, now, now, ...codeForAdministratorValues(code), code.userId, ...auditEventColumns(auditEvent),
        ], { name: 'gatehouse_consume_interaction_with_code' });
        return row && { interaction: toInteraction(row), session: toActiveSession(row), codeCreated: row.code_created === true };
      }
      return db.transaction(function* (tx) {
        const consumed = yield* sqliteConsumeInSessionSteps(tx, interactionDigest, sessionDigest, now);
        if (!consumed) return undefined;
        const codeCreated = consumed.session.userId === code.userId && (yield* createCodeForAdministratorSteps(tx, code, auditEvent));
        return { ...consumed, codeCreated };
      });
    },
    async consume(interactionDigest, sessionDigest, now) {
      written?.forgetInteraction(interactionDigest);
      if (db.dialect === 'postgres') {
        const row = await db.get(consumeWithSession, [interactionDigest, sessionDigest, now], { name: 'gatehouse_consume_interaction_in_session' });
        return row && { interaction: toInteraction(row), session: toActiveSession(row) };
      }
      return db.transaction((tx) => sqliteConsumeInSessionSteps(tx, interactionDigest, sessionDigest, now));
    },
  };
}

/** Pushed authorization requests: taken once, by the client that pushed them (RFC 9126 §4). */
export function createPushedRequestStore(db: SqlDriver): Storage['pushedRequests'] {
  const store = createSingleUseStore(db, {
    table: 'pushed_requests', key: 'request_uri_digest', owner: 'client_id', toRecord: toPushedRequest,
    columns: ['request_uri_digest', 'client_id', 'request_parameters', 'created_at', 'expires_at'],
    values: (p) => [p.requestUriDigest, p.clientId, JSON.stringify(p.requestParameters), p.createdAt, p.expiresAt],
  });
  return {
    ...store,
    async markReauthenticated(requestUriDigest, clientId, sessionDigest, now) {
      return (await db.run(`UPDATE pushed_requests SET reauthenticated_session_digest = ?
        WHERE request_uri_digest = ? AND client_id = ? AND consumed_at IS NULL AND expires_at > ?`, [sessionDigest, requestUriDigest, clientId, now])).changes > 0;
    },
  };
}
