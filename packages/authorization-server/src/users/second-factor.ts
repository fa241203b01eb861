/**
 * The TOTP second factor of local accounts (issue 10 §3; RFC 6238 with otplib's `authenticator`:
 * SHA-1, 6 digits, 30 s steps, as every authenticator app expects).
 *
 * - The secret (160 bits, base32) is stored only encrypted: AES-256-GCM under a key derived with HKDF
 *   from the server's token HMAC key (info `gatehouse totp secret`), a fresh 96-bit nonce each time,
 *   the user id as additional data (a ciphertext moved to another user does not decrypt). Stored as
 *   `v1.<nonce>.<ciphertext>.<tag>` (base64url).
 * - A code is accepted in its own step or one step either side (RFC 6238 §5.2: "at most one time step"
 *   of network delay), and only if its step is later than the last accepted one (storage `useTimeStep`),
 *   so a code, once used, is refused for the rest of its window.
 * - Recovery codes: 10 codes of 10 base32 characters (50 bits each), shown once, stored as HMAC-SHA-256
 *   digests under a key derived from the token HMAC key (SHA-256 alone before 2026-12-06), each single use.
 */
import { createCipheriv, createDecipheriv, createHmac, hash, randomBytes } from 'node:crypto';
import { constantTimeEqual } from '@gatehouse/protocol';
import { authenticator } from 'otplib';
import { derivedKey } from '../tokens/derived-key.ts';

export const TOTP_STEP_SECONDS = 30;
export const RECOVERY_CODE_COUNT = 10;

/** The AES-256-GCM key for TOTP secrets, derived from the token HMAC key (never the key itself). */
export function secondFactorKey(tokenHmacKey: Buffer): Buffer {
  return derivedKey(tokenHmacKey, 'gatehouse totp secret');
}

export function newTotpSecret(): string {
  return authenticator.generateSecret(20);
}

export function encryptTotpSecret(key: Buffer, userId: string, secret: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(userId));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return ['v1', nonce, ciphertext, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
}

/** @throws when the ciphertext was altered, belongs to another user, or the key changed. */
export function decryptTotpSecret(key: Buffer, userId: string, stored: string): string {
  const [version, nonce, ciphertext, tag] = stored.split('.');
  if (version !== 'v1' || !nonce || ciphertext === undefined || !tag) throw new Error('unknown TOTP secret format');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
  decipher.setAAD(Buffer.from(userId));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}

/** The otpauth:// URI an authenticator app reads (Key Uri Format), labelled with the brand and e-mail. */
export function totpUri(brandName: string, email: string, secret: string): string {
  return authenticator.keyuri(email, brandName, secret);
}

/** The secret in groups of four characters, easier to type by hand. */
export const groupedSecret = (secret: string) => secret.match(/.{1,4}/g)!.join(' ');

/** RFC 6238 §5.2: the steps a code may belong to, the current one first, as otplib's `checkDelta` tried them. */
const STEP_DELTAS = [0, -1, 1] as const;

/**
 * The time step a six-digit code belongs to at `nowSeconds`, or undefined when it matches none of the
 * current step and one either side (RFC 6238 §5.2).
 *
 * The three expected codes are all computed and each compared in constant time (SPEC decision 9: all
 * comparisons constant-time); otplib's own check compares with `===` and stops at the first match.
 */
export function totpTimeStep(secret: string, code: string, nowSeconds: number): number | undefined {
  const normalised = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(normalised)) return undefined;
  const currentStep = Math.floor(nowSeconds / TOTP_STEP_SECONDS);
  let matchedStep: number | undefined;
  for (const delta of STEP_DELTAS) {
    const step = currentStep + delta;
    const expected = authenticator.clone({ epoch: step * TOTP_STEP_SECONDS * 1000 }).generate(secret);
    const matches = constantTimeEqual(normalised, expected);
    if (matches && matchedStep === undefined) matchedStep = step;
  }
  return matchedStep;
}

/** Ten fresh recovery codes as shown to the user (`xxxxx-xxxxx`, lowercase base32). */
export function newRecoveryCodes(): string[] {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const chars = [...randomBytes(10)].map((byte) => alphabet[byte & 31]).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
}

/** A recovery code as typed in any case, with or without its dash and spaces, in its one stored form. */
const normalisedRecoveryCode = (code: string) => code.toLowerCase().replace(/[\s-]+/g, '');

/** The HMAC key of recovery-code digests, derived with HKDF from the token HMAC key (never the key itself). */
export function recoveryCodeKey(tokenHmacKey: Buffer): Buffer {
  return derivedKey(tokenHmacKey, 'gatehouse recovery code');
}

/**
 * The stored digest of a recovery code: HMAC-SHA-256 under {@link recoveryCodeKey}, bound to its user.
 * A code carries 50 bits, too few for a plain hash (SPEC decision 9's "high entropy" does not hold): the
 * unkeyed SHA-256 of {@link legacyRecoveryCodeDigest} could be searched offline, for every user at once,
 * by whoever read the table; this one also needs the server's key.
 */
export function recoveryCodeDigest(key: Buffer, userId: string, code: string): string {
  return createHmac('sha256', key).update(userId).update('\0').update(normalisedRecoveryCode(code)).digest('base64url');
}

/** The digest of codes issued before 2026-12-06 (unkeyed SHA-256): still accepted, each once, until replaced. */
export function legacyRecoveryCodeDigest(code: string): string {
  return hash('sha256', `gatehouse recovery code:${normalisedRecoveryCode(code)}`, 'base64url');
}
