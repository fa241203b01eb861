import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { basic, confidentialAuth, introspect, obtainTokens, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { registerClient, registerResourceServer } from '../clients/registration.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { StorageUnavailableError } from '../storage/storage-unavailable.ts';

/** SQLite storage whose `grants.recordUses` fails (with `error()`'s error) while `failing()` says so. */
function storageFailingRecordUses(failing: () => boolean, error = (): Error => new StorageUnavailableError(new Error('database is locked'))): Storage {
  const storage = createSqliteStorage(':memory:');
  return { ...storage, grants: { ...storage.grants, recordUses: (uses, interval) => (failing() ? Promise.reject(error()) : storage.grants.recordUses(uses, interval)) } };
}

describe('POST /oauth/token/introspect (RFC 7662; SPEC decision 14)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());
  const asClient = (token: string) => introspect(server, token, confidentialAuth());

  it('shows the client its own token as active with every member', async () => {
    const { tokens } = await obtainTokens(server, { scope: 'users:read' });
    const response = await postForm(`${server.url}/oauth/token/introspect`, { token: tokens.access_token, token_type_hint: 'access_token' }, { authorization: confidentialAuth() });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const body = response.json;
    assert.equal(body.active, true);
    assert.equal(body.scope, 'users:read');
    assert.equal(body.client_id, seed.confidentialClient.id);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.exp, server.clock.nowSeconds() + 900);
    assert.equal(body.iat, server.clock.nowSeconds());
    assert.equal(body.sub, seed.users.alice.id);
    assert.equal(body.aud, 'http://localhost:3001');
    assert.equal(body.iss, server.issuer);
    assert.match(body.jti, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'an opaque access token\'s jti: a UUIDv7 (tokens/token-pair.ts)');
    assert.equal(body['urn:gatehouse:params:oauth:subject_urn'], `urn:gatehouse:company:${seed.companies[0].id}`);
  });

  it("shows another client's token as inactive", async () => {
    const { tokens } = await obtainTokens(server);
    const { client: other, clientSecret } = await registerClient(
      { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
      { clientName: 'Curious App', clientType: 'confidential', redirectUris: ['https://curious.example/cb'], scopes: ['users:read'] },
    );
    assert.deepEqual(await introspect(server, tokens.access_token, basic(other.clientId, clientSecret!)), { active: false });
    assert.deepEqual(await introspect(server, tokens.refresh_token, basic(other.clientId, clientSecret!)), { active: false });
  });

  it('lets the resource server of the audience see access tokens, but not refresh tokens', async () => {
    const { tokens } = await obtainTokens(server);
    assert.equal((await introspect(server, tokens.access_token)).active, true);
    assert.deepEqual(await introspect(server, tokens.refresh_token), { active: false });
  });

  it('hides tokens from a resource server of another audience', async () => {
    const { tokens } = await obtainTokens(server);
    const { client: other, clientSecret } = await registerResourceServer(
      { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
      { name: 'Other API', audience: 'https://other-api.example' },
    );
    assert.deepEqual(await introspect(server, tokens.access_token, basic(other.clientId, clientSecret)), { active: false });
  });

  it('shows revoked, superseded and expired tokens as inactive', async () => {
    const { tokens } = await obtainTokens(server);
    const rotated = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
    assert.deepEqual(await asClient(tokens.access_token), { active: false }, 'superseded access token');
    assert.deepEqual(await asClient(tokens.refresh_token), { active: false }, 'rotated-out refresh token');
    await postForm(`${server.url}/oauth/revoke`, { token: rotated.json.refresh_token }, { authorization: confidentialAuth() });
    assert.deepEqual(await asClient(rotated.json.access_token), { active: false }, 'revoked grant');
    const { tokens: later } = await obtainTokens(server);
    server.clock.advanceSeconds(900);
    assert.deepEqual(await asClient(later.access_token), { active: false }, 'expired');
    assert.equal((await asClient(later.refresh_token)).active, true, 'the refresh token outlives the access token');
  });

  it('shows garbage and forged tokens as inactive', async () => {
    assert.deepEqual(await asClient('not-a-token'), { active: false });
    assert.deepEqual(await asClient(`gat_${'A'.repeat(43)}.${'B'.repeat(43)}`), { active: false });
  });

  it('requires client authentication, and refuses public clients', async () => {
    const anonymous = await postForm(`${server.url}/oauth/token/introspect`, { token: 'x' });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.json.error, 'invalid_client');
    const publicClient = await postForm(`${server.url}/oauth/token/introspect`, { token: 'x', client_id: seed.publicClient.id });
    assert.equal(publicClient.status, 401);
    assert.equal(publicClient.json.error, 'invalid_client');
  });

  it('refuses a missing token with invalid_request', async () => {
    const response = await postForm(`${server.url}/oauth/token/introspect`, {}, { authorization: confidentialAuth() });
    assert.equal(response.status, 400);
    assert.equal(response.json.error, 'invalid_request');
  });
});

describe('POST /oauth/revoke (RFC 7009; SPEC decision 15)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());
  const revoke = (token: string, authorization = confidentialAuth()) => postForm(`${server.url}/oauth/revoke`, { token }, { authorization });

  it('revoking a refresh token revokes the whole grant', async () => {
    const { tokens } = await obtainTokens(server);
    const response = await revoke(tokens.refresh_token);
    assert.equal(response.status, 200);
    assert.deepEqual(await introspect(server, tokens.access_token), { active: false });
    const refresh = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
    assert.equal(refresh.json.error, 'invalid_grant');
    assert.ok((await server.storage.audit.list()).some((event) => event.type === 'grant.revoked'));
  });

  it('revoking an access token revokes only that token', async () => {
    const { tokens } = await obtainTokens(server);
    assert.equal((await revoke(tokens.access_token)).status, 200);
    assert.deepEqual(await introspect(server, tokens.access_token), { active: false });
    const refresh = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
    assert.equal(refresh.status, 200);
  });

  it("answers 200 for another client's token and leaves it working", async () => {
    const { tokens } = await obtainTokens(server);
    const { client: other, clientSecret } = await registerClient(
      { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
      { clientName: 'Meddling App', clientType: 'confidential', redirectUris: ['https://meddling.example/cb'], scopes: ['users:read'] },
    );
    assert.equal((await revoke(tokens.refresh_token, basic(other.clientId, clientSecret!))).status, 200);
    assert.equal((await introspect(server, tokens.access_token)).active, true);
  });

  it('answers 200 for an unknown token (RFC 7009 §2.2)', async () => {
    assert.equal((await revoke('unknown-token')).status, 200);
  });

  it('requires client authentication', async () => {
    const response = await postForm(`${server.url}/oauth/revoke`, { token: 'x' });
    assert.equal(response.status, 401);
    assert.equal(response.json.error, 'invalid_client');
  });
});

/**
 * Uses are written by each test's own flushes: the periodic one (every second by default, real time) could
 * land between an introspection and the check that its use is noted but not yet written, on a loaded machine.
 */
const OWN_FLUSHES_ONLY = { lastUseFlushIntervalMs: 60_000 };

describe('last token use (connected apps, issue 7)', () => {
  it('an access token introspected as active records a use of its grant, at most once a minute', async () => {
    const server = await startTestServer(OWN_FLUSHES_ONLY);
    try {
      const { tokens } = await obtainTokens(server);
      const lastUsed = async () => (await server.storage.grants.listActive({ clientId: seed.confidentialClient.id }))[0]!.lastUsedAt;
      const issuedAt = server.clock.nowSeconds();
      assert.equal(await lastUsed(), issuedAt);
      server.clock.advanceSeconds(300);
      await introspect(server, tokens.access_token);
      assert.equal(await lastUsed(), issuedAt, 'noted, not written: the answer did not wait for a write (issue 12)');
      await server.app.flushLastUses();
      assert.equal(await lastUsed(), issuedAt + 300, 'written by the last-use recorder');
      server.clock.advanceSeconds(30);
      await introspect(server, tokens.access_token);
      await server.app.flushLastUses();
      assert.equal(await lastUsed(), issuedAt + 300, 'throttled');
    } finally {
      await server.close();
    }
  });

  it('an access token introspected within a minute of its issue writes nothing: its issue is already the last use shown', async () => {
    const server = await startTestServer(OWN_FLUSHES_ONLY);
    try {
      const { tokens } = await obtainTokens(server);
      const lastUsed = async () => (await server.storage.grants.listActive({ clientId: seed.confidentialClient.id }))[0]!.lastUsedAt;
      const issuedAt = server.clock.nowSeconds();
      server.clock.advanceSeconds(59);
      assert.equal((await introspect(server, tokens.access_token)).active, true);
      await server.app.flushLastUses();
      assert.equal(await lastUsed(), issuedAt, 'no write 59 s after the issue: the listing shows the issue');
      server.clock.advanceSeconds(1);
      assert.equal((await introspect(server, tokens.access_token)).active, true);
      await server.app.flushLastUses();
      assert.equal(await lastUsed(), issuedAt + 60, 'a minute after the issue, the use is recorded');
    } finally {
      await server.close();
    }
  });

  it('an introspection never waits for the use\'s write (issue 12): with the write held, it answers; released, the use is written', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => { release = resolve; });
    let writes = 0;
    const storage = createSqliteStorage(':memory:');
    const server = await startTestServer({ ...OWN_FLUSHES_ONLY, storage: { ...storage, grants: { ...storage.grants, recordUses: async (uses, interval) => {
      writes++;
      await held; // a write that takes as long as the test says
      return storage.grants.recordUses(uses, interval);
    } } } });
    try {
      const { tokens } = await obtainTokens(server);
      const issuedAt = server.clock.nowSeconds();
      server.clock.advanceSeconds(300);
      assert.equal((await introspect(server, tokens.access_token)).active, true);
      const flushing = server.app.flushLastUses();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(writes, 1, 'the use went to storage, and its write is held');
      server.clock.advanceSeconds(120);
      assert.equal((await introspect(server, tokens.access_token)).active, true, 'answered while the write is held');
      assert.equal((await storage.grants.listActive({ clientId: seed.confidentialClient.id }))[0]!.lastUsedAt, issuedAt);
      release();
      await flushing;
      await server.app.flushLastUses(); // the second introspection's use, noted while the first write was held
      assert.equal((await storage.grants.listActive({ clientId: seed.confidentialClient.id }))[0]!.lastUsedAt, issuedAt + 420);
    } finally {
      release();
      await server.close();
    }
  });

  it('a failed write of uses is logged once per failing spell: a warning for an outage, an error for anything else (it will not pass by itself)', async () => {
    for (const [error, level] of [[new StorageUnavailableError(new Error('database is locked')), 40], [new Error('CHECK constraint failed'), 50]] as const) {
      const lines: Array<{ level: number; msg: string }> = [];
      let failing = true;
      const storage = storageFailingRecordUses(() => failing, () => error);
      const server = await startTestServer({ ...OWN_FLUSHES_ONLY, storage, logger: { destination: { write: (line: string) => void lines.push(JSON.parse(line)) } } });
      try {
        const { tokens } = await obtainTokens(server);
        for (let i = 0; i < 3; i++) {
          server.clock.advanceSeconds(70); // past the minute: each introspection notes a use
          assert.equal((await introspect(server, tokens.access_token)).active, true);
          await server.app.flushLastUses();
        }
        const reported = lines.filter((line) => line.msg.startsWith('recording last uses failed'));
        assert.deepEqual(reported.map((line) => line.level), [level], `${error.message}: one report for three failed writes`);
        failing = false;
        await server.app.flushLastUses();
        assert.equal(lines.filter((line) => line.msg.startsWith('recording last uses failed')).length, 1, 'a write that succeeds reports nothing');
      } finally {
        await server.close();
      }
    }
  });

  it('a failed write of uses answers nothing differently and loses nothing: the next flush writes them; the server\'s close writes what is pending', async () => {
    let failing = true;
    const storage = storageFailingRecordUses(() => failing);
    const server = await startTestServer({ ...OWN_FLUSHES_ONLY, storage });
    try {
      const { tokens } = await obtainTokens(server);
      const lastUsed = async () => (await storage.grants.listActive({ clientId: seed.confidentialClient.id }))[0]!.lastUsedAt;
      const issuedAt = server.clock.nowSeconds();
      server.clock.advanceSeconds(300);
      assert.equal((await introspect(server, tokens.access_token)).active, true);
      await server.app.flushLastUses();
      assert.equal(await lastUsed(), issuedAt, 'the write failed');
      failing = false;
      await server.app.flushLastUses();
      assert.equal(await lastUsed(), issuedAt + 300, 'kept and written by the next flush');
      server.clock.advanceSeconds(100);
      assert.equal((await introspect(server, tokens.access_token)).active, true);
      await server.app.close();
      assert.equal(await lastUsed(), issuedAt + 400, 'written when the server closed, before its storage');
    } finally {
      await server.close();
    }
  });
});
