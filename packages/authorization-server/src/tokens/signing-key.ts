/**
 * The authorization server's ES256 signing keys (RFC 9068 access tokens, session handover tokens), kept in
 * storage so every instance signs and publishes the same keys, each identified by its RFC 7638 thumbprint
 * as `kid` and published at `/.well-known/jwks.json` (RFC 7517).
 *
 * Rotation (issue 14, `gatehouse keys rotate`): the first key of each kind is the setting
 * `access_token_signing_key` (or `session_handover_signing_key`); a rotation appends
 * `<setting>.<n>` = `{"jwk": private JWK, "published_at": s, "activates_at": s}`. A new key is published in
 * the JWKS from `published_at` but signs only from `activates_at` (the pre-publication period: resource
 * servers that cache the JWKS learn it before any token needs it). The previous key stays published, and
 * verifies, until its successor has been active for the retention (the longest lifetime of what it
 * signed, plus the JWKS cache time); then it leaves the JWKS. Instances re-read the keys every
 * SIGNING_KEYRING_REFRESH_SECONDS, so a rotation's pre-publication is at least twice that.
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

/**
 * The keys of one kind as a ring. Its `kid`, `privateKey`, `publicKey` and `publicJwk` are the key that
 * signs now (chosen when the ring was last refreshed, so one request never mixes two keys).
 */
export interface SigningKeyRing extends SigningKey {
  /** The JWKS entries: the signing key, announced keys (pre-publication) and keys not yet retired. */
  publishedJwks(): JWK[];
  /** The public key of a published key, by `kid`; `undefined` when unknown or retired. */
  publicKeyFor(kid: string): CryptoKey | undefined;
  /**
   * Picks the signing key for `nowSeconds`, and re-reads storage if SIGNING_KEYRING_REFRESH_SECONDS passed
   * (a failed read keeps the keys): returns the read to wait for, or `undefined` (no cost) when fresh.
   */
  refreshIfStale(nowSeconds: number): Promise<void> | undefined;
}

/** The `settings` names of the server's two ES256 keys: one per token type, so each has its own `kid`. */
export const ACCESS_TOKEN_SIGNING_KEY_SETTING = 'access_token_signing_key';
/** The session handover token's key (tokens/session-handover.ts); never signs an access token. */
export const SESSION_HANDOVER_SIGNING_KEY_SETTING = 'session_handover_signing_key';
/** How often each instance re-reads its signing keys, in seconds. */
export const SIGNING_KEYRING_REFRESH_SECONDS = 60;
/** The least pre-publication: every instance has re-read the keys twice before the new one signs. */
export const MIN_SIGNING_KEY_PREPUBLICATION_SECONDS = 2 * SIGNING_KEYRING_REFRESH_SECONDS;
/**
 * Default pre-publication of `gatehouse keys rotate`, seconds: above the JWKS cache of the resource-server
 * toolkit (600 s) plus this server's `Cache-Control: max-age=300` on the JWKS.
 */
export const DEFAULT_SIGNING_KEY_PREPUBLICATION_SECONDS = 3600;
/** Max-age of the published JWKS (routes.ts), seconds; part of the retention. */
export const JWKS_CACHE_SECONDS = 300;

/** How long a replaced key stays published: the longest lifetime of what it signed plus the JWKS cache time. */
export const signingKeyRetentionSeconds = (longestTokenLifetimeSeconds: number) => longestTokenLifetimeSeconds + JWKS_CACHE_SECONDS;

/**
 * Loads (or, the first time, generates and stores) the ES256 key kept in `settings` under `settingName`:
 * the first key of the ring, and the only one tests that sign their own tokens need.
 */
export async function loadSigningKey(storage: Storage, settingName: string = ACCESS_TOKEN_SIGNING_KEY_SETTING): Promise<SigningKey> {
  // Generating first is cheap (an EC key) and lets getOrCreate stay synchronous in every backend.
  const candidate = await generateKeyPair(ACCESS_TOKEN_SIGNING_ALGORITHM, { extractable: true });
  const candidateJwk = await exportJWK(candidate.privateKey);
  const stored = JSON.parse(await storage.settings.getOrCreate(settingName, () => JSON.stringify(candidateJwk))) as JWK;
  return importSigningKey(stored);
}

async function importSigningKey(stored: JWK): Promise<SigningKey> {
  const { d: _private, ...publicPart } = stored;
  const kid = await calculateJwkThumbprint(publicPart);
  const privateKey = (await importJWK(stored, ACCESS_TOKEN_SIGNING_ALGORITHM)) as CryptoKey;
  const publicKey = (await importJWK(publicPart, ACCESS_TOKEN_SIGNING_ALGORITHM)) as CryptoKey;
  return { kid, privateKey, publicKey, publicJwk: { ...publicPart, kid, alg: ACCESS_TOKEN_SIGNING_ALGORITHM, use: 'sig' } };
}

interface StoredRotatedKey { jwk: JWK; published_at: number; activates_at: number }
interface RingEntry { key: SigningKey; generation: number; publishedAt: number; activatesAt: number }

async function readRing(storage: Storage, settingName: string): Promise<RingEntry[]> {
  const first = await loadSigningKey(storage, settingName);
  const entries: RingEntry[] = [{ key: first, generation: 0, publishedAt: 0, activatesAt: 0 }];
  for (const { name, value } of await storage.settings.list(`${settingName}.`)) {
    const generation = Number(name.slice(settingName.length + 1));
    if (!Number.isInteger(generation) || generation < 1) continue;
    const stored = JSON.parse(value) as StoredRotatedKey;
    entries.push({ key: await importSigningKey(stored.jwk), generation, publishedAt: stored.published_at, activatesAt: stored.activates_at });
  }
  return entries.sort((a, b) => a.activatesAt - b.activatesAt || a.generation - b.generation);
}

/**
 * The ring of `settingName` as stored, re-read every SIGNING_KEYRING_REFRESH_SECONDS by refreshIfStale.
 * @param retentionSeconds see signingKeyRetentionSeconds.
 */
export async function loadSigningKeyRing(storage: Storage, settingName: string, retentionSeconds: number, nowSeconds: number): Promise<SigningKeyRing> {
  let entries = await readRing(storage, settingName);
  let readAt = nowSeconds;
  let now = nowSeconds;
  let reading: Promise<void> | undefined;
  const signingIndex = () => {
    let index = 0;
    while (index + 1 < entries.length && entries[index + 1]!.activatesAt <= now) index += 1;
    return index;
  };
  let signing = entries[signingIndex()]!.key;
  /** Published: announced (publishedAt reached) and not retired (no successor active for the retention). */
  const published = () => entries.filter((entry, index) => {
    const successor = entries[index + 1];
    return entry.publishedAt <= now && !(successor && now >= successor.activatesAt + retentionSeconds);
  });
  return {
    get kid() { return signing.kid; },
    get privateKey() { return signing.privateKey; },
    get publicKey() { return signing.publicKey; },
    get publicJwk() { return signing.publicJwk; },
    publishedJwks: () => published().map((entry) => entry.key.publicJwk),
    publicKeyFor: (kid) => published().find((entry) => entry.key.kid === kid)?.key.publicKey,
    refreshIfStale(nowSeconds) {
      now = nowSeconds;
      signing = entries[signingIndex()]!.key;
      if (now - readAt < SIGNING_KEYRING_REFRESH_SECONDS) return reading;
      reading ??= readRing(storage, settingName).then(
        (read) => {
          entries = read;
          signing = entries[signingIndex()]!.key;
        },
        () => {}, // kept as they were; retried after the next interval
      ).finally(() => {
        readAt = nowSeconds;
        reading = undefined;
      });
      return reading;
    },
  };
}

export interface SigningKeyRotation {
  settingName: string;
  kid: string;
  publishedAt: number;
  activatesAt: number;
}

/**
 * `gatehouse keys rotate`: appends the next ES256 key of `settingName`, published at once and signing from
 * `nowSeconds + prePublicationSeconds` (never before the newest existing key).
 * @throws RangeError when the pre-publication is below MIN_SIGNING_KEY_PREPUBLICATION_SECONDS.
 */
export async function rotateSigningKey(storage: Storage, settingName: string, nowSeconds: number, prePublicationSeconds = DEFAULT_SIGNING_KEY_PREPUBLICATION_SECONDS): Promise<SigningKeyRotation> {
  if (!Number.isInteger(prePublicationSeconds) || prePublicationSeconds < MIN_SIGNING_KEY_PREPUBLICATION_SECONDS) {
    throw new RangeError(`the pre-publication period must be at least ${MIN_SIGNING_KEY_PREPUBLICATION_SECONDS} seconds (instances re-read keys every ${SIGNING_KEYRING_REFRESH_SECONDS} s)`);
  }
  const existing = await readRing(storage, settingName);
  const generation = Math.max(...existing.map((entry) => entry.generation)) + 1;
  const activatesAt = Math.max(nowSeconds + prePublicationSeconds, ...existing.map((entry) => entry.activatesAt));
  const pair = await generateKeyPair(ACCESS_TOKEN_SIGNING_ALGORITHM, { extractable: true });
  const mine: StoredRotatedKey = { jwk: await exportJWK(pair.privateKey), published_at: nowSeconds, activates_at: activatesAt };
  const stored = JSON.parse(await storage.settings.getOrCreate(`${settingName}.${generation}`, () => JSON.stringify(mine))) as StoredRotatedKey;
  const key = await importSigningKey(stored.jwk);
  return { settingName, kid: key.kid, publishedAt: stored.published_at, activatesAt: stored.activates_at };
}
