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

/** POST /logout */
export async function logoutEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await endLoginSession(context, request, reply);
  reply.header('cache-control', 'no-store').redirect('/signed-out', 303);
}

/** GET /signed-out (a browser still signed in is not told otherwise: 303 to its connected apps). */
export async function signedOutEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (await currentLoginSession(context, request)) {
    reply.redirect('/account/connected-apps', 303);
    return;
  }
  reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(signedOutPage(context.options.brand.name, requestTranslator(request)));
}
