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
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { clientSecretMatches } from '../clients/client-secret.ts';
import {
  ClientManagementError, deleteClient, findManagedClient, inspectLogo, rotateClientSecret, setClientLogo, updateClient, type ManagementContext,
} from '../clients/client-management.ts';
import { registerClient, RegistrationError } from '../clients/registration.ts';
import { hostCookieName, hostCookieOptions } from '../http/host-cookies.ts';
import { sendLoginStep } from '../sessions/login-step.ts';
import {
  clientFormValues, clientPage, EMPTY_CLIENT_FORM, portalHomePage, portalMessagePage, registrationPage, type ClientFormValues, type PortalFrame,
} from '../pages/portal-pages.ts';
import { describeScope, SCOPE_CATALOGUE } from '../scopes.ts';
import type { ServerContext } from '../server-context.ts';
import { sessionUser } from '../sessions/login-session.ts';
import type { ClientRecord, SubjectType, UserRecord } from '../storage/storage.ts';

const SECRET_COOKIE = 'gatehouse_new_secret';
/** Long enough for the redirect that follows the POST; the page clears it on first view anyway. */
const SECRET_COOKIE_SECONDS = 120;

type Body = Record<string, unknown>;

const scopeChoices = () => [...SCOPE_CATALOGUE.keys()].map((name) => ({ name, description: describeScope(name) }));

/** The signed-in partner developer, or undefined after answering (login page, or 403 for a non-developer). */
async function developer(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<{ user: UserRecord; frame: PortalFrame } | undefined> {
  const user = await sessionUser(context, request);
  const brandName = context.options.brand.name;
  if (!user) {
    // The login form posts to /login, which continues at return_to=/portal (login.ts allows only a few local paths).
    sendLoginStep(context, reply, { returnTo: '/portal' });
    return undefined;
  }
  const frame = { brandName, csrfToken: reply.generateCsrf(), userName: user.name };
  if (!(await context.storage.developers.isDeveloper(user.userId))) {
    page(reply, 403, portalMessagePage(frame, 'Not a partner developer', 'Your account is not registered as a partner developer. Contact the platform to join the partner programme.'));
    return undefined;
  }
  return { user, frame };
}

function page(reply: FastifyReply, status: number, body: string): void {
  // Pages may carry a new secret or a CSRF token: never cached.
  reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

function management(context: ServerContext, user: UserRecord): ManagementContext {
  return { storage: context.storage, environment: context.options.environment, brandName: context.options.brand.name, now: context.clock.nowSeconds(), actor: `user:${user.userId}`,
    requireApproval: context.options.requireClientApproval };
}

/** The developer's own client, or undefined after a 404 (another partner's client is indistinguishable from none). */
async function ownClient(context: ServerContext, reply: FastifyReply, frame: PortalFrame, user: UserRecord, clientId: string): Promise<ClientRecord | undefined> {
  const client = await context.storage.clients.find(clientId);
  if (!client || client.kind !== 'client' || client.status === 'deleted' || client.ownerUserId !== user.userId) {
    page(reply, 404, portalMessagePage(frame, 'No such client', 'You have no client with that ID.'));
    return undefined;
  }
  return client;
}

/** GET /portal */
export async function portalHome(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const signedIn = await developer(context, request, reply);
  if (!signedIn) return;
  const clients = (await context.storage.clients.listByOwner(signedIn.user.userId)).filter((client) => client.status !== 'deleted');
  page(reply, 200, portalHomePage({ ...signedIn.frame, clients }));
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
  try {
    // The logo is checked before anything is stored, so a refused logo leaves no half-registered client.
    if (logo) inspectLogo(logo);
    const { client, clientSecret } = await registerClient(manage, {
      clientName: values.client_name, clientType: values.token_endpoint_auth_method === 'none' ? 'public' : 'confidential',
      redirectUris: lines(values.redirect_uris), scopes: values.scope, subjectType: (values.subject_type || null) as SubjectType | null,
      clientUri: values.client_uri || null, tosUri: values.tos_uri || null, policyUri: values.policy_uri || null,
      initiationUri: values.initiation_uri || null, settingsUri: values.settings_uri || null, contacts: addresses(values.contacts),
    }, {}, { actor: manage.actor, ownerUserId: signedIn.user.userId });
    if (logo) await setClientLogo(manage, context.options.issuer, client.clientId, logo);
    if (clientSecret) handOverSecret(context, reply, client.clientId, clientSecret);
    reply.redirect(`/portal/clients/${client.clientId}`, 303);
  } catch (error) {
    if (!(error instanceof RegistrationError)) throw error;
    page(reply, 400, registrationPage({ ...signedIn.frame, values, scopes: scopeChoices(), error: describeRefusal(error) }));
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
  page(reply, 200, clientPage({ ...signedIn.frame, client, values: clientFormValues(client), scopes: scopeChoices(), newSecret }));
}

/** POST /portal/clients/:client_id (the details form). */
export async function portalUpdateClient(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await withOwnClient(context, request, reply, async (signedIn, client) => {
    const values = formValues((request.body ?? {}) as Body);
    await updateClient(management(context, signedIn.user), client.clientId, {
      clientName: values.client_name, redirectUris: lines(values.redirect_uris), scopes: values.scope,
      subjectType: (values.subject_type || null) as SubjectType | null, clientUri: values.client_uri || null, tosUri: values.tos_uri || null,
      policyUri: values.policy_uri || null, initiationUri: values.initiation_uri || null, settingsUri: values.settings_uri || null,
      contacts: addresses(values.contacts),
    });
    reply.redirect(`/portal/clients/${client.clientId}`, 303);
  }, (request.body ?? {}) as Body);
}

/** POST /portal/clients/:client_id/logo (multipart). */
export async function portalUploadLogo(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await withOwnClient(context, request, reply, async (signedIn, client) => {
    const logo = (request.body as Body | undefined)?.logo;
    if (!Buffer.isBuffer(logo) || logo.length === 0) throw new RegistrationError('logo', 'choose an image file');
    await setClientLogo(management(context, signedIn.user), context.options.issuer, client.clientId, logo);
    reply.redirect(`/portal/clients/${client.clientId}`, 303);
  });
}

/** POST /portal/clients/:client_id/secret */
export async function portalRotateSecret(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await withOwnClient(context, request, reply, async (signedIn, client) => {
    const body = (request.body ?? {}) as Body;
    const overlap = typeof body.overlap_seconds === 'string' && /^\d{1,9}$/.test(body.overlap_seconds) ? Number(body.overlap_seconds) : 0;
    const { clientSecret } = await rotateClientSecret(management(context, signedIn.user), client.clientId, { overlapSeconds: overlap, revokeGrants: body.revoke_grants === 'yes' });
    handOverSecret(context, reply, client.clientId, clientSecret);
    reply.redirect(`/portal/clients/${client.clientId}`, 303);
  });
}

/** POST /portal/clients/:client_id/delete */
export async function portalDeleteClient(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await withOwnClient(context, request, reply, async (signedIn, client) => {
    await deleteClient(management(context, signedIn.user), client.clientId);
    reply.redirect('/portal', 303);
  });
}

/** Runs a change on the developer's own client; a refusal re-renders the client's page naming the field. */
async function withOwnClient(
  context: ServerContext, request: FastifyRequest, reply: FastifyReply,
  work: (signedIn: { user: UserRecord; frame: PortalFrame }, client: ClientRecord) => Promise<void>, submitted?: Body,
): Promise<void> {
  const signedIn = await developer(context, request, reply);
  if (!signedIn) return;
  const client = await ownClient(context, reply, signedIn.frame, signedIn.user, (request.params as { client_id: string }).client_id);
  if (!client) return;
  try {
    await work(signedIn, client);
  } catch (error) {
    if (!(error instanceof RegistrationError) && !(error instanceof ClientManagementError)) throw error;
    const current = await findManagedClient(context.storage, client.clientId);
    page(reply, 400, clientPage({
      ...signedIn.frame, client: current, values: submitted ? formValues(submitted) : clientFormValues(current), scopes: scopeChoices(),
      error: error instanceof RegistrationError ? describeRefusal(error) : error.message,
    }));
  }
}

function handOverSecret(context: ServerContext, reply: FastifyReply, clientId: string, secret: string): void {
  // Issue 11 item 25: `__Host-` outside development, so Path=/ (the page still shows only a secret of its own client).
  reply.setCookie(hostCookieName(context.options.environment, SECRET_COOKIE), secret, hostCookieOptions(context.options.environment, 'strict', SECRET_COOKIE_SECONDS));
}

const FIELD_LABELS: Record<string, string> = {
  client_name: 'Client name', redirect_uris: 'Redirect URIs', scope: 'Scopes', client_uri: 'Client URI', tos_uri: 'Terms of service URI',
  policy_uri: 'Privacy policy URI', initiation_uri: 'Initiation URI', settings_uri: 'Settings URI', contacts: 'Contact e-mail addresses',
  logo: 'Logo', subject_type: 'Subject type preference', token_endpoint_auth_method: 'Client type', overlap_seconds: 'Overlap',
};

function describeRefusal(error: RegistrationError): string {
  return `${FIELD_LABELS[error.field] ?? error.field} (${error.field}): ${error.message.slice(error.field.length + 2)}`;
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
  };
}

/** One entry per line (redirect URIs may contain commas); contacts may also be separated by commas. */
const lines = (text: string) => text.split(/[\r\n]+/).map((line) => line.trim()).filter(Boolean);
const addresses = (text: string) => text.split(/[\r\n,]+/).map((line) => line.trim()).filter(Boolean);
