/**
 * Whether a stored token is usable now: RFC 7662 §2.2 `active`, and the precondition of a refresh.
 */
import type { TokenWithGrant } from '../storage/storage.ts';

export function isTokenActive({ token, grant, client }: TokenWithGrant, now: number): boolean {
  return (
    token.revokedAt === null &&
    token.rotatedAt === null &&
    now < token.expiresAt &&
    grant.revokedAt === null &&
    // SPEC decision 13: tokens of a pending, suspended or deleted client stop working.
    client.status === 'active'
  );
}
