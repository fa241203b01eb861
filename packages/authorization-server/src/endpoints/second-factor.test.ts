import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { authenticator } from 'otplib';
import { authorizeUrl, Browser, inputValue, pkcePair, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';
import { hashPassword } from '../users/password.ts';
import { issuePasswordLink } from '../users/password-links.ts';
import { legacyRecoveryCodeDigest, newRecoveryCodes } from '../users/second-factor.ts';
import { PENDING_LOGIN_MAX_FAILURES } from './second-factor.ts';

const postgresSkip = await postgresSkipReason();
const PASSWORD = 'periwinkle saxophone glacier';

for (const backend of ['sqlite', 'postgres'] as const) describe(`TOTP second factor (issue 10 §3, RFC 6238): ${backend}`, { skip: backend === 'postgres' ? postgresSkip : false }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(backend === 'postgres' ? { storage: await createTestPostgresStorage() } : {});
  });
  after(() => server.close());

  const codeNow = (secret: string, offsetSeconds = 0) => authenticator.clone({ epoch: (server.clock.nowSeconds() + offsetSeconds) * 1000 }).generate(secret);
  const newUser = async () => {
    const userId = randomUUID();
    const email = `totp-${userId}@example.com`;
    const now = server.clock.nowSeconds();
    await server.storage.directory.createUser({ userId, email, name: 'Tove Totp', locale: null, createdAt: now, updatedAt: now });
    await server.storage.users.setPasswordHash(userId, await hashPassword(PASSWORD));
    return { userId, email };
  };
  /** POST /login with the password from the sessions page's login form. */
  const passwordStep = async (browser: Browser, email: string, password = PASSWORD) => {
    const page = await browser.get(`${server.url}/account/sessions`);
    return browser.post(`${server.url}/login`, { _csrf: inputValue(page.text, '_csrf')!, return_to: '/account/sessions', email, password });
  };
  /** The second step's form posted with `fields`. */
  const codeStep = async (browser: Browser, fields: Record<string, string>) => {
    const form = await browser.get(`${server.url}/login/second-factor`);
    assert.equal(form.status, 200, form.text.slice(0, 300));
    return browser.post(`${server.url}/login/second-factor`, { _csrf: inputValue(form.text, '_csrf')!, ...fields });
  };
  const isSignedIn = async (browser: Browser) => !/action="\/login[?"]/.test((await browser.get(`${server.url}/account/sessions`)).text);
  const secretIn = (page: string) => /<code id="totp-secret">([A-Z2-7 ]+)<\/code>/.exec(page)![1]!.replaceAll(' ', '');

  /** Signs a fresh user in and enrols them on /account/security; returns their secret and recovery codes. */
  const enrolledUser = async () => {
    const user = await newUser();
    const browser = new Browser();
    assert.equal((await passwordStep(browser, user.email)).status, 303);
    const security = await browser.get(`${server.url}/account/security`);
    assert.match(security.text, /Two-step verification is <strong>off<\/strong>/);
    const started = await browser.post(`${server.url}/account/security/enrol`, { _csrf: inputValue(security.text, '_csrf')! });
    // Post/redirect/get: the key is shown by a GET, so a reload shows the same key (it replaced it before).
    assert.equal(started.status, 303);
    assert.equal(started.location, '/account/security/enrol');
    const enrolment = await browser.get(`${server.url}/account/security/enrol`);
    assert.equal(enrolment.status, 200);
    const secret = secretIn(enrolment.text);
    assert.equal(secretIn((await browser.get(`${server.url}/account/security/enrol`)).text), secret, 'a reload shows the same key');
    assert.match(enrolment.text, /otpauth:\/\/totp\/Gatehouse:/);
    // Started from the account: its navigation, and a way back (it had only "Turn on").
    assert.match(enrolment.text, /<a class="button secondary" href="\/account\/security">Cancel<\/a>/);
    assert.match(enrolment.text, /<nav class="muted" aria-label="[^"]*"><a href="\/">Home<\/a>/);
    const wrong = await browser.post(`${server.url}/account/security/confirm`, { _csrf: inputValue(enrolment.text, '_csrf')!, code: '000000' === codeNow(secret) ? '111111' : '000000' });
    assert.equal(wrong.status, 400, 'a wrong first code does not turn it on');
    assert.match(wrong.text, /<a class="button secondary" href="\/account\/security">Cancel<\/a>/, 'the refused code keeps the way back');
    assert.equal((await server.storage.localAccounts.findSecondFactor(user.userId))?.confirmedAt, null);
    const confirmed = await browser.post(`${server.url}/account/security/confirm`, { _csrf: inputValue(wrong.text, '_csrf')!, code: codeNow(secret) });
    assert.equal(confirmed.status, 200);
    const recoveryCodes = [...confirmed.text.matchAll(/<li><code>([a-z2-7]{5}-[a-z2-7]{5})<\/code><\/li>/g)].map((match) => match[1]!);
    assert.equal(recoveryCodes.length, 10);
    server.clock.advanceSeconds(30); // the confirming code's step is used
    // Once on, the enrolment page leads back to the security page (no key to show).
    const after = await browser.get(`${server.url}/account/security/enrol`);
    assert.equal(after.status, 303);
    assert.equal(after.location, '/account/security');
    return { ...user, secret, recoveryCodes };
  };

  it('shows an unconfirmed key only in the browser that started the enrolment, and for 10 minutes (another session of the same user is not shown it)', async () => {
    const user = await newUser();
    const started = new Browser();
    assert.equal((await passwordStep(started, user.email)).status, 303);
    const security = await started.get(`${server.url}/account/security`);
    assert.equal((await started.post(`${server.url}/account/security/enrol`, { _csrf: inputValue(security.text, '_csrf')! })).status, 303);
    const secret = secretIn((await started.get(`${server.url}/account/security/enrol`)).text);
    const other = new Browser(); // someone else who has the password, signed in before the first code confirms it
    assert.equal((await passwordStep(other, user.email)).status, 303);
    const elsewhere = await other.get(`${server.url}/account/security/enrol`);
    assert.equal(elsewhere.status, 303);
    assert.equal(elsewhere.location, '/account/security');
    assert.ok(!elsewhere.text.includes(secret));
    server.clock.advanceSeconds(600);
    const later = await started.get(`${server.url}/account/security/enrol`);
    assert.equal(later.status, 303, 'after 10 minutes the key is not shown again: Set up starts a new one');
  });

  it('a wrong first code posted from another session of the same user is refused without showing the unconfirmed key (400), and turns nothing on', async () => {
    const user = await newUser();
    const started = new Browser();
    assert.equal((await passwordStep(started, user.email)).status, 303);
    const security = await started.get(`${server.url}/account/security`);
    assert.equal((await started.post(`${server.url}/account/security/enrol`, { _csrf: inputValue(security.text, '_csrf')! })).status, 303);
    const secret = secretIn((await started.get(`${server.url}/account/security/enrol`)).text);
    const other = new Browser(); // someone else who has the password, signed in before the first code confirms it
    assert.equal((await passwordStep(other, user.email)).status, 303);
    const page = await other.get(`${server.url}/account/security`);
    const wrong = await other.post(`${server.url}/account/security/confirm`, { _csrf: inputValue(page.text, '_csrf')!, code: codeNow(secret) === '000000' ? '111111' : '000000' });
    assert.equal(wrong.status, 400);
    assert.match(wrong.text, /That code did not match/);
    assert.doesNotMatch(wrong.text, /totp-secret|otpauth:/, 'no key on the page');
    assert.ok(!wrong.text.includes(secret) && !wrong.text.includes(secret.replace(/(.{4})(?!$)/g, '$1 ')), 'not the key the other browser is setting up');
    assert.equal((await server.storage.localAccounts.findSecondFactor(user.userId))?.confirmedAt, null, 'nothing turned on');
    // The browser that started it still confirms it with its key.
    const enrolment = await started.get(`${server.url}/account/security/enrol`);
    assert.equal((await started.post(`${server.url}/account/security/confirm`, { _csrf: inputValue(enrolment.text, '_csrf')!, code: codeNow(secret) })).status, 200);
  });

  it('stores the TOTP secret only encrypted, and recovery codes only as digests', async () => {
    const user = await enrolledUser();
    const factor = await server.storage.localAccounts.findSecondFactor(user.userId);
    assert.ok(factor?.confirmedAt);
    assert.ok(!factor.secretCiphertext.includes(user.secret));
    assert.match(factor.secretCiphertext, /^v1\./);
    for (const code of user.recoveryCodes) assert.equal(await server.storage.localAccounts.useRecoveryCode(user.userId, code, 0), false, 'not stored as typed');
    for (const code of user.recoveryCodes) {
      assert.equal(await server.storage.localAccounts.useRecoveryCode(user.userId, legacyRecoveryCodeDigest(code), 0), false, 'not as an unkeyed SHA-256 either');
    }
    assert.equal(await server.storage.localAccounts.countRecoveryCodes(user.userId), 10);
  });

  it('recovery codes stored before keyed digests (plain SHA-256) still work, each once', async () => {
    const user = await enrolledUser();
    const factor = (await server.storage.localAccounts.findSecondFactor(user.userId))!;
    const now = server.clock.nowSeconds();
    // The factor as an earlier version left it: the same secret, its codes' unkeyed digests.
    assert.equal(await server.storage.localAccounts.removeSecondFactor(user.userId), true);
    assert.equal(await server.storage.localAccounts.startSecondFactor(user.userId, factor.secretCiphertext, now), true);
    const [legacyCode] = newRecoveryCodes();
    assert.equal(await server.storage.localAccounts.confirmSecondFactor(user.userId, Math.floor(now / 30) - 10, [legacyRecoveryCodeDigest(legacyCode!)], now), true);
    const first = new Browser();
    await passwordStep(first, user.email);
    assert.equal((await codeStep(first, { recovery_code: legacyCode! })).status, 303);
    assert.equal(await isSignedIn(first), true);
    const second = new Browser();
    await passwordStep(second, user.email);
    assert.equal((await codeStep(second, { recovery_code: legacyCode! })).status, 401, 'once');
    assert.equal(await isSignedIn(second), false);
    assert.equal(await server.storage.localAccounts.countRecoveryCodes(user.userId), 0);
  });

  it('after the password, asks for the code before any session starts; the right code signs in and continues', async () => {
    const user = await enrolledUser();
    const browser = new Browser();
    const password = await passwordStep(browser, user.email);
    assert.equal(password.status, 303);
    assert.equal(password.location, '/login/second-factor');
    assert.equal(await isSignedIn(browser), false, 'no session after the password alone');
    const signedIn = await codeStep(browser, { code: codeNow(user.secret) });
    assert.equal(signedIn.status, 303);
    assert.equal(signedIn.location, '/account/sessions');
    assert.equal(await isSignedIn(browser), true);
  });

  it("the second step's sign-in ends the session the browser presented before (another user's), not before the code", async () => {
    const user = await enrolledUser();
    const browser = new Browser();
    assert.equal((await passwordStep(browser, seed.users.bob.email, seed.users.bob.password)).status, 303);
    const bobsCookie = browser.cookies.get('gatehouse_session')!;
    const bobsSession = () => server.storage.loginSessions.findActive(createHash('sha256').update(bobsCookie).digest('base64url'), server.clock.nowSeconds());
    assert.equal((await passwordStep(browser, user.email)).location, '/login/second-factor');
    assert.ok(await bobsSession(), 'the password alone signs nobody in, and ends nothing');
    const wrong = await codeStep(browser, { code: codeNow(user.secret) === '000000' ? '111111' : '000000' });
    assert.equal(wrong.status, 401);
    assert.ok(await bobsSession(), 'a refused code ends nothing');
    const signedIn = await codeStep(browser, { code: codeNow(user.secret) });
    assert.equal(signedIn.status, 303);
    assert.equal(await bobsSession(), undefined, "bob's session is ended");
    const stale = new Browser();
    stale.cookies.set('gatehouse_session', bobsCookie);
    assert.equal(await isSignedIn(stale), false, "bob's old cookie signs nobody in");
    assert.equal(await isSignedIn(browser), true, 'the new session works');
  });

  it('prompt=login: a re-authentication with its code continues the request, even within the request\'s own second (OIDC Core §3.1.2.1)', async () => {
    const user = await enrolledUser();
    const browser = new Browser();
    await passwordStep(browser, user.email);
    assert.equal((await codeStep(browser, { code: codeNow(user.secret) })).status, 303);
    server.clock.advanceSeconds(30); // the code's step is used; from here the clock stands still
    const client = seed.confidentialClient;
    const loginPage = await browser.get(authorizeUrl(server, {
      response_type: 'code', client_id: client.id, redirect_uri: client.redirectUri, scope: 'users:read', state: 's', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256', prompt: 'login',
    }));
    assert.ok(/action="\/login[?"]/.test(loginPage.text), 'the login page despite the session');
    const returnTo = inputValue(loginPage.text, 'return_to')!;
    const password = await browser.post(`${server.url}/login`, { _csrf: inputValue(loginPage.text, '_csrf')!, return_to: returnTo, email: user.email, password: PASSWORD });
    assert.equal(password.location, '/login/second-factor');
    const signedIn = await codeStep(browser, { code: codeNow(user.secret) });
    assert.equal(signedIn.status, 303);
    assert.equal(signedIn.location, returnTo, 'the login continues where it was going');
    const next = await browser.get(new URL(signedIn.location!, server.url).href);
    assert.equal(next.status, 403, 'this user administers no company: the page that says so, past the login');
    assert.ok(!/action="\/login[?"]/.test(next.text), 'not sent back to the login page');
  });

  it('the second step speaks the language of the authorization request it continues (ui_locales, OIDC Core §3.1.2.1)', async () => {
    const user = await enrolledUser();
    const browser = new Browser();
    const client = seed.confidentialClient;
    const loginPage = await browser.get(authorizeUrl(server, {
      response_type: 'code', client_id: client.id, redirect_uri: client.redirectUri, scope: 'users:read', state: 's', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256', ui_locales: 'sv',
    }));
    assert.match(loginPage.text, /<html lang="sv"/);
    const password = await browser.post(`${server.url}/login`, { _csrf: inputValue(loginPage.text, '_csrf')!, return_to: inputValue(loginPage.text, 'return_to')!, email: user.email, password: PASSWORD });
    assert.equal(password.location, '/login/second-factor');
    const form = await browser.get(`${server.url}/login/second-factor`);
    assert.match(form.text, /<html lang="sv"/);
    assert.match(form.text, /Tvåstegsverifiering/);
    const wrong = await browser.post(`${server.url}/login/second-factor`, { _csrf: inputValue(form.text, '_csrf')!, code: codeNow(user.secret) === '000000' ? '111111' : '000000' });
    assert.equal(wrong.status, 401);
    assert.match(wrong.text, /<html lang="sv"/, 'the refusal too');

    // A request that crosses the login page by reference (prompt=login here; a pushed request alike): the same.
    const again = new Browser();
    const byReference = await again.get(authorizeUrl(server, {
      response_type: 'code', client_id: client.id, redirect_uri: client.redirectUri, scope: 'users:read', state: 's', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256', ui_locales: 'sv', prompt: 'login',
    }));
    const returnTo = inputValue(byReference.text, 'return_to')!;
    assert.match(returnTo, /^\/oauth\/authorize\?client_id=[^&]+&request_uri=[^&]+&ui_locales=sv$/);
    const refused = await again.post(`${server.url}/login`, { _csrf: inputValue(byReference.text, '_csrf')!, return_to: returnTo, email: user.email, password: 'not the password' });
    assert.equal(refused.status, 401);
    assert.match(refused.text, /<html lang="sv"/, 'the refused password');
    const step = await again.post(`${server.url}/login`, { _csrf: inputValue(refused.text, '_csrf')!, return_to: returnTo, email: user.email, password: PASSWORD });
    assert.equal(step.location, '/login/second-factor');
    assert.match((await again.get(`${server.url}/login/second-factor`)).text, /<html lang="sv"/, 'the second step');
    // The clock stands still: the login completes within the request's own second, so only the mark satisfies prompt=login.
    const signedIn = await codeStep(again, { code: codeNow(user.secret) });
    assert.equal(signedIn.location, returnTo);
    const next = await again.get(new URL(returnTo, server.url).href);
    assert.ok(!/action="\/login[?"]/.test(next.text), 'prompt=login is satisfied by this login (the continuation with ui_locales is marked)');
  });

  it('refuses a wrong code with 401 and starts no session', async () => {
    const user = await enrolledUser();
    const browser = new Browser();
    await passwordStep(browser, user.email);
    const current = codeNow(user.secret);
    const wrong = await codeStep(browser, { code: current === '123456' ? '654321' : '123456' });
    assert.equal(wrong.status, 401);
    assert.match(wrong.text, /id="code-error"[^>]*>That code is not valid/);
    // WCAG 1.3.1 / 3.3.1: the code field names its error; a text field (the stylesheet's size, axe's target-size).
    assert.match(wrong.text, /<input id="code" name="code" type="text"[^>]* aria-describedby="code-error" aria-invalid="true">/);
    assert.doesNotMatch(wrong.text, /<details open>/, 'the recovery code stays folded');
    assert.equal(await isSignedIn(browser), false);
  });

  it('a refused code\'s language switch comes back to the second step, which still continues the sign-in (issue 13)', async () => {
    const user = await enrolledUser();
    const browser = new Browser();
    await passwordStep(browser, user.email);
    const form = await browser.get(`${server.url}/login/second-factor`);
    const wrong = await browser.request(`${server.url}/login/second-factor`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', referer: `${server.url}/login/second-factor` },
      body: new URLSearchParams({ _csrf: inputValue(form.text, '_csrf')!, code: codeNow(user.secret) === '123456' ? '654321' : '123456' }),
    });
    assert.equal(wrong.status, 401);
    const href = /<a href="(\/language\?locale=da&amp;[^"]*)"/.exec(wrong.text)?.[1]?.replaceAll('&amp;', '&');
    assert.ok(href, 'a link to Danish');
    const switched = await browser.get(`${server.url}${href}`);
    assert.equal(switched.location, '/login/second-factor', 'not the home page (its login form would start over, where the sign-in was going lost)');
    const again = await browser.get(`${server.url}/login/second-factor`);
    assert.equal(again.status, 200);
    assert.match(again.text, /<html lang="da"/);
    const signedIn = await browser.post(`${server.url}/login/second-factor`, { _csrf: inputValue(again.text, '_csrf')!, code: codeNow(user.secret) });
    assert.equal(signedIn.location, '/account/sessions');
  });

  it('refuses a replayed code within its window with 401 and starts no session (RFC 6238 §5.2)', async () => {
    const user = await enrolledUser();
    const first = new Browser();
    await passwordStep(first, user.email);
    const code = codeNow(user.secret);
    assert.equal((await codeStep(first, { code })).status, 303);
    const second = new Browser();
    await passwordStep(second, user.email);
    server.clock.advanceSeconds(10); // same or next step: still inside the accepted window
    const replay = await codeStep(second, { code });
    assert.equal(replay.status, 401);
    assert.match(replay.text, /already used/);
    assert.equal(await isSignedIn(second), false);
  });

  it('a recovery code works instead of a code, once; a used recovery code is refused with 401', async () => {
    const user = await enrolledUser();
    const first = new Browser();
    await passwordStep(first, user.email);
    assert.equal((await codeStep(first, { recovery_code: user.recoveryCodes[0]!.toUpperCase() })).status, 303);
    assert.equal(await isSignedIn(first), true);
    const second = new Browser();
    await passwordStep(second, user.email);
    const reused = await codeStep(second, { recovery_code: user.recoveryCodes[0]! });
    assert.equal(reused.status, 401);
    assert.match(reused.text, /id="recovery_code-error"[^>]*>[^<]*already used/);
    assert.match(reused.text, /<details open>/, 'the refused recovery code is shown, unfolded');
    assert.match(reused.text, /<input id="recovery_code"[^>]* aria-describedby="recovery_code-error" aria-invalid="true">/);
    assert.doesNotMatch(reused.text, /<input id="code"[^>]* aria-invalid/);
    assert.equal(await isSignedIn(second), false);
    assert.equal(await server.storage.localAccounts.countRecoveryCodes(user.userId), 9);
  });

  it(`ends the pending login after ${PENDING_LOGIN_MAX_FAILURES} wrong codes: even the right code then needs the password again`, async () => {
    const user = await enrolledUser();
    const browser = new Browser();
    await passwordStep(browser, user.email);
    const wrong = codeNow(user.secret) === '000000' ? '111111' : '000000';
    for (let i = 1; i < PENDING_LOGIN_MAX_FAILURES; i++) {
      server.clock.advanceSeconds(60); // past the login throttle's growing delay
      assert.equal((await codeStep(browser, { code: wrong })).status, 401);
    }
    server.clock.advanceSeconds(60);
    const form = await browser.get(`${server.url}/login/second-factor`);
    const last = await browser.post(`${server.url}/login/second-factor`, { _csrf: inputValue(form.text, '_csrf')!, code: wrong });
    assert.match(last.text, /Sign in again/);
    assert.match(last.text, /<a href="\/account\/sessions">Sign in again<\/a>/, 'a way onward to the page the sign-in was for');
    const onward = await new Browser().request(`${server.url}/account/sessions`, { headers: { accept: 'text/html' } });
    assert.equal(onward.status, 200);
    assert.match(onward.text, /action="\/login[?"]/, 'which shows the login form');
    assert.doesNotMatch(last.text, /not sent back to the application/, 'a sign-in to the account is not about an app');
    const afterwards = await browser.post(`${server.url}/login/second-factor`, { _csrf: inputValue(form.text, '_csrf')!, code: codeNow(user.secret) });
    assert.equal(afterwards.status, 401);
    assert.equal(await isSignedIn(browser), false);
  });

  it('slows code guessing with the login throttle: after the free failures, 429 with Retry-After and no session (SPEC decision 18)', async () => {
    const user = await enrolledUser();
    const browser = new Browser();
    await passwordStep(browser, user.email); // the password attempt stays counted until the second step succeeds
    const wrong = codeNow(user.secret) === '000000' ? '111111' : '000000';
    for (let i = 0; i < 4; i++) assert.equal((await codeStep(browser, { code: wrong })).status, 401);
    const slowed = await codeStep(browser, { code: codeNow(user.secret) });
    assert.equal(slowed.status, 429);
    assert.ok(Number(slowed.headers.get('retry-after')) >= 1);
    assert.equal(await isSignedIn(browser), false, 'refused before the code was checked');
  });

  it('refuses a second step without a pending login (a forged cookie) with 401', async () => {
    const browser = new Browser();
    browser.cookies.set('gatehouse_pending_login', 'A'.repeat(43));
    const form = await browser.get(`${server.url}/login/second-factor`);
    assert.equal(form.status, 401);
    assert.match(form.text, /Sign in again/);
    assert.match(form.text, /href="\/account">Sign in again<\/a>/, 'where the sign-in was going is not known: the account page');
    const onward = await new Browser().request(`${server.url}/account`, { headers: { accept: 'text/html' } });
    assert.equal(onward.status, 200);
    assert.match(onward.text, /action="\/login[?"]/, 'which shows the login form');
    assert.equal(await isSignedIn(browser), false);
  });

  it('turning the factor off needs a current code: a wrong one is refused with 400 and it stays on', async () => {
    const user = await enrolledUser();
    const browser = new Browser();
    await passwordStep(browser, user.email);
    assert.equal((await codeStep(browser, { code: codeNow(user.secret) })).status, 303);
    const page = await browser.get(`${server.url}/account/security`);
    assert.match(page.text, /Two-step verification is <strong>on<\/strong>/);
    const wrong = await browser.post(`${server.url}/account/security/disable`, { _csrf: inputValue(page.text, '_csrf')!, code: '12345' });
    assert.equal(wrong.status, 400);
    assert.match(wrong.text, /<input id="code"[^>]* aria-describedby="code-error" aria-invalid="true">\s*<p class="field-error" id="code-error">/);
    assert.ok((await server.storage.localAccounts.findSecondFactor(user.userId))?.confirmedAt);
    server.clock.advanceSeconds(30);
    const off = await browser.post(`${server.url}/account/security/disable`, { _csrf: inputValue(wrong.text, '_csrf')!, code: codeNow(user.secret) });
    assert.equal(off.status, 200);
    assert.match(off.text, /Two-step verification is off/);
    assert.equal(await server.storage.localAccounts.findSecondFactor(user.userId), undefined);
    const again = new Browser();
    assert.equal((await passwordStep(again, user.email)).location, '/account/sessions', 'the password alone signs in again');
  });

  it('guessing the code that turns the factor off is throttled as a sign-in\'s code is: 429 with Retry-After, and it stays on', async () => {
    const user = await enrolledUser();
    const browser = new Browser();
    await passwordStep(browser, user.email);
    assert.equal((await codeStep(browser, { code: codeNow(user.secret) })).status, 303);
    let page = await browser.get(`${server.url}/account/security`);
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 12 && !statuses.includes(429); attempt++) {
      page = await browser.post(`${server.url}/account/security/disable`, { _csrf: inputValue(page.text, '_csrf')!, code: '000000' });
      statuses.push(page.status);
      if (page.status === 429) {
        assert.ok(Number(page.headers.get('retry-after')) > 0, 'Retry-After in seconds');
        assert.match(page.text, /Too many attempts\. Try again in \d+ seconds?\./);
      }
    }
    assert.ok(statuses.includes(429), `wrong codes were throttled: ${statuses.join(' ')}`);
    assert.ok(statuses.slice(0, statuses.indexOf(429)).every((status) => status === 400));
    // Not even the right code gets through while the delay lasts.
    const blocked = await browser.post(`${server.url}/account/security/disable`, { _csrf: inputValue(page.text, '_csrf')!, code: codeNow(user.secret) });
    assert.equal(blocked.status, 429);
    assert.ok((await server.storage.localAccounts.findSecondFactor(user.userId))?.confirmedAt, 'the factor stays on');
  });
});

for (const backend of ['sqlite', 'postgres'] as const) describe(`GATEHOUSE_REQUIRE_SECOND_FACTOR=administrators (issue 10 §3): ${backend}`, { skip: backend === 'postgres' ? postgresSkip : false }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      ...(backend === 'postgres' ? { storage: await createTestPostgresStorage() } : {}),
      localAccounts: { requireSecondFactor: 'administrators' },
    });
  });
  after(() => server.close());

  const passwordStep = async (browser: Browser, email: string, password: string) => {
    const page = await browser.get(`${server.url}/account/sessions`);
    return browser.post(`${server.url}/login`, { _csrf: inputValue(page.text, '_csrf')!, return_to: '/account/sessions', email, password });
  };
  const isSignedIn = async (browser: Browser) => !/action="\/login[?"]/.test((await browser.get(`${server.url}/account/sessions`)).text);

  it('sends an administrator without a factor to enrolment before anything else; the first code signs them in and shows recovery codes once', async () => {
    const browser = new Browser();
    const password = await passwordStep(browser, seed.users.alice.email, seed.users.alice.password);
    assert.equal(password.location, '/login/second-factor');
    assert.equal(await isSignedIn(browser), false, 'no session before enrolment');
    const enrolment = await browser.get(`${server.url}/login/second-factor`);
    assert.match(enrolment.text, /before anything else, set up two-step verification/);
    assert.doesNotMatch(enrolment.text, />Cancel<\/a>|href="\/account\/security"/, 'a mandatory enrolment has no way around it');
    const secret = /<code id="totp-secret">([A-Z2-7 ]+)<\/code>/.exec(enrolment.text)![1]!.replaceAll(' ', '');
    assert.equal(secretIn(await browser.get(`${server.url}/login/second-factor`)), secret, 'a reload keeps the same key');
    const code = authenticator.clone({ epoch: server.clock.nowSeconds() * 1000 }).generate(secret);
    const done = await browser.post(`${server.url}/login/second-factor`, { _csrf: inputValue(enrolment.text, '_csrf')!, code });
    assert.equal(done.status, 200);
    assert.equal([...done.text.matchAll(/<li><code>[a-z2-7]{5}-[a-z2-7]{5}<\/code><\/li>/g)].length, 10);
    assert.match(done.text, /href="\/account\/sessions"/);
    assert.equal(await isSignedIn(browser), true);
  });

  it('prompt=login: a password and the mandatory enrolment, all in the request\'s own second, continue to consent', async () => {
    await server.storage.localAccounts.removeSecondFactor(seed.users.alice.id);
    const browser = new Browser();
    const client = seed.confidentialClient;
    const loginPage = await browser.get(authorizeUrl(server, {
      response_type: 'code', client_id: client.id, redirect_uri: client.redirectUri, scope: 'users:read', state: 's', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256', prompt: 'login',
    }));
    const returnTo = inputValue(loginPage.text, 'return_to')!;
    const password = await browser.post(`${server.url}/login`, { _csrf: inputValue(loginPage.text, '_csrf')!, return_to: returnTo, email: seed.users.alice.email, password: seed.users.alice.password });
    assert.equal(password.location, '/login/second-factor');
    const enrolment = await browser.get(`${server.url}/login/second-factor`);
    const secret = /<code id="totp-secret">([A-Z2-7 ]+)<\/code>/.exec(enrolment.text)![1]!.replaceAll(' ', '');
    const code = authenticator.clone({ epoch: server.clock.nowSeconds() * 1000 }).generate(secret);
    assert.equal((await browser.post(`${server.url}/login/second-factor`, { _csrf: inputValue(enrolment.text, '_csrf')!, code })).status, 200);
    const next = await browser.get(new URL(returnTo, server.url).href);
    assert.ok(next.text.includes('action="/oauth/authorize/decision"'), 'the consent page: the password was a fresh authentication');
  });

  it('the recovery codes shown at the end of the sign-in: their language switch (a new tab) opens a page of the signed-in user, not "this sign-in expired"', async () => {
    await server.storage.localAccounts.removeSecondFactor(seed.users.alice.id);
    const browser = new Browser();
    assert.equal((await passwordStep(browser, seed.users.alice.email, seed.users.alice.password)).location, '/login/second-factor');
    const enrolment = await browser.get(`${server.url}/login/second-factor`);
    const code = authenticator.clone({ epoch: server.clock.nowSeconds() * 1000 }).generate(secretIn(enrolment));
    // As a browser sends it: the form's page as Referer.
    const done = await browser.request(`${server.url}/login/second-factor`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', referer: `${server.url}/login/second-factor` },
      body: new URLSearchParams({ _csrf: inputValue(enrolment.text, '_csrf')!, code }),
    });
    assert.equal(done.status, 200);
    const href = /<a href="(\/language\?locale=sv&amp;[^"]*)"[^>]* target="_blank"/.exec(done.text)?.[1]?.replaceAll('&amp;', '&');
    assert.ok(href, 'a language switch opening in a new tab');
    const switched = await browser.get(`${server.url}${href}`);
    assert.equal(switched.status, 303);
    const opened = await browser.get(`${server.url}${switched.location}`);
    assert.equal(opened.status, 200, `${switched.location}: ${opened.text.slice(0, 200)}`);
    assert.match(opened.text, /<html lang="sv"/);
    assert.equal(await isSignedIn(browser), true);
  });

  it('a new password set through a link ends a sign-in waiting at the enrolment: whoever knew the old password enrols no factor and gets no session', async () => {
    const userId = randomUUID();
    const email = `enrol-${userId}@example.com`;
    const now = server.clock.nowSeconds();
    await server.storage.directory.createUser({ userId, email, name: 'Eva Enrol', locale: null, createdAt: now, updatedAt: now });
    await server.storage.users.setPasswordHash(userId, await hashPassword(PASSWORD));
    await server.storage.directory.putMembership(userId, { subjectType: 'company', subjectId: seed.companies[0].id });
    // Someone who learnt the old password is at the mandatory enrolment, with no factor yet.
    const attacker = new Browser();
    assert.equal((await passwordStep(attacker, email, PASSWORD)).location, '/login/second-factor');
    // The owner sets a new password through a reset link: every session of theirs ends, and so must this sign-in.
    const link = await issuePasswordLink(server.storage, server.issuer, userId, 'reset', now);
    const owner = new Browser();
    const form = await owner.get(link.url);
    const NEW_PASSWORD = 'marmalade thunder quarry';
    const set = await owner.post(`${server.url}/account/set-password`, {
      _csrf: inputValue(form.text, '_csrf')!, token: inputValue(form.text, 'token')!, password: NEW_PASSWORD, password_confirmation: NEW_PASSWORD,
    });
    assert.equal(set.status, 200);
    const enrolment = await attacker.get(`${server.url}/login/second-factor`);
    assert.equal(enrolment.status, 401, 'no enrolment page, no key');
    assert.match(enrolment.text, /This sign-in expired or was ended/);
    assert.doesNotMatch(enrolment.text, /totp-secret/);
    const page = await attacker.get(`${server.url}/account/sessions`);
    const code = await attacker.post(`${server.url}/login/second-factor`, { _csrf: inputValue(page.text, '_csrf')!, code: '123456' });
    assert.equal(code.status, 401);
    assert.equal(await server.storage.localAccounts.findSecondFactor(userId), undefined, 'no factor was enrolled');
    assert.equal(await isSignedIn(attacker), false);
  });

  it('the mandatory enrolment shows a key only to the browser that started it: another sign-in with the password gets a key of its own, never that one', async () => {
    const userId = randomUUID();
    const email = `enrol-${userId}@example.com`;
    const now = server.clock.nowSeconds();
    await server.storage.directory.createUser({ userId, email, name: 'Ebba Enrol', locale: null, createdAt: now, updatedAt: now });
    await server.storage.users.setPasswordHash(userId, await hashPassword(PASSWORD));
    await server.storage.directory.putMembership(userId, { subjectType: 'company', subjectId: seed.companies[0].id });
    const owner = new Browser();
    assert.equal((await passwordStep(owner, email, PASSWORD)).location, '/login/second-factor');
    const ownerKey = secretIn(await owner.get(`${server.url}/login/second-factor`));
    assert.equal(secretIn(await owner.get(`${server.url}/login/second-factor`)), ownerKey, 'a reload in the same browser keeps its key');
    // Someone who has the password signs in while the owner is scanning the key.
    const attacker = new Browser();
    assert.equal((await passwordStep(attacker, email, PASSWORD)).location, '/login/second-factor');
    const page = await attacker.get(`${server.url}/login/second-factor`);
    assert.equal(page.status, 200);
    assert.notEqual(secretIn(page), ownerKey, 'not the key the owner is setting up');
    assert.ok(!page.text.includes(ownerKey));
    const attackerCode = authenticator.clone({ epoch: server.clock.nowSeconds() * 1000 }).generate(secretIn(page));
    const wrong = await attacker.post(`${server.url}/login/second-factor`, { _csrf: inputValue(page.text, '_csrf')!, code: attackerCode === '000000' ? '111111' : '000000' });
    assert.equal(wrong.status, 401);
    assert.ok(!wrong.text.includes(ownerKey), 'nor after a wrong code');
    assert.equal((await server.storage.localAccounts.findSecondFactor(userId))?.confirmedAt, null);
  });

  it('a user who administers nothing signs in with the password alone', async () => {
    const browser = new Browser();
    const response = await passwordStep(browser, seed.developer.email, seed.developer.password);
    assert.equal(response.location, '/account/sessions');
    assert.equal(await isSignedIn(browser), true);
  });
});

function secretIn(page: { text: string }): string {
  return /<code id="totp-secret">([A-Z2-7 ]+)<\/code>/.exec(page.text)![1]!.replaceAll(' ', '');
}
