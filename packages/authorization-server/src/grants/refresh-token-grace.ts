/**
 * The successor pair of a rotation, sealed for the reuse grace window (SPEC decision 8).
 *
 * A client whose refresh response was lost retries with the token it still holds. Within the window the
 * server answers with the SAME successor pair (never a second family branch), so it must be able to
 * produce those token values again, yet only their digests may be readable at rest (SPEC decision 9).
 * So the pair is encrypted with AES-256-GCM under a key derived (HKDF-SHA-256, RFC 5869) from the full
 * value of the refresh token the rotation replaced (HKDF-Expand alone, see `keyFor`). The server stores
 * only that token's HMAC digest, which cannot be inverted, so the database alone decrypts nothing; only a
 * request presenting the replaced token can. The additional authenticated data binds the ciphertext to the
 * replaced token's digest, so a row copied onto another token does not decrypt (and a token has one grant).
 *
 * v3 (issue 12) seals the successor's token values, type and ids, and its access scope only when narrower
 * than the replaced token's: the rest of the response (the scope, the subject URN) is the grant's and the
 * replaced token's, read again on a retry. So a rotation can seal before it has read the token's grant and
 * scope (`tokens.rotateReadyRefreshToken`: the read and the rotation in one round trip). v1 and v2 sealed
 * the whole response under a key and AAD that named the grant; they are still opened (a record lives one
 * grace window).
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { randomPoolBytes } from '../tokens/random-pool.ts';
import type { TokenResponse } from '../tokens/token-pair.ts';

/** What a retry needs (v3): the pair's values and type, when its access token expires, and the public ids for the audit trail. */
export interface SuccessorPair {
  accessToken: string;
  refreshToken: string;
  tokenType: TokenResponse['token_type'];
  /** The access token's scope (space-separated) when narrower than the replaced refresh token's; absent: the same. */
  scope?: string;
  /** Seconds since the epoch: `expires_in` of a retry is what remains of it. */
  accessExpiresAt: number;
  accessTokenId: string;
  refreshTokenId: string;
}

/** What v1 and v2 sealed: the response as first sent, with the same expiry and ids. */
export interface SealedResponse {
  response: TokenResponse;
  accessExpiresAt: number;
  accessTokenId: string;
  refreshTokenId: string;
}

const HKDF_INFO_V1 = 'gatehouse refresh-token reuse grace v1';
const HKDF_INFO_V2 = 'gatehouse refresh-token reuse grace v2\0';
const HKDF_INFO_V3 = 'gatehouse refresh-token reuse grace v3\0';
/** The prefixes of v2 and v3 sealed texts (base64url has no `.`, so a v1 text, `iv.ciphertext.tag`, never starts with one). */
const V2 = 'v2';
const V3 = 'v3';
const EXPAND_BLOCK_1 = Buffer.from([1]);

/**
 * HKDF-Expand (RFC 5869 §2.3) for one block of output, 32 bytes: T(1) = HMAC-SHA-256(PRK, info | 0x01).
 * @param pseudorandomKey PRK: a key that is already uniformly strong (RFC 5869 §3.3: then the extract step can go).
 * @param info the info parts, concatenated in order.
 */
export function hkdfExpandOneBlock(pseudorandomKey: string | Buffer, ...info: (string | Buffer)[]): Buffer {
  const hmac = createHmac('sha256', pseudorandomKey);
  for (const part of info) hmac.update(part);
  return hmac.update(EXPAND_BLOCK_1).digest();
}

/**
 * v2 (issue 12): HKDF-Expand alone, with the presented token as the pseudorandom key (it carries 256 random
 * bits) and the grant id in the info. One HMAC instead of hkdfSync's extract and expand: ~3 µs instead of
 * ~6–7 µs per rotation on Node 24, the same key strength.
 */
function keyForV2(presentedRefreshToken: string, grantId: string): KeyObject {
  // A KeyObject: on Node 24 createCipheriv with a raw Buffer key costs ~15 µs more than making one (measured, issue 12).
  return createSecretKey(hkdfExpandOneBlock(presentedRefreshToken, HKDF_INFO_V2, grantId));
}

/** v3: as v2, without the grant id (the AAD's replaced digest names the token, and the token its grant). */
function keyFor(presentedRefreshToken: string): KeyObject {
  return createSecretKey(hkdfExpandOneBlock(presentedRefreshToken, HKDF_INFO_V3));
}

/** v1, for a record sealed before v2 (it lives one grace window): HKDF-SHA-256 extract and expand, the grant id as salt. */
function keyForV1(presentedRefreshToken: string, grantId: string): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', presentedRefreshToken, grantId, HKDF_INFO_V1, 32)));
}

const associatedDataV2 = (grantId: string, previousDigest: string) => Buffer.from(`${grantId}.${previousDigest}`);

/**
 * @param presentedRefreshToken the full value of the refresh token being rotated (never stored).
 * @param previousDigest its digest, as stored.
 * @returns `v3.iv.ciphertext.tag`, base64url (12-byte random IV, 16-byte GCM tag).
 */
export function sealSuccessor(presentedRefreshToken: string, previousDigest: string, successor: SuccessorPair): string {
  const iv = randomPoolBytes(12); // a fresh random IV per seal (tokens/random-pool.ts)
  const cipher = createCipheriv('aes-256-gcm', keyFor(presentedRefreshToken), iv);
  cipher.setAAD(Buffer.from(previousDigest));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(successor), 'utf8'), cipher.final()]);
  return [V3, ...[iv, ciphertext, cipher.getAuthTag()].map((part) => part.toString('base64url'))].join('.');
}

/**
 * @param grantId the grant of the record (v1 and v2 texts are bound to it).
 * @returns the successor pair (v3) or the sealed response (v1, v2), or `undefined` when the sealed text does
 *   not open with this token (another token, another grant, a damaged or altered row).
 */
export function unsealSuccessor(presentedRefreshToken: string, previousDigest: string, grantId: string, sealed: string): SuccessorPair | SealedResponse | undefined {
  const parts = sealed.split('.');
  const version = parts.length === 4 && (parts[0] === V2 || parts[0] === V3) ? parts[0] : parts.length === 3 ? 'v1' : undefined;
  if (version === undefined) return undefined;
  const [iv, ciphertext, tag] = parts.slice(version === 'v1' ? 0 : 1).map((part) => Buffer.from(part, 'base64url')) as [Buffer, Buffer, Buffer];
  if (iv.length !== 12 || tag.length !== 16) return undefined;
  try {
    const key = version === V3 ? keyFor(presentedRefreshToken) : (version === V2 ? keyForV2 : keyForV1)(presentedRefreshToken, grantId);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(version === V3 ? Buffer.from(previousDigest) : associatedDataV2(grantId, previousDigest));
    decipher.setAuthTag(tag);
    const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    return JSON.parse(plaintext.toString('utf8')) as SuccessorPair | SealedResponse;
  } catch {
    return undefined;
  }
}
