/**
 * The user's login sessions (issue 10 §4):
 *
 * - `GET /account/sessions`: the user's active sessions (device, signed in, last seen), this browser's
 *   marked; signed out, the shared login page continuing here.
 * - `POST /account/sessions/:session_id/end`: ends one other session of the user, after a confirmation
 *   page (the first POST shows it; the second, with `confirm=yes`, ends the session) — deleted in
 *   storage, so every instance refuses it at once. `404` for an id that is not one of the user's
 *   sessions (another user's included), and nothing is ended.
 * - `POST /account/sessions/end-others`: "Sign out everywhere else", confirmed the same way.
 * The confirmation's language switch posts again with `locale` (endpoints/confirmation.ts): the same confirmation comes
 * back in that language, and a form carrying `locale` ends nothing, `confirm=yes` or not.
 *
 * Forms are CSRF-checked before these handlers run (routes.ts) and `Origin`-checked here (SPEC decision 18).
 * Sessions are named by `sessionPublicId`, never by the cookie or its digest.
 */
import { requestTranslator } from '../i18n/request-language.ts';
import { confirmedAction, rememberSwitchedLocale } from './confirmation.ts';
import type { Translator } from '../i18n/i18n.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendLoginStep } from '../sessions/login-step.ts';
import { confirmEndSessionsPage, noSuchSessionPage, sessionsPage, type SessionsFrame, type SessionView } from '../pages/session-pages.ts';
import type { ServerContext } from '../server-context.ts';
import { currentLoginSession, sessionPublicId, type CurrentLoginSession } from '../sessions/login-session.ts';

const SESSIONS_PATH = '/account/sessions';

function page(reply: FastifyReply, status: number, body: string): void {
  // Pages carry a CSRF token and the user's data: never cached.
  reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
}

/** The signed-in user and session with the page frame, or undefined after answering (login page; 403 for a cross-site form). */
async function signedIn(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<{ session: CurrentLoginSession; frame: SessionsFrame & { t: Translator } } | undefined> {
  const brandName = context.options.brand.name;
  const session = await currentLoginSession(context, request);
  if (!session) {
    sendLoginStep(context, reply, { returnTo: SESSIONS_PATH });
    return undefined;
  }
  return { session, frame: { brandName, csrfToken: reply.generateCsrf(), userName: session.user.name, t: requestTranslator(request) } };
}

async function sessionViews(context: ServerContext, current: CurrentLoginSession): Promise<SessionView[]> {
  // This very visit was only noted (issue 12): written first, so the list shows it (this instance's visits).
  await context.lastUses.sessions.flush();
  const sessions = await context.storage.loginSessions.listActiveOfUser(current.user.userId, context.clock.nowSeconds());
  return sessions.map((session) => ({
    sessionId: sessionPublicId(session.sessionDigest), device: session.device, createdAt: session.createdAt,
    lastSeenAt: session.lastSeenAt, current: session.sessionDigest === current.sessionDigest,
  }));
}

/** GET /account/sessions */
export async function sessionsEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const signed = await signedIn(context, request, reply);
  if (!signed) return;
  const query = request.query as Record<string, unknown>;
  const { t } = signed.frame;
  const notice = query.ended === '1' ? t.t('sessions.ended') : query.ended === 'others' ? t.t('sessions.endedOthers') : undefined;
  page(reply, 200, sessionsPage({ ...signed.frame, sessions: await sessionViews(context, signed.session), notice }));
}

/** POST /account/sessions/:session_id/end */
export async function endSessionEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  rememberSwitchedLocale(context, request, reply);
  const signed = await signedIn(context, request, reply);
  if (!signed) return;
  const { session_id: sessionId } = request.params as { session_id: string };
  const sessions = await context.storage.loginSessions.listActiveOfUser(signed.session.user.userId, context.clock.nowSeconds());
  // Only the user's own sessions are found: another user's id is as unknown as a made-up one.
  const target = sessions.find((session) => sessionPublicId(session.sessionDigest) === sessionId);
  if (!target) {
    page(reply, 404, noSuchSessionPage(signed.frame));
    return;
  }
  if (target.sessionDigest === signed.session.sessionDigest) {
    // This browser's own session ends with Sign out (POST /logout), which also clears its cookie.
    reply.redirect(SESSIONS_PATH, 303);
    return;
  }
  if (!confirmedAction(request)) {
    page(reply, 200, confirmEndSessionsPage({ ...signed.frame, target: {
      sessionId, device: target.device, createdAt: target.createdAt, lastSeenAt: target.lastSeenAt, current: false,
    } }));
    return;
  }
  await context.storage.loginSessions.delete(target.sessionDigest);
  request.log.info({ event: 'login_session.ended' }, 'login session ended by its user');
  reply.redirect(`${SESSIONS_PATH}?ended=1`, 303);
}

/** POST /account/sessions/end-others */
export async function endOtherSessionsEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  rememberSwitchedLocale(context, request, reply);
  const signed = await signedIn(context, request, reply);
  if (!signed) return;
  if (!confirmedAction(request)) {
    const others = (await sessionViews(context, signed.session)).filter((session) => !session.current).length;
    page(reply, 200, confirmEndSessionsPage({ ...signed.frame, target: { others } }));
    return;
  }
  const ended = await context.storage.loginSessions.deleteOthersOfUser(signed.session.user.userId, signed.session.sessionDigest);
  request.log.info({ event: 'login_session.ended_others', ended }, 'other login sessions ended by their user');
  reply.redirect(`${SESSIONS_PATH}?ended=others`, 303);
}
