/**
 * A lock across processes on Redis: `SET key token NX PX ttl` to acquire, a compare-and-delete script
 * to release (only the holder's random token releases it), a compare-and-extend script every ttl/3
 * while the work runs so a slow refresh keeps the lock, and the TTL so a crashed holder's lock expires.
 * Waiters poll (`pollForLock`): Redis has no blocking lock primitive, and a refresh takes milliseconds.
 *
 * The holder keeps the lease's deadline itself: the start of the last confirmed `SET` or renewal plus the
 * ttl (Redis counts the ttl from a later moment, so the local deadline is never the later one). When it
 * passes without a confirmed renewal — Redis unreachable, or answering nothing at all (node-redis then
 * keeps a command pending forever, neither resolving nor rejecting) — or a renewal finds the key no longer
 * ours (it expired, another holder took it), the lock is lost: the hold's `signal` is aborted with a
 * `LockLostError`. One failed renewal while the lease is still valid is not a loss (the next one may
 * succeed). Each acquiring `SET` is bounded by `commandTimeoutMilliseconds` and the time left of
 * `acquireTimeoutMilliseconds`. Each `withLock` call has its own random token, so a `SET` that Redis applied after
 * its answer was given up on is still recognised as ours: the next attempt that finds the key taken reads it, and a
 * key holding our token is ours (its TTL renewed); without that the lock stalled every refresh of the connection,
 * this one included, until its TTL ran out. When acquiring ends in a `LockTimeoutError` after an unanswered `SET`, the
 * key is deleted if it holds our token (best effort, bounded by `commandTimeoutMilliseconds`). Renewals and the release are each bounded by `commandTimeoutMilliseconds`; the release is
 * awaited at most that long and its failure ignored (the lease expires after its TTL): it never replaces,
 * nor holds back, the work's result.
 *
 * A single Redis node is assumed. Whatever happens to the lock, the token store's version check
 * (`TokenStore.replaceTokens`) refuses to overwrite tokens another holder stored.
 */
import { randomUUID } from 'node:crypto';
import { ConfigurationError, LockLostError, LockTimeoutError } from '../errors.ts';
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
  /**
   * Longest wait for the lock, milliseconds; default 30 000. It bounds the acquiring `SET`s too: each is
   * awaited at most min(commandTimeoutMilliseconds, the time left), so a silent Redis ends in a
   * `LockTimeoutError` at this timeout. A `SET` left unanswered is not taken as held until a later attempt finds
   * the key holding this call's token (Redis applied it late); if acquiring times out, that key is deleted by token
   * (best effort).
   */
  acquireTimeoutMilliseconds?: number;
  /** Longest wait for an acquiring `SET`'s, a renewal's or the release's answer, milliseconds; default ttl/3 (at most 2 000). */
  commandTimeoutMilliseconds?: number;
}

/** A command left unanswered past its bound. */
class CommandTimeout extends Error {}

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
  const commandTimeout = Math.floor(options.commandTimeoutMilliseconds ?? Math.min(2_000, Math.floor(ttl / 3)));
  if (!(commandTimeout > 0)) throw new RangeError('commandTimeoutMilliseconds must be a positive number');
  const { client } = options;
  /** A command's answer, or a `CommandTimeout` rejection once `limit` (default `commandTimeout`) has passed without one. */
  const bounded = <T>(command: () => Promise<T>, limit = commandTimeout): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      Promise.resolve().then(command),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CommandTimeout(`Redis did not answer within ${limit} ms`)), limit);
        timer.unref();
      }),
    ]).finally(() => clearTimeout(timer));
  };

  return {
    async withLock(key, work) {
      const redisKey = `${prefix}${key}`;
      const holder = randomUUID();
      let leaseEnds = 0;
      const acquireEnds = performance.now() + acquireTimeout;
      const timedOut = () => new LockTimeoutError(`waited ${acquireTimeout} ms for the refresh lock "${key}" (Redis did not answer in time)`);
      /** Whether an acquiring SET went unanswered: Redis may have applied it, so the key may hold our token. */
      let unanswered = false;
      try {
        await pollForLock(key, acquireTimeout, async () => {
          const startedAt = performance.now();
          const remaining = Math.ceil(acquireEnds - startedAt);
          if (remaining <= 0) throw timedOut();
          const limit = Math.min(commandTimeout, remaining);
          let answer: unknown;
          try {
            answer = await bounded(() => client.set(redisKey, holder, { condition: 'NX', expiration: { type: 'PX', value: ttl } }), limit);
            // Taken, but perhaps by our own SET that Redis applied after we stopped waiting for its answer: ours then
            // (the token is this call's alone), its TTL renewed from now.
            if (answer !== 'OK' && unanswered && Number(await bounded(() => client.eval(EXTEND, { keys: [redisKey], arguments: [holder, String(ttl)] }), limit)) === 1) {
              answer = 'OK';
            }
          } catch (error) {
            if (!(error instanceof CommandTimeout)) throw error;
            // Unanswered: the SET may still be applied; it is not held until an attempt finds our token. Try again while time is left.
            unanswered = true;
            if (performance.now() >= acquireEnds) throw timedOut();
            return false;
          }
          const acquired = answer === 'OK';
          if (acquired) leaseEnds = startedAt + ttl;
          return acquired;
        });
      } catch (error) {
        // Best effort, bounded: a SET of ours that Redis applied late would hold the lock against everyone for the ttl.
        if (unanswered) await bounded(() => client.eval(RELEASE, { keys: [redisKey], arguments: [holder] })).catch(() => {});
        throw error;
      }
      const lost = new AbortController();
      let lastFailure = '';
      let deadline: NodeJS.Timeout | undefined;
      const markLost = (why: string) => {
        if (!lost.signal.aborted) lost.abort(new LockLostError(`the refresh lock "${key}" was lost: ${why}`));
        clearInterval(renewal);
        clearTimeout(deadline);
      };
      /** Aborts the signal when the lease's local deadline passes without a confirmed renewal. */
      let released = false;
      const watchDeadline = () => {
        clearTimeout(deadline);
        if (released || lost.signal.aborted) return;
        deadline = setTimeout(() => {
          if (performance.now() >= leaseEnds) markLost(`its Redis lease ran out (${ttl} ms) without a confirmed renewal${lastFailure}`);
          else watchDeadline();
        }, Math.max(0, leaseEnds - performance.now()));
        deadline.unref();
      };
      const renewal = setInterval(() => {
        const startedAt = performance.now();
        bounded(() => client.eval(EXTEND, { keys: [redisKey], arguments: [holder, String(ttl)] })).then((extended) => {
          if (Number(extended) !== 1) {
            markLost('its Redis key expired or another holder has it');
            return;
          }
          leaseEnds = Math.max(leaseEnds, startedAt + ttl);
          lastFailure = '';
          watchDeadline();
        }, () => {
          // Not a loss yet: the lease may still be valid, and the next renewal may succeed.
          lastFailure = ' (renewing its Redis lease failed or went unanswered)';
        });
      }, Math.floor(ttl / 3));
      renewal.unref();
      watchDeadline();
      try {
        return await work({ signal: lost.signal });
      } finally {
        released = true;
        clearInterval(renewal);
        clearTimeout(deadline);
        // Best effort, bounded: a lease not deleted expires after ttlMilliseconds; the work's outcome stands either way.
        await bounded(() => client.eval(RELEASE, { keys: [redisKey], arguments: [holder] })).catch(() => {});
      }
    },
  };
}
