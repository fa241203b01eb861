/**
 * The keyring of the HMAC keys that make opaque codes and tokens (tokens/opaque-token.ts), so the key can
 * be rotated without logging anyone out (issue 14, "Rotate keys without logging anyone out").
 *
 * - `k0` is the original key: `GATEHOUSE_TOKEN_KEY` (or the development key kept in `settings`). It is never
 *   stored by the keyring, verifies every value minted before key ids existed (`<prefix>_<random>.<tag>`),
 *   and keys the storage digest of signed values (JWT access tokens), whose integrity is their signature.
 * - `k1`, `k2`, … are added by `gatehouse keys rotate-token-key`, each in `settings` as
 *   `token_hmac_key.<kid>` = `{"key": base64url, "created_at": s, "activates_at": s}`. A new key is known
 *   to every instance before it mints anything: instances reload the ring every
 *   TOKEN_KEYRING_REFRESH_SECONDS, and a rotation activates the key at least twice that later.
 * - New values use the newest active key. A key keeps verifying until its successor has been active for
 *   the retention period (the refresh-token lifetime, the longest token lifetime, plus a margin); after that
 *   its values are refused before any lookup, like forged ones.
 *
 * A rotation only appends a setting (`getOrCreate` of the next kid), so two operators rotating at once
 * agree on one key, and no instance ever needs a write to learn it.
 */
import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import type { Storage } from '../storage/storage.ts';

export const TOKEN_HMAC_KEY_SETTING_PREFIX = 'token_hmac_key.';
/** The original key's id (`GATEHOUSE_TOKEN_KEY`). */
export const ORIGINAL_TOKEN_KEY_ID = 'k0';
/** A key id inside a value: `k` and a number, never `_` or `.` (they separate a value's parts). */
export const TOKEN_KEY_ID = /^k(0|[1-9][0-9]{0,5})$/;
/** How often each instance re-reads the ring from storage, in seconds. */
export const TOKEN_KEYRING_REFRESH_SECONDS = 60;
/** The least delay from a rotation to the new key's first use: every instance has reloaded twice by then. */
export const MIN_TOKEN_KEY_ACTIVATION_DELAY_SECONDS = 2 * TOKEN_KEYRING_REFRESH_SECONDS;
/** `gatehouse keys rotate-token-key` activates the new key this many seconds later unless told otherwise. */
export const DEFAULT_TOKEN_KEY_ACTIVATION_DELAY_SECONDS = 300;
/** Added to the refresh-token lifetime before an old key retires: clock differences between instances. */
export const TOKEN_KEY_RETENTION_MARGIN_SECONDS = 3600;

export interface TokenHmacKey {
  kid: string;
  key: KeyObject;
  /** Seconds since the epoch from which new values use this key (0 for `k0`). */
  activatesAt: number;
}

export interface TokenKeyring {
  /** The key new values get at `nowSeconds`: the newest key already active. */
  mintingKey(nowSeconds: number): TokenHmacKey;
  /** The key `kid` names, or `undefined` when no such key is known or it retired before `nowSeconds`. */
  verificationKey(kid: string, nowSeconds: number): TokenHmacKey | undefined;
  /** `k0`: the digest key of signed values (they carry no key id), and of values minted before key ids. */
  readonly originalKey: KeyObject;
}

export interface LiveTokenKeyring extends TokenKeyring {
  /**
   * Re-reads the ring from storage when it was last read TOKEN_KEYRING_REFRESH_SECONDS or more before
   * `nowSeconds`, returning the read to wait for (concurrent callers share it); `undefined`, at no cost,
   * when the ring is fresh. A failed read keeps the ring as it was (and is retried after the next
   * interval): key changes are announced long before they matter.
   */
  refreshIfStale(nowSeconds: number): Promise<void> | undefined;
  /** Every known key id with its activation time and, once a successor is active, its retirement time. */
  describe(nowSeconds: number): Array<{ kid: string; activatesAt: number; retiresAt: number | null; minting: boolean }>;
}

interface StoredTokenKey { key: string; created_at: number; activates_at: number }

/** A ring of keys in activation order; `k0` first. `retentionSeconds`: see TokenKeyring.verificationKey. */
export function createTokenKeyring(originalKey: Buffer, added: Array<{ kid: string; key: Buffer; activatesAt: number }>, retentionSeconds: number): TokenKeyring & { describe: LiveTokenKeyring['describe'] } {
  const keys: TokenHmacKey[] = [
    { kid: ORIGINAL_TOKEN_KEY_ID, key: createSecretKey(originalKey), activatesAt: 0 },
    ...added.map((entry) => ({ kid: entry.kid, key: createSecretKey(entry.key), activatesAt: entry.activatesAt })),
  ].sort((a, b) => a.activatesAt - b.activatesAt || kidNumber(a.kid) - kidNumber(b.kid));
  const byKid = new Map(keys.map((key, index) => [key.kid, index]));
  /** When the key at `index` stops verifying: its successor's activation plus the retention; null while it has none. */
  const retiresAt = (index: number): number | null => {
    const successor = keys[index + 1];
    return successor ? successor.activatesAt + retentionSeconds : null;
  };
  const mintingIndex = (nowSeconds: number): number => {
    let index = 0;
    while (index + 1 < keys.length && keys[index + 1]!.activatesAt <= nowSeconds) index += 1;
    return index;
  };
  return {
    originalKey: keys.find((key) => key.kid === ORIGINAL_TOKEN_KEY_ID)!.key,
    mintingKey: (nowSeconds) => keys[mintingIndex(nowSeconds)]!,
    verificationKey(kid, nowSeconds) {
      const index = byKid.get(kid);
      if (index === undefined) return undefined;
      const retirement = retiresAt(index);
      return retirement !== null && nowSeconds >= retirement ? undefined : keys[index];
    },
    describe(nowSeconds) {
      const minting = mintingIndex(nowSeconds);
      return keys.map((key, index) => ({ kid: key.kid, activatesAt: key.activatesAt, retiresAt: retiresAt(index), minting: index === minting }));
    },
  };
}

/**
 * The ring as stored: `originalKey` as `k0` and every `token_hmac_key.*` setting, re-read by refreshIfStale.
 * @param retentionSeconds how long a key verifies after its successor activates (refresh-token lifetime + margin).
 * @throws Error when a stored entry is malformed (a key shorter than 32 bytes, a bad kid): refusing to start
 *   beats minting with a key other instances do not have.
 */
export async function loadTokenKeyring(storage: Storage, originalKey: Buffer, retentionSeconds: number, nowSeconds: number): Promise<LiveTokenKeyring> {
  const read = async () => createTokenKeyring(originalKey, parseStoredKeys(await storage.settings.list(TOKEN_HMAC_KEY_SETTING_PREFIX)), retentionSeconds);
  let current = await read();
  let readAt = nowSeconds;
  let reading: Promise<void> | undefined;
  return {
    get originalKey() {
      return current.originalKey;
    },
    mintingKey: (now) => current.mintingKey(now),
    verificationKey: (kid, now) => current.verificationKey(kid, now),
    describe: (now) => current.describe(now),
    refreshIfStale(now) {
      if (now - readAt < TOKEN_KEYRING_REFRESH_SECONDS) return reading;
      reading ??= read().then(
        (ring) => {
          current = ring;
        },
        () => {}, // kept as it was; see refreshIfStale's doc
      ).finally(() => {
        readAt = now;
        reading = undefined;
      });
      return reading;
    },
  };
}

function parseStoredKeys(settings: Array<{ name: string; value: string }>): Array<{ kid: string; key: Buffer; activatesAt: number }> {
  return settings.map(({ name, value }) => {
    const kid = name.slice(TOKEN_HMAC_KEY_SETTING_PREFIX.length);
    const stored = JSON.parse(value) as StoredTokenKey;
    const key = Buffer.from(stored.key, 'base64url');
    if (!TOKEN_KEY_ID.test(kid) || kid === ORIGINAL_TOKEN_KEY_ID || key.length < 32 || !Number.isInteger(stored.activates_at)) {
      throw new Error(`the stored token key ${JSON.stringify(name)} is malformed`);
    }
    return { kid, key, activatesAt: stored.activates_at };
  });
}

const kidNumber = (kid: string) => Number(kid.slice(1));

export interface TokenKeyRotation {
  kid: string;
  activatesAt: number;
  /** False when another rotation created this kid at the same moment (its key is the one kept). */
  createdHere: boolean;
}

/**
 * `gatehouse keys rotate-token-key`: adds the next key (`k<n+1>`), 32 random bytes, active from
 * `nowSeconds + activationDelaySeconds` (never before the newest existing key).
 * @throws RangeError when the delay is below MIN_TOKEN_KEY_ACTIVATION_DELAY_SECONDS (instances could mint
 *   with a key others cannot verify yet) or the ring already holds 999999 keys.
 */
export async function rotateTokenKey(storage: Storage, nowSeconds: number, activationDelaySeconds = DEFAULT_TOKEN_KEY_ACTIVATION_DELAY_SECONDS): Promise<TokenKeyRotation> {
  if (!Number.isInteger(activationDelaySeconds) || activationDelaySeconds < MIN_TOKEN_KEY_ACTIVATION_DELAY_SECONDS) {
    throw new RangeError(`the activation delay must be at least ${MIN_TOKEN_KEY_ACTIVATION_DELAY_SECONDS} seconds (every instance reloads keys every ${TOKEN_KEYRING_REFRESH_SECONDS} s)`);
  }
  const existing = parseStoredKeys(await storage.settings.list(TOKEN_HMAC_KEY_SETTING_PREFIX));
  const next = existing.reduce((highest, entry) => Math.max(highest, kidNumber(entry.kid)), 0) + 1;
  if (next > 999_999) throw new RangeError('the token keyring is full');
  const kid = `k${next}`;
  const activatesAt = Math.max(nowSeconds + activationDelaySeconds, ...existing.map((entry) => entry.activatesAt));
  const mine: StoredTokenKey = { key: randomBytes(32).toString('base64url'), created_at: nowSeconds, activates_at: activatesAt };
  const stored = JSON.parse(await storage.settings.getOrCreate(`${TOKEN_HMAC_KEY_SETTING_PREFIX}${kid}`, () => JSON.stringify(mine))) as StoredTokenKey;
  return { kid, activatesAt: stored.activates_at, createdHere: stored.key === mine.key };
}

/** The retention of a ring whose longest-lived token is a refresh token of `refreshTokenLifetimeSeconds`. */
export const tokenKeyRetentionSeconds = (refreshTokenLifetimeSeconds: number) => refreshTokenLifetimeSeconds + TOKEN_KEY_RETENTION_MARGIN_SECONDS;
