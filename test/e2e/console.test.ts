/**
 * The administrators' console in Chromium (issue 13): review queue → a partner's branding change shown
 * before and after (name, logo images, URIs) → approve (confirmed), and the directory views; every page
 * checked by axe-core at 1280 px and 390 px (no sideways scrolling at 390 px). The browser context bypasses
 * the pages' CSP only so that axe's script can be injected.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { approveClient, setClientLogo, updateClient, type ManagementContext } from '../../packages/authorization-server/src/clients/client-management.ts';
import { registerClient } from '../../packages/authorization-server/src/clients/registration.ts';
import { seed, startTestServer, type TestServer } from '../../packages/authorization-server/src/testing/harness.ts';
import { pngImage } from '../../packages/authorization-server/src/testing/images.ts';
import { assertAccessible } from './axe.ts';
import { chromiumSkipReason, launchChromium } from './chromium.ts';



describe('administrators\' console in Chromium: branding change before/after → approve, directory views, axe-clean at 1280 and 390 px', { skip: chromiumSkipReason }, () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let clientId: string;

  before(async () => {
    server = await startTestServer();
    browser = await launchChromium();
    context = await browser.newContext({ bypassCSP: true });
    page = await context.newPage();
    await server.storage.consoleAdministrators.grant(seed.users.alice.id, server.clock.nowSeconds());
    const manage = (actor: string): ManagementContext =>
      ({ storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds(), actor, requireApproval: true });
    const { client } = await registerClient({ storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds(), requireApproval: true },
      { clientName: 'Fjord Books', clientType: 'confidential', redirectUris: ['http://localhost:8080/callback'], scopes: ['users:read'],
        clientUri: 'https://fjord.example', policyUri: 'https://fjord.example/privacy' },
      {}, { actor: `user:${seed.developer.id}`, ownerUserId: seed.developer.id });
    clientId = client.clientId;
    await setClientLogo(manage('admin:ops'), server.url, clientId, pngImage(256, 256));
    await approveClient(manage('admin:ops'), clientId);
    // The partner renames the app, uploads a new logo and moves its privacy policy.
    const partner = manage(`user:${seed.developer.id}`);
    await updateClient(partner, clientId, { clientName: 'Fjord Books Cloud', policyUri: 'https://fjord.example/legal/privacy-policy-for-all-customers-everywhere' });
    await setClientLogo(partner, server.url, clientId, pngImage(320, 320));
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  it('review queue → the branding change before and after → approve (confirmed): the new branding is the reviewed one', async () => {
    await page.goto(`${server.url}/admin`);
    await page.getByLabel('Email').fill(seed.users.alice.email);
    await page.getByLabel('Password').fill(seed.users.alice.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForLoadState();
    await page.goto(`${server.url}/admin`);
    assert.equal(await page.getByRole('heading', { level: 2, name: 'Branding changes' }).count(), 1);
    const table = page.getByRole('table', { name: 'Fjord Books Cloud: reviewed branding and the change waiting for review' });
    const nameRow = table.getByRole('row', { name: /^Name changed/ });
    assert.deepEqual(await nameRow.getByRole('cell').allInnerTexts(), ['Fjord Books', 'Fjord Books Cloud']);
    const before = table.getByRole('img', { name: 'Reviewed logo of Fjord Books' });
    const afterLogo = table.getByRole('img', { name: 'New logo of Fjord Books Cloud' });
    for (const image of [before, afterLogo]) {
      assert.ok(await image.evaluate((element) => (element as HTMLImageElement).complete && (element as HTMLImageElement).naturalWidth > 0), 'the logo image loaded');
    }
    assert.notEqual(await before.getAttribute('src'), await afterLogo.getAttribute('src'));
    assert.match(await table.getByRole('row', { name: /^Privacy policy changed/ }).innerText(), /fjord\.example\/privacy\s+https:\/\/fjord\.example\/legal/);
    assert.doesNotMatch(await table.getByRole('row', { name: /^Home page/ }).innerText(), /changed/);
    await assertAccessible(page, 'review queue with a branding change');

    await page.getByRole('button', { name: 'Reject change Fjord Books Cloud' }).click();
    await page.waitForLoadState();
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Reject the branding change of Fjord Books Cloud?');
    await assertAccessible(page, 'reject confirmation');
    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.waitForLoadState();

    await page.getByRole('button', { name: 'Approve Fjord Books Cloud' }).click();
    await page.waitForLoadState();
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Approve Fjord Books Cloud?');
    await assertAccessible(page, 'approve confirmation');
    await page.getByRole('button', { name: 'Approve', exact: true }).click();
    await page.waitForLoadState();
    assert.equal(await page.getByRole('status').innerText(), 'The client was approved.');
    assert.equal(await page.getByRole('heading', { level: 2, name: 'Branding changes' }).count(), 0);
    const client = (await server.storage.clients.find(clientId))!;
    assert.equal(client.clientName, 'Fjord Books Cloud');
    assert.equal(client.brandingVerified, true);
    assert.equal(await server.storage.brandingReviews.find(clientId), undefined);
    await assertAccessible(page, 'review queue after approval');
  });

  it('the directory views and the PKCE and membership confirmations have no violations', async () => {
    for (const [path, label] of [['/admin/users', 'users'], [`/admin/users/${seed.users.alice.id}`, 'user page'], ['/admin/companies', 'companies'],
      ['/admin/organizations', 'organizations'], [`/admin/clients?q=${clientId}`, 'client search with PKCE action']]) {
      await page.goto(`${server.url}${path}`);
      await assertAccessible(page, label!);
    }
    await page.goto(`${server.url}/admin/users/${seed.users.alice.id}`);
    await page.getByRole('button', { name: `Remove Alice Admin as administrator of ${seed.companies[0].name}` }).click();
    await page.waitForLoadState();
    await assertAccessible(page, 'membership removal confirmation');
    await page.goto(`${server.url}/admin/clients?q=${clientId}`);
    await page.getByRole('button', { name: 'Exempt from PKCE Fjord Books Cloud' }).click();
    await page.waitForLoadState();
    await assertAccessible(page, 'PKCE exception confirmation');
  });
});
