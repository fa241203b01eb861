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
    assert.throws(() => createTokenCipher([keys[0]!, { ...keys[1]!, keyId: 'new' }]), /repeated/);
    assert.throws(() => parseEncryptionKeys('no-separator'), ConfigurationError);
  });
});
