/**
 * Setting a password through a one-time link (issue 10 §3): an administrator's invitation (72 h) or a
 * reset asked for on the login page (1 h); users/password-links.ts issues them.
 *
 * - `GET /account/set-password?token=…`: the form, when the link is usable; otherwise 410 and a page
 *   that says the link is no longer valid (the same for unknown, used and expired links).
 * - `POST /account/set-password` (CSRF token and Origin checked before this runs, routes.ts): checks the
 *   new password against NIST SP 800-63B (users/password-policy.ts) and its repetition, answering 400 with
 *   field errors that keep what was typed; then consumes the link (atomically: a link sets one password),
 *   stores the argon2id hash and ends every login session of the user.
 */
import { translator } from '../i18n/i18n.ts';
import { requestLocale, requestTranslator } from '../i18n/request-language.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RawParameters } from '../http/parameters.ts';
import { errorPage } from '../pages/error-page.ts';
import { passwordSetPage, setPasswordPage } from '../pages/local-account-pages.ts';
import type { ServerContext } from '../server-context.ts';
import { hashPassword } from '../users/password.ts';
import { PASSWORD_TOKEN_FORMAT, passwordTokenDigest } from '../users/password-links.ts';
import { passwordProblem } from '../users/password-policy.ts';

function page(reply: FastifyReply, status: number, body: string): void {
  // The page carries the link's token and a CSRF token: never cached.
  reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

/** The request's language (issue 13). */
const tr = (reply: FastifyReply) => requestTranslator(reply.request);

const linkGone = (context: ServerContext, reply: FastifyReply) =>
  page(reply, 410, errorPage(context.options.brand.name, tr(reply).t('local.linkInvalidTitle'), tr(reply).t('local.linkInvalid'), {
    t: tr(reply), reference: reply.request.id, hint: null,
    links: [{ href: '/account/forgot-password', label: tr(reply).t('login.forgot') }, { href: '/', label: tr(reply).t('error.home') }],
  }));

/** The usable link named by `token` and its user, or undefined (malformed, unknown, used, expired, or its user deleted). */
async function usableLink(context: ServerContext, token: unknown) {
  if (typeof token !== 'string' || !PASSWORD_TOKEN_FORMAT.test(token)) return undefined;
  const link = await context.storage.localAccounts.findPasswordToken(passwordTokenDigest(token), context.clock.nowSeconds());
  const user = link && (await context.storage.users.find(link.userId));
  return link && user ? { link, user, token } : undefined;
}

/** GET /account/set-password?token=… */
export async function setPasswordFormEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  // The token is in the URL: the page sends no Referer off-site (Referrer-Policy: same-origin) and is not logged (request-log.ts).
  const usable = await usableLink(context, (request.query as Record<string, unknown>).token);
  if (!usable) return linkGone(context, reply);
  page(reply, 200, setPasswordPage({ t: tr(reply), brandName: context.options.brand.name, csrfToken: reply.generateCsrf(), token: usable.token, email: usable.user.email }));
}

/** POST /account/set-password: fields `token`, `password`, `password_confirmation`. */
export async function setPasswordEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const body = request.body as RawParameters;
  const text = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : '');
  const usable = await usableLink(context, body.token);
  if (!usable) return linkGone(context, reply);
  const password = text('password');
  const confirmation = text('password_confirmation');
  // NIST SP 800-63B §5.1.1.2: length, common passwords, the account's own e-mail; no composition rules.
  const passwordError = passwordProblem(password, usable.user.email, tr(reply));
  const confirmationError = !passwordError && password !== confirmation ? tr(reply).t('local.passwordsDiffer') : undefined;
  if (passwordError || confirmationError) {
    // Issue 13: the page's language switch comes back to this link's form. The Referer's query (the token) is
    // never taken (http/form-page.ts), so the request's translator would send it home, the link lost.
    const t = translator(requestLocale(request), `/account/set-password?${new URLSearchParams({ token: usable.token })}`);
    page(reply, 400, setPasswordPage({
      t, brandName: context.options.brand.name, csrfToken: reply.generateCsrf(), token: usable.token, email: usable.user.email,
      ...(passwordError ? { passwordError } : {}), ...(confirmationError ? { confirmationError } : {}),
    }));
    return;
  }
  const passwordHash = await hashPassword(password);
  const now = context.clock.nowSeconds();
  // Issue 10 §3: single use. Consumed atomically after the (slow) hash: of two concurrent posts one sets the password.
  const consumed = await context.storage.localAccounts.consumePasswordToken(passwordTokenDigest(usable.token), now);
  if (!consumed) return linkGone(context, reply);
  await context.storage.users.setPasswordHash(consumed.userId, passwordHash);
  // Issue 10 §3: setting a password ends the user's sessions (the link is used signed out: all of them).
  const sessionsEnded = await context.storage.loginSessions.deleteOthersOfUser(consumed.userId, '');
  await context.storage.audit.record({
    type: 'user.password_set', at: now, actor: `user:${consumed.userId}`, details: { purpose: consumed.purpose, login_sessions_ended: sessionsEnded },
  });
  page(reply, 200, passwordSetPage(context.options.brand.name, tr(reply)));
}
