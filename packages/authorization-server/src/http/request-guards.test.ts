import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAdminToken } from '../admin/admin-credentials.ts';
import { authorize, authorizeUrl, basic, Browser, confidentialAuth, inputValue, introspect, obtainTokens, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { rawRequest } from '../testing/raw-http.ts';

const FORM = 'application/x-www-form-urlencoded';
const resourceServerAuth = () => basic(seed.resourceServer.id, seed.resourceServer.secret);
const WRONG_BASIC = basic(seed.confidentialClient.id, 'not-the-secret');

describe('request guards (issue 11 items 9, 10, 14, 16)', () => {
  let server: TestServer;
  const logLines: string[] = [];
  before(async () => {
    server = await startTestServer({ logger: { destination: { write: (line: string) => void logLines.push(line) } } });
  });
  after(() => server.close());

  const tokensIssued = async () => (await server.storage.audit.list({ limit: 1000 })).filter((event) => event.type === 'token.issued').length;
  /** A fresh code and the form that redeems it. */
  const freshCodeForm = async () => {
    const { redirect, codeVerifier } = await authorize(server, { extra: { prompt: 'consent' } });
    return new URLSearchParams({ grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier });
  };
  const redeems = async (form: URLSearchParams) => (await postForm(`${server.url}/oauth/token`, Object.fromEntries(form), { authorization: confidentialAuth() })).status === 200;

  describe('multipart/form-data (item 9)', () => {
    const POSTS = [
      '/oauth/token', '/oauth/revoke', '/oauth/token/introspect', '/login', '/oauth/authorize/decision',
      `/portal/clients/${seed.confidentialClient.id}`, `/portal/clients/${seed.confidentialClient.id}/secret`, `/portal/clients/${seed.confidentialClient.id}/delete`,
      '/account/connected-apps/00000000-0000-4000-8000-000000000000/disconnect', `/marketplace/${seed.confidentialClient.id}/connect`, '/admin/v1/clients',
    ];
    // Refused in the shape each route's callers read (http/media-types.ts): RFC 6749 §5.2 JSON at the OAuth
    // endpoints, the admin API's JSON, a page at the browser forms.
    const OAUTH = new Set(['/oauth/token', '/oauth/revoke', '/oauth/token/introspect']);
    for (const path of POSTS) {
      it(`answers a multipart body at POST ${path.replace(/[0-9a-f-]{36}/g, ':id')} with 415, not 500`, async () => {
        const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'multipart/form-data', authorization: confidentialAuth() }, body: 'x' });
        assert.equal(response.status, 415);
        assert.equal(response.headers.get('cache-control'), 'no-store');
        if (path.startsWith('/admin/v1/') || OAUTH.has(path)) {
          const accepted = path.startsWith('/admin/v1/') ? 'application/json' : FORM;
          assert.deepEqual(await response.json(), { error: 'invalid_request', error_description: `the request body must be ${accepted}`, request_id: response.headers.get('x-request-id') });
        } else {
          assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
          assert.match(await response.text(), /<h1>This form cannot be read<\/h1>/);
        }
      });
    }

    it('answers a malformed multipart body at the portal registration and logo forms with 400 invalid_request and registers nothing', async () => {
      // Signed in: without a session the body is not read at all (http/upload-limits.ts).
      const browser = new Browser();
      const login = await browser.get(`${server.url}/portal`);
      assert.equal((await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: '/portal', email: seed.developer.email, password: seed.developer.password })).status, 303);
      const cookie = [...browser.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
      const clientsBefore = (await server.storage.clients.list()).length;
      for (const [path, contentType, body] of [
        ['/portal/clients', 'multipart/form-data', 'x'],
        ['/portal/clients', 'multipart/form-data; boundary=abc', '--abc\r\nContent-Disposition: form-data; name="client_name"\r\n\r\nAcme'],
        [`/portal/clients/${seed.confidentialClient.id}/logo`, 'multipart/form-data; boundary=abc', '--abc\r\nContent-Disposition: form-data; name="logo"; filename="a.png"\r\n\r\n'],
      ] as const) {
        const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': contentType, cookie }, body });
        assert.equal(response.status, 400, path);
        assert.equal((await response.json()).error, 'invalid_request');
      }
      assert.equal((await server.storage.clients.list()).length, clientsBefore);
    });
  });

  describe('two Authorization headers (item 10)', () => {
    for (const [label, first, second] of [['good then bad', confidentialAuth(), WRONG_BASIC], ['bad then good', WRONG_BASIC, confidentialAuth()]] as const) {
      it(`refuses a token request with two Authorization headers (${label}) with 400 invalid_request; the code stays unused`, async () => {
        const form = await freshCodeForm();
        const before = await tokensIssued();
        const response = await rawRequest(server.url, 'POST', '/oauth/token', [['Content-Type', FORM], ['Authorization', first], ['authorization', second]], form.toString());
        assert.equal(response.status, 400);
        assert.equal(response.headers['cache-control'], 'no-store');
        assert.equal(JSON.parse(response.body).error, 'invalid_request');
        assert.equal(await tokensIssued(), before);
        assert.ok(await redeems(form));
      });
    }

    it('refuses two Authorization headers at introspection, revocation, the revocation feed and the admin API with 400; the token stays active', async () => {
      const { tokens } = await obtainTokens(server, { extra: { prompt: 'consent' } });
      const admin = (await createAdminToken(server.storage, 'ops-guards', server.clock.nowSeconds())).token;
      const introspection = await rawRequest(server.url, 'POST', '/oauth/token/introspect',
        [['Content-Type', FORM], ['Authorization', resourceServerAuth()], ['Authorization', WRONG_BASIC]], `token=${tokens.access_token}`);
      const revocation = await rawRequest(server.url, 'POST', '/oauth/revoke',
        [['Content-Type', FORM], ['Authorization', confidentialAuth()], ['Authorization', WRONG_BASIC]], `token=${tokens.refresh_token}`);
      const feed = await rawRequest(server.url, 'GET', '/oauth/revoked-access-tokens?since=0', [['Authorization', resourceServerAuth()], ['Authorization', WRONG_BASIC]]);
      const adminApi = await rawRequest(server.url, 'GET', '/admin/v1/clients', [['Authorization', `Bearer ${admin}`], ['Authorization', 'Bearer wrong']]);
      for (const response of [introspection, revocation, feed, adminApi]) {
        assert.equal(response.status, 400);
        assert.equal(JSON.parse(response.body).error, 'invalid_request');
      }
      assert.equal((await introspect(server, tokens.access_token)).active, true, 'the revocation went through');
      // One header is still fine.
      const single = await rawRequest(server.url, 'GET', '/admin/v1/clients', [['Authorization', `Bearer ${admin}`]]);
      assert.equal(single.status, 200);
    });
  });

  describe('Cache-Control: no-store (item 14)', () => {
    const cases: [string, RequestInit][] = [
      ['a body Fastify cannot parse (415)', { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<a/>' }],
      ['a body over the limit (413)', { method: 'POST', headers: { 'content-type': FORM }, body: `a=${'x'.repeat(9000)}` }],
      ['a malformed JSON body (400)', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }],
      ['a client that fails authentication (401)', { method: 'POST', headers: { 'content-type': FORM, authorization: WRONG_BASIC }, body: 'token=x' }],
    ];
    for (const path of ['/oauth/token', '/oauth/revoke', '/oauth/token/introspect']) {
      for (const [label, init] of cases) {
        it(`sends no-store on ${label} at ${path}`, async () => {
          const response = await fetch(`${server.url}${path}`, init);
          assert.ok(response.status >= 400 && response.status < 500, String(response.status));
          assert.equal(response.headers.get('cache-control'), 'no-store');
          assert.equal((await response.json()).error === undefined, false);
        });
      }
    }

    it('sends no-store on an authorization error redirect and on the authorization error page', async () => {
      const redirect = await fetch(authorizeUrl(server, {
        response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri, scope: 'users:read',
      }), { redirect: 'manual' });
      assert.equal(redirect.status, 303);
      assert.equal(new URL(redirect.headers.get('location')!).searchParams.get('error'), 'invalid_request');
      assert.equal(redirect.headers.get('cache-control'), 'no-store');
      const page = await fetch(authorizeUrl(server, { response_type: 'code', client_id: '00000000-0000-4000-8000-000000000000', state: 's' }), { redirect: 'manual' });
      assert.equal(page.status, 400);
      assert.equal(page.headers.get('cache-control'), 'no-store');
    });
  });

  describe('credentials in the query string (item 16)', () => {
    it('refuses client_secret in the token endpoint URL with 400 invalid_request, issues no token, and logs no query string', async () => {
      const form = await freshCodeForm();
      const secretMarker = 'query-secret-value-7f3a';
      const before = await tokensIssued();
      const response = await postForm(`${server.url}/oauth/token?client_id=${seed.confidentialClient.id}&client_secret=${secretMarker}`, Object.fromEntries(form), { authorization: confidentialAuth() });
      assert.equal(response.status, 400);
      assert.equal(response.json.error, 'invalid_request');
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.equal(await tokensIssued(), before);
      assert.ok(await redeems(form));
      const logged = logLines.join('\n');
      assert.match(logged, /"url":"\/oauth\/token"/, 'the request was logged, by its path');
      assert.doesNotMatch(logged, new RegExp(secretMarker));
      assert.doesNotMatch(logged, /client_secret=/);
    });

    for (const [path, parameter] of [['/oauth/token/introspect', 'client_secret'], ['/oauth/revoke', 'token'], ['/oauth/revoked-access-tokens', 'client_secret']] as const) {
      it(`refuses ${parameter} in the URL of ${path} with 400 invalid_request`, async () => {
        const response = await fetch(`${server.url}${path}?${parameter}=x`, {
          method: path.endsWith('tokens') ? 'GET' : 'POST', headers: { 'content-type': FORM, authorization: resourceServerAuth() }, ...(path.endsWith('tokens') ? {} : { body: 'token=x' }),
        });
        assert.equal(response.status, 400);
        assert.equal((await response.json()).error, 'invalid_request');
      });
    }

    it('refuses client_secret in the URL of /oauth/par with 400 invalid_request and stores no pushed request (RFC 9126 §2: client authentication as at the token endpoint)', async () => {
      const pushed = async () => (await server.storage.audit.list({ limit: 1000 })).filter((event) => event.type === 'authorization_request.pushed').length;
      const before = await pushed();
      const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
      const response = await postForm(`${server.url}/oauth/par?client_secret=query-secret-value-7f3a`, {
        response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri, scope: 'users:read', state: 's',
        code_challenge: challenge, code_challenge_method: 'S256',
      }, { authorization: confidentialAuth() });
      assert.equal(response.status, 400);
      assert.equal(response.json.error, 'invalid_request');
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.equal(await pushed(), before, 'nothing was pushed');
    });

    it('logs the path of every request without its query string', async () => {
      await fetch(`${server.url}/health?token=logged-token-marker`);
      assert.doesNotMatch(logLines.join('\n'), /logged-token-marker/);
    });
  });
});
