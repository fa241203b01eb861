import assert from 'node:assert/strict';
import { createCipheriv, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { createOpaqueTokenCodec } from '../tokens/opaque-token.ts';
import { hkdfExpandOneBlock, sealSuccessor, unsealSuccessor, type SealedResponse, type SuccessorPair } from './refresh-token-grace.ts';

describe('the sealed successor pair of the reuse grace window (SPEC decisions 8 and 9)', () => {
  const codec = createOpaqueTokenCodec(randomBytes(32));
  const presented = codec.mint('grt');
  const grantId = randomUUID();
  const successor: SuccessorPair = {
    accessToken: codec.mint('gat').value, refreshToken: codec.mint('grt').value, tokenType: 'Bearer',
    accessExpiresAt: 1_800_000_900, accessTokenId: randomUUID(), refreshTokenId: randomUUID(),
  };
  const sealedResponse: SealedResponse = {
    response: {
      access_token: successor.accessToken, token_type: 'Bearer', expires_in: 900, refresh_token: successor.refreshToken,
      scope: 'users:read', 'urn:gatehouse:params:oauth:subject_urn': `urn:gatehouse:company:${randomUUID()}`,
    },
    accessExpiresAt: successor.accessExpiresAt, accessTokenId: successor.accessTokenId, refreshTokenId: successor.refreshTokenId,
  };
  /** A text as v1 (HKDF extract and expand, grant id as salt) or v2 (HKDF-Expand, grant id in the info) sealed it: the grant in key and AAD. */
  const sealedBefore = (version: 'v1' | 'v2', value: unknown): string => {
    const key = version === 'v1'
      ? Buffer.from(hkdfSync('sha256', presented.value, grantId, 'gatehouse refresh-token reuse grace v1', 32))
      : hkdfExpandOneBlock(presented.value, 'gatehouse refresh-token reuse grace v2\0', grantId);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(`${grantId}.${presented.digest}`));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    const parts = [iv, ciphertext, cipher.getAuthTag()].map((part) => part.toString('base64url'));
    return (version === 'v1' ? parts : ['v2', ...parts]).join('.');
  };

  it('opens with the replaced refresh token and gives back the pair exactly (v3), with or without a narrower scope', () => {
    const sealed = sealSuccessor(presented.value, presented.digest, successor);
    assert.equal(sealed.split('.')[0], 'v3');
    assert.deepEqual(unsealSuccessor(presented.value, presented.digest, grantId, sealed), successor);
    const narrower = { ...successor, scope: 'users:read' };
    assert.deepEqual(unsealSuccessor(presented.value, presented.digest, grantId, sealSuccessor(presented.value, presented.digest, narrower)), narrower);
  });

  it('keeps no token value readable at rest: neither the successor pair nor the replaced token appear in the sealed text', () => {
    const sealed = sealSuccessor(presented.value, presented.digest, successor);
    for (const value of [presented.value, successor.accessToken, successor.refreshToken]) {
      const [body, tag] = value.split('.') as [string, string];
      assert.equal(sealed.includes(body.slice(4)), false, 'the random part');
      assert.equal(sealed.includes(tag), false, 'the tag');
    }
    assert.notEqual(sealSuccessor(presented.value, presented.digest, successor), sealed, 'a fresh IV each time');
  });

  it('does not open with the digest (what the database holds), another token, another row, or altered text (AES-256-GCM)', () => {
    const sealed = sealSuccessor(presented.value, presented.digest, successor);
    assert.equal(unsealSuccessor(presented.digest, presented.digest, grantId, sealed), undefined, 'the stored digest is no key');
    assert.equal(unsealSuccessor(codec.mint('grt').value, presented.digest, grantId, sealed), undefined, 'another refresh token');
    assert.equal(unsealSuccessor(presented.value, codec.mint('grt').digest, grantId, sealed), undefined, 'another row');
    const [version, iv, ciphertext, tag] = sealed.split('.') as [string, string, string, string];
    const flipped = `${ciphertext.startsWith('A') ? 'B' : 'A'}${ciphertext.slice(1)}`;
    assert.equal(unsealSuccessor(presented.value, presented.digest, grantId, [version, iv, flipped, tag].join('.')), undefined, 'altered ciphertext');
    assert.equal(unsealSuccessor(presented.value, presented.digest, grantId, [iv, ciphertext, tag].join('.')), undefined, 'a v3 text read as v1');
    assert.equal(unsealSuccessor(presented.value, presented.digest, grantId, ['v2', iv, ciphertext, tag].join('.')), undefined, 'a v3 text read as v2');
    assert.equal(unsealSuccessor(presented.value, presented.digest, grantId, ['v4', iv, ciphertext, tag].join('.')), undefined, 'an unknown version');
    assert.equal(unsealSuccessor(presented.value, presented.digest, grantId, 'not sealed'), undefined);
  });

  for (const version of ['v1', 'v2'] as const) {
    it(`still opens a ${version} text (the whole response, bound to its grant), sealed before v3 during its grace window`, () => {
      const sealed = sealedBefore(version, sealedResponse);
      assert.deepEqual(unsealSuccessor(presented.value, presented.digest, grantId, sealed), sealedResponse);
      assert.equal(unsealSuccessor(codec.mint('grt').value, presented.digest, grantId, sealed), undefined, 'another refresh token');
      assert.equal(unsealSuccessor(presented.value, presented.digest, randomUUID(), sealed), undefined, 'another grant');
      assert.equal(unsealSuccessor(presented.value, codec.mint('grt').digest, grantId, sealed), undefined, 'another row');
    });
  }

  it('derives the v2 key with HKDF-Expand exactly as RFC 5869 specifies (Appendix A.1: the first 32 bytes of OKM)', () => {
    const prk = Buffer.from('077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5', 'hex');
    const info = Buffer.from('f0f1f2f3f4f5f6f7f8f9', 'hex');
    const okm = '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf';
    assert.equal(hkdfExpandOneBlock(prk, info).toString('hex'), okm);
    assert.equal(hkdfExpandOneBlock(prk, info.subarray(0, 4), info.subarray(4)).toString('hex'), okm, 'info given in parts');
  });
});
