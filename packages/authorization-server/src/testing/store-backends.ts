/**
 * Test support for the stores written once over the SQL driver (issue 12, `storage/stores/`): a store's
 * own tests run on both backends through this, each test on a fresh database (a SQLite file, or a
 * PostgreSQL schema that closing drops), with a second connection to read rows the store's API does not
 * show. PostgreSQL tests are skipped with the visible reason when the test database is unreachable
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
import { createTestPostgresStorage, postgresSkipReason, queryTestSchema } from './postgres.ts';

/** One test's storage, and a way to read its rows directly (`?` placeholders on both backends). */
export interface TestStore {
  storage: Storage;
  rows(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
}

export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  /** `{ skip }` for `describe`: false, or why this backend's tests do not run. */
  skip: string | false;
  /** Wraps a test body: opens a fresh storage for it and closes (and removes) it afterwards. */
  with(body: (store: TestStore) => Promise<void>): () => Promise<void>;
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
    },
  ];
}
