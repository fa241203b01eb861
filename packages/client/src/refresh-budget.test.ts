/**
 * Defect 6 of the partner-side review: with the default retry policy (4 attempts, a 10 s timeout each,
 * backoff up to 1.75 s in all) the last refresh attempt could start about 31.75 s after the first, beyond
 * Gatehouse's default 30 s reuse grace window, within which alone a retry of a rotated-out refresh token
 * (its response lost) gets the new pair. Attempts now stop starting 25 s (`maxElapsedMilliseconds`) after
 * the first. Time is the injected clock: each attempt "times out" by moving it 10 s.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RefreshFailedError } from './errors.ts';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from './testing/fake-authorization-server.ts';
import { type connectThroughFake, connectWithTimingOutRefreshes, type FakeConnection } from './testing/fake-connection.ts';

describe('the refresh retry budget (reuse grace window)', () => {
  let fake: FakeAuthorizationServer;
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
  });
  afterEach(async () => {
    await fake.close();
  });

  /** Refresh requests that each time out after 10 s of the injected clock; `sentAt` in seconds, as the assertions read it. */
  async function timingOut(overrides: Parameters<typeof connectThroughFake>[1] = {}) {
    const sentAt: number[] = [];
    const connection: FakeConnection = await connectWithTimingOutRefreshes(fake, 10_000, overrides, () => sentAt.push(connection.clock.nowSeconds()));
    return { ...connection, sentAt };
  }

  it('by default, no attempt starts 25 s or more after the first: 3 attempts of 10 s, not 4', async () => {
    const { client, connectionId, clock, sentAt, logs } = await timingOut();
    clock.advanceSeconds(1000);
    await assert.rejects(client.getAccessToken(connectionId), (error: unknown) => {
      assert.ok(error instanceof RefreshFailedError);
      assert.equal(error.attempts, 3);
      assert.equal(error.reason, 'timeout');
      return true;
    });
    assert.equal(sentAt.length, 3);
    assert.ok(sentAt.at(-1)! - sentAt[0]! < 25, `last attempt ${sentAt.at(-1)! - sentAt[0]!} s after the first`);
    assert.deepEqual(logs.filter((entry) => entry.event === 'refresh_outcome').map((entry) => entry.outcome), ['retrying', 'retrying', 'failed']);
  });

  it('the budget is configurable: maxElapsedMilliseconds 15 000 allows 2 attempts', async () => {
    const { client, connectionId, clock, sentAt } = await timingOut({ retryPolicy: { maxElapsedMilliseconds: 15_000 } });
    clock.advanceSeconds(1000);
    await assert.rejects(client.getAccessToken(connectionId), RefreshFailedError);
    assert.deepEqual(sentAt.map((at) => at - sentAt[0]!), [0, 10]);
  });
});
