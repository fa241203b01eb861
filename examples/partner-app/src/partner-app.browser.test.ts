/**
 * In Chromium: the partner app's "Connect" button → Gatehouse's login and consent pages → back in the app
 * with the company's data → "Disconnect…" → its confirmation → the grant is gone at Gatehouse. Along the way: the browser
 * holds one HttpOnly session cookie and nothing in Web Storage, and no page shows a token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { createSqliteTokenStore, createTokenCipher, generateEncryptionKey, silentLogger, type TokenStore } from '@gatehouse/client';
import { seed, type TestServer } from '../../../packages/authorization-server/src/testing/harness.ts';
import { startGatehouse, type GatehouseFixture } from '../../../packages/client/src/testing/gatehouse-fixture.ts';
import { chromiumSkipReason, CHROMIUM, CHROMIUM_ARGS } from '../../../packages/client/src/testing/services.ts';
import { startPartnerApp, type RunningPartnerApp } from './partner-app.ts';
import { assertAccessible } from '../../../test/e2e/axe.ts';

const skip = chromiumSkipReason();

describe('partner app in Chromium: Connect → Gatehouse login and consent → data → Disconnect', { skip: skip ?? false }, () => {
  let gatehouse: GatehouseFixture;
  let server: TestServer;
  let partner: RunningPartnerApp;
  let browser: Browser;
  let clientId: string;
  let store: TokenStore;
  const keys = [generateEncryptionKey('browser')];
  const swedish = seed.companies[1];

  before(async () => {
    gatehouse = await startGatehouse({ clientName: 'Ledgerly Web' });
    ({ server, clientId } = gatehouse);
    const port = Number(new URL(gatehouse.redirectUri).port);
    store = createSqliteTokenStore({ path: ':memory:' });
    partner = await startPartnerApp({
      environment: 'development', publicUrl: `http://127.0.0.1:${port}`, port, host: '127.0.0.1',
      gatehouse: {
        issuer: server.issuer, apiUrl: gatehouse.api.url, clientId, clientSecret: gatehouse.clientSecret, scope: 'users:read vendors:read',
        store, encryptionKeys: keys, clock: server.clock, logger: silentLogger,
      },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await partner?.close();
    await gatehouse?.close();
    await store?.close();
  });

  it('connects a company, shows its data, keeps tokens out of the browser, and disconnects (grant revoked)', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${partner.url}/`);
    await page.getByRole('button', { name: 'Connect with Gatehouse' }).click();

    // Gatehouse's own pages.
    await page.getByLabel('Email').fill(seed.users.alice.email);
    await page.getByLabel('Password').fill(seed.users.alice.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForSelector('select[name="subject"]');
    assert.match(await page.textContent('body') ?? '', /Ledgerly Web wants to access your Gatehouse account/);
    await page.selectOption('select[name="subject"]', `urn:gatehouse:company:${swedish.id}`);
    await page.getByRole('button', { name: 'Allow' }).click();

    // Back in the partner app.
    await page.waitForSelector('[data-testid="company-name"]');
    assert.equal(new URL(page.url()).href, `${partner.url}/`, 'the callback URL (with its code) is gone from the address bar');
    assert.equal(await page.textContent('[data-testid="company-name"]'), swedish.name);
    assert.equal(await page.textContent('[data-testid="subject-urn"]'), `urn:gatehouse:company:${swedish.id}`);
    assert.equal(await page.textContent('[data-testid="scope"]'), 'users:read vendors:read');
    assert.ok((await page.locator('table').first().locator('tbody tr').count()) > 0, 'users from the platform API');

    // What the browser holds: one HttpOnly session cookie for the app, nothing in Web Storage, no token anywhere.
    // Cookies are scoped by host, not port: Gatehouse's own (gatehouse_*) share 127.0.0.1 here.
    const appCookies = (await context.cookies(partner.url)).filter((cookie) => !cookie.name.startsWith('gatehouse_'));
    assert.deepEqual(appCookies.map((cookie) => [cookie.name, cookie.httpOnly, cookie.sameSite]), [['ledgerly_session', true, 'Lax']]);
    assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length]), [0, 0]);
    const cipher = createTokenCipher(keys);
    const [row] = await store.list();
    const tokens = [
      cipher.open(row!.accessTokenCiphertext!, { connectionId: row!.connectionId, field: 'access_token' }),
      cipher.open(row!.refreshTokenCiphertext!, { connectionId: row!.connectionId, field: 'refresh_token' }),
    ];
    const visible = [await page.content(), JSON.stringify(await context.cookies()), JSON.stringify(await context.storageState())].join('\n');
    for (const token of tokens) assert.ok(!visible.includes(token), 'a token reached the browser');
    assert.ok(await server.storage.grants.findActive(clientId, 'company', swedish.id));

    // Disconnect asks first: the confirmation says what happens and offers Cancel (axe-clean at 1280 and 390 px).
    await page.getByRole('button', { name: 'Disconnect…' }).click();
    await page.getByRole('heading', { name: 'Disconnect from Gatehouse?' }).waitFor();
    assert.ok(await server.storage.grants.findActive(clientId, 'company', swedish.id), 'asking changed nothing');
    await assertAccessible(page, 'the Disconnect confirmation', { restoreWidth: 1280 });
    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.waitForSelector('[data-testid="company-name"]');
    await page.getByRole('button', { name: 'Disconnect…' }).click();
    await page.getByRole('button', { name: 'Disconnect', exact: true }).click();
    await page.getByRole('button', { name: 'Connect with Gatehouse' }).waitFor();
    assert.equal(await server.storage.grants.findActive(clientId, 'company', swedish.id), undefined, 'the grant is gone at Gatehouse');
    assert.deepEqual(await store.list(), []);
    await context.close();
  });
});
