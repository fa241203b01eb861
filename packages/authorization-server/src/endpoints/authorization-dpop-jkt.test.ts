/**
 * Black-box tests of `dpop_jkt` (RFC 9449 §10): an authorization request, direct or pushed (RFC 9126), names
 * the key its code may be redeemed with; the token endpoint refuses the code with any other key, or none,
 * without consuming it. On SQLite and PostgreSQL (the code's `dpop_jkt` column, migration 25).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDpopTestKey, createDpopTestProof, type DpopTestKey } from '@gatehouse/protocol/testing/dpop';
import type { Storage } from '../storage/storage.ts';
import {
  authorize, authorizeUrl, Browser, confidentialAuth, hiddenInputs, inputValue, introspect, pkcePair, postForm, seed, startTestServer, type TestServer,
} from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';

const client = seed.confidentialClient;
const backends: { name: string; skip: string | false; options: () => Promise<{ storage?: Storage }> }[] = [
  { name: 'SQLite', skip: false, options: async () => ({}) },
  { name: 'PostgreSQL', skip: await postgresSkipReason(), options: async () => ({ storage: await createTestPostgresStorage() }) },
];

for (const backend of backends) {
  describe(`dpop_jkt binds the authorization code to a DPoP key (RFC 9449 §10) — ${backend.name}`, { skip: backend.skip }, () => {
    let server: TestServer;
    let key: DpopTestKey;
    let otherKey: DpopTestKey;
    before(async () => {
      server = await startTestServer(await backend.options());
      [key, otherKey] = await Promise.all([createDpopTestKey(), createDpopTestKey()]);
    });
    after(() => server.close());

    const proof = (by: DpopTestKey, path = '/oauth/token') => createDpopTestProof(by, { htu: `${server.issuer}${path}`, iat: server.clock.nowSeconds() });

    /** Redeems `code` (confidential demo client) with a proof by `by`, or none. */
    async function redeem(code: string, codeVerifier: string, by: DpopTestKey | undefined) {
      return postForm(`${server.issuer}/oauth/token`, { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: codeVerifier }, {
        authorization: confidentialAuth(), ...(by ? { dpop: await proof(by) } : {}),
      });
    }

    async function tokenIssuedCount(): Promise<number> {
      return (await server.storage.audit.list({ limit: 10_000 })).filter((event) => event.type === 'token.issued').length;
    }

    /** Pushes a request (RFC 9126) and follows it by reference through login and consent; returns the code. */
    async function pushAndAuthorize(extra: Record<string, string>, headers: Record<string, string> = {}) {
      const pkce = pkcePair();
      const pushed = await postForm(`${server.issuer}/oauth/par`, {
        response_type: 'code', client_id: client.id, redirect_uri: client.redirectUri, scope: 'users:read', state: 'state-jkt',
        code_challenge: pkce.codeChallenge, code_challenge_method: 'S256', prompt: 'consent', ...extra,
      }, { authorization: confidentialAuth(), ...headers });
      if (pushed.status !== 201) return { pushed };
      const browser = new Browser();
      let page = await browser.get(authorizeUrl(server, { client_id: client.id, request_uri: pushed.json.request_uri }));
      if (/action="\/login[?"]/.test(page.text)) {
        const login = await browser.post(`${server.url}/login`, {
          _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!, email: seed.users.alice.email, password: seed.users.alice.password,
        });
        page = await browser.get(new URL(login.location!, server.url).href);
      }
      const subject = /<option value="([^"]+)"/.exec(page.text)?.[1] ?? '';
      page = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(page.text), subject, decision: 'allow' });
      assert.equal(page.status, 303, page.text.slice(0, 300));
      const code = new URL(page.location!).searchParams.get('code');
      assert.ok(code, page.location);
      return { pushed, code, codeVerifier: pkce.codeVerifier };
    }

    it('refuses the code without a proof, or with another key, with invalid_grant and issues nothing; the named key then redeems it (token_type DPoP, cnf.jkt)', async () => {
      const { redirect, codeVerifier } = await authorize(server, { extra: { dpop_jkt: key.jkt, prompt: 'consent' } });
      const code = redirect.searchParams.get('code')!;
      assert.ok(code);
      const issuedBefore = await tokenIssuedCount();

      const withoutProof = await redeem(code, codeVerifier, undefined);
      assert.equal(withoutProof.status, 400);
      assert.equal(withoutProof.json.error, 'invalid_grant');
      assert.match(withoutProof.json.error_description, /dpop_jkt/);
      const wrongKey = await redeem(code, codeVerifier, otherKey);
      assert.equal(wrongKey.status, 400);
      assert.equal(wrongKey.json.error, 'invalid_grant');
      assert.match(wrongKey.json.error_description, /does not match the dpop_jkt/);
      assert.equal(wrongKey.json.access_token, undefined);
      assert.equal(await tokenIssuedCount(), issuedBefore, 'nothing issued');

      // The code was not consumed: the client holding the named key redeems it.
      const redeemed = await redeem(code, codeVerifier, key);
      assert.equal(redeemed.status, 200, JSON.stringify(redeemed.json));
      assert.equal(redeemed.json.token_type, 'DPoP');
      const introspected = await introspect(server, redeemed.json.access_token);
      assert.equal((introspected.cnf as { jkt?: string } | undefined)?.jkt, key.jkt);
    });

    it('leaves a code issued without dpop_jkt redeemable with any key or none (the binding is opt-in per request)', async () => {
      const { redirect, codeVerifier } = await authorize(server, { extra: { prompt: 'consent' } });
      const redeemed = await redeem(redirect.searchParams.get('code')!, codeVerifier, otherKey);
      assert.equal(redeemed.status, 200);
      assert.equal(redeemed.json.token_type, 'DPoP');
    });

    it('redirects a malformed dpop_jkt back with invalid_request, state and iss (RFC 6749 §4.1.2.1)', async () => {
      const { redirect } = await authorize(server, { extra: { dpop_jkt: 'not-a-thumbprint' } });
      assert.equal(`${redirect.origin}${redirect.pathname}`, client.redirectUri);
      assert.equal(redirect.searchParams.get('error'), 'invalid_request');
      assert.match(redirect.searchParams.get('error_description') ?? '', /dpop_jkt/);
      assert.equal(redirect.searchParams.get('state'), 'state-123');
      assert.equal(redirect.searchParams.get('iss'), server.issuer);
      assert.equal(redirect.searchParams.get('code'), null);
    });

    it('accepts dpop_jkt in a pushed authorization request (RFC 9126) and binds the code to it', async () => {
      const { code, codeVerifier } = await pushAndAuthorize({ dpop_jkt: key.jkt });
      const wrongKey = await redeem(code!, codeVerifier!, otherKey);
      assert.equal(wrongKey.json.error, 'invalid_grant');
      const redeemed = await redeem(code!, codeVerifier!, key);
      assert.equal(redeemed.status, 200);
    });

    it('binds the code to the key of a DPoP proof sent with the pushed request (RFC 9449 §10.1)', async () => {
      const { code, codeVerifier } = await pushAndAuthorize({}, { dpop: await proof(key, '/oauth/par') });
      const wrongKey = await redeem(code!, codeVerifier!, otherKey);
      assert.equal(wrongKey.json.error, 'invalid_grant');
      const redeemed = await redeem(code!, codeVerifier!, key);
      assert.equal(redeemed.status, 200);
      assert.equal(((await introspect(server, redeemed.json.access_token)).cnf as { jkt?: string } | undefined)?.jkt, key.jkt);
    });

    it('reads dpop_jkt beside a pushed request\'s DPoP proof as every parameter: empty is omitted (the proof binds), repeated is invalid_request (RFC 6749 §3.1)', async () => {
      const { code, codeVerifier } = await pushAndAuthorize({ dpop_jkt: '' }, { dpop: await proof(key, '/oauth/par') });
      assert.ok(code, 'an empty dpop_jkt is no mismatch');
      assert.equal((await redeem(code!, codeVerifier!, otherKey)).json.error, 'invalid_grant', 'bound to the proof\'s key');
      assert.equal((await redeem(code!, codeVerifier!, key)).status, 200);
      const pkce = pkcePair();
      const repeated = await fetch(`${server.issuer}/oauth/par`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: confidentialAuth(), dpop: await proof(key, '/oauth/par') },
        body: new URLSearchParams([
          ['response_type', 'code'], ['client_id', client.id], ['redirect_uri', client.redirectUri], ['scope', 'users:read'], ['state', 'state-jkt'],
          ['code_challenge', pkce.codeChallenge], ['code_challenge_method', 'S256'], ['dpop_jkt', key.jkt], ['dpop_jkt', key.jkt],
        ]),
      });
      assert.equal(repeated.status, 400);
      assert.equal((await repeated.json()).error, 'invalid_request');
    });

    it('refuses a pushed request whose DPoP proof is for another key than its dpop_jkt, or for another endpoint, and stores nothing (RFC 9449 §10.1)', async () => {
      const pushedBefore = (await server.storage.audit.list({ limit: 10_000 })).filter((event) => event.type === 'authorization_request.pushed').length;
      const mismatch = await pushAndAuthorize({ dpop_jkt: otherKey.jkt }, { dpop: await proof(key, '/oauth/par') });
      assert.equal(mismatch.pushed.status, 400);
      assert.equal(mismatch.pushed.json.error, 'invalid_dpop_proof');
      assert.equal(mismatch.pushed.json.request_uri, undefined);
      const tokenEndpointProof = await pushAndAuthorize({}, { dpop: await proof(key, '/oauth/token') });
      assert.equal(tokenEndpointProof.pushed.status, 400);
      assert.equal(tokenEndpointProof.pushed.json.error, 'invalid_dpop_proof');
      const pushedAfter = (await server.storage.audit.list({ limit: 10_000 })).filter((event) => event.type === 'authorization_request.pushed').length;
      assert.equal(pushedAfter, pushedBefore);
    });
  });
}
