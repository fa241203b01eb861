/**
 * Comparing what a party was sent with what it expects, in time that does not depend on where they differ
 * (SPEC decision 9: "all comparisons constant-time"). Every party compares secrets, MACs and digests through
 * these two functions, so the rule is written once (`vocabulary-once.test.ts` finds `timingSafeEqual` elsewhere).
 */
import { hash, timingSafeEqual } from 'node:crypto';

const bytesOf = (value: string | Uint8Array): Uint8Array => (typeof value === 'string' ? Buffer.from(value, 'utf8') : value);

/**
 * Whether `presented` equals `expected` (strings as their UTF-8 bytes). Only the lengths are compared in
 * variable time, so use it where the length is public: digests, MACs, tags and codes of a fixed format. For
 * a secret whose length is itself secret, use {@link secretsEqual}.
 */
export function constantTimeEqual(presented: string | Uint8Array, expected: string | Uint8Array): boolean {
  const a = bytesOf(presented);
  const b = bytesOf(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Whether `presented` equals `expected`, comparing their SHA-256 digests so that neither the position of the
 * first difference nor the length of `expected` shows in the time taken (~0.5 µs per value more than
 * {@link constantTimeEqual}; for values off the hot paths: a client secret in a test double, a `state`).
 */
export function secretsEqual(presented: string | Uint8Array, expected: string | Uint8Array): boolean {
  return timingSafeEqual(hash('sha256', bytesOf(presented), 'buffer'), hash('sha256', bytesOf(expected), 'buffer'));
}
