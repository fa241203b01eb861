/**
 * A lock across processes on PostgreSQL advisory locks. Each `withLock` opens its own connection — a
 * `pg.Client` made from the pool's settings (`pool.options`, with the pool's own `Client` class), outside
 * the pool — takes the session-level `pg_advisory_lock` on it, and closes it when the work is done.
 * PostgreSQL releases the lock when that connection ends, however it ends, so a crashed instance never
 * leaves the lock held.
 *
 * Why not a pooled connection: the work under the lock (a refresh) reads and writes the token store,
 * which usually shares the pool. With the lock holding a pooled connection, as many concurrent
 * refreshes as the pool has connections would each hold one and wait forever for another (`pg` waits
 * for a free connection without a limit by default): a deadlock, after which the tokens the server
 * already rotated are never stored. The lock's connection being its own, the store's queries always
 * find the pool as the rest of the application leaves it. At most `maxConnections` lock connections are
 * open at once per lock object (further holders wait for one, holding nothing meanwhile).
 *
 * `lock_timeout` bounds the wait for the lock, and the connection attempt is bounded by the pool's
 * `connectionTimeoutMillis` or else by the same timeout.
 *
 * When the lock's connection fails or ends while the work runs (the backend terminated, the database
 * restarted, the network cut), the lock is gone: the hold's `signal` is aborted with a `LockLostError`.
 */
import { createHash } from 'node:crypto';
import type { Client, ClientConfig, Pool } from 'pg';
import { ConfigurationError, LockLostError, LockTimeoutError } from '../errors.ts';
import type { RefreshLock } from '../lock.ts';

export interface PostgresLockOptions {
  /** The pool whose settings (`pool.options`) the lock's own connections use; no connection is taken from it. */
  pool: Pool;
  /** Longest wait for the lock, milliseconds; default 30 000. */
  lockTimeoutMilliseconds?: number;
  /** Mixed into the 64-bit lock key, so unrelated applications on one database do not collide; default `gatehouse-client`. */
  namespace?: string;
  /** Most lock connections open at once (one per refresh in progress), default 10. */
  maxConnections?: number;
}

/** SQLSTATE 55P03 lock_not_available: `lock_timeout` expired. */
const LOCK_NOT_AVAILABLE = '55P03';

/** @throws ConfigurationError when `options.pool` is not a `pg` Pool (`pg` is an optional peer dependency: install it to use this lock). */
export function createPostgresLock(options: PostgresLockOptions): RefreshLock {
  assertPgPool(options?.pool, 'createPostgresLock');
  const timeout = Math.floor(options.lockTimeoutMilliseconds ?? 30_000);
  if (!(timeout > 0)) throw new RangeError('lockTimeoutMilliseconds must be a positive number');
  const maxConnections = Math.floor(options.maxConnections ?? 10);
  if (!(maxConnections >= 1)) throw new RangeError('maxConnections must be at least 1');
  const namespace = options.namespace ?? 'gatehouse-client';
  // pg-pool makes its connections with `new pool.Client(pool.options)`; the lock makes its own the same way.
  const { Client: ClientClass, options: poolOptions } = options.pool as unknown as { Client?: new (config: ClientConfig) => Client; options?: ClientConfig };
  if (typeof ClientClass !== 'function') throw new ConfigurationError('createPostgresLock needs a pool from the "pg" package (new pg.Pool(…)): its connection settings make the lock\'s own connections');
  const config: ClientConfig = {
    ...poolOptions,
    // pg-pool keeps these two non-enumerable (so they do not print): copied by name.
    password: poolOptions?.password, ssl: poolOptions?.ssl,
    connectionTimeoutMillis: poolOptions?.connectionTimeoutMillis || timeout,
  };

  let open = 0;
  const waiting: (() => void)[] = [];
  const takeSlot = async () => {
    if (open < maxConnections) {
      open++;
      return;
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const giveSlot = () => {
    const next = waiting.shift();
    if (next) next();
    else open--;
  };

  return {
    async withLock(key, work) {
      await takeSlot();
      try {
        const connection = new ClientClass(config);
        const lost = new AbortController();
        let closing = false;
        const gone = (what: string) => () => {
          if (!closing && !lost.signal.aborted) lost.abort(new LockLostError(`the refresh lock "${key}" was lost: its PostgreSQL connection ${what}`));
        };
        // A backend terminated while the lock is held must not end the process ('error' without a listener).
        connection.on('error', gone('failed'));
        connection.on('end', gone('ended'));
        try {
          await connection.connect();
          // SET cannot take a bind parameter; `timeout` is a validated integer.
          await connection.query(`SET lock_timeout = ${timeout}`);
          try {
            await connection.query('SELECT pg_advisory_lock($1::bigint)', [advisoryKey(namespace, key)]);
          } catch (error) {
            if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) throw new LockTimeoutError(`waited ${timeout} ms for the refresh lock "${key}"`);
            throw error;
          }
          return await work({ signal: lost.signal });
        } finally {
          closing = true;
          // Closing the session releases the advisory lock (and a connection that already died needs no unlock).
          await connection.end().catch(() => {});
        }
      } finally {
        giveSlot();
      }
    },
  };
}

/** A signed 64-bit key from the first 8 bytes of SHA-256(namespace, key), as PostgreSQL's bigint text. */
export function advisoryKey(namespace: string, key: string): string {
  const digest = createHash('sha256').update(namespace).update('\0').update(key).digest();
  return digest.readBigInt64BE(0).toString();
}

/**
 * `pg` is an optional peer dependency of this package (nothing imports it at run time: the caller passes its
 * own pool), so a missing or wrong pool is reported here, by name, rather than as a TypeError later.
 * @throws ConfigurationError when `pool` has no `connect()` and `query()`.
 */
export function assertPgPool(pool: unknown, what: string): asserts pool is Pool {
  const candidate = pool as { connect?: unknown; query?: unknown } | null | undefined;
  if (typeof candidate?.connect !== 'function' || typeof candidate.query !== 'function') {
    throw new ConfigurationError(`${what} needs a PostgreSQL pool from the "pg" package (an optional peer dependency of @gatehouse/client): npm install pg, then pass { pool: new pg.Pool({ connectionString }) }`);
  }
}
