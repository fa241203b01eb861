/**
 * A lock across processes on PostgreSQL advisory locks. Each `withLock` opens its own connection — a
 * `pg.Client` made from the pool's settings (`pool.options`, with the pool's own `Client` class), outside
 * the pool — and on it runs `BEGIN; SET LOCAL lock_timeout = …; SELECT pg_advisory_xact_lock(…)`: a
 * transaction-scoped lock with transaction-local settings, held until the ROLLBACK that ends the work (or
 * the connection's end, however it ends, so a crashed instance never leaves the lock held). Nothing is
 * left on the session, so the lock also works through a pooler in transaction mode (PgBouncer
 * `pool_mode = transaction`), where a session-level lock or `SET` would stay with the server connection
 * and pass to another client.
 *
 * Why not a pooled connection: the work under the lock (a refresh) reads and writes the token store,
 * which usually shares the pool. With the lock holding a pooled connection, as many concurrent
 * refreshes as the pool has connections would each hold one and wait forever for another (`pg` waits
 * for a free connection without a limit by default): a deadlock, after which the tokens the server
 * already rotated are never stored. The lock's connection being its own, the store's queries always
 * find the pool as the rest of the application leaves it. At most `maxConnections` lock connections are
 * open at once per lock object, those still being released in the background included (further holders wait
 * for one, holding nothing meanwhile).
 *
 * `lockTimeoutMilliseconds` bounds the whole wait: for a free lock connection, for the connection itself
 * (the pool's `connectionTimeoutMillis` when shorter) and for the lock (`lock_timeout`, so the server stops
 * waiting by itself; the pool's `query_timeout` and `statement_timeout` do not apply to the lock's
 * connection). Past it: `LockTimeoutError`.
 *
 * When the lock's connection fails or ends while the work runs (the backend terminated, the database
 * restarted, the network cut), or does not answer a `SELECT 1` within `livenessCheckMilliseconds` (asked
 * that often; TCP keepalive is on too), the lock is taken as gone: the hold's `signal` is aborted with a
 * `LockLostError`. The work's result is returned as soon as it is done: the release (ROLLBACK, then closing
 * the connection) runs in the background, its socket destroyed if it takes longer than
 * `releaseTimeoutMilliseconds`; the connection slot is given back when it is closed or destroyed. The server side of a lost
 * lock: a backend on the far side of a partition stays idle in transaction, holding the advisory lock; the
 * client's TCP keepalive does nothing for it, nor does the server's `client_connection_check_interval`
 * (checked only while a query runs), and the server's own TCP keepalive takes about 2 hours by default. So
 * the lock's transaction sets `idle_in_transaction_session_timeout` to max(3 × `livenessCheckMilliseconds`,
 * that + 1 000 ms): the server ends that backend, and the lock is free for others, that long after the last
 * liveness check it answered. A live hold answers one every `livenessCheckMilliseconds`, so it never idles
 * out; the pool's own `idle_in_transaction_session_timeout` is not applied to the lock's connection (a shorter
 * one would end the lock while the work runs).
 */
import { createHash } from 'node:crypto';
import type { Client, ClientConfig, Pool } from 'pg';
import { ConfigurationError, LockLostError, LockTimeoutError } from '../errors.ts';
import type { RefreshLock } from '../lock.ts';

export interface PostgresLockOptions {
  /** The pool whose settings (`pool.options`) the lock's own connections use; no connection is taken from it. */
  pool: Pool;
  /** Longest wait for the lock, milliseconds, the wait for a free lock connection (`maxConnections`) included; default 30 000. */
  lockTimeoutMilliseconds?: number;
  /** Mixed into the 64-bit lock key, so unrelated applications on one database do not collide; default `gatehouse-client`. */
  namespace?: string;
  /** Most lock connections open at once (one per refresh in progress), default 10. */
  maxConnections?: number;
  /**
   * While the lock is held, its connection is asked `SELECT 1` this often; an answer not back within the same
   * time marks the lock lost (a silently dead connection: a network partition). Also the TCP keepalive delay.
   * The lock's transaction has `idle_in_transaction_session_timeout` = max(3 × this, this + 1 000), so the server
   * ends a backend whose client stopped asking (the pool's own setting is not used for the lock's connection).
   * Milliseconds, default 5 000.
   */
  livenessCheckMilliseconds?: number;
  /** Longest a release (ROLLBACK, then closing the connection) may take before its socket is destroyed, milliseconds; default 2 000. It runs after the work's result is returned. */
  releaseTimeoutMilliseconds?: number;
}

/** SQLSTATE 55P03 lock_not_available: `lock_timeout` expired. */
const LOCK_NOT_AVAILABLE = '55P03';
/** SQLSTATE 57014 query_canceled: a `statement_timeout` (or a cancel request) ended the wait. */
const QUERY_CANCELED = '57014';
/** How long past the lock timeout the client waits for the server's own answer before giving up on the connection. */
const ACQUIRE_GRACE_MILLISECONDS = 2_000;

/** Destroys a `pg.Client`'s socket (no goodbye: for a connection that no longer answers). */
function destroySocket(connection: Client): void {
  (connection as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream?.destroy?.();
}

/** Resolves with `promise`, or rejects with `onTimeout()` after `milliseconds` (the timer does not keep the process alive). */
function bounded<T>(promise: Promise<T>, milliseconds: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, milliseconds));
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The PostgreSQL lock: a `RefreshLock` whose own connections can be ended at shutdown. */
export interface PostgresRefreshLock extends RefreshLock {
  /**
   * Ends every lock connection open now (a hold's lock is then lost: its `signal` is aborted), each
   * given up to `releaseTimeoutMilliseconds` to close before its socket is destroyed, and waits for that.
   * The lock's connections are outside the pool, so `pool.end()` does not close them: call this at
   * shutdown (and in tests' after hooks), so that no open socket keeps the process alive. Later
   * `withLock` calls, and those still waiting for a free connection, reject with an error saying the lock is closed.
   */
  close(): Promise<void>;
}

/** @throws ConfigurationError when `options.pool` is not a `pg` Pool (`pg` is an optional peer dependency: install it to use this lock). */
export function createPostgresLock(options: PostgresLockOptions): PostgresRefreshLock {
  assertPgPool(options?.pool, 'createPostgresLock');
  const timeout = Math.floor(options.lockTimeoutMilliseconds ?? 30_000);
  if (!(timeout > 0)) throw new RangeError('lockTimeoutMilliseconds must be a positive number');
  const maxConnections = Math.floor(options.maxConnections ?? 10);
  if (!(maxConnections >= 1)) throw new RangeError('maxConnections must be at least 1');
  const liveness = Math.floor(options.livenessCheckMilliseconds ?? 5_000);
  if (!(liveness > 0)) throw new RangeError('livenessCheckMilliseconds must be a positive number');
  /** Server side: a lock transaction idle this long (no liveness check answered: its client is gone) is ended by the server. */
  const idleInTransactionTimeout = Math.max(3 * liveness, liveness + 1_000);
  const releaseTimeout = Math.floor(options.releaseTimeoutMilliseconds ?? 2_000);
  if (!(releaseTimeout > 0)) throw new RangeError('releaseTimeoutMilliseconds must be a positive number');
  const namespace = options.namespace ?? 'gatehouse-client';
  // pg-pool makes its connections with `new pool.Client(pool.options)`; the lock makes its own the same way.
  const { Client: ClientClass, options: poolOptions } = options.pool as unknown as { Client?: new (config: ClientConfig) => Client; options?: ClientConfig };
  if (typeof ClientClass !== 'function') throw new ConfigurationError('createPostgresLock needs a pool from the "pg" package (new pg.Pool(…)): its connection settings make the lock\'s own connections');
  const baseConfig: ClientConfig = {
    ...poolOptions,
    // pg-pool keeps these two non-enumerable (so they do not print): copied by name.
    password: poolOptions?.password, ssl: poolOptions?.ssl,
    // The lock's waits are bounded by lock_timeout (server side) and by this lock's own timers (client side):
    // a pool's shorter query_timeout would cut the wait short with a raw error while the backend went on waiting.
    query_timeout: undefined,
    // The lock's transaction sets its own idle_in_transaction_session_timeout (below); a pool's shorter one
    // would end the lock while the work runs.
    idle_in_transaction_session_timeout: undefined,
    keepAlive: true, keepAliveInitialDelayMillis: liveness,
  };
  const timeoutError = (key: string) => new LockTimeoutError(`waited ${timeout} ms for the refresh lock "${key}"`);

  let open = 0;
  const waiting: (() => void)[] = [];
  /** A lock connection slot, waited for at most until `deadline` (the wait counts toward the lock timeout). */
  const takeSlot = async (key: string, deadline: number) => {
    if (open < maxConnections) {
      open++;
      return;
    }
    let grant!: () => void;
    const granted = new Promise<void>((resolve) => {
      grant = resolve;
    });
    waiting.push(grant);
    await bounded(granted, deadline - Date.now(), () => timeoutError(key)).catch((error: unknown) => {
      const index = waiting.indexOf(grant);
      if (index === -1) {
        // Granted in the same moment it timed out: hand the slot on.
        giveSlot();
      } else {
        waiting.splice(index, 1);
      }
      throw error;
    });
  };
  const giveSlot = () => {
    const next = waiting.shift();
    if (next) next();
    else open--;
  };

  /** Every lock connection made and not yet closed (its release may still run in the background). */
  const connections = new Set<Client>();
  let closed = false;
  /** Ends a connection, its socket destroyed after `releaseTimeout`; resolves once it is closed either way. */
  const endConnection = (connection: Client, first?: () => Promise<unknown>): Promise<void> => {
    let destroyTimer: NodeJS.Timeout | undefined;
    const destroyed = new Promise<void>((resolve) => {
      destroyTimer = setTimeout(() => {
        destroySocket(connection);
        resolve();
      }, releaseTimeout);
      destroyTimer.unref();
    });
    const ended = Promise.resolve()
      .then(() => first?.())
      .catch(() => {})
      .then(() => connection.end())
      .catch(() => {});
    return Promise.race([ended, destroyed]).finally(() => {
      clearTimeout(destroyTimer);
      connections.delete(connection);
    });
  };

  return {
    async close() {
      closed = true;
      // A withLock waiting for a slot wakes now and finds the lock closed (below), rather than opening a
      // connection after close() returned.
      for (const grant of waiting.splice(0)) {
        open++;
        grant();
      }
      await Promise.all([...connections].map((connection) => endConnection(connection)));
    },
    async withLock(key, work) {
      const closedError = () => new Error(`the PostgreSQL refresh lock is closed (close() was called): cannot lock "${key}"`);
      if (closed) throw closedError();
      const deadline = Date.now() + timeout;
      await takeSlot(key, deadline);
      if (closed) {
        giveSlot();
        throw closedError();
      }
      let slotHeld = true;
      const releaseSlot = () => {
        if (slotHeld) {
          slotHeld = false;
          giveSlot();
        }
      };
      let connection: Client | undefined;
      let livenessTimer: NodeJS.Timeout | undefined;
      let closing = false;
      /**
       * In the background, bounded: the work's result never waits for it. The slot is given back once the
       * connection is closed or its socket destroyed (after `releaseTimeout`), so `maxConnections` bounds the
       * connections open, those still being released included.
       */
      const close = () => {
        closing = true;
        clearInterval(livenessTimer);
        const current = connection;
        if (current === undefined) {
          releaseSlot();
          return;
        }
        // ROLLBACK ends the transaction (and with it the advisory lock), also behind a transaction-mode pooler; closing the session does too.
        void endConnection(current, () => current.query('ROLLBACK')).then(releaseSlot);
      };
      try {
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw timeoutError(key);
        const lockConnection = new ClientClass({
          ...baseConfig,
          connectionTimeoutMillis: Math.min(baseConfig.connectionTimeoutMillis || remaining, remaining),
        });
        connection = lockConnection;
        connections.add(lockConnection);
        const lost = new AbortController();
        const markLost = (what: string) => {
          if (!closing && !lost.signal.aborted) lost.abort(new LockLostError(`the refresh lock "${key}" was lost: its PostgreSQL connection ${what}`));
        };
        // A backend terminated while the lock is held must not end the process ('error' without a listener).
        lockConnection.on('error', () => markLost('failed'));
        lockConnection.on('end', () => markLost('ended'));
        try {
          await lockConnection.connect();
        } catch (error) {
          // Cut short by what was left of the lock timeout (the wait for a slot used the rest).
          if (Date.now() >= deadline) throw timeoutError(key);
          throw error;
        }
        // A transaction-scoped lock (released by COMMIT/ROLLBACK or the session's end) and transaction-local
        // settings: nothing leaks to other clients of a transaction-mode pooler. SET cannot take a bind
        // parameter; the values are validated integers.
        const acquire = async () => {
          await lockConnection.query('BEGIN');
          const lockTimeout = Math.max(1, deadline - Date.now());
          await lockConnection.query(`SET LOCAL lock_timeout = ${lockTimeout}`);
          // The pool's statement_timeout (if shorter) must not cut the wait: lock_timeout bounds it.
          await lockConnection.query('SET LOCAL statement_timeout = 0');
          // The server ends a backend whose client went silent (a partition) by itself, freeing the lock for
          // other instances: the periodic SELECT 1 keeps a live hold from idling that long.
          await lockConnection.query(`SET LOCAL idle_in_transaction_session_timeout = ${idleInTransactionTimeout}`);
          await lockConnection.query('SELECT pg_advisory_xact_lock($1::bigint)', [advisoryKey(namespace, key)]);
        };
        try {
          // The server ends the wait at the deadline (lock_timeout); the client gives it a little longer to say so,
          // then gives up on a connection that does not answer (its socket is destroyed by close()).
          await bounded(acquire(), deadline - Date.now() + ACQUIRE_GRACE_MILLISECONDS, () => timeoutError(key));
        } catch (error) {
          const code = (error as { code?: string }).code;
          if (code === LOCK_NOT_AVAILABLE || code === QUERY_CANCELED) throw timeoutError(key);
          throw error;
        }
        // A silently dead connection (no error, no end: a partition) is found by asking it something cheap.
        let checking = false;
        livenessTimer = setInterval(() => {
          if (checking || closing || lost.signal.aborted) return;
          checking = true;
          bounded(lockConnection.query('SELECT 1'), liveness, () => new Error('no answer'))
            .catch(() => markLost(`did not answer within ${liveness} ms`))
            .finally(() => {
              checking = false;
            });
        }, liveness);
        livenessTimer.unref();
        return await work({ signal: lost.signal });
      } finally {
        close();
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
