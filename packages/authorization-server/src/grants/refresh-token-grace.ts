/**
 * The successor pair of a rotation, sealed for the reuse grace window (SPEC decision 8).
 *
 * A client whose refresh response was lost retries with the token it still holds. Within the window the
 * server answers with the SAME successor pair (never a second family branch), so it must be able to
 * produce those token values again, yet only their digests may be readable at rest (SPEC decision 9).
 * So the pair is encrypted with AES-256-GCM under a key derived (HKDF-SHA-256, RFC 5869) from the full
 * value of the refresh token the rotation replaced. The server stores only that token's HMAC digest, which
 * cannot be inverted, so the database alone decrypts nothing; only a request presenting the replaced
 * token can. The additional authenticated data binds the ciphertext to its grant and replaced token, so a
 * row copied onto another grant does not decrypt.
 */
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
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

const HKDF_INFO = 'gatehouse refresh-token reuse grace v1';

function keyFor(presentedRefreshToken: string, grantId: string): KeyObject {
  // RFC 5869: the token carries 256 random bits, so it is the input keying material; the grant id salts it.
  // A KeyObject: on Node 24 createCipheriv with a raw Buffer key costs ~15 µs more than making one (measured, issue 12).
  return createSecretKey(Buffer.from(hkdfSync('sha256', presentedRefreshToken, grantId, HKDF_INFO, 32)));
}

const associatedData = (grantId: string, previousDigest: string) => Buffer.from(`${grantId}.${previousDigest}`);

/**
 * @param presentedRefreshToken the full value of the refresh token being rotated (never stored).
 * @param previousDigest its digest, as stored.
 * @returns `iv.ciphertext.tag`, base64url (12-byte random IV, 16-byte GCM tag).
 */
export function sealSuccessor(presentedRefreshToken: string, previousDigest: string, grantId: string, successor: SuccessorPair): string {
  const iv = randomPoolBytes(12); // a fresh random IV per seal (tokens/random-pool.ts)
  const cipher = createCipheriv('aes-256-gcm', keyFor(presentedRefreshToken, grantId), iv);
  cipher.setAAD(associatedData(grantId, previousDigest));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(successor), 'utf8'), cipher.final()]);
  return [iv, ciphertext, cipher.getAuthTag()].map((part) => part.toString('base64url')).join('.');
}

/**
 * @returns the successor pair, or `undefined` when the sealed text does not open with this token (another
 *   token, another grant, a damaged or altered row).
 */
export function unsealSuccessor(presentedRefreshToken: string, previousDigest: string, grantId: string, sealed: string): SuccessorPair | undefined {
  const parts = sealed.split('.');
  if (parts.length !== 3) return undefined;
  const [iv, ciphertext, tag] = parts.map((part) => Buffer.from(part, 'base64url')) as [Buffer, Buffer, Buffer];
  if (iv.length !== 12 || tag.length !== 16) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyFor(presentedRefreshToken, grantId), iv);
    decipher.setAAD(associatedData(grantId, previousDigest));
    decipher.setAuthTag(tag);
    const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    return JSON.parse(plaintext.toString('utf8')) as SuccessorPair;
  } catch {
    return undefined;
  }
}
