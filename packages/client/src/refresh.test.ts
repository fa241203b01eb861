import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AuthorizationServerError, ReauthorizationRequiredError, RefreshFailedError } from './errors.ts';
import type { ReauthorizationRequiredEvent } from './events.ts';
import { createMemoryTokenStore } from './stores/memory.ts';
import type { TokenStore } from './token-store.ts';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from './testing/fake-authorization-server.ts';
import { connectThroughFake } from './testing/fake-connection.ts';

describe('centralised refresh (SPEC §3 integrator rules)', () => {
  let fake: FakeAuthorizationServer;
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
  });
  afterEach(async () => {
    await fake.close();
  });
  const refreshes = () => fake.tokenRequests('refresh_token').length;

  it('uses the stored access token until refreshMarginSeconds before expires_in runs out, then refreshes', async () => {
    const { client, connectionId, clock } = await connectThroughFake(fake, { refreshMarginSeconds: 60 });
    const first = await client.getAccessToken(connectionId);
    clock.advanceSeconds(900 - 60 - 1);
    assert.equal(await client.getAccessToken(connectionId), first);
    assert.equal(refreshes(), 0);
    clock.advanceSeconds(1);
    const second = await client.getAccessToken(connectionId);
    assert.notEqual(second, first);
    assert.equal(refreshes(), 1);
  });

  it('shares one in-flight refresh among 100 concurrent callers in one process', async () => {
    const { client, connectionId, clock } = await connectThroughFake(fake);
    clock.advanceSeconds(1000);
    const tokens = await Promise.all(Array.from({ length: 100 }, () => client.getAccessToken(connectionId)));
    assert.equal(new Set(tokens).size, 1);
    assert.equal(refreshes(), 1);
  });

  it('never presents a refresh token twice: each refresh sends the token the previous one returned', async () => {
    const { client, connectionId, clock } = await connectThroughFake(fake);
    for (let round = 0; round < 3; round++) {
      clock.advanceSeconds(1000);
      await client.getAccessToken(connectionId);
    }
    const presented = fake.tokenRequests('refresh_token').map((request) => request.form.get('refresh_token'));
    assert.equal(presented.length, 3);
    assert.equal(new Set(presented).size, 3);
  });

  it('stores both rotated tokens before any caller gets the new access token', async () => {
    const store = createMemoryTokenStore();
    let releaseWrite!: () => void;
    const writeStarted = Promise.withResolvers<void>();
    const slowStore: TokenStore = {
      ...store,
      async replaceTokens(...args) {
        writeStarted.resolve();
        await new Promise<void>((resolve) => {
          releaseWrite = resolve;
        });
        return store.replaceTokens(...args);
      },
    };
    const { client, connectionId, clock } = await connectThroughFake(fake, { store: slowStore });
    clock.advanceSeconds(1000);
    let resolved = false;
    const pending = client.getAccessToken(connectionId).then((token) => {
      resolved = true;
      return token;
    });
    await writeStarted.promise;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(resolved, false, 'no caller has the new token while it is not stored');
    releaseWrite();
    const token = await pending;
    assert.equal(token, fake.issuedTokens.at(-1));
    assert.equal((await store.get(connectionId))?.version, 2);
    assert.equal(await client.getAccessToken(connectionId), token);
    assert.equal(refreshes(), 1);
  });

  it('retries a token endpoint that fails twice with 503, then succeeds, with jittered exponential delays', async () => {
    const { client, connectionId, clock, sleeps, logs } = await connectThroughFake(fake, { random: () => 0.5 });
    fake.refreshScript.push({ kind: 'status', status: 503 }, { kind: 'status', status: 503 });
    clock.advanceSeconds(1000);
    await client.getAccessToken(connectionId);
    assert.equal(refreshes(), 3);
    // Full jitter: random × min(8000, 250 × 2^(n−1)) with random = 0.5.
    assert.deepEqual(sleeps, [125, 250]);
    assert.deepEqual(
      logs.filter((entry) => entry.event === 'refresh_outcome').map((entry) => [entry.outcome, entry.reason]),
      [['retrying', 'http_503'], ['retrying', 'http_503'], ['succeeded', 'expiring']],
    );
  });

  it('stops after maxAttempts when the token endpoint always fails, and keeps the tokens for later', async () => {
    const { client, connectionId, clock, sleeps } = await connectThroughFake(fake, { retryPolicy: { maxAttempts: 3 } });
    for (let index = 0; index < 10; index++) fake.refreshScript.push({ kind: 'status', status: 503 });
    clock.advanceSeconds(1000);
    await assert.rejects(client.getAccessToken(connectionId), (error: unknown) => {
      assert.ok(error instanceof RefreshFailedError);
      assert.equal(error.attempts, 3);
      assert.equal(error.reason, 'http_503');
      return true;
    });
    assert.equal(refreshes(), 3);
    assert.equal(sleeps.length, 2);
    assert.equal((await client.getConnection(connectionId))?.status, 'active');
    fake.refreshScript.length = 0;
    await client.getAccessToken(connectionId);
    assert.equal(refreshes(), 4, 'the kept refresh token still works');
  });

  it('honours Retry-After on 429, and gives up, saying so, when it is past the retry budget (maxElapsedMilliseconds)', async () => {
    const { client, connectionId, clock, sleeps } = await connectThroughFake(fake, { random: () => 0 });
    fake.refreshScript.push(
      { kind: 'status', status: 429, headers: { 'retry-after': '2' } },
      { kind: 'status', status: 429, headers: { 'retry-after': '3600' } },
    );
    clock.advanceSeconds(1000);
    await assert.rejects(client.getAccessToken(connectionId), (error: unknown) =>
      error instanceof RefreshFailedError && error.attempts === 2 && error.reason === 'http_429 (Retry-After 3600 s is past the retry budget)');
    assert.deepEqual(sleeps, [2000]);
  });

  it('retries when the authorization server cannot be reached at all', async () => {
    let failures = 1;
    const { client, connectionId, clock, logs } = await connectThroughFake(fake, {
      fetch: async (input, init) => {
        if (String(input).endsWith('/oauth/token') && new URLSearchParams(String(init?.body)).get('grant_type') === 'refresh_token' && failures-- > 0) {
          throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
        }
        return fetch(input, init);
      },
    });
    clock.advanceSeconds(1000);
    await client.getAccessToken(connectionId);
    assert.equal(refreshes(), 1);
    assert.ok(logs.some((entry) => entry.outcome === 'retrying' && entry.reason === 'network'));
  });

  it('on invalid_grant marks the connection reauthorization_required, deletes its tokens, emits an event, then fails fast', async () => {
    const store = createMemoryTokenStore();
    const { client, connectionId, clock } = await connectThroughFake(fake, { store, apiUrl: 'http://127.0.0.1:1' });
    const events: ReauthorizationRequiredEvent[] = [];
    client.events.on('reauthorization_required', (event) => events.push(event));
    fake.refreshScript.push({ kind: 'error', status: 400, error: 'invalid_grant', description: 'the authorization was revoked' });
    clock.advanceSeconds(1000);
    await assert.rejects(client.getAccessToken(connectionId), ReauthorizationRequiredError);
    assert.deepEqual(events, [{ connectionId, subjectUrn: fake.subjectUrn, reason: 'invalid_grant: the authorization was revoked' }]);
    const row = await store.get(connectionId);
    assert.equal(row?.status, 'reauthorization_required');
    assert.equal(row?.accessTokenCiphertext, null);
    assert.equal(row?.refreshTokenCiphertext, null);
    assert.equal(row?.accessTokenExpiresAt, null);

    const before = fake.requests.length;
    await assert.rejects(client.getAccessToken(connectionId), ReauthorizationRequiredError);
    await assert.rejects(client.fetch(connectionId, '/v1/users'), ReauthorizationRequiredError);
    assert.equal(fake.requests.length, before, 'no request after invalid_grant');
    assert.equal(events.length, 1);
  });

  it('revoke: a client the server says is deleted has no grants left, so the connection is forgotten; a suspended one is kept and the error thrown', async () => {
    const { client, connectionId } = await connectThroughFake(fake);
    fake.revocationError = { status: 401, error: 'invalid_client', description: 'client is suspended' };
    await assert.rejects(client.revoke(connectionId), (error: unknown) => error instanceof AuthorizationServerError && error.error === 'invalid_client');
    assert.ok(await client.getConnection(connectionId), 'kept: the grant may still be alive');
    fake.revocationError = { status: 401, error: 'invalid_client', description: 'client is deleted' };
    await client.revoke(connectionId);
    assert.equal(await client.getConnection(connectionId), undefined, 'forgotten: deleting the client revoked its grants');
  });

  it('does not retry an error retrying cannot fix (invalid_client) and keeps the connection', async () => {
    const { client, connectionId, clock, sleeps } = await connectThroughFake(fake);
    fake.refreshScript.push({ kind: 'error', status: 401, error: 'invalid_client', description: 'client authentication failed' });
    clock.advanceSeconds(1000);
    await assert.rejects(client.getAccessToken(connectionId), (error: unknown) => error instanceof AuthorizationServerError && error.error === 'invalid_client');
    assert.equal(refreshes(), 1);
    assert.deepEqual(sleeps, []);
    assert.equal((await client.getConnection(connectionId))?.status, 'active');
  });

  it('logs every refresh attempt and outcome (time, connection, outcome, reason) and never a token', async () => {
    const { client, connectionId, clock, logs } = await connectThroughFake(fake);
    fake.refreshScript.push({ kind: 'status', status: 502 });
    clock.advanceSeconds(1000);
    await client.getAccessToken(connectionId);
    fake.refreshScript.push({ kind: 'error', status: 400, error: 'invalid_grant' });
    clock.advanceSeconds(1000);
    await assert.rejects(client.getAccessToken(connectionId));
    await client.revoke(connectionId);

    const refreshLogs = logs.filter((entry) => entry.event.startsWith('refresh'));
    assert.deepEqual(refreshLogs.map((entry) => [entry.event, entry.outcome ?? null, entry.reason]), [
      ['refresh_attempt', null, 'expiring'],
      ['refresh_outcome', 'retrying', 'http_502'],
      ['refresh_attempt', null, 'expiring'],
      ['refresh_outcome', 'succeeded', 'expiring'],
      ['refresh_attempt', null, 'expiring'],
      ['refresh_outcome', 'reauthorization_required', 'invalid_grant'],
    ]);
    for (const entry of refreshLogs) {
      assert.equal(entry.connection_id, connectionId);
      assert.match(entry.time, /^2027-01-15T\d\d:\d\d:\d\d\.000Z$/);
    }
    assert.ok(refreshLogs.some((entry) => /^sha256:[0-9a-f]{8}$/.test(entry.access_token_fingerprint ?? '')));
    const everything = JSON.stringify(logs);
    assert.ok(fake.issuedTokens.length >= 4);
    for (const token of fake.issuedTokens) assert.ok(!everything.includes(token), 'a token value appears in the log');
  });
});
