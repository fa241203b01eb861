/**
 * The successor pair of a rotation, sealed for the reuse grace window (SPEC decision 8).
 *
 * A client whose refresh response was lost retries with the token it still holds. Within the window the
 * server answers with the SAME successor pair (never a second family branch), so it must be able to
 * produce those token values again, yet only their digests may be readable at rest (SPEC decision 9).
 * So the pair is encrypted with AES-256-GCM under a key derived (HKDF-SHA-256, RFC 5869) from the full
 * value of the refresh token the rotation replaced (v2: HKDF-Expand alone, see `keyFor`). The server stores only that token's HMAC digest, which
 * cannot be inverted, so the database alone decrypts nothing; only a request presenting the replaced
 * token can. The additional authenticated data binds the ciphertext to its grant and replaced token, so a
 * row copied onto another grant does not decrypt.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { randomPoolBytes } from '../tokens/random-pool.ts';
import type { TokenResponse } from '../tokens/token-pair.ts';

/** What the retry needs: the response as first sent, when its access token expires, and the public ids for the audit trail. */
export interface SuccessorPair {
  response: TokenResponse;
  /** Seconds since the epoch: `expires_in` of a retry is what remains of it. */
  accessExpiresAt: number;
  accessTokenId: string;
  refreshTokenId: string;
}

const HKDF_INFO_V1 = 'gatehouse refresh-token reuse grace v1';
const HKDF_INFO_V2 = 'gatehouse refresh-token reuse grace v2\0';
/** The prefix of a v2 sealed text (base64url has no `.`, so a v1 text, `iv.ciphertext.tag`, never starts with it). */
const V2 = 'v2';
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
function keyFor(presentedRefreshToken: string, grantId: string): KeyObject {
  // A KeyObject: on Node 24 createCipheriv with a raw Buffer key costs ~15 µs more than making one (measured, issue 12).
  return createSecretKey(hkdfExpandOneBlock(presentedRefreshToken, HKDF_INFO_V2, grantId));
}

/** v1, for a record sealed before v2 (it lives one grace window): HKDF-SHA-256 extract and expand, the grant id as salt. */
function keyForV1(presentedRefreshToken: string, grantId: string): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', presentedRefreshToken, grantId, HKDF_INFO_V1, 32)));
}

const associatedData = (grantId: string, previousDigest: string) => Buffer.from(`${grantId}.${previousDigest}`);

/**
 * @param presentedRefreshToken the full value of the refresh token being rotated (never stored).
 * @param previousDigest its digest, as stored.
 * @returns `v2.iv.ciphertext.tag`, base64url (12-byte random IV, 16-byte GCM tag).
 */
export function sealSuccessor(presentedRefreshToken: string, previousDigest: string, grantId: string, successor: SuccessorPair): string {
  const iv = randomPoolBytes(12); // a fresh random IV per seal (tokens/random-pool.ts)
  const cipher = createCipheriv('aes-256-gcm', keyFor(presentedRefreshToken, grantId), iv);
  cipher.setAAD(associatedData(grantId, previousDigest));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(successor), 'utf8'), cipher.final()]);
  return [V2, ...[iv, ciphertext, cipher.getAuthTag()].map((part) => part.toString('base64url'))].join('.');
}

/**
 * @returns the successor pair, or `undefined` when the sealed text does not open with this token (another
 *   token, another grant, a damaged or altered row).
 */
export function unsealSuccessor(presentedRefreshToken: string, previousDigest: string, grantId: string, sealed: string): SuccessorPair | undefined {
  const parts = sealed.split('.');
  const v2 = parts.length === 4 && parts[0] === V2;
  if (!v2 && parts.length !== 3) return undefined;
  const [iv, ciphertext, tag] = parts.slice(v2 ? 1 : 0).map((part) => Buffer.from(part, 'base64url')) as [Buffer, Buffer, Buffer];
  if (iv.length !== 12 || tag.length !== 16) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', (v2 ? keyFor : keyForV1)(presentedRefreshToken, grantId), iv);
    decipher.setAAD(associatedData(grantId, previousDigest));
    decipher.setAuthTag(tag);
    const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    return JSON.parse(plaintext.toString('utf8')) as SuccessorPair;
  } catch {
    return undefined;
  }
}
