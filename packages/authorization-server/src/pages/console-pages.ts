/**
 * The administrators' console (issue 13): the review queue of pending clients, client search, grants
 * search with revoke, and the audit log with filters and export. One function per page, each taking a
 * plain view model; every form carries the CSRF token (SPEC decision 18); every value is escaped by `html`.
 */
import { ENGLISH, type Translator } from '../i18n/i18n.ts';
import type { ClientRecord, ReviewedBranding } from '../storage/storage.ts';
import { fieldDescription, fieldError } from './field-errors.ts';
import { html, type SafeHtml } from './html.ts';
import { confirmationForms } from './confirmation.ts';
import { layout, type LanguageForm } from './layout.ts';

export interface ConsoleFrame {
  brandName: string;
  csrfToken: string;
  userName: string;
  /** The page's language (issue 13); English when absent. */
  t?: Translator;
}

/** The actions on a client, by the status it is in (the rules themselves are clients/client-management.ts's). */
export type ClientAction = 'approve' | 'suspend' | 'reactivate' | 'delete' | 'reject_branding' | 'grant_pkce_exception' | 'withdraw_pkce_exception';

export const CLIENT_ACTION_LABELS: Record<ClientAction, string> = {
  approve: 'Approve', suspend: 'Suspend', reactivate: 'Reactivate', delete: 'Delete',
  reject_branding: 'Reject change', grant_pkce_exception: 'Exempt from PKCE', withdraw_pkce_exception: 'Require PKCE',
};

/**
 * The actions a client's status allows. `brandingChange`: a partner's branding change waits with the
 * reviewed values kept (issue 13), so it can be rejected. PKCE exceptions: confidential clients only (SPEC decision 2).
 */
export function actionsFor(client: ClientRecord, brandingChange = false): ClientAction[] {
  const pkce: ClientAction[] = client.clientType !== 'confidential' ? [] : client.pkceRequired ? ['grant_pkce_exception'] : ['withdraw_pkce_exception'];
  if (client.status === 'pending') return ['approve', 'suspend', 'delete', ...pkce];
  if (client.status === 'active') {
    return client.brandingVerified ? ['suspend', 'delete', ...pkce] : ['approve', ...(brandingChange ? ['reject_branding' as const] : []), 'suspend', 'delete', ...pkce];
  }
  if (client.status === 'suspended') return ['reactivate', 'delete', ...pkce];
  return [];
}

const NEW_ACTION_KEYS = { reject_branding: 'console.rejectBranding', grant_pkce_exception: 'console.grantPkceException', withdraw_pkce_exception: 'console.withdrawPkceException' } as const;

/** The button text of an action, in the page's language. */
export function actionText(t: Translator, action: ClientAction): string {
  return action in NEW_ACTION_KEYS ? t.t(NEW_ACTION_KEYS[action as keyof typeof NEW_ACTION_KEYS]) : t.t('console.action', { action });
}

/** The notice after an action, in the page's language. */
export function doneText(t: Translator, action: ClientAction): string {
  if (action === 'reject_branding') return t.t('console.rejectedBranding');
  if (action === 'grant_pkce_exception' || action === 'withdraw_pkce_exception') return t.t('console.pkceDone', { exempt: action === 'grant_pkce_exception' ? 'yes' : 'no' });
  return t.t('console.done', { action });
}

const tOf = (model: ConsoleFrame) => model.t ?? ENGLISH;

/** The console's page frame: its navigation above `body`. */
export function consoleFrame(model: ConsoleFrame, title: string, body: SafeHtml): string {
  return frame(model, title, body);
}

/** @param languageForm given by a confirmation (pages/confirmation.ts): its language switch posts the confirmation again. */
function frame(model: ConsoleFrame, title: string, body: SafeHtml, languageForm?: LanguageForm): string {
  const t = tOf(model);
  return layout(model.brandName, title, html`<nav class="muted" aria-label="${t.t('console.nav')}"><a href="/admin">${t.t('console.reviewQueue')}</a> · <a href="/admin/clients">${t.t('console.clients')}</a> · <a href="/admin/grants">${t.t('console.grants')}</a> · <a href="/admin/users">${t.t('console.users')}</a> · <a href="/admin/companies">${t.t('console.companies')}</a> · <a href="/admin/organizations">${t.t('console.organizations')}</a> · <a href="/admin/api-keys">${t.t('account.apiKeys')}</a> · <a href="/admin/audit">${t.t('console.auditLog')}</a></nav>
${body}`, model, t, languageForm);
}

function actionForms(model: ConsoleFrame, client: ClientRecord, brandingChange = false): SafeHtml[] {
  const t = tOf(model);
  return actionsFor(client, brandingChange).map((action) => html`<form class="inline" method="post" action="/admin/clients/${client.clientId}/${action}"><input type="hidden" name="_csrf" value="${model.csrfToken}"><button type="submit" aria-label="${action in NEW_ACTION_KEYS ? `${actionText(t, action)} ${client.clientName}` : t.t('console.actionLabel', { action, client: client.clientName })}">${actionText(t, action)}…</button></form> `);
}

function clientRow(model: ConsoleFrame, client: ClientRecord): SafeHtml {
  const t = tOf(model);
  return html`<tr><td><strong>${client.clientName}</strong><br><code class="muted">${client.clientId}</code></td>
  <td>${t.t('console.status', { status: client.status })}${client.brandingVerified ? '' : html`<br><span class="muted">${t.t('console.brandingNotReviewed')}</span>`}${client.pkceRequired ? '' : html`<br><span class="muted">${t.t('console.pkceExempt')}</span>`}</td>
  <td>${client.redirectUris.map((uri) => html`<code>${uri}</code><br>`)}</td>
  <td>${actionForms(model, client)}</td></tr>`;
}

/** A partner's branding change waiting for review (issue 13): the reviewed values, and where the reviewed logo is served. */
export interface BrandingChangeView {
  reviewed: ReviewedBranding;
  /** The `src` of the reviewed logo (the kept upload at /admin/clients/<id>/reviewed-logo, or its external URI); null: none. */
  reviewedLogoSrc: string | null;
}

/** Before and after, side by side, with what changed named in words (not colour alone). */
function brandingChangeSection(model: ConsoleFrame, client: ClientRecord, change: BrandingChangeView): SafeHtml {
  const t = tOf(model);
  const none = html`<span class="muted">${t.t('console.none')}</span>`;
  // Beside a feminine noun where the language agrees it (French: Conditions, Politique, Description: aucune).
  const noneFeminine = html`<span class="muted">${t.t('console.noneFeminine')}</span>`;
  const uri = (value: string | null, empty = none) => (value ? html`<a href="${value}" rel="noopener noreferrer">${value}</a>` : empty);
  const logo = (src: string | null, alt: string) => (src ? html`<img class="logo-compare" src="${src}" alt="${alt}" width="64" height="64">` : none);
  const rows: [string, boolean, SafeHtml | string, SafeHtml | string][] = [
    [t.t('console.name'), change.reviewed.clientName !== client.clientName, change.reviewed.clientName, client.clientName],
    [t.t('console.logo'), change.reviewed.logoUri !== client.logoUri,
      logo(change.reviewedLogoSrc, t.t('console.logoBefore', { client: change.reviewed.clientName })), logo(client.logoUri, t.t('console.logoAfter', { client: client.clientName }))],
    [t.t('console.homePage'), change.reviewed.clientUri !== client.clientUri, uri(change.reviewed.clientUri), uri(client.clientUri)],
    [t.t('console.termsOfService'), change.reviewed.tosUri !== client.tosUri, uri(change.reviewed.tosUri, noneFeminine), uri(client.tosUri, noneFeminine)],
    [t.t('console.privacyPolicy'), change.reviewed.policyUri !== client.policyUri, uri(change.reviewed.policyUri, noneFeminine), uri(client.policyUri, noneFeminine)],
    // The marketplace description is reviewed too (absent in a record kept before it was).
    ...(change.reviewed.description === undefined ? [] : [[t.t('marketplace.descriptionLabel'), change.reviewed.description !== (client.description ?? null),
      change.reviewed.description ?? noneFeminine, client.description ?? noneFeminine] as [string, boolean, SafeHtml | string, SafeHtml | string]]),
  ];
  const headingId = `change-${client.clientId}`;
  return html`<section class="branding-change" aria-labelledby="${headingId}"><h3 id="${headingId}">${client.clientName} <code class="muted">${client.clientId}</code></h3>
<div class="table-scroll" tabindex="0" role="region" aria-label="${t.t('console.brandingChangeCaption', { client: client.clientName })}"><table class="sessions compare"><caption class="muted">${t.t('console.brandingChangeCaption', { client: client.clientName })}</caption>
<thead><tr><th scope="col">${t.t('console.field')}</th><th scope="col">${t.t('console.before')}</th><th scope="col">${t.t('console.after')}</th></tr></thead>
<tbody>${rows.map(([label, changed, before, after]) => html`<tr${changed ? html` class="changed"` : ''}><th scope="row">${label}${changed ? html`<br><strong class="tag">${t.t('console.changed')}</strong>` : ''}</th><td>${before}</td><td>${after}</td></tr>`)}</tbody></table></div>
<div class="actions">${actionForms(model, client, true)}</div></section>`;
}

function clientTable(model: ConsoleFrame, clients: ClientRecord[], caption: string): SafeHtml {
  const t = tOf(model);
  return html`<div class="table-scroll" tabindex="0" role="region" aria-label="${caption}"><table class="sessions"><caption class="muted">${caption}</caption>
<thead><tr><th scope="col">${t.t('console.client')}</th><th scope="col">${t.t('console.statusHeading')}</th><th scope="col">${t.t('console.redirectUris')}</th><th scope="col">${t.t('console.actions')}</th></tr></thead>
<tbody>${clients.map((client) => clientRow(model, client))}</tbody></table></div>`;
}

/** GET /admin: the clients waiting for review (pending, or active with branding not yet reviewed). */
export function reviewQueuePage(model: ConsoleFrame & { clients: ClientRecord[]; notice?: string; brandingChanges?: Map<string, BrandingChangeView> }): string {
  const t = tOf(model);
  const changes = model.brandingChanges ?? new Map<string, BrandingChangeView>();
  const changed = model.clients.filter((client) => changes.has(client.clientId));
  const others = model.clients.filter((client) => !changes.has(client.clientId));
  return frame(model, t.t('console.reviewQueue'), html`<h1>${t.t('console.reviewQueue')}</h1>
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
${model.clients.length === 0 ? html`<p>${t.t('console.nothingWaits')}</p>` : ''}
${changed.length === 0 ? '' : html`<h2>${t.t('console.brandingChanges')}</h2>${changed.map((client) => brandingChangeSection(model, client, changes.get(client.clientId)!))}`}
${others.length === 0 ? '' : clientTable(model, others, t.t('console.waitingCaption'))}`);
}

/** GET /admin/clients?q= */
export function clientSearchPage(model: ConsoleFrame & { query: string; clients: ClientRecord[]; notice?: string }): string {
  const t = tOf(model);
  return frame(model, t.t('console.clients'), html`<h1>${t.t('console.clients')}</h1>
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
<form method="get" action="/admin/clients" class="filter" role="search">
  <label for="q">${t.t('console.nameOrId')}</label>
  <input id="q" name="q" type="text" value="${model.query}">
  <button type="submit">${t.t('console.search')}</button>
</form>
${model.clients.length === 0 ? html`<p>${t.t('console.noClientMatches')}</p>` : clientTable(model, model.clients, t.t('console.clientCount', { count: model.clients.length }))}`);
}

export interface GrantView {
  grantId: string;
  clientName: string;
  subjectName: string;
  userName: string;
  scopes: string[];
  /** ISO 8601, UTC. */
  createdAt: string;
}

/** GET /admin/grants?user=&company=&client= (active grants; one filter at a time). */
export function grantSearchPage(model: ConsoleFrame & { user: string; company: string; client: string; grants: GrantView[] | undefined; error?: string; notice?: string }): string {
  const t = tOf(model);
  const search = new URLSearchParams(Object.entries({ user: model.user, company: model.company, client: model.client }).filter(([, value]) => value !== ''));
  return frame(model, t.t('console.grants'), html`<h1>${t.t('console.grants')}</h1>
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
<form method="get" action="/admin/grants" class="filter" role="search">
  <label for="user">${t.t('console.userFilter')}</label><input id="user" name="user" type="text" value="${model.user}">
  <label for="company">${t.t('console.companyId')}</label><input id="company" name="company" type="text" value="${model.company}">
  <label for="client">${t.t('console.clientId')}</label><input id="client" name="client" type="text" value="${model.client}">
  <button type="submit">${t.t('console.search')}</button>
</form>
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
${model.grants === undefined ? html`<p class="muted">${t.t('console.searchByOne')}</p>` : model.grants.length === 0 ? html`<p>${t.t('console.noGrantMatches')}</p>` : grantTable(model, model.grants, `/admin/grants?${search}`)}`);
}

/** An ISO 8601 moment as `<time>`: the exact value in `datetime`, the text in the page's language (`t.dateTime`, UTC). */
const timeOf = (t: Translator, iso: string): SafeHtml => html`<time datetime="${iso}">${t.dateTime(Date.parse(iso) / 1000)}</time>`;

/**
 * Active grants with a revoke button each (confirmed on the next page).
 * @param returnTo the page the table is on (a grant search with its query, a user's page): the confirmation's
 *   Cancel and the revocation come back to it.
 */
export function grantTable(model: ConsoleFrame, grants: GrantView[], returnTo: string): SafeHtml {
  const t = tOf(model);
  return html`<div class="table-scroll" tabindex="0" role="region" aria-label="${t.t('console.activeGrants')}"><table class="sessions">
<thead><tr><th scope="col">${t.t('console.app')}</th><th scope="col">${t.t('console.company')}</th><th scope="col">${t.t('console.connectedBy')}</th><th scope="col">${t.t('console.scopes')}</th><th scope="col">${t.t('console.since')}</th><th scope="col">${t.t('console.actionHeading')}</th></tr></thead>
<tbody>${grants.map((grant) => html`<tr><td>${grant.clientName}</td><td>${grant.subjectName}</td><td>${grant.userName}</td><td>${grant.scopes.join(', ')}</td><td>${timeOf(t, grant.createdAt)}</td>
<td><form class="inline" method="post" action="/admin/grants/${grant.grantId}/revoke"><input type="hidden" name="_csrf" value="${model.csrfToken}"><input type="hidden" name="return_to" value="${returnTo}"><button type="submit" aria-label="${t.t('console.revokeLabel', { client: grant.clientName, subject: grant.subjectName })}">${t.t('console.revokeEllipsis')}</button></form></td></tr>`)}</tbody></table></div>`;
}

/**
 * A confirmation naming what will happen; posts the same action again with `confirm=yes`. It answers a POST: its
 * language switch shows it again in the language chosen (pages/confirmation.ts), nothing done.
 * @param model.from, model.returnTo where the action was taken, sent again with the confirmation (and by its switch).
 */
export function consoleConfirmationPage(model: ConsoleFrame & { title: string; consequences: string[]; action: string; confirmLabel: string; cancelHref: string; from?: 'search'; returnTo?: string }): string {
  const t = tOf(model);
  const { forms, languageForm } = confirmationForms({
    csrfToken: model.csrfToken, action: model.action, confirmLabel: model.confirmLabel, cancelHref: model.cancelHref, cancelLabel: t.t('console.cancel'),
    hidden: { ...(model.from ? { from: model.from } : {}), ...(model.returnTo ? { return_to: model.returnTo } : {}) },
  });
  return frame(model, model.title, html`<h1>${model.title}</h1>
<div class="warning" role="region" aria-label="${t.t('console.whatWillHappen')}"><ul>${model.consequences.map((line) => html`<li>${line}</li>`)}</ul></div>
${forms}`, languageForm);
}

export interface AuditRow {
  eventId: number;
  /** ISO 8601, UTC. */
  at: string;
  type: string;
  actor: string;
  /** The page only (not the export): the name of the user or client the actor names, when it still exists. */
  actorName?: string;
  clientId: string;
  /** The page only: the client's name, when it still exists. */
  clientName?: string;
  grantId: string;
  /** The details as JSON (never a secret or token value: none is recorded, SPEC decision 19). */
  details: string;
}

/** A name where one is known, with the identifier the event recorded beside it (an audit log keeps what it stored). */
const named = (name: string | undefined, recorded: string) => (name ? html`${name} <code class="muted">${recorded}</code>` : recorded ? html`<code>${recorded}</code>` : '');

/** GET /admin/audit?type=&client=&before= */
/** @param model.fieldErrors a filter field that cannot match anything (its value kept); the page then lists nothing. */
export function auditLogPage(model: ConsoleFrame & {
  type: string; client: string; rows: AuditRow[]; olderUrl?: string; exportQuery: string; fieldErrors?: { type?: string; client?: string };
}): string {
  const t = tOf(model);
  const errors = model.fieldErrors ?? {};
  const refused = errors.type !== undefined || errors.client !== undefined;
  return frame(model, t.t('console.auditLog'), html`<h1>${t.t('console.auditLog')}</h1>
<form method="get" action="/admin/audit" class="filter" role="search">
  <label for="type">${t.t('console.eventType')}</label><input id="type" name="type" type="text" value="${model.type}" placeholder="${t.t('console.eventTypeExample')}"${fieldDescription('type', errors.type, false)}>
  ${fieldError('type', errors.type)}
  <label for="client">${t.t('console.clientId')}</label><input id="client" name="client" type="text" value="${model.client}"${fieldDescription('client', errors.client, false)}>
  ${fieldError('client', errors.client)}
  <button type="submit">${t.t('console.filter')}</button>
</form>
${refused ? '' : html`<p>${t.t('console.exportThese')} <a href="/admin/audit/export?${model.exportQuery}${model.exportQuery ? '&' : ''}format=csv">CSV</a> · <a href="/admin/audit/export?${model.exportQuery}${model.exportQuery ? '&' : ''}format=jsonl">JSON Lines</a></p>`}
${refused ? '' : model.rows.length === 0 ? html`<p>${t.t('console.noEvents')}</p>` : html`<div class="table-scroll" tabindex="0" role="region" aria-label="${t.t('console.auditEvents')}"><table class="sessions">
<thead><tr><th scope="col">${t.t('console.when')}</th><th scope="col">${t.t('console.type')}</th><th scope="col">${t.t('console.actor')}</th><th scope="col">${t.t('console.client')}</th><th scope="col">${t.t('console.details')}</th></tr></thead>
<tbody>${model.rows.map((row) => html`<tr><td>${timeOf(t, row.at)}</td><td>${row.type}</td><td>${named(row.actorName, row.actor)}</td><td>${named(row.clientName, row.clientId)}</td><td><code>${row.details}</code></td></tr>`)}</tbody></table></div>`}
${model.olderUrl ? html`<p><a href="${model.olderUrl}">${t.t('console.olderEvents')}</a></p>` : ''}`);
}

/**
 * The 403 of a signed-in user without the platform-administrator role: no console navigation (every link of
 * it is the same 403), and the way onward is the user's own home and account pages (found by a browser review).
 */
export function consoleNotAdministratorPage(model: ConsoleFrame): string {
  const t = tOf(model);
  const title = t.t('console.notAdminTitle');
  return layout(model.brandName, title, html`<h1>${title}</h1><p class="error" role="alert">${t.t('console.notAdmin')}</p>
<ul><li><a href="/">${t.t('account.home')}</a></li><li><a href="/account">${t.t('account.yourAccount')}</a></li></ul>`, model, t);
}

export function consoleMessagePage(model: ConsoleFrame, title: string, message: string): string {
  return frame(model, title, html`<h1>${title}</h1><p class="error" role="alert">${message}</p><p><a href="/admin">${tOf(model).t('console.reviewQueue')}</a></p>`);
}
