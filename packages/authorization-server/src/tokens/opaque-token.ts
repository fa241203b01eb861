/**
 * Opaque authorization codes, access tokens and refresh tokens.
 *
 * A value is `<prefix>_<kid>_<random>.<tag>` where `random` is 256 bits (SPEC decisions 6 and 8), `kid`
 * names the keyring key it was made with (tokens/token-keyring.ts: `k0`, `k1`, …) and
 * `tag = HMAC-SHA-256(key, <prefix>_<kid>_<random>)`, both base64url. Values minted before key ids existed,
 * `<prefix>_<random>.<tag>`, are verified with the original key `k0`. Only the tag is stored (SPEC
 * decision 9): it identifies the row, and a database leak yields no usable value because the HMAC cannot
 * be inverted. The key id and the tag are verified before any storage lookup, so forged values and values
 * of unknown or retired keys cost no I/O (the order fosite lacks).
 */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { systemClock, type Clock } from '../clock.ts';
import { randomBase64url256 } from './random-pool.ts';
import { createTokenKeyring, ORIGINAL_TOKEN_KEY_ID, type TokenKeyring } from './token-keyring.ts';

/** `gac` authorization code, `gat` access token, `grt` refresh token. */
export type OpaqueTokenKind = 'gac' | 'gat' | 'grt';

export interface OpaqueTokenCodec {
  /** A fresh value, made with the keyring's current key, and the digest to store. */
  mint(kind: OpaqueTokenKind): { value: string; digest: string };
  /**
   * The digest to look up, or `undefined` when the value is malformed, of another kind, names a key that is
   * unknown or retired, or is forged.
   */
  digestOf(value: string, kind: OpaqueTokenKind): string | undefined;
  /** The digest to store for a value whose integrity is checked elsewhere (a signed JWT access token); keyed by `k0`. */
  digestOfSignedValue(value: string): string;
}

// The random part is exactly 43 characters, so a legacy value whose random part starts with `k1_` is not
// mistaken for a keyed one (the optional group would leave too few characters).
const SHAPE = /^(gac|gat|grt)_(?:(k(?:0|[1-9][0-9]{0,5}))_)?([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})$/;

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
      const { kid, key } = keyring.mintingKey(clock.nowSeconds());
      const body = `${kind}_${kid}_${randomBase64url256()}`; // 256 bits from the token random pool (issue 12)
      const digest = tag(key, body).toString('base64url');
      return { value: `${body}.${digest}`, digest };
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
      if (!timingSafeEqual(Buffer.from(match[4]!), Buffer.from(expected))) return undefined;
      return expected;
    },
    digestOfSignedValue(value) {
      return tag(keyring.originalKey, value).toString('base64url');
    },
  };
}
