import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAdminToken } from '../admin/admin-credentials.ts';
import { authorize, Browser, confidentialAuth, inputValue, introspect, obtainTokens, pkcePair, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { pngImage } from '../testing/images.ts';
import { openSocket, parseRawResponse } from '../testing/raw-http.ts';
import { acceptedBodies, acceptsMediaType } from './media-types.ts';

const FORM = 'application/x-www-form-urlencoded';

describe('the media types each route takes (http/media-types.ts)', () => {
  let server: TestServer;
  let adminToken: string;
  before(async () => {
    server = await startTestServer();
    adminToken = (await createAdminToken(server.storage, 'ops-media-types', server.clock.nowSeconds())).token;
  });
  after(() => server.close());

  it('leaves no parser for text/plain, which no route takes (Fastify registers one by default)', () => {
    assert.equal(server.app.hasContentTypeParser('text/plain'), false);
    assert.equal(server.app.hasContentTypeParser('application/json'), true);
  });

  const auditTypes = async () => (await server.storage.audit.list({ limit: 1000 })).map((event) => event.type);
  const count = async (type: string) => (await auditTypes()).filter((event) => event === type).length;
  const clientCount = async () => (await server.storage.clients.list()).length;
  const admin = (method: string, path: string, headers: Record<string, string>, body?: BodyInit) =>
    fetch(`${server.url}/admin/v1${path}`, { method, headers: { authorization: `Bearer ${adminToken}`, ...headers }, body });

  /** The JSON 415 of an OAuth endpoint: RFC 6749 §5.2 shape, no-store, what it takes in Accept. */
  const assertOAuthRefusal = async (response: Response) => {
    assert.equal(response.status, 415);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.equal(response.headers.get('pragma'), 'no-cache');
    assert.equal(response.headers.get('accept'), FORM);
    assert.deepEqual(await response.json(), {
      error: 'invalid_request', error_description: 'the request body must be application/x-www-form-urlencoded', request_id: response.headers.get('x-request-id'),
    });
  };
  /** The 415 page of a browser form: translated, with a way onward. */
  const assertPageRefusal = (response: { status: number; headers: Headers; text: string }, language: 'en' | 'de' = 'en') => {
    assert.equal(response.status, 415);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.ok(response.headers.get('accept')?.startsWith(FORM), 'Accept names the form type');
    if (language === 'en') assert.match(response.text, /<h1>This form cannot be read<\/h1>/);
    else assert.match(response.text, /<h1>Dieses Formular kann nicht gelesen werden<\/h1>/);
    assert.match(response.text, /<p class="onward"><a href="\/[^"]*">/);
  };
  /** The JSON 415 of the admin API. */
  const assertAdminRefusal = async (response: Response, accepts = 'application/json') => {
    assert.equal(response.status, 415);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.equal(response.headers.get('accept'), accepts);
    assert.deepEqual(await response.json(), {
      error: 'invalid_request', error_description: `the request body must be ${accepts}`, request_id: response.headers.get('x-request-id'),
    });
  };

  describe('browser forms take application/x-www-form-urlencoded only', () => {
    it('refuses a JSON login with a valid CSRF token and password with a 415 page: nobody is signed in', async () => {
      const browser = new Browser();
      const page = await browser.get(`${server.url}/account`);
      const csrf = inputValue(page.text, '_csrf')!;
      const answer = await browser.request(`${server.url}/login`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ _csrf: csrf, return_to: '/account', email: seed.users.alice.email, password: seed.users.alice.password }),
      });
      assertPageRefusal(answer);
      assert.equal(answer.location, undefined);
      assert.ok(!answer.headers.getSetCookie().some((line) => line.startsWith('gatehouse_session=')), 'no session cookie');
      assert.deepEqual(await server.storage.loginSessions.listActiveOfUser(seed.users.alice.id, server.clock.nowSeconds()), [], 'no session created');
      // The same browser, the same token, as a form: signed in (the refusal spent nothing).
      const form = await browser.post(`${server.url}/login`, { _csrf: csrf, return_to: '/account', email: seed.users.alice.email, password: seed.users.alice.password });
      assert.equal(form.status, 303);
    });

    it('answers in the language of the browser, with the page the form was sent from as the way back', async () => {
      const browser = new Browser();
      const page = await browser.get(`${server.url}/account/forgot-password`);
      const answer = await browser.request(`${server.url}/account/forgot-password`, {
        method: 'POST', headers: { 'content-type': 'text/plain', 'accept-language': 'de', referer: `${server.url}/account/forgot-password` },
        body: `_csrf=${inputValue(page.text, '_csrf')}&email=${seed.users.alice.email}`,
      });
      assertPageRefusal(answer, 'de');
      assert.match(answer.text, /<a href="\/account\/forgot-password">/);
    });

    it('refuses a JSON registration at the portal (a signed-in developer, a valid CSRF token) with a 415 page: no client is registered', async () => {
      const browser = new Browser();
      const login = await browser.get(`${server.url}/portal`);
      assert.equal((await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: '/portal', email: seed.developer.email, password: seed.developer.password })).status, 303);
      const form = await browser.get(`${server.url}/portal/clients/new`);
      const [before, registeredBefore] = [await clientCount(), await count('client.registered')];
      const answer = await browser.request(`${server.url}/portal/clients`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          _csrf: inputValue(form.text, '_csrf'), client_name: 'Json Books', token_endpoint_auth_method: 'client_secret_basic',
          redirect_uris: 'https://json.example/cb', scope: 'users:read', subject_type: 'company',
        }),
      });
      assertPageRefusal(answer);
      assert.equal(answer.headers.get('accept'), `${FORM}, multipart/form-data`);
      assert.equal(await clientCount(), before);
      assert.equal(await count('client.registered'), registeredBefore);
    });

    for (const [label, contentType] of [['multipart', 'multipart/form-data; boundary=x'], ['XML', 'application/xml'], ['a malformed type', 'form']] as const) {
      it(`refuses ${label} at the consent decision and sign-out forms with a 415 page`, async () => {
        for (const path of ['/oauth/authorize/decision', '/logout', '/oauth/authorize/language']) {
          const answer = await new Browser().request(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body: '_csrf=x' });
          assertPageRefusal(answer);
        }
      });
    }

    it('refuses a body without a Content-Type with a 415 page before reading it', async () => {
      const answer = await new Browser().request(`${server.url}/login`, { method: 'POST', body: new Uint8Array(Buffer.from('_csrf=x&email=a&password=b')) });
      assertPageRefusal(answer);
    });

    it('takes a form in capitals and with parameters (RFC 9110 §8.3.1)', async () => {
      const browser = new Browser();
      const page = await browser.get(`${server.url}/account`);
      const answer = await browser.request(`${server.url}/login`, {
        method: 'POST', headers: { 'content-type': 'Application/X-WWW-Form-URLEncoded ; Charset=UTF-8' },
        body: new URLSearchParams({ _csrf: inputValue(page.text, '_csrf')!, return_to: '/account', email: seed.users.bob.email, password: seed.users.bob.password }).toString(),
      });
      assert.equal(answer.status, 303);
      assert.equal(answer.location, '/account');
    });
  });

  describe('the OAuth endpoints take application/x-www-form-urlencoded only (RFC 6749 §4.1.3, RFC 7009 §2.1, RFC 7662 §2.1, RFC 9126 §2.1)', () => {
    it('refuses a code redemption sent as JSON with 415 invalid_request: no token is issued, and the code still redeems as a form', async () => {
      const { redirect, codeVerifier } = await authorize(server, { extra: { prompt: 'consent' } });
      const form = { grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier };
      const issued = await count('token.issued');
      await assertOAuthRefusal(await fetch(`${server.url}/oauth/token`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: confidentialAuth() }, body: JSON.stringify(form),
      }));
      assert.equal(await count('token.issued'), issued);
      const redeemed = await postForm(`${server.url}/oauth/token`, form, { authorization: confidentialAuth(), 'content-type': `${FORM.toUpperCase()}; charset=utf-8` });
      assert.equal(redeemed.status, 200);
    });

    it('refuses revocation and introspection sent as JSON or text with 415: the token stays active', async () => {
      const { tokens } = await obtainTokens(server, { extra: { prompt: 'consent' } });
      for (const path of ['/oauth/revoke', '/oauth/token/introspect']) {
        for (const [contentType, body] of [['application/json', JSON.stringify({ token: tokens.refresh_token })], ['text/plain', `token=${tokens.refresh_token}`]] as const) {
          await assertOAuthRefusal(await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': contentType, authorization: confidentialAuth() }, body }));
        }
      }
      assert.equal((await introspect(server, tokens.access_token)).active, true);
    });

    it('refuses a pushed authorization request sent as JSON with 415: nothing is pushed', async () => {
      const pushed = await count('authorization_request.pushed');
      const { codeChallenge } = pkcePair();
      await assertOAuthRefusal(await fetch(`${server.url}/oauth/par`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: confidentialAuth() },
        body: JSON.stringify({
          response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri, scope: 'users:read', state: 's',
          code_challenge: codeChallenge, code_challenge_method: 'S256',
        }),
      }));
      assert.equal(await count('authorization_request.pushed'), pushed);
    });

    it('answers a bodiless POST as before (400 invalid_request from the endpoint, not 415)', async () => {
      const response = await fetch(`${server.url}/oauth/token`, { method: 'POST', headers: { authorization: confidentialAuth() } });
      assert.equal(response.status, 400);
      assert.equal((await response.json()).error, 'invalid_request');
    });

    it('answers a JSON body before reading it: the 415 comes while the declared body was never sent', async () => {
      const socket = await openSocket(server.url);
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write(`POST /oauth/token HTTP/1.1\r\nHost: ${new URL(server.url).host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"grant_type":`);
      const timeout = setTimeout(() => socket.destroy(), 5000);
      await closed;
      clearTimeout(timeout);
      const response = parseRawResponse(Buffer.concat(chunks).toString('utf8'));
      assert.equal(response.status, 415);
      assert.equal(JSON.parse(response.body).error, 'invalid_request');
    });

    it('keeps 405 for a method a route does not serve, whatever the body', async () => {
      const response = await fetch(`${server.url}/oauth/token`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
      assert.equal(response.status, 405);
    });
  });

  describe('the admin API takes application/json only (image/* at its logo route)', () => {
    it('refuses a form body at POST /admin/v1/clients with 415 in its JSON shape: no client is registered', async () => {
      const [before, registeredBefore] = [await clientCount(), await count('client.registered')];
      await assertAdminRefusal(await admin('POST', '/clients', { 'content-type': FORM }, 'client_name=a&redirect_uris=https%3A%2F%2Fa.example%2Fcb&scope=users%3Aread&token_endpoint_auth_method=none'));
      await assertAdminRefusal(await admin('POST', '/clients', { 'content-type': 'multipart/form-data; boundary=x' }, '--x--'));
      assert.equal(await clientCount(), before);
      assert.equal(await count('client.registered'), registeredBefore);
      // As JSON, in capitals with a charset: registered.
      const created = await admin('POST', '/clients', { 'content-type': 'APPLICATION/JSON; charset=UTF-8' }, JSON.stringify({
        client_name: 'Media Types', redirect_uris: ['https://media.example/cb'], scope: 'users:read', token_endpoint_auth_method: 'none',
      }));
      assert.equal(created.status, 201);
    });

    it('refuses a form body at PATCH and a JSON body at the logo route with 415; the client is unchanged', async () => {
      const client = seed.confidentialClient.id;
      const before = await server.storage.clients.find(client);
      await assertAdminRefusal(await admin('PATCH', `/clients/${client}`, { 'content-type': FORM }, 'client_name=Renamed'));
      await assertAdminRefusal(await admin('PUT', `/clients/${client}/logo`, { 'content-type': 'application/json' }, '{}'), 'image/*');
      assert.deepEqual(await server.storage.clients.find(client), before);
      const logo = await admin('PUT', `/clients/${client}/logo`, { 'content-type': 'image/png' }, new Uint8Array(pngImage(256, 256)));
      assert.equal(logo.status, 200);
    });

    it('still takes bodiless lifecycle steps and deletions (no Content-Type, no body)', async () => {
      const created = await admin('POST', '/clients', { 'content-type': 'application/json' }, JSON.stringify({
        client_name: 'Bodiless', redirect_uris: ['https://bodiless.example/cb'], scope: 'users:read', token_endpoint_auth_method: 'none',
      }));
      const { client_id: clientId } = await created.json();
      assert.equal((await admin('POST', `/clients/${clientId}/suspend`, {})).status, 200);
      assert.equal((await admin('POST', `/clients/${clientId}/reactivate`, {})).status, 200);
      assert.equal((await admin('DELETE', `/clients/${clientId}`, {})).status, 200);
    });
  });

  describe('the table', () => {
    it('matches media types without parameters, case-insensitively as Fastify reads them, and type/* by its type only', () => {
      assert.equal(acceptsMediaType(acceptedBodies('/login'), FORM), true);
      assert.equal(acceptsMediaType(acceptedBodies('/login'), 'application/json'), false);
      assert.equal(acceptsMediaType(acceptedBodies('/login'), undefined), false);
      assert.equal(acceptsMediaType(acceptedBodies('/portal/clients'), 'multipart/form-data'), true);
      assert.equal(acceptsMediaType(acceptedBodies('/portal/clients/:client_id'), 'multipart/form-data'), false);
      assert.equal(acceptsMediaType(acceptedBodies('/admin/v1/users/:id'), 'application/json'), true);
      assert.equal(acceptsMediaType(acceptedBodies('/admin/v1/clients/:client_id/logo'), 'image/webp'), true);
      assert.equal(acceptsMediaType(acceptedBodies('/admin/v1/clients/:client_id/logo'), 'image/'), false);
      assert.equal(acceptsMediaType(acceptedBodies('/admin/v1/clients/:client_id/logo'), 'imagex/png'), false);
      assert.equal(acceptsMediaType(acceptedBodies('/admin/clients/:client_id/:action'), 'application/json'), false, 'the console is a browser form, not the admin API');
    });
  });
});
