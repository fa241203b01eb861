/**
 * End to end in Chromium (issue 10 §3): local accounts with a real browser, so its cookies, `Origin` and
 * `Sec-Fetch-Site` headers and the pages' CSP (no script) are the real ones.
 *
 * - An administrator invites a new user (admin API); the user opens the link, sets a password, then
 *   connects the demo partner app through login and consent.
 * - "Forgot password?" on the login page: the reset e-mail is caught by a real SMTP server in-process
 *   (`smtp-server`); its link sets a new password and the user signs in with it.
 * - TOTP: enrolment on /account/security (codes computed with otplib at the server's test clock), then
 *   a sign-in that asks for the code after the password.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { authenticator } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { createAdminToken } from '../../packages/authorization-server/src/admin/admin-credentials.ts';
import { authorizeUrl, pkcePair, seed, startTestServer, type TestServer } from '../../packages/authorization-server/src/testing/harness.ts';
import { linkInMail, startMailCatcher, type MailCatcher } from '../../packages/authorization-server/src/testing/mail-catcher.ts';
import { chromiumSkipReason, launchChromium } from './chromium.ts';

describe('local accounts: invitation, forgot password, TOTP (Chromium)', { skip: chromiumSkipReason }, () => {
  let server: TestServer;
  let browser: Browser;
  let mail: MailCatcher;

  before(async () => {
    mail = await startMailCatcher();
    server = await startTestServer({ localAccounts: { smtpUrl: mail.url } });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await mail?.close();
  });

  const newPage = async () => (await browser.newContext()).newPage();

  async function signIn(page: Page, email: string, password: string): Promise<void> {
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
  }

  async function setPassword(page: Page, link: string, password: string): Promise<void> {
    await page.goto(link);
    await page.getByLabel('New password', { exact: true }).fill(password);
    await page.getByLabel('Repeat the new password').fill(password);
    await page.getByRole('button', { name: 'Set password' }).click();
  }

  it('an invited user sets a password (a weak one first), then connects the partner app through login and consent', async () => {
    const now = server.clock.nowSeconds();
    const userId = randomUUID();
    const email = `ingrid-${userId.slice(0, 8)}@example.com`;
    await server.storage.directory.createUser({ userId, email, name: 'Ingrid Invitee', locale: null, createdAt: now, updatedAt: now });
    await server.storage.directory.putMembership(userId, { subjectType: 'company', subjectId: seed.companies[0].id });
    const { token } = await createAdminToken(server.storage, `ops-${userId.slice(0, 8)}`, now);
    const invitation = await fetch(`${server.url}/admin/v1/users/${userId}/invitation`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(invitation.status, 201);
    const { url } = await invitation.json() as { url: string };

    const page = await newPage();
    await setPassword(page, url, 'password1234');
    await page.getByText('most commonly used passwords').waitFor();
    assert.equal(await page.getByLabel('New password', { exact: true }).inputValue(), '', 'a refused password is not written back into the page');
    const password = 'juniper quartz meadowlark';
    await page.getByLabel('New password', { exact: true }).fill(password);
    await page.getByLabel('Repeat the new password').fill(password);
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByRole('heading', { name: 'Your password is set' }).waitFor();

    let callback: URL | undefined;
    await page.route(`${seed.confidentialClient.redirectUri}**`, async (route) => {
      callback = new URL(route.request().url());
      await route.fulfill({ status: 200, contentType: 'text/plain', body: 'connected' });
    });
    await page.goto(authorizeUrl(server, {
      response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri, scope: 'users:read',
      state: 'state-e2e', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256',
    }));
    await signIn(page, email, password);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByText('connected').waitFor();
    assert.equal(callback?.searchParams.get('state'), 'state-e2e');
    assert.ok(callback?.searchParams.get('code'));
    await page.context().close();
  });

  it('"Forgot password?" e-mails a reset link over SMTP; the link sets a new password and the user signs in with it', async () => {
    const page = await newPage();
    await page.goto(`${server.url}/account/sessions`);
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await page.getByLabel('Email').fill(seed.users.bob.email);
    await page.getByRole('button', { name: 'Send me a link' }).click();
    await page.getByText('If an account uses that address, we sent it a link').waitFor();
    const message = await mail.next();
    assert.deepEqual(message.to, [seed.users.bob.email]);

    const password = 'lantern pebble orchard';
    await setPassword(page, linkInMail(message), password);
    await page.getByRole('heading', { name: 'Your password is set' }).waitFor();
    await page.goto(`${server.url}/account/sessions`);
    await signIn(page, seed.users.bob.email, password);
    await page.getByRole('heading', { name: 'Where you are signed in' }).waitFor();
    await page.context().close();
  });

  it('enrols TOTP on /account/security, then a sign-in asks for the code after the password', async () => {
    const codeAt = (secret: string) => authenticator.clone({ epoch: server.clock.nowSeconds() * 1000 }).generate(secret);
    const developer = seed.developer;
    const page = await newPage();
    await page.goto(`${server.url}/account/security`);
    await signIn(page, developer.email, developer.password);
    await page.getByRole('heading', { name: 'Security' }).waitFor();
    await page.getByRole('button', { name: 'Set up' }).click();
    const secret = (await page.locator('#totp-secret').innerText()).replaceAll(' ', '');
    assert.match(await page.getByRole('link', { name: /^otpauth:\/\/totp\// }).innerText(), /secret=/);
    await page.getByLabel('Then type the code it shows').fill(codeAt(secret));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByRole('heading', { name: 'Two-step verification is on' }).waitFor();
    assert.equal(await page.locator('#recovery-codes li').count(), 10);
    await page.context().close();

    server.clock.advanceSeconds(30); // the next code
    const second = await newPage();
    await second.goto(`${server.url}/account/sessions`);
    await signIn(second, developer.email, developer.password);
    await second.getByRole('heading', { name: 'Two-step verification' }).waitFor();
    await second.getByLabel('Code from your authenticator app').fill(codeAt(secret));
    await second.getByRole('button', { name: 'Continue' }).click();
    await second.getByRole('heading', { name: 'Where you are signed in' }).waitFor();
    await second.context().close();
  });
});
