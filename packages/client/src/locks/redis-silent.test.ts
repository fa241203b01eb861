/**
 * Review of the partner-side lock fixes, defect 2 (and Low 12): when Redis stops answering without an error,
 * node-redis keeps commands pending forever: the renewal neither resolved nor rejected, so the lost-lock
 * signal never fired (another instance acquired after the ttl and both refreshed), and the release never
 * settled, so withLock hung. Now the holder keeps the lease's deadline itself and the signal fires when it
 * passes unrenewed; the release is bounded. And one failed renewal while the lease is valid is no loss.
 * The client is a fake whose commands never settle: exactly what node-redis does on a silent connection.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { LockLostError, LockTimeoutError } from '../errors.ts';
import { createRedisLock, type RedisLockClient } from './redis.ts';

const never = () => new Promise<never>(() => {});

describe('Redis refresh lock when Redis goes silent', { timeout: 10_000 }, () => {
  it('aborts the signal when the lease runs out unrenewed, and returns the work\'s result though the release never settles', async () => {
    const client: RedisLockClient = { set: async () => 'OK', eval: never };
    const lock = createRedisLock({ client, ttlMilliseconds: 60, commandTimeoutMilliseconds: 20 });
    const reason = await lock.withLock('k', async (hold) => {
      if (!hold!.signal.aborted) await once(hold!.signal, 'abort');
      return hold!.signal.reason;
    });
    assert.ok(reason instanceof LockLostError);
    assert.match(reason.message, /lease ran out/);
  });

  it('does not call the lock lost for one failed renewal while the lease is still valid', async () => {
    let renewals = 0;
    const thirdRenewal = Promise.withResolvers<void>();
    const client: RedisLockClient = {
      set: async () => 'OK',
      eval: async (script) => {
        if (!script.includes('pexpire')) return 1;
        renewals++;
        if (renewals === 3) thirdRenewal.resolve();
        if (renewals === 1) throw new Error('connection reset');
        return 1;
      },
    };
    // Renewals every 300 ms; the lease from the SET lasts 900 ms, so the second renewal confirms it in time.
    const lock = createRedisLock({ client, ttlMilliseconds: 900 });
    const aborted = await lock.withLock('k', async (hold) => {
      await thirdRenewal.promise;
      return hold!.signal.aborted;
    });
    assert.equal(aborted, false);
  });

  it('ends in LockTimeoutError at acquireTimeoutMilliseconds when the acquiring SET is never answered', { timeout: 3_000 }, async () => {
    let sets = 0;
    const client: RedisLockClient = {
      set: () => {
        sets++;
        return never();
      },
      eval: async () => 1,
    };
    const lock = createRedisLock({ client, ttlMilliseconds: 3_000, commandTimeoutMilliseconds: 100, acquireTimeoutMilliseconds: 350 });
    const started = performance.now();
    let ran = false;
    await assert.rejects(lock.withLock('k', async () => {
      ran = true;
    }), LockTimeoutError);
    const elapsed = performance.now() - started;
    assert.equal(ran, false);
    assert.ok(elapsed >= 340 && elapsed < 1_000, `ended after ${elapsed} ms`);
    assert.ok(sets >= 2, 'an unanswered SET is retried while time is left');
  });

  it('ends at the acquire timeout even when it is shorter than the command timeout', { timeout: 3_000 }, async () => {
    const client: RedisLockClient = { set: never, eval: async () => 1 };
    const lock = createRedisLock({ client, ttlMilliseconds: 3_000, commandTimeoutMilliseconds: 1_000, acquireTimeoutMilliseconds: 100 });
    const started = performance.now();
    await assert.rejects(lock.withLock('k', async () => 'never'), LockTimeoutError);
    assert.ok(performance.now() - started < 600);
  });

  it('does not take an unanswered SET as held, and acquires once a later SET is answered', { timeout: 3_000 }, async () => {
    let sets = 0;
    const client: RedisLockClient = {
      set: () => (++sets === 1 ? never() : Promise.resolve('OK')),
      eval: async () => 1,
    };
    const lock = createRedisLock({ client, ttlMilliseconds: 3_000, commandTimeoutMilliseconds: 50, acquireTimeoutMilliseconds: 1_000 });
    assert.equal(await lock.withLock('k', async () => 'held'), 'held');
    assert.equal(sets, 2);
  });
});
