/**
 * Issue 16, API keys, the user's side (SPEC §3 "API keys, the documented alternative to OAuth"):
 *
 * Standalone keys, for administrators of a company or organization:
 * - `GET /account/api-keys`: the keys of every subject the user administers (name, access level, scopes
 *   in words, created, expiry, last use), each with Delete…; a notice after a deletion.
 * - `GET /account/api-keys/new`, `POST /account/api-keys`: name, access level (a company or an
 *   organization the user administers), expiration, permissions (scope checkboxes). A refused form comes
 *   back (422) with field-level errors and the input kept; success shows the key once (see below).
 * - `POST /account/api-keys/:key_id/delete`: a confirmation, then (`confirm=yes`) the deletion
 *   (audit `api_key.deleted`); 303 back with a notice.
 *
 * Integrated keys, for integrations an administrator allowed to offer them (api_key_integrations):
 * - the marketplace lists them (integrationsSection); `POST /marketplace/:client_id/api-key` with a
 *   company the user administers shows the permissions dialog (Cancel / Allow); with `confirm=yes` it
 *   installs the key (replacing the company's previous key of this integration: reconnect and rotation)
 *   and shows it once with a copy button and "Go to <integration>" (its client URI, else initiation URI).
 *
 * A new key is shown once, post/redirect/get, as the portal shows a new client secret (endpoints/portal.ts):
 * the POST that creates or installs it answers 303 to `GET /account/api-keys/:key_id/created` and hands the
 * value over in a short-lived HttpOnly, SameSite=Strict cookie (`__Host-` outside development); that page
 * shows it only if it is this key's (its digest) and clears the cookie at once. A reload shows it no more and
 * creates nothing (it re-POSTed and created a second live key; found by a browser review).
 * - the connected apps page lists them (integratedKeysSection) with New key… and Revoke…;
 *   `POST /account/connected-apps/api-keys/:key_id/revoke` confirms, then revokes (audit `api_key.revoked`).
 *
 * The confirmations (deleting, revoking) and the permissions dialog answer a POST: their language switch posts the same
 * values again with `locale` (endpoints/confirmation.ts), the same page comes back in that language, and a form
 * carrying `locale` never deletes, revokes or installs.
 *
 * Every form is CSRF- and Origin-checked before these handlers run (routes.ts). Only an administrator of
 * the key's subject may delete, revoke or install; anyone else gets 403, an unknown key 404.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ENGLISH, type Translator } from '../i18n/i18n.ts';
import { requestTranslator } from '../i18n/request-language.ts';
import { confirmedAction, rememberSwitchedLocale } from './confirmation.ts';
import { describeScope, formatSubjectUrn, isUuid, parseSubjectUrn, SCOPE_CATALOGUE } from '@gatehouse/protocol';
import {
  apiKeyConfirmationPage, apiKeyMessagePage, apiKeyShownPage, apiKeysPage, integratedKeysSection, integratedOnward, integrationsSection, newApiKeyPage,
  permissionsDialogPage, standaloneOnward, type IntegratedKeyView, type NewApiKeyValues, type StandaloneKeyView, type SubjectChoice,
} from '../pages/api-key-pages.ts';
import type { AccountFrame } from '../pages/account-pages.ts';
import type { SafeHtml } from '../pages/html.ts';
import type { ServerContext } from '../server-context.ts';
import { sessionUser } from '../sessions/login-session.ts';
import { sendLoginStep } from '../sessions/login-step.ts';
import type { ApiKeyRecord, ClientRecord, SubjectType, UserRecord } from '../storage/storage.ts';
import { apiKeyState } from '../api-keys/api-key.ts';
import { createStandaloneApiKey, installIntegratedApiKey, revokeApiKey, standaloneApiKeyProblems } from '../api-keys/api-key-service.ts';
import { apiKeyDigestOf } from '../api-keys/api-key.ts';
import { hostCookieName, hostCookieOptions } from '../http/host-cookies.ts';

interface SignedIn {
  user: UserRecord;
  /** With the request's language (issue 13). */
  frame: AccountFrame & { t: Translator };
}

const SUBJECT_TYPES: SubjectType[] = ['company', 'organization'];

const KEY_COOKIE = 'gatehouse_new_api_key';
/** Long enough for the redirect that follows the POST; the page clears it on first view anyway. */
const KEY_COOKIE_SECONDS = 120;

/** Post/redirect/get: the new value goes to the page that shows it once in a short-lived cookie, never in a URL or the database. */
function handOverKey(context: ServerContext, reply: FastifyReply, keyId: string, value: string): void {
  reply.setCookie(hostCookieName(context.options.environment, KEY_COOKIE), value, hostCookieOptions(context.options.environment, 'strict', KEY_COOKIE_SECONDS));
  reply.redirect(`/account/api-keys/${keyId}/created`, 303);
}

function page(reply: FastifyReply, status: number, body: string, withCopyScript = false): void {
  // The copy button needs /assets/portal.js: only the page showing a key adds `script-src 'self'` (no inline script).
  const csp = reply.getHeader('content-security-policy');
  if (withCopyScript && typeof csp === 'string' && !csp.includes('script-src')) reply.header('content-security-policy', `${csp};script-src 'self'`);
  reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(withCopyScript ? body.replace('</body>', '<script src="/assets/portal.js"></script>\n</body>') : body);
}

async function signedIn(context: ServerContext, request: FastifyRequest, reply: FastifyReply, returnTo: string): Promise<SignedIn | undefined> {
  const user = await sessionUser(context, request);
  if (!user) {
    sendLoginStep(context, reply, { returnTo });
    return undefined;
  }
  return { user, frame: { brandName: context.options.brand.name, csrfToken: reply.generateCsrf(), userName: user.name, t: requestTranslator(request) } };
}

/** Companies and organizations the user administers, as form choices. */
async function administeredSubjects(context: ServerContext, userId: string): Promise<SubjectChoice[]> {
  const ns = context.options.brand.urnNamespace;
  return (await Promise.all(SUBJECT_TYPES.map((subjectType) => context.storage.subjects.listAdministeredBy(userId, subjectType)))).flat()
    .map((subject) => ({ urn: formatSubjectUrn(ns, subject.subjectType, subject.subjectId), name: subject.name, subjectType: subject.subjectType }));
}

async function administers(context: ServerContext, userId: string, subjectType: SubjectType, subjectId: string): Promise<boolean> {
  return (await context.storage.subjects.listAdministeredBy(userId, subjectType)).some((subject) => subject.subjectId === subjectId);
}

async function createdBy(context: ServerContext, user: UserRecord, userId: string, t: Translator): Promise<string> {
  if (userId === user.userId) return t.t('apiKeys.createdByYou');
  const creator = await context.storage.users.find(userId);
  return creator ? creator.name : t.t('account.formerUser');
}

const bodyOf = (request: FastifyRequest) => (request.body ?? {}) as Record<string, unknown>;
const text = (body: Record<string, unknown>, name: string) => (typeof body[name] === 'string' ? (body[name] as string) : '');
const scopeChoices = (t: Translator) => [...SCOPE_CATALOGUE.keys()].map((name) => ({ name, description: t.scope(name) }));

/** GET /account/api-keys */
export async function apiKeysEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await signedIn(context, request, reply, '/account/api-keys');
  if (!session) return;
  const subjects = await administeredSubjects(context, session.user.userId);
  const ns = context.options.brand.urnNamespace;
  const now = context.clock.nowSeconds();
  const keys: StandaloneKeyView[] = [];
  for (const subject of subjects) {
    const parsed = parseSubjectUrn(ns, subject.urn)!;
    for (const key of await context.storage.apiKeys.list({ subjectType: parsed.subjectType, subjectId: parsed.subjectId, keyType: 'standalone' })) {
      keys.push({
        keyId: key.keyId, name: key.name, displayPrefix: key.displayPrefix, subjectName: subject.name, subjectType: key.subjectType,
        scopes: key.scopes.map((scope) => session.frame.t.scope(scope)), createdAt: key.createdAt, createdBy: await createdBy(context, session.user, key.createdByUserId, session.frame.t),
        expiresAt: key.expiresAt, expired: apiKeyState(key, now) === 'expired', lastUsedAt: key.lastUsedAt, mayDelete: true,
      });
    }
  }
  keys.sort((a, b) => b.createdAt - a.createdAt);
  const deleted = (request.query as Record<string, unknown>).deleted;
  let deletedName: string | undefined;
  if (typeof deleted === 'string' && isUuid(deleted)) {
    const key = await context.storage.apiKeys.find(deleted);
    if (key && key.revocationReason === 'deleted' && (await administers(context, session.user.userId, key.subjectType, key.subjectId))) deletedName = key.name;
  }
  page(reply, 200, apiKeysPage({ ...session.frame, keys, canCreate: subjects.length > 0, deletedName }));
}

/** GET /account/api-keys/new */
export async function newApiKeyEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await signedIn(context, request, reply, '/account/api-keys/new');
  if (!session) return;
  const subjects = await administeredSubjects(context, session.user.userId);
  if (subjects.length === 0) {
    const { t } = session.frame;
    page(reply, 403, apiKeyMessagePage(session.frame, t.t('account.notAllowedTitle'), t.t('apiKeys.noSubjects'), { href: '/account/api-keys', label: t.t('apiKeys.backToKeys') }));
    return;
  }
  const values: NewApiKeyValues = { name: '', subject: subjects[0]!.urn, expiration: '7776000', scope: [] };
  page(reply, 200, newApiKeyPage({ ...session.frame, subjects, scopes: scopeChoices(session.frame.t), values }));
}

/** POST /account/api-keys */
export async function createApiKeyEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await signedIn(context, request, reply, '/account/api-keys/new');
  if (!session) return;
  const body = bodyOf(request);
  const scope = (Array.isArray(body.scope) ? body.scope : body.scope === undefined ? [] : [body.scope]).filter((value): value is string => typeof value === 'string');
  const values: NewApiKeyValues = { name: text(body, 'name').trim(), subject: text(body, 'subject'), expiration: text(body, 'expiration'), scope };
  const subjects = await administeredSubjects(context, session.user.userId);
  const subject = subjects.find((candidate) => candidate.urn === values.subject);
  const lifetimeSeconds = values.expiration === 'never' ? null : /^[1-9][0-9]{0,9}$/.test(values.expiration) ? Number(values.expiration) : undefined;
  const errors = standaloneApiKeyProblems({ name: values.name, scopes: values.scope, lifetimeSeconds }, [...SCOPE_CATALOGUE.keys()]);
  // The subject must be one the user administers now (checked here, not trusted from the form).
  if (!subject) errors.subject = 'subject_invalid';
  if (Object.keys(errors).length > 0 || !subject) {
    page(reply, 422, newApiKeyPage({ ...session.frame, subjects, scopes: scopeChoices(session.frame.t), values, errors }));
    return;
  }
  const parsed = parseSubjectUrn(context.options.brand.urnNamespace, subject.urn)!;
  const created = await createStandaloneApiKey(context, {
    userId: session.user.userId, name: values.name, subjectType: parsed.subjectType, subjectId: parsed.subjectId, scopes: values.scope,
    expiresAt: lifetimeSeconds === null || lifetimeSeconds === undefined ? null : context.clock.nowSeconds() + lifetimeSeconds,
  });
  handOverKey(context, reply, created.key.keyId, created.value);
}

/**
 * GET /account/api-keys/:key_id/created: the key handed over by the POST that created or installed it, once.
 * Without that cookie (a reload, a bookmark) it shows nothing secret: 303 to the key's list.
 */
export async function createdApiKeyEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const keyId = (request.params as { key_id: string }).key_id;
  const session = await signedIn(context, request, reply, '/account/api-keys');
  if (!session) return;
  const cookieName = hostCookieName(context.options.environment, KEY_COOKIE);
  const handedOver = request.cookies[cookieName];
  if (handedOver !== undefined) reply.clearCookie(cookieName, hostCookieOptions(context.options.environment, 'strict'));
  const key = isUuid(keyId) ? await context.storage.apiKeys.find(keyId) : undefined;
  const list = key?.keyType === 'integrated' ? '/account/connected-apps' : '/account/api-keys';
  // Only this key's own value is shown, to the user who created it while they still administer its subject: a
  // cookie planted by someone else (or another key's) cannot put text on the page, and one left in a shared
  // browser after a sign-out is not shown to the next person who signs in there (it lives 120 s).
  const shown = handedOver !== undefined && key !== undefined && key.revokedAt === null && key.createdByUserId === session.user.userId
    && apiKeyDigestOf(context.codec, handedOver) === key.keyDigest && (await administers(context, session.user.userId, key.subjectType, key.subjectId));
  if (!shown) {
    reply.redirect(list, 303);
    return;
  }
  const { t } = session.frame;
  const subject = await context.storage.subjects.find(key.subjectType, key.subjectId);
  const subjectName = subject?.name ?? t.t('account.theCompany');
  if (key.keyType === 'integrated') {
    const client = key.clientId ? await context.storage.clients.find(key.clientId) : undefined;
    const clientName = client?.clientName ?? key.name;
    page(reply, 200, apiKeyShownPage({
      ...session.frame, title: t.t('apiKeys.integratedShownTitle', { app: clientName }), intro: subjectName, value: handedOver,
      onward: integratedOnward(clientName, client ? (client.clientUri ?? client.initiationUri) : null, t),
    }), true);
    return;
  }
  page(reply, 200, apiKeyShownPage({ ...session.frame, title: t.t('apiKeys.shownTitle'), intro: `${key.name} · ${subjectName}`, value: handedOver, onward: standaloneOnward(t) }), true);
}

/** The key named in the path if the user administers its subject; otherwise undefined after a 404 or 403 page. */
async function administeredKey(context: ServerContext, request: FastifyRequest, reply: FastifyReply, session: SignedIn, back: { href: string; label: string }): Promise<ApiKeyRecord | undefined> {
  const keyId = (request.params as { key_id: string }).key_id;
  const key = isUuid(keyId) ? await context.storage.apiKeys.find(keyId) : undefined;
  const { t } = session.frame;
  if (!key || key.revokedAt !== null) {
    page(reply, 404, apiKeyMessagePage(session.frame, t.t('apiKeys.notFoundTitle'), t.t('apiKeys.notFound'), back));
    return undefined;
  }
  if (!(await administers(context, session.user.userId, key.subjectType, key.subjectId))) {
    const subject = await context.storage.subjects.find(key.subjectType, key.subjectId);
    page(reply, 403, apiKeyMessagePage(session.frame, t.t('account.notAllowedTitle'), t.t('apiKeys.notAllowed', { subject: subject?.name ?? t.t('account.theCompany') }), back));
    return undefined;
  }
  return key;
}

/** POST /account/api-keys/:key_id/delete */
export async function deleteApiKeyEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  rememberSwitchedLocale(context, request, reply);
  const session = await signedIn(context, request, reply, '/account/api-keys');
  if (!session) return;
  const { t } = session.frame;
  const back = { href: '/account/api-keys', label: t.t('apiKeys.backToKeys') };
  const key = await administeredKey(context, request, reply, session, back);
  if (!key) return;
  if (key.keyType !== 'standalone') {
    page(reply, 404, apiKeyMessagePage(session.frame, t.t('apiKeys.notFoundTitle'), t.t('apiKeys.notFound'), back));
    return;
  }
  if (!confirmedAction(request)) {
    const subject = await context.storage.subjects.find(key.subjectType, key.subjectId);
    page(reply, 200, apiKeyConfirmationPage({
      ...session.frame, title: t.t('apiKeys.deleteTitle', { name: key.name }), warning: t.t('apiKeys.deleteWarning', { subject: subject?.name ?? t.t('account.theCompany') }),
      action: `/account/api-keys/${key.keyId}/delete`, confirmLabel: t.t('apiKeys.deleteConfirm'), cancelHref: '/account/api-keys',
    }));
    return;
  }
  await revokeApiKey(context, key.keyId, `user:${session.user.userId}`, 'deleted');
  reply.redirect(`/account/api-keys?deleted=${key.keyId}`, 303);
}

/** Integrations users may install: active, branding-verified partner clients an administrator allowed to offer integrated keys. */
async function offeredIntegrations(context: ServerContext): Promise<Array<{ client: ClientRecord; scopes: string[] }>> {
  const offered: Array<{ client: ClientRecord; scopes: string[] }> = [];
  for (const integration of await context.storage.apiKeys.listIntegrations()) {
    const client = await context.storage.clients.find(integration.clientId);
    if (client && client.kind === 'client' && client.status === 'active' && client.brandingVerified) offered.push({ client, scopes: integration.scopes });
  }
  return offered.sort((a, b) => a.client.clientName.localeCompare(b.client.clientName));
}

/** The marketplace's section of integrations with API keys, for the signed-in user (account.ts marketplaceEndpoint appends it). */
export async function marketplaceIntegrations(
  context: ServerContext, userId: string, csrfToken: string, t?: Translator, shown: (client: ClientRecord) => boolean = () => true,
): Promise<SafeHtml> {
  const companies = (await administeredSubjects(context, userId)).filter((subject) => subject.subjectType === 'company');
  const integrations = (await offeredIntegrations(context)).filter(({ client }) => shown(client)).map(({ client, scopes }) => ({
    clientId: client.clientId, clientName: client.clientName, scopes: scopes.map((scope) => (t ? t.scope(scope) : describeScope(scope))), companies,
  }));
  return integrationsSection({ csrfToken, integrations, t });
}

/** The connected apps page's section of integrated keys (account.ts connectedAppsEndpoint appends it). */
export async function connectedIntegrations(context: ServerContext, user: UserRecord, csrfToken: string, query: Record<string, unknown>, t?: Translator): Promise<SafeHtml> {
  const keys: IntegratedKeyView[] = [];
  const ns = context.options.brand.urnNamespace;
  for (const subject of (await administeredSubjects(context, user.userId)).filter((candidate) => candidate.subjectType === 'company')) {
    const parsed = parseSubjectUrn(ns, subject.urn)!;
    for (const key of await context.storage.apiKeys.list({ subjectType: parsed.subjectType, subjectId: parsed.subjectId, keyType: 'integrated' })) {
      const client = await context.storage.clients.find(key.clientId!);
      if (!client || client.status === 'deleted') continue;
      keys.push({
        keyId: key.keyId, clientId: client.clientId, clientName: client.clientName, subjectUrn: subject.urn, subjectName: subject.name, displayPrefix: key.displayPrefix,
        scopes: key.scopes.map((scope) => (t ? t.scope(scope) : describeScope(scope))), createdAt: key.createdAt,
        createdBy: await createdBy(context, user, key.createdByUserId, t ?? ENGLISH), lastUsedAt: key.lastUsedAt, mayChange: true,
      });
    }
  }
  let revoked: { clientName: string; subjectName: string } | undefined;
  const revokedId = query.api_key_revoked;
  if (typeof revokedId === 'string' && isUuid(revokedId)) {
    const key = await context.storage.apiKeys.find(revokedId);
    if (key && key.revocationReason === 'revoked' && key.clientId && (await administers(context, user.userId, key.subjectType, key.subjectId))) {
      const [client, subject] = await Promise.all([context.storage.clients.find(key.clientId), context.storage.subjects.find(key.subjectType, key.subjectId)]);
      revoked = { clientName: client?.clientName ?? key.name, subjectName: subject?.name ?? (t ?? ENGLISH).t('account.theCompany') };
    }
  }
  return integratedKeysSection({ csrfToken, keys, revoked, t });
}

/** POST /marketplace/:client_id/api-key (fields `subject`, then `confirm=yes` from the permissions dialog). */
export async function installApiKeyEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  rememberSwitchedLocale(context, request, reply);
  const session = await signedIn(context, request, reply, '/marketplace');
  if (!session) return;
  const clientId = (request.params as { client_id: string }).client_id;
  const offered = (await offeredIntegrations(context)).find((candidate) => candidate.client.clientId === clientId);
  const { t } = session.frame;
  const back = { href: '/marketplace', label: t.t('apiKeys.backToMarketplace') };
  if (!offered) {
    page(reply, 404, apiKeyMessagePage(session.frame, t.t('apiKeys.noSuchAppTitle'), t.t('apiKeys.noSuchApp'), back));
    return;
  }
  const body = bodyOf(request);
  const chosen = parseSubjectUrn(context.options.brand.urnNamespace, text(body, 'subject'));
  // Integrated keys are for one company (issue 16), one the user administers now.
  if (!chosen || chosen.subjectType !== 'company' || !(await administers(context, session.user.userId, chosen.subjectType, chosen.subjectId))) {
    page(reply, 403, apiKeyMessagePage(session.frame, t.t('account.notAllowedTitle'), t.t('apiKeys.pickCompany'), back));
    return;
  }
  const { client } = offered;
  const subject = await context.storage.subjects.find(chosen.subjectType, chosen.subjectId);
  const subjectName = subject?.name ?? t.t('account.theCompany');
  if (!confirmedAction(request)) {
    const existing = await context.storage.apiKeys.list({ clientId, subjectType: chosen.subjectType, subjectId: chosen.subjectId, keyType: 'integrated' });
    page(reply, 200, permissionsDialogPage({
      ...session.frame, clientId, clientName: client.clientName, subjectUrn: text(body, 'subject'), subjectName, scopes: offered.scopes.map((scope) => t.scope(scope)), replaces: existing.length > 0,
    }));
    return;
  }
  const installed = await installIntegratedApiKey(context, { userId: session.user.userId, client, subjectType: chosen.subjectType, subjectId: chosen.subjectId });
  // Post/redirect/get as for standalone keys: a reload installs no second key (it replaced the one just shown).
  handOverKey(context, reply, installed.key.keyId, installed.value);
}

/** POST /account/connected-apps/api-keys/:key_id/revoke */
export async function revokeIntegratedApiKeyEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  rememberSwitchedLocale(context, request, reply);
  const session = await signedIn(context, request, reply, '/account/connected-apps');
  if (!session) return;
  const { t } = session.frame;
  const back = { href: '/account/connected-apps', label: t.t('apiKeys.backToConnectedApps') };
  const key = await administeredKey(context, request, reply, session, back);
  if (!key) return;
  if (key.keyType !== 'integrated') {
    page(reply, 404, apiKeyMessagePage(session.frame, t.t('apiKeys.notFoundTitle'), t.t('apiKeys.notFound'), back));
    return;
  }
  if (!confirmedAction(request)) {
    const [client, subject] = await Promise.all([context.storage.clients.find(key.clientId!), context.storage.subjects.find(key.subjectType, key.subjectId)]);
    const clientName = client?.clientName ?? key.name;
    const names = { app: clientName, subject: subject?.name ?? t.t('account.theCompany') };
    page(reply, 200, apiKeyConfirmationPage({
      ...session.frame, title: t.t('apiKeys.revokeTitle', names), warning: t.t('apiKeys.revokeWarning', names),
      action: `/account/connected-apps/api-keys/${key.keyId}/revoke`, confirmLabel: t.t('apiKeys.revokeConfirm'), cancelHref: '/account/connected-apps',
    }));
    return;
  }
  await revokeApiKey(context, key.keyId, `user:${session.user.userId}`, 'revoked');
  reply.redirect(`/account/connected-apps?api_key_revoked=${key.keyId}`, 303);
}
