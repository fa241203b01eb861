/**
 * Tokens encrypted at rest (SPEC §3 integrator rules: "tokens only server-side and encrypted at rest").
 *
 * AES-256-GCM with a 96-bit random IV per encryption (NIST SP 800-38D §8.2.2) and a 128-bit tag. A
 * keyring of named keys: the first key encrypts, every key decrypts, so rotating means putting a new
 * key first; old ciphertexts stay readable and are re-encrypted with the new key the next time their
 * row is written (every refresh writes both tokens).
 *
 * Ciphertext format (one ASCII string): `v1.<keyId>.<iv>.<ciphertext>.<tag>`, base64url parts.
 * The additional authenticated data binds a ciphertext to its key id, connection and field, so a
 * ciphertext copied to another row or column fails to decrypt instead of yielding someone else's token.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { ConfigurationError, DecryptionError } from './errors.ts';

/** A named 256-bit key. `keyId`: 1–32 characters of `A-Z a-z 0-9 _ -`. */
export interface EncryptionKey {
  keyId: string;
  /** Exactly 32 bytes. */
  key: Uint8Array;
}

/** What a ciphertext is bound to. */
export interface CiphertextContext {
  connectionId: string;
  field: 'access_token' | 'refresh_token' | 'dpop_private_key';
}

export interface TokenCipher {
  /** The key id new ciphertexts use (the first key). */
  readonly currentKeyId: string;
  /** @returns `v1.<keyId>.<iv>.<ciphertext>.<tag>`. */
  seal(plaintext: string, context: CiphertextContext): string;
  /** @throws DecryptionError when the key is unknown, the format is wrong, or authentication fails. */
  open(ciphertext: string, context: CiphertextContext): string;
  /** The key id a ciphertext was made with, or undefined when it is not in this format. */
  keyIdOf(ciphertext: string): string | undefined;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * @param keys the keyring, current key first; ids unique.
 * @throws ConfigurationError on an empty keyring, a key that is not 32 bytes, or a bad or repeated id. Messages
 *   name a key by its position (#1 is the first) and never echo its id: a keyring written the wrong way round
 *   (`base64url:keyId`) has the key where the id belongs.
 */
export function createTokenCipher(keys: readonly EncryptionKey[]): TokenCipher {
  if (keys.length === 0) throw new ConfigurationError('at least one encryption key is required');
  const keyObjects = new Map<string, KeyObject>();
  const positions = new Map<string, number>();
  for (const [index, { keyId, key }] of keys.entries()) {
    const which = `encryption key #${index + 1} (of ${keys.length})`;
    if (!KEY_ID.test(keyId)) {
      throw new ConfigurationError(`${which}: its id must be 1-32 characters of A-Z a-z 0-9 _ - (got ${keyId.length} characters; is the entry written keyId:base64url, id first?)`);
    }
    if (key.byteLength !== 32) throw new ConfigurationError(`${which} must be 32 bytes (AES-256), got ${key.byteLength}`);
    if (keyObjects.has(keyId)) throw new ConfigurationError(`${which} repeats the id of encryption key #${positions.get(keyId)! + 1}`);
    positions.set(keyId, index);
    // One KeyObject per key, made once: cheaper than passing raw bytes on every call.
    keyObjects.set(keyId, createSecretKey(key));
  }
  const currentKeyId = keys[0]!.keyId;
  const aad = (keyId: string, context: CiphertextContext) =>
    Buffer.from(`gatehouse-client/${VERSION}|${keyId}|${context.connectionId}|${context.field}`, 'utf8');

  return {
    currentKeyId,
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', keyObjects.get(currentKeyId)!, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(currentKeyId, context));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [VERSION, currentKeyId, iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
    },
    open(ciphertext, context) {
      const parts = ciphertext.split('.');
      if (parts.length !== 5 || parts[0] !== VERSION) throw new DecryptionError('stored token is not in the v1 ciphertext format');
      const [, keyId, iv, body, tag] = parts as [string, string, string, string, string];
      const key = keyObjects.get(keyId);
      if (!key) throw new DecryptionError(`stored token was encrypted with key "${keyId}", which is not configured (keep old keys after the current one while rotating)`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
        decipher.setAAD(aad(keyId, context));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        throw new DecryptionError(`stored ${context.field} of connection "${context.connectionId}" failed authentication (tampered, or moved from another row)`);
      }
    },
    keyIdOf(ciphertext) {
      const parts = ciphertext.split('.');
      return parts.length === 5 && parts[0] === VERSION ? parts[1] : undefined;
    },
  };
}

/**
 * Parses a keyring from configuration text: `keyId:base64url,keyId:base64url`, current key first
 * (e.g. the `GATEHOUSE_CLIENT_ENCRYPTION_KEYS` variable).
 * @throws ConfigurationError on malformed text (the message names the entry by position and never echoes
 *   any part of it: neither key material nor an id, which may be key material written in the wrong place).
 */
export function parseEncryptionKeys(text: string): EncryptionKey[] {
  const entries = text.split(',').map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 0) throw new ConfigurationError('encryption keys are empty: expected keyId:base64url[,keyId:base64url…]');
  return entries.map((entry, index) => {
    const separator = entry.indexOf(':');
    if (separator <= 0) throw new ConfigurationError(`encryption key #${index + 1} must be keyId:base64url`);
    const keyId = entry.slice(0, separator);
    const encoded = entry.slice(separator + 1);
    if (!/^[A-Za-z0-9_-]+$/.test(encoded)) throw new ConfigurationError(`encryption key #${index + 1}: the part after its id is not base64url`);
    return { keyId, key: new Uint8Array(Buffer.from(encoded, 'base64url')) };
  });
}

/** Formats a keyring as `parseEncryptionKeys` reads it. */
export function formatEncryptionKeys(keys: readonly EncryptionKey[]): string {
  return keys.map(({ keyId, key }) => `${keyId}:${Buffer.from(key).toString('base64url')}`).join(',');
}

/** A new random 256-bit key. */
export function generateEncryptionKey(keyId: string): EncryptionKey {
  return { keyId, key: new Uint8Array(randomBytes(32)) };
}
