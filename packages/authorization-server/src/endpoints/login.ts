/**
 * POST /login: checks the e-mail and password (argon2id), starts a login session, and continues the
 * authorization request. CSRF-checked before this runs; slowed by growing delays per account and
 * address, never a lockout, with counters in storage shared by every instance (SPEC decision 18,
 * login-throttle.ts); a known device is never blocked by other people's failures. A success also gives
 * the browser a device cookie (sessions/known-device.ts). Failures never say whether the account exists.
 */
import { translator } from '../i18n/i18n.ts';
import { noteContinuedRequestUiLocales, requestLocale } from '../i18n/request-language.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isUuid } from '@gatehouse/protocol';
import type { RawParameters } from '../http/parameters.ts';
import { loginPage } from '../pages/login-page.ts';
import type { ServerContext } from '../server-context.ts';
import { deviceCookieDigest, rememberDevice } from '../sessions/known-device.ts';
import { startLoginSession } from '../sessions/login-session.ts';
import { decoyPasswordHash, verifyPassword } from '../users/password.ts';
import { loginThrottleKeys, type LoginThrottle } from './login-throttle.ts';
import { markContinuationReauthenticated } from './request-uri.ts';
import { startSecondStep } from './second-factor.ts';

/**
 * Only a continuation of an authorization request, or a page of the developer portal (`/portal/...`), the
 * account pages (`/account/...`), the administrators' console (`/admin/...`) or the marketplace: never an
 * open redirect (issue 13: a deep link survives sign-in). Those paths are `/portal`, `/account`, `/admin` or
 * `/marketplace` and further segments of letters, digits, `-` and `_` (no `//`, `\`, `.` or query, so a
 * browser cannot read them as another host, and no `..` to climb out).
 */
export const RETURN_TO = /^(?:\/oauth\/authorize\?[\x21-\x5B\x5D-\x7E]*|\/(?:portal|account|admin|marketplace)(?:\/[A-Za-z0-9_-]+)*|\/marketplace\?[A-Za-z0-9%+&=._~*-]{1,1300})$/;

/** A user id no account has (directory ids are random UUIDs): the known-device lookup of an unknown address. */
const NO_ACCOUNT = '00000000-0000-0000-0000-000000000000';

export async function loginEndpoint(context: ServerContext, throttle: LoginThrottle, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const body = request.body as RawParameters;
  const text = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : '');
  // Looked up as typed: each database folds case itself (stores/users.ts EMAIL_MATCH; lowercasing here first
  // would differ from PostgreSQL's lower() for a word-final Greek sigma). The throttle counts the database's fold.
  const typedEmail = text('email').trim();
  const email = typedEmail.toLowerCase();
  const password = text('password');
  const returnTo = RETURN_TO.test(text('return_to')) ? text('return_to') : '/';
  const now = context.clock.nowSeconds();
  // Issue 10 §3: the account is looked up (no password check yet) to know whether this browser is one of
  // its known devices; a known device is throttled on its own key, never by other people's failures.
  const user = typedEmail ? await context.storage.users.findByEmail(typedEmail) : undefined;
  const deviceDigest = deviceCookieDigest(context, request);
  // Looked up whether or not the account exists (no user has the nil id): an extra read for known addresses
  // only would tell them apart by the answer's time, as the decoy hash below keeps the password check from doing.
  const knownDevice = deviceDigest && (await context.storage.knownDevices.isKnown(deviceDigest, user?.userId ?? NO_ACCOUNT, now)) && user ? deviceDigest : undefined;
  const keys = loginThrottleKeys(typedEmail ? await context.storage.users.foldEmail(typedEmail) : '', request.ip, knownDevice);
  // Issue 13: the authorization request being continued may carry ui_locales; the language switch returns to it.
  // ("Try again in": seconds under two minutes, else whole minutes rounded up.)
  noteContinuedRequestUiLocales(request, returnTo);
  const t = translator(requestLocale(request), returnTo);
  const page = async (status: number, error: string) => {
    // The app an authorization request's sign-in is for, named again on a refused login as on the first page.
    const clientName = await askingClientName(context, returnTo);
    reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(loginPage({
      t, brandName: context.options.brand.name, csrfToken: reply.generateCsrf(), returnTo, error, email, upstreamName: context.options.upstreamIdentityProvider?.name,
      ...(clientName ? { clientName } : {}),
      // The page shown again keeps asking the identity provider for a fresh authentication (login-step.ts).
      ...(text('reauthenticate') === '1' ? { reauthenticate: true } : {}),
    }));
  };

  // SPEC decision 18: checked and counted in one atomic step, before the (slow, awaited) password check,
  // so a burst of parallel attempts, on any instances, cannot pass the limit together.
  const retryAfterSeconds = await throttle.attempt(keys, now);
  if (retryAfterSeconds > 0) {
    // Refused before any password check (RFC 6585 §4: 429 with Retry-After in seconds).
    reply.header('retry-after', String(retryAfterSeconds));
    await page(429, retryAfterSeconds < 120
      ? t.t('login.tooManySeconds', { seconds: retryAfterSeconds })
      : t.t('login.tooManyMinutes', { minutes: Math.ceil(retryAfterSeconds / 60) }));
    return;
  }
  // The decoy hash keeps the response time the same whether or not the account exists.
  const valid = await verifyPassword(password, user?.passwordHash ?? (await decoyPasswordHash));
  if (!user || !valid) {
    request.log.info({ event: 'login.failed' }, 'login failed');
    await page(401, t.t('login.incorrect'));
    return;
  }
  // Issue 10 §3: with a second factor (or one the user must enrol) no session starts yet; this attempt
  // stays counted in the throttle until the second step succeeds (second-factor.ts).
  if (await startSecondStep(context, reply, user, returnTo)) return;
  await throttle.succeeded(keys, now);
  await markContinuationReauthenticated(context, returnTo, await startLoginSession(context, request, reply, user.userId));
  await rememberDevice(context, request, reply, user.userId);
  reply.redirect(returnTo, 303);
}

/** The name of the active client whose authorization request `returnTo` continues (its `client_id`), else undefined. */
async function askingClientName(context: ServerContext, returnTo: string): Promise<string | undefined> {
  if (!returnTo.startsWith('/oauth/authorize?')) return undefined;
  const clientId = new URLSearchParams(returnTo.slice('/oauth/authorize?'.length)).get('client_id');
  if (clientId === null || !isUuid(clientId)) return undefined;
  const client = await context.storage.clients.find(clientId);
  return client?.status === 'active' ? client.clientName : undefined;
}
