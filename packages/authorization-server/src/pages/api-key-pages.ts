/**
 * Issue 16, API keys, the user's side: the standalone keys page (`/account/api-keys`), its creation form
 * and deletion confirmation, the integrated-key sections of the marketplace and connected apps pages,
 * the permissions dialog (Cancel / Allow), and the page that shows a new key once, with a copy button.
 *
 * Every user-visible string is in the message catalogues (`apiKeys.*`, i18n/locales; issue 13); every form
 * carries the CSRF token (SPEC decision 18); every value is escaped by `html`; no raw identifiers for
 * users (companies by name, scopes in words; a key by its name and display prefix).
 */
import { STANDALONE_API_KEY_LIFETIMES_SECONDS } from '../api-keys/api-key-service.ts';
import { ENGLISH, type MessageKey, type Translator } from '../i18n/i18n.ts';
import { errorSummary, fieldDescription, fieldError as messageBelow } from './field-errors.ts';
import { html, type SafeHtml } from './html.ts';
import { confirmationForms } from './confirmation.ts';
import { layout, SHOWN_ONCE, type LanguageForm } from './layout.ts';
import { type AccountFrame, accountNavigation } from './account-pages.ts';

/** The page's translator (issue 13: every string is in the catalogues, `apiKeys.*`); English when absent. */
const tOf = (model: { t?: Translator }): Translator => model.t ?? ENGLISH;

/** The expiration choices of the creation form (seconds, or `never`), with their catalogue labels. */
const EXPIRATION_CHOICES: Array<[string, MessageKey]> = [
  ...STANDALONE_API_KEY_LIFETIMES_SECONDS.map((seconds, index): [string, MessageKey] => [String(seconds), (['apiKeys.expires30Days', 'apiKeys.expires90Days', 'apiKeys.expires1Year'] as const)[index]!]),
  ['never', 'apiKeys.expiresNever'],
];

/** A field error code (api-key-service.ts standaloneApiKeyProblems, or `subject_invalid`) as its catalogue key. */
const FIELD_ERRORS: Record<string, MessageKey> = {
  name_required: 'apiKeys.error.name_required', name_too_long: 'apiKeys.error.name_too_long', name_invalid: 'apiKeys.error.name_invalid', scopes_required: 'apiKeys.error.scopes_required',
  scope_unknown: 'apiKeys.error.scope_unknown', expiration_invalid: 'apiKeys.error.expiration_invalid', subject_invalid: 'apiKeys.error.subject_invalid',
};

/** @param languageForm given by a confirmation (pages/confirmation.ts): its language switch posts the confirmation again. */
function frame(model: AccountFrame, title: string, body: SafeHtml, languageForm?: LanguageForm): string {
  const t = tOf(model);
  return layout(model.brandName, title, html`${accountNavigation(t, true)}
${body}`, model, t, languageForm);
}

const csrf = (model: AccountFrame) => html`<input type="hidden" name="_csrf" value="${model.csrfToken}">`;

/** "Created … by …. Last used: …." with dates in the page's language (t.dateTime). */
const createdAndUsed = (t: Translator, key: { createdAt: number; createdBy: string; lastUsedAt: number | null }) => ({
  created: t.t('apiKeys.createdAt', { when: t.dateTime(key.createdAt), by: key.createdBy }),
  lastUsed: t.t('apiKeys.lastUsed', { when: key.lastUsedAt === null ? t.t('account.never') : t.dateTime(key.lastUsedAt) }),
});

export interface StandaloneKeyView {
  keyId: string;
  name: string;
  displayPrefix: string;
  subjectName: string;
  subjectType: 'company' | 'organization';
  scopes: string[];
  createdAt: number;
  createdBy: string;
  expiresAt: number | null;
  expired: boolean;
  lastUsedAt: number | null;
  mayDelete: boolean;
}

export function apiKeysPage(model: AccountFrame & { keys: StandaloneKeyView[]; canCreate: boolean; deletedName?: string }): string {
  const t = tOf(model);
  const expiry = (key: StandaloneKeyView) => (key.expiresAt === null ? t.t('apiKeys.neverExpires')
    : t.t(key.expired ? 'apiKeys.expired' : 'apiKeys.expiresAt', { when: t.dateTime(key.expiresAt) }));
  return frame(model, t.t('account.apiKeys'), html`<h1>${t.t('account.apiKeys')}</h1>
${model.deletedName ? html`<p class="notice" role="status">${t.t('apiKeys.deletedNotice', { name: model.deletedName })}</p>` : ''}
<p>${t.t('apiKeys.listIntro')}</p>
${model.canCreate ? html`<p><a class="button" href="/account/api-keys/new">${t.t('apiKeys.createLink')}</a></p>` : html`<p class="muted">${t.t('apiKeys.noSubjects')}</p>`}
${model.keys.length === 0 ? html`<p>${t.t('apiKeys.noKeys')}</p>` : ''}
${model.keys.map((key) => html`<section class="api-key" data-key-id="${key.keyId}">
  <h2>${key.name}</h2>
  <div class="muted">${t.t('apiKeys.keyFor', { subject: key.subjectName })} · ${t.t('apiKeys.accessLevel', { level: key.subjectType })} · ${t.t('apiKeys.startsWith')} <code>${key.displayPrefix}</code></div>
  <ul class="scopes">${key.scopes.map((scope) => html`<li>${scope}</li>`)}</ul>
  <p class="muted">${createdAndUsed(t, key).created} ${expiry(key)} ${createdAndUsed(t, key).lastUsed}</p>
  ${key.mayDelete ? html`<form method="post" action="/account/api-keys/${key.keyId}/delete">${csrf(model)}<button class="primary" type="submit" aria-label="${t.t('apiKeys.deleteLabel', { name: key.name })}">${t.t('apiKeys.deleteButton')}</button></form>` : ''}
</section>
`)}`);
}

export interface SubjectChoice {
  /** The subject URN (the form value). */
  urn: string;
  name: string;
  subjectType: 'company' | 'organization';
}

export interface NewApiKeyValues {
  name: string;
  subject: string;
  expiration: string;
  scope: string[];
}

/** The creation form; `errors` maps a field to an error code (FIELD_ERRORS: its catalogue message), and the input is kept. */
export function newApiKeyPage(model: AccountFrame & { subjects: SubjectChoice[]; scopes: { name: string; description: string }[]; values: NewApiKeyValues; errors?: Record<string, string> }): string {
  const t = tOf(model);
  const errors = model.errors ?? {};
  const message = (field: string) => {
    const code = errors[field];
    if (!code) return undefined;
    const key = FIELD_ERRORS[code];
    return key ? t.t(key) : code;
  };
  const fieldError = (field: string) => messageBelow(field, message(field));
  const described = (field: string, hint = true) => fieldDescription(field, message(field), hint);
  const labels: Record<string, string> = { name: t.t('apiKeys.name'), subject: t.t('apiKeys.subject'), expiration: t.t('apiKeys.expiration'), scopes: t.t('apiKeys.scopes') };
  const anchors: Record<string, string> = { scopes: 'scopes-fieldset' };
  const entries = Object.keys(errors);
  const companies = model.subjects.filter((subject) => subject.subjectType === 'company');
  const organizations = model.subjects.filter((subject) => subject.subjectType === 'organization');
  const option = (subject: SubjectChoice) => html`<option value="${subject.urn}"${model.values.subject === subject.urn ? html` selected` : ''}>${subject.name}</option>`;
  return frame(model, t.t('apiKeys.newTitle'), html`<h1>${t.t('apiKeys.newTitle')}</h1>
${errorSummary(t.t('apiKeys.errorSummary'), entries.map((field) => ({ anchor: anchors[field] ?? field, label: labels[field] ?? field, message: message(field) ?? '' })), t)}
<form method="post" action="/account/api-keys" novalidate>
  ${csrf(model)}
  <label for="name">${t.t('apiKeys.name')}</label>
  <input id="name" name="name" type="text" maxlength="100" value="${model.values.name}"${described('name')}>
  ${fieldError('name')}<div class="muted" id="name-hint">${t.t('apiKeys.nameHint')}</div>
  <label for="subject">${t.t('apiKeys.subject')}</label>
  <select id="subject" name="subject"${described('subject')}>
    ${companies.length > 0 ? html`<optgroup label="${t.t('apiKeys.accessLevel', { level: 'company' })}">${companies.map(option)}</optgroup>` : ''}
    ${organizations.length > 0 ? html`<optgroup label="${t.t('apiKeys.accessLevel', { level: 'organization' })}">${organizations.map(option)}</optgroup>` : ''}
  </select>
  ${fieldError('subject')}<div class="muted" id="subject-hint">${t.t('apiKeys.subjectHint')}</div>
  <label for="expiration">${t.t('apiKeys.expiration')}</label>
  <select id="expiration" name="expiration"${described('expiration')}>
    ${EXPIRATION_CHOICES.map(([value, label]) => html`<option value="${value}"${model.values.expiration === value ? html` selected` : ''}>${t.t(label)}</option>`)}
  </select>
  ${fieldError('expiration')}<div class="muted" id="expiration-hint">${t.t('apiKeys.expirationHint')}</div>
  <fieldset id="scopes-fieldset"${described('scopes', false)}><legend>${t.t('apiKeys.scopes')}</legend>
  ${model.scopes.map((scope) => html`<label class="check"><input type="checkbox" name="scope" value="${scope.name}"${model.values.scope.includes(scope.name) ? html` checked` : ''}> ${scope.description}</label>
  `)}
  </fieldset>
  ${fieldError('scopes')}
  <div class="actions"><a class="button secondary" href="/account/api-keys">${t.t('account.cancel')}</a><button class="primary" type="submit">${t.t('apiKeys.create')}</button></div>
</form>`);
}

/** The one page that shows a key's value (no-store; the copy button is /assets/portal.js). */
export function apiKeyShownPage(model: AccountFrame & { title: string; intro: string; value: string; onward: SafeHtml }): string {
  const t = tOf(model);
  return frame(model, model.title, html`<h1>${model.title}</h1>
<div class="notice" role="status"><p>${model.intro}</p><p><strong>${t.t('apiKeys.shownOnce')}</strong></p>
<span class="copyable"${SHOWN_ONCE}><code id="api_key_value" class="secret-value">${model.value}</code> <button type="button" class="copy" data-copy="api_key_value" data-copied="${t.t('apiKeys.copied')}" aria-label="${t.t('apiKeys.copyLabel')}">${t.t('apiKeys.copy')}</button></span></div>
${model.onward}`);
}

export const standaloneOnward = (t: Translator = ENGLISH) => html`<p class="muted">${t.t('apiKeys.useAsBasic')}</p><p><a href="/account/api-keys">${t.t('apiKeys.backToKeys')}</a></p>`;

/**
 * A confirmation before a destructive action: a form posting again with `confirm=yes`, and Cancel. Its language switch
 * shows it again in the language chosen (pages/confirmation.ts), nothing deleted or revoked.
 */
export function apiKeyConfirmationPage(model: AccountFrame & { title: string; warning: string; action: string; confirmLabel: string; cancelHref: string; hidden?: Record<string, string> }): string {
  const t = tOf(model);
  const { forms, languageForm } = confirmationForms({
    csrfToken: model.csrfToken, action: model.action, hidden: model.hidden, confirmLabel: model.confirmLabel, cancelHref: model.cancelHref, cancelLabel: t.t('account.cancel'),
  });
  return frame(model, model.title, html`<h1>${model.title}</h1>
<p>${model.warning}</p>
${forms}`, languageForm);
}

/**
 * The permissions dialog of an integrated key (Cancel / Allow), naming the app, the company and the scopes in words. It
 * answers a POST (the company picked): its language switch shows it again in the language chosen, no key installed.
 */
export function permissionsDialogPage(model: AccountFrame & { clientId: string; clientName: string; subjectUrn: string; subjectName: string; scopes: string[]; replaces: boolean }): string {
  const t = tOf(model);
  const title = t.t('apiKeys.dialogTitle', { app: model.clientName, subject: model.subjectName });
  const { forms, languageForm } = confirmationForms({
    csrfToken: model.csrfToken, action: `/marketplace/${model.clientId}/api-key`, hidden: { subject: model.subjectUrn }, confirmLabel: t.t('apiKeys.allow'),
    confirmStyle: 'primary', cancelHref: '/marketplace', cancelLabel: t.t('account.cancel'),
  });
  return frame(model, title, html`<h1>${title}</h1>
<p>${t.t('apiKeys.dialogIntro', { app: model.clientName })}</p>
<ul class="scopes">${model.scopes.map((scope) => html`<li>${scope}</li>`)}</ul>
${model.replaces ? html`<p class="notice">${t.t('apiKeys.dialogReplaces', { app: model.clientName })}</p>` : ''}
${forms}`, languageForm);
}

export const integratedOnward = (clientName: string, href: string | null, t: Translator = ENGLISH) => html`<p>${t.t('apiKeys.integratedShownSteps', { app: clientName })}</p>
${href ? html`<p><a class="button" href="${href}" rel="noopener noreferrer">${t.t('apiKeys.goTo', { app: clientName })}</a></p>` : ''}
<p><a href="/account/connected-apps">${t.t('apiKeys.backToConnectedApps')}</a></p>`;

export interface IntegrationView {
  clientId: string;
  clientName: string;
  scopes: string[];
  /** Companies the user administers. */
  companies: { urn: string; name: string }[];
}

/** The marketplace's section of integrations offering API keys (appended to the marketplace page). */
export function integrationsSection(model: { csrfToken: string; integrations: IntegrationView[]; t?: Translator }): SafeHtml {
  if (model.integrations.length === 0) return html``;
  const t = tOf(model);
  return html`<h2>${t.t('apiKeys.marketplaceTitle')}</h2>
<p class="muted">${t.t('apiKeys.marketplaceIntro')}</p>
${model.integrations.map((app) => html`<section class="marketplace-app api-key-integration" data-client-id="${app.clientId}">
  <h3>${app.clientName}</h3>
  <ul class="scopes">${app.scopes.map((scope) => html`<li>${scope}</li>`)}</ul>
  ${app.companies.length === 0 ? html`<p class="muted">${t.t('apiKeys.noCompany')}</p>` : html`<form method="post" action="/marketplace/${app.clientId}/api-key">
    <input type="hidden" name="_csrf" value="${model.csrfToken}">
    <label for="api-key-subject-${app.clientId}">${t.t('apiKeys.installSubject')}</label>
    <select id="api-key-subject-${app.clientId}" name="subject">${app.companies.map((company) => html`<option value="${company.urn}">${company.name}</option>`)}</select>
    <div class="actions"><button class="primary" type="submit">${t.t('apiKeys.install', { app: app.clientName })}</button></div>
  </form>`}
</section>
`)}`;
}

export interface IntegratedKeyView {
  keyId: string;
  clientId: string;
  clientName: string;
  subjectUrn: string;
  subjectName: string;
  displayPrefix: string;
  scopes: string[];
  createdAt: number;
  createdBy: string;
  lastUsedAt: number | null;
  mayChange: boolean;
}

/** The connected apps page's section of integrated keys (appended to it): New key… and Revoke… for administrators. */
export function integratedKeysSection(model: { csrfToken: string; keys: IntegratedKeyView[]; revoked?: { clientName: string; subjectName: string }; t?: Translator }): SafeHtml {
  if (model.keys.length === 0 && !model.revoked) return html``;
  const t = tOf(model);
  return html`<h2>${t.t('apiKeys.connectedTitle')}</h2>
${model.revoked ? html`<p class="notice" role="status">${t.t('apiKeys.revokedNotice', { app: model.revoked.clientName, subject: model.revoked.subjectName })}</p>` : ''}
${model.keys.map((key) => {
    const names = { app: key.clientName, subject: key.subjectName };
    const dates = createdAndUsed(t, key);
    return html`<section class="connected-app integrated-api-key" data-key-id="${key.keyId}">
  <h3>${key.clientName}</h3>
  <div class="muted">${t.t('apiKeys.keyFor', { subject: key.subjectName })} · ${t.t('apiKeys.connectedKey', { prefix: key.displayPrefix })}</div>
  <ul class="scopes">${key.scopes.map((scope) => html`<li>${scope}</li>`)}</ul>
  <p class="muted">${dates.created} ${dates.lastUsed}</p>
  <div class="actions">
  ${key.mayChange ? html`<form method="post" action="/marketplace/${key.clientId}/api-key"><input type="hidden" name="_csrf" value="${model.csrfToken}"><input type="hidden" name="subject" value="${key.subjectUrn}"><button type="submit" aria-label="${t.t('apiKeys.reconnectLabel', names)}">${t.t('apiKeys.reconnect')}</button></form>
  <form method="post" action="/account/connected-apps/api-keys/${key.keyId}/revoke"><input type="hidden" name="_csrf" value="${model.csrfToken}"><button class="primary" type="submit" aria-label="${t.t('apiKeys.revokeLabel', names)}">${t.t('apiKeys.revoke')}</button></form>`
    : html`<span class="muted">${t.t('apiKeys.onlyAdministrator', { subject: key.subjectName })}</span>`}
  </div>
</section>
`;
  })}`;
}

export function apiKeyMessagePage(model: AccountFrame, title: string, message: string, onward: { href: string; label: string }): string {
  return frame(model, title, html`<h1>${title}</h1><p>${message}</p><p><a href="${onward.href}">${onward.label}</a></p>`);
}
