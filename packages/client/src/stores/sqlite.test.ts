import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { createSqliteTokenStore } from './sqlite.ts';
import { assertRowFromBeforeGenerations, describeTokenStoreContract } from './token-store-contract.ts';

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

  it('adds the generation column to a table created before it: its rows keep working (generation null), a row saved again after a delete is another row', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-client-'));
    const path = join(directory, 'connections.sqlite');
    try {
      // The table as the SDK created it before rows had a generation.
      const old = new DatabaseSync(path);
      old.exec(`CREATE TABLE gatehouse_connections (connection_id TEXT PRIMARY KEY, issuer TEXT NOT NULL, client_id TEXT NOT NULL,
        subject_urn TEXT NOT NULL, scope TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('active', 'reauthorization_required')),
        status_reason TEXT, access_token_ciphertext TEXT, refresh_token_ciphertext TEXT, access_token_expires_at INTEGER,
        version INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, dpop_key_ciphertext TEXT) STRICT`);
      old.exec(`INSERT INTO gatehouse_connections VALUES ('a', 'http://127.0.0.1:3000', 'c', 'urn:gatehouse:company:x', 'users:read', 'active',
        NULL, 'v1.k.a', 'v1.k.r', 1800000900, 1, 1800000000, 1800000000, NULL)`);
      old.close();
      const store = createSqliteTokenStore({ path });
      const read = (await store.get('a'))!;
      assert.equal(read.generation, null);
      await assertRowFromBeforeGenerations(store, read);
      await store.close();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  // The previous SDK release names its columns without `generation` (its INSERT, verbatim): a row it inserts into a
  // table a newer SDK created or upgraded gets a generation from the database, so it is another row than one it
  // deleted, and a refresh that read the deleted one writes nothing.
  for (const created of ['by this SDK', 'by an SDK before the generation column']) {
    it(`gives a row an older SDK inserts a generation (table created ${created})`, async () => {
      const directory = mkdtempSync(join(tmpdir(), 'gatehouse-client-'));
      const path = join(directory, 'connections.sqlite');
      try {
        if (created !== 'by this SDK') {
          const before = new DatabaseSync(path);
          before.exec(`CREATE TABLE gatehouse_connections (connection_id TEXT PRIMARY KEY, issuer TEXT NOT NULL, client_id TEXT NOT NULL,
            subject_urn TEXT NOT NULL, scope TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('active', 'reauthorization_required')),
            status_reason TEXT, access_token_ciphertext TEXT, refresh_token_ciphertext TEXT, access_token_expires_at INTEGER,
            version INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, dpop_key_ciphertext TEXT) STRICT`);
          before.close();
        }
        const store = createSqliteTokenStore({ path });
        const old = new DatabaseSync(path);
        const oldSave = old.prepare(`INSERT INTO gatehouse_connections (connection_id, issuer, client_id, subject_urn, scope, status, status_reason,
            access_token_ciphertext, refresh_token_ciphertext, access_token_expires_at, version, created_at, updated_at, dpop_key_ciphertext)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)
          ON CONFLICT (connection_id) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id,
            subject_urn = excluded.subject_urn, scope = excluded.scope, status = excluded.status, status_reason = excluded.status_reason,
            access_token_ciphertext = excluded.access_token_ciphertext, refresh_token_ciphertext = excluded.refresh_token_ciphertext,
            access_token_expires_at = excluded.access_token_expires_at, version = gatehouse_connections.version + 1, updated_at = excluded.updated_at,
            dpop_key_ciphertext = excluded.dpop_key_ciphertext
          RETURNING *`);
        const saveOld = (n: number) => oldSave.get('a', 'http://127.0.0.1:3000', 'c', 'urn:gatehouse:company:x', 'users:read', 'active', null,
          `v1.k.a${n}`, `v1.k.r${n}`, 1_800_000_900, 1_800_000_000, 1_800_000_000, null);
        saveOld(1);
        const read = (await store.get('a'))!;
        old.prepare('DELETE FROM gatehouse_connections WHERE connection_id = ?').run('a');
        saveOld(2);
        const recreated = (await store.get('a'))!;
        assert.equal(recreated.version, read.version);
        assert.equal(await store.replaceTokens('a', read, {
          accessTokenCiphertext: 'v1.k.a3', refreshTokenCiphertext: 'v1.k.r3', accessTokenExpiresAt: 1_800_001_000, scope: 'users:read', updatedAt: 1_800_000_100,
        }), undefined, 'what was read of the deleted row matches no new row');
        assert.equal(await store.markReauthorizationRequired('a', read, 'invalid_grant', 1_800_000_100), undefined);
        assert.deepEqual(await store.get('a'), recreated, 'the new connection\'s tokens are unchanged');
        assert.equal(typeof read.generation, 'string', 'the database gave each row a generation');
        assert.equal(typeof recreated.generation, 'string');
        assert.notEqual(recreated.generation, read.generation);
        // A reconnect by the older SDK (its upsert) keeps the row's generation.
        saveOld(4);
        assert.equal((await store.get('a'))?.generation, recreated.generation);
        old.close();
        await store.close();
      } finally {
        rmSync(directory, { recursive: true, force: true });
      }
    });
  }

  for (const [before, columns] of [['DPoP keys', ''], ['generations', ', dpop_key_ciphertext TEXT']] as const) {
    it(`is upgraded by one of two processes opening a table created before ${before} at once; both open it`, { timeout: 30_000 }, async () => {
      const directory = mkdtempSync(join(tmpdir(), 'gatehouse-client-'));
      const path = join(directory, 'connections.sqlite');
      const children: ReturnType<typeof spawn>[] = [];
      const holder = new DatabaseSync(path);
      try {
        // The table as the SDK created it before them (WAL, as the SDK set it).
        holder.exec('PRAGMA journal_mode = WAL');
        holder.exec(`CREATE TABLE gatehouse_connections (connection_id TEXT PRIMARY KEY, issuer TEXT NOT NULL, client_id TEXT NOT NULL,
          subject_urn TEXT NOT NULL, scope TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('active', 'reauthorization_required')),
          status_reason TEXT, access_token_ciphertext TEXT, refresh_token_ciphertext TEXT, access_token_expires_at INTEGER,
          version INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL${columns}) STRICT`);
        // Another writer holds the write lock while both processes start opening the store, so both find the old table.
        holder.exec('BEGIN IMMEDIATE');
        const script = `import { createSqliteTokenStore } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'sqlite.ts')).href)};
          process.stdout.write('opening\\n');
          try {
            const store = createSqliteTokenStore({ path: ${JSON.stringify(path)}, busyTimeoutMilliseconds: 10000 });
            await store.close();
            process.stdout.write('opened\\n');
          } catch (error) {
            process.stdout.write(\`failed: \${error.message}\\n\`);
            process.exitCode = 1;
          }`;
        const outcomes = Array.from({ length: 2 }, () => {
          const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
          children.push(child);
          let output = '';
          const exited = new Promise<{ code: number | null; output: string }>((resolve) => child.on('close', (code) => resolve({ code, output })));
          // Resolved when it starts opening the store (or has ended without).
          const opening = new Promise<void>((resolve) => {
            child.stdout!.on('data', (chunk: Buffer) => {
              output += chunk.toString('utf8');
              if (output.includes('opening')) resolve();
            });
            void exited.then(() => resolve());
          });
          return { opening, exited };
        });
        // Each wait is bounded well inside the test's timeout, so the finally block always ends the children.
        const within = <T>(promise: Promise<T>, what: string) => Promise.race([promise, new Promise<never>((_, reject) => {
          setTimeout(() => reject(new Error(`the children did not ${what} within 15 s`)), 15_000).unref();
        })]);
        await within(Promise.all(outcomes.map((outcome) => outcome.opening)), 'start');
        // Both are waiting for the lock (or about to): release it.
        await new Promise((resolve) => setTimeout(resolve, 500));
        holder.exec('COMMIT');
        const results = await within(Promise.all(outcomes.map((outcome) => outcome.exited)), 'exit');
        assert.deepEqual(results.map((result) => result.output.trim().split('\n').at(-1)), ['opened', 'opened'], JSON.stringify(results));
        assert.deepEqual(results.map((result) => result.code), [0, 0]);
        const names = (holder.prepare('PRAGMA table_info(gatehouse_connections)').all() as { name: string }[]).map((column) => column.name);
        assert.ok(names.includes('dpop_key_ciphertext') && names.includes('generation'));
      } finally {
        for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        if (holder.isTransaction) holder.exec('ROLLBACK');
        holder.close();
        rmSync(directory, { recursive: true, force: true });
      }
    });
  }

  it('opens a table already up to date without the write lock: another connection writing meanwhile does not keep it from starting', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-client-'));
    const path = join(directory, 'connections.sqlite');
    const writer = new DatabaseSync(path);
    try {
      await createSqliteTokenStore({ path }).close();
      writer.exec('BEGIN IMMEDIATE');
      // Before, every open took the write lock and failed here with "database is locked" after the busy timeout.
      const store = createSqliteTokenStore({ path, busyTimeoutMilliseconds: 300 });
      assert.equal(await store.get('none'), undefined);
      await store.close();
    } finally {
      if (writer.isTransaction) writer.exec('ROLLBACK');
      writer.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('closes the file when opening fails (a table name SQLite reads as a keyword): no handle is left open', { skip: process.platform !== 'linux' }, () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-client-'));
    const path = join(directory, 'connections.sqlite');
    const handles = () => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === path;
      } catch {
        return false;
      }
    }).length;
    try {
      assert.throws(() => createSqliteTokenStore({ path, tableName: 'order' }), /syntax error/);
      assert.equal(handles(), 0);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('refuses a table name that is not a plain identifier', () => {
    assert.throws(() => createSqliteTokenStore({ path: ':memory:', tableName: 'x; DROP TABLE y' }), /tableName/);
  });
});
