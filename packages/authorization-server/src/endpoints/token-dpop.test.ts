/**
 * Black-box tests of DPoP at the token endpoint (RFC 9449 §5, §6, §8, §11.1) against a real listening
 * server: each refusal sends the bad request and checks the status, the error code and that nothing was
 * issued (the code still redeems afterwards, or the grant still refreshes).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { createDpopTestKey, createDpopTestProof, type DpopTestKey, type DpopTestProofOptions } from '@gatehouse/protocol/testing/dpop';
import { authorize, confidentialAuth, introspect, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { createPostgresStorage } from '../storage/postgres/postgres-storage.ts';
import { createTestPostgresStorage, postgresSkipReason, TEST_DATABASE_URL } from '../testing/postgres.ts';

interface Tokens { access_token: string; refresh_token: string; token_type: string; [member: string]: unknown }

const tokenUrl = (server: TestServer) => `${server.issuer}/oauth/token`;

/** A proof for POST /oauth/token of `server` at its clock's now; `options` adds a defect. */
function proofFor(server: TestServer, key: DpopTestKey, options: Partial<DpopTestProofOptions> = {}): Promise<string> {
  return createDpopTestProof(key, { htu: tokenUrl(server), iat: server.clock.nowSeconds(), ...options });
}

/** Logs in and consents; returns the code and what its redemption needs (confidential or public demo client). */
async function codeFor(server: TestServer, client: 'confidential' | 'public') {
  const demo = client === 'confidential' ? seed.confidentialClient : seed.publicClient;
  const { redirect, codeVerifier } = await authorize(server, { clientId: demo.id, redirectUri: demo.redirectUri, extra: { prompt: 'consent' } });
  const code = redirect.searchParams.get('code');
  assert.ok(code, redirect.href);
  const form = { grant_type: 'authorization_code', code, redirect_uri: demo.redirectUri, code_verifier: codeVerifier, ...(client === 'public' ? { client_id: demo.id } : {}) };
  const headers: Record<string, string> = client === 'confidential' ? { authorization: confidentialAuth() } : {};
  return { form, headers };
}

async function redeem(server: TestServer, client: 'confidential' | 'public', proof?: (server: TestServer) => Promise<string>) {
  const { form, headers } = await codeFor(server, client);
  return postForm(tokenUrl(server), form, { ...headers, ...(proof ? { dpop: await proof(server) } : {}) });
}

function refresh(server: TestServer, client: 'confidential' | 'public', refreshToken: string, dpop?: string) {
  const form = { grant_type: 'refresh_token', refresh_token: refreshToken, ...(client === 'public' ? { client_id: seed.publicClient.id } : {}) };
  return postForm(tokenUrl(server), form, { ...(client === 'confidential' ? { authorization: confidentialAuth() } : {}), ...(dpop ? { dpop } : {}) });
}

describe('DPoP at the token endpoint (RFC 9449)', () => {
  let server: TestServer;
  let key: DpopTestKey;
  let otherKey: DpopTestKey;
  before(async () => {
    server = await startTestServer();
    [key, otherKey] = await Promise.all([createDpopTestKey(), createDpopTestKey()]);
  });
  after(() => server.close());

  it('advertises dpop_signing_alg_values_supported with asymmetric algorithms only (§5.1)', async () => {
    const metadata = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json() as Record<string, unknown>;
    assert.deepEqual(metadata.dpop_signing_alg_values_supported, ['ES256', 'EdDSA', 'RS256', 'PS256']);
  });

  it('binds a confidential client\'s access token: token_type DPoP, cnf.jkt in introspection; its refresh token stays unbound (§5, §6.2)', async () => {
    const response = await redeem(server, 'confidential', (s) => proofFor(s, key));
    assert.equal(response.status, 200, response.text);
    const tokens = response.json as Tokens;
    assert.equal(tokens.token_type, 'DPoP');
    const introspected = await introspect(server, tokens.access_token);
    assert.equal(introspected.active, true);
    assert.equal(introspected.token_type, 'DPoP');
    assert.deepEqual(introspected.cnf, { jkt: key.jkt });
    // The refresh token of a confidential client is not bound: a refresh without a proof gets a Bearer token.
    const refreshed = await refresh(server, 'confidential', tokens.refresh_token);
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.equal((refreshed.json as Tokens).token_type, 'Bearer');
    const plain = await introspect(server, (refreshed.json as Tokens).access_token);
    assert.equal(plain.token_type, 'Bearer');
    assert.equal(plain.cnf, undefined);
  });

  it('issues Bearer tokens as before to a request without a proof', async () => {
    const response = await redeem(server, 'confidential');
    assert.equal(response.status, 200, response.text);
    assert.equal((response.json as Tokens).token_type, 'Bearer');
  });

  it('binds a public client\'s refresh token: a refresh without a proof or with another key is invalid_grant and changes nothing (§5)', async () => {
    const issued = await redeem(server, 'public', (s) => proofFor(s, key));
    assert.equal(issued.status, 200, issued.text);
    const tokens = issued.json as Tokens;
    const missing = await refresh(server, 'public', tokens.refresh_token);
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error, 'invalid_grant');
    const wrongKey = await refresh(server, 'public', tokens.refresh_token, await proofFor(server, otherKey));
    assert.equal(wrongKey.status, 400);
    assert.equal(wrongKey.json.error, 'invalid_grant');
    // Anyone can name a public client: the answers are an unknown token's, so they do not confirm the token is real.
    const unknown = await refresh(server, 'public', `${tokens.refresh_token.slice(0, -4)}AAAA`);
    const answer = (response: typeof missing) => [response.status, response.json.error, response.json.error_description];
    assert.deepEqual(answer(missing), answer(unknown));
    assert.deepEqual(answer(wrongKey), answer(unknown));
    assert.match(String(unknown.json.error_description), /DPoP proof made with its key/, 'it says what a bound token needs');
    // Nothing happened: the access token is still active, and the same refresh token works with the right key.
    assert.equal((await introspect(server, tokens.access_token)).active, true);
    const refreshed = await refresh(server, 'public', tokens.refresh_token, await proofFor(server, key));
    assert.equal(refreshed.status, 200, refreshed.text);
    const next = refreshed.json as Tokens;
    assert.equal(next.token_type, 'DPoP');
    assert.deepEqual((await introspect(server, next.access_token)).cnf, { jkt: key.jkt });
    // The successor refresh token is bound to the same key.
    const unproven = await refresh(server, 'public', next.refresh_token);
    assert.equal(unproven.json.error, 'invalid_grant');
  });

  describe('refusals: 400 invalid_dpop_proof, no token issued, the code still redeems (§4.3, §5)', () => {
    const cases: Array<[string, RegExp, (s: TestServer) => Promise<string>]> = [
      ['typ is not dpop+jwt (§4.3 item 4)', /typ/, (s) => proofFor(s, key, { typ: 'JWT' })],
      ['htm is not POST (§4.3 item 8)', /htm/, (s) => proofFor(s, key, { htm: 'GET' })],
      ['htu names another URI (§4.3 item 9)', /htu/, (s) => proofFor(s, key, { htu: `${s.issuer}/oauth/par` })],
      ['iat is older than the window (§4.3 item 11)', /iat/, (s) => proofFor(s, key, { iat: s.clock.nowSeconds() - 61 })],
      ['iat is too far in the future (§4.3 item 11)', /iat/, (s) => proofFor(s, key, { iat: s.clock.nowSeconds() + 61 })],
      ['the jwk header holds a private key (§4.3 item 7)', /private key/, (s) => proofFor(s, key, { embedPrivateKey: true })],
      ['the signature is made with another key than the jwk header\'s (§4.3 item 6)', /signature/, (s) => proofFor(s, key, { signWith: otherKey })],
      ['jti is missing (§4.2)', /jti/, (s) => proofFor(s, key, { omit: ['jti'] })],
      ['the value is not a JWT', /well-formed/, async () => 'not-a-jwt'],
      ['alg is HS256, a symmetric algorithm (§4.3 item 5)', /alg/, async (s) => {
        const { SignJWT } = await import('jose');
        return new SignJWT({ jti: 'x', htm: 'POST', htu: tokenUrl(s), iat: s.clock.nowSeconds() })
          .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.publicJwk }).sign(randomBytes(32));
      }],
    ];
    for (const [name, reason, makeProof] of cases) {
      it(`refuses a proof when ${name}`, async () => {
        const { form, headers } = await codeFor(server, 'confidential');
        const refused = await postForm(tokenUrl(server), form, { ...headers, dpop: await makeProof(server) });
        assert.equal(refused.status, 400, refused.text);
        assert.equal(refused.json.error, 'invalid_dpop_proof');
        assert.match(refused.json.error_description, reason);
        assert.equal(refused.json.access_token, undefined);
        // The proof is checked before the code is consumed: the same code still redeems with a good proof.
        const redeemed = await postForm(tokenUrl(server), form, { ...headers, dpop: await proofFor(server, key) });
        assert.equal(redeemed.status, 200, redeemed.text);
      });
    }

    it('refuses two DPoP headers (§4.3 item 1)', async () => {
      const { form, headers } = await codeFor(server, 'confidential');
      const response = await fetch(tokenUrl(server), {
        method: 'POST', body: new URLSearchParams(form),
        headers: [['content-type', 'application/x-www-form-urlencoded'], ['authorization', headers.authorization!],
          ['dpop', await proofFor(server, key)], ['dpop', await proofFor(server, key)]],
      });
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_dpop_proof');
    });

    it('refuses a replayed proof (same jti) and issues nothing for it (§11.1)', async () => {
      const proof = await proofFor(server, key);
      const first = await redeem(server, 'confidential', async () => proof);
      assert.equal(first.status, 200, first.text);
      const { form, headers } = await codeFor(server, 'confidential');
      const replayed = await postForm(tokenUrl(server), form, { ...headers, dpop: proof });
      assert.equal(replayed.status, 400);
      assert.equal(replayed.json.error, 'invalid_dpop_proof');
      assert.match(replayed.json.error_description, /already used/);
    });
  });
});

describe('DPoP with server nonces required (RFC 9449 §8)', () => {
  let server: TestServer;
  let key: DpopTestKey;
  before(async () => {
    server = await startTestServer({ dpopNonceRequired: true });
    key = await createDpopTestKey('EdDSA');
  });
  after(() => server.close());

  it('answers a proof without a nonce with use_dpop_nonce and a DPoP-Nonce header; the retry with it succeeds', async () => {
    const { form, headers } = await codeFor(server, 'confidential');
    const refused = await postForm(tokenUrl(server), form, { ...headers, dpop: await proofFor(server, key) });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error, 'use_dpop_nonce');
    const nonce = refused.headers.get('dpop-nonce');
    assert.ok(nonce);
    const stale = await postForm(tokenUrl(server), form, { ...headers, dpop: await proofFor(server, key, { nonce: 'made-up' }) });
    assert.equal(stale.json.error, 'use_dpop_nonce');
    const retried = await postForm(tokenUrl(server), form, { ...headers, dpop: await proofFor(server, key, { nonce }) });
    assert.equal(retried.status, 200, retried.text);
    assert.equal((retried.json as Tokens).token_type, 'DPoP');
    assert.ok(retried.headers.get('dpop-nonce'));
  });

  it('refuses a nonce two windows old with use_dpop_nonce', async () => {
    const { form, headers } = await codeFor(server, 'confidential');
    const nonce = (await postForm(tokenUrl(server), form, { ...headers, dpop: await proofFor(server, key) })).headers.get('dpop-nonce')!;
    server.clock.advanceSeconds(600);
    const late = await postForm(tokenUrl(server), form, { ...headers, dpop: await proofFor(server, key, { nonce }) });
    assert.equal(late.json.error, 'use_dpop_nonce');
  });
});

describe('a client registered with dpop_bound_access_tokens (RFC 9449 §5.2)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ accessTokenFormat: 'jwt' });
    await server.storage.clients.update(seed.confidentialClient.id, { dpopBoundAccessTokens: true });
  });
  after(() => server.close());

  it('refuses a token request without a proof with invalid_request and issues nothing; with one, the JWT access token carries cnf.jkt', async () => {
    const { form, headers } = await codeFor(server, 'confidential');
    const refused = await postForm(tokenUrl(server), form, headers);
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error, 'invalid_request');
    assert.match(refused.json.error_description, /DPoP/);
    const key = await createDpopTestKey('RS256');
    const issued = await postForm(tokenUrl(server), form, { ...headers, dpop: await proofFor(server, key) });
    assert.equal(issued.status, 200, issued.text);
    const tokens = issued.json as Tokens;
    assert.deepEqual(decodeJwt(tokens.access_token).cnf, { jkt: key.jkt });
    // Refreshing needs a proof too.
    const unproven = await refresh(server, 'confidential', tokens.refresh_token);
    assert.equal(unproven.json.error, 'invalid_request');
  });
});

const skip = await postgresSkipReason();

describe('DPoP proof replay across two instances sharing PostgreSQL (RFC 9449 §11.1)', { skip }, () => {
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    const tokenHmacKey = randomBytes(32);
    const storageA = await createTestPostgresStorage();
    a = await startTestServer({ storage: storageA, tokenHmacKey });
    // Instance B: its own connection pool on the same schema, speaking for the same issuer.
    const storageB = await createPostgresStorage(TEST_DATABASE_URL, { schema: storageA.schema, poolSize: 2 });
    b = await startTestServer({ storage: storageB, tokenHmacKey, issuer: a.issuer });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  it('a proof accepted by instance A is refused by instance B', async () => {
    const key = await createDpopTestKey();
    const proof = await proofFor(a, key);
    const first = await redeem(a, 'confidential', async () => proof);
    assert.equal(first.status, 200, first.text);
    const { form, headers } = await codeFor(a, 'confidential');
    const replayed = await postForm(`${b.url}/oauth/token`, form, { ...headers, dpop: proof });
    assert.equal(replayed.status, 400, replayed.text);
    assert.equal(replayed.json.error, 'invalid_dpop_proof');
    // B accepts a fresh proof for the same request: the refusal was the replay.
    const fresh = await postForm(`${b.url}/oauth/token`, form, { ...headers, dpop: await proofFor(a, key) });
    assert.equal(fresh.status, 200, fresh.text);
  });
});
