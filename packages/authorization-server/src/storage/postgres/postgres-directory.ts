/**
 * The directory store (storage.ts `DirectoryStore`) on PostgreSQL. Multi-statement steps are short
 * transactions; an import batch is one transaction with a SAVEPOINT per record, so a refused record is
 * rolled back alone. Uniqueness (ids, live e-mails) is checked first and enforced by the primary key and
 * the unique index `users_email_lower`: a concurrent writer that wins the race turns the loser's
 * insert into `duplicate_*` (or a refusal in an import), never a 500.
 */
import type { PoolClient, QueryResultRow } from 'pg';
import { deletedUserEmail, toDirectorySubject, toDirectoryUser } from '../rows.ts';
import type { AuditEvent, GrantRevocationEffects, DirectoryImportRecord, DirectoryStore, DirectoryUpsertOutcome, MembershipRecord, SubjectType } from '../storage.ts';

type Row = QueryResultRow;
type Query = (text: string, params?: unknown[]) => Promise<{ rows: Row[]; rowCount: number | null }>;

/** What the PostgreSQL storage shares with its directory. */
export interface PostgresDirectoryDriver {
  query: Query;
  transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T>;
  /** Revokes a grant and its tokens on `client` (inside the caller's transaction); false when it was already revoked. */
  revokeGrant(client: PoolClient, grantId: string, now: number, reason: string, effects?: GrantRevocationEffects): Promise<boolean>;
  insertAuditEvent(client: PoolClient, event: AuditEvent): Promise<void>;
}

class Refusal extends Error {
  readonly field: string;
  readonly reason: string;
  constructor(field: string, reason: string) {
    super(reason);
    this.field = field;
    this.reason = reason;
  }
}

const isUniqueViolation = (error: unknown): error is { code: string; constraint?: string } => (error as { code?: string }).code === '23505';

export function createPostgresDirectory(db: PostgresDirectoryDriver): DirectoryStore {
  const on = (client: PoolClient | undefined): Query => (client ? (text, params) => client.query(text, params) : db.query);
  const one = async (client: PoolClient | undefined, text: string, params: unknown[]) => (await on(client)(text, params)).rows[0];
  const liveUser = (client: PoolClient | undefined, userId: string) => one(client, 'SELECT * FROM users WHERE user_id = $1 AND deleted_at IS NULL', [userId]);
  const emailHolder = (client: PoolClient, email: string, exceptUserId: string) =>
    one(client, 'SELECT user_id FROM users WHERE lower(email) = lower($1) AND deleted_at IS NULL AND user_id <> $2', [email, exceptUserId]);
  const subjectRow = (client: PoolClient | undefined, subjectType: SubjectType, subjectId: string) =>
    one(client, 'SELECT * FROM subjects WHERE subject_type = $1 AND subject_id = $2', [subjectType, subjectId]);
  const organizationExists = async (client: PoolClient, organizationId: string) => (await subjectRow(client, 'organization', organizationId)) !== undefined;
  const memberships = async (client: PoolClient | undefined, userId: string): Promise<MembershipRecord[]> =>
    (await on(client)('SELECT subject_type, subject_id FROM subject_administrators WHERE user_id = $1 ORDER BY subject_type, subject_id', [userId]))
      .rows.map((row) => ({ subjectType: row.subject_type as SubjectType, subjectId: String(row.subject_id) }));
  /** Marks unredeemed codes consumed and replayed, so redeeming one is `invalid_grant`. */
  const voidCodes = (client: PoolClient, where: string, now: number, params: unknown[]) =>
    client.query(`UPDATE authorization_codes SET consumed_at = COALESCE(consumed_at, $1), replayed_at = COALESCE(replayed_at, $1) WHERE grant_id IS NULL AND ${where}`, [now, ...params]);

  const upsertSubject = async (client: PoolClient, record: Extract<DirectoryImportRecord, { kind: 'subject' }>['subject'], now: number, actor: string): Promise<DirectoryUpsertOutcome> => {
    if (record.organizationId !== null && !(await organizationExists(client, record.organizationId))) throw new Refusal('organization_id', 'no organization has this id');
    const existing = await one(client, 'SELECT * FROM subjects WHERE subject_type = $1 AND subject_id = $2 FOR UPDATE', [record.subjectType, record.subjectId]);
    const type = `directory.${record.subjectType}`;
    if (!existing) {
      await client.query('INSERT INTO subjects (subject_type, subject_id, name, organization_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)',
        [record.subjectType, record.subjectId, record.name, record.organizationId, now]);
      await db.insertAuditEvent(client, { type: `${type}.created`, at: now, actor, details: { id: record.subjectId } });
      return { outcome: 'created' };
    }
    const changed = [
      ...(String(existing.name) !== record.name ? ['name'] : []),
      ...((existing.organization_id ?? null) !== record.organizationId ? ['organization_id'] : []),
    ];
    if (changed.length === 0) return { outcome: 'unchanged' };
    await client.query('UPDATE subjects SET name = $3, organization_id = $4, updated_at = $5 WHERE subject_type = $1 AND subject_id = $2',
      [record.subjectType, record.subjectId, record.name, record.organizationId, now]);
    await db.insertAuditEvent(client, { type: `${type}.updated`, at: now, actor, details: { id: record.subjectId, fields: changed.join(',') } });
    return { outcome: 'updated' };
  };

  const upsertUser = async (client: PoolClient, record: Extract<DirectoryImportRecord, { kind: 'user' }>, now: number, actor: string): Promise<DirectoryUpsertOutcome> => {
    const { user } = record;
    const existing = await one(client, 'SELECT * FROM users WHERE user_id = $1 FOR UPDATE', [user.userId]);
    if (existing && existing.deleted_at !== null) throw new Refusal('id', 'this user was deleted; a deleted user\'s id is never reused');
    if (await emailHolder(client, user.email, user.userId)) throw new Refusal('email', 'another user has this e-mail address');
    for (const membership of record.administers ?? []) {
      if (!(await subjectRow(client, membership.subjectType, membership.subjectId))) throw new Refusal('administers', `no ${membership.subjectType} has the id ${membership.subjectId}`);
    }
    const current = existing ? await memberships(client, user.userId) : [];
    const key = (membership: MembershipRecord) => `${membership.subjectType}:${membership.subjectId}`;
    const wanted = new Map((record.administers ?? current).map((membership) => [key(membership), membership]));
    const held = new Set(current.map(key));
    const added = [...wanted.values()].filter((membership) => !held.has(key(membership)));
    const removed = current.filter((membership) => !wanted.has(key(membership)));
    if (!existing) {
      await client.query('INSERT INTO users (user_id, email, name, password_hash, locale, created_at, updated_at) VALUES ($1, $2, $3, NULL, $4, $5, $5)',
        [user.userId, user.email, user.name, user.locale, now]);
    } else {
      const changed = [
        ...(String(existing.email) !== user.email ? ['email'] : []),
        ...(String(existing.name) !== user.name ? ['name'] : []),
        ...((existing.locale ?? null) !== user.locale ? ['locale'] : []),
      ];
      if (changed.length === 0 && added.length === 0 && removed.length === 0) return { outcome: 'unchanged' };
      await client.query('UPDATE users SET email = $2, name = $3, locale = $4, updated_at = $5 WHERE user_id = $1', [user.userId, user.email, user.name, user.locale, now]);
      await db.insertAuditEvent(client, { type: 'directory.user.updated', at: now, actor, details: { id: user.userId, fields: changed.join(','), memberships_added: added.length, memberships_removed: removed.length } });
    }
    for (const membership of added) {
      await client.query('INSERT INTO subject_administrators (user_id, subject_type, subject_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [user.userId, membership.subjectType, membership.subjectId]);
    }
    for (const membership of removed) {
      await client.query('DELETE FROM subject_administrators WHERE user_id = $1 AND subject_type = $2 AND subject_id = $3', [user.userId, membership.subjectType, membership.subjectId]);
    }
    if (!existing) await db.insertAuditEvent(client, { type: 'directory.user.created', at: now, actor, details: { id: user.userId, memberships_added: added.length } });
    return { outcome: existing ? 'updated' : 'created' };
  };

  return {
    async createUser(user) {
      try {
        return await db.transaction(async (client) => {
          if (await one(client, 'SELECT 1 AS found FROM users WHERE user_id = $1', [user.userId])) return 'duplicate_id' as const;
          if (await emailHolder(client, user.email, user.userId)) return 'duplicate_email' as const;
          await client.query('INSERT INTO users (user_id, email, name, password_hash, locale, created_at, updated_at) VALUES ($1, $2, $3, NULL, $4, $5, $6)',
            [user.userId, user.email, user.name, user.locale, user.createdAt, user.updatedAt]);
          return 'created' as const;
        });
      } catch (error) {
        if (isUniqueViolation(error)) return error.constraint === 'users_email_lower' ? 'duplicate_email' : 'duplicate_id';
        throw error;
      }
    },
    async findUser(userId) {
      const row = await liveUser(undefined, userId);
      return row && toDirectoryUser(row);
    },
    async listUsers(filter, page) {
      const where = ['deleted_at IS NULL'];
      const params: unknown[] = [];
      if (filter.email !== undefined) { params.push(filter.email); where.push(`lower(email) = lower($${params.length})`); }
      if (page.afterId !== undefined) { params.push(page.afterId); where.push(`user_id > $${params.length}`); }
      params.push(page.limit);
      return (await db.query(`SELECT * FROM users WHERE ${where.join(' AND ')} ORDER BY user_id LIMIT $${params.length}`, params)).rows.map(toDirectoryUser);
    },
    async updateUser(userId, changes, now) {
      try {
        return await db.transaction(async (client) => {
          const row = await one(client, 'SELECT * FROM users WHERE user_id = $1 AND deleted_at IS NULL FOR UPDATE', [userId]);
          if (!row) return 'not_found' as const;
          const before = toDirectoryUser(row);
          const next = { ...before, ...definedOnly(changes) };
          if (changes.email !== undefined && (await emailHolder(client, changes.email, userId))) return 'duplicate_email' as const;
          if (next.email === before.email && next.name === before.name && next.locale === before.locale) return before;
          await client.query('UPDATE users SET email = $2, name = $3, locale = $4, updated_at = $5 WHERE user_id = $1', [userId, next.email, next.name, next.locale, now]);
          return { ...next, updatedAt: now };
        });
      } catch (error) {
        if (isUniqueViolation(error)) return 'duplicate_email';
        throw error;
      }
    },
    async deleteUser(userId, now) {
      return db.transaction(async (client) => {
        const row = await one(client, 'SELECT user_id FROM users WHERE user_id = $1 AND deleted_at IS NULL FOR UPDATE', [userId]);
        if (!row) return undefined;
        await client.query('UPDATE users SET deleted_at = $2, updated_at = $2, password_hash = NULL, email = $3 WHERE user_id = $1', [userId, now, deletedUserEmail(userId)]);
        const loginSessionsEnded = (await client.query('DELETE FROM login_sessions WHERE user_id = $1', [userId])).rowCount ?? 0;
        const membershipsRemoved = (await client.query('DELETE FROM subject_administrators WHERE user_id = $1', [userId])).rowCount ?? 0;
        await client.query('DELETE FROM partner_developers WHERE user_id = $1', [userId]);
        await voidCodes(client, 'user_id = $2', now, [userId]);
        return { loginSessionsEnded, membershipsRemoved };
      });
    },
    async createSubject(subject) {
      try {
        return await db.transaction(async (client) => {
          if (await subjectRow(client, subject.subjectType, subject.subjectId)) return 'duplicate_id' as const;
          if (subject.organizationId !== null && !(await organizationExists(client, subject.organizationId))) return 'unknown_organization' as const;
          await client.query('INSERT INTO subjects (subject_type, subject_id, name, organization_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)',
            [subject.subjectType, subject.subjectId, subject.name, subject.organizationId, subject.createdAt, subject.updatedAt]);
          return 'created' as const;
        });
      } catch (error) {
        if (isUniqueViolation(error)) return 'duplicate_id';
        throw error;
      }
    },
    async findSubject(subjectType, subjectId) {
      const row = await subjectRow(undefined, subjectType, subjectId);
      return row && toDirectorySubject(row);
    },
    async listSubjects(subjectType, filter, page) {
      const params: unknown[] = [subjectType];
      const where = ['subject_type = $1'];
      if (filter.organizationId !== undefined) { params.push(filter.organizationId); where.push(`organization_id = $${params.length}`); }
      if (page.afterId !== undefined) { params.push(page.afterId); where.push(`subject_id > $${params.length}`); }
      params.push(page.limit);
      return (await db.query(`SELECT * FROM subjects WHERE ${where.join(' AND ')} ORDER BY subject_id LIMIT $${params.length}`, params)).rows.map(toDirectorySubject);
    },
    async updateSubject(subjectType, subjectId, changes, now) {
      return db.transaction(async (client) => {
        const row = await one(client, 'SELECT * FROM subjects WHERE subject_type = $1 AND subject_id = $2 FOR UPDATE', [subjectType, subjectId]);
        if (!row) return 'not_found' as const;
        const before = toDirectorySubject(row);
        const next = { ...before, ...definedOnly(changes) };
        if (next.organizationId !== before.organizationId && next.organizationId !== null && !(await organizationExists(client, next.organizationId))) {
          return 'unknown_organization' as const;
        }
        if (next.name === before.name && next.organizationId === before.organizationId) return before;
        await client.query('UPDATE subjects SET name = $3, organization_id = $4, updated_at = $5 WHERE subject_type = $1 AND subject_id = $2',
          [subjectType, subjectId, next.name, next.organizationId, now]);
        return { ...next, updatedAt: now };
      });
    },
    async deleteSubject(subjectType, subjectId, now, reason, effects) {
      return db.transaction(async (client) => {
        const row = await one(client, 'SELECT 1 AS found FROM subjects WHERE subject_type = $1 AND subject_id = $2 FOR UPDATE', [subjectType, subjectId]);
        if (!row) return { outcome: 'not_found' as const };
        if (subjectType === 'organization' && (await one(client, "SELECT 1 AS found FROM subjects WHERE subject_type = 'company' AND organization_id = $1 LIMIT 1", [subjectId]))) {
          return { outcome: 'has_companies' as const };
        }
        let grantsRevoked = 0;
        const grants = await client.query('SELECT grant_id FROM grants WHERE subject_type = $1 AND subject_id = $2 AND revoked_at IS NULL ORDER BY grant_id', [subjectType, subjectId]);
        for (const grant of grants.rows) if (await db.revokeGrant(client, String(grant.grant_id), now, reason, { webhookDelivery: effects?.webhookDelivery })) grantsRevoked += 1;
        await client.query('DELETE FROM subject_administrators WHERE subject_type = $1 AND subject_id = $2', [subjectType, subjectId]);
        await voidCodes(client, 'subject_type = $2 AND subject_id = $3', now, [subjectType, subjectId]);
        await client.query('DELETE FROM subjects WHERE subject_type = $1 AND subject_id = $2', [subjectType, subjectId]);
        return { outcome: 'deleted' as const, grantsRevoked };
      });
    },
    async listMemberships(userId) {
      return memberships(undefined, userId);
    },
    async putMembership(userId, membership) {
      return db.transaction(async (client) => {
        if (!(await one(client, 'SELECT 1 AS found FROM users WHERE user_id = $1 AND deleted_at IS NULL FOR SHARE', [userId]))) return 'unknown_user' as const;
        if (!(await one(client, 'SELECT 1 AS found FROM subjects WHERE subject_type = $1 AND subject_id = $2 FOR SHARE', [membership.subjectType, membership.subjectId]))) {
          return 'unknown_subject' as const;
        }
        const inserted = await client.query('INSERT INTO subject_administrators (user_id, subject_type, subject_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
          [userId, membership.subjectType, membership.subjectId]);
        return (inserted.rowCount ?? 0) > 0 ? 'added' as const : 'unchanged' as const;
      });
    },
    async deleteMembership(userId, membership) {
      const deleted = await db.query('DELETE FROM subject_administrators WHERE user_id = $1 AND subject_type = $2 AND subject_id = $3', [userId, membership.subjectType, membership.subjectId]);
      return (deleted.rowCount ?? 0) > 0;
    },
    async importBatch(records, now, actor, options = {}) {
      return db.transaction(async (client) => {
        if (options.dryRun) await client.query('SAVEPOINT directory_dry_run');
        const outcomes: DirectoryUpsertOutcome[] = [];
        for (const record of records) {
          await client.query('SAVEPOINT directory_record');
          try {
            outcomes.push(record.kind === 'subject' ? await upsertSubject(client, record.subject, now, actor) : await upsertUser(client, record, now, actor));
            await client.query('RELEASE SAVEPOINT directory_record');
          } catch (error) {
            await client.query('ROLLBACK TO SAVEPOINT directory_record');
            await client.query('RELEASE SAVEPOINT directory_record');
            if (error instanceof Refusal) outcomes.push({ outcome: 'refused', field: error.field, reason: error.reason });
            else if (isUniqueViolation(error)) {
              // A concurrent writer took the id or the e-mail between our check and our insert.
              outcomes.push(error.constraint === 'users_email_lower'
                ? { outcome: 'refused', field: 'email', reason: 'another user has this e-mail address' }
                : { outcome: 'refused', field: 'id', reason: 'this id was taken meanwhile' });
            } else throw error;
          }
        }
        if (options.dryRun) await client.query('ROLLBACK TO SAVEPOINT directory_dry_run');
        return outcomes;
      });
    },
  };
}

function definedOnly<T extends object>(changes: T): Partial<T> {
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined)) as Partial<T>;
}
