/**
 * Test support for the stores written once over the SQL driver (issue 12, `storage/stores/`): a store's
 * own tests run on both backends through this, each test on a fresh database (a SQLite file, or a
 * PostgreSQL schema that closing drops), either as one storage with a second connection to read rows the
 * store's API does not show (`with`), or as two storages on that one database, as two server instances
 * see it (`withTwo`: two SQLite connections on one file; two PostgreSQL pools on one schema).
 * PostgreSQL tests are skipped with the visible reason when the test database is unreachable
 * (`postgresSkipReason`).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { numberPlaceholders } from '../storage/sql/driver.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { createPostgresStorage } from '../storage/postgres/postgres-storage.ts';
import { createTestPostgresStorage, dropTestSchema, newTestSchema, postgresSkipReason, queryTestSchema, TEST_DATABASE_URL } from './postgres.ts';

/** One test's storage, and a way to read its rows directly (`?` placeholders on both backends). */
export interface TestStore {
  storage: Storage;
  rows(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
}

/** Two storages on one database, as two server instances see it. */
export interface TwoInstances {
  a: Storage;
  b: Storage;
}

export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  /** `{ skip }` for `describe`: false, or why this backend's tests do not run. */
  skip: string | false;
  /** Wraps a test body: opens a fresh storage for it and closes (and removes) it afterwards. */
  with(body: (store: TestStore) => Promise<void>): () => Promise<void>;
  /** Wraps a test body: opens two storages on one fresh database and closes (and removes) them afterwards. */
  withTwo(body: (instances: TwoInstances) => Promise<void>): () => Promise<void>;
}

export async function storeBackends(): Promise<StoreBackend[]> {
  const skip = await postgresSkipReason();
  return [
    {
      name: 'sqlite',
      skip: false,
      with: (body) => async () => {
        const directory = mkdtempSync(join(tmpdir(), 'gatehouse-store-'));
        const path = join(directory, `${randomUUID()}.sqlite`);
        const storage = createSqliteStorage(path);
        const reader = new DatabaseSync(path, { readOnly: true });
        try {
          await body({ storage, rows: async (sql, params = []) => reader.prepare(sql).all(...(params as never[])) as Record<string, unknown>[] });
        } finally {
          reader.close();
          await storage.close();
          rmSync(directory, { recursive: true, force: true });
        }
      },
      withTwo: (body) => async () => {
        const directory = mkdtempSync(join(tmpdir(), 'gatehouse-stores-'));
        const file = join(directory, 'gatehouse.sqlite');
        const a = createSqliteStorage(file);
        const b = createSqliteStorage(file);
        try {
          await body({ a, b });
        } finally {
          await a.close();
          await b.close();
          rmSync(directory, { recursive: true, force: true });
        }
      },
    },
    {
      name: 'postgres',
      skip,
      with: (body) => async () => {
        const storage = await createTestPostgresStorage();
        try {
          await body({ storage, rows: async (sql, params = []) => (await queryTestSchema(storage.schema, numberPlaceholders(sql), params)).rows });
        } finally {
          await storage.close();
        }
      },
      withTwo: (body) => async () => {
        const schema = newTestSchema();
        const a = await createPostgresStorage(TEST_DATABASE_URL, { schema, poolSize: 4 });
        const b = await createPostgresStorage(TEST_DATABASE_URL, { schema, poolSize: 4 });
        try {
          await body({ a, b });
        } finally {
          await a.close();
          await b.close();
          await dropTestSchema(schema);
        }
      },
    },
  ];
}
