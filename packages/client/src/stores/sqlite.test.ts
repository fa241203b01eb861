import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createSqliteTokenStore } from './sqlite.ts';
import { describeTokenStoreContract } from './token-store-contract.ts';

describeTokenStoreContract('sqlite (:memory:)', async () => {
  const store = createSqliteTokenStore({ path: ':memory:' });
  return { store, dispose: () => store.close() };
});

describeTokenStoreContract('sqlite (file, WAL)', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-client-'));
  const store = createSqliteTokenStore({ path: join(directory, 'connections.sqlite'), tableName: 'partner_connections' });
  return {
    store,
    async dispose() {
      await store.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
});

describe('sqlite token store file', () => {
  it('is created readable by its owner only (mode 0600)', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-client-'));
    try {
      const store = createSqliteTokenStore({ path: join(directory, 'connections.sqlite') });
      await store.close();
      assert.equal(statSync(join(directory, 'connections.sqlite')).mode & 0o777, 0o600);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('refuses a table name that is not a plain identifier', () => {
    assert.throws(() => createSqliteTokenStore({ path: ':memory:', tableName: 'x; DROP TABLE y' }), /tableName/);
  });
});
