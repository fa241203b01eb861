/**
 * Test support for the PostgreSQL backend: the test database, a reachability probe that decides whether
 * PostgreSQL tests run or are skipped with a visible reason, and storages each in a fresh schema.
 *
 * Every test works in its own `gh_test_<random>` schema and drops it afterwards, so PostgreSQL tests run
 * alongside each other (`--test-concurrency`) and alongside anyone else using the same database.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPostgresStorage, type PostgresStorageOptions } from '../storage/postgres/postgres-storage.ts';
import { quoteIdentifier } from '../storage/postgres/migrations.ts';
import type { Storage } from '../storage/storage.ts';

/** `GATEHOUSE_TEST_DATABASE_URL`, else the local test database every development machine and CI has. */
export const TEST_DATABASE_URL = process.env.GATEHOUSE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The URL without its password, for messages. */
export const TEST_DATABASE_LABEL = (() => {
  const url = new URL(TEST_DATABASE_URL);
  url.password = '';
  return url.href;
})();

/**
 * Whether PostgreSQL tests run: `false` (run them) when the test database answers, or when `CI=true`
 * (CI must run them, so an unreachable database fails them instead of skipping); otherwise the reason
 * to pass as `{ skip }`, which the test report shows.
 */
export async function postgresSkipReason(): Promise<string | false> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return false;
  } catch (error) {
    if (process.env.CI === 'true') return false;
    return `PostgreSQL unreachable at ${TEST_DATABASE_LABEL} (${error instanceof Error ? error.message : String(error)}); set GATEHOUSE_TEST_DATABASE_URL or start PostgreSQL. CI=true runs these tests regardless.`;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A fresh schema name; nothing is created until a storage opens it. */
export const newTestSchema = () => `gh_test_${randomBytes(8).toString('hex')}`;

/** Drops a test schema and everything in it (DROP fires no row triggers, so the audit table goes too). */
export async function dropTestSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdentifier(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}

/** Runs `sql` in `schema` on a connection of its own (for inspecting or tampering with rows in tests). */
export async function queryTestSchema<R extends pg.QueryResultRow = pg.QueryResultRow>(schema: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    return await client.query<R>(sql, params);
  } finally {
    await client.end();
  }
}

/** A storage on a fresh schema that its `close()` drops. */
export async function createTestPostgresStorage(options: Omit<PostgresStorageOptions, 'schema'> = {}): Promise<Storage & { schema: string }> {
  const schema = newTestSchema();
  const storage = await createPostgresStorage(TEST_DATABASE_URL, { ...options, schema, poolSize: options.poolSize ?? 4 });
  return {
    ...storage,
    schema,
    async close() {
      await storage.close();
      await dropTestSchema(schema);
    },
  };
}

/**
 * Fresh-schema storages made ahead of need: opening one (CREATE SCHEMA and every migration) takes about
 * 100 ms, several times a typical contract test, so `depth` of them are kept in the making while tests
 * run. `dispose()` closes (and drops) the ones never handed out.
 */
export function prewarmedTestStorages(depth = 3): { next(): Promise<Storage>; dispose(): Promise<void> } {
  const queue: Promise<Storage>[] = [];
  const fill = () => {
    while (queue.length < depth) {
      const storage = createTestPostgresStorage();
      storage.catch(() => {}); // reported when handed out
      queue.push(storage);
    }
  };
  return {
    next() {
      fill();
      const storage = queue.shift()!;
      fill();
      return storage;
    },
    async dispose() {
      const left = queue.splice(0);
      await Promise.all(left.map((storage) => storage.then((opened) => opened.close(), () => {})));
    },
  };
}

/** Polls `check` every 10 ms until it holds; fails after `timeoutMillis`. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMillis = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMillis;
  while (!(await check())) {
    if (performance.now() > deadline) assert.fail(`not within ${timeoutMillis} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Whether a cache answers a row's name without reading the database: the row (`table`, `where`) is renamed
 * and renamed back with triggers off (`session_replication_role = replica`: no notification), and a cached
 * answer of `readName` keeps its old name.
 */
async function servedFromCache(schema: string, table: string, nameColumn: string, where: string, readName: () => Promise<string>): Promise<boolean> {
  const before = await readName();
  const silently = (sql: string) => queryTestSchema(schema, `SET session_replication_role = replica; ${sql} WHERE ${where}`);
  await silently(`UPDATE ${table} SET ${nameColumn} = ${nameColumn} || ' (silently renamed)'`);
  try {
    return (await readName()) === before;
  } finally {
    await silently(`UPDATE ${table} SET ${nameColumn} = replace(${nameColumn}, ' (silently renamed)', '')`);
  }
}

/** Whether `storage` answers `clientId` from its client-record cache (see servedFromCache). */
export function clientServedFromCache(storage: Storage, schema: string, clientId: string): Promise<boolean> {
  return servedFromCache(schema, 'clients', 'client_name', `client_id = '${clientId}'`, async () => (await storage.clients.find(clientId))!.clientName);
}

/** Whether `storage` answers `resource` from its cached catalogue (see servedFromCache). */
export function resourceServedFromCache(storage: Storage, schema: string, resource: string): Promise<boolean> {
  return servedFromCache(schema, 'resources', 'name', `resource = '${resource}'`, async () => (await storage.resources.find(resource))!.name);
}

/**
 * Runs `work` and calls `observe` with each query any `pg.Client` sends meanwhile (the client, and the query's
 * first argument: its text, or a config object with `name`, `text`, `values`), before it is sent. Tests
 * count round trips, batch sizes or the statements the server names with it.
 */
export async function observeQueriesDuring(
  observe: (client: pg.Client & { connectionParameters?: { application_name?: string } }, config: unknown) => void,
  work: () => Promise<unknown>,
): Promise<void> {
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    observe(this, args[0]);
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    await work();
  } finally {
    pg.Client.prototype.query = original;
  }
}

/**
 * The batch sizes of the calls of the named statement `name` (postgres/statement-batches.ts) that pooled
 * connections send while `work` runs: the length of each call's first array parameter.
 */
export async function batchSizesDuring(name: string, work: () => Promise<unknown>): Promise<number[]> {
  const sizes: number[] = [];
  await observeQueriesDuring((_client, config) => {
    const named = config as { name?: string; values?: unknown[][] };
    if (typeof config === 'object' && named.name === name) sizes.push(named.values![0]!.length);
  }, work);
  return sizes;
}
