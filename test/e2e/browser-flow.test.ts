/**
 * End to end, with no code of ours on the client side: openid-client (a third-party OAuth client)
 * and Playwright driving Debian's Chromium through Gatehouse's real login and consent pages, then
 * the sample platform API through its real introspection.
 *
 * authorize → log in → pick a company → allow → callback → exchange → GET /v1/introspect → refresh →
 * the old tokens fail → replay the old refresh token after the grace window → the grant is revoked and the API refuses the
 * newest access token too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { registerClient } from '@gatehouse/authorization-server';
import { startPlatformApi, type RunningPlatformApi } from '@gatehouse/platform-api';
import { API_AUDIENCE, freePort, seed, startTestServer, type TestServer } from '../../packages/authorization-server/src/testing/harness.ts';
import { beginAuthorization, logInToConsent } from './openid-client-flow.ts';
import { chromiumSkipReason, launchChromium } from './chromium.ts';

describe('end to end: openid-client + Chromium + platform API', { skip: chromiumSkipReason }, () => {
  let server: TestServer;
  let api: RunningPlatformApi;
  let browser: Browser;
  let callback: Server;
  let callbackUrl: string;
  let received: ((url: string) => void) | undefined;
  let apiNowMs = Date.now();

  before(async () => {
    server = await startTestServer();
    const callbackPort = await freePort();
    callbackUrl = `http://127.0.0.1:${callbackPort}/callback`;
    callback = createServer((request, response) => {
      received?.(`http://127.0.0.1:${callbackPort}${request.url}`);
      response.writeHead(200, { 'content-type': 'text/plain' }).end('Connected. You can close this window.');
    });
    await new Promise<void>((resolve) => callback.listen(callbackPort, '127.0.0.1', resolve));
    api = await startPlatformApi({
      issuer: server.issuer, audience: API_AUDIENCE, port: 0, host: '127.0.0.1',
      introspectionClientId: seed.resourceServer.id, introspectionClientSecret: seed.resourceServer.secret,
      now: () => apiNowMs,
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await api?.close();
    await new Promise((resolve) => callback?.close(resolve));
    await server?.close();
  });

  it('connects, calls the API, rotates, and revokes the grant on replay', async () => {
    const { client, clientSecret } = await registerClient(
      { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
      { clientName: 'E2E Partner', clientType: 'confidential', redirectUris: [callbackUrl], scopes: ['users:read', 'vendors:read'], clientUri: 'https://partner.example' },
    );
    const { config, authorizationUrl, codeVerifier, state } = await beginAuthorization(server.issuer, client.clientId, clientSecret!, callbackUrl, 'users:read vendors:read');

    // The user's side, in a real browser.
    const arrived = new Promise<string>((resolve) => {
      received = resolve;
    });
    const page = await browser.newPage();
    assert.match(await logInToConsent(page, authorizationUrl, seed.users.alice), /E2E Partner wants to access your Gatehouse account/);
    const swedishCompany = `urn:gatehouse:company:${seed.companies[1].id}`;
    await page.selectOption('select[name="subject"]', swedishCompany);
    await page.getByRole('button', { name: 'Allow' }).click();
    const callbackWithCode = new URL(await arrived);
    await page.close();

    // The partner's side: openid-client checks state and iss (RFC 9207) and exchanges with PKCE and Basic.
    const tokens = await oidc.authorizationCodeGrant(config, callbackWithCode, { pkceCodeVerifier: codeVerifier, expectedState: state });
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(tokens['urn:gatehouse:params:oauth:subject_urn'], swedishCompany);
    const callApi = (accessToken: string, path = '/v1/introspect') => fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${accessToken}` } });

    const current = await callApi(tokens.access_token);
    assert.equal(current.status, 200);
    assert.deepEqual((await current.json()).data, {
      authMethod: 'OAUTH2', clientId: client.clientId, scope: 'users:read vendors:read', applicationName: 'E2E Partner', subjectURN: swedishCompany,
    });
    const users = await callApi(tokens.access_token, '/v1/users');
    assert.equal(users.status, 200);

    // Refresh: both tokens rotate; the old ones fail at the authorization server at once, and at the
    // API once its introspection cache (5 s, the documented bound) has passed.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    assert.notEqual(refreshed.access_token, tokens.access_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    apiNowMs += 6_000;
    const oldAccess = await callApi(tokens.access_token);
    assert.equal(oldAccess.status, 401);
    assert.match(oldAccess.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.equal((await callApi(refreshed.access_token)).status, 200);

    // Replaying the rotated-out refresh token after the reuse grace window (SPEC decision 8, 30 s by
    // default; within it the same client's retry gets the same pair back) revokes the whole grant.
    server.clock.advanceSeconds(30);
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (error: any) => error.error === 'invalid_grant');
    apiNowMs += 6_000;
    const newest = await callApi(refreshed.access_token);
    assert.equal(newest.status, 401, 'the newest access token is refused too');
    await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token!), (error: any) => error.error === 'invalid_grant');
  });
});
