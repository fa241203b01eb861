/**
 * A database is current when every migration this release knows is recorded (sql/schema-versions.ts), on both
 * backends: readiness (`checkReady`), `gatehouse config check` (open-storage.ts inspectDatabase) and the runners,
 * which refuse to apply a missing version below a recorded one (a gap) and change nothing.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import type { DatabaseConfiguration } from '../../configuration.ts';
import { dropTestSchema, newTestSchema, postgresSkipReason, queryTestSchema, TEST_DATABASE_URL } from '../../testing/postgres.ts';
import { inspectDatabase } from '../open-storage.ts';
import { migrations as postgresMigrations } from '../postgres/migrations.ts';
import { createPostgresStorage, migratePostgres } from '../postgres/postgres-storage.ts';
import { migrations as sqliteMigrations } from '../sqlite/migrations.ts';
import { createSqliteStorage, migrateSqliteFile } from '../sqlite/sqlite-storage.ts';
import type { Storage } from '../storage.ts';
import { numberPlaceholders } from './driver.ts';
import { compareSchemaVersions, schemaGapProblem, schemaNotCurrentProblem } from './schema-versions.ts';

const known = [{ version: 1, name: 'one' }, { version: 2, name: 'two' }, { version: 4, name: 'four' }, { version: 5, name: 'five' }];

describe('compareSchemaVersions (sql/schema-versions.ts)', () => {
  it('a complete record is current; a newer release\'s versions are reported, not missing', () => {
    assert.deepEqual(compareSchemaVersions(known, [5, 4, 2, 1]), { highest: 5, missing: [], gaps: [], unknown: [] });
    const newer = compareSchemaVersions(known, [1, 2, 4, 5, 7, 6]);
    assert.deepEqual(newer, { highest: 7, missing: [], gaps: [], unknown: [6, 7] });
    assert.equal(schemaNotCurrentProblem(known, newer, 'database schema'), undefined);
    assert.equal(schemaGapProblem(known, newer, 'database schema'), undefined);
  });

  it('a database behind misses its last versions, which are no gap; a version missing below a recorded one is a gap', () => {
    const behind = compareSchemaVersions(known, [1, 2]);
    assert.deepEqual(behind, { highest: 2, missing: [4, 5], gaps: [], unknown: [] });
    assert.equal(schemaNotCurrentProblem(known, behind, 'database file'),
      'the database file lacks migrations 4 ("four"), 5 ("five") (recorded up to version 2); this server needs every version through 5');
    assert.equal(schemaGapProblem(known, behind, 'database file'), undefined);
    // The case max(version) missed: 5 recorded, 4 not.
    const gap = compareSchemaVersions(known, [1, 2, 5]);
    assert.deepEqual(gap, { highest: 5, missing: [4], gaps: [4], unknown: [] });
    assert.match(schemaNotCurrentProblem(known, gap, 'database schema')!, /^the database schema lacks migration 4 \("four"\) \(recorded up to version 5\)/);
    assert.match(schemaGapProblem(known, gap, 'database schema')!, /^the database schema lacks migration 4 \("four"\) but records later versions \(up to 5\): .*nothing was changed$/);
    assert.deepEqual(compareSchemaVersions(known, []), { highest: 0, missing: [1, 2, 4, 5], gaps: [], unknown: [] });
  });
});

const temporaryDirectory = mkdtempSync(join(tmpdir(), 'gatehouse-schema-versions-'));
after(() => rmSync(temporaryDirectory, { recursive: true, force: true }));
const postgresSkip = await postgresSkipReason();

/** One backend as these tests drive it: a fresh migrated database, rows changed behind the server's back, reopening. */
interface Backend {
  name: 'sqlite' | 'postgres';
  skip: string | false;
  known: readonly { version: number; name: string }[];
  /** A database migrated through `through` (every version when absent), with a way to run SQL on it directly. */
  fresh(through?: number): Promise<{
    configuration: DatabaseConfiguration;
    query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
    open(): Promise<Storage>;
    migrate(): Promise<{ applied: number[] }>;
    dispose(): Promise<void>;
  }>;
}

const backends: Backend[] = [
  {
    name: 'sqlite', skip: false, known: sqliteMigrations,
    async fresh(through) {
      const path = join(temporaryDirectory, `${randomUUID()}.sqlite`);
      migrateSqliteFile(path, through === undefined ? {} : { through });
      return {
        configuration: { kind: 'sqlite', path },
        async query(sql, params = []) {
          const db = new DatabaseSync(path);
          try {
            const statement = db.prepare(sql);
            if (/^\s*SELECT/i.test(sql)) return statement.all(...(params as never[])) as Record<string, unknown>[];
            statement.run(...(params as never[]));
          } finally {
            db.close();
          }
          // A storage's reads of one event-loop turn share one snapshot (group-commit.ts): another connection's
          // commit is seen from the next turn on.
          await new Promise((resolve) => setImmediate(resolve));
          return [];
        },
        open: async () => createSqliteStorage(path),
        migrate: async () => migrateSqliteFile(path),
        async dispose() {},
      };
    },
  },
  {
    name: 'postgres', skip: postgresSkip, known: postgresMigrations,
    async fresh(through) {
      const schema = newTestSchema();
      await migratePostgres(TEST_DATABASE_URL, through === undefined ? { schema } : { schema, through });
      return {
        configuration: {
          kind: 'postgres', url: TEST_DATABASE_URL, schema, poolSize: 2, clientCacheEntries: 100, statementTimeoutMillis: 5_000, pooler: 'none',
          rateLimitCounters: 'database', rateLimitFlushIntervalMs: 250,
        },
        query: async (sql, params = []) => (await queryTestSchema(schema, numberPlaceholders(sql), params)).rows,
        open: () => createPostgresStorage(TEST_DATABASE_URL, { schema, poolSize: 2 }),
        migrate: () => migratePostgres(TEST_DATABASE_URL, { schema }),
        dispose: () => dropTestSchema(schema),
      };
    },
  },
];

const versionsOf = async (query: (sql: string) => Promise<Record<string, unknown>[]>) =>
  (await query('SELECT version FROM schema_migrations ORDER BY version')).map((row) => Number(row.version));

for (const backend of backends) {
  describe(`schema versions on ${backend.name}: every known migration must be recorded`, { skip: backend.skip }, () => {
    const versions = backend.known.map((migration) => migration.version);
    // A version in the middle of the list: recorded after it are later ones.
    const middle = backend.known.at(-2)!;
    const latest = versions.at(-1)!;

    it('a database missing a middle migration is not ready, the check names it, and the runner refuses to apply it, changing nothing', async () => {
      const database = await backend.fresh();
      const storage = await database.open();
      try {
        await storage.checkReady();
        await database.query('DELETE FROM schema_migrations WHERE version = ?', [middle.version]);
        // max(version) is still the latest: the check that compared it said ready.
        assert.equal(Math.max(...await versionsOf(database.query)), latest);
        await assert.rejects(storage.checkReady(), (error: Error) => {
          assert.equal(error.message.startsWith(`the database ${backend.name === 'sqlite' ? 'file' : 'schema'} lacks migration ${middle.version} ("${middle.name}") (recorded up to version ${latest})`), true, error.message);
          return true;
        });
      } finally {
        await storage.close();
      }
      const inspection = await inspectDatabase(database.configuration, []);
      assert.equal(inspection.schemaVersion, latest);
      assert.deepEqual(inspection.missingVersions, [middle.version]);
      assert.match(inspection.schemaProblem ?? '', new RegExp(`lacks migration ${middle.version} .* but records later versions`));
      const gap = new RegExp(`the database (file|schema) lacks migration ${middle.version} \\("${middle.name.replace(/[()]/g, '\\$&')}"\\) but records later versions \\(up to ${latest}\\): .*so Gatehouse does not apply it`);
      await assert.rejects(database.migrate(), gap);
      await assert.rejects(database.open(), gap);
      assert.deepEqual(await versionsOf(database.query), versions.filter((version) => version !== middle.version), 'nothing recorded');
      await database.dispose();
    });

    it('a database behind (its last versions missing) is not ready, naming them; the runner applies them (no gap) and it is ready', async () => {
      const through = versions.at(-3)!;
      const missing = versions.filter((version) => version > through);
      // Readiness of a server whose database lost its last records after it started (opening migrates).
      const database = await backend.fresh();
      const storage = await database.open();
      try {
        await database.query(`DELETE FROM schema_migrations WHERE version > ${through}`);
        await assert.rejects(storage.checkReady(),
          new RegExp(`lacks migrations ${missing.map((version) => `${version} \\("[^"]*"\\)`).join(', ')} \\(recorded up to version ${through}\\)`));
      } finally {
        await storage.close();
        await database.dispose();
      }
      // A database an older release left (migrated through `through`): no gap, so the runner applies the rest.
      const partial = await backend.fresh(through);
      assert.deepEqual(await versionsOf(partial.query), versions.filter((version) => version <= through));
      assert.deepEqual((await inspectDatabase(partial.configuration, [])).missingVersions, [], 'no gap: the start migrates it');
      assert.deepEqual((await partial.migrate()).applied, missing);
      const migrated = await partial.open();
      await migrated.checkReady();
      await migrated.close();
      await partial.dispose();
    });

    it('a newer release\'s version recorded beside every known one stays ready and is reported as today (schemaVersion above latestVersion)', async () => {
      const database = await backend.fresh();
      await database.query('INSERT INTO schema_migrations (version, name) VALUES (?, ?)', [latest + 100, 'a later release']);
      const storage = await database.open();
      try {
        await storage.checkReady();
      } finally {
        await storage.close();
      }
      const inspection = await inspectDatabase(database.configuration, []);
      assert.equal(inspection.schemaVersion, latest + 100);
      assert.equal(inspection.latestVersion, latest);
      assert.deepEqual(inspection.missingVersions, []);
      assert.equal(inspection.schemaProblem, undefined);
      await database.dispose();
    });
  });
}
