/**
 * Known devices (issue 10 §3): at a successful login the browser gets a long-lived random device cookie
 * (256 bits; HttpOnly; SameSite=Strict, as only our own login form needs it; `__Host-gatehouse_device`
 * outside development), stored only as its SHA-256 with the user it signed in (`storage.knownDevices`).
 * A later login for that user from that browser is throttled on its own key only, so nobody else's
 * failures, from the same office address or from anywhere, can block it.
 */
import { hash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { hostCookieName, hostCookieOptions } from '../http/host-cookies.ts';
import type { ServerContext } from '../server-context.ts';

export const DEVICE_COOKIE = 'gatehouse_device';

/** How long a device stays known after its latest successful login: 180 days. */
export const KNOWN_DEVICE_LIFETIME_SECONDS = 180 * 24 * 60 * 60;

const VALUE = /^[A-Za-z0-9_-]{43}$/;
const digest = (value: string) => hash('sha256', value, 'base64url');
const cookieName = (context: ServerContext) => hostCookieName(context.options.environment, DEVICE_COOKIE);

/** The SHA-256 of this browser's device cookie when well-formed, else undefined (not yet known to anyone). */
export function deviceCookieDigest(context: ServerContext, request: FastifyRequest): string | undefined {
  const value = request.cookies[cookieName(context)];
  return value && VALUE.test(value) ? digest(value) : undefined;
}

/**
 * After a successful login: keeps the browser's device cookie if it is already known for `userId`
 * (extending it), else gives the browser a fresh value recorded as known for `userId`. A value the
 * browser brought but that is not known for this user (planted, or another user's) never becomes known,
 * and each browser keeps one row per user. On a computer shared by several users the latest one keeps it.
 */
export async function rememberDevice(context: ServerContext, request: FastifyRequest, reply: FastifyReply, userId: string): Promise<void> {
  const now = context.clock.nowSeconds();
  const current = deviceCookieDigest(context, request);
  const keep = current !== undefined && (await context.storage.knownDevices.isKnown(current, userId, now));
  const value = keep ? request.cookies[cookieName(context)]! : randomBytes(32).toString('base64url');
  await context.storage.knownDevices.remember(digest(value), userId, now, now + KNOWN_DEVICE_LIFETIME_SECONDS);
  reply.setCookie(cookieName(context), value, hostCookieOptions(context.options.environment, 'strict', KNOWN_DEVICE_LIFETIME_SECONDS));
}
