/**
 * Outside development the login session cookie is `__Host-gatehouse_session` (issue 11 item 25); the
 * authorization endpoint must read it under that name, or no one ever reaches the consent page there
 * (found by test/e2e/run-it-for-real.test.ts). Staging behind a trusted TLS proxy, as in host-cookies.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authorizeUrl, Browser, hiddenInputs, inputValue, pkcePair, seed, startTestServer, type TestServer } from '../testing/harness.ts';

class BehindTlsProxy extends Browser {
  override async request(url: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-proto', 'https');
    return super.request(url, { ...init, headers });
  }
}

describe('the consent step outside development reads the __Host- session cookie', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ environment: 'staging', issuer: 'https://auth.example', trustProxy: '127.0.0.1' });
  });
  after(() => server.close());

  it('after login the authorization request shows the consent page (not the login page again), and Allow redirects with a code', async () => {
    const browser = new BehindTlsProxy();
    const request = authorizeUrl(server, {
      response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri, scope: 'users:read',
      state: 'staging-state', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256',
    });
    const login = await browser.get(request);
    assert.match(login.text, /action="\/login[?"]/);
    const signedIn = await browser.post(`${server.url}/login`, {
      _csrf: inputValue(login.text, '_csrf')!, return_to: inputValue(login.text, 'return_to')!, email: seed.users.bob.email, password: seed.users.bob.password,
    });
    assert.equal(signedIn.status, 303);
    assert.ok(browser.cookies.has('__Host-gatehouse_session'));
    const consent = await browser.get(new URL(signedIn.location!, server.url).href);
    assert.match(consent.text, /action="\/oauth\/authorize\/decision"/, 'the consent page');
    const decision = await browser.post(`${server.url}/oauth/authorize/decision`, {
      ...hiddenInputs(consent.text), subject: `urn:gatehouse:company:${seed.companies[0].id}`, decision: 'allow',
    });
    assert.equal(decision.status, 303);
    assert.ok(new URL(decision.location!).searchParams.get('code'));
  });
});
