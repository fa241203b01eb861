/**
 * Login sessions: a random 256-bit cookie value; only its SHA-256 is stored (SPEC decision 9), so
 * deleting the row ends the session on every instance at once (issue 10 §4). The cookie is HttpOnly,
 * SameSite=Lax (sent on the partner's top-level redirect to /oauth/authorize), and outside development
 * `__Host-gatehouse_session` with Secure and Path=/ (http/host-cookies.ts, issue 11 item 25).
 *
 * Each session records its device (a short User-Agent summary) and when it was last seen, moved forward
 * at most once a minute per session (like a grant's last use), within a second of the visit (the last-use
 * recorder, storage/last-use-recorder.ts), for the account page's session list.
 */
import { hash, randomBytes } from 'node:crypto';
import { noteUserLocale } from '../i18n/request-language.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { hostCookieName, hostCookieOptions } from '../http/host-cookies.ts';
import type { ServerContext } from '../server-context.ts';
import type { ActiveLoginSession, SubjectRecord, SubjectType, UserRecord } from '../storage/storage.ts';
import { deviceSummary } from './device-summary.ts';

/** The cookie's name in development; `__Host-gatehouse_session` elsewhere (`sessionCookieName`). */
export const SESSION_COOKIE = 'gatehouse_session';

/** How often a session's `lastSeenAt` may be written: at most once a minute per session. */
export const SESSION_LAST_SEEN_INTERVAL_SECONDS = 60;

const digest = (value: string) => hash('sha256', value, 'base64url');

export const sessionCookieName = (context: ServerContext) => hostCookieName(context.options.environment, SESSION_COOKIE);

/**
 * The identifier the account page uses for a session in URLs and forms: derived one-way from the stored
 * digest (22 base64url characters), so it reveals neither the cookie nor the storage key.
 */
export function sessionPublicId(sessionDigest: string): string {
  return hash('sha256', `gatehouse login session id:${sessionDigest}`, 'base64url').slice(0, 22);
}

/**
 * Starts a login session and sets its cookie, after ending the session this browser presented, if any, whoever
 * it belonged to: the new cookie replaces the old one in the browser, and a session no browser holds any more must
 * not stay valid (listed on the sessions page, usable by whoever copied its cookie). Every successful sign-in comes
 * here: the password (login.ts), the second step (second-factor.ts) and the identity provider (upstream-login.ts).
 * @param authenticatedAt when the person proved who they are, when not now (an identity provider's `auth_time`;
 *   0 when unknown): see CurrentLoginSession.
 * @returns the stored SHA-256 of the cookie (the session's key).
 */
export async function startLoginSession(context: ServerContext, request: FastifyRequest, reply: FastifyReply, userId: string, authenticatedAt?: number): Promise<string> {
  // Ended before the new one exists: should the new one fail to start, the browser is signed out, never left with two.
  const previous = sessionCookieDigest(context, request);
  if (previous !== undefined) await context.storage.loginSessions.delete(previous);
  const value = randomBytes(32).toString('base64url');
  const now = context.clock.nowSeconds();
  const lifetimeSeconds = context.options.loginSessionLifetimeSeconds;
  const sessionDigest = digest(value);
  await context.storage.loginSessions.createWithDevice({
    sessionDigest, userId, createdAt: now, expiresAt: now + lifetimeSeconds, device: deviceSummary(request.headers['user-agent']),
    ...(authenticatedAt === undefined ? {} : { authenticatedAt }),
  });
  reply.setCookie(sessionCookieName(context), value, hostCookieOptions(context.options.environment, 'lax', lifetimeSeconds));
  return sessionDigest;
}

export interface CurrentLoginSession {
  user: UserRecord;
  /** The stored SHA-256 of the cookie value (never the value itself). */
  sessionDigest: string;
  /** When the session started (seconds since the epoch). */
  createdAt: number;
  /**
   * When the person last proved who they are (seconds since the epoch; OIDC Core `auth_time`): what `prompt=login`
   * and `max_age` compare with. `createdAt` for a password or second-factor sign-in; the identity provider's
   * `auth_time` (0 when it did not say) for a sign-in there that asked for no credentials.
   */
  authenticatedAt: number;
  /** Only when asked for: the subjects of that type the user administers (storage.ts `ActiveLoginSession`). */
  administeredSubjects?: SubjectRecord[];
}

/** The stored digest of this request's session cookie, or undefined without a well-formed one. */
export function sessionCookieDigest(context: ServerContext, request: FastifyRequest): string | undefined {
  const value = request.cookies[sessionCookieName(context)];
  return value && /^[A-Za-z0-9_-]{43}$/.test(value) ? digest(value) : undefined;
}

/**
 * The signed-in user and their session, or undefined without a valid, unexpired session. Records the visit (at most once a minute).
 * @param administeredSubjectType also read the subjects of this type the user administers, in the same read (the consent page).
 */
export async function currentLoginSession(
  context: ServerContext, request: FastifyRequest, administeredSubjectType?: SubjectType,
): Promise<CurrentLoginSession | undefined> {
  const sessionDigest = sessionCookieDigest(context, request);
  if (sessionDigest === undefined) return undefined;
  // One read: the session with its live user (a deleted user signs nobody in, even through a session that
  // outlived the deletion: deleting a user ends their sessions, but a login racing it could leave one).
  const session = await context.storage.loginSessions.findActive(sessionDigest, context.clock.nowSeconds(), administeredSubjectType);
  return session && recognizedSession(context, request, session);
}

/**
 * A session storage found active for this request (`loginSessions.findActive`, or with the interaction it
 * owns, `interactions.consume`): its user's locale decides the request's pages, and the visit is recorded.
 */
export async function recognizedSession(context: ServerContext, request: FastifyRequest, session: ActiveLoginSession): Promise<CurrentLoginSession> {
  // Issue 13 "Languages": the directory record's locale decides this request's pages (i18n/request-language.ts).
  const { locale, ...user } = session.user;
  noteUserLocale(request, locale);
  // The visit is recorded at most once per interval: within it `touch` would match no row, so it is not even
  // noted (the stored `lastSeenAt` never moves back). Issue 12: noted, not written here: the last-use
  // recorder writes a second's visits in one statement, so a page that otherwise only reads waits for no write.
  const now = context.clock.nowSeconds();
  if (now - session.lastSeenAt >= SESSION_LAST_SEEN_INTERVAL_SECONDS) {
    context.lastUses.sessions.note(session.sessionDigest, now);
  }
  return {
    user, sessionDigest: session.sessionDigest, createdAt: session.createdAt, authenticatedAt: session.authenticatedAt,
    ...(session.administeredSubjects ? { administeredSubjects: session.administeredSubjects } : {}),
  };
}

/** The logged-in user, or undefined without a valid, unexpired session. */
export async function sessionUser(context: ServerContext, request: FastifyRequest): Promise<UserRecord | undefined> {
  return (await currentLoginSession(context, request))?.user;
}

/**
 * Signs out this browser: deletes its session in storage (every instance sees it at once) and clears the
 * cookie. Harmless without a session.
 */
export async function endLoginSession(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const sessionDigest = sessionCookieDigest(context, request);
  if (sessionDigest !== undefined) await context.storage.loginSessions.delete(sessionDigest);
  reply.clearCookie(sessionCookieName(context), hostCookieOptions(context.options.environment, 'lax'));
}
