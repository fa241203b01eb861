import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { authorize, authorizeUrl, Browser, confidentialAuth, hiddenInputs, inputValue, pkcePair, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { registerClient } from '../clients/registration.ts';
import { approveClient, setClientLogo, updateClient } from '../clients/client-management.ts';
import { pngImage } from '../testing/images.ts';
import type { Storage } from '../storage/storage.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';

const client = seed.confidentialClient;
const alice = seed.users.alice;
const danishCompany = `urn:gatehouse:company:${seed.companies[0].id}`;
const swedishCompany = `urn:gatehouse:company:${seed.companies[1].id}`;

function validParameters(overrides: Record<string, string | undefined> = {}) {
  return {
    response_type: 'code', client_id: client.id, redirect_uri: client.redirectUri, scope: 'users:read',
    state: 'xyz', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256', ...overrides,
  };
}

/** A browser that has logged in as the given user. */
async function loggedIn(server: TestServer, user: { email: string; password: string } = alice): Promise<Browser> {
  const browser = new Browser();
  const page = await browser.get(authorizeUrl(server, validParameters()));
  const login = await browser.post(`${server.url}/login`, {
    _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!, email: user.email, password: user.password,
  });
  assert.equal(login.status, 303);
  return browser;
}

/** The storage-touching rules run on both backends (issue 11: "each item has a test on both backends"). */
const backends: { name: string; skip: string | false; options: () => Promise<{ storage?: Storage }> }[] = [
  { name: 'SQLite', skip: false, options: async () => ({}) },
  { name: 'PostgreSQL', skip: await postgresSkipReason(), options: async () => ({ storage: await createTestPostgresStorage() }) },
];

async function codesIssued(server: TestServer): Promise<number> {
  return (await server.storage.audit.list({ limit: 1000 })).filter((event) => event.type === 'consent.granted' || event.type === 'consent.reused').length;
}

describe('GET /oauth/authorize', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  describe('before the redirect URI is established: an error page, never a redirect (SPEC decision 5)', () => {
    const cases: [string, Record<string, string | undefined>][] = [
      ['a missing client_id', { client_id: undefined }],
      ['an unknown client_id', { client_id: '00000000-0000-4000-8000-000000000000' }],
      ['a resource server credential used as a client', { client_id: seed.resourceServer.id }],
      ['a missing redirect_uri', { redirect_uri: undefined }],
      ['an unregistered redirect_uri', { redirect_uri: 'https://attacker.example/callback' }],
      ['a trailing slash', { redirect_uri: `${client.redirectUri}/` }],
      ['a different case', { redirect_uri: client.redirectUri.replace('callback', 'Callback') }],
      ['a different host case', { redirect_uri: client.redirectUri.replace('localhost', 'LOCALHOST') }],
      ['an extra query', { redirect_uri: `${client.redirectUri}?next=/admin` }],
      ['a different port', { redirect_uri: client.redirectUri.replace(':8080', ':8081') }],
      ['a fragment', { redirect_uri: `${client.redirectUri}#frag` }],
      ['127.0.0.1 for localhost (no loopback aliases)', { redirect_uri: client.redirectUri.replace('localhost', '127.0.0.1') }],
    ];
    for (const [label, overrides] of cases) {
      it(`shows the error page for ${label}`, async () => {
        const response = await new Browser().get(authorizeUrl(server, validParameters(overrides)));
        assert.equal(response.status, 400);
        assert.equal(response.location, undefined, 'no redirect');
        assert.match(response.headers.get('content-type') ?? '', /text\/html/);
        assert.match(response.text, /You were not sent back to the application/);
      });
    }

    it('words the page for the end user (the app, the address to return to) and keeps the protocol words in a line for the developer', async () => {
      const expectations: [Record<string, string | undefined>, RegExp, RegExp][] = [
        [{ client_id: '00000000-0000-4000-8000-000000000000' }, /The application that sent you here is not registered\./, /The request names an unknown client_id\./],
        [{ client_id: undefined }, /The application that sent you here is not registered\./, /The request has no client_id\./],
        [{ redirect_uri: undefined }, /did not say where to send you back\./, /The request has no redirect_uri\./],
        [{ redirect_uri: 'https://attacker.example/callback' }, /The address the application asked to return to is not registered for it\./, /The redirect_uri is not registered for this app\./],
      ];
      for (const [overrides, user, developer] of expectations) {
        const { text } = await new Browser().get(authorizeUrl(server, validParameters(overrides)));
        const alert = /<p class="error" role="alert">([^<]*)<\/p>/.exec(text)?.[1] ?? '';
        assert.match(alert, user);
        assert.doesNotMatch(alert, /client_id|redirect_uri/, 'no protocol words in the message');
        assert.match(text, new RegExp(`<p class="muted developer">For the app&#39;s developer: ${developer.source}</p>`));
      }
      const french = await new Browser().request(authorizeUrl(server, validParameters({ redirect_uri: 'https://attacker.example/callback' })), { headers: { 'accept-language': 'fr' } });
      assert.match(french.text, /<p class="error" role="alert">L’adresse de retour demandée par l’application n’est pas enregistrée pour elle\.<\/p>/);
    });

    it('shows the error page for a repeated redirect_uri (RFC 6749 §3.1)', async () => {
      const url = `${authorizeUrl(server, validParameters())}&redirect_uri=${encodeURIComponent('https://attacker.example/cb')}`;
      const response = await new Browser().get(url);
      assert.equal(response.status, 400);
      assert.equal(response.location, undefined);
    });

    it('refuses a pending client with a page (SPEC decision 13)', async () => {
      const { client: pending } = await registerClient(
        { storage: server.storage, environment: 'staging', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
        { clientName: 'Pending App', clientType: 'public', redirectUris: ['http://localhost:9000/cb'], scopes: ['users:read'] },
      );
      const response = await new Browser().get(authorizeUrl(server, validParameters({ client_id: pending.clientId, redirect_uri: 'http://localhost:9000/cb' })));
      assert.equal(response.status, 400);
      assert.equal(response.location, undefined);
      assert.match(response.text, /waiting for approval/);
    });
  });

  describe('after it is established: a redirect with error, state and iss (SPEC decision 5, RFC 9207)', () => {
    const expectRedirectError = async (overrides: Record<string, string | undefined>, error: string, options: { state?: string | null } = {}) => {
      const response = await new Browser().get(authorizeUrl(server, validParameters(overrides)));
      assert.equal(response.status, 303);
      const location = new URL(response.location!);
      assert.equal(`${location.origin}${location.pathname}`, client.redirectUri);
      assert.equal(location.searchParams.get('error'), error);
      assert.ok(location.searchParams.get('error_description'));
      assert.equal(location.searchParams.get('iss'), server.issuer);
      assert.equal(location.searchParams.get('code'), null, 'no code issued');
      assert.equal(location.searchParams.get('state'), options.state === undefined ? 'xyz' : options.state);
    };

    it('refuses a missing state with invalid_request (SPEC decision 3)', () => expectRedirectError({ state: undefined }, 'invalid_request', { state: null }));
    it('refuses a malformed state (over 512 characters, a space, not ASCII) and echoes it exactly (RFC 6749 §4.1.2.1)', async () => {
      for (const state of ['a'.repeat(513), 'a b', 'tilstand-å', 'tab\there']) await expectRedirectError({ state }, 'invalid_request', { state });
    });
    it('refuses a state or other value that is not valid percent-encoded UTF-8, never sending back a value other than the one sent (RFC 6749 §4.1.2)', async () => {
      for (const [name, raw, echoed] of [['state', 's%C0%AF', null], ['state', '%ZZ', null], ['state', 'x%E2%82', null], ['scope', 'users%3Aread%FF', 'xyz']] as const) {
        const url = authorizeUrl(server, validParameters({ [name]: undefined }));
        const response = await new Browser().get(`${url}&${name}=${raw}`);
        assert.equal(response.status, 303, raw);
        const location = new URL(response.location!);
        assert.equal(`${location.origin}${location.pathname}`, client.redirectUri);
        assert.equal(location.searchParams.get('error'), 'invalid_request', raw);
        assert.match(location.searchParams.get('error_description')!, new RegExp(`parameter ${name} is not valid percent-encoded UTF-8`), raw);
        assert.equal(location.searchParams.get('state'), echoed, raw);
        assert.equal(location.searchParams.get('code'), null);
        assert.equal(location.searchParams.get('iss'), server.issuer);
      }
      // A percent sign sent encoded is a value like any other: %25C0 is the state "%C0", sent back as it came.
      await expectRedirectError({ state: '%C0', response_type: 'token' }, 'unsupported_response_type', { state: '%C0' });
    });
    it('refuses a missing response_type with invalid_request', () => expectRedirectError({ response_type: undefined }, 'invalid_request'));
    it('refuses response_type=token with unsupported_response_type', () => expectRedirectError({ response_type: 'token' }, 'unsupported_response_type'));
    it('refuses a missing scope with invalid_scope (RFC 6749 §3.3)', () => expectRedirectError({ scope: undefined }, 'invalid_scope'));
    it('refuses an unknown scope with invalid_scope', () => expectRedirectError({ scope: 'users:read admin:everything' }, 'invalid_scope'));
    it('refuses a missing code_challenge for a confidential client (SPEC decision 2)', () =>
      expectRedirectError({ code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'));
    it('refuses a missing code_challenge for a public client (SPEC decision 2)', async () => {
      const response = await new Browser().get(authorizeUrl(server, validParameters({ client_id: seed.publicClient.id, code_challenge: undefined, code_challenge_method: undefined })));
      assert.equal(new URL(response.location!).searchParams.get('error'), 'invalid_request');
    });
    it('refuses code_challenge_method=plain (seeds: plain is not allowed)', () => expectRedirectError({ code_challenge_method: 'plain' }, 'invalid_request'));
    it('refuses an unknown code_challenge_method', () => expectRedirectError({ code_challenge_method: 'S512' }, 'invalid_request'));
    it('refuses a code_challenge without a method (RFC 7636 §4.3 default plain)', () => expectRedirectError({ code_challenge_method: undefined }, 'invalid_request'));
    it('refuses a malformed code_challenge', () => expectRedirectError({ code_challenge: 'too-short' }, 'invalid_request'));
    it('refuses a repeated scope parameter (RFC 6749 §3.1)', async () => {
      const response = await new Browser().get(`${authorizeUrl(server, validParameters())}&scope=users:write`);
      assert.equal(new URL(response.location!).searchParams.get('error'), 'invalid_request');
    });
    it('refuses a malformed subject URN', () => expectRedirectError({ urn_gatehouse_params_oauth_subject: 'urn:gatehouse:company:not-a-uuid' }, 'invalid_request'));
    it('refuses an organization URN for a company client', () =>
      expectRedirectError({ urn_gatehouse_params_oauth_subject: `urn:gatehouse:organization:${seed.organization.id}` }, 'invalid_request'));
  });

  describe('login (SPEC decision 18)', () => {
    it('shows a login form with labelled email and password fields and a CSRF token', async () => {
      const response = await new Browser().get(authorizeUrl(server, validParameters()));
      assert.equal(response.status, 200);
      assert.match(response.text, /<label for="email">/);
      assert.match(response.text, /<input id="email" name="email"/);
      assert.match(response.text, /<label for="password">/);
      assert.match(response.text, /<input id="password" name="password" type="password"/);
      assert.ok(inputValue(response.text, '_csrf'));
    });

    it('sends anti-framing headers on pages', async () => {
      const response = await new Browser().get(authorizeUrl(server, validParameters()));
      assert.equal(response.headers.get('x-frame-options'), 'DENY');
      assert.match(response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    });

    it('refuses a login without the CSRF token, and starts no session', async () => {
      const browser = new Browser();
      const page = await browser.get(authorizeUrl(server, validParameters()));
      const response = await browser.post(`${server.url}/login`, { return_to: inputValue(page.text, 'return_to')!, email: alice.email, password: alice.password });
      assert.equal(response.status, 403);
      assert.equal(browser.cookies.has('gatehouse_session'), false);
    });

    it('refuses a login with a CSRF token from another browser', async () => {
      const attacker = new Browser();
      const attackerPage = await attacker.get(authorizeUrl(server, validParameters()));
      const victim = new Browser();
      await victim.get(authorizeUrl(server, validParameters()));
      const response = await victim.post(`${server.url}/login`, { _csrf: inputValue(attackerPage.text, '_csrf')!, return_to: '/', email: alice.email, password: alice.password });
      assert.equal(response.status, 403);
      assert.equal(victim.cookies.has('gatehouse_session'), false);
    });

    it('refuses a wrong password without saying whether the account exists', async () => {
      for (const email of [alice.email, 'nobody@example.com']) {
        const browser = new Browser();
        const page = await browser.get(authorizeUrl(server, validParameters()));
        const response = await browser.post(`${server.url}/login`, { _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!, email, password: 'wrong' });
        assert.equal(response.status, 401);
        assert.match(response.text, /The email or password is incorrect/);
        assert.equal(browser.cookies.has('gatehouse_session'), false);
      }
    });

    it('a refused login\'s address, opened again (Enter in the address bar), comes back to the app\'s sign-in, not the account\'s (it lost the authorization)', async () => {
      const browser = new Browser();
      const page = await browser.get(authorizeUrl(server, validParameters()));
      const returnTo = inputValue(page.text, 'return_to')!;
      const action = /<form method="post" action="([^"]+)">\s*<input type="hidden" name="_csrf"[^>]*>\s*<input type="hidden" name="return_to"/.exec(page.text)?.[1]?.replace(/&amp;/g, '&');
      assert.equal(action, `/login?${new URLSearchParams({ return_to: returnTo })}`, 'the form posts to an address naming where it continues');
      // An unknown account: a failure for alice would slow the other cases' logins (the throttle, SPEC decision 18).
      const refused = await browser.post(`${server.url}${action}`, { _csrf: inputValue(page.text, '_csrf')!, return_to: returnTo, email: 'nobody-reopened@example.com', password: 'wrong' });
      assert.equal(refused.status, 401);
      const reopened = await browser.get(`${server.url}${action}`);
      assert.deepEqual([reopened.status, reopened.location], [303, returnTo]);
      const again = await browser.get(`${server.url}${reopened.location}`);
      assert.ok(again.text.includes('to connect <strong>Ledgerly Sync</strong>'), 'the app\'s sign-in again');
      // Only where POST /login would continue: never another site, nor a path outside the allowed ones.
      for (const elsewhere of ['https://attacker.example/', '//attacker.example', '/oauth/token', '/account/../admin']) {
        const response = await browser.get(`${server.url}/login?${new URLSearchParams({ return_to: elsewhere })}`);
        assert.deepEqual([response.status, response.location], [303, '/account'], elsewhere);
      }
      // The account's own sign-in names its page the same way.
      assert.match((await browser.get(`${server.url}/account`)).text, /<form method="post" action="\/login\?return_to=%2Faccount">/);
    });

    it('a refused login still says which app the sign-in is for (it dropped "to connect <app>")', async () => {
      const browser = new Browser();
      const page = await browser.get(authorizeUrl(server, validParameters()));
      const asking = 'to connect <strong>Ledgerly Sync</strong>';
      assert.ok(page.text.includes(asking));
      const refused = await browser.post(`${server.url}/login`, { _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!, email: alice.email, password: 'wrong' });
      assert.equal(refused.status, 401);
      assert.ok(refused.text.includes(asking), 'the refused login names the app');
      // A login for an account page names no app; nor does one whose client_id is not a client.
      const other = await browser.post(`${server.url}/login`, { _csrf: inputValue(refused.text, '_csrf')!, return_to: '/account', email: alice.email, password: 'wrong' });
      assert.doesNotMatch(other.text, /to connect/);
      const unknown = await browser.post(`${server.url}/login`, {
        _csrf: inputValue(other.text, '_csrf')!, return_to: '/oauth/authorize?client_id=00000000-0000-4000-8000-000000000000', email: alice.email, password: 'wrong',
      });
      assert.doesNotMatch(unknown.text, /to connect/);
    });

    it('never redirects a login to another site (no open redirect)', async () => {
      const browser = new Browser();
      const page = await browser.get(authorizeUrl(server, validParameters()));
      const response = await browser.post(`${server.url}/login`, { _csrf: inputValue(page.text, '_csrf')!, return_to: 'https://attacker.example/', email: alice.email, password: alice.password });
      assert.equal(response.status, 303);
      assert.equal(response.location, '/');
    });

    it('rate-limits failed logins per account with 429, even with the right password then', async () => {
      const limited = await startTestServer({ loginRateLimit: { maxFailures: 3, windowSeconds: 600 } });
      try {
        const attempt = async (password: string) => {
          const browser = new Browser();
          const page = await browser.get(authorizeUrl(limited, validParameters()));
          return browser.post(`${limited.url}/login`, { _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!, email: seed.users.bob.email, password });
        };
        for (let i = 0; i < 3; i++) assert.equal((await attempt('wrong')).status, 401);
        const blocked = await attempt(seed.users.bob.password);
        assert.equal(blocked.status, 429);
        assert.ok(Number(blocked.headers.get('retry-after')) > 0);
        limited.clock.advanceSeconds(601);
        assert.equal((await attempt(seed.users.bob.password)).status, 303);
      } finally {
        await limited.close();
      }
    });
  });

  describe('consent (SPEC decision 11)', () => {
    it('shows the brand, client, scopes in words, a subject picker and allow/deny buttons', async () => {
      const browser = await loggedIn(server);
      const page = await browser.get(authorizeUrl(server, validParameters({ scope: 'users:read vendors:read' })));
      assert.equal(page.status, 200);
      assert.match(page.text, /Gatehouse/);
      assert.match(page.text, /Ledgerly Sync/);
      assert.match(page.text, /ledgerly\.example/);
      assert.match(page.text, /See users and employees/);
      assert.match(page.text, /See vendors/);
      assert.match(page.text, /href="https:\/\/ledgerly\.example\/terms"/);
      assert.match(page.text, /href="https:\/\/ledgerly\.example\/privacy"/);
      assert.match(page.text, /<select id="subject" name="subject">/);
      assert.match(page.text, new RegExp(`<option value="${danishCompany}"`));
      assert.match(page.text, new RegExp(`<option value="${swedishCompany}"`));
      assert.match(page.text, /<button type="submit" name="decision" value="deny">/);
      assert.match(page.text, /<button class="primary" type="submit" name="decision" value="allow">/);
      assert.equal(page.headers.get('x-frame-options'), 'DENY');
    });

    it('shows what was registered: uploaded logo, client URI host, terms and privacy links; no "unverified" hint once the branding is approved', async () => {
      const context = { storage: server.storage, environment: 'staging' as const, brandName: 'Gatehouse', now: server.clock.nowSeconds(), actor: 'admin:ops' };
      const { client: registered } = await registerClient(context, {
        clientName: 'Fjord Ledger', clientType: 'confidential', redirectUris: ['http://localhost:9100/cb'], scopes: ['users:read'],
        clientUri: 'https://fjord.example/app', tosUri: 'https://fjord.example/tos', policyUri: 'https://fjord.example/privacy',
      }, {}, { actor: 'user:partner', ownerUserId: seed.users.bob.id });
      await setClientLogo(context, server.issuer, registered.clientId, pngImage(256, 256));
      const browser = await loggedIn(server);
      const parameters = validParameters({ client_id: registered.clientId, redirect_uri: 'http://localhost:9100/cb' });
      assert.match((await browser.get(authorizeUrl(server, parameters))).text, /waiting for approval/, 'pending: no consent page (SPEC decision 13)');
      await approveClient(context, registered.clientId);
      const page = await browser.get(authorizeUrl(server, parameters));
      assert.equal(page.status, 200);
      assert.match(page.text, new RegExp(`<img src="${server.issuer}/logos/${registered.clientId}\\?v=[A-Za-z0-9_-]+" alt="Fjord Ledger logo">`));
      assert.match(page.text, /fjord\.example/);
      assert.match(page.text, /href="https:\/\/fjord\.example\/tos"/);
      assert.match(page.text, /href="https:\/\/fjord\.example\/privacy"/);
      assert.doesNotMatch(page.text, /Unverified app/);
      const logo = await fetch(`${server.issuer}/logos/${registered.clientId}`);
      assert.equal(logo.headers.get('content-type'), 'image/png');
    });

    it('shows an "Unverified app" hint while the platform has not approved the client\'s branding (a partner renamed it)', async () => {
      const context = { storage: server.storage, environment: 'staging' as const, brandName: 'Gatehouse', now: server.clock.nowSeconds(), actor: 'admin:ops' };
      const { client: registered } = await registerClient(context, {
        clientName: 'Fjord Payroll', clientType: 'confidential', redirectUris: ['http://localhost:9101/cb'], scopes: ['users:read'],
      }, {}, { actor: 'user:partner', ownerUserId: seed.users.bob.id });
      await approveClient(context, registered.clientId);
      await updateClient({ ...context, actor: `user:${seed.users.bob.id}` }, registered.clientId, { clientName: 'Fjord Payroll Pro' });
      const browser = await loggedIn(server);
      const page = await browser.get(authorizeUrl(server, validParameters({ client_id: registered.clientId, redirect_uri: 'http://localhost:9101/cb' })));
      assert.equal(page.status, 200);
      assert.match(page.text, /Fjord Payroll Pro/);
      assert.match(page.text, /<p class="unverified" role="note"><strong>Unverified app\.<\/strong> Gatehouse has not yet reviewed/);
    });

    it('offers only the subjects the user administers', async () => {
      const browser = await loggedIn(server, seed.users.bob);
      const page = await browser.get(authorizeUrl(server, validParameters()));
      assert.match(page.text, new RegExp(`<option value="${danishCompany}"`));
      assert.doesNotMatch(page.text, new RegExp(swedishCompany));
    });

    it('pre-selects the subject named by urn_gatehouse_params_oauth_subject', async () => {
      const browser = await loggedIn(server);
      const page = await browser.get(authorizeUrl(server, validParameters({ urn_gatehouse_params_oauth_subject: swedishCompany, prompt: 'consent' })));
      assert.match(page.text, new RegExp(`<option value="${swedishCompany}" selected>`));
      assert.doesNotMatch(page.text, new RegExp(`<option value="${danishCompany}"`), 'the requested subject is the only choice');
    });

    it('refuses a requested subject the user does not administer with access_denied', async () => {
      const browser = await loggedIn(server, seed.users.bob);
      const response = await browser.get(authorizeUrl(server, validParameters({ urn_gatehouse_params_oauth_subject: swedishCompany })));
      assert.equal(response.status, 303);
      assert.equal(new URL(response.location!).searchParams.get('error'), 'access_denied');
    });

    it('redirects with code, state and iss on allow (RFC 9207)', async () => {
      const { redirect } = await authorize(server, { state: 'state-allow' });
      assert.equal(`${redirect.origin}${redirect.pathname}`, client.redirectUri);
      assert.match(redirect.searchParams.get('code') ?? '', /^gac_/);
      assert.equal(redirect.searchParams.get('state'), 'state-allow');
      assert.equal(redirect.searchParams.get('iss'), server.issuer);
    });

    it('redirects with access_denied on deny and issues no code', async () => {
      const before = await codesIssued(server);
      const { redirect } = await authorize(server, { decision: 'deny', state: 'state-deny', extra: { prompt: 'consent' } });
      assert.equal(redirect.searchParams.get('error'), 'access_denied');
      assert.equal(redirect.searchParams.get('state'), 'state-deny');
      assert.equal(redirect.searchParams.get('code'), null);
      assert.equal(await codesIssued(server), before);
    });

    it('refuses a consent form without the CSRF token and issues no code', async () => {
      const browser = await loggedIn(server);
      const page = await browser.get(authorizeUrl(server, validParameters({ prompt: 'consent' })));
      const { _csrf, ...fields } = hiddenInputs(page.text);
      const before = await codesIssued(server);
      const response = await browser.post(`${server.url}/oauth/authorize/decision`, { ...fields, subject: danishCompany, decision: 'allow' });
      assert.equal(response.status, 403);
      assert.equal(response.location, undefined);
      assert.equal(await codesIssued(server), before);
    });

    it('refuses a tampered subject on the consent form', async () => {
      const browser = await loggedIn(server, seed.users.bob);
      const page = await browser.get(authorizeUrl(server, validParameters({ prompt: 'consent' })));
      const before = await codesIssued(server);
      const response = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(page.text), subject: swedishCompany, decision: 'allow' });
      const location = new URL(response.location!);
      assert.equal(location.searchParams.get('error'), 'access_denied');
      assert.equal(location.searchParams.get('error_description'), 'the user cannot connect that company');
      assert.equal(location.searchParams.get('code'), null);
      assert.equal(await codesIssued(server), before);
    });

    it('refuses the decision when the user stopped administering the chosen company after the consent page (no code, no consent event)', async () => {
      const browser = await loggedIn(server);
      const page = await browser.get(authorizeUrl(server, validParameters({ prompt: 'consent' })));
      const membership = { subjectType: 'company' as const, subjectId: seed.companies[0].id };
      assert.equal(await server.storage.directory.deleteMembership(alice.id, membership, server.clock.nowSeconds()), true);
      try {
        const before = await codesIssued(server);
        const response = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(page.text), subject: danishCompany, decision: 'allow' });
        const location = new URL(response.location!);
        assert.equal(location.searchParams.get('error'), 'access_denied');
        assert.equal(location.searchParams.get('code'), null);
        assert.equal(await codesIssued(server), before);
      } finally {
        await server.storage.subjects.addAdministrator(alice.id, membership.subjectType, membership.subjectId);
      }
    });

    it('ignores request fields posted with the consent form: the code carries the stored client, redirect URI and scope (issue 11 item 6)', async () => {
      const browser = await loggedIn(server);
      const page = await browser.get(authorizeUrl(server, validParameters({ prompt: 'consent', scope: 'users:read' })));
      const response = await browser.post(`${server.url}/oauth/authorize/decision`, {
        ...hiddenInputs(page.text), redirect_uri: 'https://attacker.example/cb', client_id: seed.publicClient.id,
        scope: 'users:read users:write vendors:write', state: 'swapped', subject: danishCompany, decision: 'allow',
      });
      assert.equal(response.status, 303);
      assert.ok(response.location!.startsWith(`${client.redirectUri}?code=`), 'sent to the stored redirect URI');
      const location = new URL(response.location!);
      assert.equal(location.searchParams.get('state'), 'xyz', 'the stored state');
      const code = location.searchParams.get('code')!;
      const wrongVerifier = await postForm(`${server.url}/oauth/token`, {
        grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: pkcePair().codeVerifier,
      }, { authorization: confidentialAuth() });
      assert.equal(wrongVerifier.json.error, 'invalid_grant', 'bound to the stored challenge');
      const codes = (await server.storage.audit.list({ limit: 5 })).filter((event) => event.type === 'consent.granted');
      assert.equal(codes[0]?.clientId, client.id);
      assert.equal(codes[0]?.details?.scope, 'users:read', 'the stored scope, not the posted one');
    });

    it('escapes client-supplied text on the consent page', async () => {
      const { client: hostile } = await registerClient(
        { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
        { clientName: '<script>alert(1)</script>', clientType: 'public', redirectUris: ['http://localhost:9001/cb'], scopes: ['users:read'] },
      );
      const browser = await loggedIn(server);
      const page = await browser.get(authorizeUrl(server, validParameters({ client_id: hostile.clientId, redirect_uri: 'http://localhost:9001/cb' })));
      assert.equal(page.status, 200);
      assert.doesNotMatch(page.text, /<script>alert/);
      assert.match(page.text, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    });

    it('skips consent when an active grant covers the scopes, unless prompt=consent', async () => {
      const fresh = await startTestServer();
      try {
        const bob = seed.users.bob; // one company: the subject is known without a picker
        const first = await authorize(fresh, { user: bob, scope: 'users:read vendors:read' });
        const { codeVerifier } = first;
        const { postForm, confidentialAuth } = await import('../testing/harness.ts');
        const exchange = await postForm(`${fresh.url}/oauth/token`, {
          grant_type: 'authorization_code', code: first.redirect.searchParams.get('code')!, redirect_uri: client.redirectUri, code_verifier: codeVerifier,
        }, { authorization: confidentialAuth() });
        assert.equal(exchange.status, 200);
        const again = await first.browser.get(authorizeUrl(fresh, validParameters({ scope: 'users:read' })));
        assert.equal(again.status, 303, 'consent skipped');
        assert.ok(new URL(again.location!).searchParams.get('code'));
        const forced = await first.browser.get(authorizeUrl(fresh, validParameters({ scope: 'users:read', prompt: 'consent' })));
        assert.equal(forced.status, 200, 'prompt=consent shows the page');
        const wider = await first.browser.get(authorizeUrl(fresh, validParameters({ scope: 'users:read users:write' })));
        assert.equal(wider.status, 200, 'a wider scope needs consent');
      } finally {
        await fresh.close();
      }
    });
  });
});

describe('login rate limit under a burst (SPEC decision 18)', () => {
  it('counts parallel failed attempts before checking passwords, so a burst cannot pass the limit', async () => {
    const server = await startTestServer({ loginRateLimit: { maxFailures: 3, windowSeconds: 900 } });
    try {
      const browser = new Browser();
      const page = await browser.get(authorizeUrl(server, validParameters()));
      const form = { _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!, email: alice.email, password: 'wrong' };
      const statuses = (await Promise.all(Array.from({ length: 20 }, () => browser.post(`${server.url}/login`, form)))).map((response) => response.status);
      assert.equal(statuses.filter((status) => status === 401).length, 3);
      assert.equal(statuses.filter((status) => status === 429).length, 17);
    } finally {
      await server.close();
    }
  });
});

describe('review fixes', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('sends Cache-Control: no-store on the login, consent and error pages', async () => {
    const browser = new Browser();
    const login = await browser.get(authorizeUrl(server, validParameters()));
    assert.equal(login.headers.get('cache-control'), 'no-store');
    const error = await browser.get(authorizeUrl(server, validParameters({ redirect_uri: 'https://attacker.example/cb' })));
    assert.equal(error.headers.get('cache-control'), 'no-store');
    const signedIn = await loggedIn(server);
    const consent = await signedIn.get(authorizeUrl(server, validParameters({ prompt: 'consent' })));
    assert.equal(consent.status, 200);
    assert.equal(consent.headers.get('cache-control'), 'no-store');
  });

  it('refuses a return_to with control characters without a 500 (no header injection)', async () => {
    const browser = new Browser();
    const page = await browser.get(authorizeUrl(server, validParameters()));
    const response = await browser.post(`${server.url}/login`, {
      _csrf: inputValue(page.text, '_csrf')!, return_to: '/oauth/authorize?a=b\r\nSet-Cookie: x=y', email: alice.email, password: alice.password,
    });
    assert.equal(response.status, 303);
    assert.equal(response.location, '/');
    assert.equal(browser.cookies.has('x'), false);
  });

  it('binds the decision to the subject the client requested: another subject is refused and no code is issued', async () => {
    const browser = await loggedIn(server);
    const page = await browser.get(authorizeUrl(server, validParameters({ urn_gatehouse_params_oauth_subject: danishCompany, prompt: 'consent' })));
    const before = await codesIssued(server);
    const response = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(page.text), subject: swedishCompany, decision: 'allow' });
    const location = new URL(response.location!);
    assert.equal(location.searchParams.get('error'), 'access_denied');
    assert.equal(location.searchParams.get('code'), null);
    assert.equal(await codesIssued(server), before);
  });
});

for (const backend of backends) {
  describe(`consent kept server-side: interactions (issue 11 item 6, SPEC decision 11) on ${backend.name}`, { skip: backend.skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(await backend.options());
    });
    after(() => server.close());

    const consentPage = async (browser: Browser, overrides: Record<string, string> = {}) => {
      const page = await browser.get(authorizeUrl(server, validParameters({ prompt: 'consent', ...overrides })));
      assert.equal(page.status, 200);
      assert.match(page.text, /action="\/oauth\/authorize\/decision"/);
      return page;
    };
    const decide = (browser: Browser, form: Record<string, string>, headers: Record<string, string> = {}) =>
      browser.request(`${server.url}/oauth/authorize/decision`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ subject: danishCompany, decision: 'allow', ...form }),
      });

    it('the consent form carries only the CSRF token and the interaction id (256 random bits), never the request', async () => {
      const page = await consentPage(await loggedIn(server));
      const hidden = hiddenInputs(page.text);
      assert.deepEqual(Object.keys(hidden).sort(), ['_csrf', 'interaction']);
      assert.match(hidden.interaction!, /^[A-Za-z0-9_-]{43}$/);
      assert.doesNotMatch(page.text, /name="(scope|client_id|redirect_uri|state|code_challenge)"/);
    });

    it('a second post of the same consent form gets an error page and no second code', async () => {
      const browser = await loggedIn(server);
      const form = hiddenInputs((await consentPage(browser)).text);
      const before = await codesIssued(server);
      const first = await decide(browser, form);
      assert.equal(first.status, 303);
      assert.ok(new URL(first.location!).searchParams.get('code'));
      const second = await decide(browser, form);
      assert.equal(second.status, 400);
      assert.equal(second.location, undefined);
      assert.match(second.text, /no longer valid/);
      assert.equal(await codesIssued(server), before + 1);
    });

    it('of two concurrent posts of one consent form exactly one gets a code', async () => {
      const browser = await loggedIn(server);
      const form = hiddenInputs((await consentPage(browser)).text);
      const before = await codesIssued(server);
      const responses = await Promise.all(Array.from({ length: 5 }, () => decide(browser, form)));
      assert.equal(responses.filter((response) => response.status === 303).length, 1);
      assert.equal(responses.filter((response) => response.status === 400).length, 4);
      assert.equal(await codesIssued(server), before + 1);
    });

    it("an interaction posted from another login session is refused, and stays usable by its own session", async () => {
      const alicesBrowser = await loggedIn(server);
      const alicesForm = hiddenInputs((await consentPage(alicesBrowser)).text);
      const bobsBrowser = await loggedIn(server, seed.users.bob);
      const bobsForm = hiddenInputs((await consentPage(bobsBrowser)).text);
      const before = await codesIssued(server);
      const stolen = await decide(bobsBrowser, { _csrf: bobsForm._csrf!, interaction: alicesForm.interaction! });
      assert.equal(stolen.status, 400);
      assert.equal(stolen.location, undefined);
      assert.equal(await codesIssued(server), before);
      const own = await decide(alicesBrowser, alicesForm);
      assert.equal(own.status, 303);
      assert.ok(new URL(own.location!).searchParams.get('code'));
    });

    it('an interaction past its lifetime (600 s) is refused with no code', async () => {
      const browser = await loggedIn(server);
      const form = hiddenInputs((await consentPage(browser)).text);
      server.clock.advanceSeconds(600);
      const before = await codesIssued(server);
      const late = await decide(browser, form);
      assert.equal(late.status, 400);
      assert.equal(late.location, undefined);
      assert.equal(await codesIssued(server), before);
    });

    it('a missing or malformed interaction id is refused with an error page', async () => {
      const browser = await loggedIn(server);
      const { _csrf } = hiddenInputs((await consentPage(browser)).text);
      for (const interaction of ['', 'x', 'A'.repeat(43)]) {
        const response = await decide(browser, { _csrf: _csrf!, interaction });
        assert.equal(response.status, 400);
        assert.equal(response.location, undefined);
      }
    });

    it('a decision posted after the login session is gone gets an error page that says so and no code: cookie gone, or session ended in storage', async () => {
      const browser = await loggedIn(server);
      const form = hiddenInputs((await consentPage(browser)).text);
      const cookie = browser.cookies.get('gatehouse_session')!;
      browser.cookies.delete('gatehouse_session');
      const before = await codesIssued(server);
      const response = await decide(browser, form);
      assert.equal(response.status, 400);
      assert.equal(response.location, undefined);
      assert.match(response.text, /You were logged out before answering/);
      // The cookie still sent, the session deleted (a logout on another tab or instance): the interaction's
      // session is checked by its consume (issue 12), and the page still tells the two apart.
      browser.cookies.set('gatehouse_session', cookie);
      await server.storage.loginSessions.delete(createHash('sha256').update(cookie).digest('base64url'));
      const ended = await decide(browser, form);
      assert.equal(ended.status, 400);
      assert.match(ended.text, /You were logged out before answering/);
      assert.equal(await codesIssued(server), before);
    });

    it('a decision whose interaction is not this session\'s, or already answered, says so (not "logged out") and issues no code', async () => {
      const browser = await loggedIn(server);
      const other = await loggedIn(server);
      const form = hiddenInputs((await consentPage(browser)).text);
      const before = await codesIssued(server);
      // Another session's interaction: the other browser's own CSRF pair, this interaction.
      const foreign = await decide(other, { ...hiddenInputs((await consentPage(other)).text), interaction: form.interaction! });
      assert.equal(foreign.status, 400);
      assert.match(foreign.text, /already answered, has expired, or belongs to another login/);
      assert.equal(await codesIssued(server), before);
      assert.ok(new URL((await decide(browser, form)).location!).searchParams.get('code'), 'still there for its own session');
      const again = await decide(browser, form);
      assert.equal(again.status, 400);
      assert.match(again.text, /already answered, has expired, or belongs to another login/);
    });

    it('a deny consumes the interaction too: the same form cannot then allow', async () => {
      const browser = await loggedIn(server);
      const form = hiddenInputs((await consentPage(browser)).text);
      const denied = await decide(browser, { ...form, decision: 'deny' });
      assert.equal(new URL(denied.location!).searchParams.get('error'), 'access_denied');
      const allowed = await decide(browser, form);
      assert.equal(allowed.status, 400);
      assert.equal(allowed.location, undefined);
    });
  });
}

describe('Origin check on every state-changing form (issue 11 item 6, SPEC decision 18)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('refuses a consent decision posted with a cross-site Origin (403 page), and the interaction stays unused', async () => {
    const browser = await loggedIn(server);
    const page = await browser.get(authorizeUrl(server, validParameters({ prompt: 'consent' })));
    const form = new URLSearchParams({ ...hiddenInputs(page.text), subject: danishCompany, decision: 'allow' });
    const before = await codesIssued(server);
    const post = (headers: Record<string, string>) => browser.request(`${server.url}/oauth/authorize/decision`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: form,
    });
    const crossSite: Record<string, string>[] = [
      { origin: 'https://evil.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site', origin: server.issuer },
    ];
    for (const headers of crossSite) {
      const refused = await post(headers);
      assert.equal(refused.status, 403, JSON.stringify(headers));
      assert.equal(refused.location, undefined);
      assert.match(refused.text, /another site/);
    }
    assert.equal(await codesIssued(server), before);
    const sameOrigin = await post({ origin: server.issuer, 'sec-fetch-site': 'same-origin' });
    assert.equal(sameOrigin.status, 303);
    assert.ok(new URL(sameOrigin.location!).searchParams.get('code'));
  });

  it('pages send Referrer-Policy: same-origin, so browsers send their real Origin on the site\'s own forms (not "null") and no Referer leaves the site', async () => {
    const page = await new Browser().get(authorizeUrl(server, validParameters()));
    assert.equal(page.headers.get('referrer-policy'), 'same-origin');
  });

  it('refuses a login posted with a cross-site Origin and starts no session', async () => {
    const browser = new Browser();
    const page = await browser.get(authorizeUrl(server, validParameters()));
    const response = await browser.request(`${server.url}/login`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!, email: alice.email, password: alice.password }),
    });
    assert.equal(response.status, 403);
    assert.equal(response.location, undefined);
    assert.equal(browser.cookies.has('gatehouse_session'), false);
  });

  it('refuses cross-site posts to the portal, connected-apps and marketplace forms before anything happens', async () => {
    const browser = await loggedIn(server);
    const paths = [
      '/portal/clients', `/portal/clients/${client.id}`, `/portal/clients/${client.id}/secret`, `/portal/clients/${client.id}/delete`,
      '/account/connected-apps/some-grant/disconnect', '/account/connected-apps/some-grant/settings', `/marketplace/${client.id}/connect`,
    ];
    for (const path of paths) {
      const response = await browser.request(`${server.url}${path}`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' }, body: 'x=1',
      });
      assert.equal(response.status, 403, path);
      assert.match(response.text, /another site/, path);
    }
    assert.equal((await server.storage.clients.find(client.id))?.status, 'active');
  });
});

for (const backend of backends) {
  describe(`consent skip only with assured client identity, same user (issue 11 item 5, RFC 8252 §8.6, OAuth 2.1 §7.3.1) on ${backend.name}`, { skip: backend.skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(await backend.options());
    });
    after(() => server.close());

    it('asks a public client again after an approval (loopback and private-use-scheme redirects alike)', async () => {
      const { client: nativeApp } = await registerClient(
        { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
        { clientName: 'Native App', clientType: 'public', redirectUris: ['com.example.nativeapp:/oauth/callback'], scopes: ['users:read'] },
      );
      for (const publicClient of [{ id: seed.publicClient.id, redirectUri: seed.publicClient.redirectUri }, { id: nativeApp.clientId, redirectUri: 'com.example.nativeapp:/oauth/callback' }]) {
        const first = await authorize(server, { clientId: publicClient.id, redirectUri: publicClient.redirectUri, scope: 'users:read', user: seed.users.bob });
        const exchange = await postForm(`${server.url}/oauth/token`, {
          grant_type: 'authorization_code', code: first.redirect.searchParams.get('code')!, redirect_uri: publicClient.redirectUri,
          code_verifier: first.codeVerifier, client_id: publicClient.id,
        });
        assert.equal(exchange.status, 200);
        const again = await first.browser.get(authorizeUrl(server, validParameters({ client_id: publicClient.id, redirect_uri: publicClient.redirectUri, scope: 'users:read' })));
        assert.equal(again.status, 200, `${publicClient.redirectUri}: the consent page again, no silent code`);
        assert.match(again.text, /action="\/oauth\/authorize\/decision"/);
        assert.equal(again.location, undefined);
      }
    });

    it("asks bob, another administrator of the company, although alice's grant covers it", async () => {
      const first = await authorize(server, { user: alice, scope: 'users:read', extra: { urn_gatehouse_params_oauth_subject: danishCompany } });
      const exchange = await postForm(`${server.url}/oauth/token`, {
        grant_type: 'authorization_code', code: first.redirect.searchParams.get('code')!, redirect_uri: client.redirectUri, code_verifier: first.codeVerifier,
      }, { authorization: confidentialAuth() });
      assert.equal(exchange.status, 200);
      // Alice herself is not asked again for the same company and scope.
      const alicesAgain = await first.browser.get(authorizeUrl(server, validParameters({ urn_gatehouse_params_oauth_subject: danishCompany })));
      assert.equal(alicesAgain.status, 303);
      const bob = await loggedIn(server, seed.users.bob);
      const before = await codesIssued(server);
      const bobs = await bob.get(authorizeUrl(server, validParameters()));
      assert.equal(bobs.status, 200, 'the consent page, not a code');
      assert.match(bobs.text, /action="\/oauth\/authorize\/decision"/);
      assert.equal(await codesIssued(server), before);
    });
  });
}

describe('the registered redirect URI is kept byte for byte (issue 11 item 20, RFC 6749 §3.1.2)', () => {
  it('appends code, state and iss (and errors) after the registered query without re-encoding it', async () => {
    const server = await startTestServer();
    try {
      const registered = 'https://app.example/cb?flag&x=a%20b';
      const { client: app } = await registerClient(
        { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
        { clientName: 'Query App', clientType: 'confidential', redirectUris: [registered], scopes: ['users:read'] },
      );
      const browser = await loggedIn(server);
      const parameters = validParameters({ client_id: app.clientId, redirect_uri: registered, state: 'st~ate/+' });
      const page = await browser.get(authorizeUrl(server, parameters));
      const allowed = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(page.text), subject: danishCompany, decision: 'allow' });
      assert.ok(allowed.location!.startsWith(`${registered}&code=`), allowed.location);
      assert.ok(allowed.location!.endsWith(`&state=st~ate%2F%2B&iss=${encodeURIComponent(server.issuer)}`), allowed.location);
      const page2 = await browser.get(authorizeUrl(server, { ...parameters, prompt: 'consent' }));
      const denied = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(page2.text), subject: danishCompany, decision: 'deny' });
      assert.ok(denied.location!.startsWith(`${registered}&error=access_denied&error_description=`), denied.location);
      const invalid = await browser.get(authorizeUrl(server, { ...parameters, scope: 'admin:everything' }));
      assert.ok(invalid.location!.startsWith(`${registered}&error=invalid_scope&`), invalid.location);
    } finally {
      await server.close();
    }
  });
});

describe('production refuses loopback redirect URIs at /oauth/authorize (issue 11 item 22, SPEC §2)', () => {
  it('shows an error page and never redirects to a loopback URI stored in a production database', async () => {
    const server = await startTestServer({ environment: 'production', issuer: 'https://gatehouse.example', trustProxy: true });
    try {
      // The development seed's clients carry http://localhost:8080/callback: registration would refuse it in production.
      const response = await fetch(authorizeUrl(server, validParameters()), { redirect: 'manual', headers: { 'x-forwarded-proto': 'https' } });
      assert.equal(response.status, 400);
      assert.equal(response.headers.get('location'), null);
      assert.match(response.headers.get('content-type')!, /text\/html/);
      assert.match(await response.text(), /not allowed in production/);
    } finally {
      await server.close();
    }
  });
});

describe('a redirect URI stored before the response-parameter rule (RFC 6749 §3.1) is refused at /oauth/authorize, saying why', () => {
  it('shows an error page naming the parameter to the developer, and never redirects', async () => {
    const server = await startTestServer();
    try {
      const registered = 'http://localhost:8080/callback?code=welcome';
      // As a client registered before the rule was stored (registration now refuses it).
      await server.storage.clients.update(client.id, { redirectUris: [registered] });
      const response = await fetch(authorizeUrl(server, validParameters({ redirect_uri: registered })), { redirect: 'manual' });
      assert.equal(response.status, 400);
      assert.equal(response.headers.get('location'), null);
      const page = await response.text();
      assert.match(page, /query parameter named code/);
      assert.match(page, /The address the application asked to return to is not allowed here/);
      assert.doesNotMatch(page, /not allowed in development/);
    } finally {
      await server.close();
    }
  });
});

describe('a redirect URI stored with a character no Location header can carry (RFC 3986 §2) is refused at /oauth/authorize', () => {
  it('shows an error page and never redirects, instead of a 500', async () => {
    const server = await startTestServer();
    try {
      for (const registered of ['http://localhost:8080/callback\u0001', 'http://localhost:8080/caf\u20AC']) {
        // As a client registered before the rule was stored (registration now refuses it).
        await server.storage.clients.update(client.id, { redirectUris: [registered] });
        // An error that goes back to the client once the redirect URI is established (its Location failed: a 500).
        const response = await fetch(authorizeUrl(server, validParameters({ redirect_uri: registered, response_type: 'token' })), { redirect: 'manual' });
        assert.equal(response.status, 400, JSON.stringify(registered));
        assert.equal(response.headers.get('location'), null);
        assert.match(response.headers.get('content-type')!, /text\/html/);
      }
    } finally {
      await server.close();
    }
  });
});

for (const backend of backends) {
  describe(`a reused consent checks the membership as its code is stored (README "Directory": removing a membership stops consents at once) on ${backend.name}`, { skip: backend.skip }, () => {
    let server: TestServer;
    /** Runs once, as the authorization endpoint looks up the grant to reuse: after it read the user's subjects. */
    let beforeGrantLookup: (() => Promise<unknown>) | undefined;
    before(async () => {
      const storage = (await backend.options()).storage ?? createSqliteStorage(':memory:');
      const findActive = storage.grants.findActive.bind(storage.grants);
      storage.grants.findActive = async (...args) => {
        const hook = beforeGrantLookup;
        beforeGrantLookup = undefined;
        await hook?.();
        return findActive(...args);
      };
      server = await startTestServer({ storage });
    });
    after(() => server.close());

    it('a membership removed after the session was read gets access_denied and no code, not a code the removal could not void', async () => {
      const bob = seed.users.bob; // one company: consent is reused without a picker
      const first = await authorize(server, { user: bob, scope: 'users:read' });
      const exchange = await postForm(`${server.url}/oauth/token`, {
        grant_type: 'authorization_code', code: first.redirect.searchParams.get('code')!, redirect_uri: client.redirectUri, code_verifier: first.codeVerifier,
      }, { authorization: confidentialAuth() });
      assert.equal(exchange.status, 200);
      const membership = { subjectType: 'company' as const, subjectId: seed.companies[0].id };
      // The administrator removes bob from the company while his request is between reading his subjects and storing the code.
      beforeGrantLookup = () => server.storage.directory.deleteMembership(bob.id, membership, server.clock.nowSeconds());
      try {
        const before = await codesIssued(server);
        const again = await first.browser.get(authorizeUrl(server, validParameters({ scope: 'users:read' })));
        assert.equal(beforeGrantLookup, undefined, 'the removal ran');
        assert.equal(again.status, 303);
        const location = new URL(again.location!);
        assert.equal(`${location.origin}${location.pathname}`, client.redirectUri);
        assert.equal(location.searchParams.get('error'), 'access_denied');
        assert.equal(location.searchParams.get('state'), 'xyz');
        assert.equal(location.searchParams.get('code'), null, 'no code');
        assert.equal(await codesIssued(server), before, 'no consent.reused event: nothing was stored');
      } finally {
        beforeGrantLookup = undefined;
        await server.storage.subjects.addAdministrator(bob.id, membership.subjectType, membership.subjectId);
      }
    });
  });
}
