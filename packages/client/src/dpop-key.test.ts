import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compactVerify, EmbeddedJWK } from 'jose';
import * as oauth from 'oauth4webapi';
import { chooseDpopAlgorithm, DPOP_ALGORITHMS, generateDpopKey, importDpopKey } from './dpop-key.ts';

describe('DPoP keys kept with a connection (RFC 9449)', () => {
  it('prefers ES256 among the algorithms the server offers, and takes none it cannot generate', () => {
    assert.equal(chooseDpopAlgorithm(['RS256', 'EdDSA', 'ES256', 'PS256']), 'ES256');
    assert.equal(chooseDpopAlgorithm(['RS256', 'PS256']), 'PS256');
    assert.equal(chooseDpopAlgorithm(['ES512', 'HS256', 'EdDSA']), undefined);
    assert.equal(chooseDpopAlgorithm(undefined), undefined);
  });

  for (const alg of DPOP_ALGORITHMS) {
    it(`${alg}: a serialized key imports back to the same public key, whose private half is not extractable`, async () => {
      const { keyPair, serialized } = await generateDpopKey(alg);
      const restored = await importDpopKey(serialized);
      assert.equal(restored.privateKey.extractable, false);
      assert.equal(restored.publicKey.extractable, true);
      const thumbprint = (pair: CryptoKeyPair) => oauth.DPoP({}, pair).calculateThumbprint();
      assert.equal(await thumbprint(restored), await thumbprint(keyPair));
      // The restored key signs proofs that verify with the key in their header (RFC 9449 §4.3 items 5-6).
      let proof = '';
      await oauth.protectedResourceRequest('token', 'GET', new URL('https://api.example/v1/users'), new Headers(), null, {
        DPoP: oauth.DPoP({}, restored),
        [oauth.customFetch]: async (_url, init) => {
          proof = new Headers(init.headers).get('dpop') ?? '';
          return new Response('{}');
        },
      });
      const verified = await compactVerify(proof, EmbeddedJWK);
      assert.equal(verified.protectedHeader.alg, alg);
    });
  }

  it('refuses text it did not write', async () => {
    await assert.rejects(importDpopKey(JSON.stringify({ alg: 'HS256', jwk: {} })), TypeError);
  });
});
