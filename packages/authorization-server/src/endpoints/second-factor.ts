/**
 * The TOTP second factor (issue 10 §3; RFC 6238; users/second-factor.ts for the cryptography).
 *
 * Sign-in, after a correct password (login.ts calls `startSecondStep`): when the user has a confirmed
 * factor, or must enrol one (`requireSecondFactor: 'administrators'` and the user administers any subject),
 * no session starts yet. A pending login is stored server-side (its random id in an HttpOnly cookie, only
 * the id's SHA-256 stored, 10 minutes, single use), and the browser goes to:
 *
 * - `GET /login/second-factor`: the code form, or for a mandatory enrolment the enrolment page;
 * - `POST /login/second-factor` (CSRF + Origin): `code` (TOTP) or `recovery_code`; for an enrolment, the
 *   first `code`, after which the recovery codes are shown once. Success ends the pending login and starts
 *   the session. A wrong, replayed or used code answers 401; each attempt counts in the login throttle
 *   (login-throttle.ts: growing delays, 429) and the 5th wrong code ends the pending login (sign in again).
 *
 * Signed in, on `/account/security`: `GET` shows the state; `POST /account/security/enrol` starts an
 * enrolment (a new secret); `POST /account/security/confirm` confirms it with a first code and shows 10
 * recovery codes once; `POST /account/security/disable` turns it off with a current code (refused while
 * the policy requires it for the user).
 */
import { translator } from '../i18n/i18n.ts';
import { noteContinuedRequestUiLocales, requestLocale, requestTranslator } from '../i18n/request-language.ts';
import { createHmac, hash, randomBytes } from 'node:crypto';
import { constantTimeEqual } from '@gatehouse/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { hostCookieName, hostCookieOptions } from '../http/host-cookies.ts';
import type { RawParameters } from '../http/parameters.ts';
import { errorPage } from '../pages/error-page.ts';
import { enrolmentPage, recoveryCodesPage, secondFactorPage, securityPage } from '../pages/local-account-pages.ts';
import type { ServerContext } from '../server-context.ts';
import { deviceCookieDigest, rememberDevice } from '../sessions/known-device.ts';
import { currentLoginSession, startLoginSession, type CurrentLoginSession } from '../sessions/login-session.ts';
import { markContinuationReauthenticated } from './request-uri.ts';
import type { UserRecord } from '../storage/storage.ts';
import {
  decryptTotpSecret, encryptTotpSecret, groupedSecret, legacyRecoveryCodeDigest, newRecoveryCodes, newTotpSecret, recoveryCodeDigest, recoveryCodeKey, secondFactorKey,
  totpTimeStep, totpUri,
} from '../users/second-factor.ts';
import { loginThrottleKeys, type LoginThrottle } from './login-throttle.ts';
import { sendLoginStep } from '../sessions/login-step.ts';

const PENDING_COOKIE = 'gatehouse_pending_login';
export const PENDING_LOGIN_LIFETIME_SECONDS = 600;
/** Wrong codes one pending login may take; the next sign-in starts with the password again. */
export const PENDING_LOGIN_MAX_FAILURES = 5;
const SECOND_FACTOR_PATH = '/login/second-factor';
const SECURITY_PATH = '/account/security';
const VALUE = /^[A-Za-z0-9_-]{43}$/;

const digest = (value: string) => hash('sha256', `gatehouse pending login:${value}`, 'base64url');
const pendingCookieName = (context: ServerContext) => hostCookieName(context.options.environment, PENDING_COOKIE);
const text = (request: FastifyRequest, name: string) => {
  const value = (request.body as RawParameters | undefined)?.[name];
  return typeof value === 'string' ? value.trim() : '';
};

function page(reply: FastifyReply, status: number, body: string): void {
  reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

/** Whether the policy makes a second factor mandatory for this user (issue 10 §3: administrators of any subject). */
async function secondFactorRequired(context: ServerContext, userId: string): Promise<boolean> {
  if (context.options.localAccounts.requireSecondFactor !== 'administrators') return false;
  return (await context.storage.directory.listMemberships(userId)).length > 0;
}

/**
 * Called by the login endpoint after a correct password, before any session starts. When the user has a
 * confirmed factor or must enrol one, stores a pending login, sets its cookie and redirects (303) to the
 * second step. @returns true when it answered (the caller stops), false when no second step applies.
 */
export async function startSecondStep(
  context: ServerContext, reply: FastifyReply, user: UserRecord, returnTo: string, firstStep?: { authenticatedAt: number; fresh: boolean },
): Promise<boolean> {
  const factor = await context.storage.localAccounts.findSecondFactor(user.userId);
  const step = factor?.confirmedAt != null ? 'verify' : (await secondFactorRequired(context, user.userId)) ? 'enrol' : undefined;
  if (!step) return false;
  const value = randomBytes(32).toString('base64url');
  const now = context.clock.nowSeconds();
  await context.storage.localAccounts.createPendingLogin({
    // createdAt: when the first step authenticated the person (now, unless the identity provider signed them in
    // without asking: its auth_time); an enrolment carries it to the session, as it proves nothing itself.
    pendingDigest: digest(value), userId: user.userId, step, returnTo, createdAt: firstStep?.authenticatedAt ?? now, expiresAt: now + PENDING_LOGIN_LIFETIME_SECONDS, failures: 0,
    ...(firstStep?.fresh === false ? { firstStepStale: true as const } : {}),
  });
  reply.setCookie(pendingCookieName(context), value, hostCookieOptions(context.options.environment, 'lax', PENDING_LOGIN_LIFETIME_SECONDS));
  reply.redirect(SECOND_FACTOR_PATH, 303);
  return true;
}

/** The browser's pending login with its user, or undefined (none, expired, finished, or a value never issued). */
async function pendingLogin(context: ServerContext, request: FastifyRequest) {
  const value = request.cookies[pendingCookieName(context)];
  if (!value || !VALUE.test(value)) return undefined;
  const pending = await context.storage.localAccounts.findPendingLogin(digest(value), context.clock.nowSeconds());
  const user = pending && (await context.storage.users.find(pending.userId));
  // Issue 13: the second step's pages speak the language of the authorization request it continues.
  if (pending) noteContinuedRequestUiLocales(request, pending.returnTo);
  return pending && user ? { pending, user } : undefined;
}

/** The request's language (issue 13). */
const tr = (reply: FastifyReply) => requestTranslator(reply.request);

/**
 * The pending login is gone (expired, ended after too many wrong codes, or finished in another tab): the way
 * onward is where the sign-in was going when that is still known (`returnTo`, validated when the pending login
 * was stored: the account page, or the authorization request's continuation), which shows the login form to
 * someone not signed in; else the account page, which does too. And home.
 */
const startAgain = (context: ServerContext, reply: FastifyReply, returnTo?: string) =>
  page(reply, 401, errorPage(context.options.brand.name, tr(reply).t('local.signInAgainTitle'), tr(reply).t('local.signInAgain'), {
    t: tr(reply), reference: reply.request.id, hint: null,
    links: [{ href: returnTo ?? '/account', label: tr(reply).t('local.signInAgainTitle') }, { href: '/', label: tr(reply).t('error.homeShort') }],
  }));

/** The decrypted secret of the user's factor (confirmed or not), or undefined without one. */
async function factorSecret(context: ServerContext, userId: string): Promise<{ secret: string; confirmed: boolean } | undefined> {
  const factor = await context.storage.localAccounts.findSecondFactor(userId);
  if (!factor) return undefined;
  return { secret: decryptTotpSecret(secondFactorKey(context.options.tokenHmacKey), userId, factor.secretCiphertext), confirmed: factor.confirmedAt !== null };
}

/** Starts (replacing an unconfirmed one) an enrolment and returns its secret; undefined when a confirmed factor exists. */
async function newEnrolment(context: ServerContext, userId: string, now = context.clock.nowSeconds()): Promise<string | undefined> {
  const secret = newTotpSecret();
  const stored = encryptTotpSecret(secondFactorKey(context.options.tokenHmacKey), userId, secret);
  return (await context.storage.localAccounts.startSecondFactor(userId, stored, now)) ? secret : undefined;
}

/** Starts an enrolment (newEnrolment) marked as this browser's (markEnrolment); undefined when a confirmed factor exists. */
async function startMarkedEnrolment(context: ServerContext, reply: FastifyReply, userId: string): Promise<string | undefined> {
  const secret = await newEnrolment(context, userId);
  if (secret) markEnrolment(context, reply, userId, secret);
  return secret;
}

/**
 * Confirms the user's unconfirmed factor with its first code and stores fresh recovery codes.
 * @returns the recovery codes to show once, or undefined when the code does not match (or nothing awaits confirmation).
 */
async function confirmEnrolment(context: ServerContext, userId: string, code: string): Promise<string[] | undefined> {
  const factor = await factorSecret(context, userId);
  if (!factor || factor.confirmed) return undefined;
  const step = totpTimeStep(factor.secret, code, context.clock.nowSeconds());
  if (step === undefined) return undefined;
  const codes = newRecoveryCodes();
  const key = recoveryCodeKey(context.options.tokenHmacKey);
  const digests = codes.map((recoveryCode) => recoveryCodeDigest(key, userId, recoveryCode));
  const confirmed = await context.storage.localAccounts.confirmSecondFactor(userId, step, digests, context.clock.nowSeconds());
  return confirmed ? codes : undefined;
}

/**
 * Checks a TOTP code against the user's confirmed factor and uses its time step.
 * @returns `ok`, `replayed` (RFC 6238 §5.2: a code accepted once is refused for the rest of its window), or `wrong`.
 */
async function verifyTotp(context: ServerContext, userId: string, code: string): Promise<'ok' | 'replayed' | 'wrong'> {
  const factor = await factorSecret(context, userId);
  if (!factor?.confirmed) return 'wrong';
  const step = totpTimeStep(factor.secret, code, context.clock.nowSeconds());
  if (step === undefined) return 'wrong';
  return (await context.storage.localAccounts.useTimeStep(userId, step)) ? 'ok' : 'replayed';
}

/** `signedIn`: started from the account's security page (its header, navigation and Cancel), not at sign-in. */
function enrolmentView(context: ServerContext, reply: FastifyReply, user: UserRecord, secret: string, action: string, extra: { reason?: string; error?: string; signedIn?: boolean } = {}) {
  const csrfToken = reply.generateCsrf();
  return enrolmentPage({
    t: tr(reply), brandName: context.options.brand.name, csrfToken, action, otpauthUri: totpUri(context.options.brand.name, user.email, secret), groupedSecret: groupedSecret(secret),
    ...(extra.reason ? { reason: extra.reason } : {}), ...(extra.error ? { error: extra.error } : {}),
    ...(extra.signedIn ? { signedIn: { userName: user.name, csrfToken }, cancelHref: SECURITY_PATH } : {}),
  });
}


/** GET /login/second-factor */
export async function secondFactorFormEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const found = await pendingLogin(context, request);
  if (!found) return startAgain(context, reply);
  if (found.pending.step === 'verify') {
    page(reply, 200, secondFactorPage({ t: tr(reply), brandName: context.options.brand.name, csrfToken: reply.generateCsrf() }));
    return;
  }
  // A mandatory enrolment: keep the enrolment this browser started (a reload must not change the key the app holds);
  // one started elsewhere (another sign-in with the password, another session) is replaced, never shown.
  const secret = (await markedEnrolment(context, request, found.user.userId))?.secret ?? await startMarkedEnrolment(context, reply, found.user.userId);
  if (!secret) return startAgain(context, reply);
  page(reply, 200, enrolmentView(context, reply, found.user, secret, SECOND_FACTOR_PATH, { reason: tr(reply).t('local.mandatory') }));
}

/**
 * SPEC decision 18 / issue 10 §3: a code is guessed under the same growing delays as a password, on the
 * same keys (the account and address, or this known browser). Counts this attempt; when it must wait,
 * sets `Retry-After` (RFC 6585 §4) and returns the seconds for the caller's 429 page.
 */
async function attemptCode(context: ServerContext, throttle: LoginThrottle, request: FastifyRequest, reply: FastifyReply, user: UserRecord, now: number) {
  const deviceDigest = deviceCookieDigest(context, request);
  const knownDevice = deviceDigest && (await context.storage.knownDevices.isKnown(deviceDigest, user.userId, now)) ? deviceDigest : undefined;
  const keys = loginThrottleKeys(await context.storage.users.foldEmail(user.email), request.ip, knownDevice);
  const retryAfterSeconds = await throttle.attempt(keys, now);
  if (retryAfterSeconds > 0) reply.header('retry-after', String(retryAfterSeconds));
  return { keys, retryAfterSeconds };
}

/** POST /login/second-factor: `code` or `recovery_code` (a mandatory enrolment: its first `code`). */
export async function secondFactorEndpoint(context: ServerContext, throttle: LoginThrottle, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const found = await pendingLogin(context, request);
  if (!found) return startAgain(context, reply);
  const { pending, user } = found;
  const now = context.clock.nowSeconds();
  const { keys, retryAfterSeconds } = await attemptCode(context, throttle, request, reply, user, now);
  if (retryAfterSeconds > 0) {
    page(reply, 429, secondFactorPage({ t: tr(reply), brandName: context.options.brand.name, csrfToken: reply.generateCsrf(), error: tr(reply).t('local.tooManyCodes', { seconds: retryAfterSeconds }) }));
    return;
  }

  let recoveryCodes: string[] | undefined;
  let error: string | undefined;
  let refusedField: 'code' | 'recovery_code' = 'code';
  if (pending.step === 'enrol') {
    recoveryCodes = await confirmEnrolment(context, user.userId, text(request, 'code'));
    if (!recoveryCodes) error = tr(reply).t('local.codeMismatchKey');
  } else if (text(request, 'recovery_code')) {
    // Issue 10 §3: a recovery code works instead of a TOTP code, once.
    const typed = text(request, 'recovery_code');
    const { localAccounts } = context.storage;
    // Codes issued before keyed digests (second-factor.ts) are still stored as plain SHA-256: tried second.
    const used = await localAccounts.useRecoveryCode(user.userId, recoveryCodeDigest(recoveryCodeKey(context.options.tokenHmacKey), user.userId, typed), now)
      || await localAccounts.useRecoveryCode(user.userId, legacyRecoveryCodeDigest(typed), now);
    if (!used) error = tr(reply).t('local.recoveryInvalid');
    refusedField = 'recovery_code';
  } else {
    const outcome = await verifyTotp(context, user.userId, text(request, 'code'));
    if (outcome === 'replayed') error = tr(reply).t('local.codeReplayed');
    else if (outcome === 'wrong') error = tr(reply).t('local.codeWrong');
  }

  if (error) {
    request.log.info({ event: 'login.second_factor_failed' }, 'second factor failed');
    if ((await context.storage.localAccounts.recordPendingLoginFailure(pending.pendingDigest)) >= PENDING_LOGIN_MAX_FAILURES) {
      await context.storage.localAccounts.deletePendingLogin(pending.pendingDigest);
      reply.clearCookie(pendingCookieName(context), hostCookieOptions(context.options.environment, 'lax'));
      return startAgain(context, reply, pending.returnTo);
    }
    if (pending.step === 'enrol') {
      const secret = (await markedEnrolment(context, request, user.userId))?.secret ?? await startMarkedEnrolment(context, reply, user.userId);
      if (!secret) return startAgain(context, reply);
      page(reply, 401, enrolmentView(context, reply, user, secret, SECOND_FACTOR_PATH, { reason: tr(reply).t('local.mandatory'), error }));
      return;
    }
    page(reply, 401, secondFactorPage({ t: tr(reply), brandName: context.options.brand.name, csrfToken: reply.generateCsrf(), fieldError: { field: refusedField, message: error } }));
    return;
  }
  // Single use: of two concurrent completions only one starts a session.
  if (!(await context.storage.localAccounts.deletePendingLogin(pending.pendingDigest))) return startAgain(context, reply);
  reply.clearCookie(pendingCookieName(context), hostCookieOptions(context.options.environment, 'lax'));
  await throttle.succeeded(keys, now);
  // A code of a confirmed factor proves the person now (OIDC Core §3.1.2.1 re-authentication); an enrolment proves
  // only what the first step did: its time (pending.createdAt), and a fresh authentication only if that was one.
  const sessionDigest = await startLoginSession(context, request, reply, user.userId, pending.step === 'verify' ? undefined : pending.createdAt);
  if (pending.step === 'verify' || !pending.firstStepStale) await markContinuationReauthenticated(context, pending.returnTo, sessionDigest);
  await rememberDevice(context, request, reply, user.userId);
  await context.storage.audit.record({ type: pending.step === 'enrol' ? 'user.second_factor_enrolled' : 'user.second_factor_verified', at: now, actor: `user:${user.userId}` });
  if (recoveryCodes) {
    // Issue 13: the page's language switch (a new tab, layout.ts SHOWN_ONCE) opens the security page of the user now
    // signed in; the form's page, /login/second-factor, has no pending login left: it said the sign-in expired.
    const t = translator(requestLocale(request), SECURITY_PATH);
    page(reply, 200, recoveryCodesPage(context.options.brand.name, recoveryCodes, pending.returnTo, undefined, t));
    return;
  }
  reply.redirect(pending.returnTo, 303);
}

/**
 * The signed-in user, or undefined after the login step (continuing to the security page): the login page
 * with the upstream button, or straight to the upstream sign-in when local passwords are off (login-step.ts).
 */
async function signedIn(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<CurrentLoginSession | undefined> {
  const session = await currentLoginSession(context, request);
  if (!session) sendLoginStep(context, reply, { returnTo: SECURITY_PATH });
  return session;
}

async function showSecurity(context: ServerContext, reply: FastifyReply, user: UserRecord, status: number, message: { notice?: string; error?: string; codeError?: string } = {}): Promise<void> {
  const factor = await context.storage.localAccounts.findSecondFactor(user.userId);
  const csrfToken = reply.generateCsrf();
  page(reply, status, securityPage({
    t: tr(reply), brandName: context.options.brand.name, csrfToken, enrolled: factor?.confirmedAt != null,
    recoveryCodesLeft: await context.storage.localAccounts.countRecoveryCodes(user.userId), ...message, signedIn: { userName: user.name, csrfToken },
  }));
}

/** GET /account/security */
export async function securityEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await signedIn(context, request, reply);
  if (session) await showSecurity(context, reply, session.user, 200);
}

/** How long, and only in the browser that started it (enrolmentMark), an unconfirmed key is shown. */
const ENROLMENT_VIEW_SECONDS = 600;
const ENROLMENT_COOKIE = 'gatehouse_enrolment';

/**
 * The enrolment cookie's value: a MAC of the user and the enrolment's key, so that only the browser that started
 * this enrolment (its POST on the account page, or the mandatory enrolment's page) is shown its key (another session
 * of the same user, or another sign-in, say someone who has the password and signs in before the first code
 * confirms it, is not).
 */
const enrolmentMark = (context: ServerContext, userId: string, secret: string) =>
  createHmac('sha256', context.options.tokenHmacKey).update(`gatehouse enrolment view:${userId}:${secret}`).digest('base64url');

/**
 * Gives this browser the mark of the enrolment it started (a MAC of the user and the key itself, so a key another
 * browser started since, even in the same second, never matches it), for ENROLMENT_VIEW_SECONDS.
 */
function markEnrolment(context: ServerContext, reply: FastifyReply, userId: string, secret: string): void {
  reply.setCookie(hostCookieName(context.options.environment, ENROLMENT_COOKIE), enrolmentMark(context, userId, secret),
    hostCookieOptions(context.options.environment, 'strict', ENROLMENT_VIEW_SECONDS));
}

/**
 * The user's unconfirmed enrolment, only if this browser started it (its mark): the key is shown to no one else, not
 * to another session of the same user nor to another sign-in with the password at the mandatory enrolment, who would
 * otherwise hold the factor the user is about to confirm.
 */
async function markedEnrolment(context: ServerContext, request: FastifyRequest, userId: string): Promise<{ secret: string; startedAt: number } | undefined> {
  const mark = request.cookies[hostCookieName(context.options.environment, ENROLMENT_COOKIE)];
  const factor = mark === undefined ? undefined : await context.storage.localAccounts.findSecondFactor(userId);
  if (!factor || factor.confirmedAt !== null) return undefined;
  const secret = decryptTotpSecret(secondFactorKey(context.options.tokenHmacKey), userId, factor.secretCiphertext);
  // A MAC of a fixed length: constantTimeEqual (SPEC decision 9).
  return constantTimeEqual(mark!, enrolmentMark(context, userId, secret)) ? { secret, startedAt: factor.createdAt } : undefined;
}

/**
 * POST /account/security/enrol: a new secret (replacing an unconfirmed one), then 303 to GET
 * /account/security/enrol, which shows it (post/redirect/get: a reload of the shown key must not replace it, or
 * the key already scanned into an authenticator would stop matching); 409 when a factor is already on.
 */
export async function startEnrolmentEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await signedIn(context, request, reply);
  if (!session) return;
  const secret = await newEnrolment(context, session.user.userId);
  if (!secret) return showSecurity(context, reply, session.user, 409, { error: tr(reply).t('local.alreadyOn') });
  markEnrolment(context, reply, session.user.userId, secret);
  reply.redirect(`${SECURITY_PATH}/enrol`, 303);
}

/**
 * GET /account/security/enrol: the unconfirmed enrolment's key, as often as it is opened, for ENROLMENT_VIEW_SECONDS
 * and in the browser that started it (enrolmentMark); else the security page, where Set up starts again.
 */
export async function enrolmentEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await signedIn(context, request, reply);
  if (!session) return;
  const started = await markedEnrolment(context, request, session.user.userId);
  if (!started || context.clock.nowSeconds() >= started.startedAt + ENROLMENT_VIEW_SECONDS) return void reply.redirect(SECURITY_PATH, 303);
  page(reply, 200, enrolmentView(context, reply, session.user, started.secret, `${SECURITY_PATH}/confirm`, { signedIn: true }));
}

/** POST /account/security/confirm: `code`, the first code of the enrolment; shows the recovery codes once. */
export async function confirmEnrolmentEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await signedIn(context, request, reply);
  if (!session) return;
  const { user } = session;
  const codes = await confirmEnrolment(context, user.userId, text(request, 'code'));
  if (!codes) {
    const existing = await factorSecret(context, user.userId);
    if (!existing || existing.confirmed) return showSecurity(context, reply, user, 409, { error: tr(reply).t('local.nothingAwaits') });
    // The key again only to the browser that started the enrolment (markedEnrolment); any other session is told no more.
    const started = await markedEnrolment(context, request, user.userId);
    if (!started) return showSecurity(context, reply, user, 400, { error: tr(reply).t('local.codeMismatch') });
    page(reply, 400, enrolmentView(context, reply, user, started.secret, `${SECURITY_PATH}/confirm`, { signedIn: true, error: tr(reply).t('local.codeMismatch') }));
    return;
  }
  await context.storage.audit.record({ type: 'user.second_factor_enrolled', at: context.clock.nowSeconds(), actor: `user:${user.userId}` });
  const csrfToken = reply.generateCsrf();
  page(reply, 200, recoveryCodesPage(context.options.brand.name, codes, SECURITY_PATH, { userName: user.name, csrfToken }, tr(reply)));
}

/**
 * POST /account/security/disable: `code`, a current TOTP code (issue 10 §3: disabling needs one). Each
 * attempt counts in the login throttle as a sign-in's code does (growing delays, then 429 with
 * Retry-After): whoever holds a session must not guess the code that removes the factor.
 */
export async function disableSecondFactorEndpoint(context: ServerContext, throttle: LoginThrottle, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await signedIn(context, request, reply);
  if (!session) return;
  const { user } = session;
  if (await secondFactorRequired(context, user.userId)) {
    return showSecurity(context, reply, user, 403, { error: tr(reply).t('local.required') });
  }
  const now = context.clock.nowSeconds();
  const { keys, retryAfterSeconds } = await attemptCode(context, throttle, request, reply, user, now);
  if (retryAfterSeconds > 0) {
    return showSecurity(context, reply, user, 429, { codeError: tr(reply).t('local.tooManyCodes', { seconds: retryAfterSeconds }) });
  }
  const outcome = await verifyTotp(context, user.userId, text(request, 'code'));
  if (outcome !== 'ok') {
    return showSecurity(context, reply, user, 400, { codeError: outcome === 'replayed' ? tr(reply).t('local.codeReplayedShort') : tr(reply).t('local.codeInvalidShort') });
  }
  await throttle.succeeded(keys, now);
  await context.storage.localAccounts.removeSecondFactor(user.userId);
  await context.storage.audit.record({ type: 'user.second_factor_removed', at: context.clock.nowSeconds(), actor: `user:${user.userId}` });
  await showSecurity(context, reply, user, 200, { notice: tr(reply).t('local.turnedOff') });
}
