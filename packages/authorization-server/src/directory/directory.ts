/**
 * The directory (issue 10 §1): organizations, companies, users and who administers what, as the
 * platform pushes them in through the admin API, the CLI and the import. One set of rules for all three:
 * the input is read in wire terms (snake_case members), every refusal names its field, and every change
 * is an audit event naming its actor (`admin:<name>`, `admin:cli`).
 *
 * Lifecycle (README "Directory"; the mechanisms are storage.ts `DirectoryStore`):
 * - Removing a membership takes effect at once: the authorization endpoint reads memberships on every
 *   request, so the user can no longer consent for that subject. Grants already made stay: they belong to
 *   the subject, and connected apps shows who made them.
 * - Deleting a user ends their login sessions everywhere (the sessions are rows in the shared database),
 *   removes their memberships and developer role and voids their unredeemed codes; their grants stay.
 *   The user id is never reused; the e-mail address is forgotten (replaced by `<id>@deleted.invalid`), so
 *   it may be given to a new user.
 * - Changing a user's e-mail address (not its case) ends what the old address's holder got through it: unused
 *   set-password links, the password and second factor set through one, every login session and sign-in at its
 *   second step, unredeemed codes (stores/directory.ts `endOldAddressAccess`). Memberships and grants stay.
 * - Deleting a company or organization revokes every grant on it with its tokens (SPEC decision 15) and
 *   voids its unredeemed codes. An organization that still groups companies is not deleted (409): delete
 *   or move its companies first, so no company is left pointing at nothing.
 */
import { randomUUID } from 'node:crypto';
import { EMAIL } from '../clients/registration.ts';
import type { Environment } from '../options.ts';
import type { DirectorySubjectRecord, DirectoryUserRecord, MembershipRecord, Storage, SubjectType } from '../storage/storage.ts';
import { isUuid } from '@gatehouse/protocol';
import { grantRevocationEffects } from '../webhooks/webhook-events.ts';

/** A refused directory request: `status` 400 (a field rule), 404 (unknown), 409 (conflicts with what is stored). */
export class DirectoryError extends Error {
  readonly status: 400 | 404 | 409;
  readonly field: string | undefined;
  constructor(status: 400 | 404 | 409, message: string, field?: string) {
    super(message);
    this.status = status;
    this.field = field;
  }
  /** The wire error code: `invalid_request`, `not_found` or `conflict`. */
  get error(): string {
    return this.status === 400 ? 'invalid_request' : this.status === 404 ? 'not_found' : 'conflict';
  }
}

export interface DirectoryContext {
  storage: Storage;
  environment: Environment;
  /** Seconds since the epoch (the injectable clock). */
  now: number;
  /** Audit actor: `admin:<name>`. */
  actor: string;
  /** RFC 8707 (issue 15 §4): the default resource, the configured platform API (`accessTokenAudience`). */
  defaultAudience?: string;
  /** The brand's URN namespace, for `subject_urn` in `grant.revoked` webhook events (issue 15 §5); default `gatehouse`. */
  urnNamespace?: string;
}

export type Input = Record<string, unknown>;

const NAME_MAX_LENGTH = 200;
/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets, so an address at most 254 characters. */
const EMAIL_MAX_LENGTH = 254;
/** Records per page when `limit` is absent, and the most a page may hold. */
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

// ---- field rules (shared by the admin API, the CLI and the import) ----

/** A UUID in any case, returned lowercase (subject URNs and `sub` use lowercase). @throws DirectoryError 400 naming `field`. */
export function readId(value: unknown, field: string): string {
  const id = typeof value === 'string' ? value.toLowerCase() : '';
  if (!isUuid(id)) throw new DirectoryError(400, `${field} must be a UUID`, field);
  return id;
}

/** A display name: 1–200 characters, not blank, no control characters. */
export function readName(value: unknown, field = 'name'): string {
  if (typeof value !== 'string' || value.trim() === '') throw new DirectoryError(400, `${field} is required (1-${NAME_MAX_LENGTH} characters)`, field);
  // Characters (code points), as the README counts them: an emoji is one, not two UTF-16 units.
  if ([...value].length > NAME_MAX_LENGTH) throw new DirectoryError(400, `${field} must be at most ${NAME_MAX_LENGTH} characters`, field);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this check's purpose
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new DirectoryError(400, `${field} must not contain control characters`, field);
  return value;
}

/** An e-mail address (local@domain.tld, at most 254 characters); kept as given, compared case-insensitively. */
export function readEmail(value: unknown, field = 'email'): string {
  if (typeof value !== 'string' || value.length > EMAIL_MAX_LENGTH || !EMAIL.test(value)) {
    throw new DirectoryError(400, `${field} must be an e-mail address (local@domain.tld, at most ${EMAIL_MAX_LENGTH} characters)`, field);
  }
  return value;
}

/** A BCP 47 language tag in its canonical form (`da-dk` → `da-DK`), or null. */
export function readLocale(value: unknown, field = 'locale'): string | null {
  if (value === null) return null;
  if (typeof value !== 'string' || value.length > 35 || !/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/.test(value)) {
    throw new DirectoryError(400, `${field} must be a BCP 47 language tag such as "da-DK", or null`, field);
  }
  try {
    return Intl.getCanonicalLocales(value)[0]!;
  } catch {
    throw new DirectoryError(400, `${field} must be a BCP 47 language tag such as "da-DK", or null`, field);
  }
}

export function readSubjectType(value: unknown, field = 'subject_type'): SubjectType {
  if (value !== 'company' && value !== 'organization') throw new DirectoryError(400, `${field} must be company or organization`, field);
  return value;
}

/** Refuses members other than `allowed` (a misspelt member must not be silently ignored). */
export function refuseUnknownMembers(input: Input, allowed: string[]): void {
  for (const member of Object.keys(input)) if (!allowed.includes(member)) throw new DirectoryError(400, `unknown member "${member}"`, member);
}

/** `limit` (1–1000, default 100) and `cursor` (from a previous page's `next_cursor`). */
export function readPage(query: { limit?: unknown; cursor?: unknown }): { limit: number; afterId?: string } {
  const limit = query.limit === undefined ? DEFAULT_PAGE_LIMIT : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT || !/^\d+$/.test(String(query.limit ?? '1'))) {
    throw new DirectoryError(400, `limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}`, 'limit');
  }
  if (query.cursor === undefined || query.cursor === '') return { limit };
  const afterId = typeof query.cursor === 'string' ? Buffer.from(query.cursor, 'base64url').toString('utf8') : '';
  if (!isUuid(afterId)) throw new DirectoryError(400, 'cursor is not one this API gave out', 'cursor');
  return { limit, afterId };
}

/** One page and the cursor of the next (null on the last page). */
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/** Asks the store for one more record than `limit`, to know whether a next page exists. */
async function paginate<T>(page: { limit: number; afterId?: string }, list: (page: { limit: number; afterId?: string }) => Promise<T[]>, idOf: (record: T) => string): Promise<Page<T>> {
  const records = await list({ ...page, limit: page.limit + 1 });
  const data = records.slice(0, page.limit);
  const nextCursor = records.length > page.limit ? Buffer.from(idOf(data.at(-1)!)).toString('base64url') : null;
  return { data, nextCursor };
}

// ---- wire shapes ----

export function userToJson(user: DirectoryUserRecord, administers?: MembershipRecord[]) {
  return {
    id: user.userId, email: user.email, name: user.name, locale: user.locale, created_at: user.createdAt, updated_at: user.updatedAt,
    ...(administers ? { administers: administers.map((membership) => ({ type: membership.subjectType, id: membership.subjectId })) } : {}),
  };
}

export function subjectToJson(subject: DirectorySubjectRecord) {
  return {
    id: subject.subjectId, name: subject.name, ...(subject.subjectType === 'company' ? { organization_id: subject.organizationId } : {}),
    created_at: subject.createdAt, updated_at: subject.updatedAt,
  };
}

const audit = (context: DirectoryContext, type: string, details: Record<string, string | number | boolean | null>) =>
  context.storage.audit.record({ type, at: context.now, actor: context.actor, details });

// ---- users ----

/** Creates a user (no password: they sign in later through the platform's provider or an invitation). @throws DirectoryError 400, 409. */
export async function createDirectoryUser(context: DirectoryContext, input: Input): Promise<DirectoryUserRecord> {
  refuseUnknownMembers(input, ['id', 'email', 'name', 'locale']);
  const user: DirectoryUserRecord = {
    userId: input.id === undefined ? randomUUID() : readId(input.id, 'id'), email: readEmail(input.email), name: readName(input.name),
    locale: input.locale === undefined ? null : readLocale(input.locale), createdAt: context.now, updatedAt: context.now,
  };
  const outcome = await context.storage.directory.createUser(user);
  if (outcome === 'duplicate_id') throw new DirectoryError(409, 'a user with this id exists (or existed: ids of deleted users are never reused)', 'id');
  if (outcome === 'duplicate_email') throw new DirectoryError(409, 'another user has this e-mail address', 'email');
  await audit(context, 'directory.user.created', { id: user.userId });
  return user;
}

/** @throws DirectoryError 404 for an unknown (or deleted) user. */
export async function findDirectoryUser(storage: Storage, userId: string): Promise<{ user: DirectoryUserRecord; administers: MembershipRecord[] }> {
  const user = isUuid(userId) ? await storage.directory.findUser(userId) : undefined;
  if (!user) throw new DirectoryError(404, 'no user has this id', 'id');
  return { user, administers: await storage.directory.listMemberships(userId) };
}

export async function listDirectoryUsers(storage: Storage, query: { email?: unknown; limit?: unknown; cursor?: unknown }): Promise<Page<DirectoryUserRecord>> {
  refuseUnknownMembers(query, ['email', 'limit', 'cursor']);
  const email = query.email === undefined ? undefined : readEmail(query.email);
  return paginate(readPage(query), (page) => storage.directory.listUsers({ email }, page), (user) => user.userId);
}

/** Changes `email`, `name`, `locale` (absent = unchanged; `locale: null` clears it). @throws DirectoryError 400, 404, 409. */
export async function updateDirectoryUser(context: DirectoryContext, userId: string, input: Input): Promise<DirectoryUserRecord> {
  refuseUnknownMembers(input, ['email', 'name', 'locale']);
  const changes = {
    email: input.email === undefined ? undefined : readEmail(input.email),
    name: input.name === undefined ? undefined : readName(input.name),
    locale: input.locale === undefined ? undefined : readLocale(input.locale),
  };
  const { user: before } = await findDirectoryUser(context.storage, userId);
  const updated = await context.storage.directory.updateUser(userId, changes, context.now);
  if (updated === 'not_found') throw new DirectoryError(404, 'no user has this id', 'id');
  if (updated === 'duplicate_email') throw new DirectoryError(409, 'another user has this e-mail address', 'email');
  const fields = (['email', 'name', 'locale'] as const).filter((field) => updated[field] !== before[field]);
  if (fields.length > 0) await audit(context, 'directory.user.updated', { id: userId, fields: fields.join(',') });
  return updated;
}

/** Deletes a user (the lifecycle rules above). @throws DirectoryError 404. */
export async function deleteDirectoryUser(context: DirectoryContext, userId: string): Promise<{ loginSessionsEnded: number; membershipsRemoved: number }> {
  const deleted = isUuid(userId) ? await context.storage.directory.deleteUser(userId, context.now) : undefined;
  if (!deleted) throw new DirectoryError(404, 'no user has this id', 'id');
  await audit(context, 'directory.user.deleted', { id: userId, login_sessions_ended: deleted.loginSessionsEnded, memberships_removed: deleted.membershipsRemoved });
  return deleted;
}

// ---- companies and organizations ----

/** `{ id?, name, organization_id? }` (companies only: the organization grouping it). @throws DirectoryError 400, 409. */
export async function createDirectorySubject(context: DirectoryContext, subjectType: SubjectType, input: Input): Promise<DirectorySubjectRecord> {
  refuseUnknownMembers(input, subjectType === 'company' ? ['id', 'name', 'organization_id'] : ['id', 'name']);
  const subject: DirectorySubjectRecord = {
    subjectType, subjectId: input.id === undefined ? randomUUID() : readId(input.id, 'id'), name: readName(input.name),
    organizationId: input.organization_id === undefined || input.organization_id === null ? null : readId(input.organization_id, 'organization_id'),
    createdAt: context.now, updatedAt: context.now,
  };
  const outcome = await context.storage.directory.createSubject(subject);
  if (outcome === 'duplicate_id') throw new DirectoryError(409, `a ${subjectType} with this id exists`, 'id');
  if (outcome === 'unknown_organization') throw new DirectoryError(400, 'no organization has this id', 'organization_id');
  await audit(context, `directory.${subjectType}.created`, { id: subject.subjectId });
  return subject;
}

/** @throws DirectoryError 404. */
export async function findDirectorySubject(storage: Storage, subjectType: SubjectType, subjectId: string): Promise<DirectorySubjectRecord> {
  const subject = isUuid(subjectId) ? await storage.directory.findSubject(subjectType, subjectId) : undefined;
  if (!subject) throw new DirectoryError(404, `no ${subjectType} has this id`, 'id');
  return subject;
}

export async function listDirectorySubjects(storage: Storage, subjectType: SubjectType, query: { organization_id?: unknown; limit?: unknown; cursor?: unknown }): Promise<Page<DirectorySubjectRecord>> {
  refuseUnknownMembers(query, subjectType === 'company' ? ['organization_id', 'limit', 'cursor'] : ['limit', 'cursor']);
  const organizationId = query.organization_id === undefined ? undefined : readId(query.organization_id, 'organization_id');
  return paginate(readPage(query), (page) => storage.directory.listSubjects(subjectType, { organizationId }, page), (subject) => subject.subjectId);
}

/** Changes `name` and, for a company, `organization_id` (null moves it out of its organization). @throws DirectoryError 400, 404. */
export async function updateDirectorySubject(context: DirectoryContext, subjectType: SubjectType, subjectId: string, input: Input): Promise<DirectorySubjectRecord> {
  refuseUnknownMembers(input, subjectType === 'company' ? ['name', 'organization_id'] : ['name']);
  const changes = {
    name: input.name === undefined ? undefined : readName(input.name),
    organizationId: input.organization_id === undefined ? undefined : input.organization_id === null ? null : readId(input.organization_id, 'organization_id'),
  };
  const before = await findDirectorySubject(context.storage, subjectType, subjectId);
  const updated = await context.storage.directory.updateSubject(subjectType, subjectId, changes, context.now);
  if (updated === 'not_found') throw new DirectoryError(404, `no ${subjectType} has this id`, 'id');
  if (updated === 'unknown_organization') throw new DirectoryError(400, 'no organization has this id', 'organization_id');
  const fields = [...(updated.name !== before.name ? ['name'] : []), ...(updated.organizationId !== before.organizationId ? ['organization_id'] : [])];
  if (fields.length > 0) await audit(context, `directory.${subjectType}.updated`, { id: subjectId, fields: fields.join(',') });
  return updated;
}

/** Deletes a company or organization, revoking every grant on it. @throws DirectoryError 404; 409 for an organization that still groups companies. */
export async function deleteDirectorySubject(context: DirectoryContext, subjectType: SubjectType, subjectId: string): Promise<{ grantsRevoked: number; apiKeysRevoked: number }> {
  if (!isUuid(subjectId)) throw new DirectoryError(404, `no ${subjectType} has this id`, 'id');
  // Issue 15 §5: each revoked grant's partner gets grant.revoked, queued in the deletion's transaction.
  const reason = `${subjectType}_deleted`;
  const result = await context.storage.directory.deleteSubject(subjectType, subjectId, context.now, reason,
    grantRevocationEffects(context.urnNamespace ?? 'gatehouse', context.now, reason));
  if (result.outcome !== 'deleted') {
    if (result.outcome === 'not_found') throw new DirectoryError(404, `no ${subjectType} has this id`, 'id');
    throw new DirectoryError(409, 'the organization still groups companies: delete them or move them out (organization_id null) first', 'id');
  }
  await audit(context, `directory.${subjectType}.deleted`, { id: subjectId, grants_revoked: result.grantsRevoked, api_keys_revoked: result.apiKeysRevoked });
  return { grantsRevoked: result.grantsRevoked, apiKeysRevoked: result.apiKeysRevoked };
}

// ---- memberships and partner developers ----

/** User U administers the subject from now on (idempotent). @throws DirectoryError 400, 404 (unknown user or subject). */
export async function grantAdministration(context: DirectoryContext, userId: string, subjectType: unknown, subjectId: string): Promise<'added' | 'unchanged'> {
  const membership = { subjectType: readSubjectType(subjectType), subjectId: readId(subjectId, 'subject_id') };
  const outcome = isUuid(userId) ? await context.storage.directory.putMembership(userId, membership) : 'unknown_user';
  if (outcome === 'unknown_user') throw new DirectoryError(404, 'no user has this id', 'user_id');
  if (outcome === 'unknown_subject') throw new DirectoryError(404, `no ${membership.subjectType} has this id`, 'subject_id');
  if (outcome === 'added') await audit(context, 'directory.membership.added', { user_id: userId, subject_type: membership.subjectType, subject_id: membership.subjectId });
  return outcome;
}

/** The user stops administering the subject, at once; grants already made stay. @throws DirectoryError 400, 404 (no such membership). */
export async function revokeAdministration(context: DirectoryContext, userId: string, subjectType: unknown, subjectId: string): Promise<void> {
  const membership = { subjectType: readSubjectType(subjectType), subjectId: readId(subjectId, 'subject_id') };
  if (!isUuid(userId) || !(await context.storage.directory.deleteMembership(userId, membership, context.now))) {
    throw new DirectoryError(404, `the user does not administer this ${membership.subjectType}`, 'subject_id');
  }
  await audit(context, 'directory.membership.removed', { user_id: userId, subject_type: membership.subjectType, subject_id: membership.subjectId });
}

/** Makes a directory user a partner developer (developer portal). Idempotent. @throws DirectoryError 404. */
export async function addDeveloper(context: DirectoryContext, userId: string): Promise<void> {
  await findDirectoryUser(context.storage, userId);
  if (await context.storage.developers.isDeveloper(userId)) return;
  await context.storage.developers.add(userId);
  await audit(context, 'developer.added', { user_id: userId });
}

/** @throws DirectoryError 404 when the user is not a partner developer. */
export async function removeDeveloper(context: DirectoryContext, userId: string): Promise<void> {
  if (!isUuid(userId) || !(await context.storage.developers.remove(userId))) throw new DirectoryError(404, 'this user is not a partner developer', 'user_id');
  await audit(context, 'developer.removed', { user_id: userId });
}
