/**
 * User passwords: argon2id from `node:crypto` (SPEC decision 9), stored in PHC string format
 * `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>` (unpadded base64).
 */
import { argon2, randomBytes } from 'node:crypto';
import { constantTimeEqual } from '@gatehouse/protocol';

/** OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. */
const PARAMETERS = { memoryKibibytes: 19_456, passes: 2, parallelism: 1, tagLengthBytes: 32 } as const;

function derive(password: string, salt: Buffer, memory: number, passes: number, parallelism: number, tagLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    argon2('argon2id', { message: password, nonce: salt, memory, passes, parallelism, tagLength }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const { memoryKibibytes, passes, parallelism, tagLengthBytes } = PARAMETERS;
  const hash = await derive(password, salt, memoryKibibytes, passes, parallelism, tagLengthBytes);
  const b64 = (buffer: Buffer) => buffer.toString('base64').replace(/=+$/, '');
  return `$argon2id$v=19$m=${memoryKibibytes},t=${passes},p=${parallelism}$${b64(salt)}$${b64(hash)}`;
}

/** Constant-time check of a password against a stored PHC hash; false for any malformed hash. */
export async function verifyPassword(password: string, phc: string): Promise<boolean> {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(phc);
  if (!match) return false;
  const expected = Buffer.from(match[5]!, 'base64');
  try {
    const actual = await derive(password, Buffer.from(match[4]!, 'base64'), Number(match[1]), Number(match[2]), Number(match[3]), expected.length);
    return constantTimeEqual(actual, expected);
  } catch {
    // Parameters argon2 refuses (m, t or p of 0, a short salt or tag): a malformed hash, not a server error.
    return false;
  }
}

/** A hash of a random password, verified against when the e-mail is unknown so timing does not reveal accounts. */
export const decoyPasswordHash: Promise<string> = hashPassword(randomBytes(16).toString('base64url'));
