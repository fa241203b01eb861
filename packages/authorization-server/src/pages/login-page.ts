/**
 * The login form: fields `email` and `password`, labelled; CSRF token; where to return after login; and,
 * with an upstream OpenID Provider configured, a "Sign in with <name>" button (issue 10 §2).
 */
import { ENGLISH, type Translator } from '../i18n/i18n.ts';
import { html } from './html.ts';
import { layout } from './layout.ts';

export interface LoginPageModel {
  brandName: string;
  csrfToken: string;
  /** Where to continue after login: an /oauth/authorize request, a /portal, /account/... or /marketplace page (login.ts RETURN_TO). */
  returnTo: string;
  /** Who is asking, when known. */
  clientName?: string;
  error?: string;
  email?: string;
  /** Issue 10 §2: the upstream OpenID Provider's name, for a "Sign in with <name>" button (GET /login/upstream). */
  upstreamName?: string;
  /** False hides the e-mail and password form (GATEHOUSE_LOCAL_PASSWORDS=off); default true. */
  localPasswords?: boolean;
  /** The request needs a fresh authentication: the upstream sign-in asks the provider for one (upstreamStartUrl). */
  reauthenticate?: boolean;
  /** The page's language (issue 13); English when absent. */
  t?: Translator;
  /** Shown above the form, e.g. that a change sent after the session ended was not made (sessions/login-step.ts). */
  notice?: string;
}

/**
 * `/login`, naming where the sign-in continues: a refused password's page stays at this address, and a browser
 * opening it again (Enter in the address bar, a reload without resending) is sent back there by GET /login
 * (routes.ts), not to the account's sign-in with the app's authorization lost. The POST reads the form's field.
 */
function loginAction(returnTo: string): string {
  return returnTo === '/' ? '/login' : `/login?${new URLSearchParams({ return_to: returnTo })}`;
}

export function loginPage(model: LoginPageModel): string {
  const t = model.t ?? ENGLISH;
  const upstreamButton = model.upstreamName
    ? html`<p><a class="button primary" href="${upstreamStartUrl(model.returnTo, model.reauthenticate)}">${t.t('login.signInWith', { provider: model.upstreamName })}</a></p>`
    : '';
  const passwordForm = model.localPasswords === false ? '' : html`${model.upstreamName ? html`<p class="muted">${t.t('login.orPassword')}</p>` : ''}
<form method="post" action="${loginAction(model.returnTo)}">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <input type="hidden" name="return_to" value="${model.returnTo}">
  ${model.reauthenticate ? html`<input type="hidden" name="reauthenticate" value="1">` : ''}
  <label for="email">${t.t('login.email')}</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${model.email ?? ''}">
  <label for="password">${t.t('login.password')}</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <p class="muted"><a href="/account/forgot-password">${t.t('login.forgot')}</a></p>
  <div class="actions"><button class="primary" type="submit">${t.t('login.submit')}</button></div>
</form>`;
  return layout(model.brandName, t.t('login.title'), html`<h1>${t.t('login.heading', { brand: model.brandName })}</h1>
${model.clientName ? html`<p class="muted">${t.html('login.toConnect', { client: model.clientName })}</p>` : ''}
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
${upstreamButton}
${passwordForm}`, undefined, t);
}

/**
 * Where the "Sign in with <name>" button (and the login step without local passwords) starts the upstream
 * sign-in; `reauthenticate` asks the provider for a fresh authentication (removing it from the URL gains
 * nothing: without one the session does not count as fresh, authorization.ts `loginSatisfies`).
 */
export function upstreamStartUrl(returnTo: string, reauthenticate = false): string {
  return `/login/upstream?${new URLSearchParams({ return_to: returnTo, ...(reauthenticate ? { reauthenticate: '1' } : {}) })}`;
}

/**
 * Issue 10 §2: an upstream sign-in that ended without signing anyone in (refused, cancelled, unverifiable,
 * unreachable, or a person the directory does not know). Always offers a way back: `startAgainUrl`.
 */
export function upstreamSignInErrorPage(brandName: string, title: string, message: string, startAgainUrl: string | undefined, t: Translator = ENGLISH): string {
  return layout(brandName, title, html`<h1>${title}</h1>
<p class="error" role="alert">${message}</p>
<p class="muted">${t.t('login.notSignedIn', { brand: brandName })}</p>
${startAgainUrl ? html`<div class="actions"><a class="button primary" href="${startAgainUrl}">${t.t('login.startAgain')}</a></div>` : html`<p>${t.t('login.goBackToApp')}</p>`}`, undefined, t);
}
