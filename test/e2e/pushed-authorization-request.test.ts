/**
 * Pushed authorization requests end to end (issue 15 §2, RFC 9126) with oauth4webapi as a third-party
 * client: discovery, `pushedAuthorizationRequest` with client_secret_basic, the browser (the harness's
 * browserless driver) through login and consent with only client_id and request_uri, then the code
 * exchange checked by oauth4webapi (state, iss, PKCE).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import { Browser, hiddenInputs, inputValue, seed, startTestServer, type TestServer } from '../../packages/authorization-server/src/testing/harness.ts';

describe('PAR end to end with oauth4webapi (RFC 9126)', () => {
  let server: TestServer;
  before(async () => {
    // The deployment requires PAR, so only the pushed request can succeed.
    server = await startTestServer({ requirePushedAuthorizationRequests: true });
  });
  after(() => server.close());

  it('pushes with client_secret_basic, logs in and consents with only client_id and request_uri, and redeems the code', async () => {
    const issuer = new URL(server.issuer);
    const options = { [oauth.allowInsecureRequests]: true } as const; // the test issuer is http://127.0.0.1
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...options, algorithm: 'oauth2' }));
    assert.equal(as.pushed_authorization_request_endpoint, `${server.issuer}/oauth/par`);
    assert.equal(as.require_pushed_authorization_requests, true);

    const client: oauth.Client = { client_id: seed.confidentialClient.id };
    const clientAuth = oauth.ClientSecretBasic(seed.confidentialClient.secret);
    const codeVerifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const parameters = {
      redirect_uri: seed.confidentialClient.redirectUri, scope: 'users:read vendors:read', state, response_type: 'code',
      code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
    };
    const pushed = await oauth.processPushedAuthorizationResponse(as, client,
      await oauth.pushedAuthorizationRequest(as, client, clientAuth, parameters, options));
    assert.match(pushed.request_uri, /^urn:ietf:params:oauth:request_uri:/);
    assert.equal(pushed.expires_in, 60);

    // The browser carries only client_id and request_uri (RFC 9126 §4).
    const authorizationUrl = new URL(as.authorization_endpoint!);
    authorizationUrl.searchParams.set('client_id', client.client_id);
    authorizationUrl.searchParams.set('request_uri', pushed.request_uri);
    const browser = new Browser();
    let page = await browser.get(authorizationUrl.href);
    assert.match(page.text, /action="\/login[?"]/);
    const login = await browser.post(`${server.url}/login`, {
      _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!,
      email: seed.users.alice.email, password: seed.users.alice.password,
    });
    assert.equal(login.status, 303);
    page = await browser.get(new URL(login.location!, server.url).href);
    assert.match(page.text, /action="\/oauth\/authorize\/decision"/);
    const subject = /<option value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    page = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(page.text), subject, decision: 'allow' });
    assert.equal(page.status, 303);

    // oauth4webapi checks state and iss (RFC 9207) and the PKCE exchange.
    const callback = oauth.validateAuthResponse(as, client, new URL(page.location!), state);
    const tokens = await oauth.processAuthorizationCodeResponse(as, client,
      await oauth.authorizationCodeGrantRequest(as, client, clientAuth, callback, seed.confidentialClient.redirectUri, codeVerifier, options));
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.ok(tokens.access_token);
    assert.ok(tokens.refresh_token);
    assert.equal(tokens.scope, 'users:read vendors:read');

    // The request_uri was used once: replaying it shows an error page, no redirect.
    const replay = await new Browser().get(authorizationUrl.href);
    assert.equal(replay.status, 400);
    assert.equal(replay.location, undefined);
  });

  it('reports a pushed request refused by the server as a ResponseBodyError (invalid_scope)', async () => {
    const issuer = new URL(server.issuer);
    const options = { [oauth.allowInsecureRequests]: true } as const;
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...options, algorithm: 'oauth2' }));
    const client: oauth.Client = { client_id: seed.confidentialClient.id };
    const response = await oauth.pushedAuthorizationRequest(as, client, oauth.ClientSecretBasic(seed.confidentialClient.secret), {
      redirect_uri: seed.confidentialClient.redirectUri, scope: 'payroll:read', state: 's', response_type: 'code',
      code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()), code_challenge_method: 'S256',
    }, options);
    await assert.rejects(oauth.processPushedAuthorizationResponse(as, client, response), (error: unknown) => {
      assert.ok(error instanceof oauth.ResponseBodyError);
      assert.equal(error.error, 'invalid_scope');
      return true;
    });
  });
});
