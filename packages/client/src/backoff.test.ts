import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelayMilliseconds, DEFAULT_RETRY_POLICY, parseRetryAfter, RetriesExhaustedError, retryWithBackoff } from './backoff.ts';

const policy = { maxAttempts: 5, baseDelayMilliseconds: 100, maxDelayMilliseconds: 1000 };

describe('bounded exponential backoff with full jitter', () => {
  it('caps grow 100, 200, 400, 800 then stay at maxDelayMilliseconds; jitter stays within the cap', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((failed) => backoffDelayMilliseconds(policy, failed, () => 0.9999)), [99, 199, 399, 799, 999, 999]);
    assert.deepEqual([1, 2, 3].map((failed) => backoffDelayMilliseconds(policy, failed, () => 0)), [0, 0, 0]);
  });

  it('waits at least Retry-After, but never more than maxDelayMilliseconds', () => {
    assert.equal(backoffDelayMilliseconds(policy, 1, () => 0, 500), 500);
    assert.equal(backoffDelayMilliseconds(policy, 1, () => 0, 60_000), 1000);
  });

  it('stops after maxAttempts transient failures with RetriesExhaustedError', async () => {
    const sleeps: number[] = [];
    let calls = 0;
    await assert.rejects(
      retryWithBackoff(async () => {
        calls++;
        throw new Error('unavailable');
      }, { policy, classify: () => ({ reason: 'http_503' }), sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 }),
      (error: unknown) => error instanceof RetriesExhaustedError && error.attempts === 5 && error.failure.reason === 'http_503',
    );
    assert.equal(calls, 5);
    assert.deepEqual(sleeps, [50, 100, 200, 400]);
  });

  it('rethrows a non-transient error at once', async () => {
    let calls = 0;
    const fatal = new Error('invalid_client');
    await assert.rejects(retryWithBackoff(async () => {
      calls++;
      throw fatal;
    }, { policy, classify: () => undefined, sleep: async () => {}, random: Math.random }), (error) => error === fatal);
    assert.equal(calls, 1);
  });

  it('returns the first success', async () => {
    let calls = 0;
    const result = await retryWithBackoff(async (attempt) => {
      calls++;
      if (attempt < 3) throw new Error('flaky');
      return 'ok';
    }, { policy: DEFAULT_RETRY_POLICY, classify: () => ({ reason: 'network' }), sleep: async () => {}, random: Math.random });
    assert.equal(result, 'ok');
    assert.equal(calls, 3);
  });

  it('reads Retry-After as seconds or as an HTTP date (RFC 9110 §10.2.3)', () => {
    assert.equal(parseRetryAfter('7', 0), 7000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6000);
    assert.equal(parseRetryAfter(null, 0), undefined);
    assert.equal(parseRetryAfter('soon', 0), undefined);
  });
});

describe('Retry-After with a retry budget (maxElapsedMilliseconds)', () => {
  const budgeted = { maxAttempts: 4, baseDelayMilliseconds: 100, maxDelayMilliseconds: 1000, maxElapsedMilliseconds: 25_000 };
  const failing = (retryAfterMilliseconds: number) => async () => {
    const sleeps: number[] = [];
    let now = 0;
    let calls = 0;
    const outcome = await retryWithBackoff(async () => {
      calls++;
      if (calls === 1) throw new Error('busy');
      return 'ok';
    }, {
      policy: budgeted, random: () => 0, nowMilliseconds: () => now,
      sleep: async (milliseconds) => {
        sleeps.push(milliseconds);
        now += milliseconds;
      },
      classify: () => ({ reason: 'http_429', retryAfterMilliseconds }),
    }).catch((error: unknown) => error);
    return { outcome, sleeps, calls };
  };

  it('honours a Retry-After longer than maxDelayMilliseconds when it fits the budget', async () => {
    assert.deepEqual(await failing(12_000)(), { outcome: 'ok', sleeps: [12_000], calls: 2 });
  });

  it('gives up at once, saying why, when Retry-After is past the budget', async () => {
    const { outcome, sleeps, calls } = await failing(60_000)();
    assert.ok(outcome instanceof RetriesExhaustedError);
    assert.match(outcome.failure.reason, /^http_429 \(Retry-After 60 s is past the retry budget\)$/);
    assert.deepEqual(sleeps, []);
    assert.equal(calls, 1);
  });
});
