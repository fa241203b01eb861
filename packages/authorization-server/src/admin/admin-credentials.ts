/**
 * Administrator credentials for the admin API: 256-bit random bearer tokens (base64url), printed once by
 * `gatehouse admins create-token` and stored only as SHA-256 digests (SPEC decision 9: high entropy makes
 * slow hashing pointless). A presented token is looked up by its digest, so no comparison of secret
 * values happens in application code; the digest itself is not secret.
 */
import { hash, randomBytes } from 'node:crypto';
import type { AdminCredentialRecord, Storage } from '../storage/storage.ts';

/** Names appear in audit events as `admin:<name>`: letters, digits, `.`, `_`, `@`, `-`; 1–64 characters. */
export const ADMIN_NAME = /^[A-Za-z0-9._@-]{1,64}$/;

export const digestAdminToken = (token: string) => hash('sha256', token, 'base64url');

/**
 * @returns the token (show it once) and the stored record.
 * @throws RangeError for a malformed name; the storage's error when the name is taken.
 */
export async function createAdminToken(storage: Storage, name: string, now: number): Promise<{ token: string; credential: AdminCredentialRecord }> {
  if (!ADMIN_NAME.test(name)) throw new RangeError('the administrator name must be 1-64 letters, digits, ".", "_", "@" or "-"');
  const token = randomBytes(32).toString('base64url');
  const credential = { name, tokenDigest: digestAdminToken(token), createdAt: now };
  await storage.adminCredentials.create(credential);
  await storage.audit.record({ type: 'admin.token_created', at: now, actor: 'admin:cli', details: { name } });
  return { token, credential };
}

/**
 * Revokes the administrator token named `name`: the admin API refuses it from the next request (it is looked
 * up on every request) and the name may be given to a new token. An audit event records it.
 * @returns false when no token has that name (nothing changes).
 */
export async function revokeAdminToken(storage: Storage, name: string, now: number): Promise<boolean> {
  if (!(await storage.adminCredentials.delete(name))) return false;
  await storage.audit.record({ type: 'admin.token_revoked', at: now, actor: 'admin:cli', details: { name } });
  return true;
}

/** The digest of the admin token in `Authorization: Bearer <token>` (RFC 6750 §2.1), or undefined when there is none. */
export function presentedAdminTokenDigest(authorizationHeader: string | undefined): string | undefined {
  // RFC 7235 §2.1: the scheme is case-insensitive and followed by one or more spaces.
  const match = /^Bearer +([A-Za-z0-9_-]{43})$/i.exec(authorizationHeader?.trim() ?? '');
  return match ? digestAdminToken(match[1]!) : undefined;
}

/** The administrator holding `Authorization: Bearer <token>` (RFC 6750 §2.1), or undefined. */
export async function authenticateAdministrator(storage: Storage, authorizationHeader: string | undefined): Promise<AdminCredentialRecord | undefined> {
  const digest = presentedAdminTokenDigest(authorizationHeader);
  return digest === undefined ? undefined : storage.adminCredentials.findByDigest(digest);
}
