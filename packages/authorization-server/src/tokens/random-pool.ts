/**
 * 256-bit random values for opaque tokens and codes (SPEC decisions 6 and 8), drawn from a pool instead of
 * one `randomBytes(32)` per value (issue 12: each call allocates a Buffer and enters OpenSSL; a token
 * response needs two). The pool is 4 KiB from the operating system's CSPRNG (`randomFillSync`), refilled
 * when used up; every byte is handed out once and never again, as Node's own `randomUUID` cache does.
 */
import { randomFillSync } from 'node:crypto';

/** Bytes drawn from the CSPRNG at a time: 128 values of 32 bytes. */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafeSlow(POOL_BYTES);
let offset = POOL_BYTES; // empty: the first call fills it

/** 32 fresh random bytes (256 bits) as base64url without padding: 43 characters. */
export function randomBase64url256(): string {
  if (offset + 32 > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const value = pool.toString('base64url', offset, offset + 32);
  offset += 32;
  return value;
}
