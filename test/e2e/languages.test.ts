/**
 * Issue 13 "Languages" in Chromium: for each of the seven languages a browser whose language is that one
 * (Chromium's `locale`, so its Accept-Language) walks from the authorization request through the login
 * page to the consent page, which is in that language, marked with its `<html lang>`, and has no axe-core
 * violations at 390 px; then the language switch is used once, from the keyboard, and the same consent
 * page comes back in the language chosen (and stays so on the next page); a company picked and removed before the switched
 * page is shown leaves nothing preselected, and the page left behind leads to the current one.
 *
 * The browser context bypasses the pages' CSP only so that axe's script can be injected.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { authorizeUrl, pkcePair, seed, startTestServer, type TestServer } from '../../packages/authorization-server/src/testing/harness.ts';
import { LANGUAGE_NAMES, LOCALES, translator, type Locale } from '../../packages/authorization-server/src/i18n/i18n.ts';
import { assertAccessible, axeViolations } from './axe.ts';
import { chromiumSkipReason, launchChromium } from './chromium.ts';



function consentRequestUrl(server: TestServer): string {
  return authorizeUrl(server, {
    response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri, scope: 'users:read vendors:read',
    state: 'languages-state', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256', prompt: 'consent',
  });
}

/** From the authorization request, logs in as alice with the login page's own (translated) labels. */
async function walkToConsent(page: Page, server: TestServer, locale: Locale): Promise<void> {
  const t = translator(locale);
  await page.goto(consentRequestUrl(server));
  assert.equal(await page.getAttribute('html', 'lang'), locale, `${locale}: the login page's <html lang>`);
  await page.getByRole('heading', { name: t.t('login.heading', { brand: 'Gatehouse' }) }).waitFor();
  await page.getByLabel(t.t('login.email'), { exact: true }).fill(seed.users.alice.email);
  await page.getByLabel(t.t('login.password'), { exact: true }).fill(seed.users.alice.password);
  await page.getByRole('button', { name: t.t('login.submit'), exact: true }).click();
  await page.getByRole('button', { name: t.t('consent.allow'), exact: true }).waitFor();
}

describe('languages in Chromium: the consent page in each language, and the language switch (issue 13)', { skip: chromiumSkipReason }, () => {
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const newPage = async (locale: string) => {
    const context = await browser.newContext({ bypassCSP: true, locale });
    contexts.push(context);
    return context.newPage();
  };

  before(async () => {
    server = await startTestServer();
    browser = await launchChromium();
  });

  after(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
  });

  const browserLocales: Record<Locale, string> = { en: 'en-GB', da: 'da-DK', sv: 'sv-SE', nb: 'nb-NO', de: 'de-DE', fr: 'fr-FR', es: 'es-ES' };
  for (const locale of LOCALES) {
    it(`a ${browserLocales[locale]} browser gets the login and consent pages in ${LANGUAGE_NAMES[locale]}, accessible at 390 px`, async () => {
      const t = translator(locale);
      const page = await newPage(browserLocales[locale]);
      await walkToConsent(page, server, locale);
      assert.equal(await page.getAttribute('html', 'lang'), locale, `${locale}: the consent page's <html lang>`);
      await page.getByRole('heading', { name: t.t('consent.heading', { client: seed.confidentialClient.name, brand: 'Gatehouse' }) }).waitFor();
      await page.getByRole('button', { name: t.t('consent.deny'), exact: true }).waitFor();
      await page.getByText(t.scope('users:read')).waitFor();
      await page.getByLabel(t.t('consent.subjectToConnect', { subjectType: 'company' })).waitFor();
      // The language switch: a labelled navigation naming each language in its own words.
      const languages = page.getByRole('navigation', { name: t.t('layout.language') });
      // On the consent page they are buttons of its form (pages/consent-page.ts CONSENT_LANGUAGE_FORM): the company picked comes along.
      for (const other of LOCALES) await languages.getByRole('button', { name: LANGUAGE_NAMES[other], exact: true }).waitFor();
      await page.setViewportSize({ width: 390, height: 900 });
      assert.deepEqual(await axeViolations(page), [], `${locale}: consent page at 390 px`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${locale}: the consent page scrolls sideways at 390 px (${overflow} px)`);
    });
  }

  it('the language switch, used from the keyboard, brings the same page back in the language chosen, with the company picked, at an address a reload shows again, and it sticks', async () => {
    const page = await newPage('en-US');
    await walkToConsent(page, server, 'en');
    const companies = page.getByLabel('Company to connect');
    const picked = await companies.locator('option').last().getAttribute('value');
    assert.notEqual(await companies.inputValue(), picked, 'another company than the default');
    await companies.selectOption(picked!);
    const deutsch = page.getByRole('navigation', { name: 'Language' }).getByRole('button', { name: 'Deutsch', exact: true });
    await deutsch.focus();
    await page.keyboard.press('Enter');
    const de = translator('de');
    await page.getByRole('button', { name: de.t('consent.allow'), exact: true }).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'de');
    assert.equal(await page.getByLabel(de.t('consent.subjectToConnect', { subjectType: 'company' })).inputValue(), picked, 'the company picked is still picked');
    // Post/Redirect/Get: the address is a page of its own (not /oauth/authorize/language), and a reload shows it again
    // without resending a form.
    assert.equal(new URL(page.url()).pathname, '/oauth/authorize/consent');
    const reloaded = await page.reload();
    assert.equal(reloaded?.request().method(), 'GET', 'a reload resends no form');
    assert.equal(await page.getAttribute('html', 'lang'), 'de');
    assert.equal(await page.getByLabel(de.t('consent.subjectToConnect', { subjectType: 'company' })).inputValue(), picked, 'still picked after a reload');
    // The same request: allowed, it goes back to the app with its state.
    await page.route(`${new URL(seed.confidentialClient.redirectUri).origin}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'callback' }));
    await page.getByRole('button', { name: de.t('consent.allow'), exact: true }).click();
    await page.waitForURL((url) => url.href.startsWith(seed.confidentialClient.redirectUri));
    const after = new URL(page.url());
    assert.equal(after.searchParams.get('state'), 'languages-state', 'the same request');
    assert.ok(after.searchParams.get('code'));
    // The choice is remembered: the next page is German too.
    await page.goto(`${server.url}/account/sessions`);
    await page.getByRole('heading', { name: de.t('sessions.heading') }).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'de');
  });
  it('a company picked before the switch and removed since: nothing preselected, Allow waits for a choice, the switch and Deny do not; the page left behind leads onward; all accessible at 390 px', async () => {
    const page = await newPage('en-GB');
    await walkToConsent(page, server, 'en');
    const companies = page.getByLabel('Company to connect');
    const picked = await companies.locator('option').last().getAttribute('value');
    await companies.selectOption(picked!);
    // The same consent page as it was before the switch, still open in a second tab (served again as it was, at this site).
    const staleHtml = await page.content();
    const staleTab = await page.context().newPage();
    await staleTab.route(`${server.url}/stale-consent-tab`, (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: staleHtml }));
    await staleTab.goto(`${server.url}/stale-consent-tab`);
    // Removed before the switch's page is shown (here, before the switch itself: the GET decides either way).
    const removed = { subjectType: 'company' as const, subjectId: picked!.split(':').at(-1)! };
    await server.storage.directory.deleteMembership(seed.users.alice.id, removed, server.clock.nowSeconds());
    try {
      const de = translator('de');
      await page.getByRole('navigation', { name: 'Language' }).getByRole('button', { name: 'Deutsch', exact: true }).click();
      const picker = page.getByLabel(de.t('consent.subjectToConnect', { subjectType: 'company' }));
      await page.getByText(de.t('consent.pickGone', { subjectType: 'company' })).waitFor();
      assert.equal(await picker.inputValue(), '', 'nothing preselected');
      await assertAccessible(page, 'consent page, pick gone', { restoreWidth: 1280 });
      // Allow without a choice: the browser keeps the page (required), nothing is sent.
      await page.getByRole('button', { name: de.t('consent.allow'), exact: true }).click();
      assert.equal(await picker.evaluate((element) => (element as HTMLSelectElement).validity.valueMissing), true);
      assert.equal(new URL(page.url()).pathname, '/oauth/authorize/consent');
      // The language switch needs no choice either.
      await page.getByRole('navigation', { name: de.t('layout.language') }).getByRole('button', { name: 'Svenska', exact: true }).click();
      const sv = translator('sv');
      await page.getByRole('button', { name: sv.t('consent.allow'), exact: true }).waitFor();
      assert.equal(await page.getAttribute('html', 'lang'), 'sv');
      // The tab left behind: its Allow gets the page saying the request moved, with its ways onward.
      await staleTab.getByRole('button', { name: 'Allow', exact: true }).click();
      await staleTab.getByRole('link', { name: sv.t('error.consentMovedContinue') }).waitFor();
      await assertAccessible(staleTab, 'consent moved page', { restoreWidth: 1280 });
      await staleTab.getByRole('link', { name: sv.t('error.consentMovedContinue') }).click();
      await staleTab.getByRole('button', { name: sv.t('consent.deny'), exact: true }).waitFor();
      // Deny needs no choice: back to the app with access_denied.
      await staleTab.route(`${new URL(seed.confidentialClient.redirectUri).origin}/**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'callback' }));
      await staleTab.getByRole('button', { name: sv.t('consent.deny'), exact: true }).click();
      await staleTab.waitForURL((url) => url.href.startsWith(seed.confidentialClient.redirectUri));
      assert.equal(new URL(staleTab.url()).searchParams.get('error'), 'access_denied');
    } finally {
      await server.storage.directory.putMembership(seed.users.alice.id, removed);
    }
  });
});
