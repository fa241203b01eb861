/**
 * The administrators' console's directory views (issue 13), for platform administrators only (console.ts
 * `administrator`: the login page signed out, 403 without the role):
 *
 * - `GET /admin/users?q=&after=`: users, 50 a page (cursor `after`, a user id). `q` matches name or e-mail
 *   (case-insensitive substring), scanning the directory by id in pages of 500, at most 10,000 users per request.
 * - `GET /admin/companies?q=&after=`, `GET /admin/organizations?q=&after=`: the same for subjects, by name.
 * - `GET /admin/users/:user_id`: the user, what they administer (memberships) and the active grants they
 *   made, each grant with revoke (console.ts `consoleRevokeGrant`).
 * - `POST /admin/users/:user_id/memberships/:subject_type/:subject_id/remove`: a confirmation, then with
 *   `confirm=yes` directory.ts `revokeAdministration` (the admin API's rule and audit event
 *   `directory.membership.removed`, actor `admin:<name> (user:<id>)`). CSRF- and Origin-checked (routes.ts). The
 *   confirmation's language switch (endpoints/confirmation.ts) shows it again in the language chosen; it never removes.
 *
 * Everything else in the directory stays with the admin API and CLI (creating, renaming, deleting).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isUuid } from '@gatehouse/protocol';
import { DirectoryError, revokeAdministration } from '../directory/directory.ts';
import { consoleConfirmationPage, consoleMessagePage } from '../pages/console-pages.ts';
import { subjectListPage, userDetailPage, userListPage, type MembershipView } from '../pages/console-directory-pages.ts';
import type { ServerContext } from '../server-context.ts';
import type { DirectoryPage, SubjectType } from '../storage/storage.ts';
import { administrator, grantView, management, page } from './console.ts';
import { confirmedAction, rememberSwitchedLocale } from './confirmation.ts';

const PAGE_SIZE = 50;
const SCAN_PAGE = 500;
const SCAN_MAX = 10_000;

function listQuery(request: FastifyRequest): { query: string; after: string | undefined } {
  const { q, after } = request.query as Record<string, unknown>;
  return {
    query: typeof q === 'string' ? q.trim().slice(0, 200) : '',
    after: typeof after === 'string' && isUuid(after.toLowerCase()) ? after.toLowerCase() : undefined,
  };
}

/**
 * One page of records by id, those matching `keep`, from `after` on: at most PAGE_SIZE, scanning at most
 * SCAN_MAX records. @returns the records and the cursor of the next page (undefined on the last one).
 */
async function scan<T>(list: (page: DirectoryPage) => Promise<T[]>, idOf: (record: T) => string, keep: (record: T) => boolean, after: string | undefined): Promise<{ found: T[]; next?: string }> {
  const found: T[] = [];
  let cursor = after;
  for (let scanned = 0; scanned < SCAN_MAX;) {
    const batch = await list({ ...(cursor ? { afterId: cursor } : {}), limit: SCAN_PAGE });
    for (const record of batch) {
      scanned++;
      cursor = idOf(record);
      if (!keep(record)) continue;
      found.push(record);
      if (found.length === PAGE_SIZE) return { found, next: cursor };
    }
    if (batch.length < SCAN_PAGE) return { found };
  }
  return { found, next: cursor };
}

const nextUrl = (path: string, query: string, next: string | undefined) =>
  next ? `${path}?${new URLSearchParams({ ...(query ? { q: query } : {}), after: next })}` : undefined;

/** GET /admin/users?q=&after= */
export async function consoleUsers(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const admin = await administrator(context, request, reply);
  if (!admin) return;
  const { query, after } = listQuery(request);
  const needle = query.toLowerCase();
  const { found, next } = await scan((pageOf) => context.storage.directory.listUsers({}, pageOf), (user) => user.userId,
    (user) => needle === '' || user.name.toLowerCase().includes(needle) || user.email.toLowerCase().includes(needle), after);
  page(reply, 200, userListPage({ ...admin.frame, query, users: found, nextUrl: nextUrl('/admin/users', query, next) }));
}

/** GET /admin/companies?q=&after= and GET /admin/organizations?q=&after= */
export async function consoleSubjects(context: ServerContext, request: FastifyRequest, reply: FastifyReply, subjectType: SubjectType): Promise<void> {
  const admin = await administrator(context, request, reply);
  if (!admin) return;
  const { query, after } = listQuery(request);
  const needle = query.toLowerCase();
  const { found, next } = await scan((pageOf) => context.storage.directory.listSubjects(subjectType, {}, pageOf), (subject) => subject.subjectId,
    (subject) => needle === '' || subject.name.toLowerCase().includes(needle), after);
  const organizationNames = new Map<string, string>();
  for (const organizationId of new Set(found.map((subject) => subject.organizationId).filter((id): id is string => id !== null))) {
    const organization = await context.storage.directory.findSubject('organization', organizationId);
    if (organization) organizationNames.set(organizationId, organization.name);
  }
  // An organization's grants: how many are active (the grant search filters by company only). One indexed
  // query per organization on the page, as the organization names above; it printed "none" for every one.
  const activeGrants = new Map<string, number>();
  if (subjectType === 'organization') {
    for (const subject of found) activeGrants.set(subject.subjectId, (await context.storage.grants.listActive({ subjectType, subjectId: subject.subjectId })).length);
  }
  const path = subjectType === 'company' ? '/admin/companies' : '/admin/organizations';
  page(reply, 200, subjectListPage({ ...admin.frame, subjectType, query, subjects: found, organizationNames, activeGrants, nextUrl: nextUrl(path, query, next) }));
}

/** GET /admin/users/:user_id */
export async function consoleUser(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const admin = await administrator(context, request, reply);
  if (!admin) return;
  const userId = (request.params as { user_id: string }).user_id.toLowerCase();
  const user = isUuid(userId) ? await context.storage.directory.findUser(userId) : undefined;
  if (!user) {
    page(reply, 404, consoleMessagePage(admin.frame, admin.frame.t.t('console.noSuchUserTitle'), admin.frame.t.t('console.noSuchUser')));
    return;
  }
  const memberships: MembershipView[] = await Promise.all((await context.storage.directory.listMemberships(userId)).map(async (membership) => ({
    ...membership, subjectName: (await context.storage.directory.findSubject(membership.subjectType, membership.subjectId))?.name ?? membership.subjectId,
  })));
  const grants = await Promise.all((await context.storage.grants.listActive({ userId })).map((grant) => grantView(context, grant)));
  const done = (request.query as Record<string, unknown>).done;
  const notice = done === 'membership_removed' ? admin.frame.t.t('console.membershipRemoved') : done === 'grant_revoked' ? admin.frame.t.t('console.grantRevoked') : undefined;
  page(reply, 200, userDetailPage({ ...admin.frame, user, memberships, grants, notice }));
}

/** POST /admin/users/:user_id/memberships/:subject_type/:subject_id/remove */
export async function consoleRemoveMembership(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  rememberSwitchedLocale(context, request, reply);
  const admin = await administrator(context, request, reply);
  if (!admin) return;
  const params = request.params as { user_id: string; subject_type: string; subject_id: string };
  const [userId, subjectId] = [params.user_id.toLowerCase(), params.subject_id.toLowerCase()];
  const subjectType = params.subject_type === 'company' || params.subject_type === 'organization' ? params.subject_type : undefined;
  const user = isUuid(userId) ? await context.storage.directory.findUser(userId) : undefined;
  const member = user && subjectType && (await context.storage.directory.listMemberships(userId)).some((m) => m.subjectType === subjectType && m.subjectId === subjectId);
  if (!user || !subjectType || !member) {
    page(reply, 404, consoleMessagePage(admin.frame, admin.frame.t.t('console.noSuchMembershipTitle'), admin.frame.t.t('console.noSuchMembership')));
    return;
  }
  const subjectName = (await context.storage.directory.findSubject(subjectType, subjectId))?.name ?? subjectId;
  const t = admin.frame.t;
  if (!confirmedAction(request)) {
    page(reply, 200, consoleConfirmationPage({
      ...admin.frame, title: t.t('console.removeMembershipTitle', { user: user.name, subject: subjectName }),
      consequences: [t.t('console.removeMembershipConsequence', { user: user.name, subject: subjectName })],
      action: `/admin/users/${userId}/memberships/${subjectType}/${subjectId}/remove`, confirmLabel: t.t('console.removeMembershipConfirm'), cancelHref: `/admin/users/${userId}`,
    }));
    return;
  }
  const { storage, environment, now, actor, urnNamespace } = management(context, admin.user);
  try {
    await revokeAdministration({ storage, environment, now, actor, urnNamespace }, userId, subjectType, subjectId);
  } catch (error) {
    if (!(error instanceof DirectoryError)) throw error;
    page(reply, error.status, consoleMessagePage(admin.frame, t.t('console.noSuchMembershipTitle'), t.t('console.noSuchMembership')));
    return;
  }
  reply.redirect(`/admin/users/${userId}?done=membership_removed`, 303);
}
