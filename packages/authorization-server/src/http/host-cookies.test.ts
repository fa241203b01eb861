import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authorize, Browser, inputValue, seed, startTestServer, type TestServer } from '../testing/harness.ts';

// Issue 11 item 25: outside development every cookie is `__Host-` prefixed, Secure, Path=/, without Domain.
// The staging server sits behind a trusted proxy that terminated TLS (X-Forwarded-Proto: https), as in
// metadata.test.ts; this browser stand-in sends that header on every request and records every Set-Cookie.
class BehindTlsProxy extends Browser {
  readonly setCookies: string[] = [];
  override async request(url: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-proto', 'https');
    const response = await super.request(url, { ...init, headers });
    this.setCookies.push(...response.headers.getSetCookie());
    return response;
  }
}

const developer = seed.developer;

describe('cookies outside development (issue 11 item 25: __Host- prefix)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ environment: 'staging', issuer: 'https://auth.example', trustProxy: '127.0.0.1' });
  });
  after(() => server.close());

  it('sets every cookie (CSRF, login session, device, portal secret hand-over, and their clearing) as __Host- with Secure; Path=/; no Domain', async () => {
    const browser = new BehindTlsProxy();
    const login = await browser.get(`${server.url}/portal`);
    assert.equal(login.status, 200);
    const signedIn = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: '/portal', email: developer.email, password: developer.password });
    assert.equal(signedIn.status, 303);
    const form = await browser.get(`${server.url}/portal/clients/new`);
    const registration = new FormData();
    for (const [name, value] of Object.entries({
      _csrf: inputValue(form.text, '_csrf')!, client_name: 'Fjord Books', token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: 'https://fjord.example/oauth/callback', scope: 'users:read', subject_type: 'company',
    })) registration.append(name, value);
    const created = await browser.request(`${server.url}/portal/clients`, { method: 'POST', body: registration });
    assert.equal(created.status, 303, created.text.slice(0, 300));
    const shown = await browser.get(`${server.url}${created.location}`);
    assert.match(shown.text, /<code id="client_secret"[^>]*>[A-Za-z0-9_-]{43}<\/code>/, 'the hand-over cookie is read under its __Host- name');
    const signOut = await browser.post(`${server.url}/logout`, { _csrf: inputValue(shown.text, '_csrf')! });
    assert.equal(signOut.status, 303);

    const names = new Set(browser.setCookies.map((line) => line.slice(0, line.indexOf('='))));
    assert.deepEqual([...names].sort(), ['__Host-gatehouse_csrf', '__Host-gatehouse_device', '__Host-gatehouse_new_secret', '__Host-gatehouse_session']);
    for (const line of browser.setCookies) {
      assert.ok(line.startsWith('__Host-'), line);
      const attributes = line.split(';').slice(1).map((part) => part.trim());
      assert.ok(attributes.includes('Secure'), line);
      assert.ok(attributes.includes('Path=/'), line);
      assert.ok(!attributes.some((attribute) => /^domain=/i.test(attribute)), line);
      assert.ok(attributes.includes('HttpOnly'), line);
    }
    // Cleared too: the secret once shown, and the session at sign-out.
    assert.ok(browser.setCookies.some((line) => /^__Host-gatehouse_new_secret=;/.test(line)));
    assert.ok(browser.setCookies.some((line) => /^__Host-gatehouse_session=;/.test(line)));
    // And the prefixed session cookie is the one the server reads: after sign-out the portal asks to log in.
    assert.match((await browser.get(`${server.url}/portal`)).text, /action="\/login[?"]/);
  });

  it('reads the __Host- session cookie at /oauth/authorize and the consent decision: login, consent and a code, end to end', async () => {
    const browser = new BehindTlsProxy();
    const { redirect } = await authorize(server, { browser });
    assert.ok(redirect.searchParams.get('code'), `a code, not ${redirect.href}`);
    assert.equal(redirect.searchParams.get('iss'), 'https://auth.example');
    assert.ok(browser.setCookies.some((line) => line.startsWith('__Host-gatehouse_session=')));
  });

  it('keeps plain names in development (HTTP on localhost, where browsers refuse __Host- cookies)', async () => {
    const development = await startTestServer();
    try {
      const browser = new Browser();
      const login = await browser.get(`${development.url}/account/sessions`);
      const answer = await browser.post(`${development.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: '/account/sessions', email: seed.users.alice.email, password: seed.users.alice.password });
      assert.equal(answer.status, 303);
      assert.deepEqual([...browser.cookies.keys()].sort(), ['gatehouse_csrf', 'gatehouse_device', 'gatehouse_session']);
      assert.ok(!answer.headers.getSetCookie().some((line) => /; Secure/.test(line)));
    } finally {
      await development.close();
    }
  });
});
