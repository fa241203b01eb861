/**
 * The developer portal's pages (issue 3): a partner developer's clients, the registration form with every
 * field of the seed "OAuth 2.0 Client Registration", a client's page (edit, logo, secret rotation,
 * deletion), and the once-only display of a new secret. Every form carries the CSRF token (SPEC
 * decision 18); every value is escaped by `html`.
 */
import { ENGLISH, type Translator } from '../i18n/i18n.ts';
import { MARKETPLACE_CATEGORIES, type ClientRecord } from '../storage/storage.ts';
import { errorSummary as refusedFieldsSummary, fieldDescription, fieldError as messageBelow } from './field-errors.ts';
import { html, type SafeHtml } from './html.ts';
import { confirmationForms } from './confirmation.ts';
import { layout, SHOWN_ONCE, type LanguageForm } from './layout.ts';
import { webhookLink } from './webhook-pages.ts';
import { tryFlowSection } from './portal-try-flow-pages.ts';

export interface PortalFrame {
  brandName: string;
  csrfToken: string;
  userName: string;
  /** The page's language (issue 13: every portal string is translated; English when absent). */
  t?: Translator;
}

/** Refused fields by their form name (`client_name`, `redirect_uris`, `scope`, `logo`…), each with its reason. */
export type FieldErrors = Partial<Record<string, string>>;

/** The issuer, its metadata URL and every endpoint, as the client page lists them (RFC 8414 names). */
export interface ServerEndpoints {
  issuer: string;
  metadataUrl: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  revocationEndpoint: string;
  introspectionEndpoint: string;
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
  /** Issue 13 (Marketplace): the listing's description and category ('' = none). */
  description: string;
  category: string;
}

export const EMPTY_CLIENT_FORM: ClientFormValues = {
  client_name: '', token_endpoint_auth_method: 'client_secret_basic', redirect_uris: '', scope: [], subject_type: '',
  client_uri: '', tos_uri: '', policy_uri: '', initiation_uri: '', settings_uri: '', contacts: '',
  description: '', category: '',
};

export function clientFormValues(client: ClientRecord): ClientFormValues {
  return {
    client_name: client.clientName, token_endpoint_auth_method: client.clientType === 'confidential' ? 'client_secret_basic' : 'none',
    redirect_uris: client.redirectUris.join('\n'), scope: client.scopes, subject_type: client.subjectType ?? '', client_uri: client.clientUri ?? '',
    tos_uri: client.tosUri ?? '', policy_uri: client.policyUri ?? '', initiation_uri: client.initiationUri ?? '',
    settings_uri: client.settingsUri ?? '', contacts: client.contacts.join('\n'),
    description: client.description ?? '', category: client.category ?? '',
  };
}

/** Every portal page: the portal's navigation (clients, team), the page, and the portal's one script file. */
/** @param languageForm given by a page answering a POST whose form must come back with the language switch (layout.ts `LanguageForm`). */
export function portalFrame(model: PortalFrame, title: string, body: SafeHtml, languageForm?: LanguageForm): string {
  const t = model.t ?? ENGLISH;
  return layout(model.brandName, title, html`<nav class="muted" aria-label="${t.t('portal.nav')}"><a href="/portal">${t.t('portal.navHome')}</a> · <a href="/portal/team">${t.t('portal.navTeam')}</a> · ${model.userName}</nav>
${body}
<script src="/assets/portal.js" defer></script>`, model, t, languageForm);
}
const frame = portalFrame;

const statusLabel = (client: ClientRecord, t: Translator) => t.t('portal.status', { status: client.status });

/** @param approvalRequired whether new clients wait for the platform's approval (every environment but development). */
export function portalHomePage(model: PortalFrame & { clients: ClientRecord[]; notice?: string; approvalRequired: boolean }): string {
  const t = model.t ?? ENGLISH;
  return frame(model, t.t('portal.homeTitle'), html`<h1>${t.t('portal.homeHeading')}</h1>
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
<p class="muted">${t.t(model.approvalRequired ? 'portal.homeIntro' : 'portal.homeIntroDevelopment')}</p>
${model.clients.length === 0 ? html`<p>${t.t('portal.noClients')}</p>` : html`<ul class="clients">
  ${model.clients.map((client) => html`<li><a href="/portal/clients/${client.clientId}">${client.clientName}</a> <span class="muted">${statusLabel(client, t)}</span></li>\n  `)}
</ul>`}
<p><a class="button" href="/portal/clients/new">${t.t('portal.registerClient')}</a></p>`);
}

/** The message of a refused field, right below it, and the attributes that name it (field-errors.ts). */
const fieldError = (name: string, errors: FieldErrors): SafeHtml => messageBelow(name, errors[name]);
const described = (name: string, errors: FieldErrors, hasHint = true): SafeHtml => fieldDescription(name, errors[name], hasHint);

function field(label: string, name: string, value: string, hint: string, errors: FieldErrors, type = 'url'): SafeHtml {
  return html`<label for="${name}">${label}</label>
  <input id="${name}" name="${name}" type="${type}" value="${value}"${described(name, errors)}>
  ${fieldError(name, errors)}<div class="muted" id="${name}-hint">${hint}</div>`;
}

/** Every refused field listed at the top, each a link to the field (WCAG 3.3.1); the messages also stand beside the fields. */
function errorSummary(errors: FieldErrors, labels: Record<string, string>, t: Translator): SafeHtml {
  const entries = Object.entries(errors).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
  return refusedFieldsSummary(t.t('portal.correctFields'), entries.map(([name, message]) => ({ anchor: name === 'scope' ? 'scope-fieldset' : name, label: labels[name] ?? name, message })), t);
}

/** The form labels by field name (also used by the error summary), in the page's language. */
export function fieldLabels(t: Translator): Record<string, string> {
  return {
    client_name: t.t('portal.fieldClientName'), redirect_uris: t.t('portal.fieldRedirectUris'), scope: t.t('portal.fieldScopes'), client_uri: t.t('portal.fieldClientUri'),
    tos_uri: t.t('portal.fieldTosUri'), policy_uri: t.t('portal.fieldPolicyUri'), initiation_uri: t.t('portal.fieldInitiationUri'), settings_uri: t.t('portal.fieldSettingsUri'),
    contacts: t.t('portal.fieldContacts'), logo: t.t('portal.fieldLogo'), subject_type: t.t('portal.fieldSubjectType'), token_endpoint_auth_method: t.t('portal.fieldClientType'),
    overlap_seconds: t.t('portal.fieldOverlap'),
    description: t.t('marketplace.descriptionLabel'), category: t.t('marketplace.categoryLabel'),
  };
}
/** The English labels (kept for callers outside the pages). */
export const FIELD_LABELS: Record<string, string> = fieldLabels(ENGLISH);

/** The metadata fields, shared by registration and editing; a refused field carries its message beside it. */
function metadataFields(values: ClientFormValues, scopes: ScopeChoice[], includeType: boolean, errors: FieldErrors, t: Translator): SafeHtml {
  const labels = fieldLabels(t);
  return html`<label for="client_name">${labels.client_name}</label>
  <input id="client_name" name="client_name" type="text" required maxlength="100" value="${values.client_name}"${described('client_name', errors)}>
  ${fieldError('client_name', errors)}<div class="muted" id="client_name-hint">${t.t('portal.hintClientName')}</div>
  ${includeType ? html`<label for="token_endpoint_auth_method">${labels.token_endpoint_auth_method}</label>
  <select id="token_endpoint_auth_method" name="token_endpoint_auth_method"${described('token_endpoint_auth_method', errors, false)}>
    <option value="client_secret_basic"${values.token_endpoint_auth_method === 'client_secret_basic' ? html` selected` : ''}>${t.t('portal.typeConfidential')}</option>
    <option value="none"${values.token_endpoint_auth_method === 'none' ? html` selected` : ''}>${t.t('portal.typePublic')}</option>
  </select>
  ${fieldError('token_endpoint_auth_method', errors)}` : ''}
  ${field(labels.client_uri!, 'client_uri', values.client_uri, t.t('portal.hintClientUri'), errors)}
  ${field(labels.tos_uri!, 'tos_uri', values.tos_uri, 'https', errors)}
  ${field(labels.policy_uri!, 'policy_uri', values.policy_uri, 'https', errors)}
  ${field(labels.initiation_uri!, 'initiation_uri', values.initiation_uri, t.t('portal.hintInitiationUri'), errors)}
  ${field(labels.settings_uri!, 'settings_uri', values.settings_uri, t.t('portal.hintSettingsUri'), errors)}
  <label for="contacts">${labels.contacts}</label>
  <textarea id="contacts" name="contacts" rows="2"${described('contacts', errors)}>${values.contacts}</textarea>
  ${fieldError('contacts', errors)}<div class="muted" id="contacts-hint">${t.t('portal.hintContacts')}</div>
  ${marketplaceFields(values, errors, t)}
  <label for="redirect_uris">${labels.redirect_uris}</label>
  <textarea id="redirect_uris" name="redirect_uris" rows="3" required${described('redirect_uris', errors)}>${values.redirect_uris}</textarea>
  ${fieldError('redirect_uris', errors)}<div class="muted" id="redirect_uris-hint">${t.t('portal.hintRedirectUris')}</div>
  <fieldset id="scope-fieldset"${described('scope', errors, false)}><legend>${labels.scope}</legend>
  ${fieldError('scope', errors)}
  ${scopes.map((scope) => html`<label class="check"><input type="checkbox" name="scope" value="${scope.name}"${values.scope.includes(scope.name) ? html` checked` : ''}> ${t.scope(scope.name)} <code class="muted">${scope.name}</code></label>\n  `)}
  </fieldset>
  <label for="subject_type">${labels.subject_type}</label>
  <select id="subject_type" name="subject_type"${described('subject_type', errors, false)}>
    <option value=""${values.subject_type === '' ? html` selected` : ''}>${t.t('portal.subjectNone')}</option>
    <option value="company"${values.subject_type === 'company' ? html` selected` : ''}>${t.t('portal.subjectCompany')}</option>
    <option value="organization"${values.subject_type === 'organization' ? html` selected` : ''}>${t.t('portal.subjectOrganization')}</option>
  </select>
  ${fieldError('subject_type', errors)}`;
}

/** Issue 13 (Marketplace): the listing's description and category (catalogue strings, English until the portal is translated). */
function marketplaceFields(values: ClientFormValues, errors: FieldErrors, t = ENGLISH): SafeHtml {
  return html`<label for="description">${t.t('marketplace.descriptionLabel')}</label>
  <textarea id="description" name="description" rows="3" maxlength="500"${described('description', errors)}>${values.description}</textarea>
  ${fieldError('description', errors)}<div class="muted" id="description-hint">${t.t('marketplace.descriptionHint')}</div>
  <label for="category">${t.t('marketplace.categoryLabel')}</label>
  <select id="category" name="category"${described('category', errors)}>
    <option value=""${values.category === '' ? html` selected` : ''}>${t.t('marketplace.noCategory')}</option>
    ${MARKETPLACE_CATEGORIES.map((category) => html`<option value="${category}"${values.category === category ? html` selected` : ''}>${t.t(`marketplace.category.${category}`)}</option>`)}
  </select>
  ${fieldError('category', errors)}<div class="muted" id="category-hint">${t.t('marketplace.categoryHint')}</div>`;
}

function logoInput(errors: FieldErrors, required: boolean, t: Translator): SafeHtml {
  return html`<input id="logo" name="logo" type="file" accept="image/png,image/jpeg,image/webp"${required ? html` required` : ''}${described('logo', errors)}>
  ${fieldError('logo', errors)}<div class="muted" id="logo-hint">${t.t('portal.hintLogo')}</div>`;
}

/**
 * @param model.errors every refused field at once (shown beside each field and listed at the top).
 */
export function registrationPage(model: PortalFrame & { values: ClientFormValues; scopes: ScopeChoice[]; errors?: FieldErrors }): string {
  const t = model.t ?? ENGLISH;
  const errors = model.errors ?? {};
  return frame(model, t.t('portal.registerTitle'), html`<h1>${t.t('portal.registerHeading')}</h1>
${errorSummary(errors, fieldLabels(t), t)}
<form method="post" action="/portal/clients" enctype="multipart/form-data" novalidate>
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  ${metadataFields(model.values, model.scopes, true, errors, t)}
  <label for="logo">${t.t('portal.fieldLogo')}</label>
  ${logoInput(errors, false, t)}
  <div class="actions"><button class="primary" type="submit">${t.t('portal.register')}</button></div>
</form>`);
}

/** A value with a Copy button (the button works through /assets/portal.js; without script the value stays selectable). */
function copyable(id: string, label: string, value: string, t: Translator, className = ''): SafeHtml {
  // WCAG 2.5.3: the accessible name starts with the visible "Copy".
  return html`<span class="copyable"><code id="${id}" class="${className}">${value}</code> <button type="button" class="copy" data-copy="${id}" data-copied="${t.t('portal.copied')}" aria-label="${t.t('portal.copyNamed', { what: label })}">${t.t('portal.copy')}</button></span>`;
}

function snippet(id: string, label: string, code: string, t: Translator): SafeHtml {
  return html`<h3 id="${id}-title">${label}</h3>
<div class="snippet"><pre tabindex="0" aria-labelledby="${id}-title"><code id="${id}">${code}</code></pre>
<button type="button" class="copy" data-copy="${id}" data-copied="${t.t('portal.copied')}" aria-label="${t.t('portal.copySetup', { library: label })}">${t.t('portal.copy')}</button></div>`;
}

/** Ready-to-paste setup for this client (oauth4webapi, openid-client, curl); the secret is read from the environment, never written into code. */
export function setupSnippets(client: ClientRecord, endpoints: ServerEndpoints): { oauth4webapi: string; openidClient: string; curl: string } {
  const redirectUri = client.redirectUris[0] ?? 'https://your-app.example/callback';
  const scope = client.scopes.join(' ');
  const confidential = client.clientType === 'confidential';
  const insecure = endpoints.issuer.startsWith('http:');
  const oauth4webapi = `import * as oauth from 'oauth4webapi';

const issuer = new URL('${endpoints.issuer}');
const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2'${insecure ? ', [oauth.allowInsecureRequests]: true' : ''} }));
const client = { client_id: '${client.clientId}' };
const clientAuth = ${confidential ? 'oauth.ClientSecretBasic(process.env.GATEHOUSE_CLIENT_SECRET)' : 'oauth.None()'};
const redirectUri = '${redirectUri}';

// 1. Send the user to the authorization endpoint (PKCE S256 and state are required).
const codeVerifier = oauth.generateRandomCodeVerifier();
const state = oauth.generateRandomState();
const authorizationUrl = new URL(as.authorization_endpoint);
authorizationUrl.search = new URLSearchParams({
  response_type: 'code', client_id: client.client_id, redirect_uri: redirectUri, scope: '${scope}', state,
  code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
}).toString();

// 2. On your redirect URI: check the response (state and iss) and exchange the code.
const parameters = oauth.validateAuthResponse(as, client, new URL(callbackUrl), state);
const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, parameters, redirectUri, codeVerifier);
const tokens = await oauth.processAuthorizationCodeResponse(as, client, response);

// 3. Refresh before expires_in runs out: both tokens rotate, store the new pair at once.
const refreshed = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token));`;
  const openidClient = `import * as client from 'openid-client';

const config = await client.discovery(
  new URL('${endpoints.issuer}'), '${client.clientId}', undefined,
  ${confidential ? 'client.ClientSecretBasic(process.env.GATEHOUSE_CLIENT_SECRET)' : 'client.None()'},
  { algorithm: 'oauth2'${insecure ? ', execute: [client.allowInsecureRequests]' : ''} },
);
const redirectUri = '${redirectUri}';

// 1. Send the user to the authorization endpoint (PKCE S256 and state are required).
const codeVerifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const authorizationUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri, scope: '${scope}', state,
  code_challenge: await client.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
});

// 2. On your redirect URI: exchange the code (state and iss are checked).
const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), { pkceCodeVerifier: codeVerifier, expectedState: state });

// 3. Refresh before expires_in runs out: both tokens rotate, store the new pair at once.
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);`;
  const credentials = confidential ? `-u "${client.clientId}:$GATEHOUSE_CLIENT_SECRET" ` : '';
  const publicId = confidential ? '' : ` \\\n  -d client_id=${client.clientId}`;
  const curl = `# Exchange the code from your redirect URI (within 60 seconds) with the PKCE verifier:
curl -s ${credentials}${endpoints.tokenEndpoint} \\
  -d grant_type=authorization_code -d code="$CODE" \\
  --data-urlencode redirect_uri=${redirectUri} -d code_verifier="$CODE_VERIFIER"${publicId}

# Refresh (both tokens rotate; the old refresh token stops working):
curl -s ${credentials}${endpoints.tokenEndpoint} \\
  -d grant_type=refresh_token -d refresh_token="$REFRESH_TOKEN"${publicId}`;
  return { oauth4webapi, openidClient, curl };
}

export function clientPage(model: PortalFrame & {
  client: ClientRecord; values: ClientFormValues; scopes: ScopeChoice[]; endpoints: ServerEndpoints; errors?: FieldErrors; error?: string; notice?: string;
  /** A secret just issued (registration or rotation): shown this once. */
  newSecret?: string;
}): string {
  const { client, endpoints } = model;
  const t = model.t ?? ENGLISH;
  const errors = model.errors ?? {};
  const setup = setupSnippets(client, endpoints);
  const confidential = client.clientType === 'confidential';
  return frame(model, client.clientName, html`<h1>${client.clientName}</h1>
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
${errorSummary(errors, fieldLabels(t), t)}
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
${model.newSecret ? html`<div class="secret" role="alert"${SHOWN_ONCE}><p>${t.html('portal.secretOnce')}</p>
${copyable('client_secret', t.t('portal.theClientSecret'), model.newSecret, t, 'secret-value')}</div>` : ''}
<h2>${t.t('portal.credentials')}</h2>
<dl class="details">
  <dt>${t.t('portal.clientId')}</dt><dd>${copyable('client_id', t.t('portal.theClientId'), client.clientId, t)}</dd>
  <dt>${t.t('portal.clientSecret')}</dt><dd>${confidential
    ? (model.newSecret ? t.t('portal.secretShownAbove') : t.t('portal.secretShownWhenIssued'))
    : t.t('portal.secretNone')}</dd>
  <dt>${t.t('portal.statusLabel')}</dt><dd id="status">${statusLabel(client, t)}${client.brandingVerified ? '' : t.t('portal.brandingNotReviewed')}</dd>
  <dt>${t.t('portal.type')}</dt><dd>${confidential ? t.t('portal.typeConfidentialShort') : t.t('portal.typePublicShort')}</dd>
  <dt>PKCE</dt><dd>${client.pkceRequired ? t.t('portal.pkceRequired') : t.t('portal.pkceException')}</dd>
  ${client.logoUri ? html`<dt>${t.t('portal.fieldLogo')}</dt><dd><img class="logo" src="${client.logoUri}" alt="${t.t('portal.logoAlt', { client: client.clientName })}"></dd>` : ''}
</dl>
<p>${t.html('portal.activityLink', { href: `/portal/clients/${client.clientId}/activity` })}</p>
${webhookLink(client.clientId, t)}
<h2>${t.t('portal.endpoints')}</h2>
<dl class="details">
  <dt>${t.t('portal.issuer')}</dt><dd>${copyable('issuer', t.t('portal.theIssuer'), endpoints.issuer, t)}</dd>
  <dt>${t.t('portal.metadata')}</dt><dd>${copyable('metadata_url', t.t('portal.theMetadataUrl'), endpoints.metadataUrl, t)}</dd>
  <dt>${t.t('portal.authorizationEndpoint')}</dt><dd><code>${endpoints.authorizationEndpoint}</code></dd>
  <dt>${t.t('portal.tokenEndpoint')}</dt><dd><code>${endpoints.tokenEndpoint}</code></dd>
  <dt>${t.t('portal.revocationEndpoint')}</dt><dd><code>${endpoints.revocationEndpoint}</code></dd>
  <dt>${t.t('portal.introspectionEndpoint')}</dt><dd><code>${endpoints.introspectionEndpoint}</code></dd>
</dl>
<h2>${t.t('portal.setUp')}</h2>
<p class="muted">${confidential ? t.html('portal.prefilledConfidential') : t.t('portal.prefilled')}</p>
${snippet('setup_oauth4webapi', 'oauth4webapi', setup.oauth4webapi, t)}
${snippet('setup_openid_client', 'openid-client', setup.openidClient, t)}
${snippet('setup_curl', 'curl', setup.curl, t)}
<div id="try">${tryFlowSection(model)}</div>
<h2>${t.t('portal.details')}</h2>
<form method="post" action="/portal/clients/${client.clientId}" novalidate>
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  ${metadataFields(model.values, model.scopes, false, errors, t)}
  <div class="actions"><button class="primary" type="submit">${t.t('portal.save')}</button></div>
</form>
<h2>${t.t('portal.fieldLogo')}</h2>
<form method="post" action="/portal/clients/${client.clientId}/logo" enctype="multipart/form-data">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <label for="logo">${t.t('portal.logoFile')}</label>
  ${logoInput(errors, true, t)}
  <div class="actions"><button type="submit">${t.t('portal.uploadLogo')}</button></div>
</form>
${confidential ? html`<h2>${t.t('portal.clientSecret')}</h2>
<form method="post" action="/portal/clients/${client.clientId}/secret">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <label for="overlap_seconds">${t.t('portal.overlapLabel')}</label>
  <select id="overlap_seconds" name="overlap_seconds">
    <option value="0">${t.t('portal.overlapNone')}</option>
    <option value="3600">${t.t('portal.overlapHours', { count: 1 })}</option>
    <option value="86400">${t.t('portal.overlapDays', { count: 1 })}</option>
    <option value="604800">${t.t('portal.overlapDays', { count: 7 })}</option>
  </select>
  <label class="check"><input type="checkbox" name="revoke_grants" value="yes"> ${t.t('portal.alsoDisconnect')}</label>
  <div class="actions"><button type="submit">${t.t('portal.rotateSecret')}</button></div>
</form>` : ''}
<h2>${t.t('portal.deleteHeading')}</h2>
<form method="post" action="/portal/clients/${client.clientId}/delete">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <p class="muted">${t.t('portal.deleteHint')}</p>
  <div class="actions"><button type="submit">${t.t('portal.deleteButton')}</button></div>
</form>`);
}

/**
 * The frame a page is drawn in (its header, navigation and language switch): `portalFrame` for a developer's
 * portal pages; the invitee's pages (pages/portal-team-pages.ts `inviteeFrame`) have no portal navigation, as their
 * reader may be no partner developer yet. `languageForm` as `portalFrame` takes it.
 */
export type PageFrame = (model: PortalFrame, title: string, body: SafeHtml, languageForm?: LanguageForm) => string;

/**
 * A confirmation before a destructive action (a POST then a POST): names what will happen, and posts
 * the same form again with `confirm=yes`; Cancel returns to `cancelHref`. The page answers a POST and has no
 * address of its own: its forms and language switch are every confirmation's (pages/confirmation.ts
 * `confirmationForms`: the switch posts the same values again without `confirm` and with the `locale` chosen, and
 * the handler shows this page again in that language). Every such handler must treat a form carrying `locale` as a
 * switch and never act on it (endpoints/confirmation.ts `confirmedAction`), `confirm=yes` or not.
 * @param model.hidden the form's values to send again with `confirm=yes` (a list: one input per value, as checkboxes send them).
 * @param model.cancelHref where Cancel goes: the page the action was started from (a client's page, the team page, the invitation).
 * @param model.frame the page's frame; default `portalFrame` (the developer portal's navigation).
 */
export function portalConfirmationPage(model: PortalFrame & {
  title: string; consequences: string[]; action: string; confirmLabel: string; hidden: Record<string, string | string[]>; cancelHref: string; frame?: PageFrame;
}): string {
  const t = model.t ?? ENGLISH;
  const { forms, languageForm } = confirmationForms({
    csrfToken: model.csrfToken, action: model.action, hidden: model.hidden, confirmLabel: model.confirmLabel, cancelHref: model.cancelHref, cancelLabel: t.t('portal.cancel'),
  });
  return (model.frame ?? portalFrame)(model, model.title, html`<h1>${model.title}</h1>
<div class="warning" role="region" aria-label="${t.t('portal.whatWillHappen')}"><ul>${model.consequences.map((line) => html`<li>${line}</li>`)}</ul></div>
${forms}`, languageForm);
}

/** One line of the integration activity: when, what, and its details in words (never a token value: none is ever recorded). */
export interface ActivityEntry {
  eventId: number;
  /** ISO 8601, UTC. */
  at: string;
  /** Seconds since the epoch (shown in the page's language). */
  atSeconds?: number;
  label: string;
  details: { name: string; value: string }[];
}

export interface ActivityFilter {
  value: string;
  label: string;
}

export function activityPage(model: PortalFrame & {
  client: ClientRecord; entries: ActivityEntry[]; filters: ActivityFilter[]; selected: string; olderUrl?: string;
}): string {
  const { client } = model;
  const t = model.t ?? ENGLISH;
  return frame(model, t.t('portal.activityTitle', { client: client.clientName }), html`<h1>${t.t('portal.activityHeading')}</h1>
<p><a href="/portal/clients/${client.clientId}">${client.clientName}</a> · <span class="muted">${t.t('portal.newestFirst')}</span></p>
<form method="get" action="/portal/clients/${client.clientId}/activity" class="filter">
  <label for="type">${t.t('portal.show')}</label>
  <select id="type" name="type">
    ${model.filters.map((filter) => html`<option value="${filter.value}"${filter.value === model.selected ? html` selected` : ''}>${filter.label}</option>`)}
  </select>
  <button type="submit">${t.t('portal.filter')}</button>
</form>
${model.entries.length === 0 ? html`<p>${t.t('portal.noEvents')}</p>` : html`<ol class="activity">
  ${model.entries.map((entry) => html`<li><p><strong>${entry.label}</strong> <time datetime="${entry.at}">${entry.atSeconds === undefined || t.locale === 'en' ? entry.at.replace('T', ' ').replace('.000Z', ' UTC') : t.dateTime(entry.atSeconds)}</time></p>
  ${entry.details.length === 0 ? '' : html`<dl class="details">${entry.details.map((detail) => html`<dt>${detail.name}</dt><dd>${detail.value}</dd>`)}</dl>`}</li>\n  `)}
</ol>`}
${model.olderUrl ? html`<p><a href="${model.olderUrl}">${t.t('portal.olderEvents')}</a></p>` : ''}`);
}

/** A message (an error) with a way onward: `onward`, else the portal's home. */
export function portalMessagePage(model: PortalFrame, title: string, message: string, onward?: { href: string; label: string }): string {
  const t = model.t ?? ENGLISH;
  const next = onward ?? { href: '/portal', label: t.t('portal.backHome') };
  return frame(model, title, html`<h1>${title}</h1>
<p class="error" role="alert">${message}</p>
<p><a href="${next.href}">${next.label}</a></p>`);
}
