/**
 * verifyDpopProof's cache of proof keys (issue 12): a client's repeated key is imported once, and the cache
 * never lets a proof through that a fresh import would refuse. The checks of RFC 9449 §4.3 themselves are
 * tested where they are answered: the token endpoint (authorization-server) and resource-server/src/dpop.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { DpopProofError, sameTargetUri, verifyDpopProof } from './dpop.ts';
import { createDpopTestKey, createDpopTestProof, type DpopTestKey } from './testing/dpop-proofs.ts';

const NOW = 1_800_000_000;
const HTU = 'https://as.example/oauth/token';
const expectations = { htm: 'POST', htu: HTU, nowSeconds: NOW };

describe('verifyDpopProof imports a proof key once (issue 12)', () => {
  // Counts the JWK imports jose asks WebCrypto for (EmbeddedJWK → crypto.subtle.importKey('jwk', …)).
  const subtle = globalThis.crypto.subtle as SubtleCrypto & { importKey: SubtleCrypto['importKey'] };
  const importKey = subtle.importKey;
  let jwkImports = 0;
  before(() => {
    subtle.importKey = function (this: SubtleCrypto, format: string, ...rest: unknown[]) {
      if (format === 'jwk') jwkImports++;
      return (importKey as (...args: unknown[]) => Promise<CryptoKey>).call(this, format, ...rest);
    } as SubtleCrypto['importKey'];
  });
  after(() => {
    subtle.importKey = importKey;
  });
  /** The JWK imports `work` caused. */
  const importsDuring = async (work: () => Promise<unknown>) => {
    const before = jwkImports;
    await work();
    return jwkImports - before;
  };
  const proof = (key: DpopTestKey, options: Partial<Parameters<typeof createDpopTestProof>[1]> = {}) => createDpopTestProof(key, { htu: HTU, iat: NOW, ...options });
  const refusal = async (value: string, algorithms?: string[]) => {
    const error = await verifyDpopProof(value, { ...expectations, ...(algorithms ? { algorithms } : {}) }).then(() => undefined, (caught: unknown) => caught);
    assert.ok(error instanceof DpopProofError, 'refused');
    return error.description;
  };

  it('a repeated key is imported once; a different key is imported and verifies with its own thumbprint', async () => {
    const [first, second] = [await createDpopTestKey(), await createDpopTestKey('EdDSA')];
    assert.equal(await importsDuring(async () => {
      for (let i = 0; i < 5; i++) assert.equal((await verifyDpopProof(await proof(first), expectations)).jkt, first.jkt);
    }), 1);
    assert.equal(await importsDuring(async () => assert.equal((await verifyDpopProof(await proof(second), expectations)).jkt, second.jkt)), 1);
    assert.equal(await importsDuring(async () => assert.equal((await verifyDpopProof(await proof(first), expectations)).jkt, first.jkt)), 0, 'the first key is still known');
  });

  it('a known key header signed by another key is refused (RFC 9449 §4.3 item 6): the known key verifies, it does not vouch', async () => {
    const [holder, attacker] = [await createDpopTestKey(), await createDpopTestKey()];
    await verifyDpopProof(await proof(holder), expectations);
    assert.equal(await refusal(await proof(holder, { signWith: attacker })), 'the signature does not verify with the jwk header');
  });

  it('a proof that failed stores nothing: the next proof with its key is imported again', async () => {
    const [key, other] = [await createDpopTestKey(), await createDpopTestKey()];
    assert.equal(await importsDuring(async () => refusal(await proof(key, { signWith: other }))), 1);
    assert.equal(await importsDuring(async () => verifyDpopProof(await proof(key), expectations)), 1, 'imported again: the refused proof left no entry');
  });

  it('a jwk that cannot be imported is refused every time, never remembered', async () => {
    const key = await createDpopTestKey();
    // A point that is not on P-256: WebCrypto refuses the import.
    const unusable = { ...key.publicJwk, x: Buffer.alloc(32, 1).toString('base64url'), y: Buffer.alloc(32, 2).toString('base64url') };
    const forged = await new SignJWT({ jti: 'j-1', htm: 'POST', htu: HTU, iat: NOW }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: unusable }).sign(key.privateKey);
    for (let attempt = 0; attempt < 2; attempt++) {
      assert.equal(await importsDuring(() => refusal(forged)), 1, `attempt ${attempt + 1} imports again`);
    }
  });

  it('a known key still meets each call\'s algorithms (RFC 9449 §4.3 item 5) and a private jwk is refused every time (item 7)', async () => {
    const key = await createDpopTestKey('EdDSA');
    await verifyDpopProof(await proof(key), expectations);
    assert.match(await refusal(await proof(key), ['ES256']), /^alg must be one of/);
    const withPrivateKey = await proof(key, { embedPrivateKey: true });
    assert.equal(await refusal(withPrivateKey), 'the jwk header must not contain a private key');
    assert.equal(await refusal(withPrivateKey), 'the jwk header must not contain a private key');
  });
});

describe('sameTargetUri: the htu comparison (RFC 9449 §4.3 item 9, RFC 3986 §6.2.2)', () => {
  it('normalizes case, default port, dot-segments and percent-encoding; ignores query and fragment; compares the rest exactly', () => {
    const expected = 'https://api.example.com/v1/introspect';
    for (const given of [
      'https://API.Example.com/v1/introspect', 'https://api.example.com:443/v1/introspect', 'https://api.example.com/v1/./x/../introspect',
      'https://api.example.com/v1/%69ntrospect', 'https://api.example.com/%76%31/introspect?x=1#f',
    ]) assert.equal(sameTargetUri(given, expected), true, given);
    for (const given of [
      'http://api.example.com/v1/introspect', 'https://api.example.com:8443/v1/introspect', 'https://api.example.com/v1/introspect/',
      'https://api.example.com/v1%2Fintrospect', 'https://other.example.com/v1/introspect', 'not a uri',
    ]) assert.equal(sameTargetUri(given, expected), false, given);
    // Reserved characters stay encoded; only the hex digits' case is normalized.
    assert.equal(sameTargetUri('https://a.example/p%2fq', 'https://a.example/p%2Fq'), true);
  });
});
