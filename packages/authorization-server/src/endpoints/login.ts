/**
 * POST /login: checks the e-mail and password (argon2id), starts a login session, and continues the
 * authorization request. CSRF-checked before this runs; rate-limited per account and address
 * (SPEC decision 18). Failures never say whether the account exists.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RawParameters } from '../http/parameters.ts';
import { loginPage } from '../pages/login-page.ts';
import type { ServerContext } from '../server-context.ts';
import { startLoginSession } from '../sessions/login-session.ts';
import { decoyPasswordHash, verifyPassword } from '../users/password.ts';
import type { LoginThrottle } from './login-throttle.ts';

/** Only a continuation of an authorization request: never an open redirect. */
const RETURN_TO = /^\/oauth\/authorize\?[^\\]*$/;

export async function loginEndpoint(context: ServerContext, throttle: LoginThrottle, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const body = request.body as RawParameters;
  const text = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : '');
  const email = text('email').trim().toLowerCase();
  const password = text('password');
  const returnTo = RETURN_TO.test(text('return_to')) ? text('return_to') : '/';
  const now = context.clock.nowSeconds();
  const accountKey = `account:${email}`;
  const keys = [accountKey, `address:${request.ip}`];
  const page = (status: number, error: string) =>
    reply.code(status).type('text/html; charset=utf-8').send(loginPage({
      brandName: context.options.brand.name, csrfToken: reply.generateCsrf(), returnTo, error, email,
    }));

  const retryAfterSeconds = throttle.retryAfterSeconds(keys, now);
  if (retryAfterSeconds > 0) {
    reply.header('retry-after', String(retryAfterSeconds));
    page(429, `Too many failed attempts. Try again in ${Math.ceil(retryAfterSeconds / 60)} minutes.`);
    return;
  }
  // Counted before the (slow, awaited) check, so a burst of parallel attempts cannot pass the limit together.
  throttle.recordFailure(keys, now);
  const user = email ? await context.storage.users.findByEmail(email) : undefined;
  // The decoy hash keeps the response time the same whether or not the account exists.
  const valid = await verifyPassword(password, user?.passwordHash ?? (await decoyPasswordHash));
  if (!user || !valid) {
    request.log.info({ event: 'login.failed' }, 'login failed');
    page(401, 'The email or password is incorrect.');
    return;
  }
  throttle.retract(keys, now);
  throttle.reset(accountKey);
  await startLoginSession(context, reply, user.userId);
  reply.redirect(returnTo, 303);
}
