/**
 * The developer portal (issue 3): partner developers register, edit, brand, rotate and delete their own
 * OAuth 2.0 clients. Signed in with the same login page and session as the authorization flow
 * (`return_to=/portal`); only users marked as partner developers may use it, and each sees and changes
 * only the clients it registered (others' answer 404, as if they did not exist).
 *
 * Forms are CSRF-checked before these handlers run (routes.ts). Every change goes through
 * clients/client-management.ts with the actor `user:<id>`, so the rules and audit events are the admin
 * API's and the CLI's.
 *
 * A new secret is shown once without ever being stored in the clear server-side: the POST that issues it
 * answers 303 to the client's page and hands the secret over in a short-lived HttpOnly, SameSite=Strict
 * cookie (`__Host-` outside development, so Path=/); the page shows it only if it matches the stored
 * digest, and clears the cookie at once, so a reload shows it no more.
 *
 * Issue 13: the client page lists the credentials with copy buttons, the issuer and every endpoint and
 * ready-to-paste setup; a refused form marks every refused field at once and keeps what was typed;
 * deleting a client, or rotating its secret with "disconnect every user" or without an overlap, first shows a confirmation page
 * naming what will happen (POST, then POST with `confirm=yes`); the integration activity lists the
 * client's audit events. Portal pages alone may load a script (`script-src 'self'`: /assets/portal.js).
 */
import { translator, type MessageKey, type Translator } from '../i18n/i18n.ts';
import { requestLocale } from '../i18n/request-language.ts';
import { rememberSwitchedLocale, switchingLanguage } from './confirmation.ts';
import { refusalInWords } from '../i18n/registration-refusals.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { clientSecretMatches } from '../clients/client-secret.ts';
import {
  ClientManagementError, deleteClient, findManagedClient, inspectLogo, rotateClientSecret, setClientLogo, updateClient, type ManagementContext,
} from '../clients/client-management.ts';
import { registerClient, RegistrationError } from '../clients/registration.ts';
import { hostCookieName, hostCookieOptions } from '../http/host-cookies.ts';
import { sendLoginStep } from '../sessions/login-step.ts';
import {
  activityPage, clientFormValues, clientPage, EMPTY_CLIENT_FORM, portalConfirmationPage, portalHomePage, portalMessagePage, registrationPage,
  type ActivityEntry, type ClientFormValues, type FieldErrors, type PortalFrame, type ServerEndpoints,
} from '../pages/portal-pages.ts';
import { validateClientMetadata, type ClientMetadata } from '../clients/registration.ts';
import { RETURN_TO } from './login.ts';
import { formPage } from '../http/form-page.ts';
import { describeScope, SCOPE_CATALOGUE } from '@gatehouse/protocol';
import { authorizationServerMetadata } from './metadata.ts';
import type { ServerContext } from '../server-context.ts';
import { sessionUser } from '../sessions/login-session.ts';
import type { ClientRecord, PartnerTeamMemberRecord, StoredAuditEvent, SubjectType, UserRecord } from '../storage/storage.ts';
import { randomUUID } from 'node:crypto';

const SECRET_COOKIE = 'gatehouse_new_secret';
/** Long enough for the redirect that follows the POST; the page clears it on first view anyway. */
const SECRET_COOKIE_SECONDS = 120;

type Body = Record<string, unknown>;

const scopeChoices = () => [...SCOPE_CATALOGUE.keys()].map((name) => ({ name, description: describeScope(name) }));

/** The signed-in partner developer, or undefined after answering (login page, or 403 for a non-developer). */
export async function developer(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<SignedInDeveloper | undefined> {
  const user = await sessionUser(context, request);
  const brandName = context.options.brand.name;
  if (!user) {
    // The login form posts to /login, which continues at return_to (login.ts allows only a few local paths):
    // a deep link to a client's page survives sign-in, and a form sent after the session ended returns to the
    // page it was sent from (its Referer, when that is a portal page); anything else returns to /portal.
    const path = request.method === 'GET' ? request.url.split('?')[0]! : formPage(request, context.options.issuer, '/portal');
    const returnTo = RETURN_TO.test(path) && path.startsWith('/portal') ? path : '/portal';
    sendLoginStep(context, reply, { returnTo });
    return undefined;
  }
  // Issue 13: the portal in the request's language (sessionUser noted the directory locale); after a POST the switch
  // returns to the page the form was sent from (else /portal).
  const t = translator(requestLocale(request), request.method === 'GET' ? request.url : formPage(request, context.options.issuer, '/portal'));
  const frame = { brandName, csrfToken: reply.generateCsrf(), userName: user.name, t };
  if (!(await context.storage.developers.isDeveloper(user.userId))) {
    // Issue 13 "Partner teams": an invitee becomes a partner developer by accepting; their invitations are the way onward.
    const invited = (await context.storage.partnerTeamInvitations.listPendingOfUser(user.userId, context.clock.nowSeconds())).length > 0;
    page(reply, 403, portalMessagePage(frame, t.t('portal.notDeveloperTitle'), t.t(invited ? 'portal.notDeveloperInvited' : 'portal.notDeveloper'),
      invited ? { href: '/portal/invitations', label: t.t('portal.seeInvitations') } : { href: '/', label: t.t('portal.goHome') }));
    return undefined;
  }
  // Issue 13 "Partner teams": a developer's first visit founds their team (they are its owner).
  const team = await context.storage.partnerTeams.ensureMembership(user.userId, randomUUID(), context.clock.nowSeconds());
  return { user, frame, team };
}

/** A signed-in partner developer, their page frame and their team membership. */
export interface SignedInDeveloper {
  user: UserRecord;
  frame: PortalFrame;
  team: PartnerTeamMemberRecord;
}

export function page(reply: FastifyReply, status: number, body: string): void {
  // The portal's copy buttons need its one script file: portal pages alone add `script-src 'self'` to the
  // CSP set for every page (authorization-server.ts; still no inline script, SPEC decision 18).
  const csp = reply.getHeader('content-security-policy');
  if (typeof csp === 'string' && !csp.includes('script-src')) reply.header('content-security-policy', `${csp};script-src 'self'`);
  // Pages may carry a new secret or a CSRF token: never cached.
  reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

/** The issuer, metadata URL and endpoints a partner configures (the RFC 8414 metadata's own values). */
function serverEndpoints(context: ServerContext): ServerEndpoints {
  const metadata = authorizationServerMetadata(context) as Record<string, string>;
  return {
    issuer: context.options.issuer, metadataUrl: `${context.options.issuer}/.well-known/oauth-authorization-server`,
    authorizationEndpoint: metadata.authorization_endpoint!, tokenEndpoint: metadata.token_endpoint!,
    revocationEndpoint: metadata.revocation_endpoint!, introspectionEndpoint: metadata.introspection_endpoint!,
  };
}

function management(context: ServerContext, user: UserRecord): ManagementContext {
  return { storage: context.storage, environment: context.options.environment, brandName: context.options.brand.name, now: context.clock.nowSeconds(), actor: `user:${user.userId}`,
    requireApproval: context.options.requireClientApproval, urnNamespace: context.options.brand.urnNamespace };
}

/**
 * A client of the developer's team, or undefined after a 404 (another partner's client is indistinguishable
 * from none). Issue 13 "Partner teams": every member sees and manages the team's clients.
 */
export async function ownClient(context: ServerContext, reply: FastifyReply, frame: PortalFrame, user: UserRecord, clientId: string): Promise<ClientRecord | undefined> {
  const client = await context.storage.clients.find(clientId);
  const team = await context.storage.partnerTeams.findMembership(user.userId);
  if (!client || client.kind !== 'client' || client.status === 'deleted' || !team || (await context.storage.partnerTeams.teamOfClient(clientId)) !== team.teamId) {
    page(reply, 404, portalMessagePage(frame, frame.t!.t('portal.noSuchClientTitle'), frame.t!.t('portal.noSuchClient')));
    return undefined;
  }
  return client;
}

/** GET /portal */
export async function portalHome(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const signedIn = await developer(context, request, reply);
  if (!signedIn) return;
  const all = await context.storage.partnerTeams.listClients(signedIn.team.teamId);
  const clients = all.filter((client) => client.status !== 'deleted');
  // After a deletion (POST …/delete answers 303 to /portal?deleted=ID): says which, for one of the team's own deleted clients only.
  const deletedId = (request.query as Record<string, unknown>).deleted;
  const deleted = typeof deletedId === 'string' ? all.find((client) => client.clientId === deletedId && client.status === 'deleted') : undefined;
  page(reply, 200, portalHomePage({
    ...signedIn.frame, clients, approvalRequired: context.options.environment !== 'development',
    ...(deleted ? { notice: signedIn.frame.t!.t('portal.deletedNotice', { client: deleted.clientName }) } : {}),
  }));
}

/** GET /portal/clients/new */
export async function portalNewClient(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const signedIn = await developer(context, request, reply);
  if (!signedIn) return;
  page(reply, 200, registrationPage({ ...signedIn.frame, values: EMPTY_CLIENT_FORM, scopes: scopeChoices() }));
}

/** POST /portal/clients (multipart: the fields and an optional logo file). */
export async function portalRegisterClient(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const signedIn = await developer(context, request, reply);
  if (!signedIn) return;
  const body = (request.body ?? {}) as Body;
  const values = formValues(body);
  const logo = Buffer.isBuffer(body.logo) && body.logo.length > 0 ? body.logo : undefined;
  const manage = management(context, signedIn.user);
  // Every refused field at once (the logo too), before anything is stored: a refused logo leaves no half-registered client.
  const t = signedIn.frame.t!;
  const errors = refusedFields(context, metadataOf(values, { clientType: values.token_endpoint_auth_method === 'none' ? 'public' : 'confidential', pkceRequired: true, logoUri: null }), t);
  if (logo) {
    try {
      inspectLogo(logo);
    } catch (error) {
      if (!(error instanceof RegistrationError)) throw error;
      errors.logo = reason(error, t);
    }
  }
  if (Object.keys(errors).length > 0) {
    // Browsers cannot put a chosen file back into a form: a logo that was fine is clearly asked for again.
    if (logo && !errors.logo) errors.logo = t.t('portal.logoAgain');
    page(reply, 400, registrationPage({ ...signedIn.frame, values, scopes: scopeChoices(), errors }));
    return;
  }
  try {
    const { client, clientSecret } = await registerClient(manage, {
      clientName: values.client_name, clientType: values.token_endpoint_auth_method === 'none' ? 'public' : 'confidential',
      redirectUris: lines(values.redirect_uris), scopes: values.scope, subjectType: (values.subject_type || null) as SubjectType | null,
      clientUri: values.client_uri || null, tosUri: values.tos_uri || null, policyUri: values.policy_uri || null,
      initiationUri: values.initiation_uri || null, settingsUri: values.settings_uri || null, contacts: addresses(values.contacts),
      description: values.description, category: values.category, // issue 13 (Marketplace)
    }, {}, { actor: manage.actor, ownerUserId: signedIn.user.userId });
    // The team's from the start (until this link is written, it is the team's through its registering developer).
    await context.storage.partnerTeams.addClient(signedIn.team.teamId, client.clientId);
    if (logo) await setClientLogo(manage, context.options.issuer, client.clientId, logo);
    if (clientSecret) handOverSecret(context, reply, clientSecret);
    reply.redirect(`/portal/clients/${client.clientId}`, 303);
  } catch (error) {
    if (!(error instanceof RegistrationError)) throw error;
    page(reply, 400, registrationPage({ ...signedIn.frame, values, scopes: scopeChoices(), errors: { [error.field]: reason(error, t) } }));
  }
}

/** GET /portal/clients/:client_id (shows a secret handed over by the POST that issued it, once). */
export async function portalShowClient(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const signedIn = await developer(context, request, reply);
  if (!signedIn) return;
  const client = await ownClient(context, reply, signedIn.frame, signedIn.user, (request.params as { client_id: string }).client_id);
  if (!client) return;
  const handedOver = request.cookies[hostCookieName(context.options.environment, SECRET_COOKIE)];
  let newSecret: string | undefined;
  if (handedOver !== undefined) {
    reply.clearCookie(hostCookieName(context.options.environment, SECRET_COOKIE), hostCookieOptions(context.options.environment, 'strict'));
    // Only a secret of this client is shown: a cookie planted by someone else cannot put text on the page.
    if (client.secretDigest && /^[A-Za-z0-9_-]{43}$/.test(handedOver) && clientSecretMatches(handedOver, client.secretDigest)) newSecret = handedOver;
  }
  // The details form and the logo upload come back here with what they did (a save gave no sign it was made).
  const t = signedIn.frame.t!;
  const notices: Record<string, string> = { saved: t.t('portal.savedNotice'), logo: t.t('portal.logoUploadedNotice') };
  const done = (request.query as { done?: unknown }).done;
  const notice = typeof done === 'string' && Object.hasOwn(notices, done) ? notices[done] : undefined;
  page(reply, 200, clientPage({
    ...signedIn.frame, client, values: clientFormValues(client), scopes: scopeChoices(), endpoints: serverEndpoints(context), newSecret, ...(notice ? { notice } : {}),
  }));
}

/** POST /portal/clients/:client_id (the details form). */
export async function portalUpdateClient(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await withOwnClient(context, request, reply, async (signedIn, client) => {
    const body = (request.body ?? {}) as Body;
    const values = formValues(body);
    const errors = refusedFields(context, metadataOf(values, client), signedIn.frame.t!);
    if (Object.keys(errors).length > 0) throw new RefusedFields(errors);
    // Removing a scope takes it from every connection that holds it (clients.update), and ends a connection left
    // with none: destructive, so said first with the numbers, as a secret rotation that disconnects is.
    const removed = client.scopes.filter((scope) => !values.scope.includes(scope));
    // The confirmation's language switch (`switchingLanguage`) only shows it again; without scopes to remove nothing is saved.
    const switching = switchingLanguage(body);
    if (switching && removed.length === 0) {
      reply.redirect(`/portal/clients/${client.clientId}`, 303);
      return;
    }
    if (removed.length > 0 && (body.confirm !== 'yes' || switching)) {
      const holding = (await context.storage.grants.listActive({ clientId: client.clientId })).filter((grant) => grant.scope.some((scope) => removed.includes(scope)));
      if (holding.length > 0 || switching) {
        const t = signedIn.frame.t!;
        const ended = holding.filter((grant) => grant.scope.every((scope) => removed.includes(scope))).length;
        page(reply, 200, portalConfirmationPage({
          ...signedIn.frame, cancelHref: `/portal/clients/${client.clientId}`, title: t.t('portal.narrowTitle', { client: client.clientName }),
          consequences: [
            // In words, in the page's language, as the client page lists them; the scope's name beside it for the developer.
            t.t('portal.narrowRemoved', { scopes: removed.map((scope) => `${t.scope(scope)} (${scope})`).join(', ') }),
            ...(holding.length > ended ? [t.t('portal.narrowNarrows', { count: holding.length - ended })] : []),
            ...(ended > 0 ? [t.t('portal.narrowRevokes', { count: ended, client: client.clientName })] : []),
          ],
          action: `/portal/clients/${client.clientId}`, confirmLabel: t.t('portal.narrowConfirm'), hidden: { ...values },
        }));
        return;
      }
    }
    await updateClient(management(context, signedIn.user), client.clientId, {
      clientName: values.client_name, redirectUris: lines(values.redirect_uris), scopes: values.scope,
      subjectType: (values.subject_type || null) as SubjectType | null, clientUri: values.client_uri || null, tosUri: values.tos_uri || null,
      policyUri: values.policy_uri || null, initiationUri: values.initiation_uri || null, settingsUri: values.settings_uri || null,
      contacts: addresses(values.contacts),
      description: values.description || null, category: (values.category || null) as ClientMetadata['category'], // issue 13 (Marketplace)
    });
    reply.redirect(`/portal/clients/${client.clientId}?done=saved`, 303);
  }, (request.body ?? {}) as Body);
}

/** POST /portal/clients/:client_id/logo (multipart). */
export async function portalUploadLogo(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await withOwnClient(context, request, reply, async (signedIn, client) => {
    const logo = (request.body as Body | undefined)?.logo;
    // An oversized file arrives cut at LOGO_MAX_BYTES + 1 (authorization-server.ts), so inspectLogo refuses it here, in the page.
    if (!Buffer.isBuffer(logo) || logo.length === 0) throw new RegistrationError('logo', 'choose an image file');
    await setClientLogo(management(context, signedIn.user), context.options.issuer, client.clientId, logo);
    reply.redirect(`/portal/clients/${client.clientId}?done=logo`, 303);
  });
}

/** An overlap as the form offered it (days, hours), in the page's language; seconds only for a value the form does not offer. */
function overlapInWords(t: Translator, seconds: number): string {
  if (seconds % 86_400 === 0) return t.t('portal.overlapDays', { count: seconds / 86_400 });
  if (seconds % 3_600 === 0) return t.t('portal.overlapHours', { count: seconds / 3_600 });
  return t.t('portal.overlapSeconds', { count: seconds });
}

/** POST /portal/clients/:client_id/secret */
export async function portalRotateSecret(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await withOwnClient(context, request, reply, async (signedIn, client) => {
    const body = (request.body ?? {}) as Body;
    const overlap = typeof body.overlap_seconds === 'string' && /^\d{1,9}$/.test(body.overlap_seconds) ? Number(body.overlap_seconds) : 0;
    const revokeGrants = body.revoke_grants === 'yes';
    // Destructive either way: the users' connections end, or the running integration's secret stops at once.
    if (switchingLanguage(body) || ((revokeGrants || overlap === 0) && body.confirm !== 'yes')) {
      const t = signedIn.frame.t!;
      const connections = revokeGrants ? (await context.storage.grants.listActive({ clientId: client.clientId })).length : 0;
      page(reply, 200, portalConfirmationPage({
        ...signedIn.frame, cancelHref: `/portal/clients/${client.clientId}`, title: t.t(revokeGrants ? 'portal.rotateTitle' : 'portal.rotateOnlyTitle', { client: client.clientName }),
        consequences: [
          overlap === 0 ? t.t('portal.rotateStopsNow') : t.t('portal.rotateKeepsWorkingFor', { duration: overlapInWords(t, overlap) }),
          ...(revokeGrants ? [t.t('portal.rotateRevokes', { count: connections, client: client.clientName })] : []),
          t.t('portal.rotateShownOnce'),
        ],
        // The button names what it does: "Rotate and disconnect everyone" only when it does disconnect them.
        action: `/portal/clients/${client.clientId}/secret`, confirmLabel: t.t(revokeGrants ? 'portal.rotateConfirm' : 'portal.rotateSecret'),
        hidden: { overlap_seconds: String(overlap), ...(revokeGrants ? { revoke_grants: 'yes' } : {}) },
      }));
      return;
    }
    const { clientSecret } = await rotateClientSecret(management(context, signedIn.user), client.clientId, { overlapSeconds: overlap, revokeGrants });
    handOverSecret(context, reply, clientSecret);
    reply.redirect(`/portal/clients/${client.clientId}`, 303);
  });
}

/** POST /portal/clients/:client_id/delete */
export async function portalDeleteClient(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await withOwnClient(context, request, reply, async (signedIn, client) => {
    const body = (request.body ?? {}) as Body;
    if (body.confirm !== 'yes' || switchingLanguage(body)) {
      const t = signedIn.frame.t!;
      const connections = (await context.storage.grants.listActive({ clientId: client.clientId })).length;
      page(reply, 200, portalConfirmationPage({
        ...signedIn.frame, cancelHref: `/portal/clients/${client.clientId}`, title: t.t('portal.deleteTitle', { client: client.clientName }),
        consequences: [
          t.t('portal.deleteStops', { clientId: client.clientId }),
          t.t('portal.deleteRevokes', { count: connections }),
          t.t('portal.cannotUndo'),
        ],
        action: `/portal/clients/${client.clientId}/delete`, confirmLabel: t.t('portal.deleteConfirm'), hidden: {},
      }));
      return;
    }
    await deleteClient(management(context, signedIn.user), client.clientId);
    reply.redirect(`/portal?deleted=${encodeURIComponent(client.clientId)}`, 303);
  });
}

/**
 * Runs a change on the developer's own client; a refusal re-renders the client's page naming the field. A language
 * switch's `locale` (`switchingLanguage`) is remembered as GET /language remembers it, and the answer is in it.
 */
async function withOwnClient(
  context: ServerContext, request: FastifyRequest, reply: FastifyReply,
  work: (signedIn: SignedInDeveloper, client: ClientRecord) => Promise<void>, submitted?: Body,
): Promise<void> {
  rememberSwitchedLocale(context, request, reply);
  const signedIn = await developer(context, request, reply);
  if (!signedIn) return;
  const client = await ownClient(context, reply, signedIn.frame, signedIn.user, (request.params as { client_id: string }).client_id);
  if (!client) return;
  try {
    await work(signedIn, client);
  } catch (error) {
    if (!(error instanceof RegistrationError) && !(error instanceof ClientManagementError) && !(error instanceof RefusedFields)) throw error;
    const current = await findManagedClient(context.storage, client.clientId);
    const t = signedIn.frame.t!;
    page(reply, 400, clientPage({
      ...signedIn.frame, client: current, values: submitted ? formValues(submitted) : clientFormValues(current), scopes: scopeChoices(),
      endpoints: serverEndpoints(context),
      ...(error instanceof RefusedFields ? { errors: error.errors }
        : error instanceof RegistrationError ? { errors: { [error.field]: reason(error, t) } } : { error: refusalInWords(t, error.message) }),
    }));
  }
}

function handOverSecret(context: ServerContext, reply: FastifyReply, secret: string): void {
  // Issue 11 item 25: `__Host-` outside development, so Path=/ (the page still shows only a secret of its own client).
  reply.setCookie(hostCookieName(context.options.environment, SECRET_COOKIE), secret, hostCookieOptions(context.options.environment, 'strict', SECRET_COOKIE_SECONDS));
}

/** A refusal's reason without its field name (the page shows it beside the field), in the page's language. */
const reason = (error: RegistrationError, t: Translator) => refusalInWords(t, error.message.slice(error.field.length + 2));

/** Several refused fields of one form (thrown inside withOwnClient, rendered beside each field). */
class RefusedFields extends Error {
  readonly errors: FieldErrors;
  constructor(errors: FieldErrors) {
    super('refused fields');
    this.errors = errors;
  }
}

/** The metadata of a submitted form, as validateClientMetadata takes it. */
function metadataOf(values: ClientFormValues, fixed: Pick<ClientMetadata, 'clientType' | 'pkceRequired' | 'logoUri'>): ClientMetadata {
  return {
    clientName: values.client_name, clientType: fixed.clientType, redirectUris: lines(values.redirect_uris), scopes: values.scope,
    subjectType: (values.subject_type || null) as SubjectType | null, pkceRequired: fixed.pkceRequired, clientUri: values.client_uri || null,
    logoUri: fixed.logoUri, tosUri: values.tos_uri || null, policyUri: values.policy_uri || null, initiationUri: values.initiation_uri || null,
    settingsUri: values.settings_uri || null, contacts: addresses(values.contacts),
    description: values.description || null, category: (values.category || null) as ClientMetadata['category'], // issue 13 (Marketplace)
  };
}

/** A value each rule accepts, put in place of a refused field so the next run reaches the following fields. */
const STAND_INS: Record<string, Partial<ClientMetadata>> = {
  client_name: { clientName: 'Client' }, redirect_uris: { redirectUris: ['https://client.example/callback'] }, scope: { scopes: ['users:read'] },
  subject_type: { subjectType: null }, client_uri: { clientUri: null }, tos_uri: { tosUri: null }, policy_uri: { policyUri: null },
  initiation_uri: { initiationUri: null }, settings_uri: { settingsUri: null }, contacts: { contacts: [] }, logo_uri: { logoUri: null },
  description: { description: null }, category: { category: null }, // issue 13 (Marketplace)
};

/**
 * Every refused field of a form at once, by the same rules as registration and updates
 * (validateClientMetadata, no second copy): each refusal is recorded and its field replaced by a stand-in
 * the rules accept, until the metadata passes. Empty when it does.
 */
function refusedFields(context: ServerContext, metadata: ClientMetadata, t: Translator): FieldErrors {
  const errors: FieldErrors = {};
  let candidate = metadata;
  for (;;) {
    try {
      validateClientMetadata(candidate, context.options.environment, context.options.brand.name);
      return errors;
    } catch (error) {
      if (!(error instanceof RegistrationError)) throw error;
      const standIn = STAND_INS[error.field];
      // A field refused a second time, or one without a stand-in (client type, PKCE): report it and stop.
      if (errors[error.field] !== undefined) return errors;
      errors[error.field] = reason(error, t);
      if (!standIn) return errors;
      candidate = { ...candidate, ...standIn };
    }
  }
}

function formValues(body: Body): ClientFormValues {
  const text = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : '');
  const scope = body.scope === undefined ? [] : (Array.isArray(body.scope) ? body.scope : [body.scope]).filter((value): value is string => typeof value === 'string');
  const method = text('token_endpoint_auth_method') === 'none' ? 'none' : 'client_secret_basic';
  const subjectType = text('subject_type');
  return {
    client_name: text('client_name'), token_endpoint_auth_method: method, redirect_uris: text('redirect_uris'), scope,
    subject_type: subjectType === 'company' || subjectType === 'organization' ? subjectType : '',
    client_uri: text('client_uri').trim(), tos_uri: text('tos_uri').trim(), policy_uri: text('policy_uri').trim(),
    initiation_uri: text('initiation_uri').trim(), settings_uri: text('settings_uri').trim(), contacts: text('contacts'),
    description: text('description'), category: text('category'), // issue 13 (Marketplace): kept as typed on a refusal
  };
}

/** One entry per line (redirect URIs may contain commas); contacts may also be separated by commas. */
const lines = (text: string) => text.split(/[\r\n]+/).map((line) => line.trim()).filter(Boolean);
const addresses = (text: string) => text.split(/[\r\n,]+/).map((line) => line.trim()).filter(Boolean);

/** The activity filters: each a set of audit event types (SPEC decision 19 events of this client). */
const ACTIVITY_FILTERS: { value: string; label: MessageKey; types: string[] }[] = [
  { value: 'consents', label: 'activity.filterConsents', types: ['consent.granted', 'consent.denied'] },
  { value: 'token_errors', label: 'activity.filterTokenErrors', types: ['token.refused'] },
  { value: 'reuse', label: 'activity.filterReuse', types: ['refresh_token.reuse_detected', 'authorization_code.replay_detected'] },
  { value: 'revocations', label: 'activity.filterRevocations', types: ['grant.revoked', 'access_token.revoked'] },
  { value: 'secrets', label: 'activity.filterSecrets', types: ['client.secret_rotated'] },
];
const ALL_ACTIVITY_TYPES = ACTIVITY_FILTERS.flatMap((filter) => filter.types);
const ACTIVITY_PAGE_SIZE = 25;

const EVENT_LABELS: Record<string, MessageKey> = {
  'consent.granted': 'activity.consentGranted', 'consent.denied': 'activity.consentDenied',
  'token.refused': 'activity.tokenRefused', 'refresh_token.reuse_detected': 'activity.reuseDetected',
  'authorization_code.replay_detected': 'activity.replayDetected', 'grant.revoked': 'activity.grantRevoked',
  'access_token.revoked': 'activity.accessTokenRevoked', 'client.secret_rotated': 'activity.secretRotated',
};
const REVOCATION_REASONS: Record<string, MessageKey> = {
  user_disconnected: 'activity.reasonUserDisconnected', admin_revoked: 'activity.reasonAdminRevoked', client_deleted: 'activity.reasonClientDeleted',
  secret_rotated: 'activity.reasonSecretRotated',
};
/** The detail members shown, in words; only these (never an identifier of a token beyond what the partner holds). */
const DETAIL_NAMES: Record<string, MessageKey> = {
  grant_type: 'activity.detailGrantType', error: 'activity.detailError', error_description: 'activity.detailDescription', reason: 'activity.detailReason',
  overlap_seconds: 'activity.detailOverlap', grants_revoked: 'activity.detailGrantsRevoked', scope: 'activity.detailScope',
};

function activityEntry(event: StoredAuditEvent, t: Translator): ActivityEntry {
  // OAuth error codes and descriptions stay as the token endpoint sent them (wire text, for developers).
  const details = Object.entries(event.details ?? {})
    .filter(([name, value]) => DETAIL_NAMES[name] !== undefined && value !== null)
    .map(([name, value]) => ({
      name: t.t(DETAIL_NAMES[name]!),
      value: name === 'reason' && REVOCATION_REASONS[String(value)] ? t.t(REVOCATION_REASONS[String(value)]!) : String(value),
    }));
  if (event.grantId) details.push({ name: t.t('activity.detailGrant'), value: event.grantId });
  const label = EVENT_LABELS[event.type];
  return { eventId: event.eventId, at: new Date(event.at * 1000).toISOString(), atSeconds: event.at, label: label ? t.t(label) : event.type, details };
}

/** GET /portal/clients/:client_id/activity?type=&before= (the client's recent audit events, newest first, 25 a page). */
export async function portalClientActivity(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const signedIn = await developer(context, request, reply);
  if (!signedIn) return;
  const client = await ownClient(context, reply, signedIn.frame, signedIn.user, (request.params as { client_id: string }).client_id);
  if (!client) return;
  const query = request.query as Record<string, unknown>;
  const filter = ACTIVITY_FILTERS.find((candidate) => candidate.value === query.type);
  const before = typeof query.before === 'string' && /^[1-9]\d{0,15}$/.test(query.before) ? Number(query.before) : undefined;
  const events = await context.storage.audit.list({
    clientId: client.clientId, types: filter?.types ?? ALL_ACTIVITY_TYPES, limit: ACTIVITY_PAGE_SIZE + 1, ...(before === undefined ? {} : { beforeEventId: before }),
  });
  const shown = events.slice(0, ACTIVITY_PAGE_SIZE);
  const older = events.length > ACTIVITY_PAGE_SIZE
    ? `/portal/clients/${client.clientId}/activity?${new URLSearchParams({ ...(filter ? { type: filter.value } : {}), before: String(shown.at(-1)!.eventId) })}`
    : undefined;
  page(reply, 200, activityPage({
    ...signedIn.frame, client, entries: shown.map((event) => activityEntry(event, signedIn.frame.t!)), selected: filter?.value ?? '',
    filters: [{ value: '', label: signedIn.frame.t!.t('activity.filterAll') }, ...ACTIVITY_FILTERS.map(({ value, label }) => ({ value, label: signedIn.frame.t!.t(label) }))], olderUrl: older,
  }));
}
