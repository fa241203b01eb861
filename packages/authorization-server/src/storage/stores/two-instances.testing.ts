/**
 * For the store tests of this folder: two storages on ONE database, as two server instances see it (two
 * SQLite connections on one file; two PostgreSQL pools on one fresh schema), on every backend.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropTestSchema, newTestSchema, postgresSkipReason, TEST_DATABASE_URL } from '../../testing/postgres.ts';
import { createPostgresStorage } from '../postgres/postgres-storage.ts';
import { createSqliteStorage } from '../sqlite/sqlite-storage.ts';
import type { Storage } from '../storage.ts';

export interface TwoInstances {
  a: Storage;
  b: Storage;
  close(): Promise<void>;
}

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** Why the backend's tests are skipped (PostgreSQL unreachable), or false. */
  skip: string | false;
  open(): Promise<TwoInstances>;
}

export async function backends(): Promise<Backend[]> {
  return [
    {
      name: 'sqlite',
      skip: false,
      async open() {
        const directory = mkdtempSync(join(tmpdir(), 'gatehouse-stores-'));
        const file = join(directory, 'gatehouse.sqlite');
        const a = createSqliteStorage(file);
        const b = createSqliteStorage(file);
        return { a, b, async close() { await a.close(); await b.close(); rmSync(directory, { recursive: true, force: true }); } };
      },
    },
    {
      name: 'postgres',
      skip: await postgresSkipReason(),
      async open() {
        const schema = newTestSchema();
        const a = await createPostgresStorage(TEST_DATABASE_URL, { schema, poolSize: 4 });
        const b = await createPostgresStorage(TEST_DATABASE_URL, { schema, poolSize: 4 });
        return { a, b, async close() { await a.close(); await b.close(); await dropTestSchema(schema); } };
      },
    },
  ];
}

/** `body` on two fresh instances of one database, closed (and dropped) afterwards. */
export function withTwoInstances(backend: Backend, body: (instances: TwoInstances) => Promise<void>): () => Promise<void> {
  return async () => {
    const instances = await backend.open();
    try {
      await body(instances);
    } finally {
      await instances.close();
    }
  };
}
