/**
 * Issue 15 §5: the developer portal's webhook page for one client: the URL and the events it receives
 * (a refused URL is marked beside the field and keeps what was typed), the Standard Webhooks signing
 * secret shown once with a copy button, rotation and removal (each confirmed first), and the delivery log
 * with status, attempts, last HTTP status, next retry and "Send again". Every form carries the CSRF token;
 * every value is escaped by `html`. Every user-visible English string is in `messages`, ready for a catalogue.
 */
import type { ClientRecord, WebhookDeliveryRecord } from '../storage/storage.ts';
import type { WebhookEventType } from '../webhooks/webhook-events.ts';
import { ENGLISH, type Translator } from '../i18n/i18n.ts';
import { errorSummary } from './field-errors.ts';
import { html, type SafeHtml } from './html.ts';
import { confirmationForms } from './confirmation.ts';
import { layout, SHOWN_ONCE, type LanguageForm } from './layout.ts';

/**
 * Every user-visible string of the webhook pages in the page's language (issue 13: catalogue keys
 * `webhook.*`). Event type names, HTTP statuses and delivery ids stay as they are on the wire.
 */
export function webhookMessages(t: Translator = ENGLISH) {
  return {
    portal: t.t('portal.navHome'),
    navigation: t.t('portal.nav'),
    title: (clientName: string) => t.t('webhook.title', { client: clientName }),
    heading: t.t('webhook.heading'),
    intro: t.t('webhook.intro'),
    backToClient: (clientName: string) => t.t('webhook.backToClient', { client: clientName }),
    urlLabel: t.t('webhook.urlLabel'),
    /**
     * What the server accepts (webhook-secret.ts privateWebhookTargetsAllowed): public addresses only, or, in development
     * and on a staging server with GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES, any address and loopback http.
     */
    urlHint: (privateTargetsAllowed: boolean) => t.t(privateTargetsAllowed ? 'webhook.urlHintPrivateAllowed' : 'webhook.urlHint'),
    eventsLegend: t.t('webhook.eventsLegend'),
    events: {
      'grant.revoked': t.t('webhook.eventGrantRevoked'),
      'client.suspended': t.t('webhook.eventClientSuspended'),
      'client.reactivated': t.t('webhook.eventClientReactivated'),
      'client.deleted': t.t('webhook.eventClientDeleted'),
    } satisfies Record<WebhookEventType, string>,
    eventsHint: t.t('webhook.eventsHint'),
    save: t.t('webhook.save'),
    errorSummary: t.t('portal.correctFields'),
    colon: t.t('form.colon'),
    t,
    urlRequired: t.t('webhook.urlRequired'),
    eventsRequired: t.t('webhook.eventsRequired'),
    secretHeading: t.t('webhook.secretHeading'),
    secretOnce: t.t('webhook.secretOnce'),
    copy: t.t('portal.copy'),
    copied: t.t('portal.copied'),
    copySecret: t.t('webhook.copySecret'),
    notSet: t.t('webhook.notSet'),
    currentSecret: t.t('webhook.currentSecret'),
    rotateHeading: t.t('webhook.rotateHeading'),
    rotate: t.t('webhook.rotate'),
    rotateTitle: t.t('webhook.rotateTitle'),
    rotateConsequences: [t.t('webhook.rotateConsequence'), t.t('webhook.rotateShownOnce')],
    rotateConfirm: t.t('webhook.rotateConfirm'),
    removeHeading: t.t('webhook.removeHeading'),
    remove: t.t('webhook.remove'),
    removeTitle: t.t('webhook.removeTitle'),
    removeConsequences: [t.t('webhook.removeConsequence'), t.t('webhook.removeAgainLater')],
    removeConfirm: t.t('webhook.removeHeading'),
    cancel: t.t('portal.cancel'),
    logHeading: t.t('webhook.logHeading'),
    logCaption: t.t('webhook.logCaption'),
    logEmpty: t.t('webhook.logEmpty'),
    columns: {
      event: t.t('webhook.columnEvent'), created: t.t('webhook.columnCreated'), status: t.t('webhook.columnStatus'), attempts: t.t('webhook.columnAttempts'),
      lastStatus: t.t('webhook.columnLastStatus'), nextRetry: t.t('webhook.columnNextRetry'), id: 'webhook-id', action: t.t('webhook.columnAction'),
    },
    status: { delivered: t.t('webhook.statusDelivered'), pending: t.t('webhook.statusPending'), queued: t.t('webhook.statusQueued'), givenUp: t.t('webhook.statusGivenUp') },
    noResponse: t.t('webhook.noResponse'),
    none: '—',
    resend: t.t('webhook.resend'),
    /** Starts with the visible `resend` text (WCAG 2.5.3 label in name). */
    resendLabel: (event: string, created: string) => t.t('webhook.resendLabel', { event, created }),
    saved: t.t('webhook.saved'),
    eventsSaved: t.t('webhook.eventsSaved'),
    rotated: t.t('webhook.rotated'),
    removed: t.t('webhook.removed'),
    resent: t.t('webhook.resent'),
    unknownDelivery: t.t('webhook.unknownDelivery'),
    linkText: t.t('webhook.heading'),
    linkDescription: t.t('webhook.linkDescription'),
  };
}

/** The English messages (the source wording). */
export const messages = webhookMessages(ENGLISH);

export interface WebhookPageFrame {
  brandName: string;
  csrfToken: string;
  userName: string;
  /** The page's language (issue 13); English when absent. */
  t?: Translator;
}

/** What the form shows: the typed (or stored) URL and the ticked event types. */
export interface WebhookFormValues {
  url: string;
  eventTypes: WebhookEventType[];
}

export type WebhookFieldErrors = Partial<Record<'url' | 'event_types', string>>;

const EVENT_TYPES = Object.keys(messages.events) as WebhookEventType[];

type Messages = ReturnType<typeof webhookMessages>;

/** @param languageForm given by a confirmation (pages/confirmation.ts): its language switch posts the confirmation again. */
function frame(model: WebhookPageFrame, title: string, body: SafeHtml, languageForm?: LanguageForm): string {
  const messages = webhookMessages(model.t);
  return layout(model.brandName, title, html`<nav class="muted" aria-label="${messages.navigation}"><a href="/portal">${messages.portal}</a> · <a href="/portal/team">${(model.t ?? ENGLISH).t('portal.navTeam')}</a> · ${model.userName}</nav>
${body}
<script src="/assets/portal.js" defer></script>`, model, model.t ?? ENGLISH, languageForm);
}

/** English keeps its ISO form to the second; other languages their own date and time (Intl). */
const timeIn = (t: Translator) => (seconds: number | null) => (seconds === null ? '—'
  : t.locale === 'en' ? new Date(seconds * 1000).toISOString().replace('T', ' ').replace('.000Z', ' UTC') : t.dateTime(seconds));

function statusOf(delivery: WebhookDeliveryRecord, messages: Messages): string {
  if (delivery.deliveredAt !== null) return messages.status.delivered;
  if (delivery.nextAttemptAt === null) return messages.status.givenUp;
  return delivery.attempts === 0 ? messages.status.queued : messages.status.pending;
}

const eventLabel = (eventType: string, messages: Messages) => (messages.events as Record<string, string>)[eventType] ?? eventType;

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
  /** webhook-secret.ts privateWebhookTargetsAllowed for this server: the URL hint says what it accepts. Default false (public addresses only). */
  privateTargetsAllowed?: boolean;
}): string {
  const { client } = model;
  const messages = webhookMessages(model.t);
  const time = timeIn(model.t ?? ENGLISH);
  const errors = model.errors ?? {};
  const base = `/portal/clients/${client.clientId}/webhook`;
  const refused = Object.entries(errors).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
  return frame(model, messages.title(client.clientName), html`<h1>${messages.heading}</h1>
<p><a href="/portal/clients/${client.clientId}">${messages.backToClient(client.clientName)}</a></p>
<p class="muted">${messages.intro}</p>
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
${errorSummary(messages.errorSummary, refused.map(([name, message]) => ({ anchor: name === 'event_types' ? 'event_types-fieldset' : name, label: name === 'url' ? messages.urlLabel : messages.eventsLegend, message })), messages.t)}
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
${model.newSecret ? html`<div class="secret" role="alert"${SHOWN_ONCE}><p><strong>${messages.secretHeading}</strong>${messages.colon} ${messages.secretOnce}</p>
<span class="copyable"><code id="webhook_secret" class="secret-value">${model.newSecret}</code> <button type="button" class="copy" data-copy="webhook_secret" data-copied="${messages.copied}" aria-label="${messages.copySecret}">${messages.copy}</button></span></div>` : ''}
${model.endpoint ? '' : html`<p>${messages.notSet}</p>`}
<form method="post" action="${base}" novalidate>
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <label for="url">${messages.urlLabel}</label>
  <input id="url" name="url" type="url" required maxlength="2048" value="${model.values.url}"${described('url', errors, true)}>
  ${fieldError('url', errors)}<div class="muted" id="url-hint">${messages.urlHint(model.privateTargetsAllowed ?? false)}</div>
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
  <td>${eventLabel(delivery.eventType, messages)} <code class="muted">${delivery.eventType}</code></td>
  <td>${time(delivery.createdAt)}</td>
  <td class="delivery-status">${statusOf(delivery, messages)}</td>
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

/**
 * A confirmation before rotating or removing (a POST, then the same POST with `confirm=yes`); Cancel returns to the webhook
 * page. Its language switch shows it again in the language chosen (pages/confirmation.ts), nothing rotated or removed.
 */
export function webhookConfirmationPage(model: WebhookPageFrame & { client: ClientRecord; kind: 'rotate' | 'remove' }): string {
  const messages = webhookMessages(model.t);
  const base = `/portal/clients/${model.client.clientId}/webhook`;
  const [title, consequences, label, action] = model.kind === 'rotate'
    ? [messages.rotateTitle, messages.rotateConsequences, messages.rotateConfirm, `${base}/secret`]
    : [messages.removeTitle, messages.removeConsequences, messages.removeConfirm, `${base}/remove`];
  const { forms, languageForm } = confirmationForms({ csrfToken: model.csrfToken, action, confirmLabel: label, cancelHref: base, cancelLabel: messages.cancel });
  return frame(model, title, html`<h1>${title}</h1>
<div class="warning" role="region" aria-label="${title}"><ul>${consequences.map((line) => html`<li>${line}</li>`)}</ul></div>
${forms}`, languageForm);
}

/** The client page's link to this page (pages/portal-pages.ts `clientPage`). */
export function webhookLink(clientId: string, t: Translator = ENGLISH): SafeHtml {
  const messages = webhookMessages(t);
  return html`<p><a href="/portal/clients/${clientId}/webhook">${messages.linkText}</a>${messages.colon} ${messages.linkDescription}</p>`;
}
