/**
 * Random values on the token path — 256-bit opaque tokens and codes (SPEC decisions 6 and 8), the IV of a
 * sealed successor pair — drawn from a pool instead of one `randomBytes(n)` per value (issue 12: on Node
 * 24 each call costs ~10 µs, measured; a refresh needs three). The pool is 4 KiB from the operating system's CSPRNG (`randomFillSync`), refilled
 * when used up; every byte is handed out once and never again, as Node's own `randomUUID` cache does.
 */
import { randomFillSync } from 'node:crypto';

/** Bytes drawn from the CSPRNG at a time: 128 values of 32 bytes. */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafeSlow(POOL_BYTES);
let offset = POOL_BYTES; // empty: the first call fills it

/** The offset of `length` (≤ POOL_BYTES) fresh bytes in the pool, refilling it first when fewer are left. */
function take(length: number): number {
  if (offset + length > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const start = offset;
  offset += length;
  return start;
}

/** 32 fresh random bytes (256 bits) as base64url without padding: 43 characters. */
export function randomBase64url256(): string {
  const start = take(32);
  const value = pool.toString('base64url', start, start + 32);
  // Handed-out bytes do not stay readable in the heap until the next refill.
  pool.fill(0, start, start + 32);
  return value;
}

/** `length` fresh random bytes (at most 64), in a Buffer of their own (a copy: the pool is never exposed). */
export function randomPoolBytes(length: number): Buffer {
  if (!Number.isInteger(length) || length < 1 || length > 64) throw new RangeError('randomPoolBytes: length must be 1 to 64');
  const start = take(length);
  const value = Buffer.from(pool.subarray(start, start + length));
  pool.fill(0, start, start + length);
  return value;
}
