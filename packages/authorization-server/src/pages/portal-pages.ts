/**
 * The developer portal's pages (issue 3): a partner developer's clients, the registration form with every
 * field of the seed "OAuth 2.0 Client Registration", a client's page (edit, logo, secret rotation,
 * deletion), and the once-only display of a new secret. Every form carries the CSRF token (SPEC
 * decision 18); every value is escaped by `html`.
 */
import type { ClientRecord } from '../storage/storage.ts';
import { html, type SafeHtml } from './html.ts';
import { layout } from './layout.ts';

export interface PortalFrame {
  brandName: string;
  csrfToken: string;
  userName: string;
}

export interface ScopeChoice {
  name: string;
  description: string;
}

/** Form values as typed (kept on a refusal so nothing is lost). */
export interface ClientFormValues {
  client_name: string;
  token_endpoint_auth_method: 'client_secret_basic' | 'none';
  redirect_uris: string;
  scope: string[];
  subject_type: '' | 'company' | 'organization';
  client_uri: string;
  tos_uri: string;
  policy_uri: string;
  initiation_uri: string;
  settings_uri: string;
  contacts: string;
}

export const EMPTY_CLIENT_FORM: ClientFormValues = {
  client_name: '', token_endpoint_auth_method: 'client_secret_basic', redirect_uris: '', scope: [], subject_type: '',
  client_uri: '', tos_uri: '', policy_uri: '', initiation_uri: '', settings_uri: '', contacts: '',
};

export function clientFormValues(client: ClientRecord): ClientFormValues {
  return {
    client_name: client.clientName, token_endpoint_auth_method: client.clientType === 'confidential' ? 'client_secret_basic' : 'none',
    redirect_uris: client.redirectUris.join('\n'), scope: client.scopes, subject_type: client.subjectType ?? '', client_uri: client.clientUri ?? '',
    tos_uri: client.tosUri ?? '', policy_uri: client.policyUri ?? '', initiation_uri: client.initiationUri ?? '',
    settings_uri: client.settingsUri ?? '', contacts: client.contacts.join('\n'),
  };
}

function frame(model: PortalFrame, title: string, body: SafeHtml): string {
  return layout(model.brandName, title, html`<nav class="muted"><a href="/portal">Developer portal</a> · ${model.userName}</nav>
${body}`, model);
}

const statusLabel = (client: ClientRecord) => (client.status === 'pending' ? 'pending approval' : client.status);

export function portalHomePage(model: PortalFrame & { clients: ClientRecord[] }): string {
  return frame(model, 'Your OAuth clients', html`<h1>Your OAuth 2.0 clients</h1>
<p class="muted">Registering a client does not publish a marketplace app. New clients wait for the platform's approval before users can connect them.</p>
${model.clients.length === 0 ? html`<p>You have not registered a client yet.</p>` : html`<ul class="clients">
  ${model.clients.map((client) => html`<li><a href="/portal/clients/${client.clientId}">${client.clientName}</a> <span class="muted">${statusLabel(client)}</span></li>\n  `)}
</ul>`}
<p><a class="button" href="/portal/clients/new">Register a client</a></p>`);
}

function field(label: string, name: string, value: string, hint: string, type = 'url'): SafeHtml {
  return html`<label for="${name}">${label}</label>
  <input id="${name}" name="${name}" type="${type}" value="${value}">
  <div class="muted">${hint}</div>`;
}

/** The metadata fields, shared by registration and editing. */
function metadataFields(values: ClientFormValues, scopes: ScopeChoice[], includeType: boolean): SafeHtml {
  return html`<label for="client_name">Client name</label>
  <input id="client_name" name="client_name" type="text" required maxlength="100" value="${values.client_name}">
  <div class="muted">Shown to users on the consent page. Do not use platform branding.</div>
  ${includeType ? html`<label for="token_endpoint_auth_method">Client type</label>
  <select id="token_endpoint_auth_method" name="token_endpoint_auth_method">
    <option value="client_secret_basic"${values.token_endpoint_auth_method === 'client_secret_basic' ? html` selected` : ''}>Confidential: a server-side app with a client secret (client_secret_basic)</option>
    <option value="none"${values.token_endpoint_auth_method === 'none' ? html` selected` : ''}>Public: a single-page or mobile app without a secret (PKCE only)</option>
  </select>` : ''}
  ${field('Client URI', 'client_uri', values.client_uri, 'Your application\'s home or landing page (https).')}
  ${field('Terms of service URI', 'tos_uri', values.tos_uri, 'https')}
  ${field('Privacy policy URI', 'policy_uri', values.policy_uri, 'https')}
  ${field('Initiation URI', 'initiation_uri', values.initiation_uri, 'The page where users begin connecting your application.')}
  ${field('Settings URI', 'settings_uri', values.settings_uri, 'The page in your application where users manage the integration.')}
  <label for="contacts">Contact e-mail addresses</label>
  <textarea id="contacts" name="contacts" rows="2">${values.contacts}</textarea>
  <div class="muted">One per line: the developers or support responsible for the application.</div>
  <label for="redirect_uris">Redirect URIs</label>
  <textarea id="redirect_uris" name="redirect_uris" rows="3" required>${values.redirect_uris}</textarea>
  <div class="muted">One per line, matched exactly: https (http only for localhost outside production), no wildcards or fragments.</div>
  <fieldset><legend>Scopes</legend>
  ${scopes.map((scope) => html`<label class="check"><input type="checkbox" name="scope" value="${scope.name}"${values.scope.includes(scope.name) ? html` checked` : ''}> ${scope.description} <code class="muted">${scope.name}</code></label>\n  `)}
  </fieldset>
  <label for="subject_type">Subject type preference</label>
  <select id="subject_type" name="subject_type">
    <option value=""${values.subject_type === '' ? html` selected` : ''}>None (company)</option>
    <option value="company"${values.subject_type === 'company' ? html` selected` : ''}>Company</option>
    <option value="organization"${values.subject_type === 'organization' ? html` selected` : ''}>Organization</option>
  </select>`;
}

export function registrationPage(model: PortalFrame & { values: ClientFormValues; scopes: ScopeChoice[]; error?: string }): string {
  return frame(model, 'Register a client', html`<h1>Register an OAuth 2.0 client</h1>
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
<form method="post" action="/portal/clients" enctype="multipart/form-data">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  ${metadataFields(model.values, model.scopes, true)}
  <label for="logo">Logo</label>
  <input id="logo" name="logo" type="file" accept="image/png,image/jpeg,image/webp">
  <div class="muted">Square (1:1), at least 256×256 pixels, PNG, JPEG or WebP, at most 1 MiB.</div>
  <div class="actions"><button class="primary" type="submit">Register</button></div>
</form>`);
}

export function clientPage(model: PortalFrame & {
  client: ClientRecord; values: ClientFormValues; scopes: ScopeChoice[]; error?: string; notice?: string;
  /** A secret just issued (registration or rotation): shown this once. */
  newSecret?: string;
}): string {
  const { client } = model;
  return frame(model, client.clientName, html`<h1>${client.clientName}</h1>
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
${model.newSecret ? html`<div class="secret" role="alert"><p><strong>Your client secret</strong> (shown only this once: store it on your server, never in browser or mobile code or source control):</p>
<code id="client_secret">${model.newSecret}</code></div>` : ''}
<dl>
  <dt>Client ID</dt><dd><code id="client_id">${client.clientId}</code></dd>
  <dt>Status</dt><dd id="status">${statusLabel(client)}${client.brandingVerified ? '' : ' · branding not yet reviewed'}</dd>
  <dt>Type</dt><dd>${client.clientType === 'confidential' ? 'confidential (client_secret_basic)' : 'public (none, PKCE)'}</dd>
  <dt>PKCE</dt><dd>${client.pkceRequired ? 'required (S256)' : 'exception granted by the platform'}</dd>
  ${client.logoUri ? html`<dt>Logo</dt><dd><img class="logo" src="${client.logoUri}" alt="${client.clientName} logo"></dd>` : ''}
</dl>
<h2>Details</h2>
<form method="post" action="/portal/clients/${client.clientId}">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  ${metadataFields(model.values, model.scopes, false)}
  <div class="actions"><button class="primary" type="submit">Save</button></div>
</form>
<h2>Logo</h2>
<form method="post" action="/portal/clients/${client.clientId}/logo" enctype="multipart/form-data">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <input id="logo" name="logo" type="file" accept="image/png,image/jpeg,image/webp" required>
  <div class="muted">Square (1:1), at least 256×256 pixels, PNG, JPEG or WebP, at most 1 MiB.</div>
  <div class="actions"><button type="submit">Upload logo</button></div>
</form>
${client.clientType === 'confidential' ? html`<h2>Client secret</h2>
<form method="post" action="/portal/clients/${client.clientId}/secret">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <label for="overlap_seconds">Keep the current secret working for</label>
  <select id="overlap_seconds" name="overlap_seconds">
    <option value="0">no time: it stops now</option>
    <option value="3600">1 hour</option>
    <option value="86400">1 day</option>
    <option value="604800">7 days</option>
  </select>
  <label class="check"><input type="checkbox" name="revoke_grants" value="yes"> Also disconnect every user now (revokes all grants; users must connect again)</label>
  <div class="actions"><button type="submit">Rotate secret</button></div>
</form>` : ''}
<h2>Delete</h2>
<form method="post" action="/portal/clients/${client.clientId}/delete">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <p class="muted">Deleting disconnects every user at once and cannot be undone.</p>
  <div class="actions"><button type="submit">Delete client</button></div>
</form>`);
}

export function portalMessagePage(model: PortalFrame, title: string, message: string): string {
  return frame(model, title, html`<h1>${title}</h1>
<p class="error" role="alert">${message}</p>`);
}
