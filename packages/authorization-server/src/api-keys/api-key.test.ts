/** Issue 16: API key values: shape, digest (HMAC under k0), constant-time tag check, and state. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createOpaqueTokenCodec } from '../tokens/opaque-token.ts';
import type { ApiKeyRecord } from '../storage/storage.ts';
import { apiKeyDigestOf, apiKeyState, isApiKeyValue, mintApiKey } from './api-key.ts';

describe('API key values (issue 16)', () => {
  const codec = createOpaqueTokenCodec(randomBytes(32));

  it('mints gak_<256 random bits>.<tag>, stores only the tag, and shows a 10-character prefix', () => {
    const minted = mintApiKey(codec);
    assert.match(minted.value, /^gak_[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(minted.value.slice(4, 47), 'base64url').length, 32);
    assert.equal(minted.displayPrefix, minted.value.slice(0, 10));
    assert.equal(apiKeyDigestOf(codec, minted.value), minted.digest);
    assert.ok(!minted.digest.includes(minted.value.slice(4, 47)));
    assert.notEqual(mintApiKey(codec).value, minted.value);
    assert.ok(isApiKeyValue(minted.value));
  });

  it('refuses forged, altered, truncated values and values of another key before any lookup', () => {
    const { value } = mintApiKey(codec);
    const other = createOpaqueTokenCodec(randomBytes(32));
    for (const candidate of [`${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`, value.slice(0, -1), `${value}A`, value.replace('gak_', 'gat_'), '']) {
      assert.equal(apiKeyDigestOf(codec, candidate), undefined, candidate);
    }
    assert.equal(apiKeyDigestOf(other, value), undefined, 'a key of another deployment');
  });

  it('is expired at expiresAt (not before), revoked once revoked', () => {
    const key = { expiresAt: 100, revokedAt: null } as ApiKeyRecord;
    assert.equal(apiKeyState(key, 99), 'active');
    assert.equal(apiKeyState(key, 100), 'expired');
    assert.equal(apiKeyState({ ...key, expiresAt: null }, 10 ** 10), 'active');
    assert.equal(apiKeyState({ ...key, revokedAt: 50 }, 10), 'revoked');
  });
});
