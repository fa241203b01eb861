/**
 * Opaque authorization codes, access tokens and refresh tokens.
 *
 * A value is `<prefix>_<kid>_<time>_<random>.<tag>` where `random` is 256 bits (SPEC decisions 6 and 8), `kid`
 * names the keyring key it was made with (tokens/token-keyring.ts: `k0`, `k1`, …), `time` is the minting
 * time in base 32 (`0-9a-v`, so it sorts as it counts): the second in 7 characters, then its fraction in
 * 1/1024ths in 2 (9 in all) and `tag = HMAC-SHA-256(key, <prefix>_<kid>_<time>_<random>)`, base64url. The
 * digest stored and looked up is `<time><tag>` (SPEC decision 9: a digest; the time is public, in the value,
 * and covered by the tag): new rows land at the end of the digest index instead of on a random page, so a
 * rotation writes a few hot pages instead of one cold page per token, and the index's size stops mattering
 * (issue 12, "flat with size"). The fraction keeps that true within a second: by the second alone, the
 * thousands of tokens of one second landed at random places of that second's part of the index, a page
 * of the WAL per token pair at the commit (bench/README.md, "eleventh session"). Older values are still
 * accepted until they expire, and their digest is as it was stored: `<prefix>_<kid>_<second>_<random>.<tag>`
 * (a 7-character time: `<second><tag>`), `<prefix>_<kid>_<random>.<tag>` (before the time, issue 12: the tag
 * alone) and `<prefix>_<random>.<tag>` (before key ids, verified with the original key `k0`). A database leak
 * yields no usable value because the HMAC cannot be inverted. The key id and the tag are verified before any
 * storage lookup, so forged values and values of unknown or retired keys cost no I/O (the order fosite lacks).
 */
import { createHmac, type KeyObject } from 'node:crypto';
import { constantTimeEqual } from '@gatehouse/protocol';
import { systemClock, type Clock } from '../clock.ts';
import { randomBase64url256 } from './random-pool.ts';
import { createTokenKeyring, ORIGINAL_TOKEN_KEY_ID, type TokenKeyring } from './token-keyring.ts';

/** `gac` authorization code, `gat` access token, `grt` refresh token. */
export type OpaqueTokenKind = 'gac' | 'gat' | 'grt';

export interface OpaqueTokenCodec {
  /** A fresh value, made with the keyring's current key, and the digest to store (`<time><tag>`, 52 characters). */
  mint(kind: OpaqueTokenKind): { value: string; digest: string };
  /**
   * The digest to look up, or `undefined` when the value is malformed, of another kind, names a key that is
   * unknown or retired, or is forged.
   */
  digestOf(value: string, kind: OpaqueTokenKind): string | undefined;
  /** The digest to store for a value whose integrity is checked elsewhere (a signed JWT access token); keyed by `k0`. */
  digestOfSignedValue(value: string): string;
}

// The random part is exactly 43 characters and the time exactly 7 or 9, so after the key id the rest's
// length says which shape a value has and no value parses two ways (a legacy random part starting with
// `k1_` or with base-32 characters and `_` leaves too few characters for the optional groups; a 7-character
// time is followed by `_`, never by two more base-32 characters). The time comes only after a key id.
const SHAPE = /^(gac|gat|grt)_(?:(k(?:0|[1-9][0-9]{0,5}))_(?:([0-9a-v]{7}(?:[0-9a-v]{2})?)_)?)?([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})$/;

/**
 * The minting time, base 32, 9 characters: the second (7, sorts as it counts until the year 3058), then the
 * fraction of that second in 1/1024ths (2). The stored digest starts with it.
 * @param milliseconds since the Unix epoch.
 */
export const timeSegment = (milliseconds: number): string => {
  const seconds = Math.floor(milliseconds / 1000);
  const fraction = Math.floor(((milliseconds - seconds * 1000) * 1024) / 1000);
  return `${seconds.toString(32).padStart(7, '0')}${fraction.toString(32).padStart(2, '0')}`;
};

/**
 * @param keys the keyring (tokens/token-keyring.ts), or one key used as `k0` alone (tests, tools).
 * @param clock decides which key mints and whether a key has retired.
 */
export function createOpaqueTokenCodec(keys: Buffer | TokenKeyring, clock: Clock = systemClock): OpaqueTokenCodec {
  const keyring = Buffer.isBuffer(keys) ? createTokenKeyring(keys, [], 0) : keys;
  // BENCH-NOTES: a KeyObject made once is ~5x cheaper per HMAC on Node 24 than a raw Buffer key (the ring keeps KeyObjects).
  const tag = (key: KeyObject, body: string): Buffer => createHmac('sha256', key).update(body).digest();
  return {
    mint(kind) {
      // One reading: the second that picks the key is the one the value carries.
      const milliseconds = clock.nowMilliseconds?.() ?? clock.nowSeconds() * 1000;
      const { kid, key } = keyring.mintingKey(Math.floor(milliseconds / 1000));
      const time = timeSegment(milliseconds);
      const body = `${kind}_${kid}_${time}_${randomBase64url256()}`; // 256 bits from the token random pool (issue 12)
      const mac = tag(key, body).toString('base64url');
      return { value: `${body}.${mac}`, digest: `${time}${mac}` };
    },
    digestOf(value, kind) {
      const match = SHAPE.exec(value);
      if (!match || match[1] !== kind) return undefined;
      // Issue 14: a value names its key (none: minted before key ids, by k0); an unknown or retired key is
      // refused here, before any lookup.
      const key = keyring.verificationKey(match[2] ?? ORIGINAL_TOKEN_KEY_ID, clock.nowSeconds())?.key;
      if (!key) return undefined;
      // Compare the base64url strings, not decoded bytes: decoding ignores the last character's unused
      // bits, which would let three altered spellings of every tag pass.
      const expected = tag(key, value.slice(0, value.length - 44)).toString('base64url');
      if (!constantTimeEqual(match[5]!, expected)) return undefined;
      // A value with a time is stored under `<time><tag>`, one without under its tag (see the file comment).
      return match[3] === undefined ? expected : `${match[3]}${expected}`;
    },
    digestOfSignedValue(value) {
      return tag(keyring.originalKey, value).toString('base64url');
    },
  };
}
