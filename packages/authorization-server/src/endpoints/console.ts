/**
 * The administrators' console at /admin (issue 13): a web UI over the admin API's rules for directory
 * users who hold the platform-administrator role (`gatehouse admins grant-console USER_ID`).
 *
 * - `GET /admin`: the review queue (pending clients, and active ones whose branding is not reviewed).
 * - `GET /admin/clients?q=`: client search by name or ID.
 * - `POST /admin/clients/:client_id/:action` (approve|suspend|reactivate|delete|reject_branding|
 *   grant_pkce_exception|withdraw_pkce_exception): a confirmation page naming what will happen, then,
 *   posted again with `confirm=yes`, the change through clients/client-management.ts (the admin API's and
 *   CLI's rules; no second copy).
 * - Branding changes (issue 13): a partner's change of a reviewed client's name, logo or URIs waits in the
 *   queue with the reviewed values before and the current ones after (client-management.ts
 *   `keepReviewedBranding` documents the design); `approve` accepts it, `reject_branding` restores the
 *   reviewed values. `GET /admin/clients/:client_id/reviewed-logo` serves the kept logo to administrators.
 * - The directory (users, companies, organizations, memberships): console-directory.ts.
 * - `GET /admin/grants?user=|company=|client=`: active grants; `POST /admin/grants/:grant_id/revoke`
 *   (confirmed the same way) revokes through grants/grant-revocation.ts.
 * - `GET /admin/audit?type=&client=&before=`: the audit log, newest first, 50 a page;
 *   `GET /admin/audit/export?format=csv|jsonl` the same filter as a download (at most 10,000 events).
 *
 * Every confirmation (here, console-directory.ts, console-api-keys.ts) answers a POST: its language switch posts the
 * same values again with `locale` (endpoints/confirmation.ts), the same confirmation comes back in that language, and
 * a form carrying `locale` never acts, `confirm=yes` or not.
 *
 * Every form is Origin- and CSRF-checked before these handlers run (routes.ts, SPEC decision 18); every
 * change is audited by `admin:<name> (user:<id>)`, the administrator's name and id. Signed out: the login
 * page (which continues at the page asked for: a deep link survives sign-in); signed in without the role: 403.
 */
import { requestTranslator } from '../i18n/request-language.ts';
import { safeReturnPath } from './language.ts';
import { confirmedAction, rememberSwitchedLocale } from './confirmation.ts';
import type { MessageKey, Translator } from '../i18n/i18n.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isUuid } from '@gatehouse/protocol';
import {
  approveClient, ClientManagementError, deleteClient, reactivateClient, rejectBrandingChange, setPkceException, suspendClient, type ManagementContext,
} from '../clients/client-management.ts';
import { RegistrationError } from '../clients/registration.ts';
import { revokeGrantBy } from '../grants/grant-revocation.ts';
import {
  actionsFor, actionText, auditLogPage, CLIENT_ACTION_LABELS, doneText, type BrandingChangeView, clientSearchPage, consoleConfirmationPage, consoleMessagePage, consoleNotAdministratorPage, grantSearchPage,
  reviewQueuePage, type AuditRow, type ClientAction, type ConsoleFrame, type GrantView,
} from '../pages/console-pages.ts';
import { sendLoginStep } from '../sessions/login-step.ts';
import { formPage } from '../http/form-page.ts';
import { RETURN_TO } from './login.ts';
import type { ServerContext } from '../server-context.ts';
import { sessionUser } from '../sessions/login-session.ts';
import type { AuditListOptions, ClientRecord, GrantListing, StoredAuditEvent, UserRecord } from '../storage/storage.ts';

const AUDIT_PAGE_SIZE = 50;
const AUDIT_EXPORT_MAX = 10_000;

export interface Administrator {
  user: UserRecord;
  /** With the request's language (issue 13). */
  frame: ConsoleFrame & { t: Translator };
}

export function page(reply: FastifyReply, status: number, body: string): void {
  // Pages carry a CSRF token and platform data: never cached.
  reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

/** The signed-in platform administrator, or undefined after answering (the login page, or 403). */
export async function administrator(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<Administrator | undefined> {
  const user = await sessionUser(context, request);
  const brandName = context.options.brand.name;
  if (!user) {
    // A deep link survives sign-in: login.ts's RETURN_TO admits /admin paths (no query, so no open redirect);
    // a form sent after the session ended returns to the page it was sent from. The login step as every
    // section's: the upstream sign-in too, and a notice that the form's change was not made.
    const path = request.method === 'GET' ? request.url.split('?')[0]! : formPage(request, context.options.issuer, '/admin');
    sendLoginStep(context, reply, { returnTo: RETURN_TO.test(path) && path.startsWith('/admin') ? path : '/admin' });
    return undefined;
  }
  const t = requestTranslator(request);
  const frame = { brandName, csrfToken: reply.generateCsrf(), userName: user.name, t };
  if (!(await context.storage.consoleAdministrators.isConsoleAdministrator(user.userId))) {
    page(reply, 403, consoleNotAdministratorPage(frame));
    return undefined;
  }
  return { user, frame };
}

export function management(context: ServerContext, user: UserRecord): ManagementContext {
  // Audited with the administrator's name (and id: names are not unique).
  return { storage: context.storage, environment: context.options.environment, brandName: context.options.brand.name, now: context.clock.nowSeconds(),
    actor: `admin:${user.name} (user:${user.userId})`, requireApproval: context.options.requireClientApproval,
    urnNamespace: context.options.brand.urnNamespace };
}

const partnerClients = async (context: ServerContext) => (await context.storage.clients.list()).filter((client) => client.kind === 'client' && client.status !== 'deleted');

/** GET /admin */
export async function consoleHome(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const admin = await administrator(context, request, reply);
  if (!admin) return;
  const waiting = (await partnerClients(context))
    .filter((client) => client.status === 'pending' || (client.status === 'active' && !client.brandingVerified))
    .sort((a, b) => a.createdAt - b.createdAt);
  const done = (request.query as Record<string, unknown>).done;
  const notice = typeof done === 'string' && Object.hasOwn(CLIENT_ACTION_LABELS, done) ? doneText(admin.frame.t, done as ClientAction) : undefined;
  const brandingChanges = new Map<string, BrandingChangeView>();
  for (const client of waiting) {
    const review = client.status === 'active' ? await context.storage.brandingReviews.find(client.clientId) : undefined;
    if (!review) continue;
    // The kept upload is served to administrators only; an external logo URI is shown as it was.
    const reviewedLogoSrc = review.logo ? `/admin/clients/${client.clientId}/reviewed-logo?v=${review.logo.sha256.slice(0, 16)}` : review.reviewed.logoUri;
    brandingChanges.set(client.clientId, { reviewed: review.reviewed, reviewedLogoSrc });
  }
  page(reply, 200, reviewQueuePage({ ...admin.frame, clients: waiting, notice, brandingChanges }));
}

/** GET /admin/clients/:client_id/reviewed-logo: the logo as reviewed, while a branding change waits (issue 13). */
export async function consoleReviewedLogo(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const admin = await administrator(context, request, reply);
  if (!admin) return;
  const clientId = (request.params as { client_id: string }).client_id.toLowerCase();
  const review = isUuid(clientId) ? await context.storage.brandingReviews.find(clientId) : undefined;
  if (!review?.logo) {
    page(reply, 404, consoleMessagePage(admin.frame, admin.frame.t.t('console.noSuchClientTitle'), admin.frame.t.t('console.noSuchClient')));
    return;
  }
  reply.code(200).type(review.logo.contentType).header('cache-control', 'private, no-store').header('x-content-type-options', 'nosniff').send(review.logo.bytes);
}

/** GET /admin/clients?q= */
export async function consoleClients(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const admin = await administrator(context, request, reply);
  if (!admin) return;
  const { q, done } = request.query as Record<string, unknown>;
  const query = typeof q === 'string' ? q.trim().slice(0, 200) : '';
  const notice = typeof done === 'string' && Object.hasOwn(CLIENT_ACTION_LABELS, done) ? doneText(admin.frame.t, done as ClientAction) : undefined;
  const needle = query.toLowerCase();
  const clients = (await partnerClients(context))
    .filter((client) => needle === '' || client.clientName.toLowerCase().includes(needle) || client.clientId.toLowerCase() === needle)
    .sort((a, b) => a.clientName.localeCompare(b.clientName));
  page(reply, 200, clientSearchPage({ ...admin.frame, query, clients, notice }));
}

const CONSEQUENCES: Record<ClientAction, (client: ClientRecord, connections: number, t: Translator) => string[]> = {
  approve: (client, _connections, t) => [t.t('console.approveConsequence', { client: client.clientName })],
  suspend: (client, connections, t) => [t.t('console.suspendConsequence', { client: client.clientName }), t.t('console.suspendConnections', { count: connections })],
  reactivate: (client, connections, t) => [t.t('console.reactivateConsequence', { client: client.clientName, count: connections })],
  delete: (client, connections, t) => [t.t('console.deleteConsequence', { client: client.clientName }),
    t.t('console.deleteConnections', { count: connections }), t.t('console.cannotUndo')],
  reject_branding: (client, _connections, t) => [t.t('console.rejectBrandingConsequence', { client: client.clientName })],
  grant_pkce_exception: (client, _connections, t) => [t.t('console.pkceExceptionConsequence', { client: client.clientName })],
  withdraw_pkce_exception: (client, _connections, t) => [t.t('console.pkceRequireConsequence', { client: client.clientName })],
};

function confirmTitle(t: Translator, action: ClientAction, client: string): string {
  if (action === 'reject_branding') return t.t('console.rejectBrandingTitle', { client });
  if (action === 'grant_pkce_exception') return t.t('console.pkceExceptionTitle', { client });
  if (action === 'withdraw_pkce_exception') return t.t('console.pkceRequireTitle', { client });
  return t.t('console.confirmTitle', { action, client });
}

/** POST /admin/clients/:client_id/:action */
export async function consoleClientAction(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  rememberSwitchedLocale(context, request, reply);
  const admin = await administrator(context, request, reply);
  if (!admin) return;
  const { client_id: clientId, action } = request.params as { client_id: string; action: string };
  const client = isUuid(clientId.toLowerCase()) ? await context.storage.clients.find(clientId.toLowerCase()) : undefined;
  if (!client || client.kind !== 'client' || client.status === 'deleted') {
    page(reply, 404, consoleMessagePage(admin.frame, admin.frame.t.t('console.noSuchClientTitle'), admin.frame.t.t('console.noSuchClient')));
    return;
  }
  const brandingChange = (await context.storage.brandingReviews.find(client.clientId)) !== undefined;
  if (!Object.hasOwn(CLIENT_ACTION_LABELS, action) || !actionsFor(client, brandingChange).includes(action as ClientAction)) {
    page(reply, 409, consoleMessagePage(admin.frame, admin.frame.t.t('console.notPossibleTitle'), admin.frame.t.t('console.clientIs', { status: client.status })));
    return;
  }
  const chosen = action as ClientAction;
  // Where the action was taken: the client search (its Referer, or the confirmation's field) or the review queue,
  // where Cancel and the answer lead back (both offer the same buttons).
  const body = (request.body ?? {}) as Record<string, unknown>;
  const fromSearch = body.from === 'search' || formPage(request, context.options.issuer, '/admin') === '/admin/clients';
  const back = fromSearch ? `/admin/clients?q=${client.clientId}` : '/admin';
  if (!confirmedAction(request)) {
    const connections = (await context.storage.grants.listActive({ clientId: client.clientId })).length;
    page(reply, 200, consoleConfirmationPage({
      ...admin.frame, title: confirmTitle(admin.frame.t, chosen, client.clientName), consequences: CONSEQUENCES[chosen](client, connections, admin.frame.t),
      action: `/admin/clients/${client.clientId}/${chosen}`, confirmLabel: actionText(admin.frame.t, chosen), cancelHref: back,
      ...(fromSearch ? { from: 'search' as const } : {}),
    }));
    return;
  }
  const manage = management(context, admin.user);
  try {
    if (chosen === 'approve') await approveClient(manage, client.clientId);
    else if (chosen === 'suspend') await suspendClient(manage, client.clientId);
    else if (chosen === 'reactivate') await reactivateClient(manage, client.clientId);
    else if (chosen === 'reject_branding') await rejectBrandingChange(manage, client.clientId);
    else if (chosen === 'grant_pkce_exception' || chosen === 'withdraw_pkce_exception') await setPkceException(manage, client.clientId, chosen === 'grant_pkce_exception');
    else await deleteClient(manage, client.clientId);
  } catch (error) {
    if (!(error instanceof ClientManagementError) && !(error instanceof RegistrationError)) throw error;
    page(reply, 409, consoleMessagePage(admin.frame, admin.frame.t.t('console.notPossibleTitle'), consoleRefusal(admin.frame.t, error.message)));
    return;
  }
  // A PKCE change is offered in the client search alone.
  reply.redirect(fromSearch || chosen.endsWith('pkce_exception') ? `/admin/clients?q=${client.clientId}&done=${chosen}` : `/admin?done=${chosen}`, 303);
}

/** GET /admin/grants?user=&company=&client= */
export async function consoleGrants(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const admin = await administrator(context, request, reply);
  if (!admin) return;
  const query = request.query as Record<string, unknown>;
  const text = (name: string) => (typeof query[name] === 'string' ? (query[name] as string).trim().slice(0, 320) : '');
  const [user, company, client] = [text('user'), text('company'), text('client')];
  const notice = query.done === 'grant_revoked' ? admin.frame.t.t('console.grantRevoked') : undefined;
  const model = { ...admin.frame, user, company, client, ...(notice ? { notice } : {}) };
  let grants: GrantListing[] | undefined;
  if (user) {
    const found = isUuid(user.toLowerCase()) ? await context.storage.users.find(user.toLowerCase()) : await context.storage.users.findByEmail(user);
    grants = found ? await context.storage.grants.listActive({ userId: found.userId }) : [];
  } else if (company) {
    if (!isUuid(company.toLowerCase())) return page(reply, 400, grantSearchPage({ ...model, grants: undefined, error: admin.frame.t.t('console.companyIdUuid') }));
    grants = await context.storage.grants.listActive({ subjectType: 'company', subjectId: company.toLowerCase() });
  } else if (client) {
    if (!isUuid(client.toLowerCase())) return page(reply, 400, grantSearchPage({ ...model, grants: undefined, error: admin.frame.t.t('console.clientIdUuid') }));
    grants = await context.storage.grants.listActive({ clientId: client.toLowerCase() });
  }
  page(reply, 200, grantSearchPage({ ...model, grants: grants === undefined ? undefined : await Promise.all(grants.map((grant) => grantView(context, grant))) }));
}

export async function grantView(context: ServerContext, grant: GrantListing): Promise<GrantView> {
  const [client, subject, user] = await Promise.all([
    context.storage.clients.find(grant.clientId), context.storage.subjects.find(grant.subjectType, grant.subjectId), context.storage.users.find(grant.userId),
  ]);
  return {
    grantId: grant.grantId, clientName: client?.clientName ?? grant.clientId, subjectName: subject?.name ?? grant.subjectId,
    userName: user ? `${user.name} (${user.email})` : grant.userId, scopes: grant.scope, createdAt: new Date(grant.createdAt * 1000).toISOString(),
  };
}

/** POST /admin/grants/:grant_id/revoke */
export async function consoleRevokeGrant(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  rememberSwitchedLocale(context, request, reply);
  const admin = await administrator(context, request, reply);
  if (!admin) return;
  const grantId = (request.params as { grant_id: string }).grant_id;
  const grant = isUuid(grantId.toLowerCase()) ? await context.storage.grants.find(grantId.toLowerCase()) : undefined;
  if (!grant || grant.revokedAt !== null) {
    page(reply, 404, consoleMessagePage(admin.frame, admin.frame.t.t('account.noSuchConnectionTitle'), admin.frame.t.t('console.noSuchGrant')));
    return;
  }
  const view = await grantView(context, { ...grant, lastUsedAt: null });
  const body = (request.body ?? {}) as Record<string, unknown>;
  // Back where Revoke was taken (a grant search with its query, a user's page), else the client's grant list.
  const returnTo = grantListPath(body.return_to) ?? `/admin/grants?client=${grant.clientId}`;
  if (!confirmedAction(request)) {
    page(reply, 200, consoleConfirmationPage({
      ...admin.frame, title: admin.frame.t.t('console.revokeTitle', { client: view.clientName, subject: view.subjectName }),
      consequences: [admin.frame.t.t('console.revokeConsequence', { client: view.clientName, subject: view.subjectName }), admin.frame.t.t('console.revokeRestore')],
      action: `/admin/grants/${grant.grantId}/revoke`, confirmLabel: admin.frame.t.t('console.revoke'), cancelHref: returnTo, returnTo,
    }));
    return;
  }
  await revokeGrantBy(context.storage, grant.grantId, context.clock.nowSeconds(), management(context, admin.user).actor, 'admin_revoked', context.options.brand.urnNamespace);
  reply.redirect(`${returnTo}${returnTo.includes('?') ? '&' : '?'}done=grant_revoked`, 303);
}

/** `value` when it is a page that lists grants with Revoke (the grant search, a user's page), without a `done`; else undefined. */
function grantListPath(value: unknown): string | undefined {
  const path = safeReturnPath(value);
  const url = new URL(path, 'http://gatehouse.invalid');
  if (url.pathname !== '/admin/grants' && !/^\/admin\/users\/[0-9a-f-]{36}$/.test(url.pathname)) return undefined;
  url.searchParams.delete('done');
  return `${url.pathname}${url.search}`;
}

/**
 * The audit filter of the page and the export: `type` (exact), `client` (a UUID), `before` (the cursor). A value
 * that cannot be a type or a client ID is a problem of its field (as typed, kept in it), never an unfiltered list.
 */
function auditFilter(request: FastifyRequest): {
  type: string; client: string; options: AuditListOptions; problems: { type?: 'console.eventTypeInvalid'; client?: 'console.clientIdUuid' };
} {
  const query = request.query as Record<string, unknown>;
  const typed = (name: string) => (typeof query[name] === 'string' ? (query[name] as string).trim() : '');
  const type = typed('type');
  const client = typed('client').toLowerCase();
  const problems = {
    ...(type && !/^[a-z_.]{1,64}$/.test(type) ? { type: 'console.eventTypeInvalid' as const } : {}),
    ...(client && !isUuid(client) ? { client: 'console.clientIdUuid' as const } : {}),
  };
  const before = typeof query.before === 'string' && /^[1-9]\d{0,15}$/.test(query.before) ? Number(query.before) : undefined;
  return {
    type: type.slice(0, 200), client: typed('client').slice(0, 200), problems,
    options: { ...(type ? { types: [type] } : {}), ...(client ? { clientId: client } : {}), ...(before === undefined ? {} : { beforeEventId: before }) },
  };
}

const auditRow = (event: StoredAuditEvent): AuditRow => ({
  eventId: event.eventId, at: new Date(event.at * 1000).toISOString(), type: event.type, actor: event.actor,
  clientId: event.clientId ?? '', grantId: event.grantId ?? '', details: JSON.stringify(event.details ?? {}),
});

/** GET /admin/audit */
export async function consoleAudit(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const admin = await administrator(context, request, reply);
  if (!admin) return;
  const { type, client, options, problems } = auditFilter(request);
  const t = admin.frame.t;
  if (problems.type || problems.client) {
    page(reply, 400, auditLogPage({
      ...admin.frame, type, client, rows: [], exportQuery: '',
      fieldErrors: { ...(problems.type ? { type: t.t(problems.type) } : {}), ...(problems.client ? { client: t.t(problems.client) } : {}) },
    }));
    return;
  }
  const events = await context.storage.audit.list({ ...options, limit: AUDIT_PAGE_SIZE + 1 });
  const shown = events.slice(0, AUDIT_PAGE_SIZE);
  const filter = new URLSearchParams({ ...(type ? { type } : {}), ...(client ? { client } : {}) });
  const older = events.length > AUDIT_PAGE_SIZE ? `/admin/audit?${new URLSearchParams({ ...Object.fromEntries(filter), before: String(shown.at(-1)!.eventId) })}` : undefined;
  page(reply, 200, auditLogPage({ ...admin.frame, type, client, rows: await withNames(context, shown.map(auditRow)), olderUrl: older, exportQuery: filter.toString() }));
}

/** The page's rows with the names of the users and clients they name (each looked up once per page). */
async function withNames(context: ServerContext, rows: AuditRow[]): Promise<AuditRow[]> {
  const users = new Map<string, Promise<string | undefined>>();
  const clients = new Map<string, Promise<string | undefined>>();
  const userName = (userId: string) => users.get(userId) ?? users.set(userId, context.storage.users.find(userId).then((user) => user?.name)).get(userId)!;
  const clientName = (clientId: string) => clients.get(clientId) ?? clients.set(clientId, context.storage.clients.find(clientId).then((found) => found?.clientName)).get(clientId)!;
  return Promise.all(rows.map(async (row) => {
    const [kind, id] = row.actor.split(':', 2);
    const actorName = id && kind === 'user' ? await userName(id) : id && kind === 'client' ? await clientName(id) : undefined;
    const name = row.clientId ? await clientName(row.clientId) : undefined;
    return { ...row, ...(actorName ? { actorName } : {}), ...(name ? { clientName: name } : {}) };
  }));
}

const CSV_COLUMNS: (keyof AuditRow)[] = ['eventId', 'at', 'type', 'actor', 'clientId', 'grantId', 'details'];

/** RFC 4180 field; a leading =, +, - or @ is prefixed with ' so spreadsheets do not run it as a formula. */
function csvField(value: string | number): string {
  const text = String(value);
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** GET /admin/audit/export?format=csv|jsonl&type=&client= (newest first, at most 10,000 events). */
export async function consoleAuditExport(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const admin = await administrator(context, request, reply);
  if (!admin) return;
  const format = (request.query as Record<string, unknown>).format;
  if (format !== 'csv' && format !== 'jsonl') {
    page(reply, 400, consoleMessagePage(admin.frame, admin.frame.t.t('console.unknownFormatTitle'), admin.frame.t.t('console.unknownFormat')));
    return;
  }
  const filter = auditFilter(request);
  const problem = filter.problems.type ?? filter.problems.client;
  if (problem) {
    page(reply, 400, consoleMessagePage(admin.frame, admin.frame.t.t('console.auditLog'), admin.frame.t.t(problem)));
    return;
  }
  const rows = (await context.storage.audit.list({ ...filter.options, limit: AUDIT_EXPORT_MAX })).map(auditRow);
  const body = format === 'csv'
    ? [CSV_COLUMNS.join(','), ...rows.map((row) => CSV_COLUMNS.map((column) => csvField(row[column] ?? '')).join(','))].join('\r\n') + '\r\n'
    : rows.map((row) => JSON.stringify({ ...row, details: JSON.parse(row.details) })).join('\n') + (rows.length ? '\n' : '');
  reply.code(200).header('cache-control', 'no-store')
    .header('content-disposition', `attachment; filename="audit-events.${format}"`)
    .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8').send(body);
}

/**
 * The refusals of clients/client-management.ts the console can meet, in the page's language (the module
 * words them in English for the admin API and the CLI). A wording not in the table is shown as it is.
 */
const CONSOLE_REFUSALS: [RegExp, MessageKey][] = [
  [/^no client /, 'console.refusalNoClient'],
  [/^a suspended client is reactivated, not approved$/, 'console.refusalApproveSuspended'],
  [/^only a suspended client can be reactivated/, 'console.refusalReactivate'],
  [/^no branding change of this client waits for review$/, 'console.refusalNoBrandingChange'],
  [/^a public client cannot have a PKCE exception$/, 'console.refusalPublicPkce'],
];
function consoleRefusal(t: Translator, message: string): string {
  const key = CONSOLE_REFUSALS.find(([pattern]) => pattern.test(message))?.[1];
  return key === undefined ? message : t.t(key);
}
