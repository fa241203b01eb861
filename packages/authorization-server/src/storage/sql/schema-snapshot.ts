/**
 * Test support for the one migration list (issue 12): a database's schema as plain, comparable text, and
 * a database migrated through a given version by the REAL runners (`migrateSqliteFile`, `migratePostgres`).
 *
 * `schema-fixture.json` holds these snapshots as the two old per-dialect lists left databases (captured
 * before they were replaced); `migrations.test.ts` asserts that the one list leaves databases identical.
 *
 * A snapshot is every fact about the schema that a store, a constraint or a later migration can observe:
 * - SQLite: each `sqlite_master` row (its SQL with whitespace runs collapsed to one space), and per table
 *   `PRAGMA table_xinfo`, `index_list`, `index_xinfo` of each index, `foreign_key_list`.
 * - PostgreSQL: each relation with its kind and persistence (UNLOGGED), columns from information_schema
 *   (type, nullability, default, collation), constraints, indexes (pg_indexes), sequences, functions
 *   (pg_proc: definition, whitespace collapsed), triggers; the schema's name replaced by `<schema>`.
 * - Both: the `schema_migrations` rows (version and name). Not compared: PostgreSQL OIDs and
 *   `applied_at`, SQLite's `PRAGMA schema_version` (a counter of schema changes, not the schema).
 */
import { hash } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { quoteIdentifier } from '../postgres/migrations.ts';

/** Section name (`objects`, `table clients`, `migrations`, …) → its lines, each line one fact. */
export type SchemaSnapshot = Record<string, string[]>;

/** Whitespace runs collapsed: the same statement whatever its indentation in the migration source. */
const collapse = (text: string) => text.replace(/\s+/g, ' ').trim();

/** The snapshot's SHA-256 (hex), for versions the fixture records only by digest. */
export function snapshotDigest(snapshot: SchemaSnapshot): string {
  return hash('sha256', JSON.stringify(snapshot), 'hex');
}

/** The schema of the SQLite database file at `path`. */
export function snapshotSqlite(path: string): SchemaSnapshot {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const all = (sql: string) => db.prepare(sql).all() as Record<string, unknown>[];
    const snapshot: SchemaSnapshot = {};
    const objects = all("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name");
    snapshot.objects = objects.map((row) => `${String(row.type)} ${String(row.name)} on ${String(row.tbl_name)}: ${row.sql === null ? '(automatic)' : collapse(String(row.sql))}`);
    for (const table of objects.filter((row) => row.type === 'table').map((row) => String(row.name))) {
      const quoted = `'${table.replaceAll("'", "''")}'`;
      const lines = all(`SELECT * FROM pragma_table_xinfo(${quoted}) ORDER BY cid`).map((column) =>
        `column ${String(column.cid)} ${String(column.name)} ${String(column.type)} notnull=${String(column.notnull)} default=${String(column.dflt_value)} pk=${String(column.pk)} hidden=${String(column.hidden)}`);
      for (const index of all(`SELECT * FROM pragma_index_list(${quoted}) ORDER BY name`)) {
        const name = `'${String(index.name).replaceAll("'", "''")}'`;
        const keys = all(`SELECT * FROM pragma_index_xinfo(${name}) ORDER BY seqno`).map((key) =>
          `${String(key.seqno)}:${String(key.name)}(cid=${String(key.cid)} desc=${String(key.desc)} coll=${String(key.coll)} key=${String(key.key)})`);
        lines.push(`index ${String(index.name)} unique=${String(index.unique)} origin=${String(index.origin)} partial=${String(index.partial)} [${keys.join(' ')}]`);
      }
      for (const key of all(`SELECT * FROM pragma_foreign_key_list(${quoted}) ORDER BY id, seq`)) {
        lines.push(`foreign key ${String(key.id)}.${String(key.seq)} ${String(key.from)} -> ${String(key.table)}(${String(key.to)}) on update ${String(key.on_update)} on delete ${String(key.on_delete)} match ${String(key.match)}`);
      }
      snapshot[`table ${table}`] = lines;
    }
    snapshot.migrations = all('SELECT version, name FROM schema_migrations ORDER BY version').map((row) => `${String(row.version)} ${String(row.name)}`);
    return snapshot;
  } finally {
    db.close();
  }
}

/**
 * The schema `schema`, read on `client` (a connection the caller keeps: a new PostgreSQL backend first
 * loads its catalog caches, the larger part of a snapshot's time).
 */
export async function snapshotPostgres(client: pg.ClientBase, schema: string): Promise<SchemaSnapshot> {
  // Names print qualified whatever the connection's search_path (nextval('<schema>.…'::regclass)).
  await client.query('BEGIN');
  try {
    await client.query('SET LOCAL search_path = pg_catalog');
    return await readPostgresSchema(client, schema);
  } finally {
    await client.query('COMMIT');
  }
}

async function readPostgresSchema(client: pg.ClientBase, schema: string): Promise<SchemaSnapshot> {
  const unqualify = (text: string) => text.replaceAll(`${quoteIdentifier(schema)}.`, '<schema>.').replaceAll(`${schema}.`, '<schema>.');
  const rows = async (sql: string) => (await client.query(sql, [schema])).rows as Record<string, unknown>[];
  const snapshot: SchemaSnapshot = {};
  snapshot.relations = (await rows(`
    SELECT c.relname, c.relkind, c.relpersistence FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') ORDER BY c.relname`))
    .map((row) => `${String(row.relname)} kind=${String(row.relkind)} persistence=${String(row.relpersistence)}`);
  for (const column of await rows(`
    SELECT table_name, ordinal_position, column_name, data_type, udt_name, is_nullable, column_default, collation_name, is_identity, is_generated
    FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, ordinal_position`)) {
    (snapshot[`table ${String(column.table_name)}`] ??= []).push(
      `column ${String(column.ordinal_position)} ${String(column.column_name)} ${String(column.data_type)} (${String(column.udt_name)}) nullable=${String(column.is_nullable)} default=${unqualify(String(column.column_default))} collation=${String(column.collation_name)} identity=${String(column.is_identity)} generated=${String(column.is_generated)}`);
  }
  for (const constraint of await rows(`
    SELECT c.conrelid::regclass::text AS table_name, c.conname, c.contype, pg_get_constraintdef(c.oid) AS definition
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1 ORDER BY 1, 2`)) {
    (snapshot[`table ${unqualify(String(constraint.table_name)).replace('<schema>.', '')}`] ??= []).push(
      `constraint ${String(constraint.conname)} ${String(constraint.contype)}: ${unqualify(String(constraint.definition))}`);
  }
  for (const index of await rows('SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY tablename, indexname')) {
    (snapshot[`table ${String(index.tablename)}`] ??= []).push(`index ${String(index.indexname)}: ${unqualify(String(index.indexdef))}`);
  }
  for (const trigger of await rows(`
    SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) AS definition FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND NOT t.tgisinternal ORDER BY c.relname, t.tgname`)) {
    (snapshot[`table ${String(trigger.relname)}`] ??= []).push(`trigger ${String(trigger.tgname)}: ${unqualify(String(trigger.definition))}`);
  }
  snapshot.sequences = (await rows(`
    SELECT sequence_name, data_type, start_value, minimum_value, maximum_value, increment, cycle_option
    FROM information_schema.sequences WHERE sequence_schema = $1 ORDER BY sequence_name`))
    .map((row) => `${String(row.sequence_name)} ${String(row.data_type)} start=${String(row.start_value)} min=${String(row.minimum_value)} max=${String(row.maximum_value)} increment=${String(row.increment)} cycle=${String(row.cycle_option)}`);
  snapshot.functions = (await rows(`
    SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS arguments, pg_get_functiondef(p.oid) AS definition
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 ORDER BY 1, 2`))
    .map((row) => `${String(row.proname)}(${unqualify(String(row.arguments))}): ${collapse(unqualify(String(row.definition)))}`);
  snapshot.migrations = (await client.query(`SELECT version, name FROM ${quoteIdentifier(schema)}.schema_migrations ORDER BY version`)).rows
    .map((row: { version: number; name: string }) => `${row.version} ${row.name}`);
  return snapshot;
}
