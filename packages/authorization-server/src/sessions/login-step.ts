/**
 * The login step every page that needs a signed-in user takes (issue 10 §2): the login page, with a
 * "Sign in with <name>" button when an upstream OpenID Provider is configured; or, when local passwords
 * are off (`GATEHOUSE_LOCAL_PASSWORDS=off`), straight to the upstream sign-in (303 to GET /login/upstream).
 */
import { translator } from '../i18n/i18n.ts';
import { requestLocale, requestTranslator } from '../i18n/request-language.ts';
import type { FastifyReply } from 'fastify';
import { loginPage, upstreamStartUrl } from '../pages/login-page.ts';
import type { ServerContext } from '../server-context.ts';
import { localPasswordsEnabled, upstreamProvider } from './upstream-identity.ts';

/**
 * Answers with the login step, never cached.
 * @param returnTo where to continue after sign-in (login.ts RETURN_TO); `clientName` when an app is asking;
 *   `reauthenticate` when the request needs a fresh authentication (prompt=login, max_age): the identity
 *   provider is then asked for one (`prompt=login`, `max_age=0`) and must prove it (`auth_time`).
 */
export function sendLoginStep(context: ServerContext, reply: FastifyReply, step: { returnTo: string; clientName?: string; reauthenticate?: boolean }): void {
  reply.header('cache-control', 'no-store');
  if (!localPasswordsEnabled(context)) {
    reply.redirect(upstreamStartUrl(step.returnTo, step.reauthenticate), 303);
    return;
  }
  // Issue 13: an authorization request's login page switches language back to its return_to, as a refused password's
  // page does (login.ts): a request by reference reached it with a request_uri this GET spent (RFC 9126 §7.3).
  const t = step.returnTo.startsWith('/oauth/authorize?') ? translator(requestLocale(reply.request), step.returnTo) : requestTranslator(reply.request);
  // A form sent after its session ended (signed out in another tab, expired): the change was not made, and
  // the page says so rather than dropping it silently. POST /oauth/authorize is a request, not a change.
  const unsaved = reply.request.method === 'POST' && !reply.request.url.startsWith('/oauth/');
  reply.code(200).type('text/html; charset=utf-8').send(loginPage({
    t, brandName: context.options.brand.name, csrfToken: reply.generateCsrf(), upstreamName: upstreamProvider(context)?.name, ...step,
    ...(unsaved ? { notice: t.t('login.signedOutUnsaved') } : {}),
  }));
}
