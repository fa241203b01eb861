/**
 * One-off (issue 12): records in schema-fixture.json the schema that the two OLD per-dialect migration
 * lists (storage/sqlite/migrations.ts, storage/postgres/migrations.ts as they were) leave after each of their
 * versions, before the one list replaces them. Run once with those lists in place:
 *   node packages/authorization-server/src/storage/sql/capture-schema-fixture.ts
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrations as postgresMigrations } from '../postgres/migrations.ts';
import { migratePostgres } from '../postgres/postgres-storage.ts';
import { migrations as sqliteMigrations } from '../sqlite/migrations.ts';
import { migrateSqliteFile } from '../sqlite/sqlite-storage.ts';
import { dropTestSchema, newTestSchema, TEST_DATABASE_URL } from '../../testing/postgres.ts';
import { migratePostgresThrough, migrateSqliteThrough, type SchemaSnapshot, snapshotDigest, snapshotPostgres, snapshotSqlite } from './schema-snapshot.ts';

/** The latest version is kept whole (a readable record, and readable diffs); every version as its snapshot's digest. */

const directory = mkdtempSync(join(tmpdir(), 'gatehouse-schema-fixture-'));
const fixture: Record<string, { whole: Record<string, SchemaSnapshot>; digests: Record<string, string> }> = {
  sqlite: { whole: {}, digests: {} },
  postgres: { whole: {}, digests: {} },
};
try {
  const sqliteVersions = sqliteMigrations.map((migration) => migration.version);
  for (const version of sqliteVersions) {
    const path = join(directory, `at-${version}.sqlite`);
    migrateSqliteThrough(path, version, sqliteVersions, migrateSqliteFile);
    const snapshot = snapshotSqlite(path);
    fixture.sqlite!.digests[version] = snapshotDigest(snapshot);
    if (version === sqliteVersions.at(-1)) fixture.sqlite!.whole[version] = snapshot;
  }
  const postgresVersions = postgresMigrations.map((migration) => migration.version);
  for (const version of postgresVersions) {
    const schema = newTestSchema();
    try {
      await migratePostgresThrough(TEST_DATABASE_URL, schema, version, postgresVersions, () => migratePostgres(TEST_DATABASE_URL, { schema }));
      const snapshot = await snapshotPostgres(TEST_DATABASE_URL, schema);
      fixture.postgres!.digests[version] = snapshotDigest(snapshot);
      if (version === postgresVersions.at(-1)) fixture.postgres!.whole[version] = snapshot;
    } finally {
      await dropTestSchema(schema);
    }
  }
} finally {
  rmSync(directory, { recursive: true, force: true });
}
writeFileSync(new URL('./schema-fixture.json', import.meta.url), `${JSON.stringify(fixture, null, 1)}\n`);
