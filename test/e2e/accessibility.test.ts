/**
 * Accessibility and look (issue 13): axe-core, injected through playwright-core into Chromium, checks every
 * page a user, a partner developer or a platform administrator can reach (login, consent, portal pages,
 * connected apps, marketplace, sessions, home, account, console, error pages) at 1280 px and 390 px wide
 * against the WCAG 2.0/2.1/2.2 A and AA rules, and expects zero violations. A keyboard-only walk goes through
 * login, the company choice and consent.
 *
 * The browser context bypasses the pages' CSP only so that axe's script can be injected; the pages
 * themselves are served unchanged.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { authenticator } from 'otplib';
import type { Browser, BrowserContext } from 'playwright-core';
import { registerClient } from '../../packages/authorization-server/src/clients/registration.ts';
import { hashPassword } from '../../packages/authorization-server/src/users/password.ts';
import { authorizeUrl, obtainTokens, pkcePair, seed, startTestServer, type TestServer } from '../../packages/authorization-server/src/testing/harness.ts';
import { assertAccessible, axeViolations } from './axe.ts';
import { chromiumSkipReason, launchChromium, logIn } from './chromium.ts';

describe('accessibility: axe-core on every page at 1280 px and 390 px, and keyboard-only consent (Chromium)', { skip: chromiumSkipReason }, () => {
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const newPage = async () => {
    const context = await browser.newContext({ bypassCSP: true });
    contexts.push(context);
    return context.newPage();
  };

  before(async () => {
    server = await startTestServer();
    browser = await launchChromium();
    await server.storage.consoleAdministrators.grant(seed.users.alice.id, server.clock.nowSeconds());
    // A long home page address: the marketplace shows it whole, and it must wrap at 390 px.
    await server.storage.clients.update(seed.confidentialClient.id, { initiationUri: 'https://ledgerly.example/start', settingsUri: 'https://ledgerly.example/settings',
      clientUri: 'https://ledgerly-sync-with-a-long-hostname.example/a/very/long/path/that/has/to/wrap/somewhere' });
    await registerClient({ storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds(), requireApproval: true },
      { clientName: 'Pending Books', clientType: 'confidential', redirectUris: ['http://localhost:8080/callback'], scopes: ['users:read'] }, {}, { actor: 'user:x', ownerUserId: seed.developer.id });
    await obtainTokens(server, { subject: `urn:gatehouse:company:${seed.companies[0].id}`, scope: 'users:read vendors:read' });
  });

  after(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
  });

  it('axe runs and reports violations (a page made to fail is caught)', async () => {
    const page = await newPage();
    await page.setContent('<!doctype html><html><body><img src="data:,"><input type="text"></body></html>');
    const ids = (await axeViolations(page)).map((violation) => violation.split(' ')[0]);
    assert.ok(ids.includes('image-alt') && ids.includes('html-has-lang') && ids.includes('label'), ids.join(' '));
  });

  it('the login, consent and error pages have no violations', async () => {
    const page = await newPage();
    const { codeChallenge } = pkcePair();
    const url = authorizeUrl(server, {
      response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri, scope: 'users:read vendors:read',
      state: 'a11y-state', code_challenge: codeChallenge, code_challenge_method: 'S256', prompt: 'consent',
    });
    await page.goto(url);
    await assertAccessible(page, 'login page');
    await logIn(page, seed.users.alice);
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    await assertAccessible(page, 'consent page');
    await page.goto(`${server.url}/oauth/authorize?client_id=${crypto.randomUUID()}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb`);
    await assertAccessible(page, 'authorization error page');
    await page.goto(`${server.url}/signed-out`);
    await assertAccessible(page, 'signed-out page');
  });

  it('the portal pages (home, registration with refused fields, client page, activity, try the flow, confirmation and its language switch) have no violations', async () => {
    const page = await newPage();
    await page.goto(`${server.url}/portal`);
    await logIn(page, seed.developer);
    await assertAccessible(page, 'portal home');
    await page.goto(`${server.url}/portal/clients/new`);
    await assertAccessible(page, 'registration page');
    await page.getByLabel('Client name').fill('Gatehouse Books');
    await page.getByLabel('Redirect URIs').fill('http://fjord.example/cb');
    await page.getByRole('button', { name: 'Register' }).click();
    await page.waitForLoadState();
    assert.equal(await page.locator('[aria-invalid="true"]').count() >= 2, true, 'refused fields are marked');
    await assertAccessible(page, 'registration page with refused fields');
    await page.getByLabel('Client name').fill('Fjord Books');
    await page.getByLabel('Redirect URIs').fill('http://localhost:8080/callback');
    await page.getByRole('checkbox', { name: /See users and employees/ }).check();
    await page.getByRole('button', { name: 'Register' }).click();
    await page.waitForURL(/\/portal\/clients\/[0-9a-f-]{36}$/);
    await assertAccessible(page, 'client page with the new secret');
    // A Copy button says it copied to everyone: on itself, and in a status region a screen reader announces
    // (WCAG 4.1.3); meanwhile its name is what it shows (WCAG 2.5.3), and afterwards its label again.
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    const copy = page.locator('button[data-copy="client_id"]');
    const copied = (await copy.getAttribute('data-copied'))!;
    const name = await copy.getAttribute('aria-label');
    await copy.click();
    await page.locator('#copy-status[role="status"]').filter({ hasText: copied }).waitFor();
    assert.equal((await copy.textContent())?.trim(), copied);
    assert.equal(await copy.getAttribute('aria-label'), null);
    await assertAccessible(page, 'client page while a Copy button says it copied');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), await page.locator('#client_id').textContent());
    await page.waitForFunction((label) => document.querySelector('button[data-copy="client_id"]')?.getAttribute('aria-label') === label, name, { timeout: 5_000 });
    const clientPath = new URL(page.url()).pathname;
    await page.goto(`${server.url}${clientPath}/activity`);
    await assertAccessible(page, 'integration activity');
    await page.goto(`${server.url}${clientPath}`);
    await page.getByRole('button', { name: 'Try the flow' }).click();
    await page.waitForURL(/\/try\?/);
    await assertAccessible(page, 'try the flow', { restoreWidth: 1280 });
    await page.goto(`${server.url}${clientPath}`);
    await page.getByRole('button', { name: 'Delete client…' }).click();
    await page.waitForLoadState();
    await assertAccessible(page, 'delete confirmation');
    // Its language switch posts a form of its own: the confirmation again, in German, nothing deleted.
    await page.getByRole('navigation', { name: 'Language' }).getByRole('button', { name: 'Deutsch', exact: true }).click();
    await page.waitForFunction(() => document.documentElement.lang === 'de');
    assert.ok(await page.locator(`form[action="${clientPath}/delete"] input[name="confirm"][value="yes"]`).count() === 1, 'the confirmation again');
    await assertAccessible(page, 'delete confirmation in German');
  });

  it('the end-user pages (home, account, connected apps, disconnect confirmation, marketplace, sessions) have no violations', async () => {
    const page = await newPage();
    await page.goto(`${server.url}/`);
    await logIn(page, seed.users.alice);
    await assertAccessible(page, 'home page');
    for (const [path, label] of [['/account', 'account page'], ['/account/connected-apps', 'connected apps'], ['/marketplace', 'marketplace'], ['/account/sessions', 'sessions']]) {
      await page.goto(`${server.url}${path}`);
      await assertAccessible(page, label!);
    }
    await page.goto(`${server.url}/account/connected-apps`);
    const active = (await server.storage.grants.listActive({ clientId: seed.confidentialClient.id })).length;
    await page.getByRole('button', { name: /^Disconnect Ledgerly Sync from/ }).first().click();
    await page.waitForLoadState();
    await assertAccessible(page, 'disconnect confirmation');
    // Its language switch posts a form of its own: the confirmation again, in French, nothing disconnected.
    await page.getByRole('navigation', { name: 'Language' }).getByRole('button', { name: 'Français', exact: true }).click();
    await page.waitForFunction(() => document.documentElement.lang === 'fr');
    assert.equal(await page.locator('form[action$="/disconnect"] input[name="confirm"][value="yes"]').count(), 1, 'the confirmation again');
    assert.equal((await server.storage.grants.listActive({ clientId: seed.confidentialClient.id })).length, active, 'nothing disconnected');
    await assertAccessible(page, 'disconnect confirmation in French');
  });

  it('the two-step verification pages (security, enrolment, a refused first code, recovery codes, the second sign-in step with refused codes) have no violations', async () => {
    const userId = randomUUID();
    const user = { email: `a11y-${userId}@example.com`, password: 'a long enough password 1' };
    const now = server.clock.nowSeconds();
    await server.storage.directory.createUser({ userId, email: user.email, name: 'Tove Totp', locale: null, createdAt: now, updatedAt: now });
    await server.storage.users.setPasswordHash(userId, await hashPassword(user.password));
    const codeNow = (secret: string) => authenticator.clone({ epoch: server.clock.nowSeconds() * 1000 }).generate(secret);
    const page = await newPage();
    await page.goto(`${server.url}/account/security`);
    await logIn(page, user);
    await assertAccessible(page, 'security page');
    await page.getByRole('button', { name: 'Set up' }).click();
    await page.waitForLoadState();
    await assertAccessible(page, 'enrolment (its otpauth: link wraps)');
    const secret = (await page.locator('#totp-secret').innerText()).replaceAll(' ', '');
    await page.locator('#code').fill(codeNow(secret) === '000000' ? '111111' : '000000');
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.waitForLoadState();
    assert.equal(await page.locator('#code').getAttribute('aria-invalid'), 'true');
    await assertAccessible(page, 'enrolment with a refused code');
    await page.locator('#code').fill(codeNow(secret));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.waitForLoadState();
    await assertAccessible(page, 'recovery codes');
    server.clock.advanceSeconds(30); // the confirming code's step is used

    const second = await newPage();
    await second.goto(`${server.url}/account/security`);
    await logIn(second, user);
    assert.equal(new URL(second.url()).pathname, '/login/second-factor');
    await assertAccessible(second, 'second sign-in step');
    await second.locator('#code').fill(codeNow(secret) === '000000' ? '111111' : '000000');
    await second.getByRole('button', { name: 'Continue' }).click();
    await second.waitForLoadState();
    assert.equal(await second.locator('#code').getAttribute('aria-invalid'), 'true');
    await assertAccessible(second, 'second sign-in step with a refused code');
    await second.getByText('Use a recovery code instead').click();
    await second.locator('#recovery_code').fill('aaaaa-bbbbb');
    await second.getByRole('button', { name: 'Continue' }).click();
    await second.waitForLoadState();
    assert.equal(await second.locator('#recovery_code').getAttribute('aria-invalid'), 'true');
    assert.ok(await second.locator('#recovery_code').isVisible(), 'the refused recovery code is shown unfolded');
    await assertAccessible(second, 'second sign-in step with a refused recovery code');
  });

  it('the console pages (review queue, clients, grants, audit log, confirmation) have no violations', async () => {
    const page = await newPage();
    await page.goto(`${server.url}/`);
    await logIn(page, seed.users.alice);
    for (const [path, label] of [['/admin', 'review queue'], ['/admin/clients', 'client search'], [`/admin/grants?client=${seed.confidentialClient.id}`, 'grants search'], ['/admin/audit', 'audit log']]) {
      await page.goto(`${server.url}${path}`);
      await assertAccessible(page, label!);
    }
    await page.goto(`${server.url}/admin`);
    await page.getByRole('button', { name: 'Approve Pending Books' }).click();
    await page.waitForLoadState();
    await assertAccessible(page, 'console confirmation');
  });

  it('a keyboard alone goes through login, the company choice and consent', async () => {
    const page = await newPage();
    const { codeChallenge } = pkcePair();
    await page.goto(authorizeUrl(server, {
      response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri, scope: 'users:read',
      state: 'keyboard-state', code_challenge: codeChallenge, code_challenge_method: 'S256', prompt: 'consent',
    }));
    const focused = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent?.trim() || '');
    // Tab until the e-mail field has focus (the header comes first), type, Tab to the password, Enter submits.
    for (let i = 0; i < 10 && (await focused()) !== 'email'; i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'email');
    await page.keyboard.type(seed.users.alice.email);
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'password');
    await page.keyboard.type(seed.users.alice.password);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    // The company picker: reached by Tab, changed with the arrow keys.
    for (let i = 0; i < 20 && (await focused()) !== 'subject'; i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'subject');
    await page.keyboard.press('ArrowDown');
    const chosen = await page.evaluate(() => (document.getElementById('subject') as HTMLSelectElement).selectedOptions[0]!.textContent);
    assert.equal(chosen, seed.companies[1].name);
    for (let i = 0; i < 20 && (await focused()) !== 'Allow'; i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Allow');
    const [request] = await Promise.all([page.waitForRequest((candidate) => candidate.url().startsWith(seed.confidentialClient.redirectUri)), page.keyboard.press('Enter')]);
    const redirect = new URL(request.url());
    assert.ok(redirect.searchParams.get('code'), 'a code came back');
    assert.equal(redirect.searchParams.get('state'), 'keyboard-state');
  });
});
