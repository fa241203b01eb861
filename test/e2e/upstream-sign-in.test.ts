/**
 * Issue 10 §2, end to end in Chromium: a partner app (openid-client) asks to connect; the user signs in
 * through the platform's OpenID Provider (oidc-provider, its own development login and consent pages),
 * comes back to Gatehouse's consent page, allows, and the app exchanges the code for tokens.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { registerClient } from '@gatehouse/authorization-server';
import { freePort, seed, startTestServer, type TestServer } from '../../packages/authorization-server/src/testing/harness.ts';
import { startUpstreamProvider, type TestUpstreamProvider } from '../../packages/authorization-server/src/testing/upstream-provider.ts';
import { beginAuthorization } from './openid-client-flow.ts';
import { chromiumSkipReason, launchChromium } from './chromium.ts';

describe('end to end: sign-in through the upstream OpenID Provider (oidc-provider) → consent → code exchange, in Chromium', { skip: chromiumSkipReason }, () => {
  let upstream: TestUpstreamProvider;
  let server: TestServer;
  let browser: Browser;
  let callback: Server;
  let callbackUrl: string;
  let received: ((url: string) => void) | undefined;

  before(async () => {
    upstream = await startUpstreamProvider();
    upstream.accounts.set('alice-at-platform', { email: seed.users.alice.email, email_verified: true, name: 'Alice Admin' });
    server = await startTestServer({
      upstreamIdentityProvider: { issuer: upstream.issuer, clientId: upstream.clientId, clientSecret: upstream.clientSecret, name: 'Platform ID' },
    });
    await upstream.attach(`${server.issuer}/login/upstream/callback`);
    const callbackPort = await freePort();
    callbackUrl = `http://127.0.0.1:${callbackPort}/callback`;
    callback = createServer((request, response) => {
      received?.(`http://127.0.0.1:${callbackPort}${request.url}`);
      response.writeHead(200, { 'content-type': 'text/plain' }).end('Connected.');
    });
    await new Promise<void>((resolve) => callback.listen(callbackPort, '127.0.0.1', resolve));
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => callback?.close(resolve));
    await server?.close();
    await upstream?.close();
  });

  it('signs alice in at the provider, links her by verified e-mail, and the app gets tokens for the company she picks', async () => {
    const { client, clientSecret } = await registerClient(
      { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
      { clientName: 'Upstream Partner', clientType: 'confidential', redirectUris: [callbackUrl], scopes: ['users:read'], clientUri: 'https://partner.example' },
    );
    const { config, authorizationUrl, codeVerifier, state } = await beginAuthorization(server.issuer, client.clientId, clientSecret!, callbackUrl, 'users:read');
    const arrived = new Promise<string>((resolve) => {
      received = resolve;
    });
    const page = await browser.newPage();
    await page.goto(authorizationUrl.href);
    await page.getByRole('link', { name: 'Sign in with Platform ID' }).click();
    // The provider's own pages (oidc-provider devInteractions): login, then its consent.
    await page.waitForURL((url) => url.href.startsWith(upstream.issuer));
    await page.fill('input[name="login"]', 'alice-at-platform');
    await page.fill('input[name="password"]', 'any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    // Back at Gatehouse: the consent page for the partner.
    await page.waitForSelector('select[name="subject"]');
    assert.match((await page.textContent('body')) ?? '', /Upstream Partner wants to access your Gatehouse account/);
    const danishCompany = `urn:gatehouse:company:${seed.companies[0].id}`;
    await page.selectOption('select[name="subject"]', danishCompany);
    await page.getByRole('button', { name: 'Allow' }).click();
    const callbackWithCode = new URL(await arrived);
    await page.close();

    const tokens = await oidc.authorizationCodeGrant(config, callbackWithCode, { pkceCodeVerifier: codeVerifier, expectedState: state });
    assert.equal(tokens['urn:gatehouse:params:oauth:subject_urn'], danishCompany);
    const introspection = await oidc.tokenIntrospection(config, tokens.access_token);
    assert.equal(introspection.active, true);
    assert.equal(introspection.sub, seed.users.alice.id, "the token's sub is the directory user's id");
    assert.equal((await server.storage.userIdentities.find(upstream.issuer, 'alice-at-platform'))?.userId, seed.users.alice.id);
  });
});
