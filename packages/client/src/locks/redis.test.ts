import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { LockTimeoutError } from '../errors.ts';
import { redisSkipReason, REDIS_URL } from '../testing/services.ts';
import { createRedisLock, type RedisLockClient } from './redis.ts';

const skip = await redisSkipReason();

describe('Redis lock', { skip: skip ?? false, timeout: 20_000 }, () => {
  // Two connections stand for two processes.
  let first: ReturnType<typeof createClient>;
  let second: ReturnType<typeof createClient>;
  const keyPrefix = `client-test:${randomBytes(6).toString('hex')}:`;
  before(async () => {
    first = createClient({ url: REDIS_URL });
    second = createClient({ url: REDIS_URL });
    await Promise.all([first.connect(), second.connect()]);
  });
  after(async () => {
    const keys = await first.keys(`${keyPrefix}*`);
    if (keys.length) await first.del(keys);
    await Promise.all([first.close(), second.close()]);
  });

  /** Counts SET NX attempts, so a test can see a waiter polling without timing it. */
  function counting(client: RedisLockClient): RedisLockClient & { attempts: number } {
    const wrapper = {
      attempts: 0,
      set: (...args: Parameters<RedisLockClient['set']>) => {
        wrapper.attempts++;
        return client.set(...args);
      },
      eval: (...args: Parameters<RedisLockClient['eval']>) => client.eval(...args),
    };
    return wrapper;
  }

  it('lets one client hold a key while another polls, then hands it over', async () => {
    const a = createRedisLock({ client: first, keyPrefix });
    const secondClient = counting(second);
    const b = createRedisLock({ client: secondClient, keyPrefix });
    const release = Promise.withResolvers<void>();
    const entered = Promise.withResolvers<void>();
    const order: string[] = [];
    const holder = a.withLock('connection-1', async () => {
      order.push('a in');
      entered.resolve();
      await release.promise;
      order.push('a out');
    });
    try {
      await entered.promise;
      const waiter = b.withLock('connection-1', async () => {
        order.push('b in');
      });
      for (let waited = 0; secondClient.attempts < 3; waited++) {
        if (waited >= 1_000) assert.fail('the waiter did not poll');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.deepEqual(order, ['a in']);
      release.resolve();
      await Promise.all([holder, waiter]);
      assert.deepEqual(order, ['a in', 'a out', 'b in']);
    } finally {
      release.resolve();
    }
    assert.equal(await first.exists(`${keyPrefix}connection-1`), 0, 'released');
  });

  it('keeps a held lock past its TTL while the work runs (renewal), and times out waiters', async () => {
    const a = createRedisLock({ client: first, keyPrefix, ttlMilliseconds: 200 });
    const b = createRedisLock({ client: second, keyPrefix, acquireTimeoutMilliseconds: 800 });
    const release = Promise.withResolvers<void>();
    const entered = Promise.withResolvers<void>();
    const holder = a.withLock('connection-2', async () => {
      entered.resolve();
      await release.promise;
    });
    try {
      await entered.promise;
      // 800 ms is four TTLs: without renewal the key would have expired and b would get it.
      await assert.rejects(b.withLock('connection-2', async () => 'never'), LockTimeoutError);
    } finally {
      release.resolve();
    }
    await holder;
    assert.equal(await b.withLock('connection-2', async () => 'free again'), 'free again');
  });

  it('releases the lock when the work throws', async () => {
    const a = createRedisLock({ client: first, keyPrefix });
    await assert.rejects(a.withLock('connection-3', async () => {
      throw new Error('work failed');
    }), /work failed/);
    assert.equal(await first.exists(`${keyPrefix}connection-3`), 0);
  });
});
