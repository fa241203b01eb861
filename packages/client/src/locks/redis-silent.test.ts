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
import { LockLostError } from '../errors.ts';
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
});
