/**
 * The directory store (storage.ts `DirectoryStore`, issue 10), written once for both databases over the
 * SQL driver (issue 12). Every multi-statement step is one transaction (SQLite: one writer at a time;
 * PostgreSQL: the rows it decides on are locked `FOR UPDATE`/`FOR SHARE`, as the hand-written version
 * did). Uniqueness (ids, live e-mails) is checked first and enforced by the schema: on PostgreSQL a
 * concurrent writer that wins the race turns the loser's insert into `duplicate_*` (or a refusal in an
 * import), never a 500. An import batch is one transaction with a SAVEPOINT per record, so a refused
 * record is rolled back alone; a dry run computes the same outcomes and rolls the transaction back.
 */
import { deletedUserEmail, toDirectorySubject, toDirectoryUser } from '../rows.ts';
import type { SqlDialect, SqlDriver, SqlRow, SqlStep, SqlTransaction } from '../sql/driver.ts';
import type { DirectoryImportRecord, DirectoryStore, DirectoryUpsertOutcome, MembershipRecord, SubjectType } from '../storage.ts';
import { insertAuditEventSteps } from './audit.ts';
import { revokeGrantSteps } from './grant-revocation.ts';
import { EMAIL_MATCH, emailKey, emailParameter, LIVE_USER } from './users.ts';

/** A refusal inside a record's savepoint: rolls the record back and becomes its outcome. */
class Refusal extends Error {
  readonly field: string;
  readonly reason: string;
  constructor(field: string, reason: string) {
    super(reason);
    this.field = field;
    this.reason = reason;
  }
}

/** Ends a dry run's transaction by rolling it back (the driver rolls back on a throw), carrying its outcomes out. */
class DryRunRollback extends Error {
  readonly outcomes: DirectoryUpsertOutcome[];
  constructor(outcomes: DirectoryUpsertOutcome[]) {
    super('directory import dry run');
    this.outcomes = outcomes;
  }
}

/** PostgreSQL's unique_violation (SQLite serializes writers, so the checks before an insert already decided). */
const isUniqueViolation = (error: unknown): error is { code: string; constraint?: string } => (error as { code?: string } | null)?.code === '23505';
/** PostgreSQL's unique index on the e-mail (lower(email), version 1). */
const isEmailConstraint = (constraint: string | undefined) => constraint === 'users_email_lower';

const SUBJECT = 'SELECT * FROM subjects WHERE subject_type = ? AND subject_id = ?';
const MEMBERSHIPS = 'SELECT subject_type, subject_id FROM subject_administrators WHERE user_id = ? ORDER BY subject_type, subject_id';
const INSERT_USER = 'INSERT INTO users (user_id, email, email_key, name, password_hash, locale, created_at, updated_at) VALUES (?, ?, ?, ?, NULL, ?, ?, ?)';
const UPDATE_USER = 'UPDATE users SET email = ?, email_key = ?, name = ?, locale = ?, updated_at = ? WHERE user_id = ?';
const VOID_PASSWORD_LINKS = 'UPDATE password_tokens SET used_at = ? WHERE user_id = ? AND used_at IS NULL';
const INSERT_SUBJECT = 'INSERT INTO subjects (subject_type, subject_id, name, organization_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)';
const UPDATE_SUBJECT = 'UPDATE subjects SET name = ?, organization_id = ?, updated_at = ? WHERE subject_type = ? AND subject_id = ?';

/**
 * The statements whose text differs by dialect, built once (the import runs them for every record).
 * PostgreSQL takes the row locks the hand-written version took; on SQLite the transaction's writer lock
 * covers them. E-mails compare case-insensitively as users.ts `EMAIL_MATCH` says: PostgreSQL by lower(),
 * SQLite by `email_key` (migration 43), each unique.
 */
function dialectSql(dialect: SqlDialect) {
  const forUpdate = dialect === 'postgres' ? ' FOR UPDATE' : '';
  const forShare = dialect === 'postgres' ? ' FOR SHARE' : '';
  const emailMatches = EMAIL_MATCH[dialect];
  return {
    emailMatches,
    emailHolder: `SELECT user_id FROM users WHERE ${emailMatches} AND deleted_at IS NULL AND user_id <> ?`,
    userForUpdate: `SELECT * FROM users WHERE user_id = ?${forUpdate}`,
    liveUserForUpdate: LIVE_USER + forUpdate,
    liveUserIdForUpdate: `SELECT user_id FROM users WHERE user_id = ? AND deleted_at IS NULL${forUpdate}`,
    liveUserForShare: `SELECT 1 AS found FROM users WHERE user_id = ? AND deleted_at IS NULL${forShare}`,
    subjectForUpdate: SUBJECT + forUpdate,
    subjectFoundForUpdate: `SELECT 1 AS found FROM subjects WHERE subject_type = ? AND subject_id = ?${forUpdate}`,
    subjectFoundForShare: `SELECT 1 AS found FROM subjects WHERE subject_type = ? AND subject_id = ?${forShare}`,
  };
}
const DIALECT_SQL = { sqlite: dialectSql('sqlite'), postgres: dialectSql('postgres') };

const toMembership = (row: SqlRow): MembershipRecord => ({ subjectType: row.subject_type as SubjectType, subjectId: String(row.subject_id) });
const membershipKey = (membership: MembershipRecord) => `${membership.subjectType}:${membership.subjectId}`;

/** The live user holding the e-mail (case-insensitively), other than `exceptUserId`. */
function emailHolder(tx: SqlTransaction, email: string, exceptUserId: string): SqlStep<SqlRow | undefined> {
  return tx.get(DIALECT_SQL[tx.dialect].emailHolder, [emailParameter(tx.dialect, email), exceptUserId]);
}

function* organizationExists(tx: SqlTransaction, organizationId: string): SqlStep<boolean> {
  return (yield* tx.get(SUBJECT, ['organization', organizationId])) !== undefined;
}

/** Marks unredeemed codes consumed and replayed, so redeeming one is `invalid_grant` (storage.ts DirectoryStore). */
export function voidCodes(tx: SqlTransaction, where: string, now: number, params: unknown[]) {
  return tx.run(`UPDATE authorization_codes SET consumed_at = COALESCE(consumed_at, ?), replayed_at = COALESCE(replayed_at, ?) WHERE grant_id IS NULL AND ${where}`, [now, now, ...params]);
}

/**
 * A new e-mail address (not a change of case: the same address by the e-mail key) ends everything whoever held the
 * old one (a mistyped address, the mailbox of someone who left) may have got from it, in the change's transaction:
 * - the unused set-password links (invitation, reset), each mailed to, or handed out for, the old address;
 * - the local password and the second factor: a local password is set only through such a link (the development seed
 *   aside), so it proves the old address, not the new one; the factor goes with it, or the new address's owner, once
 *   their own link set a password, would be stopped at a second step only the old holder can answer;
 * - every login session, every sign-in waiting at its second step, and the codes obtained but not redeemed.
 * The new address's owner signs in through the identity provider, or sets a password through a new invitation or a
 * reset link mailed to the new address. Memberships and grants stay: they are the directory's and the subjects'.
 */
function* endOldAddressAccess(tx: SqlTransaction, userId: string, now: number): SqlStep<void> {
  yield* tx.run(VOID_PASSWORD_LINKS, [now, userId]);
  yield* tx.run('UPDATE users SET password_hash = NULL WHERE user_id = ?', [userId]);
  yield* tx.run('DELETE FROM recovery_codes WHERE user_id = ?', [userId]);
  yield* tx.run('DELETE FROM second_factors WHERE user_id = ?', [userId]);
  yield* tx.run('DELETE FROM login_sessions WHERE user_id = ?', [userId]);
  yield* tx.run('DELETE FROM pending_logins WHERE user_id = ?', [userId]);
  yield* voidCodes(tx, 'user_id = ?', now, [userId]);
}

/** Removes one membership and voids its user's unredeemed codes for that subject (storage.ts DirectoryStore). @returns whether there was one. */
function* removeMembership(tx: SqlTransaction, userId: string, membership: MembershipRecord, now: number): SqlStep<boolean> {
  const deleted = yield* tx.run('DELETE FROM subject_administrators WHERE user_id = ? AND subject_type = ? AND subject_id = ?', [userId, membership.subjectType, membership.subjectId]);
  if (deleted.changes === 0) return false;
  yield* voidCodes(tx, 'user_id = ? AND subject_type = ? AND subject_id = ?', now, [userId, membership.subjectType, membership.subjectId]);
  return true;
}

function* upsertSubject(tx: SqlTransaction, given: Extract<DirectoryImportRecord, { kind: 'subject' }>['subject'], now: number, actor: string): SqlStep<DirectoryUpsertOutcome> {
  if (given.organizationId !== undefined && given.organizationId !== null && !(yield* organizationExists(tx, given.organizationId))) throw new Refusal('organization_id', 'no organization has this id');
  const existing = yield* tx.get(DIALECT_SQL[tx.dialect].subjectForUpdate, [given.subjectType, given.subjectId]);
  // An organization_id the record leaves out stays as stored.
  const record = { ...given, organizationId: given.organizationId !== undefined ? given.organizationId : ((existing?.organization_id ?? null) as string | null) };
  const type = `directory.${record.subjectType}`;
  if (!existing) {
    yield* tx.run(INSERT_SUBJECT, [record.subjectType, record.subjectId, record.name, record.organizationId, now, now]);
    yield* insertAuditEventSteps(tx, { type: `${type}.created`, at: now, actor, details: { id: record.subjectId } });
    return { outcome: 'created' };
  }
  const changed = [
    ...(String(existing.name) !== record.name ? ['name'] : []),
    ...((existing.organization_id ?? null) !== record.organizationId ? ['organization_id'] : []),
  ];
  if (changed.length === 0) return { outcome: 'unchanged' };
  yield* tx.run(UPDATE_SUBJECT, [record.name, record.organizationId, now, record.subjectType, record.subjectId]);
  yield* insertAuditEventSteps(tx, { type: `${type}.updated`, at: now, actor, details: { id: record.subjectId, fields: changed.join(',') } });
  return { outcome: 'updated' };
}

function* upsertUser(tx: SqlTransaction, record: Extract<DirectoryImportRecord, { kind: 'user' }>, now: number, actor: string): SqlStep<DirectoryUpsertOutcome> {
  const existing = yield* tx.get(DIALECT_SQL[tx.dialect].userForUpdate, [record.user.userId]);
  // A locale the record leaves out stays as stored.
  const user = { ...record.user, locale: record.user.locale !== undefined ? record.user.locale : ((existing?.locale ?? null) as string | null) };
  if (existing && existing.deleted_at !== null) throw new Refusal('id', 'this user was deleted; a deleted user\'s id is never reused');
  if (yield* emailHolder(tx, user.email, user.userId)) throw new Refusal('email', 'another user has this e-mail address');
  for (const membership of record.administers ?? []) {
    if (!(yield* tx.get(SUBJECT, [membership.subjectType, membership.subjectId]))) throw new Refusal('administers', `no ${membership.subjectType} has the id ${membership.subjectId}`);
  }
  const current = existing ? (yield* tx.all(MEMBERSHIPS, [user.userId])).map(toMembership) : [];
  const wanted = new Map((record.administers ?? current).map((membership) => [membershipKey(membership), membership]));
  const held = new Set(current.map(membershipKey));
  const added = [...wanted.values()].filter((membership) => !held.has(membershipKey(membership)));
  const removed = current.filter((membership) => !wanted.has(membershipKey(membership)));
  if (!existing) {
    yield* tx.run(INSERT_USER, [user.userId, user.email, emailKey(user.email), user.name, user.locale, now, now]);
  } else {
    const changed = [
      ...(String(existing.email) !== user.email ? ['email'] : []),
      ...(String(existing.name) !== user.name ? ['name'] : []),
      ...((existing.locale ?? null) !== user.locale ? ['locale'] : []),
    ];
    if (changed.length === 0 && added.length === 0 && removed.length === 0) return { outcome: 'unchanged' };
    yield* tx.run(UPDATE_USER, [user.email, emailKey(user.email), user.name, user.locale, now, user.userId]);
    if (emailKey(String(existing.email)) !== emailKey(user.email)) yield* endOldAddressAccess(tx, user.userId, now);
    yield* insertAuditEventSteps(tx, { type: 'directory.user.updated', at: now, actor, details: { id: user.userId, fields: changed.join(','), memberships_added: added.length, memberships_removed: removed.length } });
  }
  for (const membership of added) {
    yield* tx.run('INSERT INTO subject_administrators (user_id, subject_type, subject_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [user.userId, membership.subjectType, membership.subjectId]);
  }
  for (const membership of removed) yield* removeMembership(tx, user.userId, membership, now);
  if (!existing) yield* insertAuditEventSteps(tx, { type: 'directory.user.created', at: now, actor, details: { id: user.userId, memberships_added: added.length } });
  return { outcome: existing ? 'updated' : 'created' };
}

/** One import record in its own savepoint: a refusal (or a lost race on PostgreSQL) rolls back only the record. */
function* importRecord(tx: SqlTransaction, record: DirectoryImportRecord, now: number, actor: string): SqlStep<DirectoryUpsertOutcome> {
  yield* tx.run('SAVEPOINT directory_record');
  try {
    const outcome = record.kind === 'subject' ? yield* upsertSubject(tx, record.subject, now, actor) : yield* upsertUser(tx, record, now, actor);
    yield* tx.run('RELEASE SAVEPOINT directory_record');
    return outcome;
  } catch (error) {
    yield* tx.run('ROLLBACK TO SAVEPOINT directory_record');
    yield* tx.run('RELEASE SAVEPOINT directory_record');
    if (error instanceof Refusal) return { outcome: 'refused', field: error.field, reason: error.reason };
    // A concurrent writer took the id or the e-mail between our check and our insert.
    if (isUniqueViolation(error)) {
      return isEmailConstraint(error.constraint)
        ? { outcome: 'refused', field: 'email', reason: 'another user has this e-mail address' }
        : { outcome: 'refused', field: 'id', reason: 'this id was taken meanwhile' };
    }
    throw error;
  }
}

export function createDirectoryStore(db: SqlDriver): DirectoryStore {
  return {
    async createUser(user) {
      try {
        return await db.transaction(function* (tx) {
          if (yield* tx.get('SELECT 1 AS found FROM users WHERE user_id = ?', [user.userId])) return 'duplicate_id' as const;
          if (yield* emailHolder(tx, user.email, user.userId)) return 'duplicate_email' as const;
          yield* tx.run(INSERT_USER, [user.userId, user.email, emailKey(user.email), user.name, user.locale, user.createdAt, user.updatedAt]);
          return 'created' as const;
        });
      } catch (error) {
        if (isUniqueViolation(error)) return isEmailConstraint(error.constraint) ? 'duplicate_email' : 'duplicate_id';
        throw error;
      }
    },
    async findUser(userId) {
      const row = await db.get(LIVE_USER, [userId]);
      return row && toDirectoryUser(row);
    },
    async listUsers(filter, page) {
      const where = ['deleted_at IS NULL'];
      const params: unknown[] = [];
      if (filter.email !== undefined) { where.push(DIALECT_SQL[db.dialect].emailMatches); params.push(emailParameter(db.dialect, filter.email)); }
      if (page.afterId !== undefined) { where.push('user_id > ?'); params.push(page.afterId); }
      return (await db.all(`SELECT * FROM users WHERE ${where.join(' AND ')} ORDER BY user_id LIMIT ?`, [...params, page.limit])).map(toDirectoryUser);
    },
    async updateUser(userId, changes, now) {
      try {
        return await db.transaction(function* (tx) {
          const row = yield* tx.get(DIALECT_SQL[tx.dialect].liveUserForUpdate, [userId]);
          if (!row) return 'not_found' as const;
          const before = toDirectoryUser(row);
          const next = { ...before, ...definedOnly(changes) };
          if (changes.email !== undefined && (yield* emailHolder(tx, changes.email, userId))) return 'duplicate_email' as const;
          if (next.email === before.email && next.name === before.name && next.locale === before.locale) return before;
          yield* tx.run(UPDATE_USER, [next.email, emailKey(next.email), next.name, next.locale, now, userId]);
          if (emailKey(next.email) !== emailKey(before.email)) yield* endOldAddressAccess(tx, userId, now);
          return { ...next, updatedAt: now };
        });
      } catch (error) {
        if (isUniqueViolation(error)) return 'duplicate_email';
        throw error;
      }
    },
    async deleteUser(userId, now) {
      return db.transaction(function* (tx) {
        if (!(yield* tx.get(DIALECT_SQL[tx.dialect].liveUserIdForUpdate, [userId]))) return undefined;
        yield* tx.run('UPDATE users SET deleted_at = ?, updated_at = ?, password_hash = NULL, email = ?, email_key = ? WHERE user_id = ?', [now, now, deletedUserEmail(userId), emailKey(deletedUserEmail(userId)), userId]);
        const loginSessionsEnded = (yield* tx.run('DELETE FROM login_sessions WHERE user_id = ?', [userId])).changes;
        // A two-step sign-in under way would otherwise still answer its code with a (useless) session.
        yield* tx.run('DELETE FROM pending_logins WHERE user_id = ?', [userId]);
        const membershipsRemoved = (yield* tx.run('DELETE FROM subject_administrators WHERE user_id = ?', [userId])).changes;
        yield* tx.run('DELETE FROM partner_developers WHERE user_id = ?', [userId]);
        yield* voidCodes(tx, 'user_id = ?', now, [userId]);
        return { loginSessionsEnded, membershipsRemoved };
      });
    },
    async createSubject(subject) {
      try {
        return await db.transaction(function* (tx) {
          if (yield* tx.get(SUBJECT, [subject.subjectType, subject.subjectId])) return 'duplicate_id' as const;
          if (subject.organizationId !== null && !(yield* organizationExists(tx, subject.organizationId))) return 'unknown_organization' as const;
          yield* tx.run(INSERT_SUBJECT, [subject.subjectType, subject.subjectId, subject.name, subject.organizationId, subject.createdAt, subject.updatedAt]);
          return 'created' as const;
        });
      } catch (error) {
        if (isUniqueViolation(error)) return 'duplicate_id';
        throw error;
      }
    },
    async findSubject(subjectType, subjectId) {
      const row = await db.get(SUBJECT, [subjectType, subjectId]);
      return row && toDirectorySubject(row);
    },
    async listSubjects(subjectType, filter, page) {
      const where = ['subject_type = ?'];
      const params: unknown[] = [subjectType];
      if (filter.organizationId !== undefined) { where.push('organization_id = ?'); params.push(filter.organizationId); }
      if (page.afterId !== undefined) { where.push('subject_id > ?'); params.push(page.afterId); }
      return (await db.all(`SELECT * FROM subjects WHERE ${where.join(' AND ')} ORDER BY subject_id LIMIT ?`, [...params, page.limit])).map(toDirectorySubject);
    },
    async updateSubject(subjectType, subjectId, changes, now) {
      return db.transaction(function* (tx) {
        const row = yield* tx.get(DIALECT_SQL[tx.dialect].subjectForUpdate, [subjectType, subjectId]);
        if (!row) return 'not_found' as const;
        const before = toDirectorySubject(row);
        const next = { ...before, ...definedOnly(changes) };
        if (next.organizationId !== before.organizationId && next.organizationId !== null && !(yield* organizationExists(tx, next.organizationId))) {
          return 'unknown_organization' as const;
        }
        if (next.name === before.name && next.organizationId === before.organizationId) return before;
        yield* tx.run(UPDATE_SUBJECT, [next.name, next.organizationId, now, subjectType, subjectId]);
        return { ...next, updatedAt: now };
      });
    },
    async deleteSubject(subjectType, subjectId, now, reason, effects) {
      return db.transaction(function* (tx) {
        if (!(yield* tx.get(DIALECT_SQL[tx.dialect].subjectFoundForUpdate, [subjectType, subjectId]))) {
          return { outcome: 'not_found' as const };
        }
        if (subjectType === 'organization' && (yield* tx.get("SELECT 1 AS found FROM subjects WHERE subject_type = 'company' AND organization_id = ? LIMIT 1", [subjectId]))) {
          return { outcome: 'has_companies' as const };
        }
        // Memberships and unredeemed codes first (the order a consent and a redemption lock them in): on PostgreSQL
        // the void waits for a redemption in flight (it holds its code's row) and then skips its code, which has a
        // grant; the grants read after it (a statement of its own, READ COMMITTED) sees that grant, which a read
        // before it missed: it outlived the company.
        yield* tx.run('DELETE FROM subject_administrators WHERE subject_type = ? AND subject_id = ?', [subjectType, subjectId]);
        yield* voidCodes(tx, 'subject_type = ? AND subject_id = ?', now, [subjectType, subjectId]);
        let grantsRevoked = 0;
        // By id: the order PostgreSQL takes the grant rows' locks in everywhere.
        const grants = yield* tx.all('SELECT grant_id FROM grants WHERE subject_type = ? AND subject_id = ? AND revoked_at IS NULL ORDER BY grant_id', [subjectType, subjectId]);
        for (const grant of grants) {
          if (yield* revokeGrantSteps(tx, String(grant.grant_id), now, reason, { webhookDelivery: effects?.webhookDelivery })) grantsRevoked += 1;
        }
        // An API key reads its subject's data (issue 16): it ends with the subject, or it would keep reading
        // nothing and, were the id created again, another company's data.
        const apiKeysRevoked = (yield* tx.run("UPDATE api_keys SET revoked_at = ?, revocation_reason = 'revoked' WHERE subject_type = ? AND subject_id = ? AND revoked_at IS NULL",
          [now, subjectType, subjectId])).changes;
        yield* tx.run('DELETE FROM subjects WHERE subject_type = ? AND subject_id = ?', [subjectType, subjectId]);
        return { outcome: 'deleted' as const, grantsRevoked, apiKeysRevoked };
      });
    },
    async listMemberships(userId) {
      return (await db.all(MEMBERSHIPS, [userId])).map(toMembership);
    },
    async putMembership(userId, membership) {
      return db.transaction(function* (tx) {
        if (!(yield* tx.get(DIALECT_SQL[tx.dialect].liveUserForShare, [userId]))) return 'unknown_user' as const;
        if (!(yield* tx.get(DIALECT_SQL[tx.dialect].subjectFoundForShare, [membership.subjectType, membership.subjectId]))) {
          return 'unknown_subject' as const;
        }
        const inserted = yield* tx.run('INSERT INTO subject_administrators (user_id, subject_type, subject_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
          [userId, membership.subjectType, membership.subjectId]);
        return inserted.changes > 0 ? 'added' as const : 'unchanged' as const;
      });
    },
    async deleteMembership(userId, membership, now) {
      return db.transaction((tx) => removeMembership(tx, userId, membership, now));
    },
    async importBatch(records, now, actor, options = {}) {
      try {
        return await db.transaction(function* (tx) {
          const outcomes: DirectoryUpsertOutcome[] = [];
          for (const record of records) outcomes.push(yield* importRecord(tx, record, now, actor));
          // A dry run: the same outcomes, then the driver rolls the whole transaction back.
          if (options.dryRun) throw new DryRunRollback(outcomes);
          return outcomes;
        });
      } catch (error) {
        if (error instanceof DryRunRollback) return error.outcomes;
        throw error;
      }
    },
  };
}

function definedOnly<T extends object>(changes: T): Partial<T> {
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined)) as Partial<T>;
}
