/**
 * The user's side of the platform (issue "connected apps, an app marketplace, and session handover"):
 *
 * - `GET /account/connected-apps`: every active grant the user can see, i.e. grants on a company or
 *   organization the user administers, and grants the user made. Only an administrator of the grant's
 *   subject may disconnect it or open its settings; the rest is read-only.
 * - `POST /account/connected-apps/:grant_id/disconnect`: revokes the grant and its tokens at once
 *   (audit `grant.revoked`, actor `user:<id>`); 403 for anyone but an administrator of the subject.
 * - `POST /account/connected-apps/:grant_id/settings`: 303 to the app's `settings_uri` with a session
 *   handover (tokens/session-handover.ts) for the grant's subject.
 * - `GET /marketplace`: active partner clients with an `initiation_uri` (pending, suspended and deleted
 *   ones are not listed), with a Connect form per app. Issue 13: each with its description and category;
 *   `?q=` searches names and descriptions (case- and accent-insensitive, every word), `?category=` filters
 *   (a plain GET form: works without JavaScript); an app already connected to a company the user can see
 *   shows "Connected" naming the companies and a link to connected apps instead of a second Connect
 *   button, or "Connect another company" with the companies the user administers that are not connected yet.
 * - `POST /marketplace/:client_id/connect`: 303 to the app's `initiation_uri` with a session handover for
 *   the subject picked (one the user administers, of the app's preferred type).
 *
 * - `GET /` (home) and `GET /account` (the account page) for signed-in users: links onward to connected
 *   apps, the marketplace, sessions and, for partner developers, the developer portal.
 *
 * Issue 13: connected apps names companies (never URNs) and scopes in words; Disconnect first shows a
 * confirmation naming the app and the company (POST, then POST with `confirm=yes`), and afterwards a
 * notice names both. The confirmation's language switch posts it again with `locale` (endpoints/confirmation.ts):
 * the same confirmation comes back in that language, and a form carrying `locale` never disconnects.
 *
 * Signed in with the shared login page (`return_to` these paths, login.ts). Forms are CSRF-checked
 * before these handlers run (routes.ts). Handovers are POSTs, not links: a prefetch or a crawler cannot
 * mint one.
 */
import { requestTranslator } from '../i18n/request-language.ts';
import type { Translator } from '../i18n/i18n.ts';
import { requestLocale } from '../i18n/request-language.ts';
import { confirmedAction, rememberSwitchedLocale } from './confirmation.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { revokeGrantBy } from '../grants/grant-revocation.ts';
import {
  accountMessagePage, accountPage, connectedAppsPage, disconnectConfirmationPage, homePage, marketplacePage, type AccountFrame, type ConnectedAppView,
} from '../pages/account-pages.ts';
import { sendLoginStep } from '../sessions/login-step.ts';
import type { ServerContext } from '../server-context.ts';
import { sessionUser } from '../sessions/login-session.ts';
import type { ClientRecord, GrantListing, SubjectType, UserRecord } from '../storage/storage.ts';
import { parseSubjectUrn, formatSubjectUrn } from '@gatehouse/protocol';
import { sessionHandoverRedirect } from '../tokens/session-handover.ts';
import { connectedIntegrations, marketplaceIntegrations } from './api-keys.ts';
import { marketplaceCategoryFilter, marketplaceSearchTerm, matchesMarketplaceSearch } from '../clients/marketplace-listing.ts';

interface SignedIn {
  user: UserRecord;
  /** With the request's language (issue 13). */
  frame: AccountFrame & { t: Translator };
}

function page(reply: FastifyReply, status: number, body: string): void {
  // Pages carry a CSRF token and the user's data: never cached.
  reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

/** The signed-in user, or undefined after answering with the login page (continuing at `returnTo`). */
async function signedIn(context: ServerContext, request: FastifyRequest, reply: FastifyReply, returnTo: string): Promise<SignedIn | undefined> {
  const user = await sessionUser(context, request);
  const brandName = context.options.brand.name;
  if (!user) {
    sendLoginStep(context, reply, { returnTo });
    return undefined;
  }
  return { user, frame: { brandName, csrfToken: reply.generateCsrf(), userName: user.name, t: requestTranslator(request) } };
}

const SUBJECT_TYPES: SubjectType[] = ['company', 'organization'];

async function administers(context: ServerContext, userId: string, subjectType: SubjectType, subjectId: string): Promise<boolean> {
  return (await context.storage.subjects.listAdministeredBy(userId, subjectType)).some((subject) => subject.subjectId === subjectId);
}

/** Grants on subjects the user administers, then grants the user made elsewhere; each once. */
async function visibleGrants(context: ServerContext, user: UserRecord): Promise<GrantListing[]> {
  const seen = new Map<string, GrantListing>();
  for (const subjectType of SUBJECT_TYPES) {
    for (const subject of await context.storage.subjects.listAdministeredBy(user.userId, subjectType)) {
      for (const grant of await context.storage.grants.listActive({ subjectType, subjectId: subject.subjectId })) seen.set(grant.grantId, grant);
    }
  }
  for (const grant of await context.storage.grants.listActive({ userId: user.userId })) seen.set(grant.grantId, grant);
  return [...seen.values()].sort((a, b) => b.createdAt - a.createdAt);
}

async function connectedAppViews(context: ServerContext, user: UserRecord, t: Translator): Promise<ConnectedAppView[]> {
  const ns = context.options.brand.urnNamespace;
  const views: ConnectedAppView[] = [];
  for (const grant of await visibleGrants(context, user)) {
    const [client, subject, connectedBy, mayAct] = await Promise.all([
      context.storage.clients.find(grant.clientId), context.storage.subjects.find(grant.subjectType, grant.subjectId),
      context.storage.users.find(grant.userId), administers(context, user.userId, grant.subjectType, grant.subjectId),
    ]);
    if (!client || client.status === 'deleted') continue;
    views.push({
      // Issue 13: users never see identifiers; a subject gone from the directory is "the company".
      grantId: grant.grantId, clientName: client.clientName, logoUri: client.logoUri, subjectName: subject?.name ?? t.t('account.theCompany'),
      subjectUrn: formatSubjectUrn(ns, grant.subjectType, grant.subjectId), scopes: grant.scope.map((name) => ({ name, description: t.scope(name) })),
      connectedAt: grant.createdAt, lastUsedAt: grant.lastUsedAt,
      connectedBy: grant.userId === user.userId ? t.t('account.you') : connectedBy ? `${connectedBy.name} (${connectedBy.email})` : t.t('account.formerUser'),
      mayDisconnect: mayAct, hasSettings: mayAct && client.status === 'active' && client.settingsUri !== null,
    });
  }
  return views;
}

/** GET /account/connected-apps */
export async function connectedAppsEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await signedIn(context, request, reply, '/account/connected-apps');
  if (!session) return;
  const disconnected = (request.query as Record<string, unknown>).disconnected;
  page(reply, 200, connectedAppsPage({
    ...session.frame, apps: await connectedAppViews(context, session.user, session.frame.t),
    disconnected: typeof disconnected === 'string' ? await disconnectedNotice(context, session.user, disconnected, session.frame.t) : undefined,
    apiKeySection: await connectedIntegrations(context, session.user, session.frame.csrfToken, request.query as Record<string, unknown>, session.frame.t), // issue 16
  }));
}

/** The app and company of a grant the user disconnected (named in the notice), if it is one they administer and it is revoked. */
async function disconnectedNotice(context: ServerContext, user: UserRecord, grantId: string, t: Translator): Promise<{ clientName: string; subjectName: string } | undefined> {
  if (!/^[0-9a-fA-F-]{36}$/.test(grantId)) return undefined;
  const grant = await context.storage.grants.find(grantId);
  if (!grant || grant.revokedAt === null || !(await administers(context, user.userId, grant.subjectType, grant.subjectId))) return undefined;
  const [client, subject] = await Promise.all([context.storage.clients.find(grant.clientId), context.storage.subjects.find(grant.subjectType, grant.subjectId)]);
  return { clientName: client?.clientName ?? t.t('account.theApp'), subjectName: subject?.name ?? t.t('account.theCompany') };
}

/** The active grant named in the path, if the user administers its subject; otherwise undefined after a 404 or 403 page. */
async function administeredGrant(context: ServerContext, request: FastifyRequest, reply: FastifyReply, session: SignedIn) {
  const grantId = (request.params as { grant_id: string }).grant_id;
  const grant = await context.storage.grants.find(grantId);
  const visible = grant && grant.revokedAt === null && (await visibleGrants(context, session.user)).some((candidate) => candidate.grantId === grantId);
  if (!grant || !visible) {
    page(reply, 404, accountMessagePage(session.frame, session.frame.t.t('account.noSuchConnectionTitle'), session.frame.t.t('account.noSuchConnection')));
    return undefined;
  }
  if (!(await administers(context, session.user.userId, grant.subjectType, grant.subjectId))) {
    const subject = await context.storage.subjects.find(grant.subjectType, grant.subjectId);
    const { t } = session.frame;
    page(reply, 403, accountMessagePage(session.frame, t.t('account.notAllowedTitle'), t.t('account.onlyAdminCanChange', { subject: subject?.name ?? t.t('account.theCompany') })));
    return undefined;
  }
  return grant;
}

/** POST /account/connected-apps/:grant_id/disconnect */
export async function disconnectEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  rememberSwitchedLocale(context, request, reply);
  const session = await signedIn(context, request, reply, '/account/connected-apps');
  if (!session) return;
  const grant = await administeredGrant(context, request, reply, session);
  if (!grant) return;
  if (!confirmedAction(request)) {
    // Issue 13: a disconnect is confirmed first, naming the app and the company it loses access to; the confirmation's
    // language switch (endpoints/confirmation.ts) shows it again in the language chosen and never disconnects.
    const [client, subject] = await Promise.all([context.storage.clients.find(grant.clientId), context.storage.subjects.find(grant.subjectType, grant.subjectId)]);
    page(reply, 200, disconnectConfirmationPage({
      ...session.frame, grantId: grant.grantId, clientName: client?.clientName ?? session.frame.t.t('account.thisApp'),
      subjectName: subject?.name ?? session.frame.t.t('account.theCompany'), scopes: grant.scope.map((name) => session.frame.t.scope(name)),
    }));
    return;
  }
  await revokeGrantBy(context.storage, grant.grantId, context.clock.nowSeconds(), `user:${session.user.userId}`, 'user_disconnected', context.options.brand.urnNamespace);
  reply.redirect(`/account/connected-apps?disconnected=${grant.grantId}`, 303);
}

/** POST /account/connected-apps/:grant_id/settings */
export async function connectedAppSettingsEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await signedIn(context, request, reply, '/account/connected-apps');
  if (!session) return;
  const grant = await administeredGrant(context, request, reply, session);
  if (!grant) return;
  const client = await context.storage.clients.find(grant.clientId);
  if (!client || client.status !== 'active' || !client.settingsUri) {
    page(reply, 404, accountMessagePage(session.frame, session.frame.t.t('account.noSettingsTitle'), session.frame.t.t('account.noSettings')));
    return;
  }
  reply.redirect(await sessionHandoverRedirect(context, client, session.user, grant, client.settingsUri, 'settings', requestLocale(request)), 303);
}

/** Approved apps users may start connecting from the platform: active, branding-verified partner clients with an initiation URI. */
async function listedApps(context: ServerContext): Promise<ClientRecord[]> {
  return (await context.storage.clients.list())
    // Approved means active and with branding verified: a renamed app waits for review before it is listed again.
    .filter((client) => client.kind === 'client' && client.status === 'active' && client.brandingVerified && client.initiationUri !== null)
    .sort((a, b) => a.clientName.localeCompare(b.clientName));
}

/** GET /marketplace */
export async function marketplaceEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const query = request.query as Record<string, unknown>;
  const search = marketplaceSearchTerm(query.q);
  const category = marketplaceCategoryFilter(query.category);
  // A shared search link survives the login step: its query, rebuilt from what the page reads (login.ts RETURN_TO).
  const kept = new URLSearchParams({ ...(search ? { q: search } : {}), ...(category ? { category } : {}) }).toString();
  const session = await signedIn(context, request, reply, kept ? `/marketplace?${kept}` : '/marketplace');
  if (!session) return;
  const ns = context.options.brand.urnNamespace;
  // Issue 13: the apps' active grants the user can see (connected apps), by client: the "Connected" state.
  const grantsByClient = new Map<string, GrantListing[]>();
  for (const grant of await visibleGrants(context, session.user)) grantsByClient.set(grant.clientId, [...(grantsByClient.get(grant.clientId) ?? []), grant]);
  const matching = (await listedApps(context)).filter((client) => matchesMarketplaceSearch(client, search, category));
  const apps = await Promise.all(matching.map(async (client) => {
    const subjectType = client.subjectType ?? 'company';
    const grants = grantsByClient.get(client.clientId) ?? [];
    const connectedIds = new Set(grants.map((grant) => `${grant.subjectType}:${grant.subjectId}`));
    const subjects = (await context.storage.subjects.listAdministeredBy(session.user.userId, subjectType))
      .filter((subject) => !connectedIds.has(`${subject.subjectType}:${subject.subjectId}`));
    const connectedTo = await Promise.all(grants.map(async (grant) => (await context.storage.subjects.find(grant.subjectType, grant.subjectId))?.name ?? session.frame.t.t('account.theCompany')));
    return {
      clientId: client.clientId, clientName: client.clientName, logoUri: client.logoUri, clientUri: client.clientUri, tosUri: client.tosUri,
      policyUri: client.policyUri, scopes: client.scopes.map((name) => ({ name, description: session.frame.t.scope(name) })),
      subjectType, description: client.description ?? null, category: client.category ?? null, connectedTo: [...new Set(connectedTo)].sort(),
      subjects: subjects.map((subject) => ({ urn: formatSubjectUrn(ns, subject.subjectType, subject.subjectId), name: subject.name })),
    };
  }));
  page(reply, 200, marketplacePage({
    ...session.frame, apps, search, category: category ?? '', filtered: search !== '' || category !== undefined,
    // Issue 16; the search and category choose among these as among the apps.
    apiKeySection: await marketplaceIntegrations(context, session.user.userId, session.frame.csrfToken, session.frame.t, (client) => matchesMarketplaceSearch(client, search, category)),
  }));
}

/** POST /marketplace/:client_id/connect (form field `subject`: a subject URN). */
export async function marketplaceConnectEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await signedIn(context, request, reply, '/marketplace');
  if (!session) return;
  const clientId = (request.params as { client_id: string }).client_id;
  const client = (await listedApps(context)).find((candidate) => candidate.clientId === clientId);
  if (!client) {
    page(reply, 404, accountMessagePage(session.frame, session.frame.t.t('account.noSuchAppTitle'), session.frame.t.t('account.noSuchApp')));
    return;
  }
  const body = (request.body ?? {}) as Record<string, unknown>;
  const chosen = typeof body.subject === 'string' ? parseSubjectUrn(context.options.brand.urnNamespace, body.subject) : undefined;
  const subjectType = client.subjectType ?? 'company';
  if (!chosen || chosen.subjectType !== subjectType || !(await administers(context, session.user.userId, chosen.subjectType, chosen.subjectId))) {
    page(reply, 403, accountMessagePage(session.frame, session.frame.t.t('account.notAllowedTitle'), session.frame.t.t('account.pickSubject', { subjectType })));
    return;
  }
  reply.redirect(await sessionHandoverRedirect(context, client, session.user, chosen, client.initiationUri!, 'initiation', requestLocale(request)), 303);
}

/** GET / (the home page of a signed-in user; signed out: the login page, returning here). */
export async function homeEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await signedIn(context, request, reply, '/');
  if (!session) return;
  const isDeveloper = await context.storage.developers.isDeveloper(session.user.userId);
  page(reply, 200, homePage({ ...session.frame, isDeveloper }));
}

/**
 * GET /account (who is signed in, and the companies and organizations they administer). Signed out: the
 * login page, continuing at `/account` (login.ts RETURN_TO).
 */
export async function accountEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await signedIn(context, request, reply, '/account');
  if (!session) return;
  const administered = (await Promise.all(SUBJECT_TYPES.map((subjectType) => context.storage.subjects.listAdministeredBy(session.user.userId, subjectType)))).flat();
  page(reply, 200, accountPage({
    ...session.frame, email: session.user.email,
    administered: administered.map((subject) => ({ name: subject.name, kind: subject.subjectType })),
    isDeveloper: await context.storage.developers.isDeveloper(session.user.userId),
  }));
}
