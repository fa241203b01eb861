/**
 * The authorization server's signing key for JWT access tokens (RFC 9068): ES256, kept in storage so
 * every instance signs and publishes the same key (`settings`, name `access_token_signing_key`), and
 * identified by its RFC 7638 thumbprint as `kid`. Published at `/.well-known/jwks.json` (RFC 7517).
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Storage } from '../storage/storage.ts';

export const ACCESS_TOKEN_SIGNING_ALGORITHM = 'ES256';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public JWK with `kid`, `alg` and `use`, as published. */
  publicJwk: JWK;
}

/** The `settings` names of the server's two ES256 keys: one per token type, so each has its own `kid`. */
export const ACCESS_TOKEN_SIGNING_KEY_SETTING = 'access_token_signing_key';
/** The session handover token's key (tokens/session-handover.ts); never signs an access token. */
export const SESSION_HANDOVER_SIGNING_KEY_SETTING = 'session_handover_signing_key';

/**
 * Loads (or, the first time, generates and stores) the ES256 key kept in `settings` under `settingName`.
 * Every instance sharing the storage gets the same key.
 */
export async function loadSigningKey(storage: Storage, settingName: string = ACCESS_TOKEN_SIGNING_KEY_SETTING): Promise<SigningKey> {
  // Generating first is cheap (an EC key) and lets getOrCreate stay synchronous in every backend.
  const candidate = await generateKeyPair(ACCESS_TOKEN_SIGNING_ALGORITHM, { extractable: true });
  const candidateJwk = await exportJWK(candidate.privateKey);
  const stored = JSON.parse(await storage.settings.getOrCreate(settingName, () => JSON.stringify(candidateJwk))) as JWK;
  const { d: _private, ...publicPart } = stored;
  const kid = await calculateJwkThumbprint(publicPart);
  const privateKey = (await importJWK(stored, ACCESS_TOKEN_SIGNING_ALGORITHM)) as CryptoKey;
  const publicKey = (await importJWK(publicPart, ACCESS_TOKEN_SIGNING_ALGORITHM)) as CryptoKey;
  return { kid, privateKey, publicKey, publicJwk: { ...publicPart, kid, alg: ACCESS_TOKEN_SIGNING_ALGORITHM, use: 'sig' } };
}
