/**
 * Pages of local accounts (issue 10 §3): set a password (invitation or reset link), forgot password,
 * the second sign-in step (TOTP or recovery code), TOTP enrolment, recovery codes (shown once) and the
 * account's security page. Every form carries the CSRF token; field errors sit beside their field and
 * keep what was typed.
 */
import { ENGLISH, type Translator } from '../i18n/i18n.ts';
import { fieldDescription, fieldError } from './field-errors.ts';
import { html, type SafeHtml } from './html.ts';
import { accountNavigation } from './account-pages.ts';
import { layout, SHOWN_ONCE, type SignedInHeader } from './layout.ts';

export interface SetPasswordPageModel {
  brandName: string;
  csrfToken: string;
  /** The link's token (posted back; the page is no-store). */
  token: string;
  email: string;
  /** The refusals, below their fields. A refused form's passwords are not written back into the page. */
  passwordError?: string;
  confirmationError?: string;
  /** The page's language (issue 13); English when absent. */
  t?: Translator;
}

export function setPasswordPage(model: SetPasswordPageModel): string {
  const t = model.t ?? ENGLISH;
  return layout(model.brandName, t.t('local.setPasswordTitle'), html`<h1>${t.t('local.setPasswordTitle')}</h1>
<p class="muted">${t.html('local.setPasswordIntro', { email: model.email })}</p>
<form method="post" action="/account/set-password">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <input type="hidden" name="token" value="${model.token}">
  <input type="hidden" name="email" value="${model.email}" autocomplete="username">
  <label for="password">${t.t('local.newPassword')}</label>
  <input id="password" name="password" type="password" autocomplete="new-password" required minlength="12"${fieldDescription('password', model.passwordError, false)}>
  ${fieldError('password', model.passwordError)}
  <label for="password_confirmation">${t.t('local.repeatPassword')}</label>
  <input id="password_confirmation" name="password_confirmation" type="password" autocomplete="new-password" required${fieldDescription('password_confirmation', model.confirmationError, false)}>
  ${fieldError('password_confirmation', model.confirmationError)}
  <div class="actions"><button class="primary" type="submit">${t.t('local.setPassword')}</button></div>
</form>`, undefined, t);
}

export function passwordSetPage(brandName: string, t: Translator = ENGLISH): string {
  return layout(brandName, t.t('local.passwordSetTitle'), html`<h1>${t.t('local.passwordSetHeading')}</h1>
<p>${t.html('local.passwordSetText')}</p>`, undefined, t);
}

export interface ForgotPasswordPageModel {
  brandName: string;
  csrfToken: string;
  email?: string;
  /** After a request: the same words whether or not the address has an account. */
  sent?: boolean;
  /** A message for the whole form (too many requests). */
  error?: string;
  /** The refused address, below its field (kept in it). */
  emailError?: string;
  /** The page's language (issue 13); English when absent. */
  t?: Translator;
}

export function forgotPasswordPage(model: ForgotPasswordPageModel): string {
  const t = model.t ?? ENGLISH;
  return layout(model.brandName, t.t('local.forgotTitle'), html`<h1>${t.t('local.forgotHeading')}</h1>
${model.sent ? html`<p class="notice" role="status">${t.t('local.forgotSent')}</p>` : ''}
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
<form method="post" action="/account/forgot-password">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <label for="email">${t.t('local.email')}</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${model.email ?? ''}"${fieldDescription('email', model.emailError, false)}>
  ${fieldError('email', model.emailError)}
  <div class="actions"><button class="primary" type="submit">${t.t('local.sendLink')}</button></div>
</form>
<p><a href="/account">${t.t('local.backToSignIn')}</a></p>`, undefined, t);
}

export interface SecondFactorPageModel {
  brandName: string;
  csrfToken: string;
  /** A message for the whole step (too many attempts). */
  error?: string;
  /** The refused code, below its field: the authenticator's (`code`) or a recovery code (`recovery_code`, shown open). */
  fieldError?: { field: 'code' | 'recovery_code'; message: string };
  /** The page's language (issue 13); English when absent. */
  t?: Translator;
}

/** The second sign-in step: a code from the authenticator app, or a recovery code. */
export function secondFactorPage(model: SecondFactorPageModel): string {
  const t = model.t ?? ENGLISH;
  const refused = (field: 'code' | 'recovery_code') => (model.fieldError?.field === field ? model.fieldError.message : undefined);
  return layout(model.brandName, t.t('local.secondFactorTitle'), html`<h1>${t.t('local.secondFactorTitle')}</h1>
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
<form method="post" action="/login/second-factor">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <label for="code">${t.t('local.authenticatorCode')}</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8"${fieldDescription('code', refused('code'), false)}>
  ${fieldError('code', refused('code'))}
  <details${refused('recovery_code') ? html` open` : ''}><summary>${t.t('local.useRecoveryCode')}</summary>
    <label for="recovery_code">${t.t('local.recoveryCode')}</label>
    <input id="recovery_code" name="recovery_code" type="text" autocomplete="off" maxlength="20"${fieldDescription('recovery_code', refused('recovery_code'), false)}>
    ${fieldError('recovery_code', refused('recovery_code'))}
  </details>
  <div class="actions"><button class="primary" type="submit">${t.t('local.continue')}</button></div>
</form>`, undefined, t);
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
  /** Started from the account (not a mandatory enrolment at sign-in): the account navigation, and Cancel back here. */
  cancelHref?: string;
  /** The page's language (issue 13); English when absent. */
  t?: Translator;
}

export function enrolmentPage(model: EnrolmentPageModel): string {
  const t = model.t ?? ENGLISH;
  return layout(model.brandName, t.t('local.enrolTitle'), html`${model.cancelHref ? accountNavigation(t) : ''}
<h1>${t.t('local.enrolTitle')}</h1>
${model.reason ? html`<p>${model.reason}</p>` : ''}
<p>${t.t('local.enrolIntro')}</p>
<p><a href="${model.otpauthUri}">${model.otpauthUri}</a></p>
<p>${t.t('local.key')} <code id="totp-secret">${model.groupedSecret}</code></p>
<form method="post" action="${model.action}">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <label for="code">${t.t('local.typeCodeShown')}</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8" required${fieldDescription('code', model.error, false)}>
  ${fieldError('code', model.error)}
  <div class="actions">${model.cancelHref ? html`<a class="button secondary" href="${model.cancelHref}">${t.t('account.cancel')}</a>` : ''}<button class="primary" type="submit">${t.t('local.turnOn')}</button></div>
</form>`, model.signedIn, t);
}

export function recoveryCodesPage(brandName: string, codes: string[], continueTo: string, signedIn?: SignedInHeader, t: Translator = ENGLISH): string {
  const items: SafeHtml[] = codes.map((code) => html`<li><code>${code}</code></li>`);
  return layout(brandName, t.t('local.recoveryCodesTitle'), html`<h1>${t.t('local.recoveryCodesHeading')}</h1>
<p>${t.t('local.recoveryCodesText')}</p>
<ul id="recovery-codes"${SHOWN_ONCE}>${items}</ul>
<p><a class="button primary" href="${continueTo}">${t.t('local.continue')}</a></p>`, signedIn, t);
}

export interface SecurityPageModel {
  brandName: string;
  csrfToken: string;
  enrolled: boolean;
  recoveryCodesLeft: number;
  notice?: string;
  error?: string;
  /** The refused code of the form that turns the second step off, below its field. */
  codeError?: string;
  signedIn: SignedInHeader;
  /** The page's language (issue 13); English when absent. */
  t?: Translator;
}

export function securityPage(model: SecurityPageModel): string {
  const t = model.t ?? ENGLISH;
  const body = model.enrolled
    ? html`<p>${t.html('local.securityOn', { count: model.recoveryCodesLeft })}</p>
<form method="post" action="/account/security/disable">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <label for="code">${t.t('local.turnOffLabel')}</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8" required${fieldDescription('code', model.codeError, false)}>
  ${fieldError('code', model.codeError)}
  <div class="actions"><button type="submit">${t.t('local.turnOff')}</button></div>
</form>`
    : html`<p>${t.html('local.securityOff')}</p>
<form method="post" action="/account/security/enrol">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <div class="actions"><button class="primary" type="submit">${t.t('local.setUp')}</button></div>
</form>`;
  return layout(model.brandName, t.t('local.securityTitle'), html`${accountNavigation(t)}
<h1>${t.t('local.securityTitle')}</h1>
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
${model.error ? html`<p class="error" role="alert">${model.error}</p>` : ''}
${body}`, model.signedIn, t);
}
