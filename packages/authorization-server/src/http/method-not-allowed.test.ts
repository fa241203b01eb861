import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../testing/harness.ts';
import { METHOD_NOT_ALLOWED_BODY, NOT_FOUND_BODY } from './method-not-allowed.ts';

describe('wrong methods and unknown paths (issue 11 item 15)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const CASES: [method: string, path: string, allow: string][] = [
    ['GET', '/oauth/token', 'POST'],
    ['GET', '/oauth/revoke', 'POST'],
    ['GET', '/oauth/token/introspect', 'POST'],
    // Its GET has effects (a request_uri spent, an interaction stored): HEAD is not answered as GET (routes.ts).
    ['HEAD', '/oauth/authorize', 'GET'],
    ['PUT', '/oauth/authorize', 'GET'],
    ['DELETE', '/oauth/authorize', 'GET'],
    ['POST', '/oauth/authorize', 'GET'],
    ['HEAD', '/login/upstream/callback', 'GET'],
    ['POST', '/.well-known/oauth-authorization-server', 'GET, HEAD'],
    ['POST', '/.well-known/jwks.json', 'GET, HEAD'],
    ['PUT', '/login', 'GET, HEAD, POST'],
    ['GET', '/account/sessions/end-others', 'POST'],
    ['DELETE', '/portal/clients', 'GET, HEAD, POST'],
    ['GET', '/oauth/authorize/decision', 'POST'],
    ['POST', '/health', 'GET, HEAD'],
    ['DELETE', '/oauth/revoked-access-tokens', 'GET, HEAD'],
    ['PATCH', '/portal', 'GET, HEAD'],
    ['PUT', '/admin/v1/clients', 'GET, HEAD, POST'],
  ];
  for (const [method, path, allow] of CASES) {
    it(`answers ${method} ${path} with 405 and Allow: ${allow} (RFC 9110 §15.5.6)`, async () => {
      const response = await fetch(`${server.url}${path}?state=echo-marker`, { method });
      assert.equal(response.status, 405);
      assert.equal(response.headers.get('allow'), allow);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      if (method === 'HEAD') return; // no body
      const text = await response.text();
      assert.deepEqual(JSON.parse(text), { ...METHOD_NOT_ALLOWED_BODY, request_id: response.headers.get('x-request-id') }); // issue 14
      assert.doesNotMatch(text, /echo-marker|oauth|well-known/);
    });
  }

  it('answers 405 before reading the body (an unparseable body does not turn it into 415)', async () => {
    const response = await fetch(`${server.url}/oauth/authorize`, { method: 'PUT', headers: { 'content-type': 'application/x-unknown' }, body: 'x' });
    assert.equal(response.status, 405);
  });

  it('answers an unknown path with 404 whose body does not repeat the URL or its query string', async () => {
    const response = await fetch(`${server.url}/oauth/nothing-here?token=gat_secret-marker&client_secret=s`);
    assert.equal(response.status, 404);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const text = await response.text();
    assert.deepEqual(JSON.parse(text), { ...NOT_FOUND_BODY, request_id: response.headers.get('x-request-id') }); // issue 14
    assert.doesNotMatch(text, /secret-marker|nothing-here|client_secret/);
  });

  // What a browser sends when it navigates (a link, a typed address, a reload).
  const NAVIGATION = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

  it('gives a browser that opens a POST-only page (a reload of the consent decision) a 405 page in its language with a way home', async () => {
    for (const path of ['/oauth/authorize/decision', '/account/sessions/end-others', '/account/security/disable']) {
      const response = await fetch(`${server.url}${path}?state=echo-marker`, { headers: { ...NAVIGATION, 'accept-language': 'de' } });
      assert.equal(response.status, 405, path);
      assert.equal(response.headers.get('allow'), 'POST', path);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
      const text = await response.text();
      assert.match(text, /<html lang="de">/);
      assert.match(text, /<h1>Diese Seite kann nicht direkt geöffnet werden<\/h1>/);
      assert.match(text, /<a href="\/">/, 'a way home');
      assert.doesNotMatch(text, /echo-marker/);
    }
  });

  it('sends a browser that opens /login (no return_to) to the account page\'s sign-in, and /portal/clients (a refused registration\'s address) to the registration form, changing nothing', async () => {
    for (const [path, location] of [['/login', '/account'], ['/portal/clients', '/portal/clients/new']] as const) {
      const response = await fetch(`${server.url}${path}?state=echo-marker`, { headers: NAVIGATION, redirect: 'manual' });
      assert.equal(response.status, 303, path);
      assert.equal(response.headers.get('location'), location, path);
      assert.equal(response.headers.get('cache-control'), 'no-store', path);
      const signIn = await fetch(`${server.url}${location}`, { headers: NAVIGATION });
      assert.equal(signIn.status, 200, location);
      assert.match(await signIn.text(), /name="password"/, `${location}: the sign-in form when signed out`);
    }
  });

  it('gives a browser a 404 page for an unknown path, without the URL or its query string', async () => {
    const response = await fetch(`${server.url}/account/nothing-here?token=gat_secret-marker`, { headers: NAVIGATION });
    assert.equal(response.status, 404);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    const text = await response.text();
    assert.match(text, /<h1>Page not found<\/h1>/);
    assert.match(text, /<a href="\/">Go to the home page<\/a>/);
    assert.doesNotMatch(text, /secret-marker|nothing-here/);
  });

  it('keeps the JSON body for everything but a browser\'s navigation (API clients, a POST, Accept: application/json)', async () => {
    const json = await fetch(`${server.url}/oauth/token`, { headers: { accept: 'application/json' } });
    assert.equal(json.status, 405);
    assert.equal((await json.json()).error, 'method_not_allowed');
    const post = await fetch(`${server.url}/nothing-here`, { method: 'POST', headers: NAVIGATION });
    assert.equal(post.status, 404);
    assert.equal((await post.json()).error, 'not_found');
  });

  it('keeps serving the methods a path has (HEAD of a GET route included)', async () => {
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
    assert.equal((await fetch(`${server.url}/health`, { method: 'HEAD' })).status, 200);
    assert.equal((await fetch(`${server.url}/.well-known/oauth-authorization-server`)).status, 200);
  });
});
