/**
 * End to end (issue 3, "Done means"): a partner developer registers a client in the developer portal in
 * Chromium (every field, a logo upload, the secret shown once), an administrator approves it through the
 * admin API, and the client then completes the authorization flow with openid-client, a user consenting
 * in Chromium on a consent page that shows the registered name and uploaded logo.
 *
 * The server runs in `development` (plain HTTP on loopback, which Chromium and openid-client accept for
 * a test) with `requireClientApproval: true`, the documented setting that makes new clients wait as
 * `pending` as they do in staging and production (SPEC decision 13). Running `staging` itself would need
 * an https issuer, which a loopback HTTP test server cannot honestly be.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { createAdminToken } from '../../packages/authorization-server/src/admin/admin-credentials.ts';
import { freePort, seed, startTestServer, type TestServer } from '../../packages/authorization-server/src/testing/harness.ts';
import { beginAuthorization, logInToConsent } from './openid-client-flow.ts';
import { chromiumSkipReason, launchChromium } from './chromium.ts';
import { pngImage } from '../../packages/authorization-server/src/testing/images.ts';

describe('end to end: developer portal → admin approval → openid-client flow (Chromium)', { skip: chromiumSkipReason }, () => {
  let server: TestServer;
  let browser: Browser;
  let callback: Server;
  let callbackUrl: string;
  let received: ((url: string) => void) | undefined;
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-portal-e2e-'));

  before(async () => {
    server = await startTestServer({ requireClientApproval: true });
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
    rmSync(directory, { recursive: true, force: true });
  });

  it('registers in the portal, is approved by an administrator, and completes the authorization flow', async () => {
    // 1. The partner developer, in the portal.
    const developerContext = await browser.newContext();
    const portal = await developerContext.newPage();
    await portal.goto(`${server.url}/portal`);
    await portal.getByLabel('Email').fill(seed.developer.email);
    await portal.getByLabel('Password').fill(seed.developer.password);
    await portal.getByRole('button', { name: 'Log in' }).click();
    await portal.getByRole('link', { name: 'Register a client' }).click();
    await portal.getByLabel('Client name').fill('Fjord Books');
    await portal.getByLabel('Client URI').fill('https://fjord.example');
    await portal.getByLabel('Terms of service URI').fill('https://fjord.example/terms');
    await portal.getByLabel('Privacy policy URI').fill('https://fjord.example/privacy');
    await portal.getByLabel('Initiation URI').fill('https://fjord.example/connect');
    await portal.getByLabel('Settings URI').fill('https://fjord.example/settings');
    await portal.getByLabel('Contact e-mail addresses').fill('dev@fjord.example\nsupport@fjord.example');
    await portal.getByLabel('Redirect URIs').fill(callbackUrl);
    await portal.check('input[name="scope"][value="users:read"]');
    await portal.check('input[name="scope"][value="vendors:read"]');
    await portal.selectOption('select[name="subject_type"]', 'company');
    const logoFile = join(directory, 'logo.png');
    writeFileSync(logoFile, pngImage(256, 256));
    await portal.setInputFiles('input[name="logo"]', logoFile);
    await portal.getByRole('button', { name: 'Register' }).click();

    await portal.waitForSelector('#client_secret');
    const clientId = (await portal.textContent('#client_id'))!.trim();
    const clientSecret = (await portal.textContent('#client_secret'))!.trim();
    assert.match(clientId, /^[0-9a-f-]{36}$/);
    assert.match(clientSecret, /^[A-Za-z0-9_-]{43}$/);
    assert.match((await portal.textContent('#status'))!, /pending approval/);
    await portal.reload();
    assert.equal(await portal.locator('#client_secret').count(), 0, 'the secret is shown only once');
    await developerContext.close();

    // 2. The administrator approves it through the admin API.
    const { token } = await createAdminToken(server.storage, 'ops-e2e', server.clock.nowSeconds());
    const approved = await fetch(`${server.url}/admin/v1/clients/${clientId}/approve`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(approved.status, 200);
    const approvedClient = await approved.json() as { status: string; branding_verified: boolean; logo_uri: string; initiation_uri: string; contacts: string[] };
    assert.equal(approvedClient.status, 'active');
    assert.equal(approvedClient.branding_verified, true);
    assert.equal(approvedClient.initiation_uri, 'https://fjord.example/connect');
    assert.deepEqual(approvedClient.contacts, ['dev@fjord.example', 'support@fjord.example']);

    // 3. The client's authorization flow, with openid-client; a user consents in Chromium.
    const { config, authorizationUrl, codeVerifier, state } = await beginAuthorization(server.issuer, clientId, clientSecret, callbackUrl, 'users:read vendors:read');
    const arrived = new Promise<string>((resolve) => {
      received = resolve;
    });
    const userContext = await browser.newContext();
    const page = await userContext.newPage();
    assert.match(await logInToConsent(page, authorizationUrl, seed.users.alice), /Fjord Books wants to access your Gatehouse account/);
    assert.doesNotMatch(await page.textContent('body') ?? '', /Unverified app/);
    const logo = page.locator('img[alt="Fjord Books logo"]');
    assert.equal(await logo.getAttribute('src'), approvedClient.logo_uri);
    assert.equal(await logo.evaluate((image: HTMLImageElement) => image.naturalWidth), 256, 'the uploaded logo loads');
    await page.getByRole('button', { name: 'Allow' }).click();
    const callbackWithCode = new URL(await arrived);
    await userContext.close();

    const tokens = await oidc.authorizationCodeGrant(config, callbackWithCode, { pkceCodeVerifier: codeVerifier, expectedState: state });
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(tokens.scope, 'users:read vendors:read');
    assert.ok(tokens.refresh_token);
  });
});
