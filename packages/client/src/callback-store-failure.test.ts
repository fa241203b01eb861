/**
 * Defect 1 of the partner-side review: a callback whose token store save failed threw the store's error and left
 * the grant just issued alive at the server, its refresh token held by nothing, so nobody could ever disconnect it.
 * The SDK now revokes that refresh token (best effort, RFC 7009 §2.1; Gatehouse revokes the whole grant, SPEC
 * decision 15) and rejects with ConnectionNotStoredError, saying whether the revocation went through.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ConnectionNotStoredError, InvalidResponseError, LockTimeoutError } from './errors.ts';
import type { LogEntry } from './logging.ts';
import { createMemoryTokenStore } from './stores/memory.ts';
import type { TokenStore } from './token-store.ts';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from './testing/fake-authorization-server.ts';
import { connectThroughFake } from './testing/fake-connection.ts';

describe('a callback whose connection cannot be stored', () => {
  let fake: FakeAuthorizationServer;
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
  });
  afterEach(async () => {
    await fake.close();
  });

  /** A memory store whose `save` fails as a database that went away does. */
  function failingSaves(): TokenStore & { saves: number } {
    const store = createMemoryTokenStore();
    const failing = {
      ...store,
      saves: 0,
      async save() {
        failing.saves++;
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      },
    };
    return failing;
  }

  const revocations = () => fake.requests.filter((request) => request.path === '/oauth/revoke');
  const issuedRefreshToken = () => {
    const refreshTokens = fake.issuedTokens.filter((token) => token.startsWith('rt_'));
    assert.equal(refreshTokens.length, 1, 'one code exchange');
    return refreshTokens[0]!;
  };

  it('revokes the refresh token just issued (RFC 7009) and rejects with ConnectionNotStoredError (grantRevoked), storing nothing', async () => {
    const store = failingSaves();
    const logs: LogEntry[] = [];
    await assert.rejects(connectThroughFake(fake, { store, logger: (entry) => logs.push(entry) }), (error: unknown) => {
      assert.ok(error instanceof ConnectionNotStoredError, String(error));
      assert.equal(error.grantRevoked, true);
      assert.match(error.message, /was not stored \(connect ECONNREFUSED 127\.0\.0\.1:5432\): the grant just issued for it was revoked/);
      assert.equal((error.cause as { code?: string }).code, 'ECONNREFUSED');
      return true;
    });
    assert.equal(store.saves, 1);
    assert.equal(revocations().length, 1, 'one revocation request');
    const [revocation] = revocations();
    assert.equal(revocation!.form.get('token'), issuedRefreshToken());
    assert.equal(revocation!.form.get('token_type_hint'), 'refresh_token');
    assert.match(revocation!.authorization ?? '', /^Basic /, 'with the client\'s authentication (RFC 7009 §2.1)');
    // The grant is gone at the server: its refresh token is refused.
    fake.refreshScript.length = 0;
    const refused = await fetch(`${fake.issuer}/oauth/token`, {
      method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: issuedRefreshToken() }),
    });
    assert.equal(refused.status, 400);
    assert.deepEqual(await store.list(), []);
    assert.ok(logs.some((entry) => entry.event === 'revoked' && entry.outcome === 'succeeded' && /could not be stored/.test(entry.reason ?? '')));
    assert.ok(!logs.some((entry) => entry.event === 'connected'), 'not logged as connected');
    const logged = JSON.stringify(logs);
    for (const issued of fake.issuedTokens) assert.ok(!logged.includes(issued), 'no token in the log');
  });

  it('says so when the revocation fails too (grantRevoked false: the app may still show as connected), and logs it without the token', async () => {
    const store = failingSaves();
    const logs: LogEntry[] = [];
    fake.revocationError = { status: 400, error: 'invalid_request' };
    await assert.rejects(connectThroughFake(fake, { store, logger: (entry) => logs.push(entry) }), (error: unknown) => {
      assert.ok(error instanceof ConnectionNotStoredError, String(error));
      assert.equal(error.grantRevoked, false);
      assert.match(error.message, /could not be revoked, so the app may still show as connected/);
      for (const issued of fake.issuedTokens) assert.ok(!error.message.includes(issued), 'no token in the message');
      return true;
    });
    assert.equal(revocations().length, 1);
    assert.equal(revocations()[0]!.form.get('token'), issuedRefreshToken());
    const failures = logs.filter((entry) => entry.event === 'revoked' && entry.outcome === 'failed');
    assert.equal(failures.length, 1);
    assert.match(failures[0]!.reason!, /the grant just issued was not revoked: invalid_request$/);
    assert.match(failures[0]!.refresh_token_fingerprint!, /^sha256:[0-9a-f]{8}$/);
    const logged = JSON.stringify(logs);
    for (const issued of fake.issuedTokens) assert.ok(!logged.includes(issued), 'no token in the log');
  });

  it('a save that committed but whose reply was lost (the row holds this callback\'s tokens) is a stored connection: nothing revoked', async () => {
    const store = createMemoryTokenStore();
    const ambiguous: TokenStore = {
      ...store,
      async save(connection) {
        await store.save(connection);
        throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
      },
    };
    const { client, connectionId, logs } = await connectThroughFake(fake, { store: ambiguous });
    assert.equal(revocations().length, 0);
    assert.equal((await client.getConnection(connectionId))?.status, 'active');
    assert.ok(logs.some((entry) => entry.event === 'connected' && entry.outcome === 'succeeded'));
  });

  it('revokes it as well when the token response names no valid subject (nothing can be stored), and refuses the response (InvalidResponseError)', async () => {
    fake.subjectUrn = 'urn:gatehouse:company:not-a-uuid';
    const store = createMemoryTokenStore();
    await assert.rejects(connectThroughFake(fake, { store }), (error: unknown) =>
      error instanceof InvalidResponseError && /no valid urn:gatehouse:params:oauth:subject_urn/.test(error.message));
    assert.equal(revocations().length, 1);
    assert.equal(revocations()[0]!.form.get('token'), issuedRefreshToken());
    assert.deepEqual(await store.list(), []);
  });

  it('revokes it as well when the refresh lock cannot be taken to store the connection', async () => {
    await assert.rejects(connectThroughFake(fake, {
      lock: { withLock: () => Promise.reject(new LockTimeoutError('the refresh lock was not acquired in time')) },
    }), (error: unknown) => error instanceof ConnectionNotStoredError && error.grantRevoked && error.cause instanceof LockTimeoutError);
    assert.equal(revocations().length, 1);
    assert.equal(revocations()[0]!.form.get('token'), issuedRefreshToken());
  });

  it('refuses a token response without a refresh_token (a broken server), storing nothing, and revokes its access token (RFC 7009 §2.1)', async () => {
    fake.omitRefreshToken = true;
    const store = createMemoryTokenStore();
    const logs: LogEntry[] = [];
    await assert.rejects(connectThroughFake(fake, { store, logger: (entry) => logs.push(entry) }), (error: unknown) => {
      assert.ok(error instanceof InvalidResponseError, String(error));
      assert.match(error.message, /no refresh_token \(Gatehouse always issues one\): nothing was connected or stored, and the access token just issued was revoked/);
      for (const issued of fake.issuedTokens) assert.ok(!error.message.includes(issued), 'no token in the message');
      return true;
    });
    const accessToken = fake.issuedTokens.find((token) => token.startsWith('at_'))!;
    assert.equal(revocations().length, 1);
    assert.equal(revocations()[0]!.form.get('token'), accessToken);
    assert.equal(revocations()[0]!.form.get('token_type_hint'), 'access_token');
    assert.deepEqual(await store.list(), []);
    assert.ok(logs.some((entry) => entry.event === 'revoked' && entry.outcome === 'succeeded' && /^sha256:/.test(entry.access_token_fingerprint ?? '')));
    const logged = JSON.stringify(logs);
    for (const issued of fake.issuedTokens) assert.ok(!logged.includes(issued), 'no token in the log');
  });

  it('bounds the revocation while the browser waits: a Retry-After past 3 s ends it, not waited for (not ~25 s of retries)', async () => {
    fake.revocationError = { status: 503, error: 'temporarily_unavailable', headers: { 'retry-after': '10' } };
    const sleeps: number[] = [];
    await assert.rejects(connectThroughFake(fake, { store: failingSaves(), sleep: async (milliseconds) => {
      sleeps.push(milliseconds);
    } }), (error: unknown) => error instanceof ConnectionNotStoredError && !error.grantRevoked);
    assert.deepEqual(sleeps, [], 'no wait for a Retry-After past the budget');
    assert.equal(revocations().length, 1);
  });

  it('bounds the revocation while the browser waits: at most 3 attempts, each backoff wait under 1 s', async () => {
    fake.revocationError = { status: 503, error: 'temporarily_unavailable' };
    const sleeps: number[] = [];
    await assert.rejects(connectThroughFake(fake, { store: failingSaves(), sleep: async (milliseconds) => {
      sleeps.push(milliseconds);
    } }), (error: unknown) => error instanceof ConnectionNotStoredError && !error.grantRevoked);
    assert.equal(revocations().length, 3);
    assert.equal(sleeps.length, 2);
    assert.ok(sleeps.every((milliseconds) => milliseconds <= 1_000), String(sleeps));
  });
});
