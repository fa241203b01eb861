/**
 * Issue 15 §5: a partner developer's webhook settings and delivery log in the developer portal, for their
 * own clients only (others' answer 404, as the rest of the portal does). The rules and audit events are
 * the admin API's and the CLI's (webhooks/webhook-endpoint.ts, actor `user:<id>`). Forms are
 * CSRF-checked before these handlers run (routes.ts).
 *
 * - GET  /portal/clients/:client_id/webhook                         the page (pages/webhook-pages.ts)
 * - POST /portal/clients/:client_id/webhook                         set URL and events (a new URL: a new secret)
 * - POST /portal/clients/:client_id/webhook/secret                  rotate (confirmation first)
 * - POST /portal/clients/:client_id/webhook/remove                  remove (confirmation first)
 * - POST /portal/clients/:client_id/webhook/deliveries/:id/resend   send one delivery again
 *
 * The confirmations answer a POST: their language switch posts again with `locale` (endpoints/confirmation.ts), the
 * same confirmation comes back in that language, and a form carrying `locale` never rotates or removes.
 *
 * A new secret is shown once, as the client secret is (portal.ts): the POST answers 303 and hands it over
 * in a short-lived HttpOnly, SameSite=Strict cookie; the page shows it only if it is this client's current
 * secret (compared in constant time), and clears the cookie at once.
 */
import { secretsEqual } from '@gatehouse/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { hostCookieName, hostCookieOptions } from '../http/host-cookies.ts';
import { refusalInWords } from '../i18n/registration-refusals.ts';
import { portalMessagePage } from '../pages/portal-pages.ts';
import { webhookMessages, webhookConfirmationPage, webhookPage, type WebhookFieldErrors, type WebhookFormValues } from '../pages/webhook-pages.ts';
import type { ServerContext } from '../server-context.ts';
import type { ClientRecord, UserRecord } from '../storage/storage.ts';
import { removeClientWebhook, resendWebhookDelivery, rotateClientWebhookSecret, setClientWebhook, setClientWebhookEvents } from '../webhooks/webhook-endpoint.ts';
import { WEBHOOK_EVENT_TYPES, isWebhookEventType, type WebhookEventType } from '../webhooks/webhook-events.ts';
import { decryptWebhookSecret, privateWebhookTargetsAllowed, webhookSecretKey, webhookUrlProblem } from '../webhooks/webhook-secret.ts';
import { developer, ownClient, page } from './portal.ts';
import { confirmedAction, rememberSwitchedLocale } from './confirmation.ts';

const SECRET_COOKIE = 'gatehouse_new_webhook_secret';
const SECRET_COOKIE_SECONDS = 120;
/** Rows of the delivery log on the page. */
const LOG_LIMIT = 50;

type Body = Record<string, unknown>;
type SignedIn = NonNullable<Awaited<ReturnType<typeof developer>>>;

const webhookPath = (client: ClientRecord) => `/portal/clients/${client.clientId}/webhook`;

async function ownWebhookClient(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<{ signedIn: SignedIn; client: ClientRecord } | undefined> {
  const signedIn = await developer(context, request, reply);
  if (!signedIn) return undefined;
  const client = await ownClient(context, reply, signedIn.frame, signedIn.user, (request.params as { client_id: string }).client_id);
  return client ? { signedIn, client } : undefined;
}

const actor = (user: UserRecord) => `user:${user.userId}`;

/** Renders the page with the stored settings (or, after a refusal, what was typed). */
async function render(
  context: ServerContext, reply: FastifyReply, signedIn: SignedIn, client: ClientRecord, status: number,
  extra: { values?: WebhookFormValues; errors?: WebhookFieldErrors; notice?: string; error?: string; newSecret?: string } = {},
): Promise<void> {
  const stored = await context.storage.webhooks.findEndpoint(client.clientId);
  const endpoint = stored && { url: stored.url, eventTypes: (stored.eventTypes ?? null) as WebhookEventType[] | null, createdAt: stored.createdAt };
  const values = extra.values ?? { url: endpoint?.url ?? '', eventTypes: endpoint?.eventTypes ?? [...WEBHOOK_EVENT_TYPES] };
  const deliveries = await context.storage.webhooks.list(client.clientId, LOG_LIMIT);
  const privateTargetsAllowed = privateWebhookTargetsAllowed(context.options.environment, context.options.webhookAllowPrivateAddresses);
  page(reply, status, webhookPage({ ...signedIn.frame, client, endpoint, values, deliveries, privateTargetsAllowed, ...extra }));
}

const notices = (messages: ReturnType<typeof webhookMessages>): Record<string, string> =>
  ({ saved: messages.saved, events: messages.eventsSaved, rotated: messages.rotated, removed: messages.removed, resent: messages.resent });

/** GET /portal/clients/:client_id/webhook */
export async function portalWebhook(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const found = await ownWebhookClient(context, request, reply);
  if (!found) return;
  const { signedIn, client } = found;
  const cookieName = hostCookieName(context.options.environment, SECRET_COOKIE);
  const handedOver = request.cookies[cookieName];
  let newSecret: string | undefined;
  if (handedOver !== undefined) {
    reply.clearCookie(cookieName, hostCookieOptions(context.options.environment, 'strict'));
    // Only this client's current secret is shown: a cookie planted by someone else cannot put text on the page.
    const stored = await context.storage.webhooks.findEndpoint(client.clientId);
    if (stored && /^whsec_[A-Za-z0-9+/]{43}=$/.test(handedOver)) {
      const current = decryptWebhookSecret(webhookSecretKey(context.options.tokenHmacKey), client.clientId, stored.secretCiphertext);
      if (secretsEqual(handedOver, current)) newSecret = handedOver;
    }
  }
  const done = (request.query as { done?: unknown }).done;
  const known = notices(webhookMessages(signedIn.frame.t));
  // Only the page's own notices (Object.hasOwn, as portal.ts): `done=constructor` found Object.prototype's member and showed its text.
  await render(context, reply, signedIn, client, 200, { newSecret, notice: typeof done === 'string' && Object.hasOwn(known, done) ? known[done] : undefined });
}

/** POST /portal/clients/:client_id/webhook (url, event_types[]) */
export async function portalSetWebhook(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const found = await ownWebhookClient(context, request, reply);
  if (!found) return;
  const { signedIn, client } = found;
  const body = (request.body ?? {}) as Body;
  const url = typeof body.url === 'string' ? body.url.trim() : '';
  const ticked = (body.event_types === undefined ? [] : Array.isArray(body.event_types) ? body.event_types : [body.event_types]).filter(isWebhookEventType);
  const values: WebhookFormValues = { url, eventTypes: ticked };
  // Every refused field at once, keeping what was typed and ticked.
  const errors: WebhookFieldErrors = {};
  const messages = webhookMessages(signedIn.frame.t);
  const rule = { environment: context.options.environment, allowPrivateAddresses: context.options.webhookAllowPrivateAddresses };
  const problem = webhookUrlProblem(url, rule.environment, rule.allowPrivateAddresses);
  // Beside the field "Webhook URL" the API's wording reads without its own "url " ("must use https …").
  const urlProblem = url === '' ? messages.urlRequired : problem && refusalInWords(signedIn.frame.t, problem).replace(/^url /, '');
  if (urlProblem) errors.url = urlProblem;
  if (ticked.length === 0) errors.event_types = messages.eventsRequired;
  // All ticked = every event, also types added later (null); otherwise exactly those.
  const eventTypes = ticked.length === WEBHOOK_EVENT_TYPES.length ? null : [...new Set(ticked)];
  const stored = await context.storage.webhooks.findEndpoint(client.clientId);
  const now = context.clock.nowSeconds();
  if (!errors.url && stored?.url !== url) {
    if (Object.keys(errors).length > 0) return render(context, reply, signedIn, client, 400, { values, errors });
    const result = await setClientWebhook(context.storage, context.options.tokenHmacKey, rule, client.clientId, url, actor(signedIn.user), now, eventTypes);
    // The URL and the events were checked above by setClientWebhook's own rules (webhookUrlProblem with this server's
    // rule, known event types only), so it refuses neither: a branch for its `invalid_url` could never run (and showed
    // the English wording untranslated). What is left is a client deleted since ownWebhookClient found it (by its team
    // or an administrator, meanwhile): answered as the portal answers any client that is not the user's.
    if (result.outcome !== 'set') return page(reply, 404, portalMessagePage(signedIn.frame, signedIn.frame.t!.t('portal.noSuchClientTitle'), signedIn.frame.t!.t('portal.noSuchClient')));
    handOver(context, reply, result.secret);
    return reply.redirect(`${webhookPath(client)}?done=saved`, 303);
  }
  if (Object.keys(errors).length > 0) return render(context, reply, signedIn, client, 400, { values, errors });
  // The same URL: only the events change; the secret stays.
  await setClientWebhookEvents(context.storage, client.clientId, eventTypes, actor(signedIn.user), now);
  return reply.redirect(`${webhookPath(client)}?done=events`, 303);
}

/** POST /portal/clients/:client_id/webhook/secret (confirm=yes to act) */
export async function portalRotateWebhookSecret(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  rememberSwitchedLocale(context, request, reply); // a confirmation's language switch: its answer is in the language chosen
  const found = await ownWebhookClient(context, request, reply);
  if (!found) return;
  const { signedIn, client } = found;
  if (!confirmedAction(request)) return page(reply, 200, webhookConfirmationPage({ ...signedIn.frame, client, kind: 'rotate' }));
  const result = await rotateClientWebhookSecret(context.storage, context.options.tokenHmacKey, client.clientId, actor(signedIn.user), context.clock.nowSeconds());
  if (result.outcome !== 'rotated') return render(context, reply, signedIn, client, 409, { error: webhookMessages(signedIn.frame.t).notSet });
  handOver(context, reply, result.secret);
  return reply.redirect(`${webhookPath(client)}?done=rotated`, 303);
}

/** POST /portal/clients/:client_id/webhook/remove (confirm=yes to act) */
export async function portalRemoveWebhook(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  rememberSwitchedLocale(context, request, reply); // a confirmation's language switch: its answer is in the language chosen
  const found = await ownWebhookClient(context, request, reply);
  if (!found) return;
  const { signedIn, client } = found;
  if (!confirmedAction(request)) return page(reply, 200, webhookConfirmationPage({ ...signedIn.frame, client, kind: 'remove' }));
  await removeClientWebhook(context.storage, client.clientId, actor(signedIn.user), context.clock.nowSeconds());
  return reply.redirect(`${webhookPath(client)}?done=removed`, 303);
}

/** POST /portal/clients/:client_id/webhook/deliveries/:delivery_id/resend */
export async function portalResendWebhookDelivery(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const found = await ownWebhookClient(context, request, reply);
  if (!found) return;
  const { signedIn, client } = found;
  const deliveryId = String((request.params as { delivery_id?: string }).delivery_id ?? '');
  if (!(await resendWebhookDelivery(context.storage, client.clientId, deliveryId, actor(signedIn.user), context.clock.nowSeconds()))) {
    return render(context, reply, signedIn, client, 404, { error: webhookMessages(signedIn.frame.t).unknownDelivery });
  }
  return reply.redirect(`${webhookPath(client)}?done=resent#deliveries`, 303);
}

function handOver(context: ServerContext, reply: FastifyReply, secret: string): void {
  reply.setCookie(hostCookieName(context.options.environment, SECRET_COOKIE), secret, hostCookieOptions(context.options.environment, 'strict', SECRET_COOKIE_SECONDS));
}
