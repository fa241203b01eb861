/**
 * Defect 5 of the partner-side review: when `store.replaceTokens` threw after a successful token response,
 * the error propagated at once — the new pair, already rotated at the server, lost — and no
 * `refresh_outcome` was logged. The write is now retried (bounded, with backoff) and every ending logged,
 * without a token value.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createMemoryTokenStore } from './stores/memory.ts';
import type { TokenStore } from './token-store.ts';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from './testing/fake-authorization-server.ts';
import { connectThroughFake } from './testing/fake-connection.ts';

describe('storing a refreshed pair', () => {
  let fake: FakeAuthorizationServer;
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
  });
  afterEach(async () => {
    await fake.close();
  });

  /** A memory store whose next `failures` replaceTokens calls throw (as a dropped database connection does). */
  function failingWrites(failures: number): TokenStore & { writes: number } {
    const store = createMemoryTokenStore();
    const failing = {
      ...store,
      writes: 0,
      async replaceTokens(...args: Parameters<TokenStore['replaceTokens']>) {
        failing.writes++;
        if (failures-- > 0) throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
        return store.replaceTokens(...args);
      },
    };
    return failing;
  }

  it('retries a failing write and stores the pair, with one refresh request', async () => {
    const store = failingWrites(2);
    const { client, connectionId, clock, logs, sleeps } = await connectThroughFake(fake, { store });
    clock.advanceSeconds(1000);
    const token = await client.getAccessToken(connectionId);
    assert.equal(token, fake.issuedTokens.at(-1), 'the new access token');
    assert.equal(fake.tokenRequests('refresh_token').length, 1);
    assert.equal(store.writes, 3);
    assert.equal(sleeps.length, 2, 'a backoff wait before each write again');
    assert.equal((await store.get(connectionId))?.version, 2, 'stored');
    assert.deepEqual(
      logs.filter((entry) => entry.event === 'refresh_outcome').map((entry) => [entry.outcome, entry.reason]),
      [['retrying', 'store_write_failed (ECONNRESET)'], ['retrying', 'store_write_failed (ECONNRESET)'], ['succeeded', 'expiring']],
    );
  });

  it('gives up after a bounded number of writes, logs the failure, and never logs a token', async () => {
    const store = failingWrites(100);
    const { client, connectionId, clock, logs } = await connectThroughFake(fake, { store });
    clock.advanceSeconds(1000);
    await assert.rejects(client.getAccessToken(connectionId), /Connection terminated unexpectedly/);
    assert.equal(store.writes, 5);
    assert.equal(fake.tokenRequests('refresh_token').length, 1);
    const outcomes = logs.filter((entry) => entry.event === 'refresh_outcome');
    assert.deepEqual(outcomes.at(-1), { ...outcomes.at(-1), outcome: 'failed', reason: 'store_write_failed (ECONNRESET)', attempt: 5 });
    const logged = JSON.stringify(logs);
    for (const issued of fake.issuedTokens) assert.ok(!logged.includes(issued), 'no token value in the log');
  });
});

describe('a store write that committed but whose reply was lost (review Low 9)', () => {
  let fake: FakeAuthorizationServer;
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('finds its own pair in the row when the retry fails the version check: succeeded, and the refreshed event', async () => {
    const store = createMemoryTokenStore();
    let replies = 0;
    const ambiguous: TokenStore = {
      ...store,
      async replaceTokens(...args) {
        const written = await store.replaceTokens(...args);
        if (replies++ === 0) throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
        return written;
      },
    };
    const { client, connectionId, clock, logs } = await connectThroughFake(fake, { store: ambiguous });
    const refreshed: unknown[] = [];
    client.events.on('refreshed', (event) => refreshed.push(event));
    clock.advanceSeconds(1000);
    assert.equal(await client.getAccessToken(connectionId), fake.issuedTokens.at(-1));
    assert.equal(refreshed.length, 1, 'one refreshed event');
    assert.deepEqual(
      logs.filter((entry) => entry.event === 'refresh_outcome').map((entry) => [entry.outcome, entry.reason]),
      [['retrying', 'store_write_failed (ECONNRESET)'], ['succeeded', 'expiring']],
    );
  });
});
