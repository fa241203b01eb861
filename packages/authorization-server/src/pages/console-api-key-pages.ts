/**
 * Issue 16: the administrators' console's API keys page (`/admin/api-keys`): active keys, newest first,
 * each with Revoke… (confirmed with consoleConfirmationPage). Strings in the message catalogues
 * (`consoleApiKeys.*`, issue 13); values escaped by `html`.
 */
import { ENGLISH } from '../i18n/i18n.ts';
import { html } from './html.ts';
import { consoleFrame, type ConsoleFrame } from './console-pages.ts';

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

/** @param model.keys dates already written in the page's language (t.dateTime); `kind` in words. */
export function consoleApiKeysPage(model: ConsoleFrame & { keys: ConsoleApiKeyView[]; revokedName?: string }): string {
  const t = model.t ?? ENGLISH;
  const title = t.t('account.apiKeys');
  return consoleFrame(model, title, html`<h1>${title}</h1>
${model.revokedName ? html`<p class="notice" role="status">${t.t('consoleApiKeys.revokedNotice', { name: model.revokedName })}</p>` : ''}
<p>${t.t('consoleApiKeys.intro')}</p>
${model.keys.length === 0 ? html`<p>${t.t('consoleApiKeys.none')}</p>` : html`<div class="table-scroll" tabindex="0" role="region" aria-label="${title}"><table class="sessions">
<thead><tr><th scope="col">${t.t('consoleApiKeys.columnName')}</th><th scope="col">${t.t('consoleApiKeys.columnSubject')}</th><th scope="col">${t.t('consoleApiKeys.columnScope')}</th><th scope="col">${t.t('consoleApiKeys.columnDates')}</th><th scope="col">${t.t('consoleApiKeys.columnActions')}</th></tr></thead>
<tbody>${model.keys.map((key) => html`<tr data-key-id="${key.keyId}"><td><strong>${key.name}</strong><br><span class="muted">${key.kind} · <code>${key.displayPrefix}…</code></span></td>
<td>${key.subjectName}</td><td>${key.scopes}</td><td>${key.createdAt} · ${key.expiresAt ?? t.t('account.never')} · ${key.lastUsedAt ?? t.t('account.never')}</td>
<td><form method="post" action="/admin/api-keys/${key.keyId}/revoke"><input type="hidden" name="_csrf" value="${model.csrfToken}"><button type="submit" aria-label="${t.t('consoleApiKeys.revokeLabel', { name: key.name, subject: key.subjectName })}">${t.t('apiKeys.revoke')}</button></form></td></tr>`)}</tbody>
</table></div>`}`);
}
