import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createPostgresStorage } from '../storage/postgres/postgres-storage.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { authorizeUrl, Browser, confidentialAuth, inputValue, pkcePair, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { dropTestSchema, newTestSchema, postgresSkipReason, TEST_DATABASE_URL } from '../testing/postgres.ts';

const alice = seed.users.alice;
const SIGN_OUT_FORM = /<form class="sign-out" method="post" action="\/logout"><input type="hidden" name="_csrf" value="[^"]+"><button type="submit">Sign out<\/button><\/form>/;

/** A browser signed in through the shared login page, continuing at `returnTo`. */
async function signedIn(server: TestServer, returnTo = '/account/sessions', user: { email: string; password: string } = alice): Promise<Browser> {
  const browser = new Browser();
  const login = await browser.get(`${server.url}${returnTo}`);
  const answer = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: returnTo, email: user.email, password: user.password });
  assert.equal(answer.status, 303);
  return browser;
}

/** The CSRF token of a signed-in page's Sign out form. */
async function signOutToken(server: TestServer, browser: Browser): Promise<string> {
  const page = await browser.get(`${server.url}/account/sessions`);
  assert.match(page.text, SIGN_OUT_FORM);
  return inputValue(page.text, '_csrf')!;
}

describe('POST /logout (issue 10 §4: sign-out ends the session on every instance)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('ends the login session in storage, clears the cookie and answers 303 to a "You are signed out" page', async () => {
    const browser = await signedIn(server);
    const cookie = browser.cookies.get('gatehouse_session')!;
    assert.equal((await server.storage.loginSessions.listActiveOfUser(alice.id, server.clock.nowSeconds())).length, 1);
    const response = await browser.request(`${server.url}/logout`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url },
      body: new URLSearchParams({ _csrf: await signOutToken(server, browser) }),
    });
    assert.equal(response.status, 303);
    assert.equal(response.location, '/signed-out');
    const cleared = response.headers.getSetCookie().find((line) => line.startsWith('gatehouse_session='));
    assert.match(cleared ?? '', /^gatehouse_session=;.*(Max-Age=0|Expires=Thu, 01 Jan 1970)/);
    assert.deepEqual(await server.storage.loginSessions.listActiveOfUser(alice.id, server.clock.nowSeconds()), [], 'deleted in storage, so every instance refuses it');
    // The old cookie, replayed (the next person at the computer, or a copy of it), signs nobody in.
    const replay = new Browser();
    replay.cookies.set('gatehouse_session', cookie);
    const page = await replay.get(`${server.url}/account/sessions`);
    assert.match(page.text, /action="\/login[?"]/, 'the login page, not the sessions');
    assert.doesNotMatch(page.text, SIGN_OUT_FORM);
    const signedOut = await browser.get(`${server.url}/signed-out`);
    assert.equal(signedOut.status, 200);
    assert.match(signedOut.text, /You are signed out/);
    assert.match(signedOut.text, /<a class="button" href="\/account\/connected-apps">Sign in again<\/a>/);
  });

  it('refuses a sign-out without the CSRF token (403) and ends nothing', async () => {
    const browser = await signedIn(server);
    const before = (await server.storage.loginSessions.listActiveOfUser(alice.id, server.clock.nowSeconds())).length;
    const response = await browser.post(`${server.url}/logout`, {});
    assert.equal(response.status, 403);
    assert.equal(response.location, undefined);
    assert.equal((await server.storage.loginSessions.listActiveOfUser(alice.id, server.clock.nowSeconds())).length, before);
    assert.match((await browser.get(`${server.url}/account/sessions`)).text, SIGN_OUT_FORM, 'still signed in');
  });

  it('refuses a sign-out posted from another site (Origin, Sec-Fetch-Site), even with a token, and ends nothing', async () => {
    const browser = await signedIn(server);
    for (const headers of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }] as Record<string, string>[]) {
      const response = await browser.request(`${server.url}/logout`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ _csrf: await signOutToken(server, browser) }),
      });
      assert.equal(response.status, 403, JSON.stringify(headers));
      assert.equal(response.location, undefined);
      assert.equal(response.headers.getSetCookie().filter((line) => line.startsWith('gatehouse_session=')).length, 0, 'the cookie is not cleared');
      assert.match((await browser.get(`${server.url}/account/sessions`)).text, SIGN_OUT_FORM, 'still signed in');
    }
  });

  it('accepts a browser\'s own sign-out (Origin is the issuer, Sec-Fetch-Site: same-origin); refuses Origin: null, which our same-origin Referrer-Policy never causes', async () => {
    const other = await signedIn(server);
    const opaque = await other.request(`${server.url}/logout`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'null', 'sec-fetch-site': 'cross-site' },
      body: new URLSearchParams({ _csrf: await signOutToken(server, other) }),
    });
    assert.equal(opaque.status, 403, 'a sandboxed page elsewhere sends Origin: null');
    assert.match((await other.get(`${server.url}/account/sessions`)).text, SIGN_OUT_FORM, 'still signed in');
    const own = await other.request(`${server.url}/logout`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(server.url).origin, 'sec-fetch-site': 'same-origin' },
      body: new URLSearchParams({ _csrf: await signOutToken(server, other) }),
    });
    assert.equal(own.status, 303);
    assert.doesNotMatch((await other.get(`${server.url}/account/sessions`)).text, SIGN_OUT_FORM);
  });

  it('does not tell a browser that is still signed in that it is signed out (/signed-out answers 303 to its connected apps)', async () => {
    const browser = await signedIn(server);
    const page = await browser.get(`${server.url}/signed-out`);
    assert.equal(page.status, 303);
    assert.equal(page.location, '/account/connected-apps');
  });

  it('"Sign in again" continues where the sign-out was made: an app\'s authorization (to sign in with another account), the portal; never elsewhere', async () => {
    const client = seed.confidentialClient;
    const url = authorizeUrl(server, {
      response_type: 'code', client_id: client.id, redirect_uri: client.redirectUri, scope: 'users:read', state: 's', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256',
    });
    const request = `${new URL(url).pathname}${new URL(url).search}`;
    const signOutFrom = async (referer: string) => {
      const browser = await signedIn(server);
      const ours = referer.startsWith('/');
      const page = ours ? (await browser.get(`${server.url}${referer}`)).text : '';
      return { browser, response: await browser.request(`${server.url}/logout`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url, referer: ours ? `${server.url}${referer}` : referer },
        body: new URLSearchParams({ _csrf: inputValue(page, '_csrf') ?? await signOutToken(server, browser) }),
      }) };
    };
    const signInAgain = (page: string) => /<a class="button" href="([^"]*)">Sign in again<\/a>/.exec(page)?.[1]?.replaceAll('&amp;', '&');
    // From the consent page (as the page for a user with nothing to connect advises: sign out, sign in with another account).
    const { browser, response } = await signOutFrom(request);
    assert.equal(response.status, 303);
    const signedOut = await browser.get(`${server.url}${response.location}`);
    assert.equal(signInAgain(signedOut.text), request);
    const login = await browser.get(`${server.url}${request}`);
    assert.equal(inputValue(login.text, 'return_to'), request, 'the login page of that request');
    // From the portal: back to it.
    const portal = await signOutFrom('/portal');
    assert.equal(signInAgain((await portal.browser.get(`${server.url}${portal.response.location}`)).text), '/portal');
    // Never another site, nor a path login.ts would not continue at.
    for (const referer of ['https://evil.example/portal', '/signed-out']) {
      const other = await signOutFrom(referer);
      assert.equal(other.response.location, '/signed-out', referer);
    }
    assert.equal(signInAgain((await new Browser().get(`${server.url}/signed-out?return_to=%2F%2Fevil.example`)).text), '/account/connected-apps');
  });

  it('"Sign in again" after a sign-out on the page of a request by reference (a pushed request, RFC 9126) does not lead to its spent request_uri\'s "expired" page', async () => {
    const client = seed.confidentialClient;
    const pushed = await postForm(`${server.url}/oauth/par`, {
      response_type: 'code', client_id: client.id, redirect_uri: client.redirectUri, scope: 'users:read', state: 'par', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256',
    }, { authorization: confidentialAuth() });
    assert.equal(pushed.status, 201);
    const browser = await signedIn(server);
    const request = `/oauth/authorize?${new URLSearchParams({ client_id: client.id, request_uri: pushed.json.request_uri })}`;
    const consent = await browser.get(`${server.url}${request}`);
    assert.match(consent.text, /action="\/oauth\/authorize\/decision"/, 'the consent page, its request_uri now used (one-time, RFC 9126 §7.3)');
    const response = await browser.request(`${server.url}/logout`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url, referer: `${server.url}${request}` },
      body: new URLSearchParams({ _csrf: inputValue(consent.text, '_csrf')! }),
    });
    const signedOut = await browser.get(`${server.url}${response.location}`);
    const again = /<a class="button" href="([^"]*)">Sign in again<\/a>/.exec(signedOut.text)?.[1]?.replaceAll('&amp;', '&');
    const next = await browser.get(`${server.url}${again}`);
    assert.doesNotMatch(next.text, /expired/i, `${again}: ${next.status}`);
  });

  it('"Sign in again" continues at a portal, account or console page the sign-out was made on with a query (a notice\'s ?done=, a search): the page, without it', async () => {
    const clientPage = `/portal/clients/${seed.confidentialClient.id}`;
    for (const [from, back] of [[`${clientPage}?done=saved`, clientPage], [`/admin/grants?user=${encodeURIComponent(alice.email)}&done=grant_revoked`, '/admin/grants'], ['/account/connected-apps?done=disconnected', '/account/connected-apps']]) {
      const browser = await signedIn(server);
      const response = await browser.request(`${server.url}/logout`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url, referer: `${server.url}${from}` },
        body: new URLSearchParams({ _csrf: await signOutToken(server, browser) }),
      });
      assert.equal(response.location, `/signed-out?${new URLSearchParams({ return_to: back! })}`, from);
    }
  });

  it('"Sign in again" never continues at a page only a form opens (one shown in answer to a POST: a confirmation), which a GET answers 405', async () => {
    const grantId = '00000000-0000-4000-8000-000000000000';
    for (const from of ['/account/sessions/end-others', `/account/connected-apps/${grantId}/disconnect`, `/portal/clients/${seed.confidentialClient.id}/secret`, `/admin/grants/${grantId}/revoke`]) {
      const browser = await signedIn(server);
      const response = await browser.request(`${server.url}/logout`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url, referer: `${server.url}${from}` },
        body: new URLSearchParams({ _csrf: await signOutToken(server, browser) }),
      });
      assert.equal(response.status, 303);
      assert.equal(response.location, '/signed-out', from);
      assert.match((await new Browser().get(`${server.url}/signed-out?${new URLSearchParams({ return_to: from })}`)).text, /<a class="button" href="\/account\/connected-apps">Sign in again<\/a>/, from);
      assert.equal((await browser.get(`${server.url}${from}`)).status, 405, `${from}: a page no GET opens`);
    }
  });

  it('a sign-out without a session is harmless: 303 to the signed-out page', async () => {
    const browser = new Browser();
    const login = await browser.get(`${server.url}/account/sessions`);
    const response = await browser.post(`${server.url}/logout`, { _csrf: inputValue(login.text, '_csrf')! });
    assert.equal(response.status, 303);
    assert.equal(response.location, '/signed-out');
  });

  it('puts a Sign out form on every signed-in page (connected apps, marketplace, sessions, portal, consent), none on the login page', async () => {
    const user = await signedIn(server);
    for (const path of ['/account/connected-apps', '/marketplace', '/account/sessions']) {
      const page = await user.get(`${server.url}${path}`);
      assert.equal(page.status, 200, path);
      assert.match(page.text, SIGN_OUT_FORM, path);
      assert.match(page.text, new RegExp(alice.name), path);
    }
    const consent = await user.get(authorizeUrl(server, {
      response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri, scope: 'users:read',
      state: 'sign-out-on-consent', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256',
    }));
    assert.match(consent.text, /action="\/oauth\/authorize\/decision"/, 'the consent page');
    assert.match(consent.text, SIGN_OUT_FORM, 'the consent page');
    const developer = await signedIn(server, '/portal', seed.developer);
    assert.match((await developer.get(`${server.url}/portal`)).text, SIGN_OUT_FORM);
    assert.match((await developer.get(`${server.url}/portal/clients/new`)).text, SIGN_OUT_FORM);
    assert.doesNotMatch((await new Browser().get(`${server.url}/account/sessions`)).text, SIGN_OUT_FORM);
  });
});

/** Two handles on one database, as two instances behind a load balancer hold; `cleanup` removes the database. */
interface SharedDatabase {
  open(): Promise<Storage>;
  cleanup(): Promise<void>;
}

const backends: { name: string; skip: () => Promise<string | false>; create: () => SharedDatabase }[] = [
  {
    name: 'SQLite (one file)', skip: async () => false,
    create: () => {
      const directory = mkdtempSync(join(tmpdir(), 'gatehouse-logout-'));
      return { open: async () => createSqliteStorage(join(directory, 'gatehouse.db')), cleanup: async () => rmSync(directory, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL (one schema)', skip: postgresSkipReason,
    create: () => {
      const schema = newTestSchema();
      return { open: () => createPostgresStorage(TEST_DATABASE_URL, { schema }), cleanup: () => dropTestSchema(schema) };
    },
  },
];

for (const backend of backends) {
  describe(`sign-out and ended sessions across two instances: ${backend.name}`, { skip: await backend.skip() }, () => {
    const database = backend.create();
    let a: TestServer;
    let b: TestServer;
    before(async () => {
      a = await startTestServer({ storage: await database.open() });
      b = await startTestServer({ storage: await database.open() });
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await database.cleanup();
    });

    it('a sign-out on one instance is refused by the other at once (the session is deleted in storage)', async () => {
      const browser = await signedIn(a);
      assert.match((await browser.get(`${b.url}/account/sessions`)).text, SIGN_OUT_FORM, 'signed in on both');
      const cookie = browser.cookies.get('gatehouse_session')!;
      const response = await browser.post(`${a.url}/logout`, { _csrf: await signOutToken(a, browser) });
      assert.equal(response.status, 303);
      assert.equal(browser.cookies.get('gatehouse_session'), '', 'cleared in the browser');
      // The old cookie value, replayed on the other instance, signs nobody in.
      const replay = new Browser();
      replay.cookies.set('gatehouse_session', cookie);
      assert.doesNotMatch((await replay.get(`${b.url}/account/sessions`)).text, SIGN_OUT_FORM);
    });

    it('a session ended from the sessions page of one instance is refused by the other at once', async () => {
      const laptop = await signedIn(a);
      const phone = await signedIn(b);
      const page = await laptop.get(`${a.url}/account/sessions`);
      assert.match((await phone.get(`${b.url}/account/sessions`)).text, SIGN_OUT_FORM, 'the phone is signed in');
      const form = { _csrf: inputValue(page.text, '_csrf')!, confirm: 'yes' };
      // "Sign out everywhere else" on instance a ends every other session of alice, the phone's among them.
      const ended = await laptop.post(`${a.url}/account/sessions/end-others`, form);
      assert.equal(ended.status, 303);
      assert.doesNotMatch((await phone.get(`${b.url}/account/sessions`)).text, SIGN_OUT_FORM, 'the phone is signed out on instance b');
      assert.match((await laptop.get(`${b.url}/account/sessions`)).text, SIGN_OUT_FORM, 'the laptop stays signed in');
    });
  });
}
