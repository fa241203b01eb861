/**
 * Sign-out (issue 10 §4). `POST /logout` (CSRF-checked before this runs, routes.ts; `Origin` checked here,
 * SPEC decision 18) deletes this browser's login session in storage, so every instance refuses it at
 * once and the next person at the computer cannot connect apps, clears the session cookie, and answers
 * `303` to `GET /signed-out`, a page saying so with a way to sign in again. Signing out without a session
 * is harmless and answers the same.
 */
import { requestTranslator } from '../i18n/request-language.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { signedOutPage } from '../pages/session-pages.ts';
import type { ServerContext } from '../server-context.ts';
import { currentLoginSession, endLoginSession } from '../sessions/login-session.ts';
import { servesGet } from '../http/method-not-allowed.ts';
import { RETURN_TO } from './login.ts';

/** POST /logout */
export async function logoutEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await endLoginSession(context, request, reply);
  const from = signedOutFrom(request);
  reply.header('cache-control', 'no-store').redirect(from ? `/signed-out?${new URLSearchParams({ return_to: from })}` : '/signed-out', 303);
}

/**
 * The page the sign-out was made on (its same-origin Referer, query included), when a login continues there
 * (login.ts RETURN_TO: an authorization request, a portal, account, console or marketplace page) and a GET
 * opens it: "Sign in again" goes back to it, so signing out of an app's authorization to use another account
 * continues it. A page shown in answer to a POST (a confirmation) has no GET route, only a 405.
 */
function signedOutFrom(request: FastifyRequest): string | undefined {
  const referer = request.headers.referer;
  if (referer === undefined) return undefined;
  try {
    const url = new URL(referer);
    if (url.host !== request.host) return undefined;
    // A portal, account or console page continues without its query (a notice's ?done=, a search), which
    // RETURN_TO admits only for an authorization request and the marketplace.
    return [`${url.pathname}${url.search}`, url.pathname].find((path) => continuesAt(request, path));
  } catch {
    return undefined;
  }
}

/**
 * Whether a login continues at `path` (login.ts RETURN_TO) and a GET opens it (http/method-not-allowed.ts). Not an
 * authorization request by reference: the page it showed used its request_uri (one-time, RFC 9126 §7.3), which
 * would answer 'This request is no longer valid'.
 */
function continuesAt(request: FastifyRequest, path: string): boolean {
  const mark = path.indexOf('?');
  const pathname = mark === -1 ? path : path.slice(0, mark);
  if (pathname === '/oauth/authorize' && new URLSearchParams(path.slice(mark + 1)).get('request_uri')) return false;
  return RETURN_TO.test(path) && servesGet(request.server, pathname);
}

/** GET /signed-out (a browser still signed in is not told otherwise: 303 to its connected apps). */
export async function signedOutEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (await currentLoginSession(context, request)) {
    reply.redirect('/account/connected-apps', 303);
    return;
  }
  const returnTo = (request.query as Record<string, unknown>).return_to;
  const signInAgain = typeof returnTo === 'string' && continuesAt(request, returnTo) ? returnTo : '/account/connected-apps';
  reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(signedOutPage(context.options.brand.name, requestTranslator(request), signInAgain));
}
