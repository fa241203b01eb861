/**
 * Black-box tests of pushed authorization requests (RFC 9126): POST /oauth/par and `request_uri` at
 * /oauth/authorize, against a real listening server; the storage-touching rules on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Storage } from '../storage/storage.ts';
import {
  authorizeUrl, basic, Browser, confidentialAuth, hiddenInputs, inputValue, pkcePair, postForm, seed, startTestServer, type TestServer,
} from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';

const client = seed.confidentialClient;
const REQUEST_URI = /^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$/;

const backends: { name: string; skip: string | false; options: () => Promise<{ storage?: Storage }> }[] = [
  { name: 'SQLite', skip: false, options: async () => ({}) },
  { name: 'PostgreSQL', skip: await postgresSkipReason(), options: async () => ({ storage: await createTestPostgresStorage() }) },
];

/** The authorization parameters a client pushes (PKCE S256, state). */
function authorizationParameters(overrides: Record<string, string | undefined> = {}) {
  const pkce = pkcePair();
  const parameters: Record<string, string> = {};
  const all = {
    response_type: 'code', client_id: client.id, redirect_uri: client.redirectUri, scope: 'users:read', state: 'state-par',
    code_challenge: pkce.codeChallenge, code_challenge_method: 'S256', ...overrides,
  };
  for (const [name, value] of Object.entries(all)) if (value !== undefined) parameters[name] = value;
  return { parameters, codeVerifier: pkce.codeVerifier };
}

/** POSTs to /oauth/par; `authorization` null sends no Authorization header. */
async function push(server: TestServer, form: Record<string, string>, authorization: string | null = confidentialAuth()) {
  return postForm(`${server.url}/oauth/par`, form, authorization === null ? {} : { authorization });
}

async function pushedCount(server: TestServer): Promise<number> {
  return (await server.storage.audit.list({ limit: 1000 })).filter((event) => event.type === 'authorization_request.pushed').length;
}

/** Follows a request by reference through login (Alice) and consent; returns the final redirect. */
async function completeByReference(server: TestServer, url: string, browser = new Browser()) {
  let page = await browser.get(url);
  if (page.status === 200 && /action="\/login[?"]/.test(page.text)) {
    const login = await browser.post(`${server.url}/login`, {
      _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!, email: seed.users.alice.email, password: seed.users.alice.password,
    });
    assert.equal(login.status, 303);
    page = await browser.get(new URL(login.location!, server.url).href);
  }
  if (page.status === 200 && page.text.includes('action="/oauth/authorize/decision"')) {
    const subject = /<option value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    page = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(page.text), subject, decision: 'allow' });
  }
  return { page, browser };
}

/** A browser signed in as `user` (through the account's login page). */
async function signedInAs(server: TestServer, user: { email: string; password: string }): Promise<Browser> {
  const browser = new Browser();
  const login = await browser.get(`${server.url}/account`);
  const answer = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: '/account', email: user.email, password: user.password });
  assert.equal(answer.status, 303);
  return browser;
}

/**
 * Chooses `locale` with a page's language switch as a browser would, with `changed` (what the user changed in, or
 * added to, the page's form): a link is followed (GET /language, then where it goes back to); a button of a form (the
 * consent page's) submits that form's fields with it.
 */
async function switchLanguage(server: TestServer, browser: Browser, page: string, locale: string, changed: Record<string, string> = {}) {
  const button = new RegExp(`<button type="submit" form="([^"]+)" formaction="([^"]+)" name="locale" value="${locale}"`).exec(page);
  if (button) {
    assert.match(page, new RegExp(`<form [^>]*id="${button[1]}"`), 'the button submits a form of the page');
    const switched = await browser.post(`${server.url}${button[2]}`, { ...hiddenInputs(page), ...changed, locale });
    // Post/Redirect/Get (the consent page's switch): followed as a browser follows it.
    return switched.status === 303 ? browser.get(`${server.url}${switched.location}`) : switched;
  }
  const link = new RegExp(`<a href="(/language\\?locale=${locale}&amp;[^"]*)"`).exec(page)?.[1]?.replaceAll('&amp;', '&');
  assert.ok(link, `a language switch to ${locale}`);
  const switched = await browser.get(`${server.url}${link}`);
  assert.equal(switched.status, 303);
  return browser.get(`${server.url}${switched.location}`);
}

const byReference = (server: TestServer, requestUri: string, clientId: string = client.id, extra: Record<string, string> = {}) =>
  authorizeUrl(server, { client_id: clientId, request_uri: requestUri, ...extra });

for (const backend of backends) {
  describe(`POST /oauth/par and request_uri at /oauth/authorize (RFC 9126) — ${backend.name}`, { skip: backend.skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(await backend.options());
    });
    after(() => server.close());

    it('answers 201 with a request_uri URN and expires_in 60, no-store (RFC 9126 §2.2), and the request completes to a code and tokens', async () => {
      const { parameters, codeVerifier } = authorizationParameters();
      const pushed = await push(server, parameters);
      assert.equal(pushed.status, 201);
      assert.match(pushed.json.request_uri, REQUEST_URI);
      assert.equal(pushed.json.expires_in, 60);
      assert.equal(pushed.headers.get('cache-control'), 'no-store');
      const { page } = await completeByReference(server, byReference(server, pushed.json.request_uri));
      assert.equal(page.status, 303);
      const redirect = new URL(page.location!);
      assert.equal(`${redirect.origin}${redirect.pathname}`, client.redirectUri);
      assert.equal(redirect.searchParams.get('state'), 'state-par');
      assert.equal(redirect.searchParams.get('iss'), server.issuer);
      const token = await postForm(`${server.url}/oauth/token`, {
        grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: client.redirectUri, code_verifier: codeVerifier,
      }, { authorization: confidentialAuth() });
      assert.equal(token.status, 200, token.text);
      assert.equal(token.json.scope, 'users:read');
    });

    it('ui_locales: the return_to of the login page carries only the language it resolves to; a value no tag list could be (a NUL, 4 KiB) is dropped, and the request still completes', async () => {
      const long = authorizationParameters();
      const pushedLong = await push(server, { ...long.parameters, ui_locales: `zz sv ${'zz-ZZ '.repeat(40)}`.trim() });
      assert.equal(pushedLong.status, 201);
      const loginPage = await new Browser().get(byReference(server, pushedLong.json.request_uri));
      assert.match(inputValue(loginPage.text, 'return_to')!, /^\/oauth\/authorize\?client_id=[^&]+&request_uri=[^&]+&ui_locales=sv$/, 'a short return_to');
      assert.match(loginPage.text, /<html lang="sv"/);
      for (const uiLocales of ['sv\u0000da', `sv ${'x '.repeat(2000)}`]) {
        const { parameters } = authorizationParameters();
        const pushed = await push(server, { ...parameters, ui_locales: uiLocales });
        assert.equal(pushed.status, 201, pushed.text);
        const { page } = await completeByReference(server, byReference(server, pushed.json.request_uri));
        assert.equal(page.status, 303);
        assert.ok(new URL(page.location!).searchParams.get('code'), 'a code is issued');
      }
    });

    it('accepts a public client identified by client_id in the body (RFC 9126 §2: as at the token endpoint)', async () => {
      const { parameters } = authorizationParameters({ client_id: seed.publicClient.id, redirect_uri: seed.publicClient.redirectUri });
      const pushed = await push(server, parameters, null);
      assert.equal(pushed.status, 201, pushed.text);
      assert.match(pushed.json.request_uri, REQUEST_URI);
    });

    it('refuses wrong client authentication with 401 invalid_client and stores nothing (RFC 9126 §2, RFC 6749 §5.2)', async () => {
      const before = await pushedCount(server);
      const { parameters } = authorizationParameters();
      const cases: [string, Record<string, string>, string | null][] = [
        ['a wrong secret', parameters, basic(client.id, 'not-the-secret')],
        ['no authentication for a confidential client', parameters, null],
        ['client_secret in the body (SPEC decision 1)', { ...parameters, client_secret: client.secret }, null],
        ['an unknown client', { ...parameters, client_id: '00000000-0000-4000-8000-000000000000' }, basic('00000000-0000-4000-8000-000000000000', 'x')],
      ];
      for (const [label, form, authorization] of cases) {
        const response = await push(server, form, authorization);
        assert.equal(response.status, 401, label);
        assert.equal(response.json.error, 'invalid_client', label);
        assert.equal(response.json.request_uri, undefined, label);
      }
      assert.equal(await pushedCount(server), before);
    });

    it("refuses a resource server's credentials with unauthorized_client and stores nothing", async () => {
      const before = await pushedCount(server);
      const { parameters } = authorizationParameters({ client_id: seed.resourceServer.id });
      const response = await push(server, parameters, basic(seed.resourceServer.id, seed.resourceServer.secret));
      assert.equal(response.status, 400);
      assert.equal(response.json.error, 'unauthorized_client');
      assert.equal(await pushedCount(server), before);
    });

    it('refuses a client_id in the body that differs from the authenticated client (RFC 6749 §2.3: one identity)', async () => {
      const { parameters } = authorizationParameters({ client_id: seed.publicClient.id });
      const response = await push(server, parameters);
      assert.equal(response.status, 401);
      assert.equal(response.json.error, 'invalid_client');
    });

    it('validates the authorization parameters as /oauth/authorize does, answering JSON errors and storing nothing (RFC 9126 §2.3)', async () => {
      const before = await pushedCount(server);
      const cases: [string, Record<string, string | undefined>, string][] = [
        ['an unregistered redirect_uri', { redirect_uri: 'https://attacker.example/callback' }, 'invalid_request'],
        ['no redirect_uri', { redirect_uri: undefined }, 'invalid_request'],
        ['no state', { state: undefined }, 'invalid_request'],
        ['a scope outside the catalogue', { scope: 'payroll:read' }, 'invalid_scope'],
        ['no code_challenge', { code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'],
        ['plain PKCE', { code_challenge_method: 'plain' }, 'invalid_request'],
        ['response_type=token', { response_type: 'token' }, 'unsupported_response_type'],
        ['a request_uri inside the pushed request (RFC 9126 §2.1)', { request_uri: 'urn:ietf:params:oauth:request_uri:x' }, 'invalid_request'],
        ['prompt=none with login', { prompt: 'none login' }, 'invalid_request'],
        ['a malformed max_age', { max_age: '-1' }, 'invalid_request'],
      ];
      for (const [label, overrides, error] of cases) {
        const response = await push(server, authorizationParameters(overrides).parameters);
        assert.equal(response.status, 400, label);
        assert.equal(response.json.error, error, label);
        assert.equal(response.headers.get('cache-control'), 'no-store', label);
        assert.equal(response.headers.get('location'), null, label);
      }
      const repeated = await fetch(`${server.url}/oauth/par`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: confidentialAuth() },
        body: `${new URLSearchParams(authorizationParameters().parameters)}&scope=vendors:read`,
      });
      assert.equal(repeated.status, 400);
      assert.equal((await repeated.json()).error, 'invalid_request');
      assert.equal(await pushedCount(server), before);
    });

    it("shows an error page, never a redirect, for another client's request_uri, and leaves it for its own client (RFC 9126 §4)", async () => {
      const pushed = await push(server, authorizationParameters().parameters);
      const stolen = await new Browser().get(byReference(server, pushed.json.request_uri, seed.publicClient.id));
      assert.equal(stolen.status, 400);
      assert.equal(stolen.location, undefined);
      assert.match(stolen.text, /no longer valid/);
      const { page } = await completeByReference(server, byReference(server, pushed.json.request_uri));
      assert.equal(page.status, 303);
      assert.ok(new URL(page.location!).searchParams.get('code'));
    });

    it("the login page's language switch comes back to the login page of the request (its continuation), not to the spent request_uri's 'no longer valid' page", async () => {
      const pushed = await push(server, authorizationParameters().parameters);
      const browser = new Browser();
      const loginPage = await browser.get(byReference(server, pushed.json.request_uri));
      assert.equal(loginPage.status, 200);
      const switchTo = /href="(\/language\?locale=de&amp;[^"]*)"/.exec(loginPage.text)?.[1]?.replaceAll('&amp;', '&');
      assert.ok(switchTo, 'a language switch to German');
      const switched = await browser.get(`${server.url}${switchTo}`);
      assert.equal(switched.status, 303);
      const again = await browser.get(`${server.url}${switched.location}`);
      assert.equal(again.status, 200, `${switched.location}: the login page again, in German`);
      assert.match(again.text, /<html lang="de"/);
      const returnTo = inputValue(again.text, 'return_to')!;
      const login = await browser.post(`${server.url}/login`, { _csrf: inputValue(again.text, '_csrf')!, return_to: returnTo, email: seed.users.alice.email, password: seed.users.alice.password });
      assert.equal(login.status, 303);
      assert.equal((await browser.get(`${server.url}${login.location}`)).status, 200, 'the request goes on to consent');
    });

    it("the consent page's language switch shows the same consent in the new language, the company picked kept: the request_uri is not used again, and nothing pushed can be changed through it", async () => {
      const { parameters, codeVerifier } = authorizationParameters({ state: 'state-switch' });
      const pushed = await push(server, parameters);
      const browser = await signedInAs(server, seed.users.alice);
      const consent = await browser.get(byReference(server, pushed.json.request_uri));
      assert.equal(consent.status, 200);
      assert.ok(consent.text.includes('action="/oauth/authorize/decision"'), 'the consent page');
      const picked = [...consent.text.matchAll(/<option value="([^"]+)"/g)].map((match) => match[1]!).at(-1)!;
      // What the pushed request fixed, sent along as if the user had added it to the form: ignored.
      const evil = { redirect_uri: 'https://evil.example/cb', scope: 'users:read vendors:write', code_challenge: pkcePair().codeChallenge, state: 'other', client_id: client.id, request_uri: pushed.json.request_uri };
      const switched = await switchLanguage(server, browser, consent.text, 'de', { subject: picked, ...evil });
      assert.equal(switched.status, 200, "the consent again, not the spent request_uri's 'no longer valid' page");
      assert.match(switched.text, /<html lang="de"/);
      assert.ok(switched.text.includes(`<option value="${picked}" selected>`), 'the company picked is still picked');
      assert.ok(!switched.text.includes('vendors:write'), 'the scope pushed');
      assert.equal((await new Browser().get(byReference(server, pushed.json.request_uri))).status, 400, 'the request_uri stays spent');
      const decided = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(switched.text), subject: picked, decision: 'allow', ...evil });
      assert.equal(decided.status, 303);
      const redirect = new URL(decided.location!);
      assert.equal(`${redirect.origin}${redirect.pathname}`, client.redirectUri, 'the redirect URI pushed');
      assert.equal(redirect.searchParams.get('state'), 'state-switch');
      // The code redeems with the verifier of the challenge pushed, for the scope pushed.
      const tokens = await postForm(`${server.url}/oauth/token`, {
        grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: client.redirectUri, code_verifier: codeVerifier,
      }, { authorization: confidentialAuth() });
      assert.equal(tokens.status, 200, tokens.text);
      assert.equal(tokens.json.scope, 'users:read');
    });

    it("the page of a user with no company to connect: its language switch comes back to that page of the request (a fresh request_uri), not to the spent request_uri's 'no longer valid' page", async () => {
      const pushed = await push(server, authorizationParameters({ state: 'state-none' }).parameters);
      const browser = await signedInAs(server, seed.developer);
      const page = await browser.get(byReference(server, pushed.json.request_uri));
      assert.equal(page.status, 403, 'the page saying there is no company to connect');
      const again = await switchLanguage(server, browser, page.text, 'de');
      assert.equal(again.status, 403, "the same page, not the spent request_uri's 400");
      assert.match(again.text, /<html lang="de"/);
      const back = new URL(/<a class="button primary" href="([^"]+)"/.exec(again.text)![1]!.replaceAll('&amp;', '&'));
      assert.equal(`${back.origin}${back.pathname}`, client.redirectUri);
      assert.equal(back.searchParams.get('state'), 'state-none', 'the request pushed');
      assert.equal((await new Browser().get(byReference(server, pushed.json.request_uri))).status, 400, 'the request_uri stays spent');
    });

    it('the same with prompt=login: the fresh request_uri keeps the login made on the request\'s login page (no second login page)', async () => {
      const pushed = await push(server, authorizationParameters({ state: 'state-none-login', prompt: 'login' }).parameters);
      const browser = new Browser();
      const loginPage = await browser.get(byReference(server, pushed.json.request_uri));
      assert.ok(/action="\/login[?"]/.test(loginPage.text));
      const login = await browser.post(`${server.url}/login`, {
        _csrf: inputValue(loginPage.text, '_csrf')!, return_to: inputValue(loginPage.text, 'return_to')!, email: seed.developer.email, password: seed.developer.password,
      });
      assert.equal(login.status, 303);
      const page = await browser.get(`${server.url}${login.location}`);
      assert.equal(page.status, 403, 'the page saying there is no company to connect');
      const again = await switchLanguage(server, browser, page.text, 'de');
      assert.equal(again.status, 403, 'the same page, not the login page again');
      assert.match(again.text, /<html lang="de"/);
    });

    it('uses a request_uri once: a second use is an error page, no redirect (RFC 9126 §7.3)', async () => {
      const pushed = await push(server, authorizationParameters().parameters);
      const first = await new Browser().get(byReference(server, pushed.json.request_uri));
      assert.equal(first.status, 200);
      const second = await new Browser().get(byReference(server, pushed.json.request_uri));
      assert.equal(second.status, 400);
      assert.equal(second.location, undefined);
    });

    it('spends nothing on HEAD (a link checker): 405 with Allow: GET, and the request_uri still works', async () => {
      const pushed = await push(server, authorizationParameters().parameters);
      const head = await fetch(byReference(server, pushed.json.request_uri), { method: 'HEAD', redirect: 'manual' });
      assert.equal(head.status, 405);
      assert.equal(head.headers.get('allow'), 'GET');
      const { page } = await completeByReference(server, byReference(server, pushed.json.request_uri));
      assert.equal(page.status, 303, 'the request_uri was not spent');
    });

    it('refuses a request_uri 60 seconds after it was pushed (injected clock), with an error page', async () => {
      const pushed = await push(server, authorizationParameters().parameters);
      server.clock.advanceSeconds(60);
      const late = await new Browser().get(byReference(server, pushed.json.request_uri));
      assert.equal(late.status, 400);
      assert.equal(late.location, undefined);
    });

    it('refuses request_uri without client_id, and a malformed request_uri, with an error page', async () => {
      const pushed = await push(server, authorizationParameters().parameters);
      const noClient = await new Browser().get(authorizeUrl(server, { request_uri: pushed.json.request_uri }));
      assert.equal(noClient.status, 400);
      assert.equal(noClient.location, undefined);
      const malformed = await new Browser().get(byReference(server, 'urn:ietf:params:oauth:request_uri:short'));
      assert.equal(malformed.status, 400);
      // Not consumed by either attempt.
      const { page } = await completeByReference(server, byReference(server, pushed.json.request_uri));
      assert.equal(page.status, 303);
    });

    it('reads an empty request_uri as omitted (RFC 6749 §3.1): the request by value goes on to the login page', async () => {
      const page = await new Browser().get(authorizeUrl(server, { ...authorizationParameters().parameters, request_uri: '' }));
      assert.equal(page.status, 200);
      assert.ok(/action="\/login[?"]/.test(page.text), 'the login page');
    });

    it('ignores every parameter besides client_id and request_uri at /oauth/authorize (RFC 9126 §4)', async () => {
      const pushed = await push(server, authorizationParameters({ state: 'pushed-state' }).parameters);
      const { page } = await completeByReference(server, byReference(server, pushed.json.request_uri, client.id, {
        redirect_uri: 'https://attacker.example/callback', scope: 'users:read vendors:read', state: 'forged-state',
      }));
      assert.equal(page.status, 303);
      const redirect = new URL(page.location!);
      assert.equal(`${redirect.origin}${redirect.pathname}`, client.redirectUri);
      assert.equal(redirect.searchParams.get('state'), 'pushed-state');
    });

    it("answers a client that requires PAR with an invalid_request redirect for a request by value, and not another client (RFC 9126 §6)", async () => {
      const registered = await server.storage.clients.find(seed.publicClient.id);
      await server.storage.clients.update(seed.publicClient.id, { requirePushedAuthorizationRequests: true });
      try {
        const { parameters } = authorizationParameters({ client_id: seed.publicClient.id, redirect_uri: seed.publicClient.redirectUri, state: 'by-value' });
        const plain = await new Browser().get(authorizeUrl(server, parameters));
        assert.equal(plain.status, 303);
        const redirect = new URL(plain.location!);
        assert.equal(redirect.searchParams.get('error'), 'invalid_request');
        assert.equal(redirect.searchParams.get('state'), 'by-value');
        assert.equal(redirect.searchParams.get('iss'), server.issuer);
        assert.equal(redirect.searchParams.get('code'), null);
        // The same request pushed is accepted.
        const pushed = await push(server, parameters, null);
        assert.equal(pushed.status, 201);
        assert.equal((await new Browser().get(byReference(server, pushed.json.request_uri, seed.publicClient.id))).status, 200);
        // Another client is unaffected.
        const other = await new Browser().get(authorizeUrl(server, authorizationParameters().parameters));
        assert.equal(other.status, 200);
      } finally {
        await server.storage.clients.update(seed.publicClient.id, { requirePushedAuthorizationRequests: registered?.requirePushedAuthorizationRequests ?? false });
      }
    });
  });
}

describe('PAR required for the whole deployment (requirePushedAuthorizationRequests, RFC 9126 §5)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ requirePushedAuthorizationRequests: true });
  });
  after(() => server.close());

  it('advertises require_pushed_authorization_requests: true and the endpoint', async () => {
    const metadata = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json();
    assert.equal(metadata.require_pushed_authorization_requests, true);
    assert.equal(metadata.pushed_authorization_request_endpoint, `${server.issuer}/oauth/par`);
  });

  it('redirects a request by value with invalid_request, state and iss, showing no login page and issuing no code', async () => {
    const plain = await new Browser().get(authorizeUrl(server, authorizationParameters({ state: 'plain' }).parameters));
    assert.equal(plain.status, 303);
    const redirect = new URL(plain.location!);
    assert.equal(redirect.searchParams.get('error'), 'invalid_request');
    assert.equal(redirect.searchParams.get('state'), 'plain');
    assert.equal(redirect.searchParams.get('iss'), server.issuer);
    assert.equal(redirect.searchParams.get('code'), null);
  });

  it('still shows an error page (no redirect) for an unregistered redirect_uri (SPEC decision 5)', async () => {
    const page = await new Browser().get(authorizeUrl(server, authorizationParameters({ redirect_uri: 'https://attacker.example/cb' }).parameters));
    assert.equal(page.status, 400);
    assert.equal(page.location, undefined);
  });

  it('answers GET with 405, and a JSON body with 415 invalid_request (RFC 9126 §2.1: a form body)', async () => {
    const get = await fetch(`${server.url}/oauth/par`);
    assert.notEqual(get.status, 200);
    const json = await fetch(`${server.url}/oauth/par`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: confidentialAuth() }, body: JSON.stringify(authorizationParameters().parameters),
    });
    assert.equal(json.status, 415);
    assert.equal((await json.json()).error, 'invalid_request');
  });

  it('completes a pushed request through login and consent', async () => {
    const pushed = await push(server, authorizationParameters().parameters);
    assert.equal(pushed.status, 201);
    const { page } = await completeByReference(server, byReference(server, pushed.json.request_uri));
    assert.equal(page.status, 303);
    assert.ok(new URL(page.location!).searchParams.get('code'));
  });
});

describe('POST /oauth/par limits (SPEC decision 18, issue 11 item 1)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ oauthEndpointRateLimit: { windowSeconds: 10, maxRequestsPerClient: 2, maxRequestsPerAddress: 100 } });
  });
  after(() => server.close());

  it('metadata advertises the endpoint, require_pushed_authorization_requests false by default, and the prompt values', async () => {
    const metadata = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json();
    assert.equal(metadata.pushed_authorization_request_endpoint, `${server.issuer}/oauth/par`);
    assert.equal(metadata.require_pushed_authorization_requests, false);
    assert.deepEqual(metadata.prompt_values_supported, ['none', 'login', 'consent']);
  });

  it('refuses a body over 8 KiB with 413 before reading it', async () => {
    const response = await push(server, { ...authorizationParameters().parameters, state: 'x'.repeat(9 * 1024) });
    assert.equal(response.status, 413);
  });

  it('rate-limits per client with 429 and Retry-After, counting on its own', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await push(server, authorizationParameters().parameters)).status);
    assert.deepEqual(statuses, [201, 201, 429]);
    const limited = await push(server, authorizationParameters().parameters);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal(limited.json.error, 'temporarily_unavailable');
  });
});
