/** The login form: fields `email` and `password`, labelled; CSRF token; where to return after login. */
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
}

export function loginPage(model: LoginPageModel): string {
  return layout(model.brandName, 'Log in', html`<h1>Log in to ${model.brandName}</h1>
${model.clientName ? html`<p class="muted">to connect <strong>${model.clientName}</strong></p>` : ''}
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
<form method="post" action="/login">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <input type="hidden" name="return_to" value="${model.returnTo}">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${model.email ?? ''}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <p class="muted"><a href="/account/forgot-password">Forgot password?</a></p>
  <div class="actions"><button class="primary" type="submit">Log in</button></div>
</form>`);
}
