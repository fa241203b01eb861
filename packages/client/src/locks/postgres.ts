/**
 * A lock across processes on PostgreSQL advisory locks. Each `withLock` opens a transaction on a
 * dedicated pooled connection and takes `pg_advisory_xact_lock`: PostgreSQL releases it at commit,
 * rollback, or when the connection dies, so a crashed instance never leaves the lock held.
 * `lock_timeout` bounds the wait.
 */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { ConfigurationError, LockTimeoutError } from '../errors.ts';
import type { RefreshLock } from '../lock.ts';
import { checkOutPooled } from '../postgres-checkout.ts';

export interface PostgresLockOptions {
  pool: Pool;
  /** Longest wait for the lock, milliseconds; default 30 000. */
  lockTimeoutMilliseconds?: number;
  /** Mixed into the 64-bit lock key, so unrelated applications on one database do not collide; default `gatehouse-client`. */
  namespace?: string;
}

/** SQLSTATE 55P03 lock_not_available: `lock_timeout` expired. */
const LOCK_NOT_AVAILABLE = '55P03';

/** @throws ConfigurationError when `options.pool` is not a `pg` Pool (`pg` is an optional peer dependency: install it to use this lock). */
export function createPostgresLock(options: PostgresLockOptions): RefreshLock {
  assertPgPool(options?.pool, 'createPostgresLock');
  const timeout = Math.floor(options.lockTimeoutMilliseconds ?? 30_000);
  if (!(timeout > 0)) throw new RangeError('lockTimeoutMilliseconds must be a positive number');
  const namespace = options.namespace ?? 'gatehouse-client';
  return {
    async withLock(key, work) {
      // With an 'error' listener while held: a backend terminated during `work()` must not end the process.
      const { client: connection, release } = await checkOutPooled(options.pool);
      let broken = false;
      try {
        await connection.query('BEGIN').catch((error: unknown) => {
          broken = true;
          throw error;
        });
        try {
          // SET cannot take a bind parameter; `timeout` is a validated integer.
          await connection.query(`SET LOCAL lock_timeout = ${timeout}`);
          await connection.query('SELECT pg_advisory_xact_lock($1::bigint)', [advisoryKey(namespace, key)]);
        } catch (error) {
          await connection.query('ROLLBACK').catch(() => {
            broken = true;
          });
          if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) throw new LockTimeoutError(`waited ${timeout} ms for the refresh lock "${key}"`);
          throw error;
        }
        try {
          return await work();
        } finally {
          // Ending the transaction releases the advisory lock.
          await connection.query('COMMIT').catch(() => {
            broken = true;
          });
        }
      } finally {
        // A connection whose transaction state is unknown is destroyed, not reused.
        release(broken);
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
