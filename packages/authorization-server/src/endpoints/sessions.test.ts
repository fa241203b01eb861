import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, inputValue, languageSwitchForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';

const alice = seed.users.alice;
const bob = seed.users.bob;
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const SAFARI_IOS = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

/** A browser stand-in that sends one User-Agent. */
class Device extends Browser {
  readonly userAgent: string;
  constructor(userAgent: string) {
    super();
    this.userAgent = userAgent;
  }
  override request(url: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers);
    headers.set('user-agent', this.userAgent);
    return super.request(url, { ...init, headers });
  }
}

async function signedIn(server: TestServer, userAgent: string, user: { email: string; password: string } = alice): Promise<Device> {
  const device = new Device(userAgent);
  const login = await device.get(`${server.url}/account/sessions`);
  const answer = await device.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: '/account/sessions', email: user.email, password: user.password });
  assert.equal(answer.status, 303);
  assert.equal(answer.location, '/account/sessions');
  return device;
}

/** The rows of the sessions page: id, device cell text, whether marked as this device. */
function rows(page: string): { id: string; device: string; current: boolean }[] {
  return [...page.matchAll(/<tr data-session-id="([^"]+)">\s*<td>(.*?)<\/td>/gs)].map((match) => ({
    id: match[1]!, device: match[2]!.replace(/ <strong class="current">\(this device\)<\/strong>/, ''), current: match[2]!.includes('(this device)'),
  }));
}

const signedInAs = async (server: TestServer, browser: Browser) => /<span class="user">([^<]*)<\/span>/.exec((await browser.get(`${server.url}/account/sessions`)).text)?.[1];

describe('/account/sessions (issue 10 §4: the user\'s active sessions, each can be ended)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('shows the login page, continuing at /account/sessions, when signed out', async () => {
    const page = await new Browser().get(`${server.url}/account/sessions`);
    assert.equal(page.status, 200);
    assert.equal(inputValue(page.text, 'return_to'), '/account/sessions');
  });

  it('lists the user\'s sessions with device (a short User-Agent summary), signed in and last seen; this one marked; nobody else\'s', async () => {
    const laptop = await signedIn(server, FIREFOX_LINUX);
    const phone = await signedIn(server, SAFARI_IOS);
    await signedIn(server, FIREFOX_LINUX, bob);
    const page = await laptop.get(`${server.url}/account/sessions`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    const listed = rows(page.text);
    const own = await server.storage.loginSessions.listActiveOfUser(alice.id, server.clock.nowSeconds());
    assert.equal(listed.length, own.length, 'exactly alice\'s sessions');
    assert.ok(listed.some((row) => row.device === 'Firefox on Linux' && row.current));
    assert.ok(listed.some((row) => row.device === 'Safari on iOS' && !row.current));
    assert.equal(listed.filter((row) => row.current).length, 1);
    assert.doesNotMatch(page.text, /Mozilla\/5\.0/, 'never the raw User-Agent');
    assert.match(page.text, /2027-01-15 08:00 UTC/, 'signed in and last seen, in UTC');
    assert.equal(rows((await phone.get(`${server.url}/account/sessions`)).text).find((row) => row.current)?.device, 'Safari on iOS');
  });

  it('shows a hostile User-Agent as "Unknown device" or a summary, never as markup', async () => {
    const browser = await signedIn(server, '<script>alert(1)</script> Firefox/1.0');
    const page = await browser.get(`${server.url}/account/sessions`);
    assert.doesNotMatch(page.text, /<script>/);
    assert.equal(rows(page.text).find((row) => row.current)?.device, 'Firefox');
  });

  it('moves "last seen" forward at most once a minute per session', async () => {
    // Written by the test's own flushes only: the periodic one (every second, real time) could land between a page and its check.
    const fresh = await startTestServer({ lastUseFlushIntervalMs: 60_000 });
    try {
      const browser = await signedIn(fresh, FIREFOX_LINUX);
      const start = fresh.clock.nowSeconds();
      const lastSeen = async () => (await fresh.storage.loginSessions.listActiveOfUser(alice.id, fresh.clock.nowSeconds()))[0]!.lastSeenAt;
      fresh.clock.advanceSeconds(59);
      await browser.get(`${fresh.url}/account/connected-apps`);
      await fresh.app.flushLastUses();
      assert.equal(await lastSeen(), start);
      fresh.clock.advanceSeconds(1);
      await browser.get(`${fresh.url}/marketplace`);
      assert.equal(await lastSeen(), start, 'noted, not written on the page\'s path (issue 12)');
      await fresh.app.flushLastUses();
      assert.equal(await lastSeen(), start + 60, 'written by the last-use recorder');
      fresh.clock.advanceSeconds(30);
      await browser.get(`${fresh.url}/account/sessions`);
      await fresh.app.flushLastUses();
      assert.equal(await lastSeen(), start + 60);
      // The sessions page writes what was noted before it lists: this very visit shows.
      fresh.clock.advanceSeconds(30);
      const page = await browser.get(`${fresh.url}/account/sessions`);
      assert.equal(await lastSeen(), start + 120, 'written before the page listed the sessions');
      assert.equal(page.status, 200);
    } finally {
      await fresh.close();
    }
  });

  it('"End session" asks for confirmation first (ending nothing), then ends that session only; it signs out at once', async () => {
    const laptop = await signedIn(server, FIREFOX_LINUX);
    const phone = await signedIn(server, SAFARI_IOS);
    const page = await laptop.get(`${server.url}/account/sessions`);
    const phoneRow = rows((await phone.get(`${server.url}/account/sessions`)).text).find((row) => row.current)!;
    const csrf = inputValue(page.text, '_csrf')!;
    const asked = await laptop.post(`${server.url}/account/sessions/${phoneRow.id}/end`, { _csrf: csrf });
    assert.equal(asked.status, 200);
    assert.match(asked.text, /End this session\?/);
    assert.match(asked.text, /Safari on iOS/);
    assert.equal(inputValue(asked.text, 'confirm'), 'yes');
    assert.equal(await signedInAs(server, phone), alice.name, 'the confirmation ended nothing');
    const ended = await laptop.post(`${server.url}/account/sessions/${phoneRow.id}/end`, { _csrf: inputValue(asked.text, '_csrf')!, confirm: 'yes' });
    assert.equal(ended.status, 303);
    assert.equal(ended.location, '/account/sessions?ended=1');
    assert.equal(await signedInAs(server, phone), undefined, 'the phone is signed out');
    assert.equal(await signedInAs(server, laptop), alice.name, 'the laptop is not');
    assert.ok(!rows((await laptop.get(`${server.url}/account/sessions`)).text).some((row) => row.id === phoneRow.id));
  });

  it("the confirmations' language switch (End session, Sign out everywhere else) shows each again in French and ends no session, confirm=yes or not", async () => {
    const laptop = await signedIn(server, FIREFOX_LINUX);
    const phone = await signedIn(server, SAFARI_IOS);
    const phoneRow = rows((await phone.get(`${server.url}/account/sessions`)).text).find((row) => row.current)!;
    const csrf = inputValue((await laptop.get(`${server.url}/account/sessions`)).text, '_csrf')!;
    for (const [path, heading] of [[`/account/sessions/${phoneRow.id}/end`, 'Fermer cette session ?'], ['/account/sessions/end-others', 'Se déconnecter partout ailleurs ?']] as const) {
      const asked = await laptop.post(`${server.url}${path}`, { _csrf: csrf });
      assert.equal(asked.status, 200);
      assert.doesNotMatch(asked.text, /href="\/language\?/, 'no link away from the pending confirmation');
      const toFrench = languageSwitchForm(asked.text, 'fr');
      assert.equal(toFrench.action, path);
      assert.equal(toFrench.body.get('confirm'), null, 'the switch does not confirm');
      for (const form of [Object.fromEntries(toFrench.body), { ...Object.fromEntries(toFrench.body), confirm: 'yes' }]) {
        const french = await laptop.post(`${server.url}${path}`, form);
        assert.equal(french.status, 200, 'a form with locale shows the confirmation, confirm=yes or not');
        assert.match(french.text, /<html lang="fr"/);
        assert.ok(french.text.includes(`<h1>${heading}</h1>`), heading);
        assert.equal(await signedInAs(server, phone), alice.name, 'the phone is still signed in');
      }
    }
    assert.equal(await signedInAs(server, laptop), alice.name);
  });

  it('refuses to end another user\'s session (404, as if unknown) and ends nothing', async () => {
    const mallory = await signedIn(server, FIREFOX_LINUX, bob);
    const victim = await signedIn(server, SAFARI_IOS, alice);
    const victimId = rows((await victim.get(`${server.url}/account/sessions`)).text).find((row) => row.current)!.id;
    const page = await mallory.get(`${server.url}/account/sessions`);
    for (const id of [victimId, 'AAAAAAAAAAAAAAAAAAAAAA']) {
      const response = await mallory.post(`${server.url}/account/sessions/${id}/end`, { _csrf: inputValue(page.text, '_csrf')!, confirm: 'yes' });
      assert.equal(response.status, 404);
      assert.equal(response.location, undefined);
      // In the account's frame (signed in, Sign out), with the way back to the list; nothing about an app.
      assert.match(response.text, /This session has ended already, or is not yours\./);
      assert.match(response.text, /<a href="\/account\/sessions">/);
      assert.match(response.text, /action="\/logout"/);
      assert.doesNotMatch(response.text, /sent back to the application/);
    }
    assert.equal(await signedInAs(server, victim), alice.name);
  });

  it('refuses to end a session without the CSRF token, or from another site (403), and ends nothing', async () => {
    const laptop = await signedIn(server, FIREFOX_LINUX);
    const phone = await signedIn(server, SAFARI_IOS);
    const phoneId = rows((await phone.get(`${server.url}/account/sessions`)).text).find((row) => row.current)!.id;
    const csrf = inputValue((await laptop.get(`${server.url}/account/sessions`)).text, '_csrf')!;
    assert.equal((await laptop.post(`${server.url}/account/sessions/${phoneId}/end`, { confirm: 'yes' })).status, 403);
    assert.equal((await laptop.post(`${server.url}/account/sessions/end-others`, { confirm: 'yes' })).status, 403);
    const crossSite = await laptop.request(`${server.url}/account/sessions/${phoneId}/end`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ _csrf: csrf, confirm: 'yes' }),
    });
    assert.equal(crossSite.status, 403);
    assert.equal(await signedInAs(server, phone), alice.name);
  });

  it('"Sign out everywhere else" asks first, then ends every other session of the user and keeps this one', async () => {
    const fresh = await startTestServer();
    try {
      const laptop = await signedIn(fresh, FIREFOX_LINUX);
      const others = [await signedIn(fresh, SAFARI_IOS), await signedIn(fresh, FIREFOX_LINUX)];
      const bobs = await signedIn(fresh, FIREFOX_LINUX, bob);
      const page = await laptop.get(`${fresh.url}/account/sessions`);
      assert.match(page.text, /Sign out everywhere else/);
      const asked = await laptop.post(`${fresh.url}/account/sessions/end-others`, { _csrf: inputValue(page.text, '_csrf')! });
      assert.equal(asked.status, 200);
      assert.match(asked.text, /2 other sessions will be signed out/);
      assert.match(asked.text, /<title>Sign out everywhere else\? · /, 'titled as what it confirms');
      for (const other of others) assert.equal(await signedInAs(fresh, other), alice.name, 'nothing ended before confirming');
      const ended = await laptop.post(`${fresh.url}/account/sessions/end-others`, { _csrf: inputValue(asked.text, '_csrf')!, confirm: 'yes' });
      assert.equal(ended.status, 303);
      assert.equal(ended.location, '/account/sessions?ended=others');
      for (const other of others) assert.equal(await signedInAs(fresh, other), undefined);
      assert.equal(await signedInAs(fresh, laptop), alice.name);
      assert.equal(await signedInAs(fresh, bobs), bob.name, 'another user\'s sessions stay');
      const after = await laptop.get(`${fresh.url}/account/sessions?ended=others`);
      assert.equal(rows(after.text).length, 1);
      assert.match(after.text, /You are signed in on this device only/);
    } finally {
      await fresh.close();
    }
  });
});
