/**
 * Several APIs (issue 15 §4, RFC 8707 resource indicators), black box against a real listening server:
 * `resource` at /oauth/authorize, /oauth/par and /oauth/token selects the audience; an access token is for
 * exactly one resource, with the scope of its family; introspection by one resource server never shows
 * another's tokens. The default resource (the platform API) is what a request without `resource` gets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { BearerTokenError, createTokenVerifier } from '@gatehouse/resource-server';
import { registerClient } from '../clients/registration.ts';
import { createResourceServer } from '../directory/resource-servers.ts';
import {
  API_AUDIENCE, basic, Browser, confidentialAuth, hiddenInputs, inputValue, introspect, pkcePair, seed, startTestServer, type TestServer,
} from '../testing/harness.ts';

const EXPORT_API = 'https://export.api.example';
const VENDOR_API = 'https://vendors.api.example/v1';
const CALLBACK = seed.confidentialClient.redirectUri;

interface Credentials { clientId: string; clientSecret: string }

/** Registers an API with its scope family and introspection credentials, as the admin API and the CLI do. */
async function registerApi(server: TestServer, audience: string, scopes: string[]): Promise<Credentials> {
  const { client, clientSecret } = await createResourceServer({
    storage: server.storage, environment: 'development', now: server.clock.nowSeconds(), actor: 'admin:test', defaultAudience: API_AUDIENCE,
  }, { audience, name: audience, scopes });
  return { clientId: client.clientId, clientSecret };
}

/** The authorization request URL with `resource` repeated as given (RFC 8707 §2.1). */
function authorizationUrl(server: TestServer, parameters: Record<string, string>, resources: string[], codeChallenge: string): string {
  const url = new URL('/oauth/authorize', server.url);
  const all = { response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: CALLBACK, state: 'state-8707',
    code_challenge: codeChallenge, code_challenge_method: 'S256', ...parameters };
  for (const [name, value] of Object.entries(all)) url.searchParams.set(name, value);
  for (const resource of resources) url.searchParams.append('resource', resource);
  return url.href;
}

/** Logs alice in and allows, from an authorization URL; returns the final redirect (never followed). */
async function approve(server: TestServer, url: string): Promise<URL> {
  const browser = new Browser();
  let page = await browser.get(url);
  if (page.status === 200 && /action="\/login[?"]/.test(page.text)) {
    const login = await browser.post(`${server.url}/login`, {
      _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!, email: seed.users.alice.email, password: seed.users.alice.password,
    });
    page = await browser.get(new URL(login.location!, server.url).href);
  }
  if (page.status === 200 && page.text.includes('action="/oauth/authorize/decision"')) {
    const subject = /<option value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    page = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(page.text), subject, decision: 'allow' });
  }
  assert.equal(page.status, 303, page.text.slice(0, 300));
  return new URL(page.location!);
}

/** A code for `scope` and `resources`, with its verifier. */
async function codeFor(server: TestServer, scope: string, resources: string[]) {
  const pkce = pkcePair();
  const redirect = await approve(server, authorizationUrl(server, { scope }, resources, pkce.codeChallenge));
  const code = redirect.searchParams.get('code');
  assert.ok(code, redirect.href);
  return { code, codeVerifier: pkce.codeVerifier };
}

/** POST /oauth/token with `resource` repeated as given. */
async function tokenRequest(server: TestServer, form: Record<string, string>, resources: string[] = []) {
  const body = new URLSearchParams(form);
  for (const resource of resources) body.append('resource', resource);
  const response = await fetch(`${server.url}/oauth/token`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: confidentialAuth() }, body,
  });
  return { status: response.status, json: await response.json() as Record<string, any> };
}

const redeem = (server: TestServer, code: { code: string; codeVerifier: string }, resources: string[] = []) =>
  tokenRequest(server, { grant_type: 'authorization_code', code: code.code, redirect_uri: CALLBACK, code_verifier: code.codeVerifier }, resources);
const refresh = (server: TestServer, refreshToken: string, resources: string[] = [], extra: Record<string, string> = {}) =>
  tokenRequest(server, { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }, resources);

describe('several APIs: resource indicators (RFC 8707, issue 15 section 4)', () => {
  let server: TestServer;
  let exportApi: Credentials;
  const platformApi = { clientId: seed.resourceServer.id, clientSecret: seed.resourceServer.secret };
  const as = (credentials: Credentials) => basic(credentials.clientId, credentials.clientSecret);

  before(async () => {
    server = await startTestServer();
    exportApi = await registerApi(server, EXPORT_API, ['export-jobs:read', 'export-jobs:write', 'export-items:read']);
    await registerApi(server, VENDOR_API, ['vendors:write']);
  });
  after(() => server.close());

  it('without resource nothing changes: the token is for the platform API, which sees it; the export API does not', async () => {
    const code = await codeFor(server, 'users:read vendors:read', []);
    const tokens = await redeem(server, code);
    assert.equal(tokens.status, 200);
    assert.equal(tokens.json.scope, 'users:read vendors:read');
    const seen = await introspect(server, tokens.json.access_token, as(platformApi));
    assert.equal(seen.active, true);
    assert.equal(seen.aud, API_AUDIENCE);
    // SPEC decision 14 / issue 15 §4: another resource server learns nothing, not even that the token exists.
    assert.deepEqual(await introspect(server, tokens.json.access_token, as(exportApi)), { active: false });
  });

  it('resource selects the audience: the export API sees its token with aud, the platform API gets {"active":false}', async () => {
    const tokens = await redeem(server, await codeFor(server, 'export-jobs:read export-items:read', [EXPORT_API]));
    assert.equal(tokens.status, 200);
    assert.equal(tokens.json.scope, 'export-jobs:read export-items:read');
    const seen = await introspect(server, tokens.json.access_token, as(exportApi));
    assert.equal(seen.active, true);
    assert.equal(seen.aud, EXPORT_API);
    assert.equal(seen.scope, 'export-jobs:read export-items:read');
    assert.deepEqual(await introspect(server, tokens.json.access_token, as(platformApi)), { active: false });
    // The client that obtained it still introspects its own token (SPEC decision 14), and sees the aud.
    assert.equal((await introspect(server, tokens.json.access_token, confidentialAuth())).aud, EXPORT_API);
    // The refresh keeps the single resource granted: no resource needed, the same audience again.
    const refreshed = await refresh(server, tokens.json.refresh_token);
    assert.equal(refreshed.status, 200);
    assert.equal((await introspect(server, refreshed.json.access_token, as(exportApi))).aud, EXPORT_API);
  });

  it('two resources at authorize: the token request must name one (invalid_target), two at once are refused, each one works in turn (RFC 8707 section 2.2)', async () => {
    const code = await codeFor(server, 'export-jobs:read users:read', [EXPORT_API, API_AUDIENCE]);
    // Two resources in one token request: refused before the code is used, so it still redeems below.
    const both = await redeem(server, code, [EXPORT_API, API_AUDIENCE]);
    assert.equal(both.status, 400);
    assert.equal(both.json.error, 'invalid_target');
    assert.equal(both.json.access_token, undefined);

    const forExport = await redeem(server, code, [EXPORT_API]);
    assert.equal(forExport.status, 200);
    assert.equal(forExport.json.scope, 'export-jobs:read', 'the scope is limited to the resource\'s family');
    assert.equal((await introspect(server, forExport.json.access_token, as(exportApi))).aud, EXPORT_API);

    // A refresh may ask for any one granted resource (RFC 8707 §2.2) ...
    const forPlatform = await refresh(server, forExport.json.refresh_token, [API_AUDIENCE]);
    assert.equal(forPlatform.status, 200);
    assert.equal(forPlatform.json.scope, 'users:read');
    const seen = await introspect(server, forPlatform.json.access_token, as(platformApi));
    assert.equal(seen.aud, API_AUDIENCE);
    assert.deepEqual(await introspect(server, forPlatform.json.access_token, as(exportApi)), { active: false });

    // ... never another, never none of several, never two, never a scope outside the family; none of these
    // refusals rotates or revokes anything: the current refresh token still works afterwards.
    const current = forPlatform.json.refresh_token;
    for (const [resources, extra, error] of [
      [[VENDOR_API], {}, 'invalid_target'],
      [[], {}, 'invalid_target'],
      [[EXPORT_API, API_AUDIENCE], {}, 'invalid_target'],
      [['https://unknown.api.example'], {}, 'invalid_target'],
      [['not a uri'], {}, 'invalid_target'],
      [[EXPORT_API], { scope: 'users:read' }, 'invalid_scope'],
    ] as const) {
      const refused = await refresh(server, current, [...resources], extra);
      assert.equal(refused.status, 400, JSON.stringify(resources));
      assert.equal(refused.json.error, error, JSON.stringify(resources));
      assert.equal(refused.json.access_token, undefined);
    }
    const still = await refresh(server, current, [EXPORT_API], { scope: 'export-jobs:read' });
    assert.equal(still.status, 200);
    assert.equal(still.json.scope, 'export-jobs:read');
  });

  it('a resource not granted at authorize is refused at the token endpoint with invalid_target and no token', async () => {
    const refused = await redeem(server, await codeFor(server, 'export-jobs:read', [EXPORT_API]), [API_AUDIENCE]);
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error, 'invalid_target');
    assert.equal(refused.json.access_token, undefined);
    const noneOfSeveral = await redeem(server, await codeFor(server, 'export-jobs:read users:read', [EXPORT_API, API_AUDIENCE]));
    assert.equal(noneOfSeveral.status, 400);
    assert.equal(noneOfSeveral.json.error, 'invalid_target');
  });

  describe('refusals at /oauth/authorize redirect with error, state and iss once the redirect URI is established (RFC 6749 section 4.1.2.1)', () => {
    const expectRedirectError = async (resources: string[], scope: string, error: string, clientId: string = seed.confidentialClient.id) => {
      const response = await new Browser().get(authorizationUrl(server, { scope, client_id: clientId }, resources, pkcePair().codeChallenge));
      assert.equal(response.status, 303, `${resources.join(',')}: ${response.text.slice(0, 200)}`);
      const location = new URL(response.location!);
      assert.equal(`${location.origin}${location.pathname}`, CALLBACK);
      assert.equal(location.searchParams.get('error'), error, resources.join(','));
      assert.equal(location.searchParams.get('state'), 'state-8707');
      assert.equal(location.searchParams.get('iss'), server.issuer);
      assert.equal(location.searchParams.get('code'), null);
    };

    it('an unknown resource is invalid_target (RFC 8707 section 2)', () => expectRedirectError(['https://unknown.api.example'], 'export-jobs:read', 'invalid_target'));
    it('a malformed resource (relative, with a fragment) is invalid_target', async () => {
      await expectRedirectError(['/export'], 'export-jobs:read', 'invalid_target');
      await expectRedirectError([`${EXPORT_API}#jobs`], 'export-jobs:read', 'invalid_target');
    });
    it('a scope outside the requested resource\'s family is invalid_scope', () => expectRedirectError([EXPORT_API], 'export-jobs:read users:read', 'invalid_scope'));
    it('a scope of another API without resource is invalid_scope (the default resource does not own it)', () => expectRedirectError([], 'export-jobs:read', 'invalid_scope'));
    it('a requested resource none of the scopes belongs to is invalid_target', () => expectRedirectError([EXPORT_API, API_AUDIENCE], 'users:read', 'invalid_target'));
    it('a resource the client may not use (none of its registered scopes is in the family) is invalid_target', async () => {
      const { client } = await registerClient({ storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() }, {
        clientName: 'Payroll Bridge', clientType: 'confidential', redirectUris: [CALLBACK], scopes: ['users:read', 'export-jobs:read'],
      });
      await expectRedirectError([VENDOR_API], 'users:read', 'invalid_target', client.clientId);
    });

    it('with an unregistered redirect_uri an unknown resource shows a page and never redirects (SPEC decision 5)', async () => {
      const response = await new Browser().get(authorizationUrl(server, { scope: 'export-jobs:read', redirect_uri: 'https://attacker.example/cb' },
        ['https://unknown.api.example'], pkcePair().codeChallenge));
      assert.equal(response.status, 400);
      assert.equal(response.location, undefined);
      assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    });
  });

  it('PAR carries several resources (RFC 9126 with RFC 8707); an unknown one is refused at /oauth/par with invalid_target', async () => {
    const pkce = pkcePair();
    const form = new URLSearchParams({ response_type: 'code', redirect_uri: CALLBACK, scope: 'export-jobs:read users:read', state: 's-par',
      code_challenge: pkce.codeChallenge, code_challenge_method: 'S256' });
    const push = async (resources: string[]) => {
      const body = new URLSearchParams(form);
      for (const resource of resources) body.append('resource', resource);
      const response = await fetch(`${server.url}/oauth/par`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: confidentialAuth() }, body });
      return { status: response.status, json: await response.json() as Record<string, any> };
    };
    const unknown = await push([EXPORT_API, 'https://unknown.api.example']);
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.error, 'invalid_target');
    assert.equal(unknown.json.request_uri, undefined);

    const pushed = await push([EXPORT_API, API_AUDIENCE]);
    assert.equal(pushed.status, 201);
    const url = new URL('/oauth/authorize', server.url);
    url.searchParams.set('client_id', seed.confidentialClient.id);
    url.searchParams.set('request_uri', pushed.json.request_uri);
    const redirect = await approve(server, url.href);
    const code = { code: redirect.searchParams.get('code')!, codeVerifier: pkce.codeVerifier };
    assert.equal((await redeem(server, code)).json.error, 'invalid_target', 'two resources were granted: the token request must name one');
    const pushedAgain = await push([EXPORT_API, API_AUDIENCE]);
    url.searchParams.set('request_uri', pushedAgain.json.request_uri);
    const second = await approve(server, url.href);
    const tokens = await redeem(server, { code: second.searchParams.get('code')!, codeVerifier: pkce.codeVerifier }, [API_AUDIENCE]);
    assert.equal(tokens.status, 200);
    assert.equal(tokens.json.scope, 'users:read');
  });

  it('the grant remembers the resources granted; a consent covering the scopes and the resources is reused (SPEC decision 11)', async () => {
    const tokens = await redeem(server, await codeFor(server, 'export-jobs:read users:read', [EXPORT_API, API_AUDIENCE]), [EXPORT_API]);
    assert.equal(tokens.status, 200);
    assert.equal((await introspect(server, tokens.json.access_token, as(exportApi))).aud, EXPORT_API);
    // The one active grant of this client and user (SPEC decision 11: a new grant supersedes the old).
    const [grant] = await server.storage.grants.listActive({ clientId: seed.confidentialClient.id });
    assert.deepEqual(grant?.resources, [EXPORT_API, API_AUDIENCE]);
    // Asking again for one of the granted resources and scopes: no consent page, straight back with a code.
    const browserRedirect = await approve(server, authorizationUrl(server, { scope: 'export-jobs:read' }, [EXPORT_API], pkcePair().codeChallenge));
    assert.ok(browserRedirect.searchParams.get('code'));
  });
});

describe('JWT access tokens carry aud = the resource (RFC 9068 section 2.2, RFC 8707)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ accessTokenFormat: 'jwt' });
    await registerApi(server, EXPORT_API, ['export-jobs:read']);
  });
  after(() => server.close());

  it('aud is the export API for its token and the platform API without resource', async () => {
    const forExport = await redeem(server, await codeFor(server, 'export-jobs:read', [EXPORT_API]));
    assert.equal(decodeJwt(forExport.json.access_token).aud, EXPORT_API);
    const forPlatform = await redeem(server, await codeFor(server, 'users:read', []));
    assert.equal(decodeJwt(forPlatform.json.access_token).aud, API_AUDIENCE);
  });
});

describe('the resource-server toolkit checks aud against its own resource in both modes (issue 15 section 4)', () => {
  let server: TestServer;
  let exportApi: Credentials;
  before(async () => {
    server = await startTestServer({ accessTokenFormat: 'jwt' });
    exportApi = await registerApi(server, EXPORT_API, ['export-jobs:read']);
  });
  after(() => server.close());

  for (const mode of ['introspection', 'local'] as const) {
    it(`${mode} mode: the export API accepts its token and refuses the platform API's (401 invalid_token)`, async () => {
      const verifier = createTokenVerifier({
        mode, issuer: server.issuer, audience: EXPORT_API, introspectionClientId: exportApi.clientId, introspectionClientSecret: exportApi.clientSecret,
        now: () => server.clock.nowSeconds() * 1000, ...(mode === 'introspection' ? { introspectionCacheTtlSeconds: 0 } : {}),
      });
      try {
        await verifier.ready();
        const forExport = await redeem(server, await codeFor(server, 'export-jobs:read', [EXPORT_API]));
        const accepted = await verifier.verifyAccessToken(`Bearer ${forExport.json.access_token}`, ['export-jobs:read']);
        assert.equal(accepted.clientId, seed.confidentialClient.id);
        const forPlatform = await redeem(server, await codeFor(server, 'users:read', []));
        await assert.rejects(verifier.verifyAccessToken(`Bearer ${forPlatform.json.access_token}`, []), (error: unknown) => {
          assert.ok(error instanceof BearerTokenError);
          assert.equal(error.status, 401);
          assert.equal(error.body.error, 'invalid_token');
          return true;
        });
      } finally {
        verifier.close();
      }
    });
  }

  it('the revocation feed answers the export API with its own revoked tokens only; credentials for an unregistered audience are refused', async () => {
    const forExport = await redeem(server, await codeFor(server, 'export-jobs:read', [EXPORT_API]));
    const forPlatform = await redeem(server, await codeFor(server, 'users:read', []));
    for (const token of [forExport.json.access_token, forPlatform.json.access_token]) {
      await fetch(`${server.url}/oauth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: confidentialAuth() },
        body: new URLSearchParams({ token }) });
    }
    const feed = async (credentials: string) => {
      const response = await fetch(`${server.url}/oauth/revoked-access-tokens?since=0`, { headers: { authorization: credentials } });
      return { status: response.status, json: await response.json() as Record<string, any> };
    };
    const jtiOf = (token: string) => decodeJwt(token).jti;
    const exportFeed = await feed(basic(exportApi.clientId, exportApi.clientSecret));
    assert.equal(exportFeed.status, 200);
    // (Earlier tests' tokens are in the feeds too: each new consent superseded the previous grant.)
    const exportJtis = exportFeed.json.revoked.map((entry: { jti: string }) => entry.jti);
    assert.ok(exportJtis.includes(jtiOf(forExport.json.access_token)));
    assert.ok(!exportJtis.includes(jtiOf(forPlatform.json.access_token)), 'another API\'s token is not in the feed');
    const platformFeed = await feed(basic(seed.resourceServer.id, seed.resourceServer.secret));
    const platformJtis = platformFeed.json.revoked.map((entry: { jti: string }) => entry.jti);
    assert.ok(platformJtis.includes(jtiOf(forPlatform.json.access_token)));
    assert.ok(!platformJtis.includes(jtiOf(forExport.json.access_token)), 'another API\'s token is not in the feed');
    // Introspection-only credentials for an audience no token is issued for (no scopes registered).
    const { client, clientSecret } = await createResourceServer({ storage: server.storage, environment: 'development', now: server.clock.nowSeconds(), actor: 'admin:test' },
      { audience: 'https://unregistered.api.example' });
    const refused = await feed(basic(client.clientId, clientSecret));
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error, 'unauthorized_client');
  });
});
