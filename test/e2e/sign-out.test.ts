/**
 * End to end in Chromium (issue 10 §4): sign-out and sessions with a real browser, so its `Origin` and
 * `Sec-Fetch-Site` headers, cookies and the pages' CSP (no script) are the real ones. Alice signs in on a
 * "laptop" and a "phone" (two browser contexts), ends the phone's session from the laptop's sessions page
 * (with its confirmation), then signs out of the laptop with the header's Sign out button.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { seed, startTestServer, type TestServer } from '../../packages/authorization-server/src/testing/harness.ts';
import { chromiumSkipReason, launchChromium } from './chromium.ts';

describe('sign-out and ending sessions (Chromium)', { skip: chromiumSkipReason }, () => {
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

  async function signIn(userAgent: string): Promise<Page> {
    const page = await (await browser.newContext({ userAgent })).newPage();
    await page.goto(`${server.url}/account/sessions`);
    await page.getByLabel('Email').fill(seed.users.alice.email);
    await page.getByLabel('Password').fill(seed.users.alice.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Where you are signed in' }).waitFor();
    return page;
  }

  it('ends the phone\'s session from the laptop after confirming, then signs the laptop out', async () => {
    const phone = await signIn('Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1');
    const laptop = await signIn('Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0');
    await laptop.reload();
    const phoneRow = laptop.locator('tr', { hasText: 'Safari on iOS' });
    await phoneRow.getByRole('button', { name: 'End session' }).click();
    await laptop.getByRole('heading', { name: 'End this session?' }).waitFor();
    await laptop.getByRole('button', { name: 'End session' }).click();
    await laptop.getByText('The session was ended.').waitFor();
    assert.equal(await laptop.locator('tr', { hasText: 'Safari on iOS' }).count(), 0);

    await phone.reload();
    await phone.getByRole('button', { name: 'Log in' }).waitFor();

    await laptop.getByRole('button', { name: 'Sign out' }).click();
    await laptop.getByRole('heading', { name: 'You are signed out' }).waitFor();
    await laptop.getByRole('link', { name: 'Sign in again' }).click();
    await laptop.getByRole('button', { name: 'Log in' }).waitFor();
    assert.deepEqual(await server.storage.loginSessions.listActiveOfUser(seed.users.alice.id, server.clock.nowSeconds()), []);
  });
});
