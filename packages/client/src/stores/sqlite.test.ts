import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
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

  it('adds the DPoP key column to a table created before it (RFC 9449, issue 15 §3), keeping the rows', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-client-'));
    const path = join(directory, 'connections.sqlite');
    try {
      const old = new DatabaseSync(path);
      old.exec(`CREATE TABLE gatehouse_connections (connection_id TEXT PRIMARY KEY, issuer TEXT NOT NULL, client_id TEXT NOT NULL,
        subject_urn TEXT NOT NULL, scope TEXT NOT NULL, status TEXT NOT NULL, status_reason TEXT, access_token_ciphertext TEXT,
        refresh_token_ciphertext TEXT, access_token_expires_at INTEGER, version INTEGER NOT NULL, created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL) STRICT`);
      old.exec(`INSERT INTO gatehouse_connections VALUES ('a', 'http://127.0.0.1:3000', 'c', 'urn:gatehouse:company:x', 'users:read', 'active',
        NULL, 'v1.k.a', 'v1.k.r', 1800000900, 4, 1800000000, 1800000000)`);
      old.close();
      const store = createSqliteTokenStore({ path });
      const read = await store.get('a');
      assert.equal(read?.dpopKeyCiphertext, null);
      const next = await store.replaceTokens('a', read!, {
        accessTokenCiphertext: 'v1.k.a2', refreshTokenCiphertext: 'v1.k.r2', accessTokenExpiresAt: 1_800_001_000, scope: 'users:read', updatedAt: 1_800_000_100,
        dpopKeyCiphertext: 'v1.k.key',
      });
      assert.equal(next?.dpopKeyCiphertext, 'v1.k.key');
      await store.close();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('refuses a table name that is not a plain identifier', () => {
    assert.throws(() => createSqliteTokenStore({ path: ':memory:', tableName: 'x; DROP TABLE y' }), /tableName/);
  });
});
