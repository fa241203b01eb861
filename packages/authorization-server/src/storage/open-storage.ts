/**
 * Opening the storage the configuration names: PostgreSQL when `DATABASE_URL` is set, else SQLite
 * (configuration.ts). Opening migrates; `migrateStorage` only migrates (`gatehouse migrate`).
 */
import { existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import type { DatabaseConfiguration } from '../configuration.ts';
import { LATEST_VERSION as POSTGRES_LATEST_VERSION, migrations as postgresMigrations, quoteIdentifier } from './postgres/migrations.ts';
import { postgresStorageError } from './postgres/postgres-unavailable.ts';
import { createPostgresStorage, ignoredOptionsProblem, migratePostgres, pooledSchemaProblem, schemaOnceCreated } from './postgres/postgres-storage.ts';
import { LATEST_VERSION as SQLITE_LATEST_VERSION, migrations as sqliteMigrations } from './sqlite/migrations.ts';
import { compareSchemaVersions, type KnownMigrations, schemaGapProblem } from './sql/schema-versions.ts';
import { createSqliteStorage, migrateSqliteFile } from './sqlite/sqlite-storage.ts';
import type { Storage } from './storage.ts';

/** Opens and migrates the configured database. @throws when it cannot be opened or migrated. */
export async function openStorage(database: DatabaseConfiguration): Promise<Storage> {
  if (database.kind === 'postgres') {
    return createPostgresStorage(database.url, {
      schema: database.schema, poolSize: database.poolSize, clientCacheEntries: database.clientCacheEntries, statementTimeoutMillis: database.statementTimeoutMillis, pooler: database.pooler,
      rateLimitCounters: database.rateLimitCounters, rateLimitFlushIntervalMs: database.rateLimitFlushIntervalMs,
    });
  }
  return createSqliteStorage(database.path, { rateLimitCounters: database.rateLimitCounters ?? 'memory' });
}

/** Applies the missing migrations; returns the versions applied now and the version after. */
export async function migrateStorage(database: DatabaseConfiguration): Promise<{ applied: number[]; version: number }> {
  if (database.kind === 'postgres') return migratePostgres(database.url, { schema: database.schema, pooler: database.pooler });
  return migrateSqliteFile(database.path);
}

/** What `gatehouse config check` learns from the configured database without changing it. */
export interface DatabaseInspection {
  /** The highest schema version recorded; 0 when Gatehouse has not created its tables there yet (the start does). */
  schemaVersion: number;
  /**
   * Versions this Gatehouse knows that are not recorded although a later one is (sql/schema-versions.ts: the start
   * refuses to apply them, and readiness fails), ascending; empty normally. `schemaProblem` says so in words.
   */
  missingVersions: number[];
  schemaProblem?: string;
  /** The version this Gatehouse migrates to. */
  latestVersion: number;
  /** Which of the asked client ids are stored and not deleted. */
  liveClientIds: string[];
  /**
   * Behind a transaction pooler (GATEHOUSE_DATABASE_POOLER=transaction): why the start would refuse the connections'
   * search_path (postgres-storage.ts checkPooledSessions), or undefined.
   */
  poolerProblem?: string;
}

/**
 * Reads the schema version and which of `clientIds` are live, on a connection of its own that writes nothing
 * (no migration: a check must not change the database it checks; a SQLite file that does not exist yet is not
 * created, and one that does is only read).
 * @throws StorageUnavailableError (PostgreSQL unreachable or refusing the connection), or the driver's error.
 */
export async function inspectDatabase(database: DatabaseConfiguration, clientIds: readonly string[]): Promise<DatabaseInspection> {
  if (database.kind === 'postgres') {
    const latestVersion = POSTGRES_LATEST_VERSION;
    // statement_timeout is a startup parameter, which a pooler in transaction mode refuses: bounded by the client there.
    const timeout = database.pooler === 'transaction' ? { query_timeout: 5_000 } : { statement_timeout: 5_000 };
    // Without a pooler setting, the search_path the start sends (createPool), to see whether it is applied.
    const searchPath = database.pooler === 'transaction' ? {} : { options: `-c search_path=${database.schema ?? 'public'}` };
    const client = new pg.Client({ connectionString: database.url, connectionTimeoutMillis: 5_000, ...timeout, ...searchPath });
    client.on('error', () => {}); // a loss after connecting: the query in flight reports it
    try {
      await client.connect().catch((error: unknown) => {
        throw postgresStorageError(error);
      });
      const schema = quoteIdentifier(database.schema ?? 'public');
      // The start refuses connections whose search_path does not reach Gatehouse's schema (the pooler's sessions are
      // the role's): said here too, rather than the schema being reported current to a start that will refuse it.
      // Without the setting, a pooler told to ignore the search_path sent (PgBouncer ignore_startup_parameters) is refused
      // by the start too (createPostgresStorage): the check said the schema was reachable.
      const session = (await client.query<{ search_path: string; user: string; schemas: string[] }>(
        "SELECT current_setting('search_path') AS search_path, current_user AS user, array(SELECT nspname::text FROM pg_namespace) AS schemas")).rows[0]!;
      const wanted = database.schema ?? 'public';
      const predicted = schemaOnceCreated(session.search_path, session.user, new Set(session.schemas), wanted);
      const poolerProblem = database.pooler === 'transaction' ? pooledSchemaProblem(predicted, wanted) : ignoredOptionsProblem(predicted, wanted);
      const pooler = poolerProblem === undefined ? {} : { poolerProblem };
      const exists = await client.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [`${schema}.schema_migrations`]);
      if (exists.rows[0]?.found === null) return { schemaVersion: 0, missingVersions: [], latestVersion, liveClientIds: [], ...pooler };
      const recorded = await client.query<{ versions: number[] | null }>(`SELECT array_agg(version) AS versions FROM ${schema}.schema_migrations`);
      const live = await client.query<{ client_id: string }>(`SELECT client_id FROM ${schema}.clients WHERE client_id = ANY($1::text[]) AND status <> 'deleted'`, [clientIds]);
      return { ...judged(postgresMigrations, recorded.rows[0]?.versions ?? [], 'database schema'), latestVersion, liveClientIds: live.rows.map((row) => String(row.client_id)), ...pooler };
    } finally {
      await client.end().catch(() => {});
    }
  }
  const latestVersion = SQLITE_LATEST_VERSION;
  if (database.path === ':memory:' || !existsSync(database.path)) return { schemaVersion: 0, missingVersions: [], latestVersion, liveClientIds: [] };
  // Not `readOnly`: a read-only connection can neither checkpoint nor remove the -wal and -shm files it makes, and
  // leaves them behind; this one only reads, and as the last connection to close removes them.
  const db = new DatabaseSync(database.path);
  try {
    const hasMigrations = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get() !== undefined;
    if (!hasMigrations) return { schemaVersion: 0, missingVersions: [], latestVersion, liveClientIds: [] };
    const recorded = (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((row) => Number(row.version));
    const placeholders = clientIds.map(() => '?').join(', ');
    const live = clientIds.length === 0 ? [] : (db.prepare(`SELECT client_id FROM clients WHERE client_id IN (${placeholders}) AND status <> 'deleted'`).all(...clientIds) as { client_id: string }[]);
    return { ...judged(sqliteMigrations, recorded, 'database file'), latestVersion, liveClientIds: live.map((row) => String(row.client_id)) };
  } finally {
    db.close();
  }
}

/** The inspection's schema members from the recorded versions (sql/schema-versions.ts, as the start judges them). */
function judged(known: KnownMigrations, recorded: number[], what: string): Pick<DatabaseInspection, 'schemaVersion' | 'missingVersions' | 'schemaProblem'> {
  const versions = compareSchemaVersions(known, recorded);
  const problem = schemaGapProblem(known, versions, what);
  return { schemaVersion: versions.highest, missingVersions: versions.gaps, ...(problem === undefined ? {} : { schemaProblem: problem }) };
}
