/**
 * Black-box tests of `prompt=none`, `prompt=login` and `max_age` at GET /oauth/authorize (issue 15 §6;
 * OIDC Core §3.1.2.1, §3.1.2.6), on SQLite and PostgreSQL (they read login sessions and keep the request
 * server-side across the login page).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Storage } from '../storage/storage.ts';
import { authorizeUrl, obtainTokens, Browser, hiddenInputs, inputValue, pkcePair, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';

const client = seed.confidentialClient;
const DANISH_COMPANY = `urn:gatehouse:company:${seed.companies[0].id}`;

const backends: { name: string; skip: string | false; options: () => Promise<{ storage?: Storage }> }[] = [
  { name: 'SQLite', skip: false, options: async () => ({}) },
  { name: 'PostgreSQL', skip: await postgresSkipReason(), options: async () => ({ storage: await createTestPostgresStorage() }) },
];

function parameters(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    response_type: 'code', client_id: client.id, redirect_uri: client.redirectUri, scope: 'users:read', state: 'state-prompt',
    code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256', ...overrides,
  };
}

const isLoginPage = (text: string) => /action="\/login[?"]/.test(text);
const isConsentPage = (text: string) => text.includes('action="/oauth/authorize/decision"');

/** Answers a login page in `browser` as Alice; returns the page its return_to leads to. */
async function logIn(server: TestServer, browser: Browser, loginPage: string) {
  const login = await browser.post(`${server.url}/login`, {
    _csrf: inputValue(loginPage, '_csrf')!, return_to: inputValue(loginPage, 'return_to')!, email: seed.users.alice.email, password: seed.users.alice.password,
  });
  assert.equal(login.status, 303);
  return browser.get(new URL(login.location!, server.url).href);
}

/** A browser with Alice's session (logged in at the clock's current second). */
async function signedIn(server: TestServer): Promise<Browser> {
  const browser = new Browser();
  const page = await browser.get(authorizeUrl(server, parameters()));
  assert.ok(isLoginPage(page.text));
  assert.ok(isConsentPage((await logIn(server, browser, page.text)).text));
  return browser;
}

function errorRedirect(location: string | undefined) {
  assert.ok(location, 'a redirect');
  const url = new URL(location);
  assert.equal(`${url.origin}${url.pathname}`, client.redirectUri);
  return url.searchParams;
}

for (const backend of backends) {
  describe(`prompt and max_age at /oauth/authorize (OIDC Core §3.1.2.1) — ${backend.name}`, { skip: backend.skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(await backend.options());
    });
    after(() => server.close());

    describe('prompt=none never shows a page (OIDC Core §3.1.2.6)', () => {
      it('redirects login_required with state and iss when nobody is logged in, showing no login page', async () => {
        const response = await new Browser().get(authorizeUrl(server, parameters({ prompt: 'none' })));
        assert.equal(response.status, 303);
        const result = errorRedirect(response.location);
        assert.equal(result.get('error'), 'login_required');
        assert.equal(result.get('state'), 'state-prompt');
        assert.equal(result.get('iss'), server.issuer);
        assert.equal(result.get('code'), null);
      });

      it('redirects consent_required when the user has not approved the client', async () => {
        const browser = await signedIn(server);
        const response = await browser.get(authorizeUrl(server, parameters({ prompt: 'none', scope: 'accounts:read', urn_gatehouse_params_oauth_subject: DANISH_COMPANY })));
        assert.equal(response.status, 303);
        const result = errorRedirect(response.location);
        assert.equal(result.get('error'), 'consent_required');
        assert.equal(result.get('state'), 'state-prompt');
        assert.equal(result.get('iss'), server.issuer);
      });

      it('redirects interaction_required when the user must choose among several companies', async () => {
        const browser = await signedIn(server);
        const response = await browser.get(authorizeUrl(server, parameters({ prompt: 'none' })));
        assert.equal(response.status, 303);
        assert.equal(errorRedirect(response.location).get('error'), 'interaction_required');
      });

      it('issues a code without a page when the active grant already covers the request (SPEC decision 11)', async () => {
        // The grant exists once the code is redeemed.
        const { browser } = await obtainTokens(server, { scope: 'users:read', subject: DANISH_COMPANY, extra: { urn_gatehouse_params_oauth_subject: DANISH_COMPANY } });
        const response = await browser.get(authorizeUrl(server, parameters({ prompt: 'none', urn_gatehouse_params_oauth_subject: DANISH_COMPANY })));
        assert.equal(response.status, 303);
        const result = new URL(response.location!).searchParams;
        assert.ok(result.get('code'));
        assert.equal(result.get('error'), null);
      });

      it('redirects consent_required for a public client, which is always asked (RFC 8252 §8.6)', async () => {
        const browser = await signedIn(server);
        const response = await browser.get(authorizeUrl(server, parameters({
          prompt: 'none', client_id: seed.publicClient.id, redirect_uri: seed.publicClient.redirectUri, urn_gatehouse_params_oauth_subject: DANISH_COMPANY,
        })));
        assert.equal(response.status, 303);
        assert.equal(new URL(response.location!).searchParams.get('error'), 'consent_required');
      });

      it('redirects access_denied, showing no page, when the signed-in user administers no company to connect', async () => {
        // The partner developer administers no company: without prompt=none that is a page (issue 10 §1).
        const browser = new Browser();
        const loginPage = await browser.get(authorizeUrl(server, parameters()));
        assert.ok(isLoginPage(loginPage.text));
        const login = await browser.post(`${server.url}/login`, {
          _csrf: inputValue(loginPage.text, '_csrf')!, return_to: inputValue(loginPage.text, 'return_to')!, email: seed.developer.email, password: seed.developer.password,
        });
        assert.equal(login.status, 303);
        assert.equal((await browser.get(new URL(login.location!, server.url).href)).status, 403, 'the page saying there is nothing to connect');
        const response = await browser.get(authorizeUrl(server, parameters({ prompt: 'none' })));
        assert.equal(response.status, 303, 'a redirect, not a page');
        const result = errorRedirect(response.location);
        assert.equal(result.get('error'), 'access_denied');
        assert.equal(result.get('state'), 'state-prompt');
        assert.equal(result.get('iss'), server.issuer);
        assert.equal(result.get('code'), null);
      });

      it('refuses prompt=none combined with another value, and unknown values, with invalid_request', async () => {
        for (const prompt of ['none consent', 'login none', 'select_account']) {
          const response = await new Browser().get(authorizeUrl(server, parameters({ prompt })));
          assert.equal(response.status, 303, prompt);
          assert.equal(errorRedirect(response.location).get('error'), 'invalid_request', prompt);
        }
      });
    });

    describe('prompt=login re-authenticates', () => {
      it('shows the login page despite a session, and only a login newer than the request leads on', async () => {
        const browser = await signedIn(server);
        const loginPage = await browser.get(authorizeUrl(server, parameters({ prompt: 'login' })));
        assert.equal(loginPage.status, 200);
        assert.ok(isLoginPage(loginPage.text), 'the login page, not the consent page');
        const returnTo = inputValue(loginPage.text, 'return_to')!;
        // The request crosses the login page server-side: the form carries a request_uri, not the prompt.
        assert.match(returnTo, /request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A/);
        assert.doesNotMatch(returnTo, /prompt/);
        // Following return_to with the old session (no new login) shows the login page again.
        const skipped = await browser.get(new URL(returnTo, server.url).href);
        assert.ok(isLoginPage(skipped.text), 'an older login does not satisfy prompt=login');
        // A new login, a second later, leads to the consent page.
        server.clock.advanceSeconds(1);
        const consent = await logIn(server, browser, skipped.text);
        assert.ok(isConsentPage(consent.text));
        const decision = await browser.post(`${server.url}/oauth/authorize/decision`, {
          ...hiddenInputs(consent.text), subject: DANISH_COMPANY, decision: 'allow',
        });
        assert.equal(decision.status, 303);
        assert.ok(new URL(decision.location!).searchParams.get('code'));
      });

      it('counts a login that completes in the request\'s own second, and no session made before the login page in it', async () => {
        // The clock stands still: the session, the request and the new login all fall in one second.
        const browser = await signedIn(server);
        const loginPage = await browser.get(authorizeUrl(server, parameters({ prompt: 'login' })));
        assert.ok(isLoginPage(loginPage.text));
        // The session made earlier in this second does not count: following return_to without logging in shows the login page.
        const skipped = await browser.get(new URL(inputValue(loginPage.text, 'return_to')!, server.url).href);
        assert.ok(isLoginPage(skipped.text), 'a session older than the login page does not satisfy prompt=login');
        const returnTo = inputValue(skipped.text, 'return_to')!;
        // The form posted twice (the second answer is the one a browser follows): the login continues where it was going.
        const form = { _csrf: inputValue(skipped.text, '_csrf')!, return_to: returnTo, email: seed.users.alice.email, password: seed.users.alice.password };
        assert.equal((await browser.post(`${server.url}/login`, form)).status, 303);
        const login = await browser.post(`${server.url}/login`, form);
        assert.equal(login.status, 303);
        assert.equal(login.location, returnTo);
        const consent = await browser.get(new URL(returnTo, server.url).href);
        assert.ok(isConsentPage(consent.text), 'the session this login started satisfies prompt=login, in the same second');
        // The request_uri stays single-use.
        const again = await browser.get(new URL(returnTo, server.url).href);
        assert.equal(again.status, 400);
      });

      it('counts only the session the login started: another browser\'s login on the same page lets no older session through', async () => {
        const victim = await signedIn(server);
        const loginPage = await victim.get(authorizeUrl(server, parameters({ prompt: 'login' })));
        const returnTo = inputValue(loginPage.text, 'return_to')!;
        // Someone else, in the same second, logs in (as Bob) posting the victim's continuation.
        const other = new Browser();
        const otherForm = await other.get(`${server.url}/account/sessions`);
        const bobLogin = await other.post(`${server.url}/login`, {
          _csrf: inputValue(otherForm.text, '_csrf')!, return_to: returnTo, email: seed.users.bob.email, password: seed.users.bob.password,
        });
        assert.equal(bobLogin.status, 303);
        // The victim's old session (Alice, from before the page) still does not satisfy prompt=login.
        const followed = await victim.get(new URL(returnTo, server.url).href);
        assert.ok(isLoginPage(followed.text), 'an old session is not let through by someone else\'s login');
        assert.ok(!isConsentPage(followed.text));
      });

      it('a pushed request_uri posted as the login\'s return_to stays single-use (RFC 9126 §4)', async () => {
        const pkce = pkcePair();
        const pushed = await fetch(`${server.url}/oauth/par`, {
          method: 'POST',
          headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ response_type: 'code', client_id: client.id, redirect_uri: client.redirectUri, scope: 'users:read', state: 'par-state', code_challenge: pkce.codeChallenge, code_challenge_method: 'S256', prompt: 'login' }),
        });
        assert.equal(pushed.status, 201);
        const { request_uri: requestUri } = await pushed.json() as { request_uri: string };
        const returnTo = `/oauth/authorize?${new URLSearchParams({ client_id: client.id, request_uri: requestUri })}`;
        const browser = new Browser();
        const form = await browser.get(`${server.url}/account/sessions`);
        const login = await browser.post(`${server.url}/login`, {
          _csrf: inputValue(form.text, '_csrf')!, return_to: returnTo, email: seed.users.alice.email, password: seed.users.alice.password,
        });
        assert.equal(login.location, returnTo);
        const consent = await browser.get(new URL(returnTo, server.url).href);
        assert.ok(isConsentPage(consent.text));
        const again = await browser.get(new URL(returnTo, server.url).href);
        assert.equal(again.status, 400, 'used once');
        assert.ok(!isConsentPage(again.text));
      });

      it('leaves a continuation begun in an earlier second as it was, and a login then leads on', async () => {
        const browser = await signedIn(server);
        const loginPage = await browser.get(authorizeUrl(server, parameters({ prompt: 'login' })));
        const returnTo = inputValue(loginPage.text, 'return_to')!;
        server.clock.advanceSeconds(1);
        const login = await browser.post(`${server.url}/login`, {
          _csrf: inputValue(loginPage.text, '_csrf')!, return_to: returnTo, email: seed.users.alice.email, password: seed.users.alice.password,
        });
        assert.equal(login.location, returnTo);
        assert.ok(isConsentPage((await browser.get(new URL(returnTo, server.url).href)).text));
      });

      it('is required again even where consent would be skipped', async () => {
        const { browser } = await obtainTokens(server, { scope: 'users:read', subject: DANISH_COMPANY, extra: { urn_gatehouse_params_oauth_subject: DANISH_COMPANY } });
        const page = await browser.get(authorizeUrl(server, parameters({ prompt: 'login', urn_gatehouse_params_oauth_subject: DANISH_COMPANY })));
        assert.equal(page.status, 200);
        assert.ok(isLoginPage(page.text));
      });
    });

    describe('max_age', () => {
      it('shows the login page when the session is older than max_age seconds, and not when it is younger', async () => {
        const browser = await signedIn(server);
        server.clock.advanceSeconds(120);
        const young = await browser.get(authorizeUrl(server, parameters({ max_age: '600' })));
        assert.ok(isConsentPage(young.text), 'a 120 s old login satisfies max_age=600');
        const old = await browser.get(authorizeUrl(server, parameters({ max_age: '60' })));
        assert.ok(isLoginPage(old.text), 'a 120 s old login does not satisfy max_age=60');
        const again = await logIn(server, browser, old.text);
        assert.ok(isConsentPage(again.text), 'a fresh login does');
      });

      it('max_age=0 is prompt=login (OIDC Core §3.1.2.1): a login of the same second is not enough, one on the login page is', async () => {
        // The clock stands still: the session and the request fall in one second, so the login is "0 s old".
        const browser = await signedIn(server);
        const none = await browser.get(authorizeUrl(server, parameters({ prompt: 'none', max_age: '0' })));
        assert.equal(none.status, 303);
        assert.equal(errorRedirect(none.location).get('error'), 'login_required');
        const loginPage = await browser.get(authorizeUrl(server, parameters({ max_age: '0' })));
        assert.ok(isLoginPage(loginPage.text), 'a login older than the request does not satisfy max_age=0');
        const returnTo = inputValue(loginPage.text, 'return_to')!;
        assert.match(returnTo, /^\/oauth\/authorize\?client_id=[^&]+&request_uri=/, 'the request crosses the login page by reference');
        const skipped = await browser.get(new URL(returnTo, server.url).href);
        assert.ok(isLoginPage(skipped.text), 'following return_to without logging in shows the login page again');
        const consent = await logIn(server, browser, skipped.text);
        assert.ok(isConsentPage(consent.text), 'the login on that page satisfies max_age=0, in the same second');
      });

      it('with prompt=none, an old login is login_required', async () => {
        const browser = await signedIn(server);
        server.clock.advanceSeconds(61);
        const response = await browser.get(authorizeUrl(server, parameters({ prompt: 'none', max_age: '60' })));
        assert.equal(response.status, 303);
        assert.equal(errorRedirect(response.location).get('error'), 'login_required');
      });

      it('refuses a max_age that is not a whole number of seconds with invalid_request', async () => {
        for (const maxAge of ['-1', '1.5', 'soon', '012']) {
          const response = await new Browser().get(authorizeUrl(server, parameters({ max_age: maxAge })));
          assert.equal(response.status, 303, maxAge);
          assert.equal(errorRedirect(response.location).get('error'), 'invalid_request', maxAge);
        }
      });
    });
  });
}

describe('prompt=login without a session stores its request only within the address limit (SPEC decision 18)', () => {
  let server: TestServer;
  let stored = 0;
  before(async () => {
    const storage = createSqliteStorage(':memory:');
    const create = storage.pushedRequests.create.bind(storage.pushedRequests);
    storage.pushedRequests.create = async (record) => {
      stored += 1;
      await create(record);
    };
    server = await startTestServer({ storage, oauthEndpointRateLimit: { windowSeconds: 10, maxRequestsPerClient: 1000, maxRequestsPerAddress: 3 } });
  });
  after(() => server.close());

  it('stores each request as PAR counts its address, then redirects temporarily_unavailable with state and iss and stores nothing', async () => {
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const page = await new Browser().get(authorizeUrl(server, parameters({ prompt: 'login' })));
      assert.equal(page.status, 200);
      assert.ok(isLoginPage(page.text));
    }
    assert.equal(stored, 3);
    const refused = await new Browser().get(authorizeUrl(server, parameters({ prompt: 'login' })));
    assert.equal(refused.status, 303);
    const result = errorRedirect(refused.location);
    assert.equal(result.get('error'), 'temporarily_unavailable');
    assert.equal(result.get('state'), 'state-prompt');
    assert.equal(result.get('iss'), server.issuer);
    assert.equal(result.get('code'), null);
    assert.equal(stored, 3, 'no request stored over the limit');
    // A request that stores nothing (no prompt=login) still shows the login page.
    const plain = await new Browser().get(authorizeUrl(server, parameters()));
    assert.ok(isLoginPage(plain.text));
    // The window ends: stored again.
    server.clock.advanceSeconds(10);
    assert.ok(isLoginPage((await new Browser().get(authorizeUrl(server, parameters({ prompt: 'login' })))).text));
    assert.equal(stored, 4);
  });
});
