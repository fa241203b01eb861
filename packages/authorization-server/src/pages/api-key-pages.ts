/**
 * Issue 16, API keys, the user's side: the standalone keys page (`/account/api-keys`), its creation form
 * and deletion confirmation, the integrated-key sections of the marketplace and connected apps pages,
 * the permissions dialog (Cancel / Allow), and the page that shows a new key once, with a copy button.
 *
 * Every user-visible English string is in `messages` (to move into the message catalogues); every form
 * carries the CSRF token (SPEC decision 18); every value is escaped by `html`; no raw identifiers for
 * users (companies by name, scopes in words; a key by its name and display prefix).
 */
import { html, type SafeHtml } from './html.ts';
import { layout } from './layout.ts';
import type { AccountFrame } from './account-pages.ts';

export const messages = {
  nav: { label: 'Account', home: 'Home', connectedApps: 'Connected apps', marketplace: 'Marketplace', account: 'Account', apiKeys: 'API keys' },
  listTitle: 'API keys',
  listIntro: 'API keys let your own scripts and tools call the API for a company or organization you administer. Prefer connecting an app with OAuth where the app supports it.',
  createLink: 'Create an API key',
  noKeys: 'No API keys yet.',
  noSubjects: 'You administer no company or organization, so you cannot create API keys.',
  keyFor: (subject: string) => `for ${subject}`,
  accessLevel: { company: 'Company access', organization: 'Organization access' },
  createdAt: (when: string, by: string) => `Created ${when} by ${by}.`,
  expiresAt: (when: string) => `Expires ${when}.`,
  expired: (when: string) => `Expired ${when}.`,
  neverExpires: 'Never expires.',
  lastUsed: (when: string) => `Last used: ${when}.`,
  never: 'never',
  you: 'you',
  formerUser: 'a former user',
  startsWith: 'Starts with',
  deleteButton: 'Delete…',
  deleteLabel: (name: string) => `Delete the API key ${name}`,
  deletedNotice: (name: string) => `The API key ${name} was deleted. Requests with it are refused.`,
  newTitle: 'Create an API key',
  name: 'Name',
  nameHint: 'So you can recognise it later, e.g. "Monthly export script".',
  subject: 'Access level',
  subjectHint: 'Company access reaches one company; organization access lets the key discover the companies of the organization.',
  expiration: 'Expiration',
  expirationHint: 'Keys that expire are safer: choose the shortest time that works.',
  expirationChoices: [['2592000', '30 days'], ['7776000', '90 days'], ['31536000', '1 year'], ['never', 'Never']] as Array<[string, string]>,
  scopes: 'Permissions',
  create: 'Create API key',
  cancel: 'Cancel',
  fieldErrors: {
    name_required: 'Enter a name.',
    name_too_long: 'Use at most 100 characters.',
    scopes_required: 'Choose at least one permission.',
    scope_unknown: 'Choose only permissions from the list.',
    expiration_invalid: 'Choose an expiration from the list.',
    subject_invalid: 'Choose a company or organization you administer.',
  } as Record<string, string>,
  errorSummary: 'Please correct the marked fields:',
  shownTitle: 'Your new API key',
  shownOnce: 'Copy it now: this is the only time it is shown. Store it like a password; anyone who has it can act with these permissions.',
  copy: 'Copy',
  copied: 'Copied',
  copyLabel: 'Copy the API key',
  useAsBasic: 'Send it as HTTP Basic authentication with the key as the user name and an empty password, e.g. curl -u "KEY:" …',
  backToKeys: 'Back to API keys',
  deleteTitle: (name: string) => `Delete the API key ${name}?`,
  deleteWarning: (subject: string) => `Every request with this key is refused from now on. Scripts using it lose access to ${subject}. This cannot be undone.`,
  deleteConfirm: 'Delete',
  // Integrated keys.
  marketplaceTitle: 'Integrations with API keys',
  marketplaceIntro: 'These approved integrations cannot use OAuth; they connect with an API key made for one company.',
  install: (app: string) => `Install ${app}`,
  installSubject: 'Company to connect',
  noCompany: 'You administer no company to connect.',
  dialogTitle: (app: string, subject: string) => `Allow ${app} to access ${subject}?`,
  dialogIntro: (app: string) => `${app} will get an API key that can:`,
  dialogReplaces: (app: string) => `${app} already has a key for this company: it stops working when you allow this.`,
  allow: 'Allow',
  integratedShownTitle: (app: string) => `Your API key for ${app}`,
  integratedShownSteps: (app: string) => `Copy the key, then paste it into ${app}. ${app} checks it with a test call.`,
  goTo: (app: string) => `Go to ${app}`,
  connectedTitle: 'Integrations connected with API keys',
  connectedKey: (prefix: string) => `Key starting with ${prefix}`,
  reconnect: 'New key…',
  reconnectLabel: (app: string, subject: string) => `Make a new key for ${app} and ${subject}`,
  revoke: 'Revoke…',
  revokeLabel: (app: string, subject: string) => `Revoke the API key of ${app} for ${subject}`,
  onlyAdministrator: (subject: string) => `Only an administrator of ${subject} can change it.`,
  revokeTitle: (app: string, subject: string) => `Revoke the API key of ${app} for ${subject}?`,
  revokeWarning: (app: string, subject: string) => `${app} loses access to ${subject}: its key is refused from now on. To use it again, install it again from the marketplace.`,
  revokeConfirm: 'Revoke',
  revokedNotice: (app: string, subject: string) => `The API key of ${app} for ${subject} was revoked. It can no longer use its access.`,
  notFoundTitle: 'No such API key',
  notFound: 'This API key does not exist or was already removed.',
  notAllowedTitle: 'Not allowed',
  notAllowed: (subject: string) => `Only an administrator of ${subject} can change this.`,
  noSuchAppTitle: 'No such integration',
  noSuchApp: 'This integration does not offer API keys.',
  pickCompany: 'Pick a company you administer.',
  backToMarketplace: 'Back to the marketplace',
  backToConnectedApps: 'Back to connected apps',
};

/** ISO 8601 UTC, to the minute (as the other account pages). */
export const when = (seconds: number) => `${new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function frame(model: AccountFrame, title: string, body: SafeHtml): string {
  const nav = messages.nav;
  return layout(model.brandName, title, html`<nav class="muted" aria-label="${nav.label}"><a href="/">${nav.home}</a> · <a href="/account/connected-apps">${nav.connectedApps}</a> · <a href="/marketplace">${nav.marketplace}</a> · <a href="/account/api-keys">${nav.apiKeys}</a> · <a href="/account">${nav.account}</a></nav>
${body}`, model);
}

const csrf = (model: AccountFrame) => html`<input type="hidden" name="_csrf" value="${model.csrfToken}">`;

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
  return frame(model, messages.listTitle, html`<h1>${messages.listTitle}</h1>
${model.deletedName ? html`<p class="notice" role="status">${messages.deletedNotice(model.deletedName)}</p>` : ''}
<p>${messages.listIntro}</p>
${model.canCreate ? html`<p><a class="button" href="/account/api-keys/new">${messages.createLink}</a></p>` : html`<p class="muted">${messages.noSubjects}</p>`}
${model.keys.length === 0 ? html`<p>${messages.noKeys}</p>` : ''}
${model.keys.map((key) => html`<section class="api-key" data-key-id="${key.keyId}">
  <h2>${key.name}</h2>
  <div class="muted">${messages.keyFor(key.subjectName)} · ${messages.accessLevel[key.subjectType]} · ${messages.startsWith} <code>${key.displayPrefix}</code></div>
  <ul class="scopes">${key.scopes.map((scope) => html`<li>${scope}</li>`)}</ul>
  <p class="muted">${messages.createdAt(when(key.createdAt), key.createdBy)} ${key.expiresAt === null ? messages.neverExpires : key.expired ? messages.expired(when(key.expiresAt)) : messages.expiresAt(when(key.expiresAt))} ${messages.lastUsed(key.lastUsedAt === null ? messages.never : when(key.lastUsedAt))}</p>
  ${key.mayDelete ? html`<form method="post" action="/account/api-keys/${key.keyId}/delete">${csrf(model)}<button class="primary" type="submit" aria-label="${messages.deleteLabel(key.name)}">${messages.deleteButton}</button></form>` : ''}
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

/** The creation form; `errors` maps a field to a `messages.fieldErrors` key, and the input is kept. */
export function newApiKeyPage(model: AccountFrame & { subjects: SubjectChoice[]; scopes: { name: string; description: string }[]; values: NewApiKeyValues; errors?: Record<string, string> }): string {
  const errors = model.errors ?? {};
  const message = (field: string) => (errors[field] ? messages.fieldErrors[errors[field]!] ?? errors[field]! : undefined);
  const fieldError = (field: string) => (message(field) ? html`<p class="field-error" id="${field}-error">${message(field)!}</p>` : '');
  const described = (field: string, hint = true) => {
    const ids = [hint ? `${field}-hint` : '', errors[field] ? `${field}-error` : ''].filter(Boolean).join(' ');
    return html`${ids ? html` aria-describedby="${ids}"` : ''}${errors[field] ? html` aria-invalid="true"` : ''}`;
  };
  const labels: Record<string, string> = { name: messages.name, subject: messages.subject, expiration: messages.expiration, scopes: messages.scopes };
  const anchors: Record<string, string> = { scopes: 'scopes-fieldset' };
  const entries = Object.keys(errors);
  const companies = model.subjects.filter((subject) => subject.subjectType === 'company');
  const organizations = model.subjects.filter((subject) => subject.subjectType === 'organization');
  const option = (subject: SubjectChoice) => html`<option value="${subject.urn}"${model.values.subject === subject.urn ? html` selected` : ''}>${subject.name}</option>`;
  return frame(model, messages.newTitle, html`<h1>${messages.newTitle}</h1>
${entries.length > 0 ? html`<div class="error" role="alert"><p><strong>${messages.errorSummary}</strong></p><ul>${entries.map((field) => html`<li><a href="#${anchors[field] ?? field}">${labels[field] ?? field}</a>: ${message(field) ?? ''}</li>`)}</ul></div>` : ''}
<form method="post" action="/account/api-keys" novalidate>
  ${csrf(model)}
  <label for="name">${messages.name}</label>
  <input id="name" name="name" type="text" maxlength="100" value="${model.values.name}"${described('name')}>
  ${fieldError('name')}<div class="muted" id="name-hint">${messages.nameHint}</div>
  <label for="subject">${messages.subject}</label>
  <select id="subject" name="subject"${described('subject')}>
    ${companies.length > 0 ? html`<optgroup label="${messages.accessLevel.company}">${companies.map(option)}</optgroup>` : ''}
    ${organizations.length > 0 ? html`<optgroup label="${messages.accessLevel.organization}">${organizations.map(option)}</optgroup>` : ''}
  </select>
  ${fieldError('subject')}<div class="muted" id="subject-hint">${messages.subjectHint}</div>
  <label for="expiration">${messages.expiration}</label>
  <select id="expiration" name="expiration"${described('expiration')}>
    ${messages.expirationChoices.map(([value, label]) => html`<option value="${value}"${model.values.expiration === value ? html` selected` : ''}>${label}</option>`)}
  </select>
  ${fieldError('expiration')}<div class="muted" id="expiration-hint">${messages.expirationHint}</div>
  <fieldset id="scopes-fieldset"${described('scopes', false)}><legend>${messages.scopes}</legend>
  ${model.scopes.map((scope) => html`<label class="check"><input type="checkbox" name="scope" value="${scope.name}"${model.values.scope.includes(scope.name) ? html` checked` : ''}> ${scope.description}</label>
  `)}
  </fieldset>
  ${fieldError('scopes')}
  <div class="actions"><a class="button secondary" href="/account/api-keys">${messages.cancel}</a><button class="primary" type="submit">${messages.create}</button></div>
</form>`);
}

/** The one page that shows a key's value (no-store; the copy button is /assets/portal.js). */
export function apiKeyShownPage(model: AccountFrame & { title: string; intro: string; value: string; onward: SafeHtml }): string {
  return frame(model, model.title, html`<h1>${model.title}</h1>
<div class="notice" role="status"><p>${model.intro}</p><p><strong>${messages.shownOnce}</strong></p>
<span class="copyable"><code id="api_key_value" class="secret-value">${model.value}</code> <button type="button" class="copy" data-copy="api_key_value" data-copied="${messages.copied}" aria-label="${messages.copyLabel}">${messages.copy}</button></span></div>
${model.onward}`);
}

export const standaloneOnward = () => html`<p class="muted">${messages.useAsBasic}</p><p><a href="/account/api-keys">${messages.backToKeys}</a></p>`;

/** A confirmation before a destructive action: a form posting again with `confirm=yes`, and Cancel. */
export function apiKeyConfirmationPage(model: AccountFrame & { title: string; warning: string; action: string; confirmLabel: string; cancelHref: string; hidden?: Record<string, string> }): string {
  return frame(model, model.title, html`<h1>${model.title}</h1>
<p>${model.warning}</p>
<form method="post" action="${model.action}">
  ${csrf(model)}
  <input type="hidden" name="confirm" value="yes">
  ${Object.entries(model.hidden ?? {}).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
  <div class="actions"><a class="button secondary" href="${model.cancelHref}">${messages.cancel}</a><button class="danger" type="submit">${model.confirmLabel}</button></div>
</form>`);
}

/** The permissions dialog of an integrated key (Cancel / Allow), naming the app, the company and the scopes in words. */
export function permissionsDialogPage(model: AccountFrame & { clientId: string; clientName: string; subjectUrn: string; subjectName: string; scopes: string[]; replaces: boolean }): string {
  return frame(model, messages.dialogTitle(model.clientName, model.subjectName), html`<h1>${messages.dialogTitle(model.clientName, model.subjectName)}</h1>
<p>${messages.dialogIntro(model.clientName)}</p>
<ul class="scopes">${model.scopes.map((scope) => html`<li>${scope}</li>`)}</ul>
${model.replaces ? html`<p class="notice">${messages.dialogReplaces(model.clientName)}</p>` : ''}
<form method="post" action="/marketplace/${model.clientId}/api-key">
  ${csrf(model)}
  <input type="hidden" name="subject" value="${model.subjectUrn}">
  <input type="hidden" name="confirm" value="yes">
  <div class="actions"><a class="button secondary" href="/marketplace">${messages.cancel}</a><button class="primary" type="submit">${messages.allow}</button></div>
</form>`);
}

export const integratedOnward = (clientName: string, href: string | null) => html`<p>${messages.integratedShownSteps(clientName)}</p>
${href ? html`<p><a class="button" href="${href}" rel="noopener noreferrer">${messages.goTo(clientName)}</a></p>` : ''}
<p><a href="/account/connected-apps">${messages.backToConnectedApps}</a></p>`;

export interface IntegrationView {
  clientId: string;
  clientName: string;
  scopes: string[];
  /** Companies the user administers. */
  companies: { urn: string; name: string }[];
}

/** The marketplace's section of integrations offering API keys (appended to the marketplace page). */
export function integrationsSection(model: { csrfToken: string; integrations: IntegrationView[] }): SafeHtml {
  if (model.integrations.length === 0) return html``;
  return html`<h2>${messages.marketplaceTitle}</h2>
<p class="muted">${messages.marketplaceIntro}</p>
${model.integrations.map((app) => html`<section class="marketplace-app api-key-integration" data-client-id="${app.clientId}">
  <h3>${app.clientName}</h3>
  <ul class="scopes">${app.scopes.map((scope) => html`<li>${scope}</li>`)}</ul>
  ${app.companies.length === 0 ? html`<p class="muted">${messages.noCompany}</p>` : html`<form method="post" action="/marketplace/${app.clientId}/api-key">
    <input type="hidden" name="_csrf" value="${model.csrfToken}">
    <label for="api-key-subject-${app.clientId}">${messages.installSubject}</label>
    <select id="api-key-subject-${app.clientId}" name="subject">${app.companies.map((company) => html`<option value="${company.urn}">${company.name}</option>`)}</select>
    <div class="actions"><button class="primary" type="submit">${messages.install(app.clientName)}</button></div>
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
export function integratedKeysSection(model: { csrfToken: string; keys: IntegratedKeyView[]; revoked?: { clientName: string; subjectName: string } }): SafeHtml {
  if (model.keys.length === 0 && !model.revoked) return html``;
  return html`<h2>${messages.connectedTitle}</h2>
${model.revoked ? html`<p class="notice" role="status">${messages.revokedNotice(model.revoked.clientName, model.revoked.subjectName)}</p>` : ''}
${model.keys.map((key) => html`<section class="connected-app integrated-api-key" data-key-id="${key.keyId}">
  <h3>${key.clientName}</h3>
  <div class="muted">${messages.keyFor(key.subjectName)} · ${messages.connectedKey(key.displayPrefix)}</div>
  <ul class="scopes">${key.scopes.map((scope) => html`<li>${scope}</li>`)}</ul>
  <p class="muted">${messages.createdAt(when(key.createdAt), key.createdBy)} ${messages.lastUsed(key.lastUsedAt === null ? messages.never : when(key.lastUsedAt))}</p>
  <div class="actions">
  ${key.mayChange ? html`<form method="post" action="/marketplace/${key.clientId}/api-key"><input type="hidden" name="_csrf" value="${model.csrfToken}"><input type="hidden" name="subject" value="${key.subjectUrn}"><button type="submit" aria-label="${messages.reconnectLabel(key.clientName, key.subjectName)}">${messages.reconnect}</button></form>
  <form method="post" action="/account/connected-apps/api-keys/${key.keyId}/revoke"><input type="hidden" name="_csrf" value="${model.csrfToken}"><button class="primary" type="submit" aria-label="${messages.revokeLabel(key.clientName, key.subjectName)}">${messages.revoke}</button></form>`
    : html`<span class="muted">${messages.onlyAdministrator(key.subjectName)}</span>`}
  </div>
</section>
`)}`;
}

export function apiKeyMessagePage(model: AccountFrame, title: string, message: string, onward: { href: string; label: string }): string {
  return frame(model, title, html`<h1>${title}</h1><p>${message}</p><p><a href="${onward.href}">${onward.label}</a></p>`);
}
