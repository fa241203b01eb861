/**
 * End to end in Chromium (issue 16, API keys):
 * - integrated key: an administrator flags the integration; Alice installs it from the marketplace
 *   (permissions dialog → Allow → the key shown once with a copy button → "Go to Ledgerly"), pastes the
 *   key into the example partner app, which validates it with a test call and lists users with it; she
 *   revokes it from connected apps, and the partner app's next call is refused within the 5 s bound
 *   (the platform API's clock moved by the bound, nothing sleeps), so it asks for a new key;
 * - standalone key: created on the account page (a refused form first: field errors, input kept), used
 *   with curl-style Basic auth, refused once it expires (injectable clocks), deleted after a confirmation;
 * - every new page is axe-clean (WCAG 2.2 AA tags) at 1280 px and 390 px without sideways scrolling.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createSqliteTokenStore, generateEncryptionKey, silentLogger, type TokenStore } from '@gatehouse/client';
import { createManualClock, type ManualClock } from '@gatehouse/resource-server/testing';
import { registerClient } from '../../packages/authorization-server/src/clients/registration.ts';
import { API_AUDIENCE, freePort, seed, startTestServer, type TestServer } from '../../packages/authorization-server/src/testing/harness.ts';
import { startPlatformApi, type RunningPlatformApi } from '../../examples/platform-api/src/platform-api.ts';
import { startPartnerApp, type RunningPartnerApp } from '../../examples/partner-app/src/partner-app.ts';
import { assertAccessible } from './axe.ts';
import { chromiumSkipReason, launchChromium } from './chromium.ts';



const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

describe('API keys in Chromium: integrated key from the marketplace into the partner app, revoked; a standalone key created, used, expired, deleted', { skip: chromiumSkipReason }, () => {
  let server: TestServer;
  let api: RunningPlatformApi;
  let apiClock: ManualClock;
  let partner: RunningPartnerApp;
  let browser: Browser;
  let store: TokenStore;
  let page: Page;
  const danish = seed.companies[0];

  async function advanceSeconds(seconds: number): Promise<void> {
    server.clock.advanceSeconds(seconds);
    await apiClock.advance(seconds * 1000);
  }

  before(async () => {
    server = await startTestServer();
    apiClock = createManualClock(server.clock.nowSeconds() * 1000);
    api = await startPlatformApi({
      issuer: server.issuer, audience: API_AUDIENCE, port: 0, host: '127.0.0.1', now: apiClock.now,
      introspectionClientId: seed.resourceServer.id, introspectionClientSecret: seed.resourceServer.secret,
    });
    const port = await freePort();
    const partnerUrl = `http://127.0.0.1:${port}`;
    const { client, clientSecret } = await registerClient(
      { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
      { clientName: 'Ledgerly', clientType: 'confidential', redirectUris: [`${partnerUrl}/callback`], scopes: ['users:read', 'vendors:read'], clientUri: `${partnerUrl}/api-key` },
    );
    // The platform reviewed the integration and lets it offer integrated keys, pre-scoped (admin API / CLI in real life).
    await server.storage.clients.update(client.clientId, { brandingVerified: true });
    await server.storage.apiKeys.enableIntegration({ clientId: client.clientId, scopes: ['users:read'], enabledAt: server.clock.nowSeconds(), enabledBy: 'admin:e2e' });
    store = createSqliteTokenStore({ path: ':memory:' });
    partner = await startPartnerApp({
      environment: 'development', publicUrl: partnerUrl, port, host: '127.0.0.1',
      gatehouse: {
        issuer: server.issuer, apiUrl: api.url, clientId: client.clientId, clientSecret: clientSecret!, scope: 'users:read',
        store, encryptionKeys: [generateEncryptionKey('e2e')], clock: server.clock, logger: silentLogger,
      },
    });
    browser = await launchChromium();
    // bypassCSP only so axe's script can be injected; the pages themselves run no inline script.
    page = await (await browser.newContext({ bypassCSP: true })).newPage();
    await page.goto(`${server.url}/marketplace`);
    await page.getByLabel('Email').fill(seed.users.alice.email);
    await page.getByLabel('Password').fill(seed.users.alice.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForSelector('h1:has-text("Marketplace")');
  });

  after(async () => {
    await browser?.close();
    await partner?.close();
    await api?.close();
    await server?.close();
    await store?.close();
  });

  it('installs an integrated key from the marketplace, pastes it into the partner app, and revokes it from connected apps (refused within 5 s)', async () => {
    await assertAccessible(page, 'marketplace with integrations', { restoreWidth: 1280 });
    const section = page.locator('section.api-key-integration', { hasText: 'Ledgerly' });
    await section.getByLabel('Company to connect').selectOption(`urn:gatehouse:company:${danish.id}`);
    await section.getByRole('button', { name: 'Install Ledgerly' }).click();

    // The permissions dialog: Cancel / Allow, the scopes in words.
    await page.waitForSelector(`h1:has-text("Allow Ledgerly to access ${danish.name}?")`);
    assert.match(await page.textContent('main') ?? '', /See users and employees/);
    assert.equal(await page.getByRole('link', { name: 'Cancel' }).count(), 1);
    await assertAccessible(page, 'permissions dialog', { restoreWidth: 1280 });
    await page.getByRole('button', { name: 'Allow' }).click();

    // Shown once, with a copy button and "Go to Ledgerly".
    await page.waitForSelector('#api_key_value');
    const key = (await page.textContent('#api_key_value'))!.trim();
    assert.match(key, /^gak_[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
    assert.equal(await page.getByRole('button', { name: 'Copy the API key' }).count(), 1);
    await assertAccessible(page, 'integrated key shown once', { restoreWidth: 1280 });
    await page.getByRole('link', { name: 'Go to Ledgerly' }).click();

    // The partner app: paste, test call, then data through the API with the key.
    await page.waitForSelector('#api_key');
    await page.fill('#api_key', key);
    await page.getByRole('button', { name: 'Check and connect' }).click();
    await page.waitForSelector('[data-testid="users"]');
    assert.equal(await page.textContent('[data-testid="subject-urn"]'), `urn:gatehouse:company:${danish.id}`);
    assert.equal(await page.textContent('[data-testid="scope"]'), 'users:read');
    assert.ok((await page.locator('[data-testid="users"] li').count()) > 0, 'users read with the key');

    // Revoke from connected apps (a confirmation first).
    await page.goto(`${server.url}/account/connected-apps`);
    await assertAccessible(page, 'connected apps with an integrated key', { restoreWidth: 1280 });
    await page.getByRole('button', { name: `Revoke the API key of Ledgerly for ${danish.name}` }).click();
    await page.waitForSelector(`h1:has-text("Revoke the API key of Ledgerly for ${danish.name}?")`);
    await assertAccessible(page, 'revoke confirmation', { restoreWidth: 1280 });
    await page.getByRole('button', { name: 'Revoke', exact: true }).click();
    await page.waitForSelector('p.notice:has-text("was revoked")');

    // The documented bound: the platform API may reuse its answer for at most 5 s.
    await advanceSeconds(5);
    await page.goto(`${partner.url}/api-key`);
    await page.waitForSelector('#api_key');
    assert.match(await page.textContent('main, body') ?? '', /no longer accepts the API key/);
    const refused = await fetch(`${api.url}/v1/users`, { headers: { authorization: basic(key) } });
    assert.equal(refused.status, 401);
    // Nothing kept the key around: it is in no page of Gatehouse any more.
    await page.goto(`${server.url}/account/connected-apps`);
    assert.ok(!(await page.content()).includes(key));
  });

  it('creates a standalone key (field errors first), uses it with Basic auth, sees it expire, and deletes it after a confirmation', async () => {
    await page.goto(`${server.url}/account/api-keys`);
    await assertAccessible(page, 'API keys list (empty)', { restoreWidth: 1280 });
    await page.getByRole('link', { name: 'Create an API key' }).click();
    await page.waitForSelector('h1:has-text("Create an API key")');
    await assertAccessible(page, 'new API key form', { restoreWidth: 1280 });
    await page.getByLabel('Name').fill('Monthly export');
    await page.getByRole('button', { name: 'Create API key' }).click();
    // Refused: no permission chosen; the name is kept and the error is beside the field.
    await page.waitForSelector('#scopes-error');
    assert.equal(await page.getByLabel('Name').inputValue(), 'Monthly export');
    await assertAccessible(page, 'new API key form with errors', { restoreWidth: 1280 });
    await page.getByLabel('Access level').selectOption(`urn:gatehouse:company:${danish.id}`);
    await page.getByLabel('Expiration').selectOption('2592000');
    await page.getByLabel('See users and employees').check();
    await page.getByRole('button', { name: 'Create API key' }).click();
    await page.waitForSelector('#api_key_value');
    const key = (await page.textContent('#api_key_value'))!.trim();
    await assertAccessible(page, 'standalone key shown once', { restoreWidth: 1280 });
    const shownAt = page.url();

    // curl -u "KEY:" http://…/v1/users
    const ok = await fetch(`${api.url}/v1/users`, { headers: { authorization: basic(key) } });
    assert.equal(ok.status, 200);
    const introspection = await (await fetch(`${api.url}/v1/introspect`, { headers: { authorization: basic(key) } })).json() as { data: Record<string, unknown> };
    assert.equal(introspection.data.authMethod, 'API_KEY');

    await page.getByRole('link', { name: 'Back to API keys' }).click();
    await page.waitForSelector('section.api-key');
    await assertAccessible(page, 'API keys list', { restoreWidth: 1280 });
    // Opening the page that showed it again (a reload) shows it no more and creates no second key (post/redirect/get).
    await page.goto(shownAt);
    await page.waitForSelector('section.api-key');
    assert.equal(new URL(page.url()).pathname, '/account/api-keys');
    assert.ok(!(await page.content()).includes(key));
    assert.equal(await page.locator('section.api-key').count(), 1);

    // 30 days later it has expired: refused like any unknown key.
    await advanceSeconds(2592000);
    const expired = await fetch(`${api.url}/v1/users`, { headers: { authorization: basic(key) } });
    assert.equal(expired.status, 401);
    assert.deepEqual(await expired.json(), { error: 'invalid_token', error_description: 'The API key is invalid' });

    // Delete it (the 30 days also ended the login session: sign in again).
    await page.goto(`${server.url}/account/api-keys`);
    if (await page.getByLabel('Password').count()) {
      await page.getByLabel('Email').fill(seed.users.alice.email);
      await page.getByLabel('Password').fill(seed.users.alice.password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForSelector('h1:has-text("API keys")');
    }
    assert.match(await page.textContent('main') ?? '', /Expired/);
    await page.getByRole('button', { name: 'Delete the API key Monthly export' }).click();
    await page.waitForSelector('h1:has-text("Delete the API key Monthly export?")');
    await assertAccessible(page, 'delete confirmation', { restoreWidth: 1280 });
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.waitForSelector('p.notice:has-text("was deleted")');
    assert.equal(await page.locator('section.api-key').count(), 0);
  });
});
