/**
 * Issue 15 §5: the developer portal's webhook page for one client: the URL and the events it receives
 * (a refused URL is marked beside the field and keeps what was typed), the Standard Webhooks signing
 * secret shown once with a copy button, rotation and removal (each confirmed first), and the delivery log
 * with status, attempts, last HTTP status, next retry and "Send again". Every form carries the CSRF token;
 * every value is escaped by `html`. Every user-visible English string is in `messages`, ready for a catalogue.
 */
import type { ClientRecord, WebhookDeliveryRecord } from '../storage/storage.ts';
import type { WebhookEventType } from '../webhooks/webhook-events.ts';
import { html, type SafeHtml } from './html.ts';
import { layout } from './layout.ts';

export const messages = {
  portal: 'Developer portal',
  navigation: 'Portal',
  title: (clientName: string) => `${clientName}: webhooks`,
  heading: 'Webhooks',
  intro: 'Your server learns at once when a user disconnects, a grant is revoked, or your client is suspended or deleted, instead of at its next refresh. Deliveries are signed per Standard Webhooks: verify them with verifyWebhook() of @gatehouse/client.',
  backToClient: (clientName: string) => `Back to ${clientName}`,
  urlLabel: 'Webhook URL',
  urlHint: 'https (http only for localhost, 127.0.0.1 or [::1] outside production). Saving a new URL issues a new signing secret.',
  eventsLegend: 'Events to send',
  events: {
    'grant.revoked': 'A connection was revoked (user disconnect, administrator, token reuse or code replay, deleted company, rotated secret)',
    'client.suspended': 'Your client was suspended',
    'client.reactivated': 'Your client was reactivated',
    'client.deleted': 'Your client was deleted',
  } satisfies Record<WebhookEventType, string>,
  eventsHint: 'Leave all ticked to also receive event types added later.',
  save: 'Save webhook',
  errorSummary: 'Please correct the marked fields:',
  urlRequired: 'Enter the URL your server receives webhooks at.',
  eventsRequired: 'Choose at least one event.',
  secretHeading: 'Your signing secret',
  secretOnce: 'Shown only this once: store it on your server (never in browser code or source control) and verify every delivery with it.',
  copy: 'Copy',
  copied: 'Copied',
  copySecret: 'Copy the signing secret',
  notSet: 'No webhook is set for this client yet.',
  currentSecret: 'The signing secret was shown when it was issued; rotate it to get a new one.',
  rotateHeading: 'Signing secret',
  rotate: 'Rotate signing secret…',
  rotateTitle: 'Rotate the webhook signing secret?',
  rotateConsequences: ['The current secret stops signing deliveries at once: deliveries fail verification until your server uses the new one.', 'The new secret is shown once, on the next page.'],
  rotateConfirm: 'Rotate secret',
  removeHeading: 'Remove webhook',
  remove: 'Remove webhook…',
  removeTitle: 'Remove the webhook?',
  removeConsequences: ['Nothing more is sent to your server; deliveries still waiting are dropped.', 'You can set a webhook again later (with a new secret).'],
  removeConfirm: 'Remove webhook',
  cancel: 'Cancel',
  logHeading: 'Deliveries',
  logCaption: 'Webhook deliveries, newest first',
  logEmpty: 'No deliveries yet.',
  columns: { event: 'Event', created: 'Queued', status: 'Status', attempts: 'Attempts', lastStatus: 'Last response', nextRetry: 'Next attempt', id: 'webhook-id', action: 'Action' },
  status: { delivered: 'Delivered', pending: 'Waiting to retry', queued: 'Queued', givenUp: 'Gave up' },
  noResponse: 'no response',
  none: '—',
  resend: 'Send again',
  /** Starts with the visible `resend` text (WCAG 2.5.3 label in name). */
  resendLabel: (event: string, created: string) => `Send again: the ${event} event of ${created}`,
  saved: 'Webhook saved.',
  eventsSaved: 'Events saved.',
  rotated: 'New signing secret issued.',
  removed: 'Webhook removed.',
  resent: 'The delivery is queued again; it is sent within seconds.',
  unknownDelivery: 'That delivery is not in this client\'s log any more.',
  linkText: 'Webhooks',
  linkDescription: 'get told at once when a connection is revoked or the client is suspended; see every delivery.',
} as const;

export interface WebhookPageFrame {
  brandName: string;
  csrfToken: string;
  userName: string;
}

/** What the form shows: the typed (or stored) URL and the ticked event types. */
export interface WebhookFormValues {
  url: string;
  eventTypes: WebhookEventType[];
}

export type WebhookFieldErrors = Partial<Record<'url' | 'event_types', string>>;

const EVENT_TYPES = Object.keys(messages.events) as WebhookEventType[];

function frame(model: WebhookPageFrame, title: string, body: SafeHtml): string {
  return layout(model.brandName, title, html`<nav class="muted" aria-label="${messages.navigation}"><a href="/portal">${messages.portal}</a> · ${model.userName}</nav>
${body}
<script src="/assets/portal.js" defer></script>`, model);
}

const time = (seconds: number | null) => (seconds === null ? messages.none : new Date(seconds * 1000).toISOString().replace('T', ' ').replace('.000Z', ' UTC'));

function statusOf(delivery: WebhookDeliveryRecord): string {
  if (delivery.deliveredAt !== null) return messages.status.delivered;
  if (delivery.nextAttemptAt === null) return messages.status.givenUp;
  return delivery.attempts === 0 ? messages.status.queued : messages.status.pending;
}

const eventLabel = (eventType: string) => (messages.events as Record<string, string>)[eventType] ?? eventType;

function described(name: keyof WebhookFieldErrors, errors: WebhookFieldErrors, hint: boolean): SafeHtml {
  const ids = [hint ? `${name}-hint` : '', errors[name] ? `${name}-error` : ''].filter(Boolean).join(' ');
  // A fieldset cannot be aria-invalid: it names its message instead.
  return html`${ids ? html` aria-describedby="${ids}"` : ''}${errors[name] && name !== 'event_types' ? html` aria-invalid="true"` : ''}`;
}

const fieldError = (name: keyof WebhookFieldErrors, errors: WebhookFieldErrors) =>
  (errors[name] ? html`<p class="field-error" id="${name}-error">${errors[name]}</p>` : html``);

export function webhookPage(model: WebhookPageFrame & {
  client: ClientRecord;
  /** The stored webhook, if any. */
  endpoint?: { url: string; eventTypes: WebhookEventType[] | null; createdAt: number };
  values: WebhookFormValues;
  errors?: WebhookFieldErrors;
  notice?: string;
  error?: string;
  /** A secret just issued: shown this once. */
  newSecret?: string;
  deliveries: WebhookDeliveryRecord[];
}): string {
  const { client } = model;
  const errors = model.errors ?? {};
  const base = `/portal/clients/${client.clientId}/webhook`;
  const refused = Object.entries(errors).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
  return frame(model, messages.title(client.clientName), html`<h1>${messages.heading}</h1>
<p><a href="/portal/clients/${client.clientId}">${messages.backToClient(client.clientName)}</a></p>
<p class="muted">${messages.intro}</p>
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
${refused.length > 0 ? html`<div class="error" role="alert"><p><strong>${messages.errorSummary}</strong></p>
<ul>${refused.map(([name, message]) => html`<li><a href="#${name === 'event_types' ? 'event_types-fieldset' : name}">${name === 'url' ? messages.urlLabel : messages.eventsLegend}</a>: ${message}</li>`)}</ul></div>` : ''}
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
${model.newSecret ? html`<div class="secret" role="alert"><p><strong>${messages.secretHeading}</strong>: ${messages.secretOnce}</p>
<span class="copyable"><code id="webhook_secret" class="secret-value">${model.newSecret}</code> <button type="button" class="copy" data-copy="webhook_secret" data-copied="${messages.copied}" aria-label="${messages.copySecret}">${messages.copy}</button></span></div>` : ''}
${model.endpoint ? '' : html`<p>${messages.notSet}</p>`}
<form method="post" action="${base}" novalidate>
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <label for="url">${messages.urlLabel}</label>
  <input id="url" name="url" type="url" required maxlength="2048" value="${model.values.url}"${described('url', errors, true)}>
  ${fieldError('url', errors)}<div class="muted" id="url-hint">${messages.urlHint}</div>
  <fieldset id="event_types-fieldset"${described('event_types', errors, true)}><legend>${messages.eventsLegend}</legend>
  ${fieldError('event_types', errors)}
  ${EVENT_TYPES.map((type) => html`<label class="check"><input type="checkbox" name="event_types" value="${type}"${model.values.eventTypes.includes(type) ? html` checked` : ''}> ${messages.events[type]} <code class="muted">${type}</code></label>\n  `)}
  <div class="muted" id="event_types-hint">${messages.eventsHint}</div>
  </fieldset>
  <div class="actions"><button class="primary" type="submit">${messages.save}</button></div>
</form>
${model.endpoint ? html`<h2>${messages.rotateHeading}</h2>
<p class="muted">${messages.currentSecret}</p>
<form method="post" action="${base}/secret">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <div class="actions"><button type="submit">${messages.rotate}</button></div>
</form>
<h2>${messages.removeHeading}</h2>
<form method="post" action="${base}/remove">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <div class="actions"><button type="submit">${messages.remove}</button></div>
</form>` : ''}
<h2 id="deliveries">${messages.logHeading}</h2>
${model.deliveries.length === 0 ? html`<p>${messages.logEmpty}</p>` : html`<div class="table-scroll" tabindex="0" role="region" aria-label="${messages.logCaption}"><table class="sessions">
<caption class="muted">${messages.logCaption}</caption>
<thead><tr><th scope="col">${messages.columns.event}</th><th scope="col">${messages.columns.created}</th><th scope="col">${messages.columns.status}</th><th scope="col">${messages.columns.attempts}</th><th scope="col">${messages.columns.lastStatus}</th><th scope="col">${messages.columns.nextRetry}</th><th scope="col">${messages.columns.id}</th><th scope="col">${messages.columns.action}</th></tr></thead>
<tbody>
${model.deliveries.map((delivery) => html`<tr class="delivery" data-event-type="${delivery.eventType}">
  <td>${eventLabel(delivery.eventType)} <code class="muted">${delivery.eventType}</code></td>
  <td>${time(delivery.createdAt)}</td>
  <td class="delivery-status">${statusOf(delivery)}</td>
  <td>${delivery.attempts}</td>
  <td>${delivery.lastStatus === null ? messages.none : delivery.lastStatus === 0 ? messages.noResponse : delivery.lastStatus}</td>
  <td>${delivery.deliveredAt === null ? time(delivery.nextAttemptAt) : messages.none}</td>
  <td><code>${delivery.deliveryId}</code></td>
  <td><form method="post" action="${base}/deliveries/${delivery.deliveryId}/resend">
    <input type="hidden" name="_csrf" value="${model.csrfToken}">
    <button type="submit" aria-label="${messages.resendLabel(delivery.eventType, time(delivery.createdAt))}">${messages.resend}</button>
  </form></td>
</tr>\n`)}
</tbody></table></div>`}`);
}

/** A confirmation before rotating or removing (a POST, then the same POST with `confirm=yes`); Cancel returns to the webhook page. */
export function webhookConfirmationPage(model: WebhookPageFrame & { client: ClientRecord; kind: 'rotate' | 'remove' }): string {
  const base = `/portal/clients/${model.client.clientId}/webhook`;
  const [title, consequences, label, action] = model.kind === 'rotate'
    ? [messages.rotateTitle, messages.rotateConsequences, messages.rotateConfirm, `${base}/secret`]
    : [messages.removeTitle, messages.removeConsequences, messages.removeConfirm, `${base}/remove`];
  return frame(model, title, html`<h1>${title}</h1>
<div class="warning" role="region" aria-label="${title}"><ul>${consequences.map((line) => html`<li>${line}</li>`)}</ul></div>
<form method="post" action="${action}">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <input type="hidden" name="confirm" value="yes">
  <div class="actions"><a class="button secondary" href="${base}">${messages.cancel}</a><button class="danger" type="submit">${label}</button></div>
</form>`);
}

/** The client page's link to this page (pages/portal-pages.ts `clientPage`). */
export function webhookLink(clientId: string): SafeHtml {
  return html`<p><a href="/portal/clients/${clientId}/webhook">${messages.linkText}</a>: ${messages.linkDescription}</p>`;
}
