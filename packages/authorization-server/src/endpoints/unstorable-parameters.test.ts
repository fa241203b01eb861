/**
 * Request values that PostgreSQL's `text` cannot hold (a NUL character): such a value matches nothing stored, and
 * the answer is the one an unknown value gets, never a 500 `server_error` (the database refuses the parameter,
 * 22021). Black-box, on both backends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Storage } from '../storage/storage.ts';
import { authorize, authorizeUrl, basic, Browser, confidentialAuth, inputValue, pkcePair, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';
import { createAdminToken } from '../admin/admin-credentials.ts';

const client = seed.confidentialClient;
const NUL_CLIENT_ID = `${client.id}\u0000`;

const backends: { name: string; skip: string | false; options: () => Promise<{ storage?: Storage }> }[] = [
  { name: 'SQLite', skip: false, options: async () => ({}) },
  { name: 'PostgreSQL', skip: await postgresSkipReason(), options: async () => ({ storage: await createTestPostgresStorage() }) },
];

for (const backend of backends) {
  describe(`a NUL character in request values (PostgreSQL text cannot hold it) on ${backend.name}`, { skip: backend.skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(await backend.options());
    });
    after(() => server.close());

    it('a client_id with a NUL is an unknown client: 401 invalid_client at the token, introspection, revocation and PAR endpoints (RFC 6749 §5.2)', async () => {
      const pkce = pkcePair();
      const requests: Array<[string, string, Record<string, string>, Record<string, string>]> = [
        ['token, client_id in the body', '/oauth/token', { grant_type: 'refresh_token', refresh_token: 'x', client_id: NUL_CLIENT_ID }, {}],
        ['token, HTTP Basic', '/oauth/token', { grant_type: 'refresh_token', refresh_token: 'x' }, { authorization: basic(NUL_CLIENT_ID, client.secret) }],
        ['introspection, HTTP Basic', '/oauth/token/introspect', { token: 'x' }, { authorization: basic(NUL_CLIENT_ID, client.secret) }],
        ['revocation, client_id in the body', '/oauth/revoke', { token: 'x', client_id: NUL_CLIENT_ID }, {}],
        ['PAR, HTTP Basic', '/oauth/par', {
          response_type: 'code', redirect_uri: client.redirectUri, scope: 'users:read', state: 's', code_challenge: pkce.codeChallenge, code_challenge_method: 'S256',
        }, { authorization: basic(NUL_CLIENT_ID, client.secret) }],
      ];
      for (const [label, path, form, headers] of requests) {
        const response = await postForm(`${server.url}${path}`, form, headers);
        assert.equal(response.status, 401, label);
        assert.equal(response.json.error, 'invalid_client', label);
      }
    });

    it('a client_id with a NUL at /oauth/authorize is the unknown-app error page (SPEC decision 5), by value and with a request_uri', async () => {
      const byValue = await new Browser().get(authorizeUrl(server, {
        response_type: 'code', client_id: NUL_CLIENT_ID, redirect_uri: client.redirectUri, scope: 'users:read', state: 's',
      }));
      assert.equal(byValue.status, 400);
      assert.equal(byValue.location, undefined, 'no redirect');
      const byReference = await new Browser().get(authorizeUrl(server, {
        client_id: NUL_CLIENT_ID, request_uri: `urn:ietf:params:oauth:request_uri:${'A'.repeat(43)}`,
      }));
      assert.equal(byReference.status, 400);
      assert.equal(byReference.location, undefined, 'no redirect');
    });

    it('a login whose return_to continues a request_uri under a client_id with a NUL signs in and goes on (303), not 500', async () => {
      const browser = new Browser();
      const loginPage = await browser.get(authorizeUrl(server, {
        response_type: 'code', client_id: client.id, redirect_uri: client.redirectUri, scope: 'users:read', state: 's',
        code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256',
      }));
      const returnTo = `/oauth/authorize?client_id=${encodeURIComponent(NUL_CLIENT_ID)}&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A${'A'.repeat(43)}`;
      const login = await browser.post(`${server.url}/login`, {
        _csrf: inputValue(loginPage.text, '_csrf')!, return_to: returnTo, email: seed.users.alice.email, password: seed.users.alice.password,
      });
      assert.equal(login.status, 303);
      assert.equal(login.location, returnTo);
    });

    it("a redirect_uri with a NUL at the code exchange is the redirect_uri mismatch (invalid_grant, RFC 6749 §4.1.3), and the code still redeems", async () => {
      const { redirect, codeVerifier } = await authorize(server, { extra: { prompt: 'consent' } });
      const form = { grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: client.redirectUri, code_verifier: codeVerifier };
      const refused = await postForm(`${server.url}/oauth/token`, { ...form, redirect_uri: `${client.redirectUri}\u0000` }, { authorization: confidentialAuth() });
      assert.equal(refused.status, 400);
      assert.deepEqual([refused.json.error, refused.json.error_description], ['invalid_grant', 'redirect_uri does not match the authorization request']);
      const redeemed = await postForm(`${server.url}/oauth/token`, form, { authorization: confidentialAuth() });
      assert.equal(redeemed.status, 200, 'the refusal changed nothing');
    });

    it('a grant_id with a NUL is an unknown grant: the admin API answers 404 not_found, not 500', async () => {
      const { token } = await createAdminToken(server.storage, `ops-${backend.name}`, server.clock.nowSeconds());
      const response = await fetch(`${server.url}/admin/v1/grants/${encodeURIComponent('0190a8c4-0000-7000-8000-000000000000\u0000')}`, {
        method: 'DELETE', headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(response.status, 404, await response.text());
    });

    it('an API key id with a NUL is an unknown key: the admin API answers 404 not_found, not 500', async () => {
      const { token } = await createAdminToken(server.storage, `keys-${backend.name}`, server.clock.nowSeconds());
      for (const method of ['GET', 'DELETE']) {
        const response = await fetch(`${server.url}/admin/v1/api-keys/${encodeURIComponent('0190a8c4-0000-7000-8000-000000000000\u0000')}`, {
          method, headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(response.status, 404, `${method}: ${await response.text()}`);
      }
    });

    it('a client_id or delivery_id with a NUL at the webhook routes is an unknown one: the admin API answers 404 not_found, not 500', async () => {
      const { token } = await createAdminToken(server.storage, `hooks-${backend.name}`, server.clock.nowSeconds());
      const headers = { authorization: `Bearer ${token}` };
      const webhook = await fetch(`${server.url}/admin/v1/clients/${encodeURIComponent(NUL_CLIENT_ID)}/webhook`, { headers });
      assert.equal(webhook.status, 404, await webhook.text());
      const removed = await fetch(`${server.url}/admin/v1/clients/${encodeURIComponent(NUL_CLIENT_ID)}/webhook`, { method: 'DELETE', headers });
      assert.equal(removed.status, 404, await removed.text());
      for (const [clientId, deliveryId] of [[NUL_CLIENT_ID, '0190a8c4-0000-7000-8000-000000000000'], [client.id, '0190a8c4-0000-7000-8000-000000000000\u0000']]) {
        const resend = await fetch(`${server.url}/admin/v1/clients/${encodeURIComponent(clientId!)}/webhook/deliveries/${encodeURIComponent(deliveryId!)}/resend`, { method: 'POST', headers });
        assert.equal(resend.status, 404, await resend.text());
      }
    });

    it('a known client still authenticates after those requests', async () => {
      const response = await postForm(`${server.url}/oauth/token/introspect`, { token: 'x' }, { authorization: confidentialAuth() });
      assert.equal(response.status, 200);
      assert.deepEqual(response.json, { active: false });
    });
  });
}
