/**
 * Review of the partner-side lock fixes, defect 2, against a real Redis behind a TCP proxy that stops
 * forwarding (a network partition: no error, no close). node-redis keeps the renewal and the release pending
 * forever; the lock must still signal its loss once the lease's ttl has passed unrenewed, and return the
 * work's result without waiting for the release.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { LockLostError } from '../errors.ts';
import { startFreezingProxy, type FreezingProxy } from '../testing/freezing-proxy.ts';
import { redisSkipReason, REDIS_URL } from '../testing/services.ts';
import { createRedisLock } from './redis.ts';

const skip = await redisSkipReason();

describe('Redis refresh lock behind a partition', { skip: skip ?? false, timeout: 20_000 }, () => {
  let proxy: FreezingProxy;
  let direct: ReturnType<typeof createClient>;
  const keyPrefix = `client-test:${randomBytes(6).toString('hex')}:`;
  before(async () => {
    const target = new URL(REDIS_URL);
    proxy = await startFreezingProxy({ host: target.hostname, port: Number(target.port || 6379) });
    direct = createClient({ url: REDIS_URL });
    await direct.connect();
  });
  after(async () => {
    const keys = await direct.keys(`${keyPrefix}*`);
    if (keys.length) await direct.del(keys);
    await direct.close();
    await proxy.close();
  });

  it('signals the loss once the ttl passes unrenewed, returns the result, and another client then gets the lock', async () => {
    const url = new URL(REDIS_URL);
    url.port = String(proxy.port);
    const proxied = createClient({ url: url.href, socket: { reconnectStrategy: false } });
    proxied.on('error', () => {});
    await proxied.connect();
    try {
      const lock = createRedisLock({ client: proxied, keyPrefix, ttlMilliseconds: 300, commandTimeoutMilliseconds: 50 });
      const reason = await lock.withLock('k', async (hold) => {
        proxy.freeze();
        if (!hold!.signal.aborted) await once(hold!.signal, 'abort');
        return hold!.signal.reason;
      });
      assert.ok(reason instanceof LockLostError);
      assert.match(reason.message, /lease ran out/);
      const other = createRedisLock({ client: direct, keyPrefix, ttlMilliseconds: 300, acquireTimeoutMilliseconds: 5_000 });
      assert.equal(await other.withLock('k', async () => 'second holder'), 'second holder');
    } finally {
      proxied.destroy();
    }
  });
});
