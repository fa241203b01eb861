import { hkdfSync } from 'node:crypto';

/**
 * A 32-byte key for one purpose, derived from the token HMAC key with HKDF-SHA-256 (RFC 5869: empty salt,
 * `purpose` as info), so that no other use ever holds the token HMAC key itself. Each purpose names its
 * key ('gatehouse totp secret', 'gatehouse webhook secret', …): changing one changes every value made with it.
 */
export function derivedKey(tokenHmacKey: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', tokenHmacKey, Buffer.alloc(0), purpose, 32));
}
