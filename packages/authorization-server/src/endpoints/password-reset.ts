/**
 * "Forgot password?" (issue 10 §3):
 *
 * - `GET /account/forgot-password`: a form asking for the e-mail address.
 * - `POST /account/forgot-password` (CSRF token and Origin checked before this runs, routes.ts): when a
 *   live account uses the address, a reset link (1 h, single use, digest stored; users/password-links.ts)
 *   is e-mailed to it (mail/mailer.ts); the answer is the same page either way, and the same work is done
 *   before it either way (the rate limits and the account's lookup), the link stored and mailed after the
 *   response, so neither the words nor the timing reveal whether an address has an account.
 * - Rate limits (storage `rateLimits`, shared by every instance): `RESET_REQUESTS_PER_ADDRESS` per client
 *   address and `RESET_REQUESTS_PER_EMAIL` per e-mail address per hour; over either, 429 with Retry-After
 *   and nothing is sent. Counted whether or not the address has an account.
 */
import { requestTranslator } from '../i18n/request-language.ts';
import { matchLocale, translator } from '../i18n/i18n.ts';
import { hash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RawParameters } from '../http/parameters.ts';
import { createMailer, type Mailer } from '../mail/mailer.ts';
import { EMAIL } from '../clients/registration.ts';
import { forgotPasswordPage } from '../pages/local-account-pages.ts';
import type { ServerContext } from '../server-context.ts';
import { issuePasswordLink } from '../users/password-links.ts';

/** Requests one client address may make in `RESET_WINDOW_SECONDS`. */
export const RESET_REQUESTS_PER_ADDRESS = 20;
/** Requests for one e-mail address in `RESET_WINDOW_SECONDS` (from anywhere): a mailbox is not flooded. */
export const RESET_REQUESTS_PER_EMAIL = 5;
export const RESET_WINDOW_SECONDS = 3600;

const mailers = new WeakMap<ServerContext, Mailer>();

/** The mailer of this server (one per context), created on first use. */
export function mailerOf(context: ServerContext, request: FastifyRequest): Mailer {
  let mailer = mailers.get(context);
  if (!mailer) {
    const { smtpUrl, mailFrom } = context.options.localAccounts;
    mailer = createMailer({ smtpUrl, mailFrom }, context.options.environment, (message) => request.log.warn({ event: 'mail.not_configured' }, message));
    mailers.set(context, mailer);
  }
  return mailer;
}

function page(reply: FastifyReply, status: number, body: string): void {
  reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

/** GET /account/forgot-password */
export async function forgotPasswordFormEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  page(reply, 200, forgotPasswordPage({ t: requestTranslator(request), brandName: context.options.brand.name, csrfToken: reply.generateCsrf() }));
}

/** POST /account/forgot-password: field `email`. */
export async function forgotPasswordEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const body = request.body as RawParameters;
  const typedEmail = (typeof body.email === 'string' ? body.email : '').trim();
  const brandName = context.options.brand.name;
  const now = context.clock.nowSeconds();
  const t = requestTranslator(request);
  // No account has an address the directory would refuse (directory.ts readEmail): say so at the field, keeping it.
  if (typedEmail.length > 254 || !EMAIL.test(typedEmail)) {
    page(reply, 400, forgotPasswordPage({ t, brandName, csrfToken: reply.generateCsrf(), email: typedEmail, emailError: t.t('local.typeEmail') }));
    return;
  }
  // Counted on a digest of the address as the database folds it (users.foldEmail: every spelling of one
  // account alike, whether or not it exists): the counters table holds no e-mail addresses.
  const account = hash('sha256', await context.storage.users.foldEmail(typedEmail), 'base64url');
  const [byAddress, byEmail] = await context.storage.rateLimits.hit([`password-reset:address:${request.ip}`, `password-reset:email:${account}`], RESET_WINDOW_SECONDS, now);
  const over = [byAddress!.hits > RESET_REQUESTS_PER_ADDRESS ? byAddress! : undefined, byEmail!.hits > RESET_REQUESTS_PER_EMAIL ? byEmail! : undefined].filter((hit) => hit);
  if (over.length > 0) {
    // RFC 6585 §4: 429 with Retry-After in seconds; nothing is sent.
    const retryAfterSeconds = Math.max(...over.map((hit) => hit!.windowEndsAt - now), 1);
    reply.header('retry-after', String(retryAfterSeconds));
    page(reply, 429, forgotPasswordPage({ t, brandName, csrfToken: reply.generateCsrf(), email: typedEmail, error: t.t('local.tooManyResets') }));
    return;
  }
  const user = await context.storage.users.findByEmail(typedEmail); // as typed: the database folds case (login.ts)
  if (user) {
    // After the response, the link's write included: the answer's timing depends neither on whether the address
    // has an account (only then is a link stored, a transaction of its own), nor on the mail server, nor on the
    // lookup of the account's language (issue 13: its directory record's, else the language of the page that asked).
    // Never logs the link.
    setImmediate(() => {
      void (async () => {
        const link = await issuePasswordLink(context.storage, context.options.issuer, user.userId, 'reset', now);
        const mailT = translator(matchLocale((await context.storage.directory.findUser(user.userId))?.locale) ?? t.locale);
        await mailerOf(context, request).send({
          to: user.email,
          subject: mailT.t('mail.resetSubject', { brand: brandName }),
          text: mailT.t('mail.resetBody', { brand: brandName, link: link.url }),
        });
      })().catch((error: unknown) =>
        request.log.error({ event: 'mail.failed', reason: error instanceof Error ? error.message : String(error) }, 'a password-reset e-mail could not be sent'));
    });
  }
  page(reply, 200, forgotPasswordPage({ t, brandName, csrfToken: reply.generateCsrf(), sent: true }));
}
