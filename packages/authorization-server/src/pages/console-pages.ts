/**
 * The administrators' console (issue 13): the review queue of pending clients, client search, grants
 * search with revoke, and the audit log with filters and export. One function per page, each taking a
 * plain view model; every form carries the CSRF token (SPEC decision 18); every value is escaped by `html`.
 */
import type { ClientRecord } from '../storage/storage.ts';
import { html, type SafeHtml } from './html.ts';
import { layout } from './layout.ts';

export interface ConsoleFrame {
  brandName: string;
  csrfToken: string;
  userName: string;
}

/** The actions on a client, by the status it is in (the rules themselves are clients/client-management.ts's). */
export type ClientAction = 'approve' | 'suspend' | 'reactivate' | 'delete';

export const CLIENT_ACTION_LABELS: Record<ClientAction, string> = { approve: 'Approve', suspend: 'Suspend', reactivate: 'Reactivate', delete: 'Delete' };

export function actionsFor(client: ClientRecord): ClientAction[] {
  if (client.status === 'pending') return ['approve', 'suspend', 'delete'];
  if (client.status === 'active') return client.brandingVerified ? ['suspend', 'delete'] : ['approve', 'suspend', 'delete'];
  if (client.status === 'suspended') return ['reactivate', 'delete'];
  return [];
}

function frame(model: ConsoleFrame, title: string, body: SafeHtml): string {
  return layout(model.brandName, title, html`<nav class="muted" aria-label="Console"><a href="/admin">Review queue</a> · <a href="/admin/clients">Clients</a> · <a href="/admin/grants">Grants</a> · <a href="/admin/api-keys">API keys</a> · <a href="/admin/audit">Audit log</a></nav>
${body}`, model);
}

function clientRow(model: ConsoleFrame, client: ClientRecord): SafeHtml {
  return html`<tr><td><strong>${client.clientName}</strong><br><code class="muted">${client.clientId}</code></td>
  <td>${client.status}${client.brandingVerified ? '' : html`<br><span class="muted">branding not reviewed</span>`}</td>
  <td>${client.redirectUris.map((uri) => html`<code>${uri}</code><br>`)}</td>
  <td>${actionsFor(client).map((action) => html`<form class="inline" method="post" action="/admin/clients/${client.clientId}/${action}"><input type="hidden" name="_csrf" value="${model.csrfToken}"><button type="submit" aria-label="${CLIENT_ACTION_LABELS[action]} ${client.clientName}">${CLIENT_ACTION_LABELS[action]}…</button></form> `)}</td></tr>`;
}

function clientTable(model: ConsoleFrame, clients: ClientRecord[], caption: string): SafeHtml {
  return html`<div class="table-scroll" tabindex="0" role="region" aria-label="${caption}"><table class="sessions"><caption class="muted">${caption}</caption>
<thead><tr><th scope="col">Client</th><th scope="col">Status</th><th scope="col">Redirect URIs</th><th scope="col">Actions</th></tr></thead>
<tbody>${clients.map((client) => clientRow(model, client))}</tbody></table></div>`;
}

/** GET /admin: the clients waiting for review (pending, or active with branding not yet reviewed). */
export function reviewQueuePage(model: ConsoleFrame & { clients: ClientRecord[]; notice?: string }): string {
  return frame(model, 'Review queue', html`<h1>Review queue</h1>
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
${model.clients.length === 0 ? html`<p>Nothing waits for review.</p>` : clientTable(model, model.clients, 'Clients waiting for review, oldest first')}`);
}

/** GET /admin/clients?q= */
export function clientSearchPage(model: ConsoleFrame & { query: string; clients: ClientRecord[] }): string {
  return frame(model, 'Clients', html`<h1>Clients</h1>
<form method="get" action="/admin/clients" class="filter" role="search">
  <label for="q">Name or client ID</label>
  <input id="q" name="q" type="text" value="${model.query}">
  <button type="submit">Search</button>
</form>
${model.clients.length === 0 ? html`<p>No client matches.</p>` : clientTable(model, model.clients, `${model.clients.length} clients`)}`);
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
export function grantSearchPage(model: ConsoleFrame & { user: string; company: string; client: string; grants: GrantView[] | undefined; error?: string }): string {
  return frame(model, 'Grants', html`<h1>Grants</h1>
<form method="get" action="/admin/grants" class="filter" role="search">
  <label for="user">User (e-mail or ID)</label><input id="user" name="user" type="text" value="${model.user}">
  <label for="company">Company ID</label><input id="company" name="company" type="text" value="${model.company}">
  <label for="client">Client ID</label><input id="client" name="client" type="text" value="${model.client}">
  <button type="submit">Search</button>
</form>
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
${model.grants === undefined ? html`<p class="muted">Search by one user, company or client.</p>` : model.grants.length === 0 ? html`<p>No active grant matches.</p>` : html`<div class="table-scroll" tabindex="0" role="region" aria-label="Active grants"><table class="sessions">
<thead><tr><th scope="col">App</th><th scope="col">Company</th><th scope="col">Connected by</th><th scope="col">Scopes</th><th scope="col">Since</th><th scope="col">Action</th></tr></thead>
<tbody>${model.grants.map((grant) => html`<tr><td>${grant.clientName}</td><td>${grant.subjectName}</td><td>${grant.userName}</td><td>${grant.scopes.join(', ')}</td><td>${grant.createdAt}</td>
<td><form class="inline" method="post" action="/admin/grants/${grant.grantId}/revoke"><input type="hidden" name="_csrf" value="${model.csrfToken}"><button type="submit" aria-label="Revoke ${grant.clientName} for ${grant.subjectName}">Revoke…</button></form></td></tr>`)}</tbody></table></div>`}`);
}

/** A confirmation naming what will happen; posts the same action again with `confirm=yes`. */
export function consoleConfirmationPage(model: ConsoleFrame & { title: string; consequences: string[]; action: string; confirmLabel: string; cancelHref: string }): string {
  return frame(model, model.title, html`<h1>${model.title}</h1>
<div class="warning" role="region" aria-label="What will happen"><ul>${model.consequences.map((line) => html`<li>${line}</li>`)}</ul></div>
<form method="post" action="${model.action}">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <input type="hidden" name="confirm" value="yes">
  <div class="actions"><a class="button secondary" href="${model.cancelHref}">Cancel</a><button class="danger" type="submit">${model.confirmLabel}</button></div>
</form>`);
}

export interface AuditRow {
  eventId: number;
  /** ISO 8601, UTC. */
  at: string;
  type: string;
  actor: string;
  clientId: string;
  grantId: string;
  /** The details as JSON (never a secret or token value: none is recorded, SPEC decision 19). */
  details: string;
}

/** GET /admin/audit?type=&client=&before= */
export function auditLogPage(model: ConsoleFrame & { type: string; client: string; rows: AuditRow[]; olderUrl?: string; exportQuery: string }): string {
  return frame(model, 'Audit log', html`<h1>Audit log</h1>
<form method="get" action="/admin/audit" class="filter" role="search">
  <label for="type">Event type</label><input id="type" name="type" type="text" value="${model.type}" placeholder="e.g. token.refused">
  <label for="client">Client ID</label><input id="client" name="client" type="text" value="${model.client}">
  <button type="submit">Filter</button>
</form>
<p>Export these events: <a href="/admin/audit/export?${model.exportQuery}${model.exportQuery ? '&' : ''}format=csv">CSV</a> · <a href="/admin/audit/export?${model.exportQuery}${model.exportQuery ? '&' : ''}format=jsonl">JSON Lines</a></p>
${model.rows.length === 0 ? html`<p>No events.</p>` : html`<div class="table-scroll" tabindex="0" role="region" aria-label="Audit events"><table class="sessions">
<thead><tr><th scope="col">When</th><th scope="col">Type</th><th scope="col">Actor</th><th scope="col">Client</th><th scope="col">Details</th></tr></thead>
<tbody>${model.rows.map((row) => html`<tr><td>${row.at}</td><td>${row.type}</td><td>${row.actor}</td><td><code>${row.clientId}</code></td><td><code>${row.details}</code></td></tr>`)}</tbody></table></div>`}
${model.olderUrl ? html`<p><a href="${model.olderUrl}">Older events</a></p>` : ''}`);
}

export function consoleMessagePage(model: ConsoleFrame, title: string, message: string): string {
  return frame(model, title, html`<h1>${title}</h1><p class="error" role="alert">${message}</p><p><a href="/admin">Review queue</a></p>`);
}
