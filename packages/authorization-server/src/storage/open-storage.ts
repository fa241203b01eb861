/**
 * Opening the storage the configuration names: PostgreSQL when `DATABASE_URL` is set, else SQLite
 * (configuration.ts). Opening migrates; `migrateStorage` only migrates (`gatehouse migrate`).
 */
import type { DatabaseConfiguration } from '../configuration.ts';
import { createPostgresStorage, migratePostgres } from './postgres/postgres-storage.ts';
import { createSqliteStorage, migrateSqliteFile } from './sqlite/sqlite-storage.ts';
import type { Storage } from './storage.ts';

/** Opens and migrates the configured database. @throws when it cannot be opened or migrated. */
export async function openStorage(database: DatabaseConfiguration): Promise<Storage> {
  if (database.kind === 'postgres') {
    return createPostgresStorage(database.url, {
      schema: database.schema, poolSize: database.poolSize, clientCacheEntries: database.clientCacheEntries, statementTimeoutMillis: database.statementTimeoutMillis,
      rateLimitCounters: database.rateLimitCounters, rateLimitFlushIntervalMs: database.rateLimitFlushIntervalMs,
    });
  }
  return createSqliteStorage(database.path, { rateLimitCounters: database.rateLimitCounters ?? 'memory' });
}

/** Applies the missing migrations; returns the versions applied now and the version after. */
export async function migrateStorage(database: DatabaseConfiguration): Promise<{ applied: number[]; version: number }> {
  if (database.kind === 'postgres') return migratePostgres(database.url, { schema: database.schema });
  return migrateSqliteFile(database.path);
}
