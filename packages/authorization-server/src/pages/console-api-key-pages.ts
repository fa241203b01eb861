/**
 * Issue 16: the administrators' console's API keys page (`/admin/api-keys`): active keys, newest first,
 * each with Revoke… (confirmed with consoleConfirmationPage). Strings in `messages`; values escaped by `html`.
 */
import { html } from './html.ts';
import { layout } from './layout.ts';
import type { ConsoleFrame } from './console-pages.ts';

export const messages = {
  title: 'API keys',
  nav: { label: 'Console', queue: 'Review queue', clients: 'Clients', grants: 'Grants', apiKeys: 'API keys', audit: 'Audit log' },
  intro: 'Active API keys: integrated keys of integrations, and standalone keys of companies and organizations. Values are never stored; revoking refuses a key at once.',
  none: 'No active API keys.',
  columns: { name: 'Key', subject: 'For', scope: 'Permissions', dates: 'Created · expires · last used', actions: 'Actions' },
  integrated: (client: string) => `Integrated key of ${client}`,
  standalone: 'Standalone key',
  never: 'never',
  revoke: 'Revoke…',
  revokeLabel: (name: string, subject: string) => `Revoke the API key ${name} for ${subject}`,
  revokeTitle: (name: string, subject: string) => `Revoke the API key ${name} for ${subject}?`,
  revokeConsequences: (subject: string) => [`Every request with this key is refused at once (resource servers within 5 s); it cannot act for ${subject} any more.`, 'The owner must make a new key (or install the integration again) to restore access.'],
  revokeConfirm: 'Revoke',
  revokedNotice: (name: string) => `The API key ${name} was revoked.`,
  notFoundTitle: 'No such API key',
  notFound: 'There is no active API key with that ID.',
};

export interface ConsoleApiKeyView {
  keyId: string;
  name: string;
  kind: string;
  displayPrefix: string;
  subjectName: string;
  scopes: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

export function consoleApiKeysPage(model: ConsoleFrame & { keys: ConsoleApiKeyView[]; revokedName?: string }): string {
  const nav = messages.nav;
  return layout(model.brandName, messages.title, html`<nav class="muted" aria-label="${nav.label}"><a href="/admin">${nav.queue}</a> · <a href="/admin/clients">${nav.clients}</a> · <a href="/admin/grants">${nav.grants}</a> · <a href="/admin/api-keys">${nav.apiKeys}</a> · <a href="/admin/audit">${nav.audit}</a></nav>
<h1>${messages.title}</h1>
${model.revokedName ? html`<p class="notice" role="status">${messages.revokedNotice(model.revokedName)}</p>` : ''}
<p>${messages.intro}</p>
${model.keys.length === 0 ? html`<p>${messages.none}</p>` : html`<div class="table-scroll" tabindex="0" role="region" aria-label="${messages.title}"><table class="sessions">
<thead><tr><th scope="col">${messages.columns.name}</th><th scope="col">${messages.columns.subject}</th><th scope="col">${messages.columns.scope}</th><th scope="col">${messages.columns.dates}</th><th scope="col">${messages.columns.actions}</th></tr></thead>
<tbody>${model.keys.map((key) => html`<tr data-key-id="${key.keyId}"><td><strong>${key.name}</strong><br><span class="muted">${key.kind} · <code>${key.displayPrefix}…</code></span></td>
<td>${key.subjectName}</td><td>${key.scopes}</td><td>${key.createdAt} · ${key.expiresAt ?? messages.never} · ${key.lastUsedAt ?? messages.never}</td>
<td><form method="post" action="/admin/api-keys/${key.keyId}/revoke"><input type="hidden" name="_csrf" value="${model.csrfToken}"><button type="submit" aria-label="${messages.revokeLabel(key.name, key.subjectName)}">${messages.revoke}</button></form></td></tr>`)}</tbody>
</table></div>`}`, model);
}
