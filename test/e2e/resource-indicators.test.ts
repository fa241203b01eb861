/**
 * Several APIs end to end (issue 15 §4, RFC 8707) with oauth4webapi as a third-party client: a pushed
 * authorization request naming two resources, login and consent through the harness's browserless
 * driver, then oauth4webapi's `resource` parameters at the token endpoint — the code exchanged for the
 * second API, a refresh for the first — and oauth4webapi's own RFC 9068 check of each JWT access token
 * against the audience its API expects.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import { createResourceServer } from '../../packages/authorization-server/src/directory/resource-servers.ts';
import { API_AUDIENCE, Browser, hiddenInputs, inputValue, seed, startTestServer, type TestServer } from '../../packages/authorization-server/src/testing/harness.ts';

const EXPORT_API = 'https://export.api.example';

describe('several APIs end to end with oauth4webapi (RFC 8707)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ accessTokenFormat: 'jwt' });
    await createResourceServer({ storage: server.storage, environment: 'development', now: server.clock.nowSeconds(), actor: 'admin:test', defaultAudience: API_AUDIENCE },
      { audience: EXPORT_API, name: 'Export API', scopes: ['export-jobs:read', 'export-items:read'] });
  });
  after(() => server.close());

  it('requests two resources, redeems the code for the second API and refreshes for the first; each token validates only for its own audience', async () => {
    const issuer = new URL(server.issuer);
    const options = { [oauth.allowInsecureRequests]: true } as const; // the test issuer is http://127.0.0.1
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...options, algorithm: 'oauth2' }));
    const client: oauth.Client = { client_id: seed.confidentialClient.id };
    const clientAuth = oauth.ClientSecretBasic(seed.confidentialClient.secret);
    const codeVerifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    // RFC 8707 §2.1: `resource` repeated, one per API.
    const parameters = new URLSearchParams({
      redirect_uri: seed.confidentialClient.redirectUri, scope: 'export-jobs:read users:read', state, response_type: 'code',
      code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
    });
    parameters.append('resource', API_AUDIENCE);
    parameters.append('resource', EXPORT_API);
    const pushed = await oauth.processPushedAuthorizationResponse(as, client, await oauth.pushedAuthorizationRequest(as, client, clientAuth, parameters, options));

    const authorizationUrl = new URL(as.authorization_endpoint!);
    authorizationUrl.searchParams.set('client_id', client.client_id);
    authorizationUrl.searchParams.set('request_uri', pushed.request_uri);
    const browser = new Browser();
    let page = await browser.get(authorizationUrl.href);
    const login = await browser.post(`${server.url}/login`, {
      _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!, email: seed.users.alice.email, password: seed.users.alice.password,
    });
    page = await browser.get(new URL(login.location!, server.url).href);
    const subject = /<option value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    page = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(page.text), subject, decision: 'allow' });
    assert.equal(page.status, 303);
    const callback = oauth.validateAuthResponse(as, client, new URL(page.location!), state);

    // RFC 8707 §2.2: two resources were granted, so the code exchange names one (oauth4webapi's additionalParameters).
    const forExport = await oauth.processAuthorizationCodeResponse(as, client, await oauth.authorizationCodeGrantRequest(
      as, client, clientAuth, callback, seed.confidentialClient.redirectUri, codeVerifier, { ...options, additionalParameters: { resource: EXPORT_API } }));
    assert.equal(forExport.scope, 'export-jobs:read');
    const bearer = (token: string) => new Request(`${EXPORT_API}/jobs`, { headers: { authorization: `Bearer ${token}` } });
    const claims = await oauth.validateJwtAccessToken(as, bearer(forExport.access_token), EXPORT_API, options);
    assert.equal(claims.aud, EXPORT_API);
    // The platform API (another audience) must not accept it.
    await assert.rejects(oauth.validateJwtAccessToken(as, bearer(forExport.access_token), API_AUDIENCE, options));

    const forPlatform = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(
      as, client, clientAuth, forExport.refresh_token!, { ...options, additionalParameters: { resource: API_AUDIENCE } }));
    assert.equal(forPlatform.scope, 'users:read');
    assert.equal((await oauth.validateJwtAccessToken(as, bearer(forPlatform.access_token), API_AUDIENCE, options)).aud, API_AUDIENCE);

    // A resource that was not granted: the server's invalid_target reaches oauth4webapi as a ResponseBodyError.
    const refused = await oauth.refreshTokenGrantRequest(as, client, clientAuth, forPlatform.refresh_token!, { ...options, additionalParameters: { resource: 'https://payroll.api.example' } });
    await assert.rejects(oauth.processRefreshTokenResponse(as, client, refused), (error: unknown) => {
      assert.ok(error instanceof oauth.ResponseBodyError);
      assert.equal(error.error, 'invalid_target');
      return true;
    });
  });
});
