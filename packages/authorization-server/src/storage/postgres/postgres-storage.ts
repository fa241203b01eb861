/**
 * The storage contract on PostgreSQL through node-postgres (`pg`, pure JavaScript), for several stateless
 * authorization-server instances sharing one database. This file opens the pool (search_path and
 * statement_timeout as startup parameters), runs the migrations, provides the driver's transactions (one
 * checked-out connection, retried on deadlock or serialization failure) and composes the stores.
 *
 * The operations live in `storage/stores/`, written once over the SQL driver; where PostgreSQL's atomicity
 * differs from SQLite's, its body sits beside SQLite's in the operation's one function:
 * - `authorizationCodes.consume`: ONE conditional `UPDATE … RETURNING` (authorization-codes.ts).
 * - `grants.exchangeCode`/`issueForCode`/`exchangeReadyCode`: ONE statement around `gatehouse_redeem_code`
 *   (migration 20), which takes the (client, subject) advisory lock and locks the code and the superseded
 *   grants (grants.ts); `exchangeReadyCode` reads the code and checks it first, in ONE call of
 *   `gatehouse_exchange_ready_codes` (migration 38) per batch of the exchanges that queued while two were in
 *   flight (statement-batches.ts).
 * - `tokens.rotateRefreshToken`: ONE call of `gatehouse_rotate_refresh_tokens` (migration 37) per batch of
 *   the rotations that queued while two were in flight (statement-batches.ts): each locks its
 *   grant row (`FOR NO KEY UPDATE`; a batch in grant id order), flips the presented refresh token only if it
 *   is still current, revokes the grant's access tokens; then the new pairs, audit events and grace records
 *   of those that happened. One round trip and one commit per batch.
 * - `grants.revoke`: a short transaction, grant row first (lock order: whatever touches several tokens of a
 *   grant locks the grant row first, which rules out deadlocks).
 * - cleanup: `LIMIT n … FOR UPDATE SKIP LOCKED` batches so every instance may clean at once (cleanup.ts).
 * The reads before the exchange and the rotation (`authorizationCodes.find`, `tokens.findByDigest` with
 * `forRotation`) are answered from the rows this instance wrote, when it wrote them (written-rows.ts), so
 * each of those operations is one round trip; the write re-checks under its locks what may have changed.
 * Hot statements are named (prepared once per connection; a transaction-pooling PgBouncer needs
 * `max_prepared_statements` for that, 1.21+). Client records and the resource catalogue are cached,
 * kept fresh by LISTEN/NOTIFY on one extra connection (client-cache.ts, resource-cache.ts); a token lookup
 * reads its client's status in its own statement, so a change not yet notified is still seen (tokens.ts).
 *
 * Times are `bigint` seconds, returned by `pg` as strings and converted by the row mappers (rows.ts).
 */
import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
import type {
  Storage,
} from '../storage.ts';
import { migrations, runMigrations, SCHEMA_NAME } from './migrations.ts';
import { compareSchemaVersions, schemaNotCurrentProblem } from '../sql/schema-versions.ts';
import { postgresStorageError } from './postgres-unavailable.ts';
import { StorageUnavailableError } from '../storage-unavailable.ts';
import { createPostgresDriver } from './postgres-driver.ts';
import { createSharedStores } from '../stores/index.ts';
import { createRateLimitStore } from '../stores/rate-limits.ts';
import { createSharedRateLimitStore } from '../stores/rate-limits-shared.ts';
import { cacheClients, clientChangeChannel, listenForChanges, type ClientChangeListenerOptions } from '../client-cache.ts';
import { cacheResources, resourceChangeChannel } from '../resource-cache.ts';
import { createResourceStore } from '../stores/resources.ts';
import { createClientStore } from '../stores/clients.ts';

export interface PostgresStorageOptions {
  /**
   * The schema holding Gatehouse's tables (created if missing), set as each connection's `search_path`.
   * Default `public`. Lowercase letters, digits and `_` (tests use a fresh `gh_test_<random>` each).
   */
  schema?: string;
  /** Connections in the pool; default 10. */
  poolSize?: number;
  /**
   * Longest a statement may run, lock waits included, before PostgreSQL cancels it (`statement_timeout`,
   * set at connection start): the operation then fails with StorageUnavailableError (503 with
   * Retry-After) instead of holding a request and a pooled connection while a lock or the database is
   * stuck. Default 10,000 ms; 0 turns it off. Migrations are not bounded (they set it to 0 for themselves).
   */
  statementTimeoutMillis?: number;
  /**
   * Errors of idle pooled connections (the pool replaces them), losses of the client-cache listener (it
   * reconnects) and the first failed flush of `shared` rate-limit counters in an outage (they retry);
   * default: one line on stderr.
   */
  onConnectionError?: (error: Error) => void;
  /**
   * How long an operation waits for a connection (a free one in the pool, or a new one to be established)
   * before it fails with StorageUnavailableError; default 5000 ms.
   */
  connectionTimeoutMillis?: number;
  /**
   * Client records kept in memory (storage/client-cache.ts); default 10,000. 0 turns the cache, the resource
   * catalogue's cache (resource-cache.ts) and their listening connection off: needed behind a pooler in
   * transaction mode (PgBouncer), where a LISTEN does not keep its session and notifications would be lost.
   */
  clientCacheEntries?: number;
  /**
   * Where the OAuth endpoints' request counters are kept (storage.ts `rateLimits`, SPEC decision 18), both
   * shared by every instance through the UNLOGGED `rate_limit_windows` table: `shared` (default; issue 12)
   * counts in this instance's memory and adds its hits to the table in one statement every
   * `rateLimitFlushIntervalMs`, seeing other instances' hits up to one interval late
   * (stores/rate-limits-shared.ts); `database` writes every hit (one round trip per request, exact).
   */
  rateLimitCounters?: PostgresRateLimitCounters;
  /** `shared` counters: milliseconds between flushes; default 250 (DEFAULT_RATE_LIMIT_FLUSH_INTERVAL_MS). */
  rateLimitFlushIntervalMs?: number;
  /** The client-change listener's backoff, heartbeat and state callback (tests, operations); defaults in client-cache.ts. */
  clientChangeListener?: Omit<ClientChangeListenerOptions, 'newConnection'>;
  /**
   * What `databaseUrl` reaches: `none` (default), PostgreSQL itself, or a pooler in session mode that passes the
   * `options` startup parameter on; `transaction`, a pooler that hands each transaction (or statement) to any of
   * its server connections (PgBouncer `pool_mode = transaction`). Then nothing may live in a session: no
   * startup parameters (PgBouncer refuses `options`), so the connections' `search_path` and `statement_timeout`
   * are the role's or the pooler's (`ALTER ROLE … SET`, or PgBouncer's `connect_query`) and `schema` is checked
   * against them at start; no named prepared statements (another client's connection holds, or lacks, each
   * name); no LISTEN, so `clientCacheEntries` is 0 whatever it is set to; and `cancelStatements` cancels
   * nothing (the process ids a pooler reports are not its server connections'): statements in flight at a
   * shutdown end by `statement_timeout`.
   */
  pooler?: PostgresPooler;
}

/** See PostgresStorageOptions.pooler. */
export type PostgresPooler = 'none' | 'transaction';

/** See PostgresStorageOptions.rateLimitCounters. */
export type PostgresRateLimitCounters = 'shared' | 'database';

type Row = QueryResultRow;

/**
 * A rolling deploy: a migration of the next release added a column to a table that a named statement of this one
 * reads whole (`SELECT *`, `RETURNING *`). PostgreSQL then refuses the plan it kept for that statement on each
 * connection, once, before running anything ("cached plan must not change result type", 0A000), and plans it anew
 * at the next execution; the statement (or the transaction it was in, rolled back) is run again.
 */
function refusedStalePlan(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === '0A000' && /cached plan must not change result type/.test(String((error as Error).message));
}

/**
 * Connects, runs the missing migrations (safe when instances start together), and returns the storage.
 * @param databaseUrl `postgres://user[:password]@host[:port]/database[?sslmode=…]`
 * @throws when the database is unreachable or a migration fails; nothing is left open then.
 */
export async function createPostgresStorage(databaseUrl: string, options: PostgresStorageOptions = {}): Promise<Storage> {
  const schema = checkSchema(options.schema ?? 'public');
  const pooler = options.pooler ?? 'none';
  const migrated = await migrateOnOwnConnection(databaseUrl, schema, pooler, options.connectionTimeoutMillis);
  // A pooler told to ignore the `options` startup parameter (PgBouncer ignore_startup_parameters) drops the search_path
  // sent: the migrations set theirs, and every later statement reached the role's schema (the start went on, then 500).
  if (pooler === 'none' && migrated.currentSchema !== schema) throw new PostgresPoolerConfigurationError(ignoredOptionsProblem(migrated.currentSchema, schema)!);
  const pool = createPool(databaseUrl, schema, pooler, options.poolSize ?? 10, options.connectionTimeoutMillis, options.statementTimeoutMillis);
  const onConnectionError = options.onConnectionError ?? ((error: Error) => console.error(`gatehouse: PostgreSQL connection error: ${error.message}`));
  pool.on('error', onConnectionError);
  if (pooler === 'transaction') {
    try {
      await checkPooledSessions(pool, schema, options.onConnectionError ?? ((warning: Error) => console.error(`gatehouse: warning: ${warning.message}`)));
    } catch (error) {
      await pool.end().catch(() => {});
      throw error;
    }
  }
  // Behind a transaction pooler no connection keeps a LISTEN, nor a statement prepared under a name.
  const clientCacheEntries = pooler === 'transaction' ? 0 : options.clientCacheEntries;
  const named = pooler !== 'transaction';
  // The connections checked out now, each running an operation's statements (cancelStatements below).
  const inUse = new Set<PoolClient>();
  pool.on('acquire', (client) => inUse.add(client));
  pool.on('release', (_error, client) => inUse.delete(client));
  // Set by cancelStatements: from then on no statement starts (a cancelled batch's operations would
  // otherwise run again one by one, statement-batches.ts, and commit when the lock they wait on goes).
  let stopped: StorageUnavailableError | undefined;

  // Every operation's errors pass through postgresStorageError: an unreachable database is a
  // StorageUnavailableError (SPEC decision 18: 503, never 500), anything else stays as it is.
  // As pool.query does (pg-pool), but checking `stopped` once the connection is ours, before anything is
  // sent: a statement that waited in the pool's queue (or for a new connection) across the shutdown
  // deadline must not start, and commit on its own, after cancelStatements has run. Released with any
  // error, as pool.query releases, so that a connection that failed is not reused.
  const checkOutUnlessStopped = async () => {
    if (stopped) throw stopped;
    let checkedOut: Awaited<ReturnType<typeof checkOut>>;
    try {
      checkedOut = await checkOut(pool);
    } catch (error) {
      throw postgresStorageError(error);
    }
    if (stopped) {
      checkedOut.release();
      throw stopped;
    }
    return checkedOut;
  };
  // Every pooled connection may hold a stale plan of the same statement (refusedStalePlan): each one refusing is
  // closed, and the statement tried again, at most once more than the pool holds connections.
  const staleRetries = (options.poolSize ?? 10) + 1;
  const query = async <R extends Row = Row>(text: string, params: unknown[] = [], name?: string) => {
    for (let stale = 0; ; ) {
      const { client, release } = await checkOutUnlessStopped();
      try {
        const result = await (name === undefined || !named ? client.query<R>(text, params) : client.query<R>({ name, text, values: params }));
        release();
        return result;
      } catch (error) {
        release(error instanceof Error ? error : new Error(String(error)));
        // Refused before it ran (refusedStalePlan), so running it again is safe: on another connection, the one
        // released with an error being closed (its prepared statements with it).
        if (refusedStalePlan(error) && ++stale <= staleRetries) continue;
        throw postgresStorageError(error);
      }
    }
  };
  const one = async <R extends Row = Row>(text: string, params: unknown[] = []) => (await query<R>(text, params)).rows[0];

  const transaction = async <T>(work: (client: PoolClient) => Promise<T>): Promise<T> => {
    // A deadlock or serialization failure rolls the whole transaction back, so running it again is safe.
    // A connection lost mid-transaction rolls it back on the server; if it is lost during COMMIT the
    // outcome is unknown to us (the caller gets 503 and retries; every operation here is safe to retry).
    for (let attempt = 1, stale = 0; ; ) {
      const { client, release } = await checkOutUnlessStopped();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(client);
        // Cancelled between two statements (shutdown's deadline): not committed, as if it had been cut in one.
        if (stopped) throw stopped;
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        const code = (error as { code?: string }).code;
        // A connection that refused a stale plan is closed (its prepared statements with it), not reused.
        if (refusedStalePlan(error)) {
          broken ??= error as Error;
          if (++stale <= staleRetries) continue;
        }
        if ((code === '40P01' || code === '40001') && attempt++ < 3) continue;
        throw postgresStorageError(error);
      } finally {
        release(broken);
      }
    }
  };
  /** The one SQL layer (issue 12): stores written once for both databases run over this. */
  const driver = createPostgresDriver({ query: (text, params, name) => query(text, params, name), transaction });


  // Issue 12: client records cached, bypassed until the listener below hears every change of a client row
  // (of this schema: the channels are database-wide, and other schemas' changes are ignored).
  const clientCache = cacheClients(createClientStore(driver), { active: false, maxEntries: clientCacheEntries });
  // The resource catalogue likewise (resource-cache.ts), on the same listening connection.
  const resourceCache = cacheResources(createResourceStore(driver), { active: false, maxEntries: clientCacheEntries });
  const clientChanges = clientCacheEntries === 0 ? { close: async () => {} } : await listenForChanges([clientChangeChannel(clientCache, schema), resourceChangeChannel(resourceCache, schema)], {
    newConnection: () => createListenerConnection(databaseUrl, options.connectionTimeoutMillis),
    ...options.clientChangeListener,
    onStateChange(state) {
      if (!state.listening && state.error) {
        onConnectionError(new Error(`client-cache listener: ${state.error.message} (client records and the resource catalogue are read from the database until it listens again)`));
      }
      options.clientChangeListener?.onStateChange?.(state);
    },
  });

  // SPEC decision 18, issue 12: the counters without a round trip per request, unless `database` is asked for.
  const rateLimits = options.rateLimitCounters === 'database' ? undefined : createSharedRateLimitStore(driver, {
    flushIntervalMs: options.rateLimitFlushIntervalMs,
    onFlushError: (error) => onConnectionError(new Error(`rate-limit counters: flush failed, counting in this instance until the next one succeeds: ${error instanceof Error ? error.message : String(error)}`)),
  });

  const storage: Storage = {
    resources: resourceCache.resources,
    ...createSharedStores(driver, { findClient: (clientId) => clientCache.clients.find(clientId), invalidateClient: (clientId) => clientCache.invalidate(clientId) }),
    clients: clientCache.clients,
    rateLimits: rateLimits ?? createRateLimitStore(driver),
    async close() {
      // First: its last flush needs the pool (a failure is reported, never thrown).
      await rateLimits?.close();
      await clientChanges.close();
      await pool.end();
    },
    async cancelStatements() {
      stopped = new StorageUnavailableError('the server is shutting down');
      if (pooler === 'transaction') return 0;
      // The backends' process ids, as each connection's BackendKeyData gave them (pg's Client, not in @types/pg).
      const processIds = [...inUse].map((client) => (client as PoolClient & { processID?: number | null }).processID).filter((id) => typeof id === 'number');
      if (processIds.length === 0) return 0;
      // A connection of its own: the pool may be full, and the pool's connections are the ones to stop.
      const canceller = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2_000, query_timeout: 2_000, application_name: 'gatehouse shutdown' });
      canceller.on('error', () => {});
      try {
        await canceller.connect();
        await canceller.query('SELECT pg_cancel_backend(pid) FROM unnest($1::int[]) AS pid', [processIds]);
        return processIds.length;
      } catch (error) {
        onConnectionError(new Error(`shutdown: could not cancel the statements in flight (${error instanceof Error ? error.message : String(error)}); a statement waiting on a lock may still commit`));
        return 0;
      } finally {
        await canceller.end().catch(() => {});
      }
    },
    connectionPool() {
      return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options.max ?? 10 };
    },
    async checkReady() {
      // One cheap round trip that also proves the schema is migrated (readiness, `/health/ready`): every version this
      // release knows recorded, not only one as high as its last (sql/schema-versions.ts).
      const row = await one<{ versions: number[] | null }>('SELECT array_agg(version) AS versions FROM schema_migrations');
      const problem = schemaNotCurrentProblem(migrations, compareSchemaVersions(migrations, row?.versions ?? []), 'database schema');
      if (problem !== undefined) throw new Error(problem);
    },
  };
  return storage;
}

/**
 * Runs the missing migrations and closes: `gatehouse migrate`. `through` stops after that version (tests: a schema as
 * an older release left it).
 * @returns the versions applied by this call and the schema's version after it.
 * @throws Error when the schema lacks a version below one it records (migrations.ts runMigrations); nothing changes.
 */
export async function migratePostgres(
  databaseUrl: string, options: Pick<PostgresStorageOptions, 'schema' | 'pooler'> & { through?: number } = {},
): Promise<{ applied: number[]; version: number }> {
  const { applied, version } = await migrateOnOwnConnection(databaseUrl, checkSchema(options.schema ?? 'public'), options.pooler ?? 'none', undefined, options.through);
  return { applied, version };
}

/**
 * Runs the migrations on a connection of their own, opened without `statement_timeout` (0: none) and
 * closed after. Not the serving pool's connection: an index build or another instance's migration may take
 * longer than a request's budget, and with a tiny budget (a test's 1 ms) a timer that fires between two
 * statements cancels the next one ("canceling statement due to user request") before `SET LOCAL` could
 * lift it.
 */
async function migrateOnOwnConnection(
  databaseUrl: string, schema: string, pooler: PostgresPooler, connectionTimeoutMillis?: number, through?: number,
): Promise<{ applied: number[]; version: number; currentSchema: string | null }> {
  const pool = createPool(databaseUrl, schema, pooler, 1, connectionTimeoutMillis, 0);
  pool.on('error', () => {}); // an idle connection's loss: the migration's own query reports it
  try {
    const { client, release } = await checkOut(pool);
    try {
      const migrated = await runMigrations(client, schema, through);
      // Outside the migrations' transaction (they set their own search_path): the one the connection was opened with,
      // without a statement_timeout to cut it short (createPostgresStorage checks it).
      const current = (await client.query<{ schema: string | null }>('SELECT current_schema() AS schema')).rows[0]?.schema ?? null;
      return { ...migrated, currentSchema: current };
    } finally {
      release();
    }
  } catch (error) {
    // PgBouncer refuses the search_path and statement_timeout sent at connection start (createPool).
    if (pooler === 'none' && /unsupported startup parameter/.test(error instanceof Error ? error.message : '')) {
      throw new PostgresPoolerConfigurationError(`${(error as Error).message}: DATABASE_URL reaches a connection pooler (PgBouncer), which refuses the settings Gatehouse sends when it connects; `
        + 'in transaction mode set GATEHOUSE_DATABASE_POOLER=transaction (README "PostgreSQL behind a connection pooler"), or connect to PostgreSQL directly');
    }
    // A database that refuses the connection (unreachable, missing, the role refused) or is a standby (read-only)
    // is an operating problem at start: StorageUnavailableError, which the start reports in one line
    // (scripts/start.ts), not a stack. A fault of a migration stays as it is.
    throw postgresStorageError(error);
  } finally {
    await pool.end();
  }
}

/**
 * Behind a transaction pooler (PostgresStorageOptions.pooler) the connections' `search_path` is the role's or the
 * pooler's: every unqualified table name would otherwise reach another schema's table (or none), so the start is
 * refused unless it names `schema` first. A `statement_timeout` of 0 is allowed, and reported: nothing then bounds
 * a statement stuck on a lock.
 * @throws PostgresPoolerConfigurationError when the server connections' current schema is not `schema`.
 */
async function checkPooledSessions(pool: pg.Pool, schema: string, report: (error: Error) => void): Promise<void> {
  let row: { schema: string | null; statement_timeout: string } | undefined;
  try {
    row = (await pool.query<{ schema: string | null; statement_timeout: string }>(
      "SELECT current_schema() AS schema, current_setting('statement_timeout') AS statement_timeout")).rows[0];
  } catch (error) {
    throw postgresStorageError(error);
  }
  if (row?.schema !== schema) throw new PostgresPoolerConfigurationError(pooledSchemaProblem(row?.schema ?? null, schema)!);
  if (row.statement_timeout === '0') {
    report(new Error('behind a transaction pooler the role\'s or the pooler\'s statement_timeout applies, and it is 0: a statement stuck on a lock holds its request and connection without bound (ALTER ROLE <user> SET statement_timeout = \'10s\')'));
  }
}

/**
 * Why the start refuses a pooler's sessions whose current schema is `current` (null: none) for Gatehouse's `schema`, or
 * undefined when it is that schema (checkPooledSessions; `gatehouse config check` says the same, open-storage.ts).
 */
export function pooledSchemaProblem(current: string | null, schema: string): string | undefined {
  if (current === schema) return undefined;
  return `behind a transaction pooler (GATEHOUSE_DATABASE_POOLER=transaction) Gatehouse cannot set search_path itself, and its connections' current schema is ${current === null ? 'none' : `"${current}"`}, not "${schema}": `
    + `set it for the role (ALTER ROLE <user> SET search_path = ${schema}) or in the pooler (PgBouncer: connect_query = 'SET search_path = ${schema}')`;
}

/**
 * Why the start refuses, without GATEHOUSE_DATABASE_POOLER=transaction, connections whose current schema is `current`
 * (null: none) for Gatehouse's `schema` (the search_path sent at connection start was dropped), or undefined when it is
 * that schema (createPostgresStorage; `gatehouse config check` says the same, open-storage.ts).
 */
export function ignoredOptionsProblem(current: string | null, schema: string): string | undefined {
  if (current === schema) return undefined;
  return `the connections' current schema is ${current === null ? 'none' : `"${current}"`}, not "${schema}": `
    + 'the search_path Gatehouse sends when it connects (the options startup parameter) was not applied, as a connection pooler told to ignore it does (PgBouncer ignore_startup_parameters); '
    + 'in transaction mode set GATEHOUSE_DATABASE_POOLER=transaction (README "PostgreSQL behind a connection pooler"), or connect to PostgreSQL directly';
}

/**
 * The schema a pooled connection's unqualified names will reach once `schema` exists (the start creates it before it
 * checks): the first entry of `searchPath` (current_setting, `$user` being `user`) that exists or is `schema`, as
 * current_schema() will answer then; null when none.
 */
export function schemaOnceCreated(searchPath: string, user: string, existing: ReadonlySet<string>, schema: string): string | null {
  for (const entry of searchPath.match(/"(?:[^"]|"")*"|[^,\s]+/g) ?? []) {
    const name = entry.startsWith('"') ? entry.slice(1, -1).replaceAll('""', '"') : entry.toLowerCase();
    const resolved = name === '$user' ? user : name;
    if (resolved === schema || existing.has(resolved)) return resolved;
  }
  return null;
}

/** The start refused: a pooler's sessions do not match the configuration (checkPooledSessions). */
export class PostgresPoolerConfigurationError extends Error {
  override name = 'PostgresPoolerConfigurationError';
}

function checkSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`schema must be lowercase letters, digits and "_" (got "${schema}")`);
  return schema;
}

function createPool(databaseUrl: string, schema: string, pooler: PostgresPooler, max: number, connectionTimeoutMillis = 5_000, statementTimeoutMillis = 10_000): pg.Pool {
  // search_path as a startup parameter: no extra round trip per connection. The name was checked above.
  // connectionTimeoutMillis bounds the wait for a connection (pool-pg: "timeout exceeded when trying to
  // connect"), so an unreachable database answers 503 promptly instead of queueing requests; keepAlive
  // lets the OS notice a peer that vanished without closing the connection.
  // statement_timeout as a startup parameter too (milliseconds; an integer, checked by the caller's type).
  // Behind a transaction pooler none: it refuses them, or would apply them to no server connection in particular.
  const options = pooler === 'transaction' ? undefined : `-c search_path=${schema} -c statement_timeout=${Math.max(0, Math.trunc(statementTimeoutMillis))}`;
  return new pg.Pool({ connectionString: databaseUrl, max, options, connectionTimeoutMillis, keepAlive: true });
}

/**
 * The client-record cache's listening connection (storage/client-cache.ts): its own, never pooled (a
 * LISTEN belongs to one session). `query_timeout` bounds the heartbeat, so a silently dead connection is
 * noticed; keepAlive as for the pool.
 */
function createListenerConnection(databaseUrl: string, connectionTimeoutMillis = 5_000): pg.Client {
  return new pg.Client({
    connectionString: databaseUrl, connectionTimeoutMillis, query_timeout: 5_000, keepAlive: true, application_name: 'gatehouse client-cache listener',
  });
}

/**
 * Checks a client out of the pool with an `'error'` listener for as long as it is out. pg-pool detaches its
 * own listener on checkout, and a connection that dies while checked out (pg_terminate_backend, a restart,
 * a cut network) emits `'error'`: without a listener that ends the process. `release(error?)` hands the
 * client back with the error it met (its own or the one given), so the pool discards a broken connection
 * instead of reusing it (pg-pool README, "releasing clients").
 *
 * The callback form of `pool.connect`, not the promise: the listener must be attached in the same tick as
 * the checkout. A client handed over while the pool parses a socket chunk (release → next waiter) may find
 * the backend's termination notice in the rest of that chunk; with `await pool.connect()` the listener
 * would come a microtask too late and the process would exit (seen under load in connection-loss.test.ts).
 */
function checkOut(pool: pg.Pool): Promise<{ client: PoolClient; release(error?: Error): void }> {
  return new Promise((resolve, reject) => {
    pool.connect((connectError, client, done) => {
      if (connectError || !client) {
        reject(connectError ?? new Error('the pool gave no client'));
        return;
      }
      let broken: Error | undefined;
      const onError = (error: Error) => {
        broken ??= error;
      };
      client.on('error', onError);
      resolve({
        client,
        release(error) {
          client.removeListener('error', onError);
          done(error ?? broken);
        },
      });
    });
  });
}
