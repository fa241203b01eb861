import assert from 'node:assert/strict';
import { test } from 'node:test';
import { derivedKey } from './derived-key.ts';

test('derives one 32-byte key per purpose, never the token HMAC key, the same as every release before (stored ciphertexts depend on it)', () => {
  const tokenHmacKey = Buffer.alloc(32, 7);
  // Vectors: HKDF-SHA-256 (RFC 5869), empty salt, the purpose as info, as each caller derived it before this helper.
  assert.equal(derivedKey(tokenHmacKey, 'gatehouse totp secret').toString('base64url'), 'g99devjBX_0Erk_7ibfFItS3asP_0IXtvt315gB2Vyo');
  assert.equal(derivedKey(tokenHmacKey, 'gatehouse webhook secret').toString('base64url'), 'D01nihJnJP2Vwz3Sd_FgxkzdMrOavH1rFe1HzQZKyk0');
  assert.equal(derivedKey(tokenHmacKey, 'gatehouse recovery code').length, 32);
  assert.notDeepEqual(derivedKey(tokenHmacKey, 'gatehouse recovery code'), tokenHmacKey);
});
