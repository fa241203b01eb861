/**
 * The user's side of the platform: the connected apps page (every active grant the user can see, with
 * Disconnect and Settings where allowed) and the marketplace (approved apps with an initiation URI, and a
 * Connect form with a company picker). Every form carries the CSRF token (SPEC decision 18); every value
 * is escaped by `html`.
 */
import { html, type SafeHtml } from './html.ts';
import { layout } from './layout.ts';

export interface AccountFrame {
  brandName: string;
  csrfToken: string;
  userName: string;
}

export interface ConnectedAppView {
  grantId: string;
  clientName: string;
  logoUri: string | null;
  /** The company or organization name (users never see URNs, issue 13). */
  subjectName: string;
  /** Kept for callers; not shown on the page. */
  subjectUrn: string;
  scopes: { name: string; description: string }[];
  /** Seconds since the epoch. */
  connectedAt: number;
  /** Seconds since the epoch; null without a token. */
  lastUsedAt: number | null;
  connectedBy: string;
  /** Only an administrator of the subject may disconnect. */
  mayDisconnect: boolean;
  /** The app has a settings URI and the user may act for the subject. */
  hasSettings: boolean;
}

export interface MarketplaceAppView {
  clientId: string;
  clientName: string;
  logoUri: string | null;
  clientUri: string | null;
  tosUri: string | null;
  policyUri: string | null;
  scopes: { name: string; description: string }[];
  subjectTypeLabel: string;
  /** The subjects of the app's preferred type the user administers (the picker); empty = cannot connect. */
  subjects: { urn: string; name: string }[];
}

/** ISO 8601 UTC, to the minute: unambiguous whatever the reader's locale. */
const when = (seconds: number) => `${new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function frame(model: AccountFrame, title: string, body: SafeHtml): string {
  return layout(model.brandName, title, html`<nav class="muted" aria-label="Account"><a href="/">Home</a> · <a href="/account/connected-apps">Connected apps</a> · <a href="/marketplace">Marketplace</a> · <a href="/account">Account</a></nav>
${body}`, model);
}

function logo(uri: string | null, name: string): SafeHtml | string {
  return uri ? html`<img src="${uri}" alt="${name} logo">` : '';
}

/** @param model.disconnected the app and company just disconnected (the notice names both). */
export function connectedAppsPage(model: AccountFrame & { apps: ConnectedAppView[]; disconnected?: { clientName: string; subjectName: string }; apiKeySection?: SafeHtml }): string {
  return frame(model, 'Connected apps', html`<h1>Connected apps</h1>
${model.disconnected ? html`<p class="notice" role="status">${model.disconnected.clientName} was disconnected from ${model.disconnected.subjectName}. It can no longer use its access.</p>` : ''}
${model.apps.length === 0 ? html`<p>No apps are connected. Find one in the <a href="/marketplace">marketplace</a>.</p>` : ''}
${model.apps.map((app) => html`<section class="connected-app" data-grant-id="${app.grantId}">
  <div class="client">${logo(app.logoUri, app.clientName)}<div><h2>${app.clientName}</h2>
  <div class="muted">for <strong>${app.subjectName}</strong></div></div></div>
  <p>It can:</p>
  <ul class="scopes">${app.scopes.map((scope) => html`<li>${scope.description}</li>`)}</ul>
  <p class="muted">Connected since ${when(app.connectedAt)} by ${app.connectedBy}. Last token use: ${app.lastUsedAt === null ? 'never' : when(app.lastUsedAt)}.</p>
  <div class="actions">
  ${app.hasSettings ? html`<form method="post" action="/account/connected-apps/${app.grantId}/settings"><input type="hidden" name="_csrf" value="${model.csrfToken}"><button type="submit">Settings</button></form>` : ''}
  ${app.mayDisconnect
    ? html`<form method="post" action="/account/connected-apps/${app.grantId}/disconnect"><input type="hidden" name="_csrf" value="${model.csrfToken}"><button class="primary" type="submit" aria-label="Disconnect ${app.clientName} from ${app.subjectName}">Disconnect…</button></form>`
    : html`<span class="muted">Only an administrator of ${app.subjectName} can disconnect it.</span>`}
  </div>
</section>
`)}
${model.apiKeySection ?? ''}`);
}

export function marketplacePage(model: AccountFrame & { apps: MarketplaceAppView[]; apiKeySection?: SafeHtml }): string {
  return frame(model, 'Marketplace', html`<h1>Marketplace</h1>
${model.apps.length === 0 ? html`<p>No apps are listed yet.</p>` : ''}
${model.apps.map((app) => html`<section class="marketplace-app" data-client-id="${app.clientId}">
  <div class="client">${logo(app.logoUri, app.clientName)}<div><h2>${app.clientName}</h2>
  ${app.clientUri ? html`<div class="muted"><a href="${app.clientUri}" rel="noopener noreferrer" target="_blank">${app.clientUri}</a></div>` : ''}</div></div>
  <p>Asks for:</p>
  <ul class="scopes">${app.scopes.map((scope) => html`<li>${scope.description} <code class="muted">${scope.name}</code></li>`)}</ul>
  <p class="muted">${app.tosUri ? html`<a href="${app.tosUri}" rel="noopener noreferrer" target="_blank">Terms of service</a>` : ''}
  ${app.policyUri ? html` · <a href="${app.policyUri}" rel="noopener noreferrer" target="_blank">Privacy policy</a>` : ''}</p>
  ${app.subjects.length === 0
    ? html`<p class="muted">You administer no ${app.subjectTypeLabel.toLowerCase()} to connect.</p>`
    : html`<form method="post" action="/marketplace/${app.clientId}/connect">
    <input type="hidden" name="_csrf" value="${model.csrfToken}">
    <label for="subject-${app.clientId}">${app.subjectTypeLabel} to connect</label>
    <select id="subject-${app.clientId}" name="subject">${app.subjects.map((subject) => html`<option value="${subject.urn}">${subject.name}</option>`)}</select>
    <div class="actions"><button class="primary" type="submit">Connect ${app.clientName}</button></div>
  </form>`}
</section>
`)}
${model.apiKeySection ?? ''}`);
}

export function accountMessagePage(model: AccountFrame, title: string, message: string): string {
  return frame(model, title, html`<h1>${title}</h1><p>${message}</p>`);
}

/** The confirmation before a disconnect: names the app, the company and what it loses; posts again with `confirm=yes`. */
export function disconnectConfirmationPage(model: AccountFrame & { grantId: string; clientName: string; subjectName: string; scopes: string[] }): string {
  return frame(model, 'Disconnect an app', html`<h1>Disconnect ${model.clientName} from ${model.subjectName}?</h1>
<p>${model.clientName} loses access to ${model.subjectName} at once: its tokens stop working and it can no longer:</p>
<ul class="scopes">${model.scopes.map((scope) => html`<li>${scope}</li>`)}</ul>
<p class="muted">To use it again, an administrator of ${model.subjectName} must connect it again.</p>
<form method="post" action="/account/connected-apps/${model.grantId}/disconnect">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <input type="hidden" name="confirm" value="yes">
  <div class="actions"><a class="button secondary" href="/account/connected-apps">Cancel</a><button class="danger" type="submit">Disconnect</button></div>
</form>`);
}

/** The signed-in user's home page (`/`): where to go next. */
export function homePage(model: AccountFrame & { isDeveloper: boolean }): string {
  return frame(model, 'Home', html`<h1>Welcome, ${model.userName}</h1>
<ul class="links">
  <li><a href="/account/connected-apps">Connected apps</a>: the apps connected to your companies, and what they can do.</li>
  <li><a href="/marketplace">Marketplace</a>: find and connect apps.</li>
  <li><a href="/account/sessions">Sessions</a>: where you are signed in.</li>
  <li><a href="/account">Your account</a></li>
  <li><a href="/account/api-keys">API keys</a>: keys for your own scripts and tools.</li>
  ${model.isDeveloper ? html`<li><a href="/portal">Developer portal</a>: your OAuth clients.</li>` : ''}
</ul>`);
}

/** The account page (`/account`): who is signed in and what they administer. */
export function accountPage(model: AccountFrame & { email: string; administered: { name: string; kind: string }[]; isDeveloper: boolean }): string {
  return frame(model, 'Your account', html`<h1>Your account</h1>
<dl class="details">
  <dt>Name</dt><dd>${model.userName}</dd>
  <dt>E-mail address</dt><dd>${model.email}</dd>
</dl>
<h2>You administer</h2>
${model.administered.length === 0 ? html`<p>No company or organization.</p>` : html`<ul>${model.administered.map((subject) => html`<li>${subject.name} <span class="muted">${subject.kind}</span></li>`)}</ul>`}
<p><a href="/account/sessions">Your sessions</a> · <a href="/account/api-keys">API keys</a>${model.isDeveloper ? html` · <a href="/portal">Developer portal</a>` : ''}</p>`);
}
