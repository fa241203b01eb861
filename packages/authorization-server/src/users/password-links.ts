/**
 * One-time set-password links (issue 10 §3): an administrator's invitation (valid 72 h) or a reset asked
 * for on the login page (valid 1 h). The link carries 256 random bits; only their SHA-256 is stored
 * (SPEC decision 9), so the database never holds a usable link. Single use; a newer link of the same
 * purpose voids the older one (storage.ts `createPasswordToken`).
 */
import { hash, randomBytes } from 'node:crypto';
import { findDirectoryUser, type DirectoryContext } from '../directory/directory.ts';
import type { PasswordTokenPurpose, Storage } from '../storage/storage.ts';

export const INVITATION_LIFETIME_SECONDS = 72 * 3600;
export const RESET_LIFETIME_SECONDS = 3600;
export const SET_PASSWORD_PATH = '/account/set-password';

/** A link token as it appears in the URL: 43 base64url characters. */
export const PASSWORD_TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/** SHA-256 (base64url) of a link token: what storage holds and is looked up by. */
export const passwordTokenDigest = (token: string) => hash('sha256', `gatehouse password link:${token}`, 'base64url');

export interface PasswordLink {
  url: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

/**
 * Issues a link for `userId` (the caller checked the user exists) and returns it; the URL is shown or
 * mailed once and never stored or logged.
 */
export async function issuePasswordLink(storage: Storage, issuer: string, userId: string, purpose: PasswordTokenPurpose, now: number): Promise<PasswordLink> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = now + (purpose === 'invitation' ? INVITATION_LIFETIME_SECONDS : RESET_LIFETIME_SECONDS);
  await storage.localAccounts.createPasswordToken({ tokenDigest: passwordTokenDigest(token), userId, purpose, createdAt: now, expiresAt });
  return { url: `${issuer}${SET_PASSWORD_PATH}?token=${token}`, expiresAt };
}

/**
 * An administrator's invitation (`gatehouse users invite`, `POST /admin/v1/users/{id}/invitation`): a
 * set-password link for a live directory user, valid 72 h, recorded as the audit event `user.invited`
 * (without the link).
 * @returns `{ url, expires_at }` as the API and `--json` print it (`expires_at` an RFC 3339 time).
 * @throws DirectoryError 404 when no live user has the id.
 */
export async function inviteUser(context: DirectoryContext, issuer: string, userId: string): Promise<{ url: string; expires_at: string }> {
  const { user } = await findDirectoryUser(context.storage, userId.toLowerCase());
  const link = await issuePasswordLink(context.storage, issuer, user.userId, 'invitation', context.now);
  await context.storage.audit.record({ type: 'user.invited', at: context.now, actor: context.actor, details: { user_id: user.userId, expires_at: link.expiresAt } });
  return { url: link.url, expires_at: new Date(link.expiresAt * 1000).toISOString() };
}
