/**
 * In Chromium: the partner app's "Connect" button → Gatehouse's login and consent pages → back in the app
 * with the company's data → "Disconnect…" → its confirmation → the grant is gone at Gatehouse. Along the way: the browser
 * holds one HttpOnly session cookie and nothing in Web Storage, and no page shows a token. Then every other page of the app
 * (Reconnect, Forget, the error pages, the API-key form), each checked with axe at 1280 and 390 px, and the language
 * switch: a real button per language that keeps the user on the same page.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { createSqliteTokenStore, createTokenCipher, generateEncryptionKey, silentLogger, type TokenStore } from '@gatehouse/client';
import { seed, type TestServer } from '../../../packages/authorization-server/src/testing/harness.ts';
import { startGatehouse, type GatehouseFixture } from '../../../packages/client/src/testing/gatehouse-fixture.ts';
import { chromiumSkipReason, CHROMIUM, CHROMIUM_ARGS } from '../../../packages/client/src/testing/services.ts';
import { startPartnerApp, type RunningPartnerApp } from './partner-app.ts';
import { pageLanguage, type Locale } from './i18n.ts';
import { connectPage, dashboardPage, disconnectConfirmationPage, errorPage, forgottenNotRevokedPage, reconnectPage } from './pages.ts';
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
    gatehouse = await startGatehouse({ clientName: 'Ledgerly Web', introspectionCacheTtlSeconds: 0 });
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
    await assertAccessible(page, 'the Connect page', { restoreWidth: 1280 });
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
    // The subject URN and the raw scope names are for developers: collapsed under "Technical details".
    assert.equal(await page.getByTestId('subject-urn').isVisible(), false);
    assert.doesNotMatch(await page.locator('main').innerText(), /urn:|users:read/);
    await assertAccessible(page, 'the dashboard', { restoreWidth: 1280 });
    await page.getByText('Technical details').click();
    assert.equal(await page.getByTestId('subject-urn').isVisible(), true);

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

  it('every other page is accessible at 1280 and 390 px, and the language switch keeps the user on the same page', async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const check = (label: string) => assertAccessible(page, label, { restoreWidth: 1280 });

    // Connected, then the grant revoked at Gatehouse: the Reconnect page (why in words, the code collapsed).
    await page.goto(`${partner.url}/`);
    await page.getByRole('button', { name: 'Connect with Gatehouse' }).click();
    await page.getByLabel('Email').fill(seed.users.alice.email);
    await page.getByLabel('Password').fill(seed.users.alice.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForSelector('select[name="subject"]');
    await page.selectOption('select[name="subject"]', `urn:gatehouse:company:${swedish.id}`);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForSelector('[data-testid="company-name"]');
    const grant = await server.storage.grants.findActive(clientId, 'company', swedish.id);
    await server.storage.grants.revoke(grant!.grantId, server.clock.nowSeconds(), 'revoked_by_user');
    await page.goto(`${partner.url}/`);
    await page.getByRole('button', { name: 'Reconnect with Gatehouse' }).waitFor();
    assert.equal(await page.getByTestId('error-code').isVisible(), false, 'the error code is collapsed');
    assert.doesNotMatch(await page.locator('main').innerText(), /invalid_grant/, 'no raw reason in the normal view');
    await check('the Reconnect page');
    await page.getByText('Technical details').click();
    assert.equal(await page.getByTestId('error-code').textContent(), 'invalid_grant');
    await check('the Reconnect page, technical details open');

    // The language switch: a button per language, named in that language; the page comes back in it, same place.
    const switcher = page.getByRole('navigation', { name: 'Language' });
    assert.equal(await switcher.getByRole('button').count(), 7);
    assert.equal(await switcher.getByRole('button', { name: 'English' }).getAttribute('aria-current'), 'true');
    await switcher.getByRole('button', { name: 'Deutsch' }).click();
    await page.getByRole('button', { name: 'Erneut mit Gatehouse verbinden' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/');
    assert.equal(await page.getAttribute('html', 'lang'), 'de');
    await check('the Reconnect page in German');
    const languageCookie = (await context.cookies(partner.url)).find((cookie) => cookie.name === 'ledgerly_lang');
    assert.deepEqual([languageCookie?.value, languageCookie?.httpOnly, languageCookie?.sameSite], ['de', true, 'Lax']);

    // The Forget confirmation, switched back to English there: it stays on the confirmation.
    await page.getByRole('button', { name: 'Diese Verbindung vergessen …' }).click();
    await page.getByRole('heading', { name: 'Diese Verbindung vergessen?' }).waitFor();
    await check('the Forget confirmation in German');
    await page.getByRole('navigation', { name: 'Sprache' }).getByRole('button', { name: 'English' }).click();
    await page.getByRole('heading', { name: 'Forget this connection?' }).waitFor();
    assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, '/disconnect?forget=yes');
    await page.getByRole('button', { name: 'Forget this connection', exact: true }).click();
    await page.getByRole('button', { name: 'Connect with Gatehouse' }).waitFor();

    // The error pages: each says what happened with a way onward, and has the switch.
    await page.goto(`${partner.url}/callback?code=stale&state=unknown`);
    await page.getByRole('heading', { name: 'Connection not completed' }).waitFor();
    await check('the callback without a transaction');
    await page.goto(`${partner.url}/no-such-page`);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await check('the 404 page');
    await page.getByRole('navigation', { name: 'Language' }).getByRole('button', { name: 'Español' }).click();
    await page.getByRole('button', { name: 'Conectar con Gatehouse' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/', 'a page that cannot be shown again comes back home');

    // The API-key form, its field error (the input is a password field: nothing is echoed), in Spanish then Danish.
    await page.goto(`${partner.url}/api-key`);
    await check('the API-key form in Spanish');
    await page.locator('#api_key').fill('not-a-key');
    await page.locator('form[action="/api-key"] button').click();
    await page.getByRole('alert').waitFor();
    await check('the API-key form with its error');
    await page.getByRole('navigation', { name: 'Idioma' }).getByRole('button', { name: 'Dansk' }).click();
    await page.waitForFunction(() => document.documentElement.lang === 'da');
    await page.getByRole('button', { name: 'Kontrollér og forbind' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/api-key');
    assert.equal(await page.getAttribute('html', 'lang'), 'da');

    // A form whose session is gone: the 403 page.
    await context.clearCookies();
    await page.goto(`${partner.url}/`);
    await page.evaluate(() => { (document.querySelector('input[name="_csrf"]') as HTMLInputElement).value = 'stale'; });
    await page.getByRole('button', { name: 'Connect with Gatehouse' }).click();
    await page.getByRole('heading', { name: 'Request refused' }).waitFor();
    await check('the 403 page');
    await context.close();
  });

  it('every page template, in English and in German (the longest words), is axe-clean at 1280 and 390 px, its states included', async () => {
    const page = await browser.newPage();
    const long = 'Aktiengesellschaft für Buchhaltungsdienstleistungen und Lieferantenverwaltung';
    for (const locale of ['en', 'de'] as Locale[]) {
      const lang = { ...pageLanguage(locale), languageSwitch: { csrfToken: 'csrf', returnTo: '/' } };
      const { t } = lang;
      const pages: [string, string][] = [
        ['Connect with a notice', connectPage(lang, 'Ledgerly', 'csrf', t.denied('Ledgerly'))],
        ['Reconnect', reconnectPage(lang, 'Ledgerly', 'csrf', { why: 'grant_ended', code: 'invalid_grant' })],
        ['Reconnect, unreadable tokens', reconnectPage(lang, 'Ledgerly', 'csrf', { why: 'unreadable_tokens', code: 'DecryptionError' })],
        ['the Disconnect confirmation', disconnectConfirmationPage(lang, 'Ledgerly', 'csrf', false)],
        ['the Forget confirmation', disconnectConfirmationPage(lang, 'Ledgerly', 'csrf', true)],
        ['Connection forgotten', forgottenNotRevokedPage(lang, 'Ledgerly', 'csrf', 'http://127.0.0.1:3000/account/connected-apps')],
        ['the dashboard of an organization', dashboardPage(lang, 'Ledgerly', {
          subjectUrn: `urn:gatehouse:organization:${swedish.id}`, scope: ['users:read', 'vendors:read', 'accounts:read', 'export-jobs:write'],
          companies: [{ id: 'a', name: long, countryCode: 'DE', currency: 'EUR' }, { id: 'b', name: swedish.name, countryCode: 'SE', currency: 'SEK' }],
          users: [{ name: 'Maximiliane Müller-Lüdenscheidt', email: 'maximiliane.mueller-luedenscheidt@buchhaltungsdienstleistungen.example', role: 'bookkeeper' }],
          vendors: [{ name: long, countryCode: 'DE' }],
        })],
        ['Could not disconnect', errorPage(lang, 'Ledgerly', t.couldNotDisconnectTitle, `${t.revocationRefused} ${t.failureClientRefused('Ledgerly')}`, 'csrf', {
          retry: { action: '/disconnect', label: t.disconnectAgain }, link: { href: 'http://127.0.0.1:3000/account/connected-apps', label: t.connectedAppsAtGatehouse }, code: 'invalid_client',
        })],
      ];
      for (const [label, html] of pages) {
        await page.setContent(html);
        await assertAccessible(page, `${label} (${locale})`, { restoreWidth: 1280 });
        await page.locator('details').evaluateAll((all) => all.forEach((element) => { (element as HTMLDetailsElement).open = true; }));
        await assertAccessible(page, `${label} (${locale}), details open`, { restoreWidth: 1280 });
      }
    }
    await page.close();
  });
});
