/**
 * The partner app over HTTP (no browser) against a running Gatehouse and platform API: cookies, CSRF,
 * the callback's checks, re-authorization, and no token ever reaching the browser.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createMemoryTokenStore, createTokenCipher, generateEncryptionKey, silentLogger, type TokenStore } from '@gatehouse/client';
import { Browser, inputValue, seed, type TestServer } from '../../../packages/authorization-server/src/testing/harness.ts';
import { startGatehouse, type GatehouseFixture } from '../../../packages/client/src/testing/gatehouse-fixture.ts';
import { completeAuthorizationAsUser } from '../../../packages/client/src/testing/gatehouse-flow.ts';
import { createPartnerApp, startPartnerApp, type RunningPartnerApp } from './partner-app.ts';

describe('partner app (HTTP)', () => {
  let gatehouse: GatehouseFixture;
  let server: TestServer;
  let partner: RunningPartnerApp;
  let clientId: string;
  let store: TokenStore;
  const keys = [generateEncryptionKey('app')];
  const danish = seed.companies[0];

  before(async () => {
    gatehouse = await startGatehouse({ clientName: 'Ledgerly Web', introspectionCacheTtlSeconds: 0 });
    ({ server, clientId } = gatehouse);
    const port = Number(new URL(gatehouse.redirectUri).port);
    store = createMemoryTokenStore();
    partner = await startPartnerApp({
      environment: 'development', publicUrl: `http://127.0.0.1:${port}`, port, host: '127.0.0.1',
      gatehouse: {
        issuer: server.issuer, apiUrl: gatehouse.api.url, clientId, clientSecret: gatehouse.clientSecret, scope: 'users:read vendors:read',
        store, encryptionKeys: keys, clock: server.clock, logger: silentLogger,
      },
    });
  });

  after(async () => {
    await partner?.close();
    await gatehouse?.close();
  });

  /** Home page → Connect → Gatehouse login and consent → callback → home page. */
  async function connect(browser = new Browser(), decision: 'allow' | 'deny' = 'allow') {
    const home = await browser.get(`${partner.url}/`);
    const connect = await browser.post(`${partner.url}/connect`, { _csrf: inputValue(home.text, '_csrf')! });
    assert.equal(connect.status, 303);
    const authorizationUrl = new URL(connect.location!);
    const callback = await completeAuthorizationAsUser(authorizationUrl, { browser, subject: `urn:gatehouse:company:${danish.id}`, decision });
    const landed = await browser.get(callback.href);
    return { browser, authorizationUrl, callback, landed };
  }

  /** The CSRF token of the confirmation Disconnect leads to (GET /disconnect), whose button posts it. */
  async function disconnectToken(browser: Browser): Promise<string> {
    const confirmation = await browser.get(`${partner.url}/disconnect`);
    assert.equal(confirmation.status, 200);
    return inputValue(confirmation.text, '_csrf')!;
  }

  async function storedTokens(): Promise<string[]> {
    const cipher = createTokenCipher(keys);
    return (await store.list()).flatMap((row) => [
      ...(row.accessTokenCiphertext ? [cipher.open(row.accessTokenCiphertext, { connectionId: row.connectionId, field: 'access_token' })] : []),
      ...(row.refreshTokenCiphertext ? [cipher.open(row.refreshTokenCiphertext, { connectionId: row.connectionId, field: 'refresh_token' })] : []),
    ]);
  }

  it('/start verifies a session handover from the marketplace and starts the flow for its company; a replay or a handover for another app is refused', async () => {
    await server.storage.clients.update(clientId, { initiationUri: `${partner.url}/start` });
    const gatehouseBrowser = new Browser();
    const login = await gatehouseBrowser.get(`${server.url}/marketplace`);
    await gatehouseBrowser.post(`${server.url}/login`, {
      _csrf: inputValue(login.text, '_csrf')!, return_to: '/marketplace', email: seed.users.alice.email, password: seed.users.alice.password,
    });
    const marketplace = await gatehouseBrowser.get(`${server.url}/marketplace`);
    const handover = async (id: string) => (await gatehouseBrowser.post(`${server.url}/marketplace/${id}/connect`, {
      _csrf: inputValue(marketplace.text, '_csrf')!, subject: `urn:gatehouse:company:${danish.id}`,
    })).location!;
    const startUrl = await handover(clientId);
    assert.ok(startUrl.startsWith(`${partner.url}/start?gatehouse_id_token=`));

    const browser = new Browser();
    const start = await browser.get(startUrl);
    assert.equal(start.status, 303);
    const authorizationUrl = new URL(start.location!);
    assert.equal(authorizationUrl.searchParams.get('urn_gatehouse_params_oauth_subject'), `urn:gatehouse:company:${danish.id}`);
    assert.equal(authorizationUrl.searchParams.get('client_id'), clientId);

    const replay = await new Browser().get(startUrl);
    assert.equal(replay.status, 400);
    assert.match(replay.text, /expired or was already used/);
    // A handover addressed to the demo client (aud) is not this app's.
    await server.storage.clients.update(seed.confidentialClient.id, { initiationUri: `${partner.url}/start` });
    const marketplaceAgain = await gatehouseBrowser.get(`${server.url}/marketplace`);
    const foreign = (await gatehouseBrowser.post(`${server.url}/marketplace/${seed.confidentialClient.id}/connect`, {
      _csrf: inputValue(marketplaceAgain.text, '_csrf')!, subject: `urn:gatehouse:company:${danish.id}`,
    })).location!;
    assert.equal((await new Browser().get(foreign)).status, 400);
    assert.equal((await new Browser().get(`${partner.url}/start`)).status, 400, 'no handover at all');
  });

  it('a session handover\'s locale is the first language choice when none was made (Gatehouse in German: the app in German); a choice made with the switch is kept', async () => {
    await server.storage.clients.update(clientId, { initiationUri: `${partner.url}/start` });
    const gatehouseBrowser = new Browser();
    gatehouseBrowser.cookies.set('gatehouse_locale', 'de'); // Gatehouse's own language switch
    const login = await gatehouseBrowser.get(`${server.url}/marketplace`);
    await gatehouseBrowser.post(`${server.url}/login`, {
      _csrf: inputValue(login.text, '_csrf')!, return_to: '/marketplace', email: seed.users.alice.email, password: seed.users.alice.password,
    });
    const handover = async () => {
      const marketplace = await gatehouseBrowser.get(`${server.url}/marketplace`);
      return (await gatehouseBrowser.post(`${server.url}/marketplace/${clientId}/connect`, {
        _csrf: inputValue(marketplace.text, '_csrf')!, subject: `urn:gatehouse:company:${danish.id}`,
      })).location!;
    };
    const startUrl = await handover();
    const claims = JSON.parse(Buffer.from(new URL(startUrl).searchParams.get('gatehouse_id_token')!.split('.')[1]!, 'base64url').toString()) as { locale: string };
    assert.equal(claims.locale, 'de');

    const browser = new Browser();
    const start = await browser.request(startUrl, { headers: { 'accept-language': 'en' } });
    assert.equal(start.status, 303);
    assert.ok(start.headers.getSetCookie().includes('ledgerly_lang=de; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax'));
    const home = await browser.request(`${partner.url}/`, { headers: { 'accept-language': 'en' } });
    assert.match(home.text, /<html lang="de">/, 'the handover\'s language, over Accept-Language');

    // A language chosen here already is kept.
    const chosen = new Browser();
    chosen.cookies.set('ledgerly_lang', 'fr');
    const again = await chosen.get(await handover());
    assert.equal(again.status, 303);
    assert.ok(!again.headers.getSetCookie().some((value) => value.startsWith('ledgerly_lang=')), 'the switch\'s choice wins');
    assert.equal(chosen.cookies.get('ledgerly_lang'), 'fr');
    // A refused handover (a replay) changes no language.
    const replay = await new Browser().get(startUrl);
    assert.equal(replay.status, 400);
    assert.ok(!replay.headers.getSetCookie().some((value) => value.startsWith('ledgerly_lang=')));
    assert.match(replay.text, /name="return_to" value="\/"/, 'the switch on the refusal page comes back home, not to the handover URL');
  });

  it('/start while Gatehouse\'s keys cannot be fetched is the app\'s 503 page (try again), not "the link expired or was already used"', async () => {
    const { app } = createPartnerApp({
      environment: 'development', publicUrl: 'http://127.0.0.1:8089',
      gatehouse: {
        issuer: server.issuer, clientId, clientSecret: gatehouse.clientSecret, scope: 'users:read', store: createMemoryTokenStore(), encryptionKeys: keys,
        clock: server.clock, logger: silentLogger,
        // Discovery works; the JWKS endpoint is down.
        fetch: async (input, init) => (String(input instanceof Request ? input.url : input).endsWith('/jwks.json')
          ? new Response('{"error":"temporarily_unavailable"}', { status: 503, headers: { 'content-type': 'application/json' } })
          : fetch(input, init)),
      },
    });
    try {
      const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const token = `${part({ alg: 'ES256', typ: 'gatehouse_id+jwt', kid: 'k1' })}.${part({ sub: 'u' })}.${Buffer.alloc(64).toString('base64url')}`;
      const start = await app.inject({ method: 'GET', url: `/start?gatehouse_id_token=${token}` });
      assert.equal(start.statusCode, 503);
      assert.equal(start.headers['retry-after'], '60');
      assert.match(start.body, /Gatehouse is unavailable/);
      assert.doesNotMatch(start.body, /expired or was already used/);
    } finally {
      await app.close();
    }
  });

  it('an API key pasted while the platform API cannot check it (503, 429) is not called wrong: the 503 page says to try again', async () => {
    let status = 503;
    const api = createServer((_request, response) => {
      response.writeHead(status, { 'content-type': 'application/json', 'retry-after': '5' }).end('{"error":"temporarily_unavailable","error_description":"try again"}');
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const { app } = createPartnerApp({
      environment: 'development', publicUrl: 'http://127.0.0.1:8089',
      gatehouse: {
        issuer: server.issuer, apiUrl: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, clientId, clientSecret: gatehouse.clientSecret,
        scope: 'users:read', store: createMemoryTokenStore(), encryptionKeys: keys, clock: server.clock, logger: silentLogger,
      },
    });
    try {
      const form = await app.inject({ method: 'GET', url: '/api-key' });
      const cookie = String(form.headers['set-cookie']).split(';')[0]!;
      const paste = () => app.inject({
        method: 'POST', url: '/api-key', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ _csrf: inputValue(form.body, '_csrf')!, api_key: `gak_${'a'.repeat(40)}` }).toString(),
      });
      for (const answer of [503, 429]) {
        status = answer;
        const pasted = await paste();
        assert.equal(pasted.statusCode, 503, `API answered ${answer}`);
        assert.match(pasted.body, /cannot be reached right now|try again in a minute/i);
        assert.doesNotMatch(pasted.body, /did not accept this API key/);
      }
      status = 401;
      const refused = await paste();
      assert.equal(refused.statusCode, 422);
      assert.match(refused.body, /did not accept this API key/);
    } finally {
      await app.close();
      await new Promise((resolve) => api.close(resolve));
    }
  });

  it('a kept API key whose data the platform API refuses (403) is said in words with ways onward (try again, forget the key), the status only in the technical details', async () => {
    const api = createServer((request, response) => {
      if (request.url?.startsWith('/v1/introspect')) {
        return response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { authMethod: 'api_key', scope: 'vendors:read', subjectURN: `urn:gatehouse:company:${danish.id}` } }));
      }
      return response.writeHead(403, { 'content-type': 'application/json' }).end('{"error":"insufficient_scope","error_description":"needs users:read"}');
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const { app } = createPartnerApp({
      environment: 'development', publicUrl: 'http://127.0.0.1:8089',
      gatehouse: {
        issuer: server.issuer, apiUrl: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, clientId, clientSecret: gatehouse.clientSecret,
        scope: 'users:read', store: createMemoryTokenStore(), encryptionKeys: keys, clock: server.clock, logger: silentLogger,
      },
    });
    try {
      const form = await app.inject({ method: 'GET', url: '/api-key', headers: { 'accept-language': 'fr' } });
      const cookie = String(form.headers['set-cookie']).split(';')[0]!;
      const pasted = await app.inject({
        method: 'POST', url: '/api-key', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ _csrf: inputValue(form.body, '_csrf')!, api_key: `gak_${'a'.repeat(40)}` }).toString(),
      });
      assert.equal(pasted.statusCode, 303);
      for (const [language, words] of [['en', /The platform API did not give out the data with this key/], ['fr', /L’API de la plateforme n’a pas fourni les données avec cette clé/]] as const) {
        const page = await app.inject({ method: 'GET', url: '/api-key', headers: { cookie, 'accept-language': language } });
        assert.equal(page.statusCode, 502, language);
        assert.match(page.body, words, language);
        const normalView = page.body.replace(/<details>[\s\S]*?<\/details>/g, '');
        assert.doesNotMatch(normalView, /403|insufficient_scope|needs users:read/, `${language}: no raw status or reason in the normal view`);
        assert.match(page.body, /<code data-testid="error-code">http_403<\/code>/);
        assert.match(page.body, /<form method="post" action="\/api-key\/forget">/, `${language}: a way onward: forget the key`);
        assert.match(page.body, /<a href="\/api-key">/, `${language}: a way onward: try again`);
      }
    } finally {
      await app.close();
      await new Promise((resolve) => api.close(resolve));
    }
  });

  it('every 503 page says when to try again (Retry-After): the dashboard and the API-key pages while the platform API is unavailable (503, 429) or unreachable', async () => {
    let status = 200;
    let reachable = true;
    const api = createServer((request, response) => {
      if (status !== 200) return response.writeHead(status, { 'content-type': 'application/json' }).end('{"error":"temporarily_unavailable"}');
      const data = request.url?.startsWith('/v1/introspect') ? { authMethod: 'api_key', scope: 'users:read', subjectURN: `urn:gatehouse:company:${danish.id}` } : [];
      return response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data }));
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    const unreachable = () => Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }));
    const realFetch = globalThis.fetch;
    // The API-key pages call the API with the global fetch; the SDK with its own (below).
    globalThis.fetch = (input, init) => (!reachable && String(input instanceof Request ? input.url : input).startsWith(apiUrl) ? unreachable() : realFetch(input, init));
    const { app } = createPartnerApp({
      // The redirect URI registered for the client: the callback is injected into this app.
      environment: 'development', publicUrl: partner.url,
      gatehouse: {
        issuer: server.issuer, apiUrl, clientId, clientSecret: gatehouse.clientSecret, scope: 'users:read vendors:read', store: createMemoryTokenStore(),
        encryptionKeys: keys, clock: server.clock, logger: silentLogger, retryPolicy: { maxAttempts: 1 },
        fetch: (input, init) => (!reachable && String(input instanceof Request ? input.url : input).startsWith(apiUrl) ? unreachable() : realFetch(input, init)),
      },
    });
    const expectRetryAfter = (response: { statusCode: number; headers: Record<string, unknown> }, what: string) => {
      assert.equal(response.statusCode, 503, what);
      assert.equal(response.headers['retry-after'], '60', what);
    };
    try {
      const form = async (cookie?: string) => app.inject({ method: 'GET', url: '/', ...(cookie ? { headers: { cookie } } : {}) });
      const home = await form();
      let cookie = String(home.headers['set-cookie']).split(';')[0]!;
      // Connected (the dashboard reads the API through the SDK).
      const connect = await app.inject({
        method: 'POST', url: '/connect', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ _csrf: inputValue(home.body, '_csrf')! }).toString(),
      });
      const callback = await completeAuthorizationAsUser(new URL(String(connect.headers.location)), { subject: `urn:gatehouse:company:${danish.id}` });
      const landed = await app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}`, headers: { cookie } });
      assert.equal(landed.statusCode, 303);
      cookie = String(landed.headers['set-cookie']).split(';')[0]!;
      assert.equal((await form(cookie)).statusCode, 200);
      reachable = false;
      expectRetryAfter(await form(cookie), 'dashboard, API unreachable');
      reachable = true;
      for (const answer of [503, 429]) {
        status = answer;
        const page = await form(cookie);
        expectRetryAfter(page, `dashboard, API answered ${answer}`);
        assert.match(page.body, /Gatehouse is unavailable/);
      }
      status = 200;

      // An API key pasted while the API cannot be reached, then one kept whose data cannot be had.
      const keyForm = await app.inject({ method: 'GET', url: '/api-key', headers: { cookie } });
      const paste = () => app.inject({
        method: 'POST', url: '/api-key', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ _csrf: inputValue(keyForm.body, '_csrf')!, api_key: `gak_${'a'.repeat(40)}` }).toString(),
      });
      reachable = false;
      expectRetryAfter(await paste(), 'paste, API unreachable');
      reachable = true;
      assert.equal((await paste()).statusCode, 303);
      reachable = false;
      expectRetryAfter(await app.inject({ method: 'GET', url: '/api-key', headers: { cookie } }), 'kept key, API unreachable');
      reachable = true;
      for (const answer of [503, 429]) {
        status = answer;
        const page = await app.inject({ method: 'GET', url: '/api-key', headers: { cookie } });
        expectRetryAfter(page, `kept key, API answered ${answer}`);
        assert.doesNotMatch(page.body, /Something went wrong/);
        assert.match(page.body, /Your key is kept; try again in a minute\.<\/p><p><a href="\/api-key">Try again<\/a><\/p>/, 'a way onward');
      }
      status = 200;
      assert.equal((await app.inject({ method: 'GET', url: '/api-key', headers: { cookie } })).statusCode, 200, 'the key was kept');
    } finally {
      globalThis.fetch = realFetch;
      await app.close();
      await new Promise((resolve) => api.close(resolve));
    }
  });

  it('a platform API that refuses every DPoP proof (its own misconfigured origin) costs one refresh, not one per page: the page says the API refused our requests', async () => {
    const api = createServer((_request, response) => {
      response.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid: htu does not match"' }).end('{}');
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    const { app } = createPartnerApp({
      environment: 'development', publicUrl: partner.url,
      gatehouse: {
        issuer: server.issuer, apiUrl, clientId, clientSecret: gatehouse.clientSecret, scope: 'users:read vendors:read', store: createMemoryTokenStore(),
        encryptionKeys: keys, clock: server.clock, logger: silentLogger,
      },
    });
    try {
      const home = await app.inject({ method: 'GET', url: '/' });
      let cookie = String(home.headers['set-cookie']).split(';')[0]!;
      const connect = await app.inject({
        method: 'POST', url: '/connect', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ _csrf: inputValue(home.body, '_csrf')! }).toString(),
      });
      const callback = await completeAuthorizationAsUser(new URL(String(connect.headers.location)), { subject: `urn:gatehouse:company:${danish.id}` });
      const landed = await app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}`, headers: { cookie } });
      assert.equal(landed.statusCode, 303);
      cookie = String(landed.headers['set-cookie']).split(';')[0]!;
      const before = gatehouse.tokenRequests();
      for (let load = 0; load < 3; load++) {
        const page = await app.inject({ method: 'GET', url: '/', headers: { cookie } });
        assert.equal(page.statusCode, 502);
        assert.match(page.body, /The platform API refused our requests/);
        assert.match(page.body, /<a href="\/">Try again<\/a>/, 'a way onward named for what it does (it was "Back" to this same page)');
        assert.doesNotMatch(page.body, /Something went wrong/);
      }
      assert.equal(gatehouse.tokenRequests() - before, 1, 'one refresh, not one per page load');
    } finally {
      await app.close();
      await new Promise((resolve) => api.close(resolve));
    }
  });

  it('a dashboard whose data the platform API refuses (403) says so in words with a way onward (Try again), the status only under Technical details', async () => {
    const api = createServer((_request, response) => {
      response.writeHead(403, { 'content-type': 'application/json' }).end('{"error":"insufficient_scope","error_description":"needs users:read"}');
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const { app } = createPartnerApp({
      environment: 'development', publicUrl: partner.url,
      gatehouse: {
        issuer: server.issuer, apiUrl: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, clientId, clientSecret: gatehouse.clientSecret,
        scope: 'users:read vendors:read', store: createMemoryTokenStore(), encryptionKeys: keys, clock: server.clock, logger: silentLogger,
      },
    });
    try {
      const home = await app.inject({ method: 'GET', url: '/' });
      let cookie = String(home.headers['set-cookie']).split(';')[0]!;
      const connect = await app.inject({
        method: 'POST', url: '/connect', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ _csrf: inputValue(home.body, '_csrf')! }).toString(),
      });
      const callback = await completeAuthorizationAsUser(new URL(String(connect.headers.location)), { subject: `urn:gatehouse:company:${danish.id}` });
      const landed = await app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}`, headers: { cookie } });
      assert.equal(landed.statusCode, 303);
      cookie = String(landed.headers['set-cookie']).split(';')[0]!;
      for (const [language, words] of [['en', /The data could not be loaded\. Try again in a minute; if this goes on, contact Ledgerly&#39;s support\./], ['sv', /Det gick inte att läsa in data\. Försök igen om en minut/]] as const) {
        const page = await app.inject({ method: 'GET', url: '/', headers: { cookie, 'accept-language': language } });
        assert.equal(page.statusCode, 502, language);
        assert.match(page.body, words, language);
        assert.match(page.body, /<p><a href="\/">(Try again|Försök igen)<\/a><\/p>/, `${language}: a way onward`);
        assert.doesNotMatch(page.body.replace(/<details>[\s\S]*?<\/details>/g, ''), /403|insufficient_scope|needs users:read/, language);
        assert.match(page.body, /<code data-testid="error-code">http_403<\/code>/, language);
      }
    } finally {
      await app.close();
      await new Promise((resolve) => api.close(resolve));
    }
  });

  it('a callback whose code exchange meets Gatehouse unavailable (503, unreachable) is the 503 "Gatehouse is unavailable" page, not "could not be verified"', async () => {
    let tokenEndpoint: () => Promise<Response> = async () => new Response('{"error":"temporarily_unavailable"}', { status: 503, headers: { 'retry-after': '5' } });
    const { app } = createPartnerApp({
      environment: 'development', publicUrl: 'http://127.0.0.1:8089',
      gatehouse: {
        issuer: server.issuer, clientId, clientSecret: gatehouse.clientSecret, scope: 'users:read', store: createMemoryTokenStore(), encryptionKeys: keys,
        clock: server.clock, logger: silentLogger, retryPolicy: { maxAttempts: 1 },
        // Discovery works; the token endpoint does not.
        fetch: async (input, init) => (String(input instanceof Request ? input.url : input).endsWith('/oauth/token') ? tokenEndpoint() : fetch(input, init)),
      },
    });
    try {
      for (const failure of ['503', 'unreachable']) {
        if (failure === 'unreachable') tokenEndpoint = () => Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }));
        const home = await app.inject({ method: 'GET', url: '/' });
        const cookie = String(home.headers['set-cookie']).split(';')[0]!;
        const connect = await app.inject({
          method: 'POST', url: '/connect', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams({ _csrf: inputValue(home.body, '_csrf')! }).toString(),
        });
        assert.equal(connect.statusCode, 303);
        const state = new URL(String(connect.headers.location)).searchParams.get('state')!;
        const callback = await app.inject({
          method: 'GET', url: `/callback?${new URLSearchParams({ code: 'some-code', state, iss: server.issuer })}`, headers: { cookie },
        });
        assert.equal(callback.statusCode, 503, failure);
        assert.match(callback.body, /Gatehouse is unavailable/);
        assert.doesNotMatch(callback.body, /could not be verified/);
      }
    } finally {
      await app.close();
    }
  });

  it('a callback whose connection cannot be stored (the token store is down) is not "the answer from Gatehouse could not be verified"', async () => {
    const working = createMemoryTokenStore();
    const storeDown = { ...working, save: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')) } as TokenStore;
    const { app } = createPartnerApp({
      // The redirect URI registered for the client: the callback is injected into this app.
      environment: 'development', publicUrl: partner.url,
      gatehouse: {
        issuer: server.issuer, clientId, clientSecret: gatehouse.clientSecret, scope: 'users:read', store: storeDown, encryptionKeys: keys,
        clock: server.clock, logger: silentLogger,
      },
    });
    try {
      const home = await app.inject({ method: 'GET', url: '/' });
      const cookie = String(home.headers['set-cookie']).split(';')[0]!;
      const connect = await app.inject({
        method: 'POST', url: '/connect', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ _csrf: inputValue(home.body, '_csrf')! }).toString(),
      });
      const callback = await completeAuthorizationAsUser(new URL(String(connect.headers.location)), { subject: `urn:gatehouse:company:${danish.id}` });
      const landed = await app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}`, headers: { cookie } });
      assert.equal(landed.statusCode, 500);
      assert.doesNotMatch(landed.body, /could not be verified/);
      // The SDK revoked the grant it could not store: the page says so (it was "Something went wrong. Nothing was changed").
      assert.match(landed.body, /could not save the connection, so nothing was connected, and the access Gatehouse had just granted was revoked/);
      assert.equal(await server.storage.grants.findActive(clientId, 'company', danish.id), undefined, 'no grant is left at Gatehouse');
    } finally {
      await app.close();
    }
  });

  it('/start for another company in a connected session replaces the connection: the previous grant is revoked, no connection is left behind unreachable', async () => {
    const swedish = seed.companies[1];
    await server.storage.clients.update(clientId, { initiationUri: `${partner.url}/start` });
    const { browser } = await connect();
    const before = await store.list();
    assert.ok(await server.storage.grants.findActive(clientId, 'company', danish.id));
    // Alice picks the Swedish company in Gatehouse's marketplace; the handover brings her back to this session.
    const gatehouseBrowser = new Browser();
    const login = await gatehouseBrowser.get(`${server.url}/marketplace`);
    await gatehouseBrowser.post(`${server.url}/login`, {
      _csrf: inputValue(login.text, '_csrf')!, return_to: '/marketplace', email: seed.users.alice.email, password: seed.users.alice.password,
    });
    const marketplace = await gatehouseBrowser.get(`${server.url}/marketplace`);
    const startUrl = (await gatehouseBrowser.post(`${server.url}/marketplace/${clientId}/connect`, {
      _csrf: inputValue(marketplace.text, '_csrf')!, subject: `urn:gatehouse:company:${swedish.id}`,
    })).location!;
    const start = await browser.get(startUrl);
    assert.equal(start.status, 303);
    const callback = await completeAuthorizationAsUser(new URL(start.location!), { browser, subject: `urn:gatehouse:company:${swedish.id}` });
    assert.equal((await browser.get(callback.href)).status, 303);
    assert.match((await browser.get(`${partner.url}/`)).text, new RegExp(swedish.name));
    assert.equal(await server.storage.grants.findActive(clientId, 'company', danish.id), undefined, 'the Danish grant is revoked at Gatehouse');
    const after = await store.list();
    assert.equal(after.length, before.length, 'the connection was replaced, not one more kept');
    assert.ok(!after.some((row) => row.subjectUrn === `urn:gatehouse:company:${danish.id}` && row.status === 'active'), 'no Danish tokens left behind');
  });

  it('gives the browser one opaque session cookie: HttpOnly, SameSite=Lax, no Secure on http://localhost in development', async () => {
    const response = await fetch(`${partner.url}/`);
    const cookies = response.headers.getSetCookie();
    assert.equal(cookies.length, 1);
    assert.match(cookies[0]!, /^ledgerly_session=[\w-]{43}; Max-Age=28800; Path=\/; HttpOnly; SameSite=Lax$/);
    assert.match(response.headers.get('content-security-policy') ?? '', /form-action 'self' http:\/\/127\.0\.0\.1:\d+/);
    assert.equal(response.headers.get('referrer-policy'), 'same-origin');
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
  });

  it('connects started by a flood of cookieless sessions (GET / then POST /connect) never evict a user mid-connect: past maxSessions a connect is a 503 page', async () => {
    const { app } = createPartnerApp({
      environment: 'development', publicUrl: 'http://127.0.0.1:8089', maxSessions: 2,
      gatehouse: { issuer: server.issuer, clientId, clientSecret: gatehouse.clientSecret, scope: 'users:read', store: createMemoryTokenStore(), encryptionKeys: keys, clock: server.clock, logger: silentLogger },
    });
    try {
      const startConnect = async () => {
        const home = await app.inject({ method: 'GET', url: '/' });
        const cookie = String(home.headers['set-cookie']).split(';')[0]!;
        const connect = await app.inject({
          method: 'POST', url: '/connect', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams({ _csrf: inputValue(home.body, '_csrf')! }).toString(),
        });
        return { cookie, connect };
      };
      const user = await startConnect();
      assert.equal(user.connect.statusCode, 303, 'the user is sent to Gatehouse');
      const attacker = await startConnect();
      assert.equal(attacker.connect.statusCode, 303);
      for (let round = 0; round < 5; round++) {
        const refused = (await startConnect()).connect;
        assert.equal(refused.statusCode, 503);
        assert.equal(refused.headers['retry-after'], '60');
        assert.match(refused.body, /Too many people are connecting/);
      }
      // The user's transaction is still there: its callback is checked (a wrong state), not 'unknown here'.
      const callback = await app.inject({ method: 'GET', url: '/callback?code=x&state=wrong', headers: { cookie: user.cookie } });
      assert.doesNotMatch(callback.body, /unknown here or has expired/);
    } finally {
      await app.close();
    }
  });

  it('outside development the cookie is Secure with the __Host- prefix', async () => {
    const { app } = createPartnerApp({
      environment: 'staging', publicUrl: 'https://ledgerly.example',
      gatehouse: { issuer: 'https://auth.staging.example', clientId, clientSecret: 'x', scope: 'users:read', store: createMemoryTokenStore(), encryptionKeys: keys },
    });
    const response = await app.inject({ method: 'GET', url: '/' });
    assert.match(String(response.headers['set-cookie']), /^__Host-ledgerly_session=[\w-]{43}; Max-Age=28800; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    await app.close();
  });

  it('Connect while Gatehouse cannot be reached is the app\'s own 503 page with a way back, never JSON; an unknown page is an HTML 404', async () => {
    // A port nothing listens on: discovery fails with ECONNREFUSED.
    const unreachable = await startPartnerApp({
      environment: 'development', port: 0, host: '127.0.0.1', publicUrl: 'http://127.0.0.1:8089',
      gatehouse: { issuer: 'http://127.0.0.1:9', clientId, clientSecret: 'x', scope: 'users:read', store: createMemoryTokenStore(), encryptionKeys: keys },
    });
    try {
      const browser = new Browser();
      const home = await browser.get(`${unreachable.url}/`);
      const connect = await browser.post(`${unreachable.url}/connect`, { _csrf: inputValue(home.text, '_csrf')! });
      assert.equal(connect.status, 503);
      assert.match(connect.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(connect.text, /Gatehouse is unavailable/);
      assert.match(connect.text, /<a href="\/">Back<\/a>/);
      assert.match(connect.text, /<main>[\s\S]*Gatehouse is unavailable[\s\S]*<\/main>/, 'the content in the main landmark (axe: landmark-one-main, region)');
      assert.doesNotMatch(connect.text, /ECONNREFUSED|statusCode/);
      const missing = await browser.get(`${unreachable.url}/nowhere`);
      assert.equal(missing.status, 404);
      assert.match(missing.headers.get('content-type') ?? '', /^text\/html/);
    } finally {
      await unreachable.close();
    }
  });

  it('refuses Connect and Disconnect without the session CSRF token, or from another origin', async () => {
    const browser = new Browser();
    const home = await browser.get(`${partner.url}/`);
    assert.equal((await browser.post(`${partner.url}/connect`, { _csrf: 'forged' })).status, 403);
    assert.equal((await browser.post(`${partner.url}/disconnect`, {})).status, 403);
    const crossSite = await browser.request(`${partner.url}/connect`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ _csrf: inputValue(home.text, '_csrf')! }),
    });
    assert.equal(crossSite.status, 403);
  });

  it('connects: PKCE S256 and state go to Gatehouse, the company and its data are shown, no token reaches the browser', async () => {
    const browser = new Browser();
    await browser.get(`${partner.url}/`);
    const before = browser.cookies.get('ledgerly_session');
    const { authorizationUrl, landed } = await connect(browser);
    assert.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(authorizationUrl.searchParams.get('redirect_uri'), `${partner.url}/callback`);
    assert.equal(landed.status, 303);
    assert.equal(landed.location, '/');
    assert.notEqual(browser.cookies.get('ledgerly_session'), before, 'a new session ID after connecting');
    const home = await browser.get(`${partner.url}/`);
    assert.match(home.text, new RegExp(`Connected to <span data-testid="company-name">${danish.name}</span>`));
    assert.match(home.text, /<h3>Users<\/h3>/);
    assert.match(home.text, /<h3>Vendors<\/h3>/);
    const tokens = await storedTokens();
    assert.ok(tokens.length >= 2);
    const seenByBrowser = [home.text, landed.text, ...browser.cookies.values()].join('\n');
    for (const token of tokens) assert.ok(!seenByBrowser.includes(token));
  });

  it('speaks the language Accept-Language asks for (German here), with <html lang> set; English without one', async () => {
    const german = { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' };
    const browser = new Browser();
    const connectDe = await browser.request(`${partner.url}/`, { headers: german });
    assert.equal(connectDe.status, 200);
    assert.match(connectDe.text, /<html lang="de">/);
    assert.match(connectDe.text, /<title>Verbinden · Ledgerly<\/title>/);
    assert.match(connectDe.text, /Verbinden Sie Ledgerly mit Ihrem Gatehouse-Unternehmen/);
    assert.match(connectDe.text, /<button type="submit">Mit Gatehouse verbinden<\/button>/);
    assert.match(connectDe.text, /Beispiel einer Partner-App/);
    assert.doesNotMatch(connectDe.text, /Connect with Gatehouse|partner app example/);
    assert.match(connectDe.headers.get('vary') ?? '', /accept-language/i);

    const english = await new Browser().get(`${partner.url}/`);
    assert.match(english.text, /<html lang="en">/);
    assert.match(english.text, /Connect with Gatehouse/);

    // The highest quality wins, whatever the order; a language the app does not have (pt) is skipped.
    const notFound = await browser.request(`${partner.url}/no-such-page`, { headers: { 'accept-language': 'pt-BR, fr;q=0.4, de-AT;q=0.9, en;q=0.1' } });
    assert.equal(notFound.status, 404);
    assert.match(notFound.text, /<html lang="de">/);
    assert.match(notFound.text, /<h2>Seite nicht gefunden<\/h2><p>Diese Seite gibt es hier nicht.<\/p>/);
    assert.match(notFound.text, />Zurück<\/a>/);

    // A refused form post (no CSRF token) is German too.
    const refused = await browser.request(`${partner.url}/connect`, { method: 'POST', headers: { ...german, 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    assert.equal(refused.status, 403);
    assert.match(refused.text, /Anfrage abgelehnt/);

    // The API-key form, and its refusal of something that is no key.
    const apiKeyForm = await browser.request(`${partner.url}/api-key`, { headers: german });
    assert.match(apiKeyForm.text, /<html lang="de">/);
    assert.match(apiKeyForm.text, /<h2>Mit einem API-Schlüssel verbinden<\/h2>/);
    assert.match(apiKeyForm.text, /<label for="api_key">API-Schlüssel<\/label>/);
    const notAKey = await browser.request(`${partner.url}/api-key`, {
      method: 'POST', headers: { ...german, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: inputValue(apiKeyForm.text, '_csrf')!, api_key: 'nope' }),
    });
    assert.equal(notAKey.status, 422);
    assert.match(notAKey.text, /Das ist kein Gatehouse-API-Schlüssel/);

    // Connected: the dashboard and the Disconnect confirmation, then Disconnect from it.
    await connect(browser);
    const dashboard = await browser.request(`${partner.url}/`, { headers: german });
    assert.match(dashboard.text, /<html lang="de">/);
    assert.match(dashboard.text, new RegExp(`<h2>Verbunden mit <span data-testid="company-name">${danish.name}</span></h2>`));
    assert.match(dashboard.text, /<h3>Benutzer<\/h3>/);
    assert.match(dashboard.text, /<h3>Lieferanten<\/h3>/);
    assert.match(dashboard.text, /<th>E-Mail<\/th><th>Rolle<\/th>/);
    assert.match(dashboard.text, /Gewährte Berechtigungen:/);
    assert.match(dashboard.text, />Trennen …<\/button>/);
    const confirmation = await browser.request(`${partner.url}/disconnect`, { headers: german });
    assert.match(confirmation.text, /<html lang="de">/);
    assert.match(confirmation.text, /<h2>Verbindung zu Gatehouse trennen\?<\/h2>/);
    assert.match(confirmation.text, /Ledgerly widerruft seinen Zugriff bei Gatehouse/);
    assert.match(confirmation.text, /<a href="\/">Abbrechen<\/a>/);
    const disconnected = await browser.post(`${partner.url}/disconnect`, { _csrf: inputValue(confirmation.text, '_csrf')! });
    assert.equal(disconnected.status, 303);
    assert.match((await browser.request(`${partner.url}/`, { headers: german })).text, /Mit Gatehouse verbinden/);
  });

  it('refuses a callback the browser did not start, and a callback used twice', async () => {
    const stranger = new Browser();
    const forged = await stranger.get(`${partner.url}/callback?code=stolen&state=guess&iss=${encodeURIComponent(server.issuer)}`);
    assert.equal(forged.status, 400);
    assert.match(forged.text, /could not finish connecting to Gatehouse/);
    const { browser, callback } = await connect();
    const replay = await browser.get(callback.href);
    assert.equal(replay.status, 400);
  });

  it('a callback Gatehouse refuses says what happened in words (English, Spanish): no OAuth code or description in the normal view, nothing connected', async () => {
    const before = (await store.list()).length;
    const cases = [
      // The code is unknown to Gatehouse: the token endpoint answers invalid_grant.
      { language: 'en', query: (state: string) => ({ code: 'not-a-code', state, iss: server.issuer }), words: /Gatehouse no longer accepts this authorization: it expired, it was already used, or it was ended at Gatehouse\. Connect again\./, code: 'invalid_grant' },
      // An authorization error response, with a description the page must not echo.
      { language: 'es', query: (state: string) => ({ error: 'invalid_scope', error_description: 'scope <b>raw</b> unknown', state, iss: server.issuer }), words: /Gatehouse no pudo aceptar la solicitud que envió Ledgerly\. Vuelva a intentarlo/, code: 'invalid_scope' },
    ];
    for (const { language, query, words, code } of cases) {
      const browser = new Browser();
      const home = await browser.get(`${partner.url}/`);
      const connect = await browser.post(`${partner.url}/connect`, { _csrf: inputValue(home.text, '_csrf')! });
      const state = new URL(connect.location!).searchParams.get('state')!;
      const page = await browser.request(`${partner.url}/callback?${new URLSearchParams(query(state))}`, { headers: { 'accept-language': language } });
      assert.equal(page.status, 400, language);
      assert.match(page.text, words, language);
      const normalView = page.text.replace(/<details>[\s\S]*?<\/details>/g, '');
      assert.doesNotMatch(normalView, new RegExp(`${code}|raw|answered|respondió`), `${language}: no raw code or description`);
      assert.match(page.text, new RegExp(`<code data-testid="error-code">${code}</code>`), language);
      assert.doesNotMatch(page.text, /raw/, `${language}: the description is not shown, technical details included`);
      assert.match(page.text, /<form method="post" action="\/connect">/, `${language}: a way onward`);
    }
    assert.equal((await store.list()).length, before, 'nothing connected');
  });

  it('a denial shows a message and connects nothing', async () => {
    const before = (await store.list()).length;
    const { landed } = await connect(new Browser(), 'deny');
    assert.equal(landed.status, 200);
    assert.match(landed.text, /You did not allow Ledgerly to access Gatehouse/);
    assert.equal((await store.list()).length, before);
  });

  it('offers to reconnect once the grant is revoked at Gatehouse, and reconnecting restores the data', async () => {
    const { browser } = await connect();
    const grant = await server.storage.grants.findActive(clientId, 'company', danish.id);
    await server.storage.grants.revoke(grant!.grantId, server.clock.nowSeconds(), 'revoked_by_user');
    const page = await browser.get(`${partner.url}/`);
    assert.match(page.text, /has ended\. Gatehouse no longer accepts it: it was disconnected at Gatehouse, it expired, or Gatehouse ended it to keep your account safe\. Connect again to keep syncing\./);
    assert.match(page.text, /Reconnect with Gatehouse/);
    const reconnect = await browser.post(`${partner.url}/connect`, { _csrf: inputValue(page.text, '_csrf')! });
    assert.equal(new URL(reconnect.location!).searchParams.get('urn_gatehouse_params_oauth_subject'), `urn:gatehouse:company:${danish.id}`);
    await browser.get((await completeAuthorizationAsUser(new URL(reconnect.location!), { browser })).href);
    assert.match((await browser.get(`${partner.url}/`)).text, /Connected to/);
  });

  it('the Reconnect page says in words why the connection ended (English, German): no raw OAuth reason in the normal view, only the error code in the collapsed technical details', async () => {
    const earlier = new Set((await store.list()).map((row) => row.connectionId));
    const { browser } = await connect();
    const row = (await store.list()).find((candidate) => !earlier.has(candidate.connectionId))!;
    const grant = await server.storage.grants.findActive(clientId, 'company', danish.id);
    await server.storage.grants.revoke(grant!.grantId, server.clock.nowSeconds(), 'revoked_by_user');
    const cases = [
      { language: 'en', words: /The connection to your Gatehouse company has ended\. Gatehouse no longer accepts it/, details: /<summary>Technical details<\/summary><p>Error code: <code data-testid="error-code">invalid_grant<\/code><\/p>/ },
      { language: 'de', words: /Die Verbindung zu Ihrem Gatehouse-Unternehmen wurde beendet\. Gatehouse akzeptiert sie nicht mehr/, details: /<summary>Technische Details<\/summary><p>Fehlercode: <code data-testid="error-code">invalid_grant<\/code><\/p>/ },
    ];
    // The first load refreshes (invalid_grant: the ReauthorizationRequiredError path), the next reads the stored status.
    for (const { language, words, details } of [...cases, ...cases]) {
      const page = await browser.request(`${partner.url}/`, { headers: { 'accept-language': language } });
      assert.equal(page.status, 200, language);
      assert.match(page.text, words, language);
      assert.match(page.text, details, language);
      const normalView = page.text.replace(/<details>[\s\S]*?<\/details>/g, '');
      assert.doesNotMatch(normalView, /invalid_grant|[a-z]+_[a-z_]+:/, `${language}: no raw OAuth reason outside the technical details`);
      const stored = await store.get(row.connectionId);
      assert.equal(stored?.status, 'reauthorization_required');
      // The stored reason carries Gatehouse's description: none of it reaches the page, details included.
      const description = stored!.statusReason!.replace(/^invalid_grant:?\s*/, '');
      assert.ok(description.length > 0 && !page.text.includes(description), `${language}: Gatehouse's description is not shown`);
    }
  });

  it('Disconnect and "Forget this connection" ask first (a confirmation saying what happens, with Cancel); the Reconnect page names no raw subject URN', async () => {
    const { browser } = await connect();
    const dashboard = await browser.get(`${partner.url}/`);
    assert.match(dashboard.text, /Connected to/);
    assert.doesNotMatch(dashboard.text, /<form method="post" action="\/disconnect">/, 'no one-click Disconnect');
    assert.match(dashboard.text, /<form method="get" action="\/disconnect"><button type="submit" class="secondary">Disconnect…<\/button><\/form>/);
    const confirmation = await browser.get(`${partner.url}/disconnect`);
    assert.equal(confirmation.status, 200);
    assert.match(confirmation.text, /<h2>Disconnect from Gatehouse\?<\/h2>/);
    assert.match(confirmation.text, /Ledgerly revokes its access at Gatehouse, stops syncing your company&#39;s data and forgets the connection\./);
    assert.match(confirmation.text, /<a href="\/">Cancel<\/a>/);
    assert.match(confirmation.text, /<form method="post" action="\/disconnect"><input type="hidden" name="_csrf" value="[^"]+"><button type="submit">Disconnect<\/button><\/form>/);
    const grant = await server.storage.grants.findActive(clientId, 'company', danish.id);
    assert.ok(grant, 'asking changed nothing');
    // The Reconnect page (the grant revoked at Gatehouse): its Forget button asks first too, in words, no URN.
    await server.storage.grants.revoke(grant.grantId, server.clock.nowSeconds(), 'revoked_by_user');
    const reconnect = await browser.get(`${partner.url}/`);
    assert.match(reconnect.text, /The connection to your Gatehouse company has ended/);
    assert.doesNotMatch(reconnect.text, /urn:/, 'no raw subject URN');
    assert.match(reconnect.text, /<form method="get" action="\/disconnect"><input type="hidden" name="forget" value="yes"><button type="submit" class="secondary">Forget this connection…<\/button><\/form>/);
    const forget = await browser.get(`${partner.url}/disconnect?forget=yes`);
    assert.match(forget.text, /<h2>Forget this connection\?<\/h2>/);
    assert.match(forget.text, /<button type="submit">Forget this connection<\/button>/);
    assert.match(forget.text, /<a href="\/">Cancel<\/a>/);
    const forgotten = await browser.post(`${partner.url}/disconnect`, { _csrf: inputValue(forget.text, '_csrf')! });
    assert.equal(forgotten.status, 303);
    assert.match((await browser.get(`${partner.url}/`)).text, /Connect with Gatehouse/);
    // Without a connection there is nothing to confirm: home.
    assert.equal((await browser.get(`${partner.url}/disconnect`)).location, '/');
  });

  it('Disconnect refused by Gatehouse (the client is suspended) says so, not that Gatehouse could not be reached; the connection is kept', async () => {
    const { browser } = await connect();
    await browser.get(`${partner.url}/`);
    const connections = (await store.list()).length;
    await server.storage.clients.update(clientId, { status: 'suspended' });
    try {
      const disconnect = await browser.post(`${partner.url}/disconnect`, { _csrf: await disconnectToken(browser) });
      assert.equal(disconnect.status, 502);
      assert.match(disconnect.text, /Gatehouse refused to revoke the access, so nothing was changed here\. Gatehouse does not accept Ledgerly at the moment: its registration may be suspended or its credentials changed\. Please contact Ledgerly&#39;s support\./);
      assert.doesNotMatch(disconnect.text.replace(/<details>[\s\S]*?<\/details>/g, ''), /invalid_client/, 'the code only in the technical details');
      assert.match(disconnect.text, /<code data-testid="error-code">invalid_client<\/code>/);
      assert.doesNotMatch(disconnect.text, /could not be reached/);
      assert.equal((await store.list()).length, connections, 'the connection is kept');
    } finally {
      await server.storage.clients.update(clientId, { status: 'active' });
    }
  });

  it('Disconnect failing before anything is sent (the connection was made by another client configuration) does not say Gatehouse could not be reached; the connection is kept', async () => {
    const earlier = new Set((await store.list()).map((row) => row.connectionId));
    const { browser } = await connect();
    await browser.get(`${partner.url}/`);
    const row = (await store.list()).find((candidate) => !earlier.has(candidate.connectionId))!;
    // As after the app was registered again under another client ID: the SDK refuses, sending nothing (ConnectionMismatchError).
    const moved = await store.save({ ...row, clientId: '0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f' });
    try {
      const disconnect = await browser.post(`${partner.url}/disconnect`, { _csrf: await disconnectToken(browser) });
      assert.ok(disconnect.status >= 500, String(disconnect.status));
      assert.match(disconnect.text, /Could not disconnect/);
      assert.doesNotMatch(disconnect.text, /could not be reached/);
      assert.deepEqual(await store.get(row.connectionId), moved, 'the connection is kept');
    } finally {
      await store.save(row);
    }
  });

  it('Connect in a session whose connection was made by another client configuration makes a new connection: the other client\'s row is not replaced', async () => {
    const earlier = new Set((await store.list()).map((row) => row.connectionId));
    const { browser } = await connect();
    const csrf = await disconnectToken(browser); // the session's token (the dashboard has no form posting it)
    const row = (await store.list()).find((candidate) => !earlier.has(candidate.connectionId))!;
    // As after the app was registered again under another client ID: this row is another client's.
    const foreign = await store.save({ ...row, clientId: '0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f' });
    try {
      const reconnect = await browser.post(`${partner.url}/connect`, { _csrf: csrf });
      assert.equal(reconnect.status, 303, 'the flow starts');
      const callback = await completeAuthorizationAsUser(new URL(reconnect.location!), { browser, subject: `urn:gatehouse:company:${danish.id}` });
      const landed = await browser.get(callback.href);
      assert.equal(landed.status, 303, `connected: ${landed.text}`);
      assert.deepEqual(await store.get(row.connectionId), foreign, 'the other client\'s row is untouched');
      const added = (await store.list()).filter((candidate) => !earlier.has(candidate.connectionId) && candidate.connectionId !== row.connectionId);
      assert.equal(added.length, 1, 'a new connection');
      assert.equal(added[0]!.clientId, clientId);
      assert.match((await browser.get(`${partner.url}/`)).text, /Connected to/);
      await store.delete(added[0]!.connectionId);
    } finally {
      await store.delete(row.connectionId);
    }
  });

  it('the home page of a session whose connection was made by another client configuration offers Connect, not "Something went wrong"', async () => {
    const earlier = new Set((await store.list()).map((row) => row.connectionId));
    const { browser } = await connect();
    const row = (await store.list()).find((candidate) => !earlier.has(candidate.connectionId))!;
    await store.save({ ...row, clientId: '0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f' });
    try {
      const home = await browser.get(`${partner.url}/`);
      assert.equal(home.status, 200);
      assert.match(home.text, /made by another registration of Ledgerly at Gatehouse and cannot be used here/);
      assert.match(home.text, /Connect with Gatehouse/);
    } finally {
      await store.delete(row.connectionId);
    }
  });

  it('Disconnect whose revocation went through but whose connection could not be forgotten (the token store failed) does not say the access was not revoked', async () => {
    const earlier = new Set((await store.list()).map((row) => row.connectionId));
    const { browser } = await connect();
    await browser.get(`${partner.url}/`);
    const row = (await store.list()).find((candidate) => !earlier.has(candidate.connectionId))!;
    const working = store.delete;
    store.delete = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    try {
      const disconnect = await browser.post(`${partner.url}/disconnect`, { _csrf: await disconnectToken(browser) });
      assert.ok(disconnect.status >= 500, String(disconnect.status));
      assert.match(disconnect.text, /Could not disconnect/);
      // Gatehouse did revoke the grant: a page saying it could not be revoked is untrue; this one says what happened.
      assert.equal(await server.storage.grants.findActive(clientId, 'company', danish.id), undefined);
      assert.doesNotMatch(disconnect.text, /could not be revoked|could not be reached/);
      assert.match(disconnect.text, /Gatehouse revoked Ledgerly&#39;s access, but Ledgerly could not forget the connection here\. Try Disconnect again\./);
      // The page offers that retry (it had only a Back link), and the retry deletes it.
      assert.match(disconnect.text, /<form method="post" action="\/disconnect"><input type="hidden" name="_csrf" value="[^"]+"><button type="submit">Disconnect again<\/button><\/form>/);
      assert.match(disconnect.text, /<a href="\/">Back<\/a>/);
      store.delete = working;
      const again = await browser.post(`${partner.url}/disconnect`, { _csrf: inputValue(disconnect.text, '_csrf')! });
      assert.equal(again.status, 303);
      assert.equal(await store.get(row.connectionId), undefined);
    } finally {
      store.delete = working;
      await store.delete(row.connectionId);
    }
  });

  it('a connection whose tokens cannot be decrypted (their key was dropped) offers Reconnect, which heals it', async () => {
    const earlier = new Set((await store.list()).map((row) => row.connectionId));
    const { browser } = await connect();
    const row = (await store.list()).find((candidate) => !earlier.has(candidate.connectionId))!;
    const dropped = createTokenCipher([generateEncryptionKey('dropped')]);
    await store.save({
      ...row,
      accessTokenCiphertext: dropped.seal('unreadable-access', { connectionId: row.connectionId, field: 'access_token' }),
      refreshTokenCiphertext: dropped.seal('unreadable-refresh', { connectionId: row.connectionId, field: 'refresh_token' }),
    });
    try {
      const home = await browser.get(`${partner.url}/`);
      // Not a dead end ("Something went wrong", a Back link to the same page, and Disconnect failing too): Reconnect.
      assert.match(home.text, /Reconnect with Gatehouse/);
      const reconnect = await browser.post(`${partner.url}/connect`, { _csrf: inputValue(home.text, '_csrf')! });
      assert.equal(reconnect.status, 303);
      const callback = await completeAuthorizationAsUser(new URL(reconnect.location!), { browser, subject: `urn:gatehouse:company:${danish.id}` });
      await browser.get(callback.href);
      const healed = await browser.get(`${partner.url}/`);
      assert.equal(healed.status, 200);
      assert.doesNotMatch(healed.text, /Reconnect with Gatehouse|Something went wrong/);
    } finally {
      await store.delete(row.connectionId);
    }
  });

  it('"Forget this connection" for a connection whose tokens cannot be decrypted forgets it, and says where to disconnect it at Gatehouse (its grant could not be revoked)', async () => {
    const earlier = new Set((await store.list()).map((row) => row.connectionId));
    const { browser } = await connect();
    const row = (await store.list()).find((candidate) => !earlier.has(candidate.connectionId))!;
    const dropped = createTokenCipher([generateEncryptionKey('dropped')]);
    await store.save({
      ...row,
      accessTokenCiphertext: dropped.seal('unreadable-access', { connectionId: row.connectionId, field: 'access_token' }),
      refreshTokenCiphertext: dropped.seal('unreadable-refresh', { connectionId: row.connectionId, field: 'refresh_token' }),
    });
    const grant = await server.storage.grants.findActive(clientId, 'company', danish.id);
    try {
      const home = await browser.get(`${partner.url}/`);
      assert.match(home.text, /Forget this connection/);
      const forget = await browser.post(`${partner.url}/disconnect`, { _csrf: inputValue(home.text, '_csrf')! });
      assert.equal(forget.status, 200);
      assert.match(forget.text, /Connection forgotten/);
      assert.doesNotMatch(forget.text, /urn:/, 'no raw subject URN');
      assert.match(forget.text, /Gatehouse may still show Ledgerly as connected/);
      assert.ok(forget.text.includes(`href="${server.issuer}/account/connected-apps"`), 'a link to the connected apps page at Gatehouse');
      assert.equal(await store.get(row.connectionId), undefined, 'the row is deleted');
      // Honest: nothing could be sent, so the grant is still alive at Gatehouse.
      assert.equal((await server.storage.grants.findActive(clientId, 'company', danish.id))?.grantId, grant!.grantId);
      assert.match((await browser.get(`${partner.url}/`)).text, /Connect with Gatehouse/);
    } finally {
      await store.delete(row.connectionId);
      await server.storage.grants.revoke(grant!.grantId, server.clock.nowSeconds(), 'revoked_by_user');
    }
  });

  it('Disconnect revokes the grant at Gatehouse and forgets the connection', async () => {
    const { browser } = await connect();
    await browser.get(`${partner.url}/`);
    const connections = (await store.list()).length;
    const disconnect = await browser.post(`${partner.url}/disconnect`, { _csrf: await disconnectToken(browser) });
    assert.equal(disconnect.status, 303);
    assert.equal(await server.storage.grants.findActive(clientId, 'company', danish.id), undefined);
    assert.equal((await store.list()).length, connections - 1);
    assert.match((await browser.get(`${partner.url}/`)).text, /Connect with Gatehouse/);
  });
});
