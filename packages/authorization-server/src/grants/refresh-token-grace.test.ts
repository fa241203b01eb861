import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { createOpaqueTokenCodec } from '../tokens/opaque-token.ts';
import { sealSuccessor, unsealSuccessor, type SuccessorPair } from './refresh-token-grace.ts';

describe('the sealed successor pair of the reuse grace window (SPEC decisions 8 and 9)', () => {
  const codec = createOpaqueTokenCodec(randomBytes(32));
  const presented = codec.mint('grt');
  const grantId = randomUUID();
  const successor: SuccessorPair = {
    response: {
      access_token: codec.mint('gat').value, token_type: 'Bearer', expires_in: 900, refresh_token: codec.mint('grt').value,
      scope: 'users:read', 'urn:gatehouse:params:oauth:subject_urn': `urn:gatehouse:company:${randomUUID()}`,
    },
    accessExpiresAt: 1_800_000_900, accessTokenId: randomUUID(), refreshTokenId: randomUUID(),
  };

  it('opens with the replaced refresh token and gives back the pair exactly', () => {
    const sealed = sealSuccessor(presented.value, presented.digest, grantId, successor);
    assert.deepEqual(unsealSuccessor(presented.value, presented.digest, grantId, sealed), successor);
  });

  it('keeps no token value readable at rest: neither the successor pair nor the replaced token appear in the sealed text', () => {
    const sealed = sealSuccessor(presented.value, presented.digest, grantId, successor);
    for (const value of [presented.value, successor.response.access_token, successor.response.refresh_token]) {
      const [body, tag] = value.split('.') as [string, string];
      assert.equal(sealed.includes(body.slice(4)), false, 'the random part');
      assert.equal(sealed.includes(tag), false, 'the tag');
    }
    assert.notEqual(sealSuccessor(presented.value, presented.digest, grantId, successor), sealed, 'a fresh IV each time');
  });

  it('does not open with the digest (what the database holds), another token, another grant, or altered text (AES-256-GCM)', () => {
    const sealed = sealSuccessor(presented.value, presented.digest, grantId, successor);
    assert.equal(unsealSuccessor(presented.digest, presented.digest, grantId, sealed), undefined, 'the stored digest is no key');
    assert.equal(unsealSuccessor(codec.mint('grt').value, presented.digest, grantId, sealed), undefined, 'another refresh token');
    assert.equal(unsealSuccessor(presented.value, presented.digest, randomUUID(), sealed), undefined, 'another grant');
    assert.equal(unsealSuccessor(presented.value, codec.mint('grt').digest, grantId, sealed), undefined, 'another row');
    const [iv, ciphertext, tag] = sealed.split('.') as [string, string, string];
    const flipped = `${ciphertext.startsWith('A') ? 'B' : 'A'}${ciphertext.slice(1)}`;
    assert.equal(unsealSuccessor(presented.value, presented.digest, grantId, [iv, flipped, tag].join('.')), undefined, 'altered ciphertext');
    assert.equal(unsealSuccessor(presented.value, presented.digest, grantId, 'not sealed'), undefined);
  });
});
