/**
 * A deleted directory user (users.deleted_at set) signs nobody in: not through a session that outlived
 * the deletion, not by password. And a signed-in user who administers nothing of the app's subject type
 * gets a page saying so at /oauth/authorize (issue 10 §1), on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createPostgresStorage } from '../storage/postgres/postgres-storage.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { authorizeUrl, Browser, inputValue, pkcePair, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { dropTestSchema, newTestSchema, postgresSkipReason, TEST_DATABASE_URL } from '../testing/postgres.ts';
import { hashPassword } from '../users/password.ts';

const backends: { name: string; skip: () => Promise<string | false>; open: () => Promise<{ storage: Storage; cleanup(): Promise<void> }> }[] = [
  { name: 'SQLite', skip: async () => false, open: async () => ({ storage: createSqliteStorage(':memory:'), cleanup: async () => {} }) },
  {
    name: 'PostgreSQL', skip: postgresSkipReason,
    open: async () => {
      const schema = newTestSchema();
      return { storage: await createPostgresStorage(TEST_DATABASE_URL, { schema }), cleanup: () => dropTestSchema(schema) };
    },
  },
];

/** A directory user with a password, administering nothing. */
async function directoryUser(server: TestServer, password: string) {
  const userId = randomUUID();
  const email = `carol-${userId.slice(0, 8)}@example.com`;
  const now = server.clock.nowSeconds();
  assert.equal(await server.storage.directory.createUser({ userId, email, name: 'Carol Contractor', locale: null, createdAt: now, updatedAt: now }), 'created');
  assert.ok(await server.storage.users.setPasswordHash(userId, await hashPassword(password)));
  return { userId, email, password };
}

function authorizationRequest(server: TestServer): string {
  return authorizeUrl(server, {
    response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri, scope: 'users:read',
    state: 'partner-state', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256',
  });
}

async function logIn(server: TestServer, browser: Browser, returnTo: string, user: { email: string; password: string }) {
  const page = await browser.get(`${server.url}${returnTo}`);
  return browser.post(`${server.url}/login`, { _csrf: inputValue(page.text, '_csrf')!, return_to: returnTo, email: user.email, password: user.password });
}

for (const backend of backends) {
  describe(`deleted users and users who administer nothing: ${backend.name}`, { skip: await backend.skip() }, () => {
    let server: TestServer;
    let cleanup: () => Promise<void>;
    before(async () => {
      const opened = await backend.open();
      cleanup = opened.cleanup;
      server = await startTestServer({ storage: opened.storage });
    });
    after(async () => {
      await server.close();
      await cleanup();
    });

    it('refuses a session of a deleted user (users.deleted_at set), even one that outlived the deletion: the login page, not the account', async () => {
      const carol = await directoryUser(server, 'carol-password-1234');
      const browser = new Browser();
      assert.equal((await logIn(server, browser, '/account/sessions', carol)).status, 303);
      assert.match((await browser.get(`${server.url}/account/sessions`)).text, /Carol Contractor/);
      assert.ok(await server.storage.directory.deleteUser(carol.userId, server.clock.nowSeconds()));
      // A session left behind (a login racing the deletion): stored, unexpired, and still refused.
      const value = randomBytes(32).toString('base64url');
      const now = server.clock.nowSeconds();
      await server.storage.loginSessions.createWithDevice({
        sessionDigest: createHash('sha256').update(value).digest('base64url'), userId: carol.userId, createdAt: now, expiresAt: now + 3600, device: 'test',
      });
      const leftover = new Browser();
      leftover.cookies.set('gatehouse_session', value);
      const page = await leftover.get(`${server.url}/account/sessions`);
      assert.match(page.text, /action="\/login[?"]/, 'the login page');
      assert.doesNotMatch(page.text, /Carol Contractor/);
      const authorize = await leftover.get(authorizationRequest(server));
      assert.equal(authorize.status, 200);
      assert.match(authorize.text, /action="\/login[?"]/, 'no consent page, no code');
    });

    it('refuses the password of a deleted user: 401, no session', async () => {
      const carol = await directoryUser(server, 'carol-password-5678');
      assert.ok(await server.storage.directory.deleteUser(carol.userId, server.clock.nowSeconds()));
      const answer = await logIn(server, new Browser(), '/account/sessions', carol);
      assert.equal(answer.status, 401);
      assert.deepEqual(await server.storage.loginSessions.listActiveOfUser(carol.userId, server.clock.nowSeconds()), []);
    });

    it('shows a user who administers no company a page saying so at /oauth/authorize; access_denied reaches the app only through "Back to the app"', async () => {
      const carol = await directoryUser(server, 'carol-password-9012');
      const browser = new Browser();
      const request = authorizationRequest(server);
      const login = await logIn(server, browser, request.slice(server.url.length), carol);
      assert.equal(login.status, 303);
      const page = await browser.get(new URL(login.location!, server.url).href);
      assert.equal(page.status, 403, 'a page, not a redirect');
      assert.equal(page.location, undefined);
      assert.match(page.text, /You have no company to connect/);
      assert.match(page.text, /Ledgerly Sync connects to a company/);
      assert.match(page.text, /action="\/logout"/, 'a way onward: sign out and sign in as someone else');
      const back = /<a class="button primary" href="([^"]+)">Back to Ledgerly Sync<\/a>/.exec(page.text);
      assert.ok(back, 'a way back to the app');
      const target = new URL(back[1]!.replaceAll('&amp;', '&'));
      assert.equal(`${target.origin}${target.pathname}`, seed.confidentialClient.redirectUri);
      // RFC 6749 §4.1.2.1 and RFC 9207: error, state and iss; never a code.
      assert.equal(target.searchParams.get('error'), 'access_denied');
      assert.equal(target.searchParams.get('state'), 'partner-state');
      assert.equal(target.searchParams.get('iss'), server.issuer);
      assert.equal(target.searchParams.get('code'), null);
      const events = (await server.storage.audit.list()).filter((event) => event.actor === `user:${carol.userId}`);
      assert.deepEqual(events.filter((event) => event.type.startsWith('consent.')), [], 'no consent, no code');
    });
  });
}
