/**
 * Issue 12: SQLite's token lookups on a worker thread (read-worker.ts). The token store's contract holds on
 * a file database whose lookups the worker answers; a lookup sees what was committed before it and waits
 * for its flush; a worker that fails leaves the lookups to the server's connection; closing ends it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { contractBackend, fixture, issueGrant, NOW } from '../contract/fixtures.ts';
import { tokensContract } from '../contract/tokens.ts';
import type { Storage } from '../storage.ts';
import { StorageUnavailableError } from '../storage-unavailable.ts';
import { DatabaseSync } from 'node:sqlite';
import { createReadWorker } from './read-worker.ts';
import { createSqliteStorage, readWorkerOf } from './sqlite-storage.ts';
import type { WalSync } from './wal-sync.ts';

const directory = mkdtempSync(join(tmpdir(), 'gatehouse-read-worker-'));
after(() => rmSync(directory, { recursive: true, force: true }));
let files = 0;
const databaseFile = () => join(directory, `db-${++files}.sqlite`);

/** A file storage whose read worker is running (its first lookup starts it; that one is answered here). */
async function storageWithReadWorker(options: { walSync?: WalSync } = {}): Promise<Storage> {
  const storage = createSqliteStorage(databaseFile(), options);
  await storage.tokens.findByDigest('no-such-digest');
  await readWorkerOf(storage)!.started;
  return storage;
}

// The token store's whole contract, its lookups answered by the worker.
tokensContract(contractBackend('sqlite file, lookups on the read worker', () => storageWithReadWorker()));

describe('SQLite: token lookups on a read worker (issue 12)', () => {
  it('answers lookups off the event loop once started, the same records as the server connection, and sees every commit before it', async () => {
    const path = databaseFile();
    const storage = createSqliteStorage(path);
    const here = createSqliteStorage(path, { readWorker: false });
    try {
      const f = await fixture(storage);
      const { access, refresh } = await issueGrant(storage, f);
      const worker = readWorkerOf(storage)!;
      assert.equal(readWorkerOf(here), undefined, 'none when turned off');
      // The first lookup starts the worker and is answered on the server's connection meanwhile.
      assert.deepEqual(await storage.tokens.findByDigest(access.tokenDigest), await here.tokens.findByDigest(access.tokenDigest));
      await worker.started;
      const before = worker.served;
      const found = await Promise.all([access, refresh].map((token) => storage.tokens.findByDigest(token.tokenDigest)));
      assert.equal(worker.served - before, 2, 'both answered by the worker');
      assert.deepEqual(found, await Promise.all([access, refresh].map((token) => here.tokens.findByDigest(token.tokenDigest))));
      assert.equal(await storage.tokens.findByDigest('no-such-digest'), undefined);
      // A revocation answered is committed: the next lookup (the worker's) sees it.
      assert.equal(await storage.tokens.revokeAccessToken(access.tokenDigest, NOW + 5), true);
      assert.equal((await storage.tokens.findByDigest(access.tokenDigest))?.token.revokedAt, NOW + 5);
      // The refresh grant's lookup stays on the server's connection (a compare-and-swap follows it).
      const served = worker.served;
      assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest, { forRotation: true }))?.token.tokenId, refresh.tokenId);
      assert.equal(worker.served, served);
    } finally {
      await here.close();
      await storage.close();
    }
    assert.equal(existsSync(`${path}-wal`), false, 'closed: the last connection checkpointed and removed the WAL');
  });

  it('answers a row committed but not flushed only after its flush, and fails with the flush', async () => {
    let pending: Array<{ resolve(): void; reject(error: Error): void }> = [];
    let holding = false;
    const flush: WalSync = {
      flush: () => (holding ? new Promise<void>((resolve, reject) => pending.push({ resolve, reject })) : Promise.resolve()),
      async close() {},
    };
    const storage = await storageWithReadWorker({ walSync: flush });
    try {
      const f = await fixture(storage);
      const { access } = await issueGrant(storage, f);
      holding = true;
      const revoked = storage.tokens.revokeAccessToken(access.tokenDigest, NOW + 5);
      await new Promise((resolve) => setTimeout(resolve, 20)); // committed, its flush held
      const served = readWorkerOf(storage)!.served;
      let answered = false;
      const lookup = storage.tokens.findByDigest(access.tokenDigest).then((found) => {
        answered = true;
        return found;
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(readWorkerOf(storage)!.served, served + 1, 'the worker read it');
      assert.equal(answered, false, 'not answered before the flush');
      for (const waiting of pending) waiting.resolve();
      pending = [];
      assert.equal(await revoked, true);
      assert.equal((await lookup)?.token.revokedAt, NOW + 5);
      // A flush that fails fails the lookups after it too (nothing is answered as durable any more).
      const failing = storage.tokens.revokeAccessToken(access.tokenDigest, NOW + 6);
      await new Promise((resolve) => setTimeout(resolve, 20));
      for (const waiting of pending) waiting.reject(new Error('EIO'));
      pending = [];
      await failing.catch(() => {});
      await assert.rejects(storage.tokens.findByDigest(access.tokenDigest), StorageUnavailableError);
    } finally {
      holding = false;
      for (const waiting of pending) waiting.resolve();
      await storage.close().catch(() => {});
    }
  });

  it('keeps a process with nothing else to do (a CLI command) alive until the worker answered its lookup', async () => {
    // The worker is unreferenced while idle (a process that never closes its storage still exits) and
    // referenced while a batch is out: without that, this child would exit before printing its answer.
    const path = databaseFile();
    const seeding = createSqliteStorage(path, { readWorker: false });
    const { access } = await issueGrant(seeding, await fixture(seeding));
    await seeding.close();
    const source = `
      import { createSqliteStorage, readWorkerOf } from ${JSON.stringify(new URL('./sqlite-storage.ts', import.meta.url).href)};
      const storage = createSqliteStorage(process.env.DATABASE_PATH);
      await storage.tokens.findByDigest('no-such-digest');
      await readWorkerOf(storage).started;
      const served = readWorkerOf(storage).served;
      // Not awaited, storage never closed: only the worker's batches out keep the event loop alive (the
      // first batch holds one lookup, the second the thousands queued meanwhile: long enough to matter).
      const lookups = Array.from({ length: 20000 }, (_, i) => storage.tokens.findByDigest(i === 19999 ? process.env.TOKEN_DIGEST : 'no-such-digest-' + i));
      void Promise.all(lookups).then((found) => {
        console.log(JSON.stringify({ tokenId: found.at(-1)?.token.tokenId, byWorker: readWorkerOf(storage).served - served }));
      });
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--no-warnings', '--input-type=module', '-e', source], {
      env: { PATH: process.env.PATH ?? '', DATABASE_PATH: path, TOKEN_DIGEST: access.tokenDigest },
      timeout: 30_000,
    });
    assert.deepEqual(JSON.parse(stdout.trim()), { tokenId: access.tokenId, byWorker: 20000 });
  });

  it("sends a turn's lookups as one batch, and answers each with its own statement's row or none", async () => {
    const path = databaseFile();
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL; CREATE TABLE a (k TEXT PRIMARY KEY, v INTEGER); CREATE TABLE b (k TEXT PRIMARY KEY, w TEXT, x REAL)");
    db.exec("INSERT INTO a VALUES ('one', 1), ('two', 2); INSERT INTO b VALUES ('one', 'b-one', 1.5)");
    const fallbacks: string[] = [];
    const worker = createReadWorker(path, {
      fallback: (_text, parameter) => {
        fallbacks.push(parameter);
        return undefined;
      },
      durable: () => Promise.resolve(),
    });
    try {
      await worker.get('SELECT v FROM a WHERE k = ?', 'one'); // starts the worker; answered here meanwhile
      await worker.started;
      assert.deepEqual(fallbacks, ['one']);
      const [selectA, selectB] = ['SELECT k, v FROM a WHERE k = ?', 'SELECT k, w, x FROM b WHERE k = ?'];
      // One turn's lookups; the first finds no row, so the texts' numbering must not depend on the rows.
      const answers = await Promise.all([
        worker.get(selectA, 'none'), worker.get(selectB, 'one'), worker.get(selectA, 'two'), worker.get(selectB, 'none'), worker.get(selectA, 'one'),
      ]);
      assert.deepEqual(answers.map((row) => (row === undefined ? undefined : { ...row })), [
        undefined, { k: 'one', w: 'b-one', x: 1.5 }, { k: 'two', v: 2 }, undefined, { k: 'one', v: 1 },
      ]);
      assert.notEqual(answers[2], answers[4], "a statement's rows are objects of their own");
      assert.deepEqual({ served: worker.served, batches: worker.batches }, { served: 5, batches: 1 }, "the turn's five lookups in one batch");
      assert.deepEqual({ ...(await worker.get(selectB, 'one')) }, { k: 'one', w: 'b-one', x: 1.5 });
      assert.deepEqual({ served: worker.served, batches: worker.batches }, { served: 6, batches: 2 }, 'a later turn: a batch of its own');
      assert.deepEqual(fallbacks, ['one'], 'nothing else answered on the server connection');
    } finally {
      await worker.close();
      db.close();
    }
  });

  it('a worker that cannot start or fails leaves every lookup to the server connection', async () => {
    const failures: unknown[] = [];
    const fallbacks: string[] = [];
    const worker = createReadWorker(join(directory, 'missing', 'no.sqlite'), {
      fallback: (_text, parameter) => {
        fallbacks.push(parameter);
        return { answered: parameter };
      },
      durable: () => Promise.resolve(),
      onFailure: (error) => failures.push(error),
    });
    assert.deepEqual(await worker.get('SELECT ?', 'a'), { answered: 'a' });
    await worker.started;
    assert.deepEqual(await Promise.all(['b', 'c'].map((digest) => worker.get('SELECT ?', digest))), [{ answered: 'b' }, { answered: 'c' }]);
    assert.deepEqual(fallbacks, ['a', 'b', 'c']);
    assert.equal(worker.served, 0);
    assert.equal(failures.length, 1);
    await worker.close();
    assert.deepEqual(await worker.get('SELECT ?', 'd'), { answered: 'd' }, 'closed: the server connection answers');
  });
});
