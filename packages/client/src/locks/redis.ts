/**
 * A lock across processes on Redis: `SET key token NX PX ttl` to acquire, a compare-and-delete script
 * to release (only the holder's random token releases it), a compare-and-extend script every ttl/3
 * while the work runs so a slow refresh keeps the lock, and the TTL so a crashed holder's lock expires.
 * Waiters poll (`pollForLock`): Redis has no blocking lock primitive, and a refresh takes milliseconds.
 *
 * A renewal that fails (Redis unreachable) or finds the key no longer ours (it expired, another holder
 * took it) marks the lock lost: the hold's `signal` is aborted with a `LockLostError`. A failed release is
 * ignored (the lease expires after its TTL): it never replaces the work's result.
 *
 * A single Redis node is assumed. Whatever happens to the lock, the token store's version check
 * (`TokenStore.replaceTokens`) refuses to overwrite tokens another holder stored.
 */
import { randomUUID } from 'node:crypto';
import { ConfigurationError, LockLostError } from '../errors.ts';
import { pollForLock, type RefreshLock } from '../lock.ts';

/** The two commands used, as node-redis v5+ clients (`createClient()`) expose them. */
export interface RedisLockClient {
  set(key: string, value: string, options: { condition: 'NX'; expiration: { type: 'PX'; value: number } }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

export interface RedisLockOptions {
  /** A connected client; the caller owns it (connects and quits it). */
  client: RedisLockClient;
  /** Prefix of lock keys; default `gatehouse-client:lock:`. */
  keyPrefix?: string;
  /** Lifetime of a held lock without renewal, milliseconds; default 15 000. */
  ttlMilliseconds?: number;
  /** Longest wait for the lock, milliseconds; default 30 000. */
  acquireTimeoutMilliseconds?: number;
}

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
const EXTEND = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

/**
 * @throws ConfigurationError when `options.client` is not a node-redis client (`redis` is an optional peer
 *   dependency: install it to use this lock).
 */
export function createRedisLock(options: RedisLockOptions): RefreshLock {
  const candidate = options?.client as { set?: unknown; eval?: unknown } | undefined;
  if (typeof candidate?.set !== 'function' || typeof candidate.eval !== 'function') {
    throw new ConfigurationError('createRedisLock needs a connected client from the "redis" package (an optional peer dependency of @gatehouse/client): npm install redis, then pass { client: await createClient({ url }).connect() }');
  }
  const prefix = options.keyPrefix ?? 'gatehouse-client:lock:';
  const ttl = Math.floor(options.ttlMilliseconds ?? 15_000);
  const acquireTimeout = options.acquireTimeoutMilliseconds ?? 30_000;
  if (!(ttl >= 30)) throw new RangeError('ttlMilliseconds must be at least 30');
  const { client } = options;

  return {
    async withLock(key, work) {
      const redisKey = `${prefix}${key}`;
      const holder = randomUUID();
      await pollForLock(key, acquireTimeout, async () =>
        (await client.set(redisKey, holder, { condition: 'NX', expiration: { type: 'PX', value: ttl } })) === 'OK');
      const lost = new AbortController();
      const markLost = (why: string) => {
        if (!lost.signal.aborted) lost.abort(new LockLostError(`the refresh lock "${key}" was lost: ${why}`));
        clearInterval(renewal);
      };
      const renewal = setInterval(() => {
        client.eval(EXTEND, { keys: [redisKey], arguments: [holder, String(ttl)] }).then((extended) => {
          if (Number(extended) !== 1) markLost('its Redis key expired or another holder has it');
        }, () => markLost('renewing its Redis lease failed'));
      }, Math.floor(ttl / 3));
      renewal.unref();
      try {
        return await work({ signal: lost.signal });
      } finally {
        clearInterval(renewal);
        // Best effort: a lease not deleted expires after ttlMilliseconds; the work's outcome stands either way.
        await client.eval(RELEASE, { keys: [redisKey], arguments: [holder] }).catch(() => {});
      }
    },
  };
}
