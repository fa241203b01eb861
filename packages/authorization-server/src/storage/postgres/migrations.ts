/**
 * The PostgreSQL backend's migrations, the one list (sql/migrations.ts, issue 12) rendered for PostgreSQL,
 * and their runner.
 *
 * `runMigrations` applies every missing version in ONE transaction that first takes a transaction-level
 * advisory lock keyed by the schema name: a second instance starting at the same moment waits for the
 * first to commit, then finds every version applied and does nothing. PostgreSQL DDL is transactional, so
 * a failed migration leaves no half-built schema behind.
 */
import type { PoolClient } from 'pg';
import { type DialectMigration, migrationsFor } from '../sql/migrations.ts';
import { compareSchemaVersions, schemaGapProblem } from '../sql/schema-versions.ts';

export const migrations: DialectMigration[] = migrationsFor('postgres');

/** The version a migrated schema is at. */
export const LATEST_VERSION = Math.max(0, ...migrations.map((migration) => migration.version));

/** A schema name usable unquoted in search_path and quoted elsewhere alike: lowercase letters, digits, `_`. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Applies the missing migrations on `client` (a dedicated connection whose search_path is `schema`),
 * creating the schema if needed, up to `through` (every one when absent; tests stop part-way). Safe when several
 * instances run it at once.
 * @returns the versions this call applied (empty when the schema was up to date) and the current version.
 * @throws Error naming the versions when a missing one lies below a recorded one (sql/schema-versions.ts: a gap is
 * not applied after later versions); nothing is changed then.
 */
export async function runMigrations(client: PoolClient, schema: string, through = Number.POSITIVE_INFINITY): Promise<{ applied: number[]; version: number }> {
  await client.query('BEGIN');
  try {
    // Building an index on a big table, or waiting for another instance's migration, may take longer than
    // the pool's statement_timeout allows a request: not bounded, for this transaction only.
    await client.query('SET LOCAL statement_timeout = 0');
    // The migrations name their tables unqualified. Set here as well as at connection start: behind a transaction
    // pooler (postgres-storage.ts `pooler`) the connection's search_path may not be the schema yet.
    await client.query(`SET LOCAL search_path = ${quoteIdentifier(schema)}`);
    // Keyed by schema, so tests migrating their own schemas in parallel do not wait for each other.
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended('gatehouse.migrate:' || $1, 0))", [schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${quoteIdentifier(schema)}.schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ version: number }>(`SELECT version FROM ${quoteIdentifier(schema)}.schema_migrations`)).rows.map((row) => row.version));
    const gap = schemaGapProblem(migrations, compareSchemaVersions(migrations, done), 'database schema');
    if (gap !== undefined) throw new Error(gap);
    const applied: number[] = [];
    for (const migration of migrations) {
      if (done.has(migration.version) || migration.version > through) continue;
      await client.query(migration.sql);
      await client.query(`INSERT INTO ${quoteIdentifier(schema)}.schema_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    return { applied, version: Math.max(0, ...done, ...applied) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
