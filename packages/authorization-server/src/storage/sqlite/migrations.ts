import { type DialectMigration, migrationsFor } from '../sql/migrations.ts';

/**
 * The SQLite backend's migrations: the one list (sql/migrations.ts, issue 12) rendered for SQLite. The runner
 * (sqlite-storage.ts `migrate`) applies each missing version inside one IMMEDIATE transaction, so two
 * processes starting on the same file do not both apply it; `run`, when present, finishes a migration in
 * code after its `sql`, in the same transaction.
 */
export const migrations: DialectMigration[] = migrationsFor('sqlite');

/** The version a migrated file is at. */
export const LATEST_VERSION = Math.max(0, ...migrations.map((migration) => migration.version));
