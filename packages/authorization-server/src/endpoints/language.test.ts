/**
 * Issue 13 "Languages", black-box over HTTP against a real listening server: the consent page in each of
 * the seven languages from `ui_locales` and from `Accept-Language`, the order of the sources (switch
 * cookie, directory record, ui_locales, Accept-Language, English), `ui_locales` kept on the server-side
 * interaction and across the login page, the language switch (its cookie, never an open redirect), and
 * the session handover's `locale` claim; the console, and the password-reset e-mail in the account's language.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { authorizeUrl, Browser, hiddenInputs, inputValue, obtainTokens, pkcePair, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { CATALOGUES, LANGUAGE_NAMES, LOCALES, translator } from '../i18n/i18n.ts';
import { startMailCatcher, type CaughtMail, type MailCatcher } from '../testing/mail-catcher.ts';

const client = seed.confidentialClient;
const alice = seed.users.alice;

function parameters(overrides: Record<string, string> = {}) {
  return {
    response_type: 'code', client_id: client.id, redirect_uri: client.redirectUri, scope: 'users:read vendors:read',
    state: 'xyz', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256', ...overrides,
  };
}

async function signedIn(server: TestServer): Promise<Browser> {
  const browser = new Browser();
  const page = await browser.get(authorizeUrl(server, parameters()));
  const login = await browser.post(`${server.url}/login`, {
    _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!, email: alice.email, password: alice.password,
  });
  assert.equal(login.status, 303);
  return browser;
}

/** The subject URNs a consent page offers, in its order (a "choose" placeholder has no value). */
const optionsOf = (page: string) => [...page.matchAll(/<option value="([^"]+)"/g)].map((match) => match[1]!);
/** An error page's ways onward: label → address. */
const linksOf = (page: string) => new Map([...(/<p class="onward">(.*?)<\/p>/s.exec(page)?.[1] ?? '').matchAll(/<a href="([^"]+)">([^<]+)<\/a>/g)]
  .map((match) => [decode(match[2]!), decode(match[1]!)]));
const decode = (text: string) => text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const htmlLang = (page: string) => /<html lang="([^"]+)">/.exec(page)?.[1];
const escaped = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** The consent page's words in `locale`: the buttons, the heading and a scope description. */
function assertConsentIn(page: string, locale: (typeof LOCALES)[number]) {
  const t = translator(locale);
  assert.equal(htmlLang(page), locale, '<html lang>');
  assert.ok(page.includes(`>${escaped(t.t('consent.allow'))}</button>`), `${locale}: the Allow button`);
  assert.ok(page.includes(`>${escaped(t.t('consent.deny'))}</button>`), `${locale}: the Deny button`);
  assert.ok(page.includes(escaped(t.t('consent.heading', { client: client.name, brand: 'Gatehouse' }))), `${locale}: the heading`);
  assert.ok(page.includes(escaped(t.scope('users:read'))), `${locale}: the scope in words`);
  assert.ok(page.includes(escaped(t.t('layout.signOut'))), `${locale}: the header`);
}

/**
 * Chooses `locale` with a page's language switch as a browser would, with `changed` (what the user changed in the page's
 * form): a link is followed (GET /language, then where it goes back to); a button of a form (the consent page's) submits
 * that form's fields with it.
 */
async function switchLanguage(server: TestServer, browser: Browser, page: string, locale: string, changed: Record<string, string> = {}) {
  const button = new RegExp(`<button type="submit" form="([^"]+)" formaction="([^"]+)" name="locale" value="${locale}"`).exec(page);
  if (button) {
    assert.match(page, new RegExp(`<form [^>]*id="${button[1]}"`), 'the button submits a form of the page');
    const switched = await browser.post(`${server.url}${button[2]}`, { ...hiddenInputs(page), ...changed, locale });
    // Post/Redirect/Get: followed as a browser follows it (an error page is answered at once).
    return switched.status === 303 ? browser.get(`${server.url}${switched.location}`) : switched;
  }
  const link = new RegExp(`<a href="(/language\\?locale=${locale}&amp;[^"]*)"`).exec(page)?.[1]?.replaceAll('&amp;', '&');
  assert.ok(link, `a language switch to ${locale}`);
  const switched = await browser.get(`${server.url}${link}`);
  assert.equal(switched.status, 303);
  return browser.get(`${server.url}${switched.location}`);
}

describe('page languages (issue 13)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());
  afterEach(async () => {
    await server.storage.directory.updateUser(alice.id, { locale: null }, server.clock.nowSeconds());
  });

  for (const locale of LOCALES) {
    it(`shows the consent page in ${LANGUAGE_NAMES[locale]} for ui_locales=${locale} (OIDC Core §3.1.2.1)`, async () => {
      const browser = await signedIn(server);
      const page = await browser.get(authorizeUrl(server, parameters({ ui_locales: `xx-YY ${locale}` })));
      assert.equal(page.status, 200);
      assertConsentIn(page.text, locale);
    });

    it(`shows the consent page in ${LANGUAGE_NAMES[locale]} for Accept-Language: ${locale} (RFC 9110 §12.5.4)`, async () => {
      const browser = await signedIn(server);
      const page = await browser.request(authorizeUrl(server, parameters()), { headers: { 'accept-language': `pt-BR, ${locale};q=0.8, en;q=0.1` } });
      assert.equal(page.status, 200);
      assertConsentIn(page.text, locale === 'en' ? 'en' : locale);
    });
  }

  it('keeps no English words on the German consent page', async () => {
    const browser = await signedIn(server);
    const page = (await browser.get(authorizeUrl(server, parameters({ ui_locales: 'de' })))).text;
    const visible = page.replace(/<[^>]*>/g, ' ').replace(/\b(?:users|vendors):read\b/g, '');
    for (const english of ['wants to access', 'Logged in as', 'to connect', 'will be able to', 'You can disconnect', 'After your choice',
      'Allow', 'Deny', 'Sign out', 'Sessions', 'See users', 'See vendors', 'Language', 'Company']) {
      assert.ok(!visible.includes(english), `"${english}" is not on the German page`);
    }
  });

  it('lets the directory record win over ui_locales and Accept-Language, and the language switch over the record', async () => {
    await server.storage.directory.updateUser(alice.id, { locale: 'da-DK' }, server.clock.nowSeconds());
    const browser = await signedIn(server);
    const url = authorizeUrl(server, parameters({ ui_locales: 'fr' }));
    assertConsentIn((await browser.request(url, { headers: { 'accept-language': 'de' } })).text, 'da');

    const switched = await browser.get(`${server.url}/language?${new URLSearchParams({ locale: 'sv', return_to: new URL(url).pathname + new URL(url).search })}`);
    assert.equal(switched.status, 303);
    assertConsentIn((await browser.request(url, { headers: { 'accept-language': 'de' } })).text, 'sv');
  });

  it("the consent page's language switch keeps the company the user picked, and the request goes on with it", async () => {
    const browser = await signedIn(server);
    const consent = await browser.get(authorizeUrl(server, parameters()));
    const companies = [...consent.text.matchAll(/<option value="([^"]+)"/g)].map((match) => match[1]!);
    assert.equal(companies.length, 2, 'alice administers two companies');
    const [first, picked] = companies as [string, string];
    assert.ok(consent.text.includes(`<option value="${first}" selected>`), 'the first is the default');
    const switched = await switchLanguage(server, browser, consent.text, 'de', { subject: picked });
    assert.equal(switched.status, 200);
    assertConsentIn(switched.text, 'de');
    assert.ok(switched.text.includes(`<option value="${picked}" selected>`), 'the company picked is still picked');
    assert.ok(!switched.text.includes(`<option value="${first}" selected>`));
    // The choice is remembered for the next pages, as GET /language remembers it.
    assertConsentIn((await browser.get(authorizeUrl(server, parameters()))).text, 'de');
    const decided = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(switched.text), subject: picked, decision: 'allow' });
    assert.equal(decided.status, 303);
    assert.ok(new URL(decided.location!).searchParams.get('code'), 'a code: the same request, moved by the switch to the page it redirected to');
    const granted = (await server.storage.audit.list({ limit: 1000 })).filter((event) => event.type === 'consent.granted').at(-1);
    assert.equal(granted?.details?.subject, picked);
  });

  it("the consent page's language switch answers with a redirect to a GET address that a reload shows again (no form resent), holding no interaction id; the request moves there, used once", async () => {
    const browser = await signedIn(server);
    const consent = await browser.get(authorizeUrl(server, parameters()));
    const form = hiddenInputs(consent.text);
    const companies = [...consent.text.matchAll(/<option value="([^"]+)"/g)].map((match) => match[1]!);
    const switched = await browser.post(`${server.url}/oauth/authorize/language`, { ...form, subject: companies[1]!, locale: 'fr' });
    assert.equal(switched.status, 303, 'Post/Redirect/Get');
    const address = new URL(switched.location!, server.url);
    assert.equal(address.pathname, '/oauth/authorize/consent');
    assert.ok(!switched.location!.includes(form.interaction!), 'no interaction id in the address');
    assert.ok(!switched.location!.includes('urn'), 'no subject URN in the address');
    const shown = await browser.get(address.href);
    assert.equal(shown.status, 200);
    assert.equal(shown.headers.get('cache-control'), 'no-store');
    assertConsentIn(shown.text, 'fr');
    assert.ok(shown.text.includes(`<option value="${companies[1]}" selected>`), 'the company picked is still picked');
    const reloaded = await browser.get(address.href);
    assert.equal(reloaded.status, 200, 'a reload shows the page again');
    assertConsentIn(reloaded.text, 'fr');
    assert.equal(hiddenInputs(reloaded.text).interaction, hiddenInputs(shown.text).interaction, 'the same interaction on a reload');
    assert.notEqual(hiddenInputs(shown.text).interaction, form.interaction);
    // Another session cannot open it, with the address alone.
    const other = await signedIn(server);
    const elsewhere = await other.get(address.href);
    assert.equal(elsewhere.status, 400);
    assert.ok(!elsewhere.text.includes('action="/oauth/authorize/decision"'));
    // The old page's interaction was moved: one request, one live interaction (the old page leads to the new one, below).
    const old = await browser.post(`${server.url}/oauth/authorize/decision`, { ...form, subject: companies[1]!, decision: 'allow' });
    assert.equal(old.status, 409, "the switched-from page's interaction is used");
    assert.equal(old.location, undefined, 'no code');
    const decided = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(shown.text), subject: companies[1]!, decision: 'allow' });
    assert.equal(decided.status, 303);
    const redirect = new URL(decided.location!);
    assert.ok(redirect.searchParams.get('code'));
    assert.equal(redirect.searchParams.get('state'), 'xyz', 'the same request');
    const afterDecision = await browser.get(address.href);
    assert.equal(afterDecision.status, 400, 'used: no consent page');
    assert.ok(!afterDecision.text.includes('action="/oauth/authorize/decision"'));
    assert.equal((await browser.get(`${server.url}/oauth/authorize/consent?view=${'A'.repeat(43)}`)).status, 400, 'an unknown handle');
  });

  it("the consent page's language switch carries the company picked by a reference to it, not its place in the list: a company added meanwhile does not move the pick", async () => {
    const browser = await signedIn(server);
    const consent = await browser.get(authorizeUrl(server, parameters()));
    const [, picked] = optionsOf(consent.text) as [string, string];
    const switched = await browser.post(`${server.url}/oauth/authorize/language`, { ...hiddenInputs(consent.text), subject: picked, locale: 'de' });
    assert.equal(switched.status, 303);
    const address = new URL(switched.location!, server.url);
    assert.match(address.searchParams.get('choice') ?? '', /^[A-Za-z0-9_-]{22}$/, 'a reference, not a place in the list');
    for (const company of seed.companies) assert.ok(!switched.location!.includes(company.id), 'no company id in the address');
    // Before the page is shown, alice becomes an administrator of a company whose name comes first: the list shifts.
    const newcomer = randomUUID();
    const now = server.clock.nowSeconds();
    await server.storage.directory.createSubject({ subjectType: 'company', subjectId: newcomer, name: 'Aalborg Newcomer ApS', organizationId: null, createdAt: now, updatedAt: now });
    await server.storage.directory.putMembership(alice.id, { subjectType: 'company', subjectId: newcomer });
    try {
      const shown = await browser.get(address.href);
      assert.equal(shown.status, 200);
      assert.deepEqual(optionsOf(shown.text), [`urn:gatehouse:company:${newcomer}`, ...optionsOf(consent.text)], 'the newcomer is first');
      assert.ok(shown.text.includes(`<option value="${picked}" selected>`), 'the company picked is still the one picked');
      assert.equal(shown.text.match(/ selected>/g)?.length, 1, 'and no other');
      assert.ok(!shown.text.includes(escaped(translator('de').t('consent.pickGone', { subjectType: 'company' }))));
      const decided = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(shown.text), subject: picked, decision: 'allow' });
      assert.ok(new URL(decided.location!).searchParams.get('code'));
    } finally {
      await server.storage.directory.deleteSubject('company', newcomer, server.clock.nowSeconds(), 'company_deleted');
    }
  });

  it("the consent page's language switch preselects nothing when the company picked is no longer the user's: the page says so, and the user chooses again", async () => {
    const browser = await signedIn(server);
    const consent = await browser.get(authorizeUrl(server, parameters()));
    const [remaining, picked] = optionsOf(consent.text) as [string, string];
    const switched = await browser.post(`${server.url}/oauth/authorize/language`, { ...hiddenInputs(consent.text), subject: picked, locale: 'de' });
    assert.equal(switched.status, 303);
    // Alice's membership of the company she picked is removed before the page is shown.
    const removed = { subjectType: 'company' as const, subjectId: picked.split(':').at(-1)! };
    assert.equal(await server.storage.directory.deleteMembership(alice.id, removed, server.clock.nowSeconds()), true);
    try {
      const shown = await browser.get(`${server.url}${switched.location}`);
      assert.equal(shown.status, 200);
      assertConsentIn(shown.text, 'de');
      const t = translator('de');
      assert.deepEqual(optionsOf(shown.text), [remaining], 'only the company still hers');
      assert.ok(!shown.text.includes(`<option value="${remaining}" selected>`), 'not put in the place of the one picked');
      assert.ok(shown.text.includes(`<option value="" disabled selected>${escaped(t.t('consent.choosePlaceholder', { subjectType: 'company' }))}</option>`), 'a "choose" placeholder');
      assert.match(shown.text, /<select id="subject" name="subject" required aria-describedby="subject-error" aria-invalid="true">/, 'an answer is required; the reason is tied to the field');
      assert.ok(shown.text.includes(`<p class="field-error" id="subject-error">${escaped(t.t('consent.pickGone', { subjectType: 'company' }))}</p>`), 'says why');
      assert.match(shown.text, /name="decision" value="deny" formnovalidate>/, 'Deny needs no choice');
      assert.match(shown.text, /name="locale" value="sv" lang="sv" formnovalidate>/, 'nor does the language switch');
      // A language switch with nothing chosen (the placeholder is not sent) keeps nothing preselected, with no reason to give.
      const again = await switchLanguage(server, browser, shown.text, 'sv');
      assert.equal(again.status, 200);
      assert.ok(again.text.includes('<option value="" disabled selected>'));
      assert.ok(!again.text.includes('id="subject-error"'));
      const grantsFor = async (subject: string) => (await server.storage.audit.list({ limit: 1000 })).filter((event) => event.type === 'consent.granted' && event.details?.subject === subject).length;
      const [remainingBefore, pickedBefore] = [await grantsFor(remaining), await grantsFor(picked)];
      // A company already gone when the switch is made (the page was older than the removal): the same.
      const older = await switchLanguage(server, browser, again.text, 'de', { subject: picked });
      assert.equal(older.status, 200);
      assert.ok(older.text.includes('<option value="" disabled selected>'));
      assert.ok(older.text.includes(escaped(t.t('consent.pickGone', { subjectType: 'company' }))));
      const decided = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(older.text), subject: remaining, decision: 'allow' });
      assert.ok(new URL(decided.location!).searchParams.get('code'), 'the company chosen again is connected');
      assert.deepEqual([await grantsFor(remaining), await grantsFor(picked)], [remainingBefore + 1, pickedBefore]);
    } finally {
      await server.storage.directory.putMembership(alice.id, removed);
    }
  });

  it("a consent page submitted after its language switch moved the request answers 409 in the page's language, leading to the page it moved to or back to the app; no code", async () => {
    const browser = await signedIn(server);
    const consent = await browser.get(authorizeUrl(server, parameters()));
    const stale = hiddenInputs(consent.text);
    const [first, second] = optionsOf(consent.text) as [string, string];
    const live = await switchLanguage(server, browser, consent.text, 'fr', { subject: second });
    assert.equal(live.status, 200);
    const grantsBefore = (await server.storage.audit.list({ limit: 1000 })).filter((event) => event.type === 'consent.granted').length;
    // The page from before the switch, still open in another tab, is answered: Allow, with the first company.
    const old = await browser.post(`${server.url}/oauth/authorize/decision`, { ...stale, subject: first, decision: 'allow' });
    assert.equal(old.status, 409);
    assert.equal(old.location, undefined, 'no redirect, no code');
    assert.equal(old.headers.get('cache-control'), 'no-store');
    assert.equal(htmlLang(old.text), 'fr');
    const t = translator('fr');
    assert.ok(old.text.includes(escaped(t.t('error.consentMovedTitle'))));
    assert.ok(old.text.includes(escaped(t.t('error.consentMoved', { client: client.name }))));
    assert.ok(!old.text.includes(stale.interaction!), 'no interaction id on the page');
    const links = linksOf(old.text);
    const onward = links.get(t.t('error.consentMovedContinue'));
    const back = links.get(t.t('error.consentMovedBack', { client: client.name }));
    assert.ok(onward?.startsWith('/oauth/authorize/consent?view='), 'a way to the current page');
    assert.ok(!onward!.includes('urn'), 'no subject URN in its address');
    const backUrl = new URL(back!);
    assert.equal(`${backUrl.origin}${backUrl.pathname}`, client.redirectUri, 'a way back to the app');
    assert.equal(backUrl.searchParams.get('error'), 'access_denied');
    assert.equal(backUrl.searchParams.get('state'), 'xyz');
    assert.equal(backUrl.searchParams.get('iss'), server.issuer);
    assert.equal(backUrl.searchParams.get('code'), null);
    assert.equal((await server.storage.audit.list({ limit: 1000 })).filter((event) => event.type === 'consent.granted').length, grantsBefore, 'nothing granted');
    // The way onward shows the current page (the same interaction), with the company the old page had picked.
    const continued = await browser.get(`${server.url}${onward}`);
    assert.equal(continued.status, 200);
    assertConsentIn(continued.text, 'fr');
    assert.equal(hiddenInputs(continued.text).interaction, hiddenInputs(live.text).interaction);
    assert.ok(continued.text.includes(`<option value="${first}" selected>`));
    // The old page's language switch gets the same answer, in the language it chose.
    const oldSwitch = await browser.post(`${server.url}/oauth/authorize/language`, { ...stale, subject: first, locale: 'de' });
    assert.equal(oldSwitch.status, 409);
    assert.equal(htmlLang(oldSwitch.text), 'de');
    assert.ok(oldSwitch.text.includes(escaped(translator('de').t('error.consentMovedContinue'))));
    // Moved twice (the current page's own switch): the old page still finds where the request is.
    const newest = await switchLanguage(server, browser, continued.text, 'sv', { subject: second });
    assert.equal(newest.status, 200);
    const older = await browser.post(`${server.url}/oauth/authorize/decision`, { ...stale, subject: second, decision: 'deny' });
    assert.equal(older.status, 409, 'a Deny from the old page changes nothing either');
    const found = await browser.get(`${server.url}${linksOf(older.text).get(translator('sv').t('error.consentMovedContinue'))}`);
    assert.equal(hiddenInputs(found.text).interaction, hiddenInputs(newest.text).interaction, 'the newest page');
    // Once the request is answered there, the old page's request has expired: no way to a page that is gone.
    const decided = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(newest.text), subject: second, decision: 'allow' });
    assert.ok(new URL(decided.location!).searchParams.get('code'));
    const expired = await browser.post(`${server.url}/oauth/authorize/decision`, { ...stale, subject: second, decision: 'allow' });
    assert.equal(expired.status, 400);
    assert.ok(expired.text.includes(escaped(translator('sv').t('error.interactionExpired'))));
    assert.ok(!expired.text.includes('/oauth/authorize/consent?'));
    // Another session holding the old page's id finds nothing of this one's.
    const other = await signedIn(server);
    const elsewhere = await other.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs((await other.get(authorizeUrl(server, parameters()))).text), interaction: stale.interaction!, decision: 'allow', subject: first });
    assert.equal(elsewhere.status, 400);
  });

  it("a switched consent page opened again after its own switch (the browser's Back) goes to the page the request is on now; once answered, it has expired", async () => {
    const browser = await signedIn(server);
    const consent = await browser.get(authorizeUrl(server, parameters()));
    const [, second] = optionsOf(consent.text) as [string, string];
    const first = await browser.post(`${server.url}/oauth/authorize/language`, { ...hiddenInputs(consent.text), subject: second, locale: 'da' });
    const firstPage = await browser.get(`${server.url}${first.location}`);
    const moved = await browser.post(`${server.url}/oauth/authorize/language`, { ...hiddenInputs(firstPage.text), subject: second, locale: 'nb' });
    assert.equal(moved.status, 303);
    const back = await browser.get(`${server.url}${first.location}`);
    assert.equal(back.status, 303, 'not "request expired"');
    assert.equal(back.headers.get('cache-control'), 'no-store');
    assert.equal(new URL(back.location!, server.url).searchParams.get('view'), new URL(moved.location!, server.url).searchParams.get('view'), 'the newest page');
    const shown = await browser.get(`${server.url}${back.location}`);
    assert.equal(shown.status, 200);
    assertConsentIn(shown.text, 'nb');
    // Another session with the same address finds nothing.
    assert.equal((await (await signedIn(server)).get(`${server.url}${first.location}`)).status, 400);
    const decided = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(shown.text), subject: second, decision: 'allow' });
    assert.ok(new URL(decided.location!).searchParams.get('code'));
    assert.equal((await browser.get(`${server.url}${first.location}`)).status, 400, 'answered: expired');
  });

  it("the consent page's language switch shows nothing for an interaction not this session's, used or unknown", async () => {
    const browser = await signedIn(server);
    const consent = await browser.get(authorizeUrl(server, parameters()));
    const form = hiddenInputs(consent.text);
    const decided = await browser.post(`${server.url}/oauth/authorize/decision`, { ...form, subject: `urn:gatehouse:company:${seed.companies[0].id}`, decision: 'deny' });
    assert.equal(decided.status, 303);
    const used = await browser.post(`${server.url}/oauth/authorize/language`, { ...form, locale: 'de' });
    assert.equal(used.status, 400, 'a used interaction');
    assert.equal(htmlLang(used.text), 'de', 'its error page in the language chosen');
    assert.ok(!used.text.includes('action="/oauth/authorize/decision"'));
    const other = await signedIn(server);
    const othersConsent = await other.get(authorizeUrl(server, parameters()));
    const stolen = await browser.post(`${server.url}/oauth/authorize/language`, { ...form, interaction: hiddenInputs(othersConsent.text).interaction!, locale: 'de' });
    assert.equal(stolen.status, 400, "another session's interaction");
    assert.ok(!stolen.text.includes('action="/oauth/authorize/decision"'));
    const withoutToken = await browser.post(`${server.url}/oauth/authorize/language`, { interaction: hiddenInputs(othersConsent.text).interaction!, locale: 'de' });
    assert.equal(withoutToken.status, 403, 'CSRF-checked');
  });

  it('falls back to English when nothing names a supported language', async () => {
    const browser = await signedIn(server);
    const page = await browser.request(authorizeUrl(server, parameters({ ui_locales: 'pt-BR' })), { headers: { 'accept-language': 'fi, pt;q=0.5' } });
    assertConsentIn(page.text, 'en');
  });

  it('keeps ui_locales on the interaction: the decision\'s error page is in the request\'s language, not the browser\'s', async () => {
    const browser = await signedIn(server);
    const page = await browser.request(authorizeUrl(server, parameters({ ui_locales: 'es' })), { headers: { 'accept-language': 'de' } });
    assertConsentIn(page.text, 'es');
    const form = hiddenInputs(page.text);
    // The client is suspended between the consent page and the answer: the request is refused with a page.
    await server.storage.clients.update(client.id, { status: 'suspended' });
    try {
      const answer = await browser.request(`${server.url}/oauth/authorize/decision`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'accept-language': 'de' },
        body: new URLSearchParams({ ...form, subject: `urn:gatehouse:company:${seed.companies[0].id}`, decision: 'allow' }),
      });
      assert.equal(answer.status, 400);
      assert.equal(htmlLang(answer.text), 'es');
      assert.ok(answer.text.includes(escaped(translator('es').t('error.clientSuspended', { client: client.name }))));
    } finally {
      await server.storage.clients.update(client.id, { status: 'active' });
    }
  });

  it('carries ui_locales across the login page, a refused login included', async () => {
    const browser = new Browser();
    const login = await browser.get(authorizeUrl(server, parameters({ ui_locales: 'nb' })));
    assert.equal(htmlLang(login.text), 'nb');
    assert.ok(login.text.includes(escaped(translator('nb').t('login.heading', { brand: 'Gatehouse' }))));
    const refused = await browser.post(`${server.url}/login`, {
      _csrf: inputValue(login.text, '_csrf')!, return_to: inputValue(login.text, 'return_to')!, email: alice.email, password: 'not-the-password',
    });
    assert.equal(refused.status, 401);
    assert.equal(htmlLang(refused.text), 'nb');
    assert.ok(refused.text.includes(escaped(translator('nb').t('login.incorrect'))));
  });

  it('shows the error page of an unknown client in the language of ui_locales, with the refused redirect URI escaped', async () => {
    const page = await new Browser().get(authorizeUrl(server, parameters({ ui_locales: 'fr', redirect_uri: 'https://evil.example/cb?<x>' })));
    assert.equal(page.status, 400);
    assert.equal(htmlLang(page.text), 'fr');
    assert.ok(page.text.includes(escaped(translator('fr').t('error.redirectUriNotRegistered'))));
    assert.ok(page.text.includes('https://evil.example/cb?&lt;x&gt;'));
    assert.ok(!page.text.includes('<x>'));
  });
});

describe('the language switch (GET /language)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('is on every page: the seven languages by their own names, coming back to the same page', async () => {
    const url = authorizeUrl(server, parameters({ ui_locales: 'de' }));
    const page = (await new Browser().get(url)).text;
    const path = new URL(url).pathname + new URL(url).search;
    assert.match(page, new RegExp(`<nav class="languages" aria-label="${CATALOGUES.de['layout.language']}">`));
    for (const locale of LOCALES) {
      const href = escaped(`/language?${new URLSearchParams({ locale, return_to: path })}`);
      assert.ok(page.includes(`<a href="${href}" lang="${locale}" hreflang="${locale}"`), `a link to ${locale}`);
      assert.ok(page.includes(`>${escaped(LANGUAGE_NAMES[locale])}</a>`), LANGUAGE_NAMES[locale]);
    }
    assert.match(page, /hreflang="de" aria-current="true">Deutsch<\/a>/);
  });

  it('after a POST answered with a page, comes back to the account page the form was sent from; never to an authorization page without its query', async () => {
    const returnTo = (page: string) => /href="\/language\?locale=en&amp;return_to=([^"]*)"/.exec(page)?.[1];
    // A field error of an account form (an address that is not one): back to that form.
    const browser = new Browser();
    const form = await browser.get(`${server.url}/account/forgot-password`);
    const refused = await browser.request(`${server.url}/account/forgot-password`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', referer: `${server.url}/account/forgot-password` },
      body: new URLSearchParams({ _csrf: inputValue(form.text, '_csrf')!, email: 'not an address' }),
    });
    assert.equal(decodeURIComponent(returnTo(refused.text) ?? ''), '/account/forgot-password', refused.text.slice(0, 200));
    // A consent decision sent twice (a double click): its error page's switch goes home, not to /oauth/authorize
    // without the request's parameters (an error page of its own).
    const signedInBrowser = await signedIn(server);
    const url = authorizeUrl(server, parameters());
    const consent = await signedInBrowser.get(url);
    const decide = () => signedInBrowser.request(`${server.url}/oauth/authorize/decision`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', referer: url },
      body: new URLSearchParams({ ...hiddenInputs(consent.text), decision: 'allow' }),
    });
    assert.equal((await decide()).status, 303);
    const again = await decide();
    assert.equal(again.status, 400);
    assert.equal(decodeURIComponent(returnTo(again.text) ?? ''), '/');
  });

  it('remembers the choice in a SameSite=Lax cookie for a year and goes back to the page', async () => {
    const answer = await fetch(`${server.url}/language?locale=fr&return_to=${encodeURIComponent('/account/sessions?x=1')}`, { redirect: 'manual' });
    assert.equal(answer.status, 303);
    assert.equal(answer.headers.get('location'), '/account/sessions?x=1');
    const cookie = answer.headers.getSetCookie().find((value) => value.startsWith('gatehouse_locale='));
    assert.ok(cookie, 'the cookie is set');
    assert.match(cookie, /^gatehouse_locale=fr;/);
    assert.match(cookie, /SameSite=Lax/i);
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /Max-Age=31536000/);
    assert.match(cookie, /Path=\//);
  });

  it('never redirects off the site: anything but a same-origin path goes to / (and the choice still counts)', async () => {
    for (const returnTo of ['//evil.example/', '/\\evil.example', 'https://evil.example/', 'http:evil.example', 'javascript:alert(1)',
      '/\tevil', ' /account', 'evil.example', '/%0d%0aSet-Cookie:x=y', '', '/.//evil.example/phish', '/account/..//evil.example',
      '/a/..//evil.example', '/%2e//evil.example', '/%2E%2E//evil.example', '/./%2F/evil.example']) {
      const answer = await fetch(`${server.url}/language?locale=de&return_to=${encodeURIComponent(returnTo)}`, { redirect: 'manual' });
      assert.equal(answer.status, 303, returnTo);
      const location = answer.headers.get('location')!;
      assert.ok(location === '/' || (location.startsWith('/') && !location.startsWith('//') && !location.includes('\\') && !/[\r\n]/.test(location)), `${returnTo} → ${location}`);
      assert.equal(new URL(location, server.url).origin, server.url, `${returnTo} stays on the site`);
    }
    for (const returnTo of ['//evil.example/', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', '/\tevil',
      // Dot segments the URL parser removes, leaving a network-path reference ("//host").
      '/.//evil.example/phish', '/account/..//evil.example', '/a/..//evil.example', '/%2e//evil.example']) {
      const answer = await fetch(`${server.url}/language?locale=de&return_to=${encodeURIComponent(returnTo)}`, { redirect: 'manual' });
      assert.equal(answer.headers.get('location'), '/', returnTo);
    }
  });

  it('changes nothing for a locale it does not offer', async () => {
    const answer = await fetch(`${server.url}/language?locale=pt&return_to=/`, { redirect: 'manual' });
    assert.equal(answer.status, 303);
    assert.deepEqual(answer.headers.getSetCookie().filter((value) => value.startsWith('gatehouse_locale=')), []);
  });
});

describe('the session handover\'s locale claim', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await server.storage.clients.update(client.id, { settingsUri: 'https://ledgerly.example/settings' });
  });
  after(() => server.close());

  it('carries the language of the user\'s pages (here: the directory record\'s), not a fixed "en"', async () => {
    await server.storage.directory.updateUser(alice.id, { locale: 'nb-NO' }, server.clock.nowSeconds());
    await obtainTokens(server, { subject: `urn:gatehouse:company:${seed.companies[0].id}` });
    const grant = (await server.storage.grants.listActive({ clientId: client.id }))[0]!;
    const browser = await signedIn(server);
    const page = await browser.get(`${server.url}/account/connected-apps`);
    assert.equal(htmlLang(page.text), 'nb');
    const answer = await browser.post(`${server.url}/account/connected-apps/${grant.grantId}/settings`, { _csrf: inputValue(page.text, '_csrf')! });
    assert.equal(answer.status, 303);
    const token = new URL(answer.location!).searchParams.get('gatehouse_id_token')!;
    assert.equal(decodeJwt(token).locale, 'nb');
  });
});

describe('the console and the password-reset e-mail', () => {
  let server: TestServer;
  let mail: MailCatcher;
  before(async () => {
    mail = await startMailCatcher();
    server = await startTestServer({ localAccounts: { smtpUrl: mail.url, mailFrom: 'Gatehouse <no-reply@gatehouse.test>' } });
  });
  after(async () => {
    await server.close();
    await mail.close();
  });

  it('shows the administrators\' console in the browser\'s language', async () => {
    await server.storage.consoleAdministrators.grant(alice.id, server.clock.nowSeconds());
    const browser = await signedIn(server);
    const page = await browser.request(`${server.url}/admin`, { headers: { 'accept-language': 'fr-CH, en;q=0.5' } });
    assert.equal(page.status, 200);
    assert.equal(htmlLang(page.text), 'fr');
    assert.ok(page.text.includes(`<h1>${escaped(translator('fr').t('console.reviewQueue'))}</h1>`));
  });

  it('shows the console\'s dates in the page\'s language, the exact moment in <time datetime> (grants, audit log)', async () => {
    await server.storage.consoleAdministrators.grant(alice.id, server.clock.nowSeconds());
    await obtainTokens(server, { subject: `urn:gatehouse:company:${seed.companies[0].id}`, scope: 'users:read' }); // a grant to list
    const browser = await signedIn(server);
    for (const path of [`/admin/grants?client=${seed.confidentialClient.id}`, '/admin/audit']) {
      const page = await browser.request(`${server.url}${path}`, { headers: { 'accept-language': 'de' } });
      assert.equal(page.status, 200, path);
      const times = [...page.text.matchAll(/<time datetime="([^"]+)">([^<]+)<\/time>/g)];
      assert.ok(times.length > 0, `${path} shows dates`);
      for (const [, iso, shown] of times) {
        assert.match(iso!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        assert.equal(shown, escaped(translator('de').dateTime(Date.parse(iso!) / 1000)), path);
      }
      assert.doesNotMatch(page.text, /<td>\d{4}-\d{2}-\d{2}T/, `${path}: no raw ISO timestamp in a cell`);
    }
  });

  it('writes the password-reset e-mail in the account\'s own language, the page in the browser\'s', async () => {
    const bob = seed.users.bob;
    await server.storage.directory.updateUser(bob.id, { locale: 'de-DE' }, server.clock.nowSeconds());
    const browser = new Browser();
    const form = await browser.request(`${server.url}/account/forgot-password`, { headers: { 'accept-language': 'sv' } });
    assert.equal(htmlLang(form.text), 'sv');
    const answer = await browser.request(`${server.url}/account/forgot-password`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'accept-language': 'sv' },
      body: new URLSearchParams({ _csrf: inputValue(form.text, '_csrf')!, email: bob.email }),
    });
    assert.equal(answer.status, 200);
    assert.equal(htmlLang(answer.text), 'sv');
    assert.ok(answer.text.includes(escaped(translator('sv').t('local.forgotSent'))));
    const message = decodedBody(await mail.next());
    assert.ok(message.includes('Jemand (hoffentlich Sie) hat darum gebeten'), message);
    assert.ok(message.includes('Ihr Passwort bleibt unverändert'), message);
  });
});

/** The text of a caught message, its transfer encoding undone. */
function decodedBody(mail: CaughtMail): string {
  const [head, ...rest] = mail.raw.split(/\r?\n\r?\n/);
  const body = rest.join('\n\n');
  if (/content-transfer-encoding:\s*base64/i.test(head!)) return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (/content-transfer-encoding:\s*quoted-printable/i.test(head!)) {
    const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_match, hex: string) => `%${hex}`);
    return decodeURIComponent(bytes.replace(/%(?![0-9A-F]{2})/gi, '%25'));
  }
  return body;
}
