import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createTokenCipher, formatEncryptionKeys, generateEncryptionKey, parseEncryptionKeys } from './encryption.ts';
import { ConfigurationError, DecryptionError } from './errors.ts';

const context = { connectionId: 'connection-1', field: 'refresh_token' } as const;
const token = `grt_${randomBytes(32).toString('base64url')}`;

describe('token encryption at rest (AES-256-GCM, SPEC §3 integrator rules)', () => {
  it('round-trips a token and the ciphertext contains no part of it', () => {
    const cipher = createTokenCipher([generateEncryptionKey('k1')]);
    const sealed = cipher.seal(token, context);
    assert.match(sealed, /^v1\.k1\.[\w-]{16}\.[\w-]+\.[\w-]{22}$/);
    assert.equal(cipher.open(sealed, context), token);
    for (let start = 0; start + 8 <= token.length; start += 4) assert.ok(!sealed.includes(token.slice(start, start + 8)));
  });

  it('uses a fresh IV each time, so equal tokens do not give equal ciphertexts', () => {
    const cipher = createTokenCipher([generateEncryptionKey('k1')]);
    assert.notEqual(cipher.seal(token, context), cipher.seal(token, context));
  });

  it('binds a ciphertext to its connection and field: moved elsewhere it fails authentication', () => {
    const cipher = createTokenCipher([generateEncryptionKey('k1')]);
    const sealed = cipher.seal(token, context);
    assert.throws(() => cipher.open(sealed, { connectionId: 'connection-2', field: 'refresh_token' }), DecryptionError);
    assert.throws(() => cipher.open(sealed, { connectionId: 'connection-1', field: 'access_token' }), DecryptionError);
    const tampered = sealed.replace(/\.([\w-])([\w-]*)\.([\w-]{22})$/, (_match, first: string, rest: string, tag: string) => `.${first === 'A' ? 'B' : 'A'}${rest}.${tag}`);
    assert.throws(() => cipher.open(tampered, context), DecryptionError);
  });

  it('key rotation: a new current key encrypts, old keys still decrypt, a removed key names itself', () => {
    const k1 = generateEncryptionKey('k1');
    const k2 = generateEncryptionKey('k2');
    const old = createTokenCipher([k1]).seal(token, context);
    const rotated = createTokenCipher([k2, k1]);
    assert.equal(rotated.open(old, context), token);
    const resealed = rotated.seal(token, context);
    assert.equal(rotated.keyIdOf(resealed), 'k2');
    assert.equal(createTokenCipher([k2]).open(resealed, context), token);
    assert.throws(() => createTokenCipher([k2]).open(old, context), (error: unknown) => error instanceof DecryptionError && /key "k1"/.test(error.message));
  });

  it('parses and formats keyrings (keyId:base64url, current first) without echoing key material in errors', () => {
    const keys = [generateEncryptionKey('new'), generateEncryptionKey('old')];
    const parsed = parseEncryptionKeys(formatEncryptionKeys(keys));
    assert.deepEqual(parsed.map((key) => key.keyId), ['new', 'old']);
    assert.deepEqual(Buffer.from(parsed[0]!.key), Buffer.from(keys[0]!.key));
    const secretish = randomBytes(16).toString('base64url');
    assert.throws(() => createTokenCipher(parseEncryptionKeys(`short:${secretish}`)), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.ok(!error.message.includes(secretish));
      assert.match(error.message, /32 bytes/);
      return true;
    });
    assert.throws(() => createTokenCipher([]), ConfigurationError);
    assert.throws(() => createTokenCipher([keys[0]!, { ...keys[1]!, keyId: 'new' }]), /repeats the id of encryption key #1/);
    assert.throws(() => parseEncryptionKeys('no-separator'), ConfigurationError);
  });

  it('never echoes a key id in a configuration error: a keyring written base64url:keyId would print its key', () => {
    const key = randomBytes(32).toString('base64url');
    const reversed = `${key}:2026-07`;
    const refusals: ConfigurationError[] = [];
    for (const attempt of [
      () => createTokenCipher(parseEncryptionKeys(reversed)),
      () => createTokenCipher(parseEncryptionKeys(`k1:${generateEncryptionKeyText()},${key.slice(0, 22)}:2026-01`)),
      () => createTokenCipher([generateEncryptionKey('k1'), { keyId: key.slice(0, 22), key: new Uint8Array(16) }]),
      () => createTokenCipher([generateEncryptionKey(key.slice(0, 30)), generateEncryptionKey(key.slice(0, 30))]),
      () => parseEncryptionKeys(`${key.slice(0, 30)}:not base64!`),
    ]) {
      assert.throws(attempt, (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        refusals.push(error);
        return true;
      });
    }
    assert.match(refusals[0]!.message, /^encryption key #1 \(of 1\): its id must be 1-32 characters/);
    assert.match(refusals[1]!.message, /^encryption key #2 \(of 2\) must be 32 bytes/);
    assert.match(refusals[3]!.message, /^encryption key #2 \(of 2\) repeats the id of encryption key #1$/);
    assert.match(refusals[4]!.message, /^encryption key #1: the part after its id is not base64url$/);
    for (const { message } of refusals) {
      for (let start = 0; start + 8 <= key.length; start += 4) assert.ok(!message.includes(key.slice(start, start + 8)), message);
    }
  });
});

function generateEncryptionKeyText(): string {
  return randomBytes(32).toString('base64url');
}
