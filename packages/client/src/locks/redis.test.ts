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

  /** The real client, but the answers of the first `lostAnswers` SETs are lost: Redis applies each, its reply never comes. */
  function losingSetAnswers(client: RedisLockClient, lostAnswers: number): RedisLockClient & { sets: number } {
    const wrapper = {
      sets: 0,
      set: async (...args: Parameters<RedisLockClient['set']>) => {
        wrapper.sets++;
        const answer = await client.set(...args);
        if (wrapper.sets <= lostAnswers) return new Promise<never>(() => {});
        return answer;
      },
      eval: (...args: Parameters<RedisLockClient['eval']>) => client.eval(...args),
    };
    return wrapper;
  }

  it('takes a lock whose SET Redis applied after its answer was given up on: the key holds this call\'s token, so it is ours (not a 15 s stall)', async () => {
    const lossy = losingSetAnswers(first, 1);
    const a = createRedisLock({ client: lossy, keyPrefix, commandTimeoutMilliseconds: 50, acquireTimeoutMilliseconds: 3_000 });
    let heldDuringWork = 0;
    assert.equal(await a.withLock('connection-4', async () => {
      heldDuringWork = await second.exists(`${keyPrefix}connection-4`);
      return 'done';
    }), 'done');
    assert.equal(heldDuringWork, 1);
    assert.ok(lossy.sets >= 2, 'the first SET went unanswered');
    assert.equal(await first.exists(`${keyPrefix}connection-4`), 0, 'released');
  });

  it('deletes, by its token, a lock it gave up acquiring after a SET went unanswered (best effort), so others do not wait out the ttl', async () => {
    const a = createRedisLock({ client: losingSetAnswers(first, Number.POSITIVE_INFINITY), keyPrefix, commandTimeoutMilliseconds: 50, acquireTimeoutMilliseconds: 200 });
    await assert.rejects(a.withLock('connection-5', async () => 'never'), LockTimeoutError);
    assert.equal(await first.exists(`${keyPrefix}connection-5`), 0, 'not left held');
    const b = createRedisLock({ client: second, keyPrefix, acquireTimeoutMilliseconds: 200 });
    assert.equal(await b.withLock('connection-5', async () => 'free'), 'free');
  });

  it('never takes or deletes a lock another holder has, even after its own SET went unanswered', async () => {
    const key = `${keyPrefix}connection-6`;
    await second.set(key, 'another-holder', { PX: 10_000 });
    const a = createRedisLock({ client: losingSetAnswers(first, 1), keyPrefix, commandTimeoutMilliseconds: 50, acquireTimeoutMilliseconds: 300 });
    await assert.rejects(a.withLock('connection-6', async () => 'never'), LockTimeoutError);
    assert.equal(await first.get(key), 'another-holder');
  });
});
