/**
 * Issue 13 "Try the flow": a real authorization with PKCE S256 for a registered redirect URI, the verifier
 * kept by the server (stored nowhere, never in the browser until the result), the code or the error shown,
 * and the exchange command that works. CSRF refusals and another team's client change nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authorize, basic, Browser, inputValue, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { hashPassword } from '../users/password.ts';

const REDIRECT_URI = 'http://localhost:8080/callback';
/** A registered redirect URI with its own query, which the response is added to (RFC 6749 §3.1.2). */
const QUERY_REDIRECT_URI = 'https://fjord.example/cb?tenant=acme&flag';

async function signIn(server: TestServer, user: { email: string; password: string }): Promise<Browser> {
  const browser = new Browser();
  const login = await browser.get(`${server.url}/portal`);
  await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: '/portal', email: user.email, password: user.password });
  return browser;
}

/** Registers a confidential client in the portal; its ID, secret and page. */
async function register(server: TestServer, browser: Browser): Promise<{ clientId: string; secret: string; csrf: string; page: string }> {
  const form = await browser.get(`${server.url}/portal/clients/new`);
  const body = new FormData();
  for (const [name, value] of Object.entries({ _csrf: inputValue(form.text, '_csrf')!, client_name: 'Fjord Books', token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: `${REDIRECT_URI}\nhttps://fjord.example/cb\n${QUERY_REDIRECT_URI}`, scope: 'users:read' })) body.append(name, value);
  const created = await browser.request(`${server.url}/portal/clients`, { method: 'POST', body });
  const page = await browser.get(`${server.url}${created.location}`);
  return { clientId: created.location!.split('/').at(-1)!, secret: /<code id="client_secret"[^>]*>([A-Za-z0-9_-]{43})</.exec(page.text)![1]!, csrf: inputValue(page.text, '_csrf')!, page: page.text };
}

/** Follows the portal's authorization URL as a user (alice) and returns where the browser was sent. */
async function followAsUser(server: TestServer, authorizationUrl: URL, decision: 'allow' | 'deny' = 'allow'): Promise<URL> {
  const parameters = authorizationUrl.searchParams;
  const { redirect } = await authorize(server, {
    clientId: parameters.get('client_id')!, redirectUri: parameters.get('redirect_uri')!, scope: parameters.get('scope')!, state: parameters.get('state')!,
    codeChallenge: parameters.get('code_challenge')!, decision,
  });
  return redirect;
}

/** Starts a trial as the client page's button does: the POST answers 303 to the trial's page (Post/Redirect/Get), followed. */
async function startTrial(server: TestServer, browser: Browser, clientId: string, csrf: string, redirectUri: string) {
  const started = await browser.post(`${server.url}/portal/clients/${clientId}/try`, { _csrf: csrf, redirect_uri: redirectUri });
  assert.equal(started.status, 303, started.text.slice(0, 500));
  return browser.get(`${server.url}${started.location}`);
}

const authorizationUrlOn = (page: string) => new URL(/<a class="button primary" href="([^"]+)"/.exec(page)![1]!.replaceAll('&amp;', '&'));
const decoded = (text: string) => text.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'");

describe('portal: try the flow (issue 13)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('starts a real PKCE S256 authorization for a registered redirect URI, shows the code that came back, and the shown exchange works', async () => {
    const browser = await signIn(server, seed.developer);
    const { clientId, secret, csrf, page } = await register(server, browser);
    assert.match(page, new RegExp(`<form method="post" action="/portal/clients/${clientId}/try">`));
    const started = await startTrial(server, browser, clientId, csrf, REDIRECT_URI);
    assert.equal(started.status, 200);
    assert.equal(started.headers.get('cache-control'), 'no-store');
    const url = authorizationUrlOn(started.text);
    assert.equal(url.origin + url.pathname, `${server.url}/oauth/authorize`);
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.match(url.searchParams.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(url.searchParams.get('redirect_uri'), REDIRECT_URI);
    assert.equal(url.searchParams.get('client_id'), clientId);
    assert.ok(!started.text.includes(secret) && !url.href.includes(secret), 'the secret is nowhere on the page or in the URL');
    assert.ok(!started.text.includes('code_verifier'), 'the verifier is not handed to the browser before the result');

    const redirect = await followAsUser(server, url);
    assert.equal(redirect.origin + redirect.pathname, REDIRECT_URI);
    const result = await browser.post(`${server.url}/portal/clients/${clientId}/try/result`, { _csrf: csrf, callback_url: redirect.href });
    assert.equal(result.status, 200);
    const code = redirect.searchParams.get('code')!;
    assert.ok(result.text.includes(`<code>${code}</code>`), 'the code is shown');
    assert.match(result.text, /matches the trial you started/);
    assert.match(result.text, /this server \(RFC 9207\)/);
    const verifier = /code_verifier=([A-Za-z0-9_-]{43})/.exec(result.text)?.[1];
    assert.ok(verifier, 'the exchange command carries the verifier');
    assert.match(decoded(result.text), new RegExp(`curl -s -u "${clientId}:\\$GATEHOUSE_CLIENT_SECRET"`), 'the secret comes from the environment, never the page');
    assert.ok(!result.text.includes(secret));
    // The code (one-time) and the verifier are shown once: the language switch opens in a new tab and this page keeps them
    // (pages/layout.ts SHOWN_ONCE), as a new client secret's page does; a switch in this tab lost them.
    const languageLinks = [...result.text.matchAll(/<a href="\/language\?locale=[^"]*"[^>]*>/g)].map((match) => match[0]);
    assert.ok(languageLinks.length > 1, 'the language switch');
    for (const link of languageLinks) assert.match(link, / target="_blank" rel="noopener" aria-describedby="language-new-tab"/);
    assert.match(result.text, /<p id="language-new-tab" class="muted">These links open in a new tab/);
    // The command as shown works: the verifier matches the challenge the authorization was started with (RFC 7636 §4.6).
    const exchanged = await postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }, { authorization: basic(clientId, secret) });
    assert.equal(exchanged.status, 200, exchanged.text);
    assert.ok(exchanged.json.access_token);
  });

  it('shows an error that came back (access_denied), and refuses a state it did not make, another issuer, or another address', async () => {
    const browser = await signIn(server, seed.developer);
    const { clientId, csrf } = await register(server, browser);
    const started = await startTrial(server, browser, clientId, csrf, 'https://fjord.example/cb');
    const url = authorizationUrlOn(started.text);
    assert.equal(url.searchParams.get('redirect_uri'), 'https://fjord.example/cb');
    const denied = await followAsUser(server, url, 'deny');
    const shown = await browser.post(`${server.url}/portal/clients/${clientId}/try/result`, { _csrf: csrf, callback_url: denied.href });
    assert.equal(shown.status, 200);
    assert.match(shown.text, /<dd><code>access_denied<\/code><\/dd>/);

    const state = url.searchParams.get('state')!;
    const tampered = new URL(denied.href);
    tampered.searchParams.set('state', `${state.slice(0, -2)}xx`);
    for (const [callback, why] of [
      [tampered.href, /not from a trial you started here/],
      [`${denied.origin}${denied.pathname}?code=abc&state=${encodeURIComponent(state)}&iss=${encodeURIComponent('https://evil.example')}`, /names another issuer/],
      [`https://evil.example/cb?code=abc&state=${encodeURIComponent(state)}`, /not one of this client’s redirect URIs/],
      // The state was made for the https redirect URI, not the loopback one.
      [`${REDIRECT_URI}?code=abc&state=${encodeURIComponent(state)}`, /not from a trial you started here/],
      ['not a url', /Paste the whole address/],
    ] as const) {
      const refused = await browser.post(`${server.url}/portal/clients/${clientId}/try/result`, { _csrf: csrf, callback_url: callback });
      assert.equal(refused.status, 400, callback);
      assert.match(refused.text, why);
      assert.doesNotMatch(refused.text, /code_verifier=/, 'no verifier for a refused address');
      // The address stays in its field with the reason below it, to be fixed and sent again.
      assert.equal(decoded(/<textarea id="callback_url"[^>]*>([^<]*)<\/textarea>/.exec(refused.text)?.[1] ?? ''), callback, 'the pasted address is kept');
      assert.match(refused.text, /<textarea id="callback_url"[^>]* aria-describedby="callback_url-hint callback_url-error" aria-invalid="true">/);
      assert.match(refused.text, /<p class="field-error" id="callback_url-error">/);
    }
    // Fixed and sent again in the same form: the error that came back is shown.
    const again = await browser.post(`${server.url}/portal/clients/${clientId}/try/result`, { _csrf: csrf, callback_url: denied.href });
    assert.equal(again.status, 200);
  });

  it('takes back an address for a registered redirect URI with its own query (the registered parameters, then the response\'s)', async () => {
    const browser = await signIn(server, seed.developer);
    const { clientId, secret, csrf } = await register(server, browser);
    const started = await startTrial(server, browser, clientId, csrf, QUERY_REDIRECT_URI);
    const url = authorizationUrlOn(started.text);
    assert.equal(url.searchParams.get('redirect_uri'), QUERY_REDIRECT_URI);
    const redirect = await followAsUser(server, url);
    assert.ok(redirect.href.startsWith(`${QUERY_REDIRECT_URI}&code=`), redirect.href);
    const result = await browser.post(`${server.url}/portal/clients/${clientId}/try/result`, { _csrf: csrf, callback_url: redirect.href });
    assert.equal(result.status, 200, result.text.slice(0, 2000));
    const verifier = /code_verifier=([A-Za-z0-9_-]{43})/.exec(result.text)?.[1];
    const exchanged = await postForm(`${server.url}/oauth/token`,
      { grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: QUERY_REDIRECT_URI, code_verifier: verifier! }, { authorization: basic(clientId, secret) });
    assert.equal(exchanged.status, 200, exchanged.text);
    // The same path with another query, or without the registered one, is none of the client's redirect URIs.
    for (const other of [redirect.href.replace('tenant=acme', 'tenant=other'), redirect.href.replace('tenant=acme&flag&', '')]) {
      const refused = await browser.post(`${server.url}/portal/clients/${clientId}/try/result`, { _csrf: csrf, callback_url: other });
      assert.equal(refused.status, 400, other);
      assert.doesNotMatch(refused.text, /code_verifier=/);
    }
  });

  it("the trial's page is a GET address (Post/Redirect/Get): a reload and the language switch show the same authorization URL; a state not made here, or ended, gets a page with the way to start again", async () => {
    const browser = await signIn(server, seed.developer);
    const { clientId, csrf } = await register(server, browser);
    const started = await browser.post(`${server.url}/portal/clients/${clientId}/try`, { _csrf: csrf, redirect_uri: 'https://fjord.example/cb' });
    assert.equal(started.status, 303);
    const address = started.location!;
    assert.equal(address.split('?')[0], `/portal/clients/${clientId}/try`);
    const shown = await browser.get(`${server.url}${address}`);
    assert.equal(shown.status, 200);
    const url = authorizationUrlOn(shown.text);
    assert.equal(url.searchParams.get('redirect_uri'), 'https://fjord.example/cb');
    assert.equal(authorizationUrlOn((await browser.get(`${server.url}${address}`)).text).href, url.href, 'a reload: the same URL');
    // The language switch, a link on the page: back to the same page, in German, with the same URL.
    const link = /<a href="(\/language\?locale=de&amp;[^"]*)"/.exec(shown.text)![1]!.replaceAll('&amp;', '&');
    const switched = await browser.get(`${server.url}${link}`);
    assert.equal(switched.status, 303);
    assert.equal(switched.location, address, 'back to the trial, not to the client page');
    const german = await browser.get(`${server.url}${switched.location}`);
    assert.match(german.text, /<html lang="de"/);
    assert.equal(authorizationUrlOn(german.text).href, url.href, 'the same authorization URL, in German');
    // A state this server did not make for this developer, client and redirect URI: no URL, a way back.
    const forged = address.replace(/state=[^&]+/, `state=${encodeURIComponent(`${'A'.repeat(22)}.9999999999.${'B'.repeat(43)}`)}`);
    const refused = await browser.get(`${server.url}${forged}`);
    assert.equal(refused.status, 400);
    assert.doesNotMatch(refused.text, /oauth\/authorize\?/);
    assert.ok(refused.text.includes(`href="/portal/clients/${clientId}#try"`), 'the way to start again');
    const otherUri = await browser.get(`${server.url}${address.replace(encodeURIComponent('https://fjord.example/cb'), encodeURIComponent(REDIRECT_URI))}`);
    assert.equal(otherUri.status, 400, 'the state was made for another redirect URI');
    server.clock.advanceSeconds(601);
    const ended = await browser.get(`${server.url}${address}`);
    assert.equal(ended.status, 400, 'ended after 10 minutes');
    assert.doesNotMatch(ended.text, /oauth\/authorize\?/);
  });

  it('refuses without the CSRF token, and another team\'s developer gets a 404 (no authorization URL, no verifier)', async () => {
    const browser = await signIn(server, seed.developer);
    const { clientId, csrf } = await register(server, browser);
    assert.equal((await browser.post(`${server.url}/portal/clients/${clientId}/try`, { redirect_uri: REDIRECT_URI })).status, 403);
    const started = await startTrial(server, browser, clientId, csrf, REDIRECT_URI);
    const redirect = await followAsUser(server, authorizationUrlOn(started.text));

    const otherId = crypto.randomUUID();
    await server.storage.users.create({ userId: otherId, email: 'olga@other.example', name: 'Olga', passwordHash: await hashPassword('olga-demo-password') });
    await server.storage.developers.add(otherId);
    const other = await signIn(server, { email: 'olga@other.example', password: 'olga-demo-password' });
    const otherCsrf = inputValue((await other.get(`${server.url}/portal`)).text, '_csrf')!;
    const foreignStart = await other.post(`${server.url}/portal/clients/${clientId}/try`, { _csrf: otherCsrf, redirect_uri: REDIRECT_URI });
    assert.equal(foreignStart.status, 404);
    assert.doesNotMatch(foreignStart.text, /oauth\/authorize/);
    const foreignResult = await other.post(`${server.url}/portal/clients/${clientId}/try/result`, { _csrf: otherCsrf, callback_url: redirect.href });
    assert.equal(foreignResult.status, 404);
    assert.doesNotMatch(foreignResult.text, /code_verifier=/);
  });
});
