/**
 * The storage contract on SQLite through Node's built-in `node:sqlite` (no native addon). This file opens
 * the file, runs the migrations, provides the driver (statements joining the group commit) and composes
 * the stores, whose operations live in `storage/stores/` (SQLite's atomic bodies beside PostgreSQL's).
 *
 * Durability: every committed rotation survives power loss before its response is sent. WAL, with the
 * flush of each commit moved off the event loop (wal-sync.ts: the serving connection runs
 * `synchronous=NORMAL`, and the WAL is fdatasync'ed in the thread pool before any answer that depends on
 * the commit; other connections, such as `gatehouse migrate`, keep `synchronous=FULL`). Group commit (issue 12, group-commit.ts): the writes of one event-loop turn share one
 * `BEGIN IMMEDIATE` transaction and one COMMIT, each multi-statement operation in its own SAVEPOINT, and
 * every method resolves only after that commit. Atomicity across processes: one writer at a time,
 * `busy_timeout` waits for it; a batch holds the lock for one turn. Checkpoints run in a worker thread
 * (checkpoint-worker.ts), off the request path. Cleanup deletes in short batches and yields to the event
 * loop between them (node:sqlite is synchronous).
 */
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { LATEST_VERSION, migrations } from './migrations.ts';
import { compareSchemaVersions, schemaGapProblem, schemaNotCurrentProblem } from '../sql/schema-versions.ts';
import { beginImmediate } from './write-lock.ts';
import { sqliteStorageError } from './sqlite-unavailable.ts';
import { createSqliteDriver } from './sqlite-driver.ts';
import { createSharedStores } from '../stores/index.ts';
import { createRateLimitStore } from '../stores/rate-limits.ts';
import { createInMemoryRateLimitStore } from '../stores/rate-limits-in-memory.ts';
import { StorageUnavailableError } from '../storage-unavailable.ts';
import { commitOpenBatches, createGroupCommit, settledAfterCommits } from './group-commit.ts';
import { type CheckpointOptions, startCheckpointWorker } from './checkpoint-worker.ts';
import { createWalSync, type WalSync } from './wal-sync.ts';
import { createReadWorker, type ReadWorker } from './read-worker.ts';
import { cacheClients, externalWriteCheck } from '../client-cache.ts';
import { cacheResources } from '../resource-cache.ts';
import { createResourceStore } from '../stores/resources.ts';
import { createClientStore } from '../stores/clients.ts';
import type {
  Storage,
} from '../storage.ts';

type Row = Record<string, SQLInputValue>;

/** Statements that never write: they run outside the batch (and wait for it only when one is open). */
const READ_ONLY_STATEMENT = /^\s*(SELECT|PRAGMA)\b/i;

/**
 * Where the OAuth endpoints' request counters live (storage.ts `rateLimits`): `memory` (default) in this
 * process, off the write path (stores/rate-limits-in-memory.ts); `database` in the file's
 * `rate_limit_windows` table, shared by several server processes on one file, each hit joining a commit.
 */
export type RateLimitCounters = 'memory' | 'database';

/** Tuning of createSqliteStorage (defaults suit a server; tests shorten them). */
export type SqliteStorageOptions = CheckpointOptions & {
  rateLimitCounters?: RateLimitCounters;
  /** Replaces the WAL flush (wal-sync.ts) of a file database: tests hold or fail it. */
  walSync?: WalSync;
  /** A file database's token lookups on a worker thread (read-worker.ts); default true. */
  readWorker?: boolean;
};

const readWorkers = new WeakMap<Storage, ReadWorker>();

/** The read worker of a storage `createSqliteStorage` opened (tests: whether it started, what it answered). */
export function readWorkerOf(storage: Storage): ReadWorker | undefined {
  return readWorkers.get(storage);
}

/** Opens (creating and migrating) a database file, or an in-memory one for `':memory:'`. */
export function createSqliteStorage(path: string, options: SqliteStorageOptions = {}): Storage {
  const db = openDatabase(path);
  try {
    migrate(db);
  } catch (error) {
    db.close();
    throw error;
  }
  // Issue 12: each operation of a batch runs in a SAVEPOINT (group-commit.ts), and SQLite keeps the
  // original of every page an operation changes in a sub-journal, so that ROLLBACK TO can restore it. Past
  // 64 KiB (a rotation or a code exchange changes some 30 pages) that sub-journal spills into a temporary
  // file (/var/tmp/etilqs_*): write system calls for undo records that RELEASE drops and a crash never
  // needs. In memory they cost a copy, and each RELEASE frees them: at most one operation's pages. Measured
  // with bench/storage-operations.ts (bench/README.md, "SAVEPOINT undo records in memory"): written per
  // rotation 122 → 35 KiB, CPU per rotation and per code exchange about a third lower. The connection's
  // other temporary structures stay in memory too: the sort of an ORDER BY without an index (listActive)
  // and the list of an `IN (SELECT …)` (clients.changeStatus), as large as the rows they return or
  // touch. Set after the migrations: a migration's CREATE INDEX on a large table sorts through files.
  db.exec('PRAGMA temp_store = MEMORY');

  // Every statement's errors pass through sqliteStorageError: a busy, full or failing database is a
  // StorageUnavailableError (SPEC decision 18: 503, never 500), anything else stays as it is.
  const translated = <T>(work: () => T): T => {
    try {
      return work();
    } catch (error) {
      throw sqliteStorageError(error);
    }
  };
  // Issue 12: the writes of one event-loop turn share one transaction and one COMMIT (group-commit.ts).
  const checkpoints = path === ':memory:' ? undefined : startCheckpointWorker(db, path, options);
  // Issue 12: COMMIT writes the WAL without flushing it; wal-sync.ts flushes in the thread pool and group
  // commit answers after that flush, so the event loop no longer stands still for the disk. An in-memory
  // database has nothing to flush (and nothing durable).
  const walSync = path === ':memory:' ? undefined : (options.walSync ?? createWalSync(path));
  if (walSync) db.exec('PRAGMA synchronous = NORMAL');
  const group = createGroupCommit(db, { beforeBatch: () => checkpoints?.completeCheckpoint(), flush: walSync?.flush });
  /** Runs `work` in its own SAVEPOINT of the turn's batch: all of its writes commit, or none does. */
  const transaction = <T>(work: () => T): T => translated(() => group.transaction(work));
  const statements = new Map<string, { statement: ReturnType<DatabaseSync['prepare']>; writes: boolean }>();
  const sql = (text: string) => {
    let prepared = statements.get(text);
    if (!prepared) {
      prepared = { statement: db.prepare(text), writes: !READ_ONLY_STATEMENT.test(text) };
      statements.set(text, prepared);
    }
    return prepared;
  };
  /** A write joins the turn's batch; a read sees it, so its answer waits for the batch's commit too. */
  const statement = <T>(text: string, execute: (statement: ReturnType<DatabaseSync['prepare']>) => T): T => translated(() => {
    const prepared = sql(text);
    return prepared.writes ? group.write(() => execute(prepared.statement)) : group.read(() => execute(prepared.statement));
  });
  const get = (text: string, ...params: SQLInputValue[]) => statement(text, (prepared) => prepared.get(...params) as Row | undefined);
  const all = (text: string, ...params: SQLInputValue[]) => statement(text, (prepared) => prepared.all(...params) as Row[]);
  const run = (text: string, ...params: SQLInputValue[]) => {
    return statement(text, (prepared) => prepared.run(...params));
  };
  /** The one SQL layer (issue 12): stores written once for both databases run over this. */
  const driver = createSqliteDriver({ get, all, run, transaction, durable: group.durable });

  // Issue 12: client records and the resource catalogue cached (storage/client-cache.ts, resource-cache.ts);
  // another connection's commit (the CLI, another process) changes PRAGMA data_version, and they are cleared then.
  // Read once per event-loop turn, not per lookup (it was 6–9% of an introspection's CPU, two lookups each):
  // another process's commit lands at a moment of its own, and a lookup later in the same turn could as
  // well have run before it. Each lookup still goes through `group.read`, so it waits for this process's
  // open batch as any read does.
  const dataVersionStatement = db.prepare('PRAGMA data_version');
  let dataVersionThisTurn: number | undefined;
  const dataVersion = () => translated(() => group.read(() => {
    if (dataVersionThisTurn === undefined) {
      dataVersionThisTurn = Number(dataVersionStatement.get()!.data_version);
      setImmediate(() => {
        dataVersionThisTurn = undefined;
      });
    }
    return dataVersionThisTurn;
  }));
  const externalWrites = externalWriteCheck(dataVersion);
  // Issue 12: introspection's lookups on another connection, off the event loop (read-worker.ts).
  const readWorker = path === ':memory:' || options.readWorker === false ? undefined : createReadWorker(path, {
    fallback: (text, parameter) => get(text, parameter),
    durable: () => group.durable(),
  });
  const storage: Storage = {
    resources: cacheResources(createResourceStore(driver), { externalWrites: externalWriteCheck(dataVersion) }).resources,
    // The token lookups take their client from the cached `clients` below (stores/tokens.ts), not a SELECT.
    ...createSharedStores(driver, {
      findClient: (clientId) => storage.clients.find(clientId),
      ...(readWorker ? { readElsewhere: (text: string, tokenDigest: string) => readWorker.get(text, tokenDigest) } : {}),
    }),
    clients: cacheClients(createClientStore(driver), { externalWrites }).clients,
    rateLimits: options.rateLimitCounters === 'database' ? createRateLimitStore(driver) : createInMemoryRateLimitStore(),
    async close() {
      // Members of the open batch wait for its commit. The read and checkpoint workers' connections close
      // before this one, so that closing the last connection checkpoints the WAL into the file and removes it.
      await readWorker?.close();
      group.commitNow();
      await walSync?.close();
      await checkpoints?.stop();
      db.close();
    },
    async cancelStatements() {
      // Statements run synchronously and never span the deadline: what can still wait is an operation retrying
      // for another connection's write lock (group-commit.ts), which must not commit after its request was cut.
      return group.refuseNewBatches(new StorageUnavailableError('the server is shutting down'));
    },
    async checkReady() {
      // One cheap query that also proves the file is migrated (readiness, `/health/ready`): every version this
      // release knows recorded, not only one as high as its last (sql/schema-versions.ts).
      const versions = all('SELECT version FROM schema_migrations').map((row) => Number(row.version));
      const problem = schemaNotCurrentProblem(migrations, compareSchemaVersions(migrations, versions), 'database file');
      if (problem !== undefined) throw new Error(problem);
    },
  };
  // Issue 12: no method resolves before the commit of the batches holding its writes (or rows it read).
  const settled = settledAfterCommits(storage, group);
  if (readWorker) readWorkers.set(settled, readWorker);
  return settled;
}

function openDatabase(path: string): DatabaseSync {
  // A batch of this process holding the write lock would make the WAL switch and migrations wait in vain.
  commitOpenBatches();
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec('PRAGMA busy_timeout = 5000');
  if (path !== ':memory:') enableWriteAheadLog(db);
  db.exec('PRAGMA synchronous = FULL');
  // 8 MiB of page cache (SQLite's default is 2 MiB): the interior pages of tokens' and grants' indexes stay
  // in memory instead of being read again through system calls on every operation (with 2 MiB, reads per
  // rotation were 24.8 KiB at 10k grants). Not more: every COMMIT that follows a B-tree split scans the
  // whole cache's hash table (SQLite's balance_nonroot renumbers the new pages through a temporary page
  // number past 1 GiB, and the commit then truncates the cache to the database's size), so a cache of
  // N pages costs each such commit time in N — with 64 MiB, ~200 µs per commit, ~4% of a refresh
  // rotation's CPU (a perf uprobe on pcache1TruncateUnsafe in the benchmark's server); with 8 MiB a third
  // of it. bench/storage-operations.ts, 9,000 operations per phase, medians of 3 interleaved rounds, CPU µs
  // per rotation / exchange: 10k grants 109 / 148 (64 MiB) → 100 / 145 (8 MiB), 1M grants 164 / 189 →
  // 160 / 195 (a database past 1 GiB never takes the scan). The cache fills only as pages are read.
  db.exec('PRAGMA cache_size = -8192');
  db.exec('PRAGMA foreign_keys = ON');
  // PostgreSQL's gatehouse_scope_within (migration 49), so that the narrowing of a client's scopes
  // (stores/client-scopes.ts) is one text for both databases: the scopes of the space-separated first argument the
  // space-separated second holds, in the first's order ('' for none).
  db.function('gatehouse_scope_within', { deterministic: true }, (scope, registered) => {
    const kept = new Set(String(registered ?? '').split(' '));
    return String(scope ?? '').split(' ').filter((name) => name !== '' && kept.has(name)).join(' ');
  });
  return db;
}

/**
 * Switching a new file to WAL while another process does the same answers SQLITE_BUSY at once, without
 * waiting for busy_timeout (SQLite avoids a deadlock there), so retry for a while.
 */
function enableWriteAheadLog(db: DatabaseSync): void {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      const row = db.prepare('PRAGMA journal_mode = WAL').get() as { journal_mode?: string } | undefined;
      if (row?.journal_mode === 'wal') return;
    } catch (error) {
      if (!(error instanceof Error && /locked|busy/i.test(error.message))) throw error;
    }
    if (Date.now() > deadline) throw new Error('could not switch the database to WAL mode: it stays locked');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10 + Math.floor(Math.random() * 20));
  }
}

/**
 * Applies the missing migrations up to `through` (every one when absent; tests stop part-way), each in one IMMEDIATE
 * transaction; returns the versions it applied.
 * @throws Error naming the versions when a missing one lies below a recorded one (sql/schema-versions.ts: a gap is
 * not applied after later versions), before applying any.
 */
function migrate(db: DatabaseSync, through = Number.POSITIVE_INFINITY): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
  // Read outside the transactions below: another process migrating meanwhile records versions in order, each
  // commit the next one, so what is read here shows no gap that was not there.
  const recorded = (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((row) => Number(row.version));
  const gap = schemaGapProblem(migrations, compareSchemaVersions(migrations, recorded), 'database file');
  if (gap !== undefined) throw new Error(gap);
  const applied: number[] = [];
  for (const migration of migrations) {
    if (migration.version > through) break;
    // Another process may be migrating or writing: wait for its lock by the clock (write-lock.ts).
    beginImmediate(db);
    try {
      const done = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(migration.version);
      if (!done) {
        db.exec(migration.sql);
        migration.run?.(db);
        db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)').run(migration.version, migration.name);
        applied.push(migration.version);
      }
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  }
  return applied;
}

/**
 * Creates (if needed) and migrates a database file, then closes it: `gatehouse migrate`. `through` stops after that
 * version (tests: a file as an older release left it).
 * @returns the versions applied by this call and the file's version after it.
 * @throws Error when the file lacks a version below one it records (`migrate`).
 */
export function migrateSqliteFile(path: string, options: { through?: number } = {}): { applied: number[]; version: number } {
  const db = openDatabase(path);
  try {
    const applied = migrate(db, options.through);
    return { applied, version: options.through === undefined ? LATEST_VERSION : Math.min(options.through, LATEST_VERSION) };
  } finally {
    db.close();
  }
}

