import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, inputValue, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { linkInMail, startMailCatcher, type MailCatcher } from '../testing/mail-catcher.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import { RESET_REQUESTS_PER_ADDRESS, RESET_REQUESTS_PER_EMAIL } from './password-reset.ts';

const postgresSkip = await postgresSkipReason();
const bob = seed.users.bob;
const NEW_PASSWORD = 'marmalade compass heron';

for (const backend of ['sqlite', 'postgres'] as const) describe(`forgot password over SMTP (issue 10 §3): ${backend}`, { skip: backend === 'postgres' ? postgresSkip : false }, () => {
  let server: TestServer;
  let mail: MailCatcher;
  before(async () => {
    mail = await startMailCatcher();
    server = await startTestServer({
      ...(backend === 'postgres' ? { storage: await createTestPostgresStorage() } : {}),
      localAccounts: { smtpUrl: mail.url, mailFrom: 'Gatehouse <no-reply@gatehouse.test>' },
    });
  });
  after(async () => {
    await server.close();
    await mail.close();
  });

  const askForReset = async (browser: Browser, email: string, headers: Record<string, string> = {}) => {
    const form = await browser.get(`${server.url}/account/forgot-password`);
    return browser.request(`${server.url}/account/forgot-password`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ _csrf: inputValue(form.text, '_csrf')!, email }),
    });
  };
  const signIn = async (browser: Browser, email: string, password: string) => {
    const page = await browser.get(`${server.url}/account/sessions`);
    return browser.post(`${server.url}/login`, { _csrf: inputValue(page.text, '_csrf')!, return_to: '/account/sessions', email, password });
  };
  const pageText = (html: string) => html.replace(/<input type="hidden" name="_csrf"[^>]*>/, '');

  it('the login page links to "Forgot password?"', async () => {
    const page = await new Browser().get(`${server.url}/account/sessions`);
    assert.match(page.text, /<a href="\/account\/forgot-password">Forgot password\?<\/a>/);
  });

  it('links back to the sign-in before and after sending (the sign-in of /account when signed out)', async () => {
    const browser = new Browser();
    const form = await browser.get(`${server.url}/account/forgot-password`);
    assert.match(form.text, /<a href="\/account">Back to sign in<\/a>/);
    const sent = await askForReset(browser, 'nobody-here@example.com');
    assert.equal(sent.status, 200);
    assert.match(sent.text, /<a href="\/account">Back to sign in<\/a>/);
    assert.match((await browser.get(`${server.url}/account`)).text, /name="password"/);
  });

  it('e-mails a one-hour reset link over SMTP; the link sets a new password once and ends the user\'s sessions', async () => {
    const signedIn = new Browser();
    assert.equal((await signIn(signedIn, bob.email, bob.password)).status, 303);
    const response = await askForReset(new Browser(), bob.email.toUpperCase());
    assert.equal(response.status, 200);
    assert.match(response.text, /If an account uses that address, we sent it a link/);
    const message = await mail.next();
    assert.deepEqual(message.to, [bob.email]);
    assert.match(message.raw, /From: Gatehouse <no-reply@gatehouse\.test>/);
    const link = linkInMail(message);

    const browser = new Browser();
    const form = await browser.get(link);
    assert.equal(form.status, 200);
    const set = await browser.post(`${server.url}/account/set-password`, {
      _csrf: inputValue(form.text, '_csrf')!, token: inputValue(form.text, 'token')!, password: NEW_PASSWORD, password_confirmation: NEW_PASSWORD,
    });
    assert.equal(set.status, 200);
    assert.ok(/action="\/login[?"]/.test((await signedIn.get(`${server.url}/account/sessions`)).text), 'bob\'s other session ended');
    assert.equal((await signIn(new Browser(), bob.email, NEW_PASSWORD)).status, 303);
    assert.equal((await new Browser().get(link)).status, 410, 'single use');
  });

  it('answers an unknown address with the same page and sends nothing (the answer never reveals whether an address exists)', async () => {
    const before = mail.messages.length;
    const known = await askForReset(new Browser(), 'alice@example.com');
    const unknown = await askForReset(new Browser(), 'nobody-here@example.com');
    assert.equal(unknown.status, known.status);
    assert.equal(pageText(unknown.text), pageText(known.text));
    await mail.next(); // alice's
    await new Promise((resolve) => setTimeout(resolve, 200)); // room for a (wrong) second message to arrive
    assert.equal(mail.messages.length, before + 1, 'only the known address got mail');
  });

  it('refuses a malformed address at its field, keeping it, and sends nothing (no account can have it)', async () => {
    const before = mail.messages.length;
    for (const typed of ['not-an-email', 'bob@', '@example.com', 'bob example@example.com', '']) {
      const response = await askForReset(new Browser(), typed);
      assert.equal(response.status, 400, typed);
      assert.match(response.text, /<p class="field-error" id="email-error">Type the e-mail address of your account\.<\/p>/, typed);
      assert.match(response.text, new RegExp(`<input id="email" name="email"[^>]* value="${typed}" aria-describedby="email-error" aria-invalid="true">`), typed);
      assert.doesNotMatch(response.text, /we sent it a link/);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(mail.messages.length, before);
  });

  it('a sign-in form that expired (CSRF) offers the page the sign-in was for, not the app\'s message', async () => {
    const browser = new Browser();
    await browser.get(`${server.url}/account/sessions`);
    const expired = await browser.post(`${server.url}/login`, { _csrf: 'expired', return_to: '/portal', email: bob.email, password: bob.password });
    assert.equal(expired.status, 403);
    assert.match(expired.text, /The form was not sent from this site, or it expired\. Nothing was changed\./);
    assert.doesNotMatch(expired.text, /Go back to the app/);
    assert.match(expired.text, /<a[^>]* href="\/portal"[^>]*>Open the page again<\/a>/);
    // A return_to that is not a page of this server is not linked: the home page instead.
    const elsewhere = await browser.post(`${server.url}/login`, { _csrf: 'expired', return_to: '//evil.example/', email: bob.email, password: bob.password });
    assert.match(elsewhere.text, /<a[^>]* href="\/"[^>]*>Open the page again<\/a>/);
    assert.doesNotMatch(elsewhere.text, /evil\.example/);
    // The login of an authorization request still speaks of the app.
    const forApp = await browser.post(`${server.url}/login`, { _csrf: 'expired', return_to: '/oauth/authorize?client_id=x', email: bob.email, password: bob.password });
    assert.match(forApp.text, /Go back to the app and start connecting again/);
  });

  it('a reset link answers 410 after one hour and sets nothing', async () => {
    const before = (await server.storage.users.find(seed.developer.id))!.passwordHash;
    await askForReset(new Browser(), seed.developer.email);
    const link = linkInMail(await mail.next());
    server.clock.advanceSeconds(3600);
    try {
      assert.equal((await new Browser().get(link)).status, 410);
    } finally {
      server.clock.advanceSeconds(-3600);
    }
    assert.equal((await server.storage.users.find(seed.developer.id))!.passwordHash, before);
  });

  it(`limits requests per e-mail address to ${RESET_REQUESTS_PER_EMAIL} an hour with 429 and Retry-After, and sends nothing more (RFC 6585 §4)`, async () => {
    const email = 'rate-limited-nobody@example.com';
    for (let i = 0; i < RESET_REQUESTS_PER_EMAIL; i++) assert.equal((await askForReset(new Browser(), email)).status, 200);
    const refused = await askForReset(new Browser(), email);
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.match(refused.text, /Too many requests/);
  });

  it('refuses a reset request posted from another origin with 403 and sends nothing (SPEC decision 18)', async () => {
    const before = mail.messages.length;
    const response = await askForReset(new Browser(), bob.email, { origin: 'https://attacker.example' });
    assert.equal(response.status, 403);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(mail.messages.length, before);
  });
});

describe('forgot password: limits per client address, and no link in the logs (issue 10 §3)', () => {
  it(`refuses requests beyond ${RESET_REQUESTS_PER_ADDRESS} an hour from one address with 429, whatever the e-mail; no log line holds a link's token`, async () => {
    const mail = await startMailCatcher();
    const lines: string[] = [];
    const server = await startTestServer({ localAccounts: { smtpUrl: mail.url }, logger: { destination: { write: (line: string) => void lines.push(line) } } });
    try {
      const browser = new Browser();
      const form = await browser.get(`${server.url}/account/forgot-password`);
      const ask = (email: string) => browser.post(`${server.url}/account/forgot-password`, { _csrf: inputValue(form.text, '_csrf')!, email });
      assert.equal((await ask(bob.email)).status, 200);
      const link = linkInMail(await mail.next());
      const setForm = await browser.get(link);
      await browser.post(`${server.url}/account/set-password`, {
        _csrf: inputValue(setForm.text, '_csrf')!, token: inputValue(setForm.text, 'token')!, password: 'short', password_confirmation: 'short',
      });
      for (let i = 1; i < RESET_REQUESTS_PER_ADDRESS; i++) assert.equal((await ask(`someone-${i}@example.com`)).status, 200);
      const refused = await ask('yet-another@example.com');
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get('retry-after')) > 0);

      const token = new URL(link).searchParams.get('token')!;
      assert.ok(lines.length > 0, 'requests were logged');
      assert.deepEqual(lines.filter((line) => line.includes(token)), [], 'no log line holds the token');
    } finally {
      await server.close();
      await mail.close();
    }
  });
});

for (const backend of ['sqlite', 'postgres'] as const) describe(`forgot password: the link is stored after the answer, which never waits on whether an address has an account: ${backend}`, { skip: backend === 'postgres' ? postgresSkip : false }, () => {
  let server: TestServer;
  let mail: MailCatcher;
  /** Link writes attempted (each refused: a storage that cannot store a link). */
  let writes = 0;
  before(async () => {
    mail = await startMailCatcher();
    const storage = backend === 'postgres' ? await createTestPostgresStorage() : createSqliteStorage(':memory:');
    storage.localAccounts.createPasswordToken = async () => {
      writes += 1;
      throw new Error('the link could not be stored');
    };
    server = await startTestServer({ storage, localAccounts: { smtpUrl: mail.url, mailFrom: 'Gatehouse <no-reply@gatehouse.test>' } });
  });
  after(async () => {
    await server.close();
    await mail.close();
  });

  it('a known address whose link cannot be stored gets the page an unknown address gets (200), and no mail', async () => {
    // Only an address with an account stores a link (a transaction of its own): done before the answer, its time
    // and its failures told who has an account. Done after, the answer is the same either way.
    const ask = async (email: string) => {
      const browser = new Browser();
      const form = await browser.get(`${server.url}/account/forgot-password`);
      return browser.post(`${server.url}/account/forgot-password`, { _csrf: inputValue(form.text, '_csrf')!, email });
    };
    const pageText = (html: string) => html.replace(/<input type="hidden" name="_csrf"[^>]*>/, '');
    const unknown = await ask('nobody-here@example.com');
    const known = await ask(bob.email);
    assert.equal(unknown.status, 200);
    assert.equal(known.status, 200);
    assert.equal(pageText(known.text), pageText(unknown.text));
    assert.match(known.text, /If an account uses that address, we sent it a link/);
    // The write is attempted (for bob only), after the answer, and fails: nothing is mailed.
    while (writes === 0) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(writes, 1);
    assert.equal(mail.messages.length, 0, 'no mail without a stored link');
  });
});
