/**
 * Pages of local accounts (issue 10 §3): set a password (invitation or reset link), forgot password,
 * the second sign-in step (TOTP or recovery code), TOTP enrolment, recovery codes (shown once) and the
 * account's security page. Every form carries the CSRF token; field errors sit beside their field and
 * keep what was typed.
 */
import { html, type SafeHtml } from './html.ts';
import { layout, type SignedInHeader } from './layout.ts';

const fieldError = (message: string | undefined, id: string) => (message ? html`<p class="error" role="alert" id="${id}">${message}</p>` : '');

export interface SetPasswordPageModel {
  brandName: string;
  csrfToken: string;
  /** The link's token (posted back; the page is no-store). */
  token: string;
  email: string;
  password?: string;
  passwordError?: string;
  confirmation?: string;
  confirmationError?: string;
}

export function setPasswordPage(model: SetPasswordPageModel): string {
  return layout(model.brandName, 'Set your password', html`<h1>Set your password</h1>
<p class="muted">for <strong>${model.email}</strong>. Use at least 12 characters; a few unrelated words make a good password.</p>
<form method="post" action="/account/set-password">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <input type="hidden" name="token" value="${model.token}">
  <input type="hidden" name="email" value="${model.email}" autocomplete="username">
  <label for="password">New password</label>
  <input id="password" name="password" type="password" autocomplete="new-password" required minlength="12" value="${model.password ?? ''}">
  ${fieldError(model.passwordError, 'password-error')}
  <label for="password_confirmation">Repeat the new password</label>
  <input id="password_confirmation" name="password_confirmation" type="password" autocomplete="new-password" required value="${model.confirmation ?? ''}">
  ${fieldError(model.confirmationError, 'password-confirmation-error')}
  <div class="actions"><button class="primary" type="submit">Set password</button></div>
</form>`);
}

export function passwordSetPage(brandName: string): string {
  return layout(brandName, 'Password set', html`<h1>Your password is set</h1>
<p>Any other sign-in of your account has ended. <a href="/account/connected-apps">Sign in</a> with your new password.</p>`);
}

export interface ForgotPasswordPageModel {
  brandName: string;
  csrfToken: string;
  email?: string;
  /** After a request: the same words whether or not the address has an account. */
  sent?: boolean;
  error?: string;
}

export function forgotPasswordPage(model: ForgotPasswordPageModel): string {
  return layout(model.brandName, 'Forgot password', html`<h1>Forgot your password?</h1>
${model.sent ? html`<p class="notice" role="status">If an account uses that address, we sent it a link to set a new password. The link works once, for one hour.</p>` : ''}
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
<form method="post" action="/account/forgot-password">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${model.email ?? ''}">
  <div class="actions"><button class="primary" type="submit">Send me a link</button></div>
</form>`);
}

export interface SecondFactorPageModel {
  brandName: string;
  csrfToken: string;
  error?: string;
}

/** The second sign-in step: a code from the authenticator app, or a recovery code. */
export function secondFactorPage(model: SecondFactorPageModel): string {
  return layout(model.brandName, 'Two-step verification', html`<h1>Two-step verification</h1>
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
<form method="post" action="/login/second-factor">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <label for="code">Code from your authenticator app</label>
  <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8">
  <details><summary>Use a recovery code instead</summary>
    <label for="recovery_code">Recovery code</label>
    <input id="recovery_code" name="recovery_code" autocomplete="off" maxlength="20">
  </details>
  <div class="actions"><button class="primary" type="submit">Continue</button></div>
</form>`);
}

export interface EnrolmentPageModel {
  brandName: string;
  csrfToken: string;
  /** Where the confirming code is posted. */
  action: string;
  otpauthUri: string;
  groupedSecret: string;
  /** Why enrolment is asked now (mandatory at sign-in). */
  reason?: string;
  error?: string;
  signedIn?: SignedInHeader;
}

export function enrolmentPage(model: EnrolmentPageModel): string {
  return layout(model.brandName, 'Set up two-step verification', html`<h1>Set up two-step verification</h1>
${model.reason ? html`<p>${model.reason}</p>` : ''}
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
<p>Add this account to your authenticator app: open the link on your phone, or type the key.</p>
<p><a href="${model.otpauthUri}">${model.otpauthUri}</a></p>
<p>Key: <code id="totp-secret">${model.groupedSecret}</code></p>
<form method="post" action="${model.action}">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <label for="code">Then type the code it shows</label>
  <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8" required>
  <div class="actions"><button class="primary" type="submit">Turn on</button></div>
</form>`, model.signedIn);
}

export function recoveryCodesPage(brandName: string, codes: string[], continueTo: string, signedIn?: SignedInHeader): string {
  const items: SafeHtml[] = codes.map((code) => html`<li><code>${code}</code></li>`);
  return layout(brandName, 'Recovery codes', html`<h1>Two-step verification is on</h1>
<p>Keep these recovery codes somewhere safe. Each works once, instead of a code from your app. They are shown only now.</p>
<ul id="recovery-codes">${items}</ul>
<p><a class="button primary" href="${continueTo}">Continue</a></p>`, signedIn);
}

export interface SecurityPageModel {
  brandName: string;
  csrfToken: string;
  enrolled: boolean;
  recoveryCodesLeft: number;
  notice?: string;
  error?: string;
  signedIn: SignedInHeader;
}

export function securityPage(model: SecurityPageModel): string {
  const body = model.enrolled
    ? html`<p>Two-step verification is <strong>on</strong>. Recovery codes left: ${model.recoveryCodesLeft}.</p>
<form method="post" action="/account/security/disable">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <label for="code">To turn it off, type a current code from your app</label>
  <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8" required>
  <div class="actions"><button type="submit">Turn off</button></div>
</form>`
    : html`<p>Two-step verification is <strong>off</strong>. With it on, signing in also asks for a code from an authenticator app.</p>
<form method="post" action="/account/security/enrol">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <div class="actions"><button class="primary" type="submit">Set up</button></div>
</form>`;
  return layout(model.brandName, 'Security', html`<h1>Security</h1>
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
${body}`, model.signedIn);
}
