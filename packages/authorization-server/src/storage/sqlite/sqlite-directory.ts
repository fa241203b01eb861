/**
 * The directory store (storage.ts `DirectoryStore`) on SQLite. Every multi-statement step is one
 * `BEGIN IMMEDIATE` transaction, written synchronously: node:sqlite has one connection per storage, so
 * nothing else may run between the statements of a transaction. An import batch is one transaction with
 * a SAVEPOINT per record: a refused record is rolled back alone.
 */
import type { SQLInputValue } from 'node:sqlite';
import { deletedUserEmail, toDirectorySubject, toDirectoryUser } from '../rows.ts';
import type { AuditEvent, GrantRevocationEffects, DirectoryImportRecord, DirectoryStore, DirectoryUpsertOutcome, MembershipRecord, SubjectType } from '../storage.ts';

type Row = Record<string, SQLInputValue>;

/** What the SQLite storage shares with its directory: statement helpers and the grant revocation it uses elsewhere. */
export interface SqliteDirectoryDriver {
  get(text: string, ...params: SQLInputValue[]): Row | undefined;
  all(text: string, ...params: SQLInputValue[]): Row[];
  run(text: string, ...params: SQLInputValue[]): { changes: number | bigint };
  exec(text: string): void;
  transaction<T>(work: () => T): T;
  revokeGrant(grantId: string, now: number, reason: string, effects?: GrantRevocationEffects): boolean;
  insertAuditEvent(event: AuditEvent): void;
}

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

export function createSqliteDirectory(db: SqliteDirectoryDriver): DirectoryStore {
  const { get, all, run } = db;
  const liveUser = (userId: string) => get('SELECT * FROM users WHERE user_id = ? AND deleted_at IS NULL', userId);
  /** The live user holding the e-mail (case-insensitively: the column is NOCASE), other than `exceptUserId`. */
  const emailHolder = (email: string, exceptUserId: string) =>
    get('SELECT user_id FROM users WHERE email = ? AND deleted_at IS NULL AND user_id <> ?', email, exceptUserId);
  const subjectRow = (subjectType: SubjectType, subjectId: string) =>
    get('SELECT * FROM subjects WHERE subject_type = ? AND subject_id = ?', subjectType, subjectId);
  const organizationExists = (organizationId: string) => subjectRow('organization', organizationId) !== undefined;
  const memberships = (userId: string): MembershipRecord[] =>
    all('SELECT subject_type, subject_id FROM subject_administrators WHERE user_id = ? ORDER BY subject_type, subject_id', userId)
      .map((row) => ({ subjectType: row.subject_type as SubjectType, subjectId: String(row.subject_id) }));
  /** Marks unredeemed codes consumed and replayed, so redeeming one is `invalid_grant` (storage.ts DirectoryStore). */
  const voidCodes = (where: string, now: number, ...params: SQLInputValue[]) =>
    run(`UPDATE authorization_codes SET consumed_at = COALESCE(consumed_at, ?), replayed_at = COALESCE(replayed_at, ?) WHERE grant_id IS NULL AND ${where}`, now, now, ...params);

  const upsertSubject = (record: Extract<DirectoryImportRecord, { kind: 'subject' }>['subject'], now: number, actor: string): DirectoryUpsertOutcome => {
    if (record.organizationId !== null && !organizationExists(record.organizationId)) throw new Refusal('organization_id', 'no organization has this id');
    const existing = subjectRow(record.subjectType, record.subjectId);
    const type = `directory.${record.subjectType}`;
    if (!existing) {
      run('INSERT INTO subjects (subject_type, subject_id, name, organization_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
        record.subjectType, record.subjectId, record.name, record.organizationId, now, now);
      db.insertAuditEvent({ type: `${type}.created`, at: now, actor, details: { id: record.subjectId } });
      return { outcome: 'created' };
    }
    const changed = [
      ...(String(existing.name) !== record.name ? ['name'] : []),
      ...((existing.organization_id ?? null) !== record.organizationId ? ['organization_id'] : []),
    ];
    if (changed.length === 0) return { outcome: 'unchanged' };
    run('UPDATE subjects SET name = ?, organization_id = ?, updated_at = ? WHERE subject_type = ? AND subject_id = ?',
      record.name, record.organizationId, now, record.subjectType, record.subjectId);
    db.insertAuditEvent({ type: `${type}.updated`, at: now, actor, details: { id: record.subjectId, fields: changed.join(',') } });
    return { outcome: 'updated' };
  };

  const upsertUser = (record: Extract<DirectoryImportRecord, { kind: 'user' }>, now: number, actor: string): DirectoryUpsertOutcome => {
    const { user } = record;
    const existing = get('SELECT * FROM users WHERE user_id = ?', user.userId);
    if (existing && existing.deleted_at !== null) throw new Refusal('id', 'this user was deleted; a deleted user\'s id is never reused');
    if (emailHolder(user.email, user.userId)) throw new Refusal('email', 'another user has this e-mail address');
    for (const membership of record.administers ?? []) {
      if (!subjectRow(membership.subjectType, membership.subjectId)) throw new Refusal('administers', `no ${membership.subjectType} has the id ${membership.subjectId}`);
    }
    const current = existing ? memberships(user.userId) : [];
    const key = (membership: MembershipRecord) => `${membership.subjectType}:${membership.subjectId}`;
    const wanted = new Map((record.administers ?? current).map((membership) => [key(membership), membership]));
    const held = new Set(current.map(key));
    const added = [...wanted.values()].filter((membership) => !held.has(key(membership)));
    const removed = current.filter((membership) => !wanted.has(key(membership)));
    if (!existing) {
      run('INSERT INTO users (user_id, email, name, password_hash, locale, created_at, updated_at) VALUES (?, ?, ?, NULL, ?, ?, ?)',
        user.userId, user.email, user.name, user.locale, now, now);
    } else {
      const changed = [
        ...(String(existing.email) !== user.email ? ['email'] : []),
        ...(String(existing.name) !== user.name ? ['name'] : []),
        ...((existing.locale ?? null) !== user.locale ? ['locale'] : []),
      ];
      if (changed.length === 0 && added.length === 0 && removed.length === 0) return { outcome: 'unchanged' };
      run('UPDATE users SET email = ?, name = ?, locale = ?, updated_at = ? WHERE user_id = ?', user.email, user.name, user.locale, now, user.userId);
      db.insertAuditEvent({ type: 'directory.user.updated', at: now, actor, details: { id: user.userId, fields: changed.join(','), memberships_added: added.length, memberships_removed: removed.length } });
    }
    for (const membership of added) {
      run('INSERT INTO subject_administrators (user_id, subject_type, subject_id) VALUES (?, ?, ?)', user.userId, membership.subjectType, membership.subjectId);
    }
    for (const membership of removed) {
      run('DELETE FROM subject_administrators WHERE user_id = ? AND subject_type = ? AND subject_id = ?', user.userId, membership.subjectType, membership.subjectId);
    }
    if (!existing) db.insertAuditEvent({ type: 'directory.user.created', at: now, actor, details: { id: user.userId, memberships_added: added.length } });
    return { outcome: existing ? 'updated' : 'created' };
  };

  return {
    async createUser(user) {
      return db.transaction(() => {
        if (get('SELECT 1 AS found FROM users WHERE user_id = ?', user.userId)) return 'duplicate_id' as const;
        if (emailHolder(user.email, user.userId)) return 'duplicate_email' as const;
        run('INSERT INTO users (user_id, email, name, password_hash, locale, created_at, updated_at) VALUES (?, ?, ?, NULL, ?, ?, ?)',
          user.userId, user.email, user.name, user.locale, user.createdAt, user.updatedAt);
        return 'created' as const;
      });
    },
    async findUser(userId) {
      const row = liveUser(userId);
      return row && toDirectoryUser(row);
    },
    async listUsers(filter, page) {
      const where = ['deleted_at IS NULL'];
      const params: SQLInputValue[] = [];
      if (filter.email !== undefined) { where.push('email = ?'); params.push(filter.email); }
      if (page.afterId !== undefined) { where.push('user_id > ?'); params.push(page.afterId); }
      return all(`SELECT * FROM users WHERE ${where.join(' AND ')} ORDER BY user_id LIMIT ?`, ...params, page.limit).map(toDirectoryUser);
    },
    async updateUser(userId, changes, now) {
      return db.transaction(() => {
        const row = liveUser(userId);
        if (!row) return 'not_found' as const;
        const next = { ...toDirectoryUser(row), ...definedOnly(changes) };
        if (changes.email !== undefined && emailHolder(changes.email, userId)) return 'duplicate_email' as const;
        const before = toDirectoryUser(row);
        if (next.email === before.email && next.name === before.name && next.locale === before.locale) return before;
        run('UPDATE users SET email = ?, name = ?, locale = ?, updated_at = ? WHERE user_id = ?', next.email, next.name, next.locale, now, userId);
        return { ...next, updatedAt: now };
      });
    },
    async deleteUser(userId, now) {
      return db.transaction(() => {
        if (!liveUser(userId)) return undefined;
        run('UPDATE users SET deleted_at = ?, updated_at = ?, password_hash = NULL, email = ? WHERE user_id = ?', now, now, deletedUserEmail(userId), userId);
        const loginSessionsEnded = Number(run('DELETE FROM login_sessions WHERE user_id = ?', userId).changes);
        const membershipsRemoved = Number(run('DELETE FROM subject_administrators WHERE user_id = ?', userId).changes);
        run('DELETE FROM partner_developers WHERE user_id = ?', userId);
        voidCodes('user_id = ?', now, userId);
        return { loginSessionsEnded, membershipsRemoved };
      });
    },
    async createSubject(subject) {
      return db.transaction(() => {
        if (subjectRow(subject.subjectType, subject.subjectId)) return 'duplicate_id' as const;
        if (subject.organizationId !== null && !organizationExists(subject.organizationId)) return 'unknown_organization' as const;
        run('INSERT INTO subjects (subject_type, subject_id, name, organization_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
          subject.subjectType, subject.subjectId, subject.name, subject.organizationId, subject.createdAt, subject.updatedAt);
        return 'created' as const;
      });
    },
    async findSubject(subjectType, subjectId) {
      const row = subjectRow(subjectType, subjectId);
      return row && toDirectorySubject(row);
    },
    async listSubjects(subjectType, filter, page) {
      const where = ['subject_type = ?'];
      const params: SQLInputValue[] = [subjectType];
      if (filter.organizationId !== undefined) { where.push('organization_id = ?'); params.push(filter.organizationId); }
      if (page.afterId !== undefined) { where.push('subject_id > ?'); params.push(page.afterId); }
      return all(`SELECT * FROM subjects WHERE ${where.join(' AND ')} ORDER BY subject_id LIMIT ?`, ...params, page.limit).map(toDirectorySubject);
    },
    async updateSubject(subjectType, subjectId, changes, now) {
      return db.transaction(() => {
        const row = subjectRow(subjectType, subjectId);
        if (!row) return 'not_found' as const;
        const before = toDirectorySubject(row);
        const next = { ...before, ...definedOnly(changes) };
        if (next.organizationId !== before.organizationId && next.organizationId !== null && !organizationExists(next.organizationId)) return 'unknown_organization' as const;
        if (next.name === before.name && next.organizationId === before.organizationId) return before;
        run('UPDATE subjects SET name = ?, organization_id = ?, updated_at = ? WHERE subject_type = ? AND subject_id = ?',
          next.name, next.organizationId, now, subjectType, subjectId);
        return { ...next, updatedAt: now };
      });
    },
    async deleteSubject(subjectType, subjectId, now, reason, effects) {
      return db.transaction(() => {
        if (!subjectRow(subjectType, subjectId)) return { outcome: 'not_found' as const };
        if (subjectType === 'organization' && get("SELECT 1 AS found FROM subjects WHERE subject_type = 'company' AND organization_id = ? LIMIT 1", subjectId)) {
          return { outcome: 'has_companies' as const };
        }
        let grantsRevoked = 0;
        for (const grant of all('SELECT grant_id FROM grants WHERE subject_type = ? AND subject_id = ? AND revoked_at IS NULL', subjectType, subjectId)) {
          if (db.revokeGrant(String(grant.grant_id), now, reason, { webhookDelivery: effects?.webhookDelivery })) grantsRevoked += 1;
        }
        run('DELETE FROM subject_administrators WHERE subject_type = ? AND subject_id = ?', subjectType, subjectId);
        voidCodes('subject_type = ? AND subject_id = ?', now, subjectType, subjectId);
        run('DELETE FROM subjects WHERE subject_type = ? AND subject_id = ?', subjectType, subjectId);
        return { outcome: 'deleted' as const, grantsRevoked };
      });
    },
    async listMemberships(userId) {
      return memberships(userId);
    },
    async putMembership(userId, membership) {
      return db.transaction(() => {
        if (!liveUser(userId)) return 'unknown_user' as const;
        if (!subjectRow(membership.subjectType, membership.subjectId)) return 'unknown_subject' as const;
        const inserted = run('INSERT OR IGNORE INTO subject_administrators (user_id, subject_type, subject_id) VALUES (?, ?, ?)', userId, membership.subjectType, membership.subjectId);
        return Number(inserted.changes) > 0 ? 'added' as const : 'unchanged' as const;
      });
    },
    async deleteMembership(userId, membership) {
      const deleted = run('DELETE FROM subject_administrators WHERE user_id = ? AND subject_type = ? AND subject_id = ?', userId, membership.subjectType, membership.subjectId);
      return Number(deleted.changes) > 0;
    },
    async importBatch(records, now, actor, options = {}) {
      return db.transaction(() => {
        if (options.dryRun) db.exec('SAVEPOINT directory_dry_run');
        const outcomes = records.map((record): DirectoryUpsertOutcome => {
          run('SAVEPOINT directory_record');
          try {
            const outcome = record.kind === 'subject' ? upsertSubject(record.subject, now, actor) : upsertUser(record, now, actor);
            run('RELEASE directory_record');
            return outcome;
          } catch (error) {
            run('ROLLBACK TO directory_record');
            run('RELEASE directory_record');
            if (error instanceof Refusal) return { outcome: 'refused', field: error.field, reason: error.reason };
            throw error;
          }
        });
        if (options.dryRun) db.exec('ROLLBACK TO directory_dry_run; RELEASE directory_dry_run');
        return outcomes;
      });
    },
  };
}

function definedOnly<T extends object>(changes: T): Partial<T> {
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined)) as Partial<T>;
}
