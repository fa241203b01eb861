/**
 * Issue 10 §2: sign-in through the platform's OpenID Provider, against a real one (oidc-provider) on
 * 127.0.0.1, on SQLite and on PostgreSQL (user_identities is stored).
 */
import assert from 'node:assert/strict';
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { EncryptJWT, jwtDecrypt } from 'jose';
import { authenticator } from 'otplib';
import type { CustomFetch } from 'openid-client';
import type { UpstreamIdentityProvider } from '../options.ts';
import { createPostgresStorage } from '../storage/postgres/postgres-storage.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { freePort, pkcePair, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { dropTestSchema, newTestSchema, postgresSkipReason, TEST_DATABASE_URL } from '../testing/postgres.ts';
import { cookieFetch, followThroughUpstream, startUpstreamProvider, type TestUpstreamProvider } from '../testing/upstream-provider.ts';

const alice = seed.users.alice;
const client = seed.confidentialClient;
const NOT_SET_UP = /Your account is not set up for connecting apps/;

function authorizePath(extra: Record<string, string> = {}): string {
  const { codeChallenge } = pkcePair();
  return `/oauth/authorize?${new URLSearchParams({
    response_type: 'code', client_id: client.id, redirect_uri: client.redirectUri, scope: 'users:read', state: 'partner-state',
    code_challenge: codeChallenge, code_challenge_method: 'S256', ...extra,
  })}`;
}

interface Setup {
  server: TestServer;
  upstream: TestUpstreamProvider;
  tokenHmacKey: Buffer;
  close(): Promise<void>;
}

async function setup(storage: Storage, options: { localPasswords?: boolean; fetch?: CustomFetch; issuer?: string; requireSecondFactor?: 'administrators' } = {}): Promise<Setup> {
  const upstream = await startUpstreamProvider();
  upstream.accounts.set('alice-at-platform', { email: 'Alice@Example.com', email_verified: true, name: 'Alice Admin' });
  upstream.accounts.set('mallory', { email: 'mallory@example.com', email_verified: true, name: 'Mallory' });
  upstream.accounts.set('bob-unverified', { email: 'bob@example.com', email_verified: false, name: 'Bob' });
  const tokenHmacKey = randomBytes(32);
  const upstreamIdentityProvider: UpstreamIdentityProvider = {
    issuer: options.issuer ?? upstream.issuer, clientId: upstream.clientId, clientSecret: upstream.clientSecret, name: 'Platform ID',
    localPasswords: options.localPasswords ?? true, ...(options.fetch ? { fetch: options.fetch } : {}),
  };
  const server = await startTestServer({
    storage, tokenHmacKey, upstreamIdentityProvider, ...(options.requireSecondFactor ? { localAccounts: { requireSecondFactor: options.requireSecondFactor } } : {}),
  });
  await upstream.attach(`${server.issuer}/login/upstream/callback`);
  return { server, upstream, tokenHmacKey, async close() { await server.close(); await upstream.close(); } };
}

/** Starts at /oauth/authorize, takes the "Sign in with Platform ID" button, and signs in upstream as `accountId`. */
async function signInUpstream(s: Setup, accountId: string, options: { abort?: boolean } = {}) {
  const browser = cookieFetch();
  const login = await browser(`${s.server.url}${authorizePath()}`);
  const page = await login.text();
  const button = /<a class="button primary" href="([^"]+)">Sign in with Platform ID<\/a>/.exec(page);
  assert.ok(button, 'the login page offers the upstream sign-in');
  const start = `${s.server.url}${button[1]!.replaceAll('&amp;', '&')}`;
  const end = await followThroughUpstream(browser, start, accountId, options);
  return { browser, ...end, text: end.response ? await end.response.text() : '' };
}

const backends: { name: string; skip: () => Promise<string | false>; open: () => Promise<{ storage: Storage; cleanup(): Promise<void> }> }[] = [
  { name: 'SQLite', skip: async () => false, open: async () => ({ storage: createSqliteStorage(':memory:'), cleanup: async () => {} }) },
  {
    name: 'PostgreSQL', skip: postgresSkipReason,
    open: async () => {
      const schema = newTestSchema();
      return { storage: await createPostgresStorage(TEST_DATABASE_URL, { schema }), cleanup: () => dropTestSchema(schema) };
    },
  },
];

for (const backend of backends) {
  describe(`upstream sign-in (issue 10 §2): ${backend.name}`, { skip: await backend.skip() }, () => {
    let s: Setup;
    let cleanup: () => Promise<void>;
    before(async () => {
      const opened = await backend.open();
      cleanup = opened.cleanup;
      s = await setup(opened.storage);
    });
    after(async () => {
      await s.close();
      await cleanup();
    });

    it('links a directory user by a verified e-mail on first sign-in, then by (issuer, sub) alone, and continues to consent', async () => {
      const first = await signInUpstream(s, 'alice-at-platform');
      assert.equal(first.response?.status, 200);
      assert.match(first.url, /\/oauth\/authorize\?/, 'back at the authorization request');
      assert.match(first.text, /Connect Ledgerly Sync|name="interaction"/, 'the consent page');
      const identities = await s.server.storage.userIdentities.listOfUser(alice.id);
      assert.deepEqual(identities.map((identity) => [identity.issuer, identity.subject]), [[s.upstream.issuer, 'alice-at-platform']]);
      assert.equal((await s.server.storage.loginSessions.listActiveOfUser(alice.id, s.server.clock.nowSeconds())).length, 1);
      const events = (await s.server.storage.audit.list()).map((event) => event.type);
      assert.ok(events.includes('upstream.identity.linked'));
      assert.ok(events.includes('upstream.signed_in'));

      // The e-mail changes at the provider: the link (issuer, sub) still names alice (OpenID Connect Core §5.7).
      s.upstream.accounts.set('alice-at-platform', { email: 'alice.renamed@example.com', email_verified: false, name: 'Alice Admin' });
      const second = await signInUpstream(s, 'alice-at-platform');
      assert.equal(second.response?.status, 200);
      assert.match(second.text, /name="interaction"/);
      assert.equal((await s.server.storage.loginSessions.listActiveOfUser(alice.id, s.server.clock.nowSeconds())).length, 2);
      s.upstream.accounts.set('alice-at-platform', { email: 'Alice@Example.com', email_verified: true, name: 'Alice Admin' });
    });

    it('a sign-in at the provider ends the session the browser presented before: its cookie no longer works', async () => {
      const first = await signInUpstream(s, 'alice-at-platform');
      assert.equal(first.response?.status, 200);
      const oldCookie = first.browser.cookiesOf(s.server.url).get('gatehouse_session')!;
      const digestOf = (cookie: string) => createHash('sha256').update(cookie).digest('base64url');
      assert.ok(await s.server.storage.loginSessions.findActive(digestOf(oldCookie), s.server.clock.nowSeconds()));
      const sessionsBefore = (await s.server.storage.loginSessions.listActiveOfUser(alice.id, s.server.clock.nowSeconds())).length;
      // The same browser, signed in, signs in at the provider again: a request with prompt=login shows the login page.
      const login = await (await first.browser(`${s.server.url}${authorizePath({ prompt: 'login' })}`)).text();
      const button = /<a class="button primary" href="([^"]+)">Sign in with Platform ID<\/a>/.exec(login);
      assert.ok(button, 'the login page, signed in');
      const again = await followThroughUpstream(first.browser, `${s.server.url}${button[1]!.replaceAll('&amp;', '&')}`, 'alice-at-platform');
      assert.equal(again.response?.status, 200);
      assert.match(await again.response!.text(), /name="interaction"/, 'the consent page');
      const newCookie = first.browser.cookiesOf(s.server.url).get('gatehouse_session')!;
      assert.notEqual(newCookie, oldCookie);
      assert.equal(await s.server.storage.loginSessions.findActive(digestOf(oldCookie), s.server.clock.nowSeconds()), undefined, 'the old session is ended');
      assert.equal((await s.server.storage.loginSessions.listActiveOfUser(alice.id, s.server.clock.nowSeconds())).length, sessionsBefore, 'replaced, not added');
      const stale = await fetch(`${s.server.url}/account/sessions`, { headers: { cookie: `gatehouse_session=${oldCookie}` } });
      assert.match(await stale.text(), /name="password"/, "the old cookie gets the login page");
    });

    it('prompt=login: a sign-in at the provider in the request\'s own second continues to consent (OIDC Core §3.1.2.1)', async () => {
      const first = await signInUpstream(s, 'alice-at-platform');
      assert.match(first.text, /name="interaction"/);
      // The same browser, with its session from this second, asks for a fresh login.
      const login = await first.browser(`${s.server.url}${authorizePath({ prompt: 'login' })}`);
      const button = /<a class="button primary" href="([^"]+)">Sign in with Platform ID<\/a>/.exec(await login.text());
      assert.ok(button, 'the login page, despite the session');
      const end = await followThroughUpstream(first.browser, `${s.server.url}${button[1]!.replaceAll('&amp;', '&')}`, 'alice-at-platform', {});
      assert.equal(end.response?.status, 200);
      assert.match(await end.response!.text(), /name="interaction"/, 'the consent page, not the login page again');
    });

    it('prompt=login: a silent sign-in at the provider is no re-authentication; the provider is asked for one (prompt=login, max_age=0) and must prove it', async () => {
      const first = await signInUpstream(s, 'alice-at-platform');
      assert.match(first.text, /name="interaction"/);
      const login = await first.browser(`${s.server.url}${authorizePath({ prompt: 'login' })}`);
      const href = /<a class="button primary" href="([^"]+)">Sign in with Platform ID<\/a>/.exec(await login.text())![1]!.replaceAll('&amp;', '&');
      assert.match(href, /[?&]reauthenticate=1(&|$)/, 'the button asks for a fresh authentication');
      // Without it (the parameter removed by hand), the provider signs the person in silently, seconds after the
      // request began: that session does not count (it proves no authentication since; the provider gave no auth_time).
      s.server.clock.advanceSeconds(2);
      const stripped = `${s.server.url}${href.replace(/&reauthenticate=1/, '')}`;
      const silent = await followThroughUpstream(first.browser, stripped, 'alice-at-platform', {});
      const again = await silent.response!.text();
      assert.ok(again.includes('Sign in with Platform ID'), 'the login step again, not the consent page');
      // With it (the new login page's button), the provider is asked for credentials again, and its auth_time proves them.
      const againHref = /<a class="button primary" href="([^"]+)">Sign in with Platform ID<\/a>/.exec(again)![1]!.replaceAll('&amp;', '&');
      assert.match(againHref, /[?&]reauthenticate=1(&|$)/);
      const start = await first.browser(`${s.server.url}${againHref}`, { redirect: 'manual' });
      assert.equal(start.status, 303);
      const upstreamRequest = new URL(start.headers.get('location')!);
      assert.equal(upstreamRequest.searchParams.get('prompt'), 'login');
      assert.equal(upstreamRequest.searchParams.get('max_age'), '0');
      const fresh = await followThroughUpstream(first.browser, upstreamRequest.href, 'alice-at-platform', {});
      assert.equal(fresh.response?.status, 200);
      assert.match(await fresh.response!.text(), /name="interaction"/, 'the consent page');
    });

    it('prompt=login: the login page shown again after a wrong password still asks the provider for a fresh authentication', async () => {
      const browser = cookieFetch();
      const page = await (await browser(`${s.server.url}${authorizePath({ prompt: 'login' })}`)).text();
      assert.match(page, /<input type="hidden" name="reauthenticate" value="1">/);
      const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(page)![1]!.replaceAll('&amp;', '&');
      const wrong = await browser(`${s.server.url}/login`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: field('_csrf'), return_to: field('return_to'), reauthenticate: '1', email: alice.email, password: 'not-the-password' }).toString(),
      });
      assert.equal(wrong.status, 401);
      const again = await wrong.text();
      assert.match(/<a class="button primary" href="([^"]+)">Sign in with Platform ID<\/a>/.exec(again)![1]!, /reauthenticate=1/);
    });

    it('shows "your account is not set up for connecting apps" to a person the directory does not know: no account, no session, no code', async () => {
      const usersBefore = await s.server.storage.directory.listUsers({}, { limit: 100 });
      const result = await signInUpstream(s, 'mallory');
      assert.equal(result.response?.status, 403);
      assert.match(result.text, NOT_SET_UP);
      assert.match(result.text, /href="\/login\/upstream\?return_to=/, 'a way back');
      assert.doesNotMatch(result.url, /localhost:8080/, 'never sent to the client');
      assert.deepEqual(await s.server.storage.directory.listUsers({}, { limit: 100 }), usersBefore, 'no account created');
      assert.equal(await s.server.storage.userIdentities.find(s.upstream.issuer, 'mallory'), undefined);
      assert.equal(await s.server.storage.users.findByEmail('mallory@example.com'), undefined);
    });

    it('never links by an e-mail the provider has not verified (email_verified false): a page, no link, no session', async () => {
      const bob = seed.users.bob;
      const result = await signInUpstream(s, 'bob-unverified');
      assert.equal(result.response?.status, 403);
      assert.match(result.text, /Your e-mail address is not verified/);
      assert.match(result.text, /Start again/);
      assert.deepEqual(await s.server.storage.userIdentities.listOfUser(bob.id), []);
      assert.deepEqual(await s.server.storage.loginSessions.listActiveOfUser(bob.id, s.server.clock.nowSeconds()), []);
    });
  });
}

describe('upstream sign-in failures (issue 10 §2): each a page with a way back, never a 500, never a session', () => {
  let s: Setup;
  let tamperIdToken = false;
  let tokenEndpointDown = false;
  before(async () => {
    // openid-client's customFetch: here a man in the middle of the provider's token response.
    const fetchThroughTamperer: CustomFetch = async (url, options) => {
      if (tokenEndpointDown && url.endsWith('/token')) throw new TypeError('fetch failed');
      const response = await fetch(url, options as RequestInit);
      if (!tamperIdToken || !url.endsWith('/token')) return response;
      const body = await response.json() as Record<string, string>;
      // The claims untouched, the signature replaced: only signature validation can tell.
      const [header, payload, signature] = body.id_token!.split('.');
      body.id_token = `${header}.${payload}.${Buffer.from(signature!, 'base64url').reverse().toString('base64url')}`;
      return new Response(JSON.stringify(body), { status: response.status, headers: { 'content-type': 'application/json' } });
    };
    s = await setup(createSqliteStorage(':memory:'), { fetch: fetchThroughTamperer });
    // alice is linked already: a sign-in as her would otherwise succeed.
    await s.server.storage.userIdentities.link({ issuer: s.upstream.issuer, subject: 'alice-at-platform', userId: alice.id, linkedAt: 1, lastSignInAt: 1 });
  });
  after(() => s.close());

  const noSessions = async () => {
    for (const user of [alice, seed.users.bob]) {
      assert.deepEqual(await s.server.storage.loginSessions.listActiveOfUser(user.id, s.server.clock.nowSeconds()), []);
    }
  };

  it('refuses an ID token whose signature does not verify (its claims intact, for a linked user): no session', async () => {
    tamperIdToken = true;
    try {
      const result = await signInUpstream(s, 'alice-at-platform');
      assert.equal(result.response?.status, 400);
      assert.match(result.text, /This sign-in could not be verified/);
      assert.match(result.text, /href="\/login\/upstream\?return_to=/);
    } finally {
      tamperIdToken = false;
    }
    await noSessions();
  });

  it('ends on a page when the provider answers error=access_denied (RFC 6749 §4.1.2.1): no session', async () => {
    const result = await signInUpstream(s, 'alice-at-platform', { abort: true });
    assert.equal(result.response?.status, 400);
    assert.match(result.text, /Platform ID did not sign you in/);
    assert.match(result.text, /access_denied/);
    assert.match(result.text, /Start again/);
    await noSessions();
  });

  it('refuses a callback whose state is not the one sent (RFC 6749 §10.12): no session', async () => {
    const browser = cookieFetch();
    const start = await browser(`${s.server.url}/login/upstream?return_to=${encodeURIComponent(authorizePath())}`);
    const callback = await followThroughUpstream(browser, start.headers.get('location')!, 'alice-at-platform', { stopAt: `${s.server.url}/login/upstream/callback` });
    const forged = new URL(callback.url);
    forged.searchParams.set('state', 'attacker-state');
    const answer = await browser(forged.href);
    assert.equal(answer.status, 400);
    assert.match(await answer.text(), /This sign-in could not be verified/);
    await noSessions();
  });

  it('refuses an ID token whose nonce is not the transaction\'s (OpenID Connect Core §3.1.3.7): no session', async () => {
    const browser = cookieFetch();
    const start = await browser(`${s.server.url}/login/upstream?return_to=%2Fportal`);
    const callback = await followThroughUpstream(browser, start.headers.get('location')!, 'alice-at-platform', { stopAt: `${s.server.url}/login/upstream/callback` });
    // Re-encrypt this transaction's cookie with another nonce (the test knows the server's key); the state stays right.
    const key = new Uint8Array(hkdfSync('sha256', s.tokenHmacKey, Buffer.alloc(0), 'gatehouse upstream sign-in transaction', 32));
    const cookies = browser.cookiesOf(s.server.url);
    const { payload } = await jwtDecrypt(cookies.get('gatehouse_upstream')!, key);
    cookies.set('gatehouse_upstream', await new EncryptJWT({ ...payload, nonce: 'another-nonce' }).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).encrypt(key));
    const answer = await browser(callback.url);
    assert.equal(answer.status, 400);
    assert.match(await answer.text(), /This sign-in could not be verified/);
    await noSessions();
  });

  it('refuses a callback without its transaction cookie (replayed, or from another browser): a page, no session', async () => {
    const browser = cookieFetch();
    const start = await browser(`${s.server.url}/login/upstream?return_to=%2Fportal`);
    const callback = await followThroughUpstream(browser, start.headers.get('location')!, 'alice-at-platform', { stopAt: `${s.server.url}/login/upstream/callback` });
    const first = await browser(callback.url);
    assert.equal(first.status, 303, 'the first use signs in');
    assert.equal(first.headers.get('location'), '/portal');
    const replay = await browser(callback.url);
    assert.equal(replay.status, 400);
    assert.match(await replay.text(), /This sign-in has expired/);
    await s.server.storage.loginSessions.deleteOthersOfUser(alice.id, 'none');
  });

  it('ends on a page when the token endpoint cannot be reached: 502, no session', async () => {
    tokenEndpointDown = true;
    try {
      const result = await signInUpstream(s, 'alice-at-platform');
      assert.equal(result.response?.status, 502);
      assert.match(result.text, /Platform ID cannot be reached/);
      assert.match(result.text, /Start again/);
    } finally {
      tokenEndpointDown = false;
    }
    await noSessions();
  });

  it('ends on a page when the provider cannot be reached at all (discovery fails): 502 with a way back', async () => {
    const unreachable = await setup(createSqliteStorage(':memory:'), { issuer: `http://127.0.0.1:${await freePort()}` });
    try {
      const answer = await fetch(`${unreachable.server.url}/login/upstream?return_to=%2Fportal`, { redirect: 'manual' });
      assert.equal(answer.status, 502);
      const text = await answer.text();
      assert.match(text, /Platform ID cannot be reached/);
      assert.match(text, /href="\/login\/upstream\?return_to=%2Fportal"/);
      assert.equal(answer.headers.getSetCookie().some((line) => line.includes('gatehouse_session')), false);
    } finally {
      await unreachable.close();
    }
  });
});

describe('upstream sign-in and two-step verification (issue 10 §2 and §3)', () => {
  let s: Setup;
  before(async () => {
    s = await setup(createSqliteStorage(':memory:'), { requireSecondFactor: 'administrators' });
  });
  after(() => s.close());

  it('takes the second step after the identity provider as after a password: an administrator without a factor enrols first, no session before it', async () => {
    const signedIn = await signInUpstream(s, 'alice-at-platform');
    assert.equal(new URL(signedIn.url).pathname, '/login/second-factor');
    assert.equal(signedIn.response?.status, 200);
    assert.match(signedIn.text, /<code id="totp-secret">/, 'the mandatory enrolment');
    assert.equal((await s.server.storage.loginSessions.listActiveOfUser(alice.id, s.server.clock.nowSeconds())).length, 0, 'no session yet');
    assert.ok((await s.server.storage.audit.list()).some((event) => event.type === 'upstream.signed_in'), 'the first step is audited');
  });

  it('prompt=login: the mandatory enrolment after a silent sign-in at the provider is no re-authentication (it proves only what the first step did)', async () => {
    // The request begins; the person then signs in at the provider with the re-authentication removed from the link.
    const browser = cookieFetch();
    const login = await browser(`${s.server.url}${authorizePath({ prompt: 'login' })}`);
    const href = /<a class="button primary" href="([^"]+)">Sign in with Platform ID<\/a>/.exec(await login.text())![1]!.replaceAll('&amp;', '&');
    const enrolment = await followThroughUpstream(browser, `${s.server.url}${href.replace(/&reauthenticate=1/, '')}`, 'alice-at-platform', {});
    const page = await enrolment.response!.text();
    const secret = /<code id="totp-secret">([A-Z2-7 ]+)<\/code>/.exec(page)![1]!.replaceAll(' ', '');
    s.server.clock.advanceSeconds(2);
    const code = authenticator.clone({ epoch: s.server.clock.nowSeconds() * 1000 }).generate(secret);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    const done = await browser(`${s.server.url}/login/second-factor`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, code }).toString(),
    });
    assert.equal(done.status, 200, 'the recovery codes, shown once');
    const next = /href="(\/oauth\/authorize\?[^"]+)"/.exec(await done.text())![1]!.replaceAll('&amp;', '&');
    const followed = await browser(`${s.server.url}${next}`);
    const text = await followed.text();
    assert.ok(text.includes('Sign in with Platform ID') && !text.includes('name="interaction"'), 'the login step again, not the consent page');
  });

  it('a deleted user, still linked at the provider, is refused before any second step: no pending sign-in, no session', async () => {
    assert.ok(await s.server.storage.directory.deleteUser(alice.id, s.server.clock.nowSeconds()));
    const refused = await signInUpstream(s, 'alice-at-platform');
    assert.equal(refused.response?.status, 403);
    assert.notEqual(new URL(refused.url).pathname, '/login/second-factor');
    assert.match(refused.text, /not set up for connecting apps/);
  });
});

describe('local passwords off (GATEHOUSE_LOCAL_PASSWORDS=off, issue 10 §2)', () => {
  let s: Setup;
  before(async () => {
    s = await setup(createSqliteStorage(':memory:'), { localPasswords: false });
  });
  after(() => s.close());

  it('sends the login step at /oauth/authorize, /portal and /account/* straight to the upstream sign-in', async () => {
    for (const path of [authorizePath(), '/portal', '/account/connected-apps', '/account/sessions', '/account/security']) {
      const answer = await fetch(`${s.server.url}${path}`, { redirect: 'manual' });
      assert.equal(answer.status, 303, path);
      assert.equal(answer.headers.get('location'), `/login/upstream?${new URLSearchParams({ return_to: path })}`);
    }
  });

  it('refuses POST /login with a correct password and a valid CSRF token: 403, no new session', async () => {
    const browser = cookieFetch();
    const start = await browser(`${s.server.url}/login/upstream?return_to=%2Faccount%2Fsessions`);
    const signedIn = await followThroughUpstream(browser, start.headers.get('location')!, 'alice-at-platform');
    assert.equal(signedIn.response?.status, 200, 'signed in through the upstream provider');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await signedIn.response!.text())![1]!;
    const before = (await s.server.storage.loginSessions.listActiveOfUser(alice.id, s.server.clock.nowSeconds())).length;
    const answer = await browser(`${s.server.url}/login`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: s.server.url },
      body: new URLSearchParams({ _csrf: csrf, email: alice.email, password: alice.password, return_to: '/portal' }).toString(),
    });
    assert.equal(answer.status, 403);
    assert.match(await answer.text(), /Passwords are not used here/);
    assert.equal((await s.server.storage.loginSessions.listActiveOfUser(alice.id, s.server.clock.nowSeconds())).length, before);
  });
});
