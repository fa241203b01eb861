/**
 * Review of the partner-side refresh fixes, defects 3 and 10:
 * - a refresh lock lost between attempts restarted the retry budget (requests went out at 0, 10, 20 and 30 s,
 *   past the 25 s `maxElapsedMilliseconds`), the caller was told "after 3 attempts" when 4 were sent, and the
 *   log said `before_request: nothing sent` though requests had been sent. Now the budget and the attempt
 *   count carry across the lock's re-acquisition and the log says what was sent;
 * - the budget was measured in whole seconds (`nowSeconds() × 1000`): an attempt 25.05 s after the first
 *   could start. Now it is measured in the clock's milliseconds.
 * Time is the injected clock: each refresh request "times out" by moving it.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LockLostError, RefreshFailedError } from './errors.ts';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from './testing/fake-authorization-server.ts';
import { type connectThroughFake, connectWithTimingOutRefreshes, takeableLock } from './testing/fake-connection.ts';

describe('the refresh retry budget across a lost lock, in milliseconds', () => {
  let fake: FakeAuthorizationServer;
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
  });
  afterEach(async () => {
    await fake.close();
  });

  const timingOut = (stepMilliseconds: number, overrides: Parameters<typeof connectThroughFake>[1] = {}, onSent?: (count: number) => void) =>
    connectWithTimingOutRefreshes(fake, stepMilliseconds, overrides, onSent);

  it('a lock lost after two requests: the third is the last (25 s budget from the first), the error counts all three, the log says two were sent', async () => {
    const { lock, holds } = takeableLock();
    const { client, connectionId, clock, sentAt, logs } = await timingOut(10_000, { lock }, (count) => {
      if (count === 2) holds.at(-1)!.abort(new LockLostError('the test took the lock away'));
    });
    clock.advanceSeconds(1000);
    holds.length = 0;
    await assert.rejects(client.getAccessToken(connectionId), (error: unknown) => {
      assert.ok(error instanceof RefreshFailedError);
      assert.equal(error.attempts, 3);
      return true;
    });
    assert.deepEqual(sentAt.map((at) => at - sentAt[0]!), [0, 10_000, 20_000]);
    assert.equal(holds.length, 2, 'the lock was taken again once');
    const lockLost = logs.filter((entry) => entry.outcome === 'lock_lost');
    assert.equal(lockLost.length, 1);
    assert.match(String(lockLost[0]!.reason), /^before_retry: 2 request\(s\) sent earlier/);
  });

  it('measures the budget in milliseconds: no attempt 25.05 s after the first', async () => {
    const { client, connectionId, clock, sentAt } = await timingOut(12_525, { random: () => 0 });
    clock.advanceSeconds(1000);
    clock.advanceMilliseconds(900);
    await assert.rejects(client.getAccessToken(connectionId), (error: unknown) => error instanceof RefreshFailedError && error.attempts === 2);
    assert.deepEqual(sentAt.map((at) => at - sentAt[0]!), [0, 12_525]);
  });
});
