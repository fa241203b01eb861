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
  const consumeWithSession = `UPDATE interactions i SET consumed_at = $3 FROM ${ACTIVE_SESSION_JOIN}
    WHERE i.interaction_digest = $1 AND i.session_digest = $2 AND i.consumed_at IS NULL AND i.expires_at > $3
      AND s.session_digest = i.session_digest AND s.expires_at > $3
    RETURNING i.*, ${ACTIVE_SESSION_COLUMNS}`;
  return {
    create: store.create,
    async createInSession(interaction, now, subjectType) {
      const values = spec.values(interaction);
      if (db.dialect === 'postgres') {
        const rows = await db.all(createWithSession, [subjectType, interaction.sessionDigest, now, ...values], { name: 'gatehouse_create_interaction_in_session' });
        const session = toActiveSessionWithSubjects(rows, subjectType);
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
    async consume(interactionDigest, sessionDigest, now) {
      if (db.dialect === 'postgres') {
        const row = await db.get(consumeWithSession, [interactionDigest, sessionDigest, now], { name: 'gatehouse_consume_interaction_in_session' });
        return row && { interaction: toInteraction(row), session: toActiveSession(row) };
      }
      return db.transaction(function* (tx) {
        const session = yield* tx.get(ACTIVE_SESSION, [sessionDigest, now]);
        if (!session) return undefined;
        const interaction = yield* store.consumeSteps(tx, interactionDigest, sessionDigest, now);
        return interaction && { interaction, session: toActiveSession(session) };
      });
    },
  };
}

/** Pushed authorization requests: taken once, by the client that pushed them (RFC 9126 §4). */
export function createPushedRequestStore(db: SqlDriver): Storage['pushedRequests'] {
  return createSingleUseStore(db, {
    table: 'pushed_requests', key: 'request_uri_digest', owner: 'client_id', toRecord: toPushedRequest,
    columns: ['request_uri_digest', 'client_id', 'request_parameters', 'created_at', 'expires_at'],
    values: (p) => [p.requestUriDigest, p.clientId, JSON.stringify(p.requestParameters), p.createdAt, p.expiresAt],
  });
}
