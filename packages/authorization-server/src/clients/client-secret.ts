/**
 * Client secrets (SPEC decision 9): server-generated, 256 bits, base64url (SPEC decision 1), shown once,
 * stored as SHA-256 only — high entropy makes slow hashing pointless — and compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function digestClientSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

export function clientSecretMatches(presented: string, storedDigest: string): boolean {
  const actual = Buffer.from(digestClientSecret(presented), 'base64url');
  const expected = Buffer.from(storedDigest, 'base64url');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
