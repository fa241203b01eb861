import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAdminToken } from '../admin/admin-credentials.ts';
import { Browser, inputValue, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';
import { issuePasswordLink, passwordTokenDigest } from '../users/password-links.ts';

const postgresSkip = await postgresSkipReason();
const alice = seed.users.alice;
const NEW_PASSWORD = 'tangerine lighthouse orbit';

/** Signs `browser` in through the login page; returns the status of POST /login. */
async function signIn(server: TestServer, browser: Browser, email: string, password: string) {
  const page = await browser.get(`${server.url}/account/sessions`);
  return browser.post(`${server.url}/login`, { _csrf: inputValue(page.text, '_csrf')!, return_to: '/account/sessions', email, password });
}

for (const backend of ['sqlite', 'postgres'] as const) describe(`invitations and set-password links (issue 10 §3): ${backend}`, { skip: backend === 'postgres' ? postgresSkip : false }, () => {
  let server: TestServer;
  let adminToken: string;
  before(async () => {
    server = await startTestServer(backend === 'postgres' ? { storage: await createTestPostgresStorage() } : {});
    adminToken = (await createAdminToken(server.storage, 'ops', server.clock.nowSeconds())).token;
  });
  after(() => server.close());

  const invite = async (userId: string) => {
    const response = await fetch(`${server.url}/admin/v1/users/${userId}/invitation`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });
    return { status: response.status, json: await response.json() as { url: string; expires_at: string; error?: string } };
  };
  const newUser = async () => {
    const response = await fetch(`${server.url}/admin/v1/users`, {
      method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: `invitee-${Math.random().toString(36).slice(2)}@example.com`, name: 'Ingrid Invitee' }),
    });
    return (await response.json()) as { id: string; email: string };
  };
  /** Opens the link and posts the form with `password` (and its repetition, unless given). */
  const setPassword = async (browser: Browser, url: string, password: string, confirmation = password, headers: Record<string, string> = {}) => {
    const form = await browser.get(url);
    assert.equal(form.status, 200, form.text.slice(0, 200));
    return browser.request(`${server.url}/account/set-password`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ _csrf: inputValue(form.text, '_csrf')!, token: inputValue(form.text, 'token')!, password, password_confirmation: confirmation }),
    });
  };
  const passwordHashOf = async (userId: string) => (await server.storage.users.find(userId))?.passwordHash ?? null;

  it('POST /admin/v1/users/{id}/invitation answers 201 { url, expires_at } 72 hours ahead, stores only the digest, and records user.invited', async () => {
    const user = await newUser();
    const { status, json } = await invite(user.id.toUpperCase());
    assert.equal(status, 201);
    const url = new URL(json.url);
    assert.equal(url.origin + url.pathname, `${server.url}/account/set-password`);
    assert.equal(Date.parse(json.expires_at) / 1000, server.clock.nowSeconds() + 72 * 3600);
    const token = url.searchParams.get('token')!;
    assert.ok(await server.storage.localAccounts.findPasswordToken(passwordTokenDigest(token), server.clock.nowSeconds()), 'stored under its digest');
    assert.equal(await server.storage.localAccounts.findPasswordToken(token, server.clock.nowSeconds()), undefined, 'never under the token itself');
    const events = await server.storage.audit.list({ limit: 1000 });
    const invited = events.find((event) => event.type === 'user.invited' && event.details?.user_id === user.id);
    assert.equal(invited?.actor, 'admin:ops');
    assert.ok(!JSON.stringify(events).includes(token), 'the link is not in the audit trail');
  });

  it('an invitation for an unknown user is 404 not_found and issues nothing', async () => {
    const { status, json } = await invite('00000000-0000-4000-8000-000000000000');
    assert.equal(status, 404);
    assert.equal(json.error, 'not_found');
  });

  it('refuses a password shorter than 12 code points with 400 and a field error, and sets nothing (NIST SP 800-63B §5.1.1.2)', async () => {
    const user = await newUser();
    const { json } = await invite(user.id);
    const browser = new Browser();
    const response = await setPassword(browser, json.url, 'short-pass1');
    assert.equal(response.status, 400);
    assert.match(response.text, /id="password-error"[^>]*>Use at least 12 characters/);
    // WCAG 1.3.1 / 3.3.1: the field names its error and says it was refused.
    assert.match(response.text, /<input id="password"[^>]* aria-describedby="password-error" aria-invalid="true">/);
    // A password is never written into a page, not even the refused one back to its author.
    assert.equal(inputValue(response.text, 'password'), undefined);
    assert.ok(!response.text.includes('short-pass1'));
    assert.equal(await passwordHashOf(user.id), null, 'no password was set');
    assert.equal((await browser.get(json.url)).status, 200, 'the link still works');
  });

  it('a refused form\'s language switch comes back to the link\'s form (issue 13), not to the home page without it', async () => {
    const user = await newUser();
    const { json } = await invite(user.id);
    const browser = new Browser();
    const refused = await setPassword(browser, json.url, 'short-pass1', 'short-pass1', { referer: json.url });
    assert.equal(refused.status, 400);
    const href = /<a href="(\/language\?locale=de&amp;[^"]*)"/.exec(refused.text)?.[1]?.replaceAll('&amp;', '&');
    assert.ok(href, 'a link to German');
    const switched = await browser.get(`${server.url}${href}`);
    assert.equal(switched.status, 303);
    const link = new URL(json.url);
    assert.equal(switched.location, `${link.pathname}${link.search}`, 'back to the form of the link');
    const form = await browser.get(`${server.url}${switched.location}`);
    assert.equal(form.status, 200);
    assert.match(form.text, /<html lang="de">/);
    assert.equal(inputValue(form.text, 'token'), link.searchParams.get('token'));
  });

  it('refuses a commonly used password and the account\'s own e-mail with 400, and sets nothing (NIST SP 800-63B §5.1.1.2)', async () => {
    const user = await newUser();
    const { json } = await invite(user.id);
    const common = await setPassword(new Browser(), json.url, 'qwerty123456');
    assert.equal(common.status, 400);
    assert.match(common.text, /most commonly used passwords/);
    const email = await setPassword(new Browser(), json.url, user.email);
    assert.equal(email.status, 400);
    assert.match(email.text, /cannot be your e-mail address/);
    const mismatch = await setPassword(new Browser(), json.url, NEW_PASSWORD, `${NEW_PASSWORD}!`);
    assert.equal(mismatch.status, 400);
    assert.match(mismatch.text, /id="password_confirmation-error"[^>]*>The two passwords differ/);
    assert.match(mismatch.text, /<input id="password_confirmation"[^>]* aria-describedby="password_confirmation-error" aria-invalid="true">/);
    assert.doesNotMatch(mismatch.text, /<input id="password"[^>]* aria-invalid/, 'only the refused field is marked');
    // The typed passwords are not written back into the page (neither field has a value).
    assert.ok(!mismatch.text.includes(NEW_PASSWORD) && !common.text.includes('qwerty123456'));
    assert.doesNotMatch(mismatch.text, /<input id="password(?:_confirmation)?"[^>]* value=/);
    assert.equal(await passwordHashOf(user.id), null);
  });

  it('sets the password once: the user signs in with it, every session of theirs ends, and the used link answers 410 and changes nothing', async () => {
    const signedIn = new Browser();
    assert.equal((await signIn(server, signedIn, alice.email, alice.password)).status, 303);
    assert.equal(/action="\/login[?"]/.test((await signedIn.get(`${server.url}/account/sessions`)).text), false, 'signed in before');
    const { json } = await invite(alice.id);
    const response = await setPassword(new Browser(), json.url, NEW_PASSWORD);
    assert.equal(response.status, 200);
    assert.match(response.text, /Your password is set/);
    assert.ok(/action="\/login[?"]/.test((await signedIn.get(`${server.url}/account/sessions`)).text), 'the earlier session ended');
    assert.equal((await signIn(server, new Browser(), alice.email, alice.password)).status, 401, 'the old password no longer works');
    assert.equal((await signIn(server, new Browser(), alice.email, NEW_PASSWORD)).status, 303);

    const hash = await passwordHashOf(alice.id);
    const again = new Browser();
    const gone = await again.get(json.url);
    assert.equal(gone.status, 410, 'a used link shows no form');
    // A way onward that fits: a new link, or home; not the authorization wording about an app.
    assert.match(gone.text, /<a href="\/account\/forgot-password">Forgot password\?<\/a>/);
    assert.doesNotMatch(gone.text, /You were not sent back to the application/);
    const page = await again.get(`${server.url}/account/forgot-password`);
    const replay = await again.post(`${server.url}/account/set-password`, {
      _csrf: inputValue(page.text, '_csrf')!, token: new URL(json.url).searchParams.get('token')!, password: 'another long password', password_confirmation: 'another long password',
    });
    assert.equal(replay.status, 410);
    assert.equal(await passwordHashOf(alice.id), hash, 'the used link changed nothing');
    // Put alice's password back for the other tests.
    const restore = await invite(alice.id);
    assert.equal((await setPassword(new Browser(), restore.json.url, alice.password)).status, 200);
  });

  it('setting a password voids the user\'s other unused links: a reset link mailed meanwhile answers 410 and sets nothing', async () => {
    // An invitation and a reset link are of different purposes, so neither voided the other when issued; once one
    // of them sets the password, the other is a second way to set it (whoever reads that mail takes the account).
    const user = await newUser();
    const { json } = await invite(user.id);
    const reset = await issuePasswordLink(server.storage, server.issuer, user.id, 'reset', server.clock.nowSeconds());
    assert.equal((await setPassword(new Browser(), json.url, NEW_PASSWORD)).status, 200);
    const hash = await passwordHashOf(user.id);
    const browser = new Browser();
    assert.equal((await browser.get(reset.url)).status, 410, 'the reset link shows no form');
    const page = await browser.get(`${server.url}/account/forgot-password`);
    const replay = await browser.post(`${server.url}/account/set-password`, {
      _csrf: inputValue(page.text, '_csrf')!, token: new URL(reset.url).searchParams.get('token')!, password: 'another long password', password_confirmation: 'another long password',
    });
    assert.equal(replay.status, 410);
    assert.match(replay.text, /no longer valid/);
    assert.equal(await passwordHashOf(user.id), hash, 'the password stays the one set');
    assert.equal((await signIn(server, new Browser(), user.email, NEW_PASSWORD)).status, 303);
  });

  it('a link answers 410 once 72 hours have passed, and a newer invitation voids the older', async () => {
    const user = await newUser();
    const first = await invite(user.id);
    const second = await invite(user.id);
    assert.equal((await new Browser().get(first.json.url)).status, 410, 'voided by the newer invitation');
    assert.equal((await new Browser().get(second.json.url)).status, 200);
    server.clock.advanceSeconds(72 * 3600);
    try {
      assert.equal((await new Browser().get(second.json.url)).status, 410);
    } finally {
      server.clock.advanceSeconds(-72 * 3600);
    }
    assert.equal(await passwordHashOf(user.id), null);
  });

  it('refuses a set-password form posted from another origin with 403 and sets nothing (SPEC decision 18)', async () => {
    const user = await newUser();
    const { json } = await invite(user.id);
    const response = await setPassword(new Browser(), json.url, NEW_PASSWORD, NEW_PASSWORD, { origin: 'https://attacker.example' });
    assert.equal(response.status, 403);
    assert.equal(await passwordHashOf(user.id), null);
    assert.equal((await new Browser().get(json.url)).status, 200, 'the link is not consumed');
  });
});
