/**
 * The user's side of the platform: the connected apps page (every active grant the user can see, with
 * Disconnect and Settings where allowed) and the marketplace (approved apps with an initiation URI, and a
 * Connect form with a company picker). Every form carries the CSRF token (SPEC decision 18); every value
 * is escaped by `html`.
 */
import { ENGLISH, type Translator } from '../i18n/i18n.ts';
import { MARKETPLACE_CATEGORIES, type MarketplaceCategory } from '../storage/storage.ts';
import { html, type SafeHtml } from './html.ts';
import { confirmationForms } from './confirmation.ts';
import { layout, type LanguageForm } from './layout.ts';

export interface AccountFrame {
  brandName: string;
  csrfToken: string;
  userName: string;
  /** The page's language (issue 13); English when absent. */
  t?: Translator;
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
  /** `company` or `organization`: the picker's label. */
  subjectType: string;
  /** The subjects of the app's preferred type the user administers and has not connected yet (the picker); empty = cannot connect. */
  subjects: { urn: string; name: string }[];
  /** Issue 13: the listing's plain-text description and category (null = none). */
  description?: string | null;
  category?: MarketplaceCategory | null;
  /** Issue 13: names of the companies (or organizations) the app is connected to that the user can see; empty = not connected. */
  connectedTo?: string[];
}

/** A category's translated label (issue 13). */
export const categoryLabel = (t: Translator, category: MarketplaceCategory): string => t.t(`marketplace.category.${category}`);

/** Names as a list in the language ("A, B and C"), Intl.ListFormat. */
const nameList = (t: Translator, names: string[]) => new Intl.ListFormat(t.locale, { style: 'long', type: 'conjunction' }).format(names);

/** Issue 13: the marketplace's search form (GET: works without JavaScript; the values typed are kept). */
function marketplaceSearchForm(t: Translator, search: string, category: string, filtered: boolean, count: number): SafeHtml {
  return html`<form class="marketplace-search" method="get" action="/marketplace" role="search">
  <div><label for="marketplace-q">${t.t('marketplace.searchLabel')}</label>
  <input id="marketplace-q" name="q" type="search" maxlength="100" value="${search}" aria-describedby="marketplace-q-hint">
  <div class="muted" id="marketplace-q-hint">${t.t('marketplace.searchHint')}</div></div>
  <div><label for="marketplace-category">${t.t('marketplace.filterLabel')}</label>
  <select id="marketplace-category" name="category">
    <option value=""${category === '' ? html` selected` : ''}>${t.t('marketplace.allCategories')}</option>
    ${MARKETPLACE_CATEGORIES.map((value) => html`<option value="${value}"${category === value ? html` selected` : ''}>${categoryLabel(t, value)}</option>`)}
  </select></div>
  <button type="submit">${t.t('marketplace.search')}</button>
</form>
${filtered ? html`<p class="muted" role="status">${t.t('marketplace.results', { count })} <a href="/marketplace">${t.t('marketplace.showAll')}</a></p>` : ''}`;
}

/** Issue 13: Connect, or "Connected" with a way to connected apps, and "Connect another company" when the user administers more. */
function connectSection(model: AccountFrame, t: Translator, app: MarketplaceAppView): SafeHtml {
  const connectedTo = app.connectedTo ?? [];
  const connected = connectedTo.length > 0
    ? html`<p><span class="badge">${t.t('marketplace.connected')}</span> ${t.t('marketplace.connectedTo', { subjects: nameList(t, connectedTo) })} <a href="/account/connected-apps">${t.t('marketplace.manageConnected')}</a></p>`
    : html``;
  if (app.subjects.length === 0) {
    return connectedTo.length > 0 ? connected : html`<p class="muted">${t.t('account.noSubjectToConnect', { subjectType: app.subjectType })}</p>`;
  }
  const label = connectedTo.length > 0 ? t.t('marketplace.connectAnother', { subjectType: app.subjectType }) : t.t('account.connect', { client: app.clientName });
  return html`${connected}<form method="post" action="/marketplace/${app.clientId}/connect">
    <input type="hidden" name="_csrf" value="${model.csrfToken}">
    <label for="subject-${app.clientId}">${t.t('consent.subjectToConnect', { subjectType: app.subjectType })}</label>
    <select id="subject-${app.clientId}" name="subject">${app.subjects.map((subject) => html`<option value="${subject.urn}">${subject.name}</option>`)}</select>
    <div class="actions"><button class="primary" type="submit"${connectedTo.length > 0 ? html` aria-label="${t.t('marketplace.connectAnotherLabel', { client: app.clientName, subjectType: app.subjectType })}"` : ''}>${label}</button></div>
  </form>`;
}

/**
 * The navigation of every page of a signed-in user's own account (connected apps, marketplace, API keys,
 * sessions, two-step verification): one set of links, so that no page of it is a dead end.
 * @param apiKeys whether to name the API-key pages (theirs and their forms show it).
 */
export function accountNavigation(t: Translator, apiKeys = false): SafeHtml {
  return html`<nav class="muted" aria-label="${t.t('account.nav')}"><a href="/">${t.t('account.home')}</a> · <a href="/account/connected-apps">${t.t('account.connectedApps')}</a> · <a href="/marketplace">${t.t('account.marketplace')}</a>${apiKeys ? html` · <a href="/account/api-keys">${t.t('account.apiKeys')}</a>` : ''} · <a href="/account">${t.t('account.account')}</a></nav>`;
}

/** @param languageForm given by a confirmation (pages/confirmation.ts): its language switch posts the confirmation again. */
function frame(model: AccountFrame, title: string, body: SafeHtml, languageForm?: LanguageForm): string {
  const t = model.t ?? ENGLISH;
  return layout(model.brandName, title, html`${accountNavigation(t)}
${body}`, model, t, languageForm);
}

function logo(uri: string | null, name: string, t: Translator): SafeHtml | string {
  return uri ? html`<img src="${uri}" alt="${t.t('account.logoAlt', { client: name })}">` : '';
}

/** @param model.disconnected the app and company just disconnected (the notice names both). */
export function connectedAppsPage(model: AccountFrame & { apps: ConnectedAppView[]; disconnected?: { clientName: string; subjectName: string }; apiKeySection?: SafeHtml }): string {
  const t = model.t ?? ENGLISH;
  return frame(model, t.t('account.connectedApps'), html`<h1>${t.t('account.connectedApps')}</h1>
${model.disconnected ? html`<p class="notice" role="status">${t.t('account.disconnectedNotice', { client: model.disconnected.clientName, subject: model.disconnected.subjectName })}</p>` : ''}
${model.apps.length === 0 ? html`<p>${t.html('account.noApps')}</p>` : html`<p class="muted">${t.t('account.appCount', { count: model.apps.length })}</p>`}
${model.apps.map((app) => html`<section class="connected-app" data-grant-id="${app.grantId}">
  <div class="client">${logo(app.logoUri, app.clientName, t)}<div><h2>${app.clientName}</h2>
  <div class="muted">${t.html('account.for', { subject: app.subjectName })}</div></div></div>
  <p>${t.t('account.itCan')}</p>
  <ul class="scopes">${app.scopes.map((scope) => html`<li>${scope.description}</li>`)}</ul>
  <p class="muted">${t.t('account.connectedSince', { connectedAt: t.dateTime(app.connectedAt), connectedBy: app.connectedBy, lastUsed: app.lastUsedAt === null ? t.t('account.never') : t.dateTime(app.lastUsedAt) })}</p>
  <div class="actions">
  ${app.hasSettings ? html`<form method="post" action="/account/connected-apps/${app.grantId}/settings"><input type="hidden" name="_csrf" value="${model.csrfToken}"><button type="submit">${t.t('account.settings')}</button></form>` : ''}
  ${app.mayDisconnect
    ? html`<form method="post" action="/account/connected-apps/${app.grantId}/disconnect"><input type="hidden" name="_csrf" value="${model.csrfToken}"><button class="primary" type="submit" aria-label="${t.t('account.disconnectLabel', { client: app.clientName, subject: app.subjectName })}">${t.t('account.disconnectEllipsis')}</button></form>`
    : html`<span class="muted">${t.t('account.onlyAdminCanDisconnect', { subject: app.subjectName })}</span>`}
  </div>
</section>
`)}
${model.apiKeySection ?? ''}`);
}

/**
 * @param model.search the search as typed ('' = none), kept in the form; `category` the filter ('' = all);
 *   `filtered` whether either applies (the page then says how many apps match, with a way back to all).
 */
export function marketplacePage(model: AccountFrame & { apps: MarketplaceAppView[]; apiKeySection?: SafeHtml; search?: string; category?: string; filtered?: boolean }): string {
  const t = model.t ?? ENGLISH;
  const filtered = model.filtered ?? false;
  return frame(model, t.t('account.marketplace'), html`<h1>${t.t('account.marketplace')}</h1>
${marketplaceSearchForm(t, model.search ?? '', model.category ?? '', filtered, model.apps.length)}
${model.apps.length === 0 && !filtered ? html`<p>${t.t('account.noListedApps')}</p>` : ''}
${model.apps.map((app) => html`<section class="marketplace-app" data-client-id="${app.clientId}">
  <div class="client">${logo(app.logoUri, app.clientName, t)}<div><h2>${app.clientName}</h2>
  ${app.category ? html`<span class="badge category">${categoryLabel(t, app.category)}</span>` : ''}
  ${app.clientUri ? html`<div class="muted"><a href="${app.clientUri}" rel="noopener noreferrer" target="_blank">${app.clientUri}</a></div>` : ''}</div></div>
  ${app.description ? html`<p class="app-description">${app.description}</p>` : ''}
  <p>${t.t('account.asksFor')}</p>
  <ul class="scopes">${app.scopes.map((scope) => html`<li>${scope.description} <code class="muted">${scope.name}</code></li>`)}</ul>
  <p class="muted">${app.tosUri ? html`<a href="${app.tosUri}" rel="noopener noreferrer" target="_blank">${t.t('consent.terms')}</a>` : ''}
  ${app.policyUri ? html` · <a href="${app.policyUri}" rel="noopener noreferrer" target="_blank">${t.t('consent.privacy')}</a>` : ''}</p>
  ${connectSection(model, t, app)}
</section>
`)}
${model.apiKeySection ?? ''}`);
}

export function accountMessagePage(model: AccountFrame, title: string, message: string): string {
  return frame(model, title, html`<h1>${title}</h1><p>${message}</p>`);
}

/**
 * The confirmation before a disconnect: names the app, the company and what it loses; posts again with `confirm=yes`.
 * Its language switch shows it again in the language chosen (pages/confirmation.ts), the app still connected.
 */
export function disconnectConfirmationPage(model: AccountFrame & { grantId: string; clientName: string; subjectName: string; scopes: string[] }): string {
  const t = model.t ?? ENGLISH;
  const names = { client: model.clientName, subject: model.subjectName };
  const { forms, languageForm } = confirmationForms({
    csrfToken: model.csrfToken, action: `/account/connected-apps/${model.grantId}/disconnect`, confirmLabel: t.t('account.disconnect'),
    cancelHref: '/account/connected-apps', cancelLabel: t.t('account.cancel'),
  });
  return frame(model, t.t('account.disconnectTitle'), html`<h1>${t.t('account.disconnectHeading', names)}</h1>
<p>${t.t('account.disconnectLoses', names)}</p>
<ul class="scopes">${model.scopes.map((scope) => html`<li>${scope}</li>`)}</ul>
<p class="muted">${t.t('account.connectAgain', names)}</p>
${forms}`, languageForm);
}

/** The signed-in user's home page (`/`): where to go next. */
export function homePage(model: AccountFrame & { isDeveloper: boolean }): string {
  const t = model.t ?? ENGLISH;
  return frame(model, t.t('account.homeTitle'), html`<h1>${t.t('account.welcome', { user: model.userName })}</h1>
<ul class="links">
  <li>${t.html('account.homeConnectedApps')}</li>
  <li>${t.html('account.homeMarketplace')}</li>
  <li>${t.html('account.homeSessions')}</li>
  <li><a href="/account">${t.t('account.yourAccount')}</a></li>
  <li>${t.html('account.homeApiKeys')}</li>
  ${model.isDeveloper ? html`<li>${t.html('account.homePortal')}</li>` : ''}
</ul>`);
}

/** The account page (`/account`): who is signed in and what they administer. */
/** @param model.administered each subject with its `kind`, `company` or `organization` (shown in words). */
export function accountPage(model: AccountFrame & { email: string; administered: { name: string; kind: string }[]; isDeveloper: boolean }): string {
  const t = model.t ?? ENGLISH;
  return frame(model, t.t('account.yourAccount'), html`<h1>${t.t('account.yourAccount')}</h1>
<dl class="details">
  <dt>${t.t('account.name')}</dt><dd>${model.userName}</dd>
  <dt>${t.t('account.email')}</dt><dd>${model.email}</dd>
</dl>
<h2>${t.t('account.youAdminister')}</h2>
${model.administered.length === 0 ? html`<p>${t.t('account.administerNothing')}</p>` : html`<ul>${model.administered.map((subject) => html`<li>${subject.name} <span class="muted">${t.t('account.subjectKind', { kind: subject.kind })}</span></li>`)}</ul>`}
<p><a href="/account/sessions">${t.t('account.yourSessions')}</a> · <a href="/account/security">${t.t('local.secondFactorTitle')}</a> · <a href="/account/api-keys">${t.t('account.apiKeys')}</a>${model.isDeveloper ? html` · <a href="/portal">${t.t('account.developerPortal')}</a>` : ''}</p>`);
}
