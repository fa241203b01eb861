/**
 * `gatehouse keys …`: the token HMAC keyring (tokens/token-keyring.ts), issue 14.
 *
 * - `keys rotate-token-key [--activate-after-seconds N]` adds the next key; new codes and tokens use it
 *   from N seconds on (default 300, at least 120 so every instance has loaded it), and the previous key
 *   keeps verifying until the successor has been active for the refresh-token lifetime (+1 h).
 * - `keys rotate [--prepublish-seconds N]` appends the next ES256 signing key of JWT access tokens and of
 *   session handover tokens: published in the JWKS at once, signing from N seconds on (default 3600, at
 *   least 120); the old key leaves the JWKS once its tokens expired.
 * - `keys list` shows every key id with its activation and retirement times; never a key.
 */
import { systemClock } from '../clock.ts';
import { generateTokenKey, loadConfiguration } from '../configuration.ts';
import {
  ACCESS_TOKEN_SIGNING_KEY_SETTING, DEFAULT_SIGNING_KEY_PREPUBLICATION_SECONDS, rotateSigningKey, SESSION_HANDOVER_SIGNING_KEY_SETTING,
} from '../tokens/signing-key.ts';
import { DEFAULT_TOKEN_KEY_ACTIVATION_DELAY_SECONDS, loadTokenKeyring, rotateTokenKey, tokenKeyRetentionSeconds } from '../tokens/token-keyring.ts';
import { openCliStorage } from './cli-storage.ts';

/** The refresh-token lifetime servers use unless configured otherwise (options.ts); for the printed retirement times. */
const REFRESH_TOKEN_LIFETIME_SECONDS = 60 * 24 * 60 * 60;

const iso = (seconds: number | null) => (seconds === null ? '-' : new Date(seconds * 1000).toISOString());

/**
 * @throws RangeError for a bad flag or command (the CLI's usage error, exit 2).
 * @returns the exit code.
 */
export async function keysCommand(
  command: string | undefined, rest: string[], flags: { activateAfterSeconds: string | undefined; prepublishSeconds: string | undefined; json: boolean | undefined },
): Promise<number> {
  if ((command !== 'rotate-token-key' && command !== 'rotate' && command !== 'list') || rest.length > 0) throw new RangeError(`unknown command "keys ${[command, ...rest].join(' ')}"`);
  let prepublish = DEFAULT_SIGNING_KEY_PREPUBLICATION_SECONDS;
  if (flags.prepublishSeconds !== undefined) {
    if (command !== 'rotate' || !/^\d{1,9}$/.test(flags.prepublishSeconds)) throw new RangeError('--prepublish-seconds takes a whole number of seconds, with rotate');
    prepublish = Number(flags.prepublishSeconds);
  }
  let delay = DEFAULT_TOKEN_KEY_ACTIVATION_DELAY_SECONDS;
  if (flags.activateAfterSeconds !== undefined) {
    if (command !== 'rotate-token-key' || !/^\d{1,9}$/.test(flags.activateAfterSeconds)) throw new RangeError('--activate-after-seconds takes a whole number of seconds, with rotate-token-key');
    delay = Number(flags.activateAfterSeconds);
  }
  const configuration = loadConfiguration();
  const storage = await openCliStorage(configuration);
  try {
    const now = systemClock.nowSeconds();
    if (command === 'rotate') {
      const rotations = [];
      for (const setting of [ACCESS_TOKEN_SIGNING_KEY_SETTING, SESSION_HANDOVER_SIGNING_KEY_SETTING]) rotations.push(await rotateSigningKey(storage, setting, now, prepublish));
      if (flags.json) {
        console.log(JSON.stringify(rotations.map((rotation) => ({ key: rotation.settingName, kid: rotation.kid, published_at: rotation.publishedAt, activates_at: rotation.activatesAt })), null, 2));
      } else {
        for (const rotation of rotations) {
          console.log(`${rotation.settingName}: next key ${rotation.kid} is published now and signs from ${iso(rotation.activatesAt)}; the previous key leaves the JWKS once its last token expired.`);
        }
      }
      return 0;
    }
    if (command === 'rotate-token-key') {
      const rotation = await rotateTokenKey(storage, now, delay);
      const previousRetiresAt = rotation.activatesAt + tokenKeyRetentionSeconds(REFRESH_TOKEN_LIFETIME_SECONDS);
      if (flags.json) {
        console.log(JSON.stringify({ kid: rotation.kid, activates_at: rotation.activatesAt, previous_key_retires_at: previousRetiresAt, created: rotation.createdHere }, null, 2));
      } else {
        console.log(`Token key ${rotation.kid} ${rotation.createdHere ? 'added' : 'was just added by another rotation'}: new codes and tokens use it from ${iso(rotation.activatesAt)}.`);
        console.log(`The previous key keeps verifying until ${iso(previousRetiresAt)} (the refresh-token lifetime after that, plus one hour).`);
      }
      return 0;
    }
    // The original key (k0) is only needed to build the ring; a stand-in is enough to list the ids and times.
    const originalKey = configuration.tokenKey ?? Buffer.from(generateTokenKey(), 'base64url');
    const ring = await loadTokenKeyring(storage, originalKey, tokenKeyRetentionSeconds(REFRESH_TOKEN_LIFETIME_SECONDS), now);
    const keys = ring.describe(now);
    if (flags.json) console.log(JSON.stringify(keys.map((key) => ({ kid: key.kid, activates_at: key.activatesAt, retires_at: key.retiresAt, minting: key.minting })), null, 2));
    else for (const key of keys) console.log(`${key.kid.padEnd(8)} active from ${key.activatesAt === 0 ? 'the start' : iso(key.activatesAt)}  retires ${iso(key.retiresAt)}${key.minting ? '  (mints now)' : ''}`);
    return 0;
  } finally {
    await storage.close();
  }
}
