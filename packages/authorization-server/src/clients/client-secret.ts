/**
 * Client secrets (SPEC decision 9): server-generated, 256 bits, base64url (SPEC decision 1), shown once,
 * stored as SHA-256 only — high entropy makes slow hashing pointless — and compared in constant time.
 */
import { hash, randomBytes } from 'node:crypto';
import { constantTimeEqual } from '@gatehouse/protocol';

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function digestClientSecret(secret: string): string {
  return hash('sha256', secret, 'base64url');
}

export function clientSecretMatches(presented: string, storedDigest: string): boolean {
  return secretDigestMatches(presentedSecretDigest(presented), storedDigest);
}

/**
 * The SHA-256 of a presented secret, raw: digest it once per request, then compare it with each stored digest.
 * `crypto.hash`, one call: ~0.5 µs less per client-authenticated request than a `Hash` object (issue 12).
 */
export function presentedSecretDigest(presented: string): Buffer {
  return hash('sha256', presented, 'buffer');
}

/** Whether `presentedDigest` (presentedSecretDigest) equals `storedDigest` (base64url), in constant time (SPEC decision 9). */
export function secretDigestMatches(presentedDigest: Buffer, storedDigest: string): boolean {
  return constantTimeEqual(presentedDigest, Buffer.from(storedDigest, 'base64url'));
}

/**
 * Compared against when a client has no digest to compare with (unknown or public client, no previous
 * secret), so that every path does the same work: a random digest of this process, which no presented
 * secret matches short of a SHA-256 preimage.
 */
export const UNMATCHABLE_SECRET_DIGEST: string = randomBytes(32).toString('base64url');
