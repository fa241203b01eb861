/**
 * Sign-in through the platform's OpenID Provider (issue 10 §2; sessions/upstream-identity.ts holds the
 * relying-party machinery, all of it openid-client's).
 *
 * GET /login/upstream?return_to=… starts: a fresh state, nonce and PKCE verifier (S256) in the encrypted
 * transaction cookie, then 303 to the provider's authorization endpoint.
 * GET /login/upstream/callback finishes: the transaction is taken (single use), openid-client checks the
 * response (`state`, `iss`, error responses), redeems the code with the verifier and validates the ID
 * token (signature, `iss`, `aud`, `exp`, `nonce`). Then the account is matched:
 *   1. a link (upstream issuer, `sub`) to a live directory user signs that user in;
 *   2. else, only when the provider says `email_verified: true`, a live directory user with that e-mail is
 *      linked (audit `upstream.identity.linked`) and signed in;
 *   3. else a Gatehouse page: "your account is not set up for connecting apps" — never a new account.
 * Every failure ends on a page with a way back ("Start again"): never a 500, never a session, never a code.
 *
 * POST /login with local passwords off (`GATEHOUSE_LOCAL_PASSWORDS=off`) is refused here, whatever it carries.
 */
import { requestTranslator } from '../i18n/request-language.ts';
import type { Translator } from '../i18n/i18n.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import * as oidc from 'openid-client';
import { upstreamSignInErrorPage, upstreamStartUrl } from '../pages/login-page.ts';
import type { ServerContext } from '../server-context.ts';
import { startLoginSession } from '../sessions/login-session.ts';
import { markContinuationReauthenticated } from './request-uri.ts';
import { startSecondStep } from './second-factor.ts';
import {
  saveUpstreamTransaction, takeUpstreamTransaction, upstreamConfiguration, upstreamProvider, upstreamRedirectUri, type UpstreamTransaction,
} from '../sessions/upstream-identity.ts';
import type { UpstreamIdentityProvider } from '../options.ts';
import type { UserRecord } from '../storage/storage.ts';
import { RETURN_TO } from './login.ts';

/** Why an upstream sign-in signed no one in; each has its own page and its own log line. */
type UpstreamFailure = 'unreachable' | 'no_transaction' | 'denied' | 'refused' | 'unverifiable' | 'email_unverified' | 'not_set_up';

function failurePage(context: ServerContext, upstream: UpstreamIdentityProvider, failure: UpstreamFailure, t: Translator, detail?: string): { title: string; message: string } {
  const names = { provider: upstream.name, brand: context.options.brand.name };
  switch (failure) {
    case 'unreachable':
      return { title: t.t('upstream.unreachableTitle', names), message: t.t('upstream.unreachable', names) };
    case 'no_transaction':
      return { title: t.t('upstream.expiredTitle'), message: t.t('upstream.expired') };
    case 'denied':
      return { title: t.t('upstream.deniedTitle', names), message: t.t('upstream.denied', { ...names, detail: detail ?? 'access_denied' }) };
    case 'refused':
      return { title: t.t('upstream.deniedTitle', names), message: t.t('upstream.refused', names) };
    case 'unverifiable':
      return { title: t.t('upstream.unverifiableTitle'), message: t.t('upstream.unverifiable', names) };
    case 'email_unverified':
      return { title: t.t('upstream.emailUnverifiedTitle'), message: t.t('upstream.emailUnverified', names) };
    case 'not_set_up':
      return { title: t.t('upstream.notSetUpTitle'), message: t.t('upstream.notSetUp', names) };
  }
}

function sendFailure(context: ServerContext, request: FastifyRequest, reply: FastifyReply, failure: UpstreamFailure, startAgainUrl: string | undefined, detail?: string): void {
  const upstream = upstreamProvider(context)!;
  request.log.info({ event: 'upstream.sign_in.failed', reason: failure, ...(detail ? { detail } : {}) }, 'upstream sign-in failed');
  const t = requestTranslator(request);
  const { title, message } = failurePage(context, upstream, failure, t, detail);
  const status = failure === 'unreachable' ? 502 : failure === 'not_set_up' || failure === 'email_unverified' ? 403 : 400;
  reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8')
    .send(upstreamSignInErrorPage(context.options.brand.name, title, message, startAgainUrl, t));
}

/** GET /login/upstream?return_to=… (404 without an upstream provider). */
export async function upstreamLoginStartEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const upstream = upstreamProvider(context);
  if (!upstream) {
    reply.code(404).send({ error: 'not_found', error_description: 'no upstream identity provider is configured' });
    return;
  }
  const query = request.query as Record<string, unknown>;
  // Never an open redirect: only an authorization request or one of our own pages (login.ts RETURN_TO).
  const returnTo = typeof query.return_to === 'string' && RETURN_TO.test(query.return_to) ? query.return_to : '/';
  // OIDC Core §3.1.2.1: a request with prompt=login or max_age needs a fresh authentication at the provider.
  const reauthenticate = query.reauthenticate === '1';
  let configuration: oidc.Configuration;
  try {
    configuration = await upstreamConfiguration(context, upstream);
  } catch (error) {
    sendFailure(context, request, reply, 'unreachable', upstreamStartUrl(returnTo, reauthenticate), errorName(error));
    return;
  }
  // RFC 7636 (S256), RFC 6749 §10.12 (state), OpenID Connect Core §3.1.2.1 (nonce): fresh for every redirect.
  const transaction: UpstreamTransaction = {
    state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier(), returnTo,
    ...(reauthenticate ? { reauthenticateSince: context.clock.nowSeconds() } : {}),
  };
  const authorizationUrl = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: upstreamRedirectUri(context),
    scope: upstream.scope ?? 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(transaction.codeVerifier),
    code_challenge_method: 'S256',
    state: transaction.state,
    nonce: transaction.nonce,
    // OIDC Core §3.1.2.1: prompt=login asks for credentials again; max_age=0 makes the ID token carry auth_time.
    ...(reauthenticate ? { prompt: 'login', max_age: '0' } : {}),
  });
  await saveUpstreamTransaction(context, reply, transaction);
  reply.header('cache-control', 'no-store').redirect(authorizationUrl.href, 303);
}

/** GET /login/upstream/callback (404 without an upstream provider). */
export async function upstreamLoginCallbackEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const upstream = upstreamProvider(context);
  if (!upstream) {
    reply.code(404).send({ error: 'not_found', error_description: 'no upstream identity provider is configured' });
    return;
  }
  // Single use: the cookie is cleared whatever happens next.
  const transaction = await takeUpstreamTransaction(context, request, reply);
  if (!transaction) {
    sendFailure(context, request, reply, 'no_transaction', undefined);
    return;
  }
  const startAgain = upstreamStartUrl(transaction.returnTo, transaction.reauthenticateSince !== undefined);
  let claims: { iss: string; sub: string; email?: unknown; email_verified?: unknown };
  // How long before its ID token the person last proved who they are: the provider's auth_time read against its
  // own iat (the two clocks may differ); undefined when it did not say (OIDC Core §2: optional without max_age).
  let age: number | undefined;
  try {
    const configuration = await upstreamConfiguration(context, upstream);
    // The response as the provider sent it, on our registered redirect URI (never rebuilt from Host headers).
    const queryStart = request.url.indexOf('?');
    const currentUrl = new URL(`${upstreamRedirectUri(context)}${queryStart === -1 ? '' : request.url.slice(queryStart)}`);
    const tokens = await oidc.authorizationCodeGrant(configuration, currentUrl, {
      pkceCodeVerifier: transaction.codeVerifier, expectedState: transaction.state, expectedNonce: transaction.nonce, idTokenExpected: true,
    });
    const idToken = tokens.claims()!;
    claims = { ...idToken };
    age = typeof idToken.auth_time === 'number' ? Math.max(0, idToken.iat - idToken.auth_time) : undefined;
    // Many providers put e-mail claims only in UserInfo (OpenID Connect Core §5.4); its `sub` must match the ID token's (§5.3.2).
    const metadata = configuration.serverMetadata();
    if (claims.email === undefined && metadata.userinfo_endpoint) {
      const userInfo = await oidc.fetchUserInfo(configuration, tokens.access_token, idToken.sub);
      claims = { ...claims, email: userInfo.email, email_verified: userInfo.email_verified };
    }
  } catch (error) {
    if (error instanceof oidc.AuthorizationResponseError) {
      // RFC 6749 §4.1.2.1: the provider's error response, e.g. access_denied (the person cancelled).
      sendFailure(context, request, reply, 'denied', startAgain, /^[\x20-\x7E]{1,64}$/.test(error.error) ? error.error : undefined);
    } else if (error instanceof oidc.ResponseBodyError) {
      sendFailure(context, request, reply, 'refused', startAgain, /^[\x20-\x7E]{1,64}$/.test(error.error) ? error.error : undefined);
    } else if (isNetworkError(error)) {
      sendFailure(context, request, reply, 'unreachable', startAgain, errorName(error));
    } else {
      // Wrong state or nonce, wrong iss, a bad ID token signature, an expired ID token, …
      sendFailure(context, request, reply, 'unverifiable', startAgain, errorName(error));
    }
    return;
  }

  const now = context.clock.nowSeconds();
  const reauthenticated = transaction.reauthenticateSince !== undefined;
  // A fresh authentication was asked for (prompt=login, max_age=0): auth_time must show one made since the
  // sign-in started (with 5 s for the clocks), or no one is signed in (OIDC Core §3.1.2.1, §3.1.3.7 item 13).
  if (reauthenticated && (age === undefined || age > now - transaction.reauthenticateSince! + 5)) {
    sendFailure(context, request, reply, 'unverifiable', startAgain, 'auth_time');
    return;
  }
  const user = await matchUser(context, request, reply, claims, startAgain, now);
  if (!user) return;
  await context.storage.userIdentities.recordSignIn(claims.iss, claims.sub, now);
  await context.storage.audit.record({ type: 'upstream.signed_in', at: now, actor: `user:${user.userId}`, details: { issuer: claims.iss } });
  reply.header('cache-control', 'no-store');
  // Issue 10 §3: the same second step as after a password (an enrolled factor, or a required enrolment):
  // GATEHOUSE_REQUIRE_SECOND_FACTOR and a user's own factor hold whichever way the first step was taken.
  // The session counts from the provider's auth_time (0 when it gave none); one that proved a fresh
  // authentication also counts for the request it continues, in that request's own second too.
  const authenticatedAt = age === undefined ? 0 : now - age;
  if (await startSecondStep(context, reply, user, transaction.returnTo, { authenticatedAt, fresh: reauthenticated })) return;
  const sessionDigest = await startLoginSession(context, request, reply, user.userId, authenticatedAt);
  if (reauthenticated) await markContinuationReauthenticated(context, transaction.returnTo, sessionDigest);
  reply.redirect(transaction.returnTo, 303);
}

/** The linked user, or the user linked now by a verified e-mail; undefined after answering with a failure page. */
async function matchUser(
  context: ServerContext, request: FastifyRequest, reply: FastifyReply, claims: { iss: string; sub: string; email?: unknown; email_verified?: unknown },
  startAgain: string, now: number,
): Promise<UserRecord | undefined> {
  const { storage } = context;
  // OpenID Connect Core §5.7: only (iss, sub) identifies the account; the e-mail may change or be reassigned.
  const linked = await storage.userIdentities.find(claims.iss, claims.sub);
  if (linked) {
    // A deleted user's row stays (for their grants), and so may its link: such a user signs in no more.
    const user = (await storage.directory.findUser(linked.userId)) ? await storage.users.find(linked.userId) : undefined;
    if (user) return user;
  }
  const email = typeof claims.email === 'string' ? claims.email.trim().toLowerCase() : '';
  const refuse = async (failure: 'email_unverified' | 'not_set_up', reason: string) => {
    await storage.audit.record({ type: 'upstream.sign_in.refused', at: now, actor: 'system', details: { issuer: claims.iss, reason } });
    sendFailure(context, request, reply, failure, startAgain);
    return undefined;
  };
  if (!email) return refuse('not_set_up', 'no_email');
  // Issue 10 §2: an e-mail links an account only when the provider vouches for it.
  if (claims.email_verified !== true) return refuse('email_unverified', 'email_unverified');
  const user = await storage.users.findByEmail(email); // live users only
  if (!user) return refuse('not_set_up', 'unknown_email');
  const outcome = await storage.userIdentities.link({ issuer: claims.iss, subject: claims.sub, userId: user.userId, linkedAt: now, lastSignInAt: now });
  // `user_taken`: the user is already linked to another account at this provider; the e-mail does not move it.
  if (outcome !== 'linked') return refuse('not_set_up', outcome);
  await storage.audit.record({ type: 'upstream.identity.linked', at: now, actor: `user:${user.userId}`, details: { issuer: claims.iss, by: 'verified_email' } });
  return user;
}

/** POST /login when local passwords are off: nothing is checked or counted; the page offers the upstream sign-in. */
export async function passwordLoginDisabledEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const body = (request.body ?? {}) as Record<string, unknown>;
  const returnTo = typeof body.return_to === 'string' && RETURN_TO.test(body.return_to) ? body.return_to : '/';
  const upstream = upstreamProvider(context)!;
  const t = requestTranslator(request);
  reply.code(403).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(upstreamSignInErrorPage(
    context.options.brand.name, t.t('upstream.passwordsNotUsedTitle'), t.t('upstream.passwordsNotUsed', { provider: upstream.name }), upstreamStartUrl(returnTo), t,
  ));
}

/** A transport failure (fetch's TypeError, a timeout): the provider could not be reached. */
function isNetworkError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return true;
  if (error instanceof TypeError && /fetch failed/i.test(error.message)) return true;
  return error.cause !== undefined && error.cause !== error && isNetworkError(error.cause);
}

/** For logs: the error's class and code, never its message (which may quote a response). */
function errorName(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown';
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${error.name}:${code}` : error.name;
}
