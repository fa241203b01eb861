/**
 * Login sessions: a random 256-bit cookie value; only its SHA-256 is stored (SPEC decision 9).
 * The cookie is HttpOnly, SameSite=Lax (sent on the partner's top-level redirect to /oauth/authorize),
 * and Secure outside development.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../server-context.ts';
import type { UserRecord } from '../storage/storage.ts';

export const SESSION_COOKIE = 'gatehouse_session';

const digest = (value: string) => createHash('sha256').update(value).digest('base64url');

export async function startLoginSession(context: ServerContext, reply: FastifyReply, userId: string): Promise<void> {
  const value = randomBytes(32).toString('base64url');
  const now = context.clock.nowSeconds();
  const lifetimeSeconds = context.options.loginSessionLifetimeSeconds;
  await context.storage.loginSessions.create({ sessionDigest: digest(value), userId, createdAt: now, expiresAt: now + lifetimeSeconds });
  reply.setCookie(SESSION_COOKIE, value, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: context.options.environment !== 'development',
    maxAge: lifetimeSeconds,
  });
}

/** The logged-in user, or undefined without a valid, unexpired session. */
export async function sessionUser(context: ServerContext, request: FastifyRequest): Promise<UserRecord | undefined> {
  const value = request.cookies[SESSION_COOKIE];
  if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) return undefined;
  const session = await context.storage.loginSessions.findActive(digest(value), context.clock.nowSeconds());
  return session && context.storage.users.find(session.userId);
}

/**
 * The logged-in user with the digest of their session cookie (what a consent interaction is bound to,
 * SPEC decision 11), or undefined without a valid, unexpired session. Reads the cookie as `sessionUser` does.
 */
export async function activeLoginSession(context: ServerContext, request: FastifyRequest): Promise<{ sessionDigest: string; user: UserRecord } | undefined> {
  const value = request.cookies[SESSION_COOKIE];
  if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) return undefined;
  const session = await context.storage.loginSessions.findActive(digest(value), context.clock.nowSeconds());
  const user = session && (await context.storage.users.find(session.userId));
  return session && user ? { sessionDigest: session.sessionDigest, user } : undefined;
}
