import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Browser, inputValue, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import { wrapStorageOperations } from '../storage/wrap-storage.ts';
import { hashPassword } from '../users/password.ts';
import { DEFAULT_LOGIN_THROTTLE_RULES } from './login-throttle.ts';

// Issue 10 §3 / SPEC decision 18: login throttling that does not lock the office out. The server trusts
// X-Forwarded-For here so each test browser can stand at its own address.
const alice = seed.users.alice;
const bob = seed.users.bob;
const OFFICE = '192.0.2.7';

/** A browser stand-in at one client address (X-Forwarded-For through a trusted proxy). */
class At extends Browser {
  readonly address: string;
  constructor(address: string) {
    super();
    this.address = address;
  }
  override request(url: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', this.address);
    return super.request(url, { ...init, headers });
  }
}

/** One login attempt from `browser`; answers the status, Retry-After and the page. */
async function login(server: TestServer, browser: Browser, email: string, password: string) {
  const form = await browser.get(`${server.url}/account/sessions`);
  const csrf = inputValue(form.text, '_csrf')!;
  const response = await browser.post(`${server.url}/login`, { _csrf: csrf, return_to: '/account/sessions', email, password });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), text: response.text, location: response.location, setCookies: response.headers.getSetCookie() };
}

const sessionsOf = (server: TestServer, userId: string) => server.storage.loginSessions.listActiveOfUser(userId, server.clock.nowSeconds());

describe('POST /login throttling (issue 10 §3: growing delays, no lockout, known devices)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ trustProxy: true });
  });
  after(() => server.close());

  it('slows an attacker spraying one account from one address: 429 with Retry-After and "Try again in N seconds", no password checked, no session', async () => {
    const attacker = new At('203.0.113.9');
    for (let i = 0; i < 5; i++) assert.equal((await login(server, attacker, bob.email, `guess-${i}`)).status, 401);
    // Even the right password is refused unread: the attempt stops before any password check.
    const slowed = await login(server, attacker, bob.email, bob.password);
    assert.equal(slowed.status, 429);
    assert.equal(slowed.retryAfter, '1');
    assert.match(slowed.text, /Too many failed attempts\. Try again in 1 second\./);
    assert.equal(slowed.location, undefined);
    assert.ok(!slowed.setCookies.some((line) => line.startsWith('gatehouse_session=')), 'no session cookie');
    assert.deepEqual(await sessionsOf(server, bob.id), [], 'no session created');
    // Each further failure doubles the wait: 1 s, 2 s, 4 s …
    server.clock.advanceSeconds(1);
    assert.equal((await login(server, attacker, bob.email, 'guess-5')).status, 401);
    assert.equal((await login(server, attacker, bob.email, bob.password)).retryAfter, '2');
    server.clock.advanceSeconds(2);
    assert.equal((await login(server, attacker, bob.email, 'guess-6')).status, 401);
    assert.equal((await login(server, attacker, bob.email, 'guess-7')).retryAfter, '4');
    // Never a lockout: after the wait the right password works (and forgets this address's failures on bob).
    server.clock.advanceSeconds(4);
    assert.equal((await login(server, attacker, bob.email, bob.password)).status, 303);
  });

  it('alice still signs in from the office address after bob\'s and an attacker\'s failures from that address', async () => {
    const office = () => new At(OFFICE);
    for (let i = 0; i < 4; i++) assert.equal((await login(server, office(), bob.email, 'typo')).status, 401);
    // An attacker in the office: one account hammered (slowed), and a spray over many accounts.
    for (let i = 0; i < 8; i++) await login(server, office(), 'carol@example.com', `guess-${i}`);
    assert.equal((await login(server, office(), 'carol@example.com', 'guess')).status, 429);
    for (let i = 0; i < 30; i++) assert.equal((await login(server, office(), `user${i}@example.com`, 'guess')).status, 401);
    // Alice, on a browser never used before, at the same address.
    const answer = await login(server, office(), alice.email, alice.password);
    assert.equal(answer.status, 303);
    assert.equal(answer.location, '/account/sessions');
    // And bob, who only mistyped, too.
    assert.equal((await login(server, office(), bob.email, bob.password)).status, 303);
  });

  it('sets a long-lived device cookie at a successful login, stored only as a SHA-256 with the user; kept while known, replaced when not known for that user', async () => {
    const laptop = new At(OFFICE);
    const first = await login(server, laptop, alice.email, alice.password);
    const line = first.setCookies.find((cookie) => cookie.startsWith('gatehouse_device='))!;
    assert.match(line, /; Max-Age=15552000/);
    assert.match(line, /; HttpOnly/);
    assert.match(line, /; SameSite=Strict/, 'only our own login form needs it');
    const value = laptop.cookies.get('gatehouse_device')!;
    assert.match(value, /^[A-Za-z0-9_-]{43}$/);
    const digest = createHash('sha256').update(value).digest('base64url');
    const now = server.clock.nowSeconds();
    assert.equal(await server.storage.knownDevices.isKnown(digest, alice.id, now), true);
    assert.equal(await server.storage.knownDevices.isKnown(digest, bob.id, now), false);
    await login(server, laptop, alice.email, alice.password);
    assert.equal(laptop.cookies.get('gatehouse_device'), value, 'kept (and extended) while known for alice');
    // Bob signs in on alice's laptop: the value is not known for bob, so the browser gets a new one.
    await login(server, laptop, bob.email, bob.password);
    const bobs = laptop.cookies.get('gatehouse_device')!;
    assert.notEqual(bobs, value);
    assert.equal(await server.storage.knownDevices.isKnown(createHash('sha256').update(bobs).digest('base64url'), bob.id, now), true);
    // A planted value (never known for anyone) is replaced, never made known.
    const planted = randomBytes(32).toString('base64url');
    laptop.cookies.set('gatehouse_device', planted);
    await login(server, laptop, alice.email, alice.password);
    assert.notEqual(laptop.cookies.get('gatehouse_device'), planted);
    assert.equal(await server.storage.knownDevices.isKnown(createHash('sha256').update(planted).digest('base64url'), alice.id, now), false);
  });

  it('a known device signs in even while the account is attacked from elsewhere and from its own address', async () => {
    const fresh = await startTestServer({ trustProxy: true });
    try {
      const laptop = new At(OFFICE);
      assert.equal((await login(fresh, laptop, alice.email, alice.password)).status, 303);
      // A spray on alice's account from 25 addresses (over the account's 20 free failures) …
      for (let i = 0; i < 25; i++) await login(fresh, new At(`198.51.100.${i + 1}`), alice.email, 'guess');
      // … and from the office address itself (over its 5 free failures for alice).
      for (let i = 0; i < 6; i++) await login(fresh, new At(OFFICE), alice.email, 'guess');
      const unknown = await login(fresh, new At(OFFICE), alice.email, alice.password);
      assert.equal(unknown.status, 429, 'a browser alice never used waits');
      const known = await login(fresh, laptop, alice.email, alice.password);
      assert.equal(known.status, 303, 'her laptop signs in at once');
      // A device cookie alice's laptop never had (forged, or another user's device) earns nothing.
      const forged = new At(OFFICE);
      forged.cookies.set('gatehouse_device', randomBytes(32).toString('base64url'));
      assert.equal((await login(fresh, forged, alice.email, alice.password)).status, 429);
    } finally {
      await fresh.close();
    }
  });

  it('an address trying many accounts meets its ceiling (then 60 s and more between attempts); a known device behind it still signs in', async () => {
    // The default ceiling is 100 failures (login-throttle.test.ts); 12 here keeps the test short.
    const address = { ...DEFAULT_LOGIN_THROTTLE_RULES.address, freeFailures: 12 };
    const fresh = await startTestServer({ trustProxy: true, loginThrottle: { address } });
    try {
      const laptop = new At(OFFICE);
      assert.equal((await login(fresh, laptop, alice.email, alice.password)).status, 303);
      for (let i = 0; i < 12; i++) assert.equal((await login(fresh, new At(OFFICE), `user${i}@example.com`, 'guess')).status, 401, `attempt ${i}`);
      const ceiling = await login(fresh, new At(OFFICE), bob.email, bob.password);
      assert.equal(ceiling.status, 429);
      assert.equal(ceiling.retryAfter, '60');
      assert.match(ceiling.text, /Try again in 60 seconds\./);
      assert.equal((await login(fresh, laptop, alice.email, alice.password)).status, 303);
    } finally {
      await fresh.close();
    }
  });
});

describe('POST /login ends the session the browser presented before (sessions are replaced, never left behind)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  /** Whether `cookie`, presented alone as the session cookie, still signs a browser in (the sessions page, not the login page). */
  async function signsIn(cookie: string): Promise<boolean> {
    const probe = new Browser();
    probe.cookies.set('gatehouse_session', cookie);
    const page = await probe.get(`${server.url}/account/sessions`);
    assert.equal(page.status, 200);
    return !page.text.includes('name="password"');
  }
  const digestOf = (cookie: string) => createHash('sha256').update(cookie).digest('base64url');

  it("another user's sign-in in the same browser ends the previous user's session: its cookie no longer works and it is gone from their sessions", async () => {
    const shared = new Browser();
    assert.equal((await login(server, shared, bob.email, bob.password)).status, 303);
    const bobsCookie = shared.cookies.get('gatehouse_session')!;
    assert.equal(await signsIn(bobsCookie), true, 'signed in as bob');
    const bobsOthers = (await sessionsOf(server, bob.id)).length;
    assert.equal((await login(server, shared, alice.email, alice.password)).status, 303);
    const alicesCookie = shared.cookies.get('gatehouse_session')!;
    assert.notEqual(alicesCookie, bobsCookie);
    assert.equal(await signsIn(bobsCookie), false, "bob's old cookie signs nobody in");
    assert.equal(await server.storage.loginSessions.findActive(digestOf(bobsCookie), server.clock.nowSeconds()), undefined, 'deleted in storage');
    assert.equal((await sessionsOf(server, bob.id)).length, bobsOthers - 1, "not on bob's sessions page");
    assert.equal(await signsIn(alicesCookie), true, 'the new session works');
  });

  it("the same user signing in again keeps one session, not two; a cookie naming no session changes nobody's", async () => {
    const browser = new Browser();
    const before = (await sessionsOf(server, alice.id)).length;
    assert.equal((await login(server, browser, alice.email, alice.password)).status, 303);
    const first = browser.cookies.get('gatehouse_session')!;
    assert.equal((await login(server, browser, alice.email, alice.password)).status, 303);
    assert.equal(await signsIn(first), false, 'the first cookie no longer works');
    assert.equal((await sessionsOf(server, alice.id)).length, before + 1, 'one session for this browser');
    // A refused login ends nothing: the session stays.
    const kept = browser.cookies.get('gatehouse_session')!;
    assert.equal((await login(server, browser, alice.email, 'not-her-password')).status, 401);
    assert.equal(await signsIn(kept), true, 'a failed sign-in leaves the session alone');
    // A stale or made-up cookie is harmless.
    const stranger = new Browser();
    stranger.cookies.set('gatehouse_session', randomBytes(32).toString('base64url'));
    assert.equal((await login(server, stranger, bob.email, bob.password)).status, 303);
    assert.equal(await signsIn(kept), true);
  });
});

// PostgreSQL folds case with lower(); the login once lowercased the typed address in JavaScript first, which
// differs from lower() for a word-final capital sigma ("ΟΔΟΣ".toLowerCase() ends in ς, lower() in σ).
for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`POST /login finds an address in any case, as each database folds it: ${backend}`, { skip: backend === 'postgres' ? await postgresSkipReason() : false }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(backend === 'postgres' ? { storage: await createTestPostgresStorage() } : {});
    });
    after(() => server.close());

    it('a Greek address signs in typed as stored and in capitals or small letters', async () => {
      const userId = randomUUID();
      const now = server.clock.nowSeconds();
      const email = `ΟΔΟΣ-${userId.slice(0, 8)}@example.gr`;
      await server.storage.directory.createUser({ userId, email, name: 'Ελένη', locale: null, createdAt: now, updatedAt: now });
      await server.storage.users.setPasswordHash(userId, await hashPassword('olive grove lantern'));
      for (const typed of [email, email.toLowerCase(), ` ${email} `]) {
        const result = await login(server, new Browser(), typed, 'olive grove lantern');
        assert.equal(result.status, 303, typed);
      }
      assert.equal((await sessionsOf(server, userId)).length, 3);
    });

    it('an address with a NUL character is an ordinary failed login (401), not a database error', async () => {
      const result = await login(server, new Browser(), `a\u0000b-${randomUUID().slice(0, 8)}@example.com`, 'whatever');
      assert.equal(result.status, 401);
    });
  });
}

// Issue 10 §3 / SPEC decision 18: a refused login says nothing about whether the address has an account, in
// its words (the same page) or its time: the argon2id check runs on a decoy hash for an unknown address, and
// the storage reads before it must be the same too.
for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`POST /login reads the same before the password check whether or not the address has an account: ${backend}`, { skip: backend === 'postgres' ? await postgresSkipReason() : false }, () => {
    let server: TestServer;
    /** The user and known-device operations of the request being recorded. */
    let recorded: string[] | undefined;
    before(async () => {
      const storage = backend === 'postgres' ? await createTestPostgresStorage() : createSqliteStorage(':memory:');
      server = await startTestServer({
        storage: wrapStorageOperations(storage, (operation, call) => (...args) => {
          if (recorded && /^(users|knownDevices)\./.test(operation)) recorded.push(operation);
          return call(...args);
        }),
      });
    });
    after(() => server.close());

    /** A wrong password from a browser that brings a device cookie (its own, known for no one). */
    const refusedLogin = async (email: string) => {
      const browser = new Browser();
      browser.cookies.set('gatehouse_device', randomBytes(32).toString('base64url'));
      const form = await browser.get(`${server.url}/account/sessions`);
      recorded = [];
      try {
        const response = await browser.post(`${server.url}/login`, { _csrf: inputValue(form.text, '_csrf')!, return_to: '/account/sessions', email, password: 'not the password' });
        return { status: response.status, text: response.text.replace(/<input type="hidden" name="_csrf"[^>]*>/, '').replace(/value="[^"]*@example\.com"/, ''), reads: recorded };
      } finally {
        recorded = undefined;
      }
    };

    it('a known and an unknown address with a device cookie: 401, the same page, and the same reads (no known-device lookup for the known one only)', async () => {
      const known = await refusedLogin(bob.email);
      const unknown = await refusedLogin(`nobody-${randomUUID().slice(0, 8)}@example.com`);
      assert.equal(known.status, 401);
      assert.equal(unknown.status, 401);
      assert.equal(known.text, unknown.text);
      assert.deepEqual(known.reads, unknown.reads);
      assert.ok(known.reads.includes('users.findByEmail'), 'the reads were recorded');
    });
  });
}
