/**
 * End to end in Chromium (issue 10 §1, lifecycle rules): removing a membership through the admin API stops
 * that user consenting for that company at once. Alice administers both seeded companies; the consent
 * page's picker offers both. An administrator removes her membership of the Swedish company
 * (`DELETE /admin/v1/users/{id}/administers/company/{id}`); the next authorization request offers only the
 * Danish one, and a consent page she still had open for the Swedish company cannot connect it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { createAdminToken } from '../../packages/authorization-server/src/admin/admin-credentials.ts';
import { authorizeUrl, pkcePair, seed, startTestServer, type TestServer } from '../../packages/authorization-server/src/testing/harness.ts';
import { chromiumSkipReason, launchChromium } from './chromium.ts';

const [danish, swedish] = seed.companies;

describe('a removed membership no longer offers that company (Chromium)', { skip: chromiumSkipReason }, () => {
  let server: TestServer;
  let browser: Browser;

  before(async () => {
    server = await startTestServer();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  const authorizationRequest = (state: string) => authorizeUrl(server, {
    response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri,
    scope: 'users:read', state, code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256',
  });

  it('shows both companies, then after the administrator removes one membership only the other, and an open page cannot connect it', async () => {
    const page = await (await browser.newContext()).newPage();
    // Nothing listens at the seeded client's redirect URI: the browser's arrival there is answered here.
    await page.route(`${new URL(seed.confidentialClient.redirectUri).origin}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'callback' }));
    await page.goto(authorizationRequest('before-removal'));
    await page.getByLabel('Email').fill(seed.users.alice.email);
    await page.getByLabel('Password').fill(seed.users.alice.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    const picker = page.getByLabel('Company to connect');
    await picker.waitFor();
    assert.deepEqual((await picker.locator('option').allTextContents()).map((text) => text.trim()).sort(), [danish.name, swedish.name].sort());
    await picker.selectOption({ label: swedish.name });

    const { token } = await createAdminToken(server.storage, 'ops-e2e', server.clock.nowSeconds());
    const removed = await fetch(`${server.url}/admin/v1/users/${seed.users.alice.id}/administers/company/${swedish.id}`, {
      method: 'DELETE', headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(removed.status, 204);

    // The page opened before the removal: Allow for the Swedish company gets no code.
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.href.startsWith(seed.confidentialClient.redirectUri));
    const answer = new URL(page.url());
    assert.equal(answer.searchParams.get('code'), null);
    assert.equal(answer.searchParams.get('error'), 'access_denied');
    assert.equal(answer.searchParams.get('state'), 'before-removal');

    // A new request offers only the company she still administers.
    await page.goto(authorizationRequest('after-removal'));
    await picker.waitFor();
    assert.deepEqual((await picker.locator('option').allTextContents()).map((text) => text.trim()), [danish.name]);
  });
});
