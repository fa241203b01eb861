import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { createTestClock } from '../clock.ts';
import { startCleanupJob } from './cleanup-job.ts';
import type { CleanupResult, Storage } from './storage.ts';

const EMPTY: CleanupResult = { deleted: 0, loginSessions: 0, authorizationCodes: 0, accessTokens: 0, refreshTokens: 0, grants: 0, loginThrottleWindows: 0, interactions: 0, rateLimitWindows: 0, knownDevices: 0, pushedRequests: 0, refreshTokenGrace: 0, partnerTeamInvitations: 0 };

/** A storage whose cleanup runs are held open until the test releases them. */
function storageWithControlledCleanup() {
  const calls: { now: number; batchSize: number; finish(result?: CleanupResult | Error): void }[] = [];
  const storage = {
    localAccounts: { deleteExpired: async () => ({ passwordTokens: 0, pendingLogins: 0 }) },
    dpopProofs: { deleteExpired: async () => 0 },
    webhooks: { deleteFinishedBefore: async () => 0 },
    cleanup: {
      deleteExpired: (now: number, batchSize: number) => new Promise<CleanupResult>((resolve, reject) => {
        calls.push({ now, batchSize, finish: (result = EMPTY) => (result instanceof Error ? reject(result) : resolve(result)) });
      }),
    },
  } as unknown as Storage;
  return { storage, calls };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('the periodic cleanup job (each instance runs it)', () => {
  it('runs every interval with the clock\'s time, never two runs at once, reports results and errors, and stop() waits for a run', async () => {
    mock.timers.enable({ apis: ['setInterval'] });
    try {
      const clock = createTestClock(1_800_000_000);
      const { storage, calls } = storageWithControlledCleanup();
      const results: CleanupResult[] = [];
      const errors: unknown[] = [];
      const job = startCleanupJob(storage, { intervalSeconds: 60, batchSize: 250, clock, onResult: (r) => results.push(r), onError: (e) => errors.push(e) });

      mock.timers.tick(59_999);
      assert.equal(calls.length, 0, 'the first run comes after one interval');
      mock.timers.tick(1);
      assert.deepEqual(calls.map(({ now, batchSize }) => ({ now, batchSize })), [{ now: 1_800_000_000, batchSize: 250 }]);
      mock.timers.tick(60_000);
      assert.equal(calls.length, 1, 'no second run while the first is still going');

      calls[0]!.finish({ ...EMPTY, deleted: 3, loginSessions: 3 });
      await settle();
      assert.equal(results[0]!.deleted, 3);
      clock.advanceSeconds(120);
      mock.timers.tick(60_000);
      assert.equal(calls[1]!.now, 1_800_000_120);
      calls[1]!.finish(new Error('connection lost'));
      await settle();
      assert.match(String(errors[0]), /connection lost/);

      mock.timers.tick(60_000);
      let stopped = false;
      const stopping = job.stop().then(() => (stopped = true));
      await settle();
      assert.equal(stopped, false, 'stop() waits for the run in progress');
      calls[2]!.finish();
      await stopping;
      mock.timers.tick(600_000);
      assert.equal(calls.length, 3, 'nothing runs after stop()');
    } finally {
      mock.timers.reset();
    }
  });
});
