/**
 * Group commit on SQLite (issue 12): the writes of one event-loop turn share one transaction and one
 * COMMIT, each operation in its own SAVEPOINT; no method answers before its commit; a failed commit fails
 * every member; checkpoints run in a worker thread that keeps the WAL bounded and stops on close.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, StatementSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { failSqliteStatements } from '../../testing/sqlite-faults.ts';
import type { ClientRecord, GrantRecord, Storage, TokenRecord } from '../storage.ts';
import { StorageUnavailableError } from '../storage-unavailable.ts';
import { createGroupCommit } from './group-commit.ts';
import { createSqliteStorage } from './sqlite-storage.ts';

const NOW = 1_800_000_000;
const temporaryDirectory = mkdtempSync(join(tmpdir(), 'gatehouse-group-commit-'));
after(() => rmSync(temporaryDirectory, { recursive: true, force: true }));
const databaseFile = () => join(temporaryDirectory, `${randomUUID()}.sqlite`);

function clientRecord(): ClientRecord {
  return {
    clientId: randomUUID(), kind: 'client', clientName: 'Ledgerly Sync', clientType: 'public', secretDigest: null,
    redirectUris: ['https://ledgerly.example/cb'], scopes: ['users:read'], subjectType: null, pkceRequired: true, status: 'active',
    clientUri: null, logoUri: null, tosUri: null, policyUri: null, audience: null, createdAt: NOW,
    initiationUri: null, settingsUri: null, contacts: [], ownerUserId: null, previousSecretDigest: null, previousSecretExpiresAt: null,
    brandingVerified: true,
  };
}

/** Counts the COMMITs every connection of this process runs (node:sqlite has no commit hook) until `restore()`. */
function countCommits(): { commits(): number; restore(): void } {
  const originalExec = DatabaseSync.prototype.exec;
  let commits = 0;
  DatabaseSync.prototype.exec = function (this: DatabaseSync, sql: string) {
    const result = originalExec.call(this, sql);
    if (/^COMMIT$/i.test(sql)) commits += 1;
    return result;
  };
  return { commits: () => commits, restore: () => (DatabaseSync.prototype.exec = originalExec) };
}

/** A second connection to the file: what another process sees (committed rows only). */
function clientVisible(path: string, clientId: string): boolean {
  const db = new DatabaseSync(path);
  try {
    return db.prepare('SELECT 1 FROM clients WHERE client_id = ?').get(clientId) !== undefined;
  } finally {
    db.close();
  }
}

async function withStorage(test: (storage: Storage, path: string) => Promise<void>): Promise<void> {
  const path = databaseFile();
  const storage = createSqliteStorage(path);
  try {
    await test(storage, path);
  } finally {
    await storage.close();
  }
}

/** A client, user and unused code, committed; for issueForCode. */
async function codeFor(storage: Storage) {
  const client = clientRecord();
  const userId = randomUUID();
  await storage.clients.create(client);
  await storage.users.create({ userId, email: `${userId}@example.com`, name: 'Alice', passwordHash: null });
  const codeDigest = randomBytes(32).toString('base64url');
  const subjectId = randomUUID();
  await storage.authorizationCodes.create({
    codeDigest, clientId: client.clientId, userId, redirectUri: client.redirectUris[0]!, scope: ['users:read'], subjectType: 'company',
    subjectId, codeChallenge: null, issuedAt: NOW, expiresAt: NOW + 60,
  });
  const grant: GrantRecord = {
    grantId: randomUUID(), clientId: client.clientId, userId, subjectType: 'company', subjectId, scope: ['users:read'],
    createdAt: NOW, revokedAt: null, revocationReason: null,
  };
  return { client, codeDigest, grant };
}

function token(grant: GrantRecord, kind: 'access' | 'refresh', tokenDigest = randomBytes(32).toString('base64url')): TokenRecord {
  return {
    tokenDigest, tokenId: randomUUID(), kind, grantId: grant.grantId, clientId: grant.clientId, scope: grant.scope,
    issuedAt: NOW, expiresAt: NOW + 900, rotatedAt: null, revokedAt: null,
  };
}

describe('SQLite group commit (issue 12)', () => {
  it('commits the operations started in one turn in ONE transaction, plain writes and transactions alike', async () => {
    await withStorage(async (storage, path) => {
      const { codeDigest } = await codeFor(storage);
      const clients = [clientRecord(), clientRecord(), clientRecord()];
      const counter = countCommits();
      let results: unknown[];
      try {
        results = await Promise.all([
          ...clients.map((client) => storage.clients.create(client)),
          storage.authorizationCodes.consume(codeDigest, NOW + 1),
          storage.audit.record({ type: 'consent.granted', at: NOW, actor: 'user:alice' }),
          storage.resources.create({ resource: 'https://api.example/', name: 'API', scopes: ['users:read'], createdAt: NOW }),
        ]);
      } finally {
        counter.restore();
      }
      assert.equal(counter.commits(), 1, 'six operations, one COMMIT');
      assert.equal((results[3] as { outcome: string }).outcome, 'consumed');
      for (const client of clients) assert.equal(clientVisible(path, client.clientId), true);
    });
  });

  it('rolls back only the failing operation of a batch: its SAVEPOINT, or its statement; the others commit', async () => {
    await withStorage(async (storage, path) => {
      const { codeDigest, grant } = await codeFor(storage);
      const duplicate = randomBytes(32).toString('base64url');
      // The second token repeats the first one's digest: the grant and the first token are written, then the INSERT fails.
      const badTokens = [token(grant, 'access', duplicate), token(grant, 'refresh', duplicate)];
      const taken = clientRecord();
      await storage.clients.create(taken);
      const fresh = clientRecord();
      const counter = countCommits();
      let outcomes: PromiseSettledResult<unknown>[];
      try {
        outcomes = await Promise.allSettled([
          storage.clients.create(fresh),
          storage.grants.issueForCode(codeDigest, grant, badTokens),
          storage.clients.create(taken), // a plain write that fails (primary key)
          storage.audit.record({ type: 'consent.granted', at: NOW, actor: 'user:alice', grantId: grant.grantId }),
        ]);
      } finally {
        counter.restore();
      }
      assert.equal(counter.commits(), 1);
      assert.equal(outcomes[0]!.status, 'fulfilled');
      for (const failed of [outcomes[1]!, outcomes[2]!]) {
        assert.equal(failed.status, 'rejected');
        assert.ok(!((failed as PromiseRejectedResult).reason instanceof StorageUnavailableError), 'a constraint violation is a fault, not a 503');
        assert.match(String((failed as PromiseRejectedResult).reason), /UNIQUE constraint failed/);
      }
      assert.equal(outcomes[3]!.status, 'fulfilled');

      const db = new DatabaseSync(path);
      try {
        assert.equal(db.prepare('SELECT 1 FROM clients WHERE client_id = ?').get(fresh.clientId) !== undefined, true, 'the other write committed');
        assert.equal(db.prepare('SELECT count(*) AS n FROM audit_events WHERE grant_id = ?').get(grant.grantId)?.n, 1, 'and the audit event');
        assert.equal(db.prepare('SELECT 1 FROM grants WHERE grant_id = ?').get(grant.grantId), undefined, 'the failed transaction left no grant');
        assert.equal(db.prepare('SELECT count(*) AS n FROM tokens WHERE grant_id = ?').get(grant.grantId)?.n, 0, 'nor its first token');
        assert.equal(db.prepare('SELECT grant_id FROM authorization_codes WHERE code_digest = ?').get(codeDigest)?.grant_id, null);
      } finally {
        db.close();
      }
      // The code is still good: the same grant with sound tokens issues.
      assert.equal(await storage.grants.issueForCode(codeDigest, grant, [token(grant, 'access'), token(grant, 'refresh')]), 'issued');
    });
  });

  it('a failing COMMIT rejects every operation of the batch with StorageUnavailableError and writes nothing; the next turn starts afresh', async () => {
    await withStorage(async (storage, path) => {
      const { client: codeClient, codeDigest } = await codeFor(storage);
      const clients = [clientRecord(), clientRecord()];
      const fault = failSqliteStatements(/^COMMIT$/);
      let outcomes: PromiseSettledResult<unknown>[];
      try {
        outcomes = await Promise.allSettled([
          ...clients.map((client) => storage.clients.create(client)),
          storage.authorizationCodes.consume(codeDigest, NOW + 1),
          storage.clients.find(clients[0]!.clientId), // a read of an uncommitted row fails with its batch
        ]);
      } finally {
        fault.restore();
      }
      assert.equal(fault.failures(), 1, 'one COMMIT for the whole turn, and it failed');
      for (const outcome of outcomes) {
        assert.equal(outcome.status, 'rejected');
        assert.ok((outcome as PromiseRejectedResult).reason instanceof StorageUnavailableError);
      }
      for (const client of clients) assert.equal(clientVisible(path, client.clientId), false, 'nothing of the batch is visible');
      assert.equal(await storage.clients.find(clients[0]!.clientId), undefined);
      assert.equal((await storage.authorizationCodes.find(codeDigest, codeClient.clientId))?.used, false, 'the code is unused');

      await storage.clients.create(clients[0]!);
      assert.equal(clientVisible(path, clients[0]!.clientId), true);
      assert.equal((await storage.authorizationCodes.consume(codeDigest, NOW + 2)).outcome, 'consumed');
    });
  });

  it('fails every member when SQLite rolled the whole transaction back after an error (SQLITE_FULL), not only the failing one', async () => {
    // node:sqlite cannot fill a disk on demand: prepared statements are recorded with their connection, and the
    // fault does what SQLite does on SQLITE_FULL inside a transaction (rolls it back) before throwing.
    const connectionOf = new WeakMap<StatementSync, DatabaseSync>();
    const originalPrepare = DatabaseSync.prototype.prepare;
    DatabaseSync.prototype.prepare = function (this: DatabaseSync, sql: string) {
      const statement = originalPrepare.call(this, sql);
      connectionOf.set(statement, this);
      return statement;
    };
    const originalRun = StatementSync.prototype.run;
    try {
      await withStorage(async (storage, path) => {
        const full = clientRecord();
        const before = clientRecord();
        const failingRun = function (this: StatementSync, ...args: unknown[]) {
          if (/^INSERT INTO clients/.test(this.sourceSQL) && args.includes(full.clientId)) {
            connectionOf.get(this)!.exec('ROLLBACK');
            throw Object.assign(new Error('database or disk is full'), { code: 'ERR_SQLITE_ERROR', errcode: 13, errstr: 'database or disk is full' });
          }
          return (originalRun as (...values: unknown[]) => unknown).apply(this, args);
        };
        StatementSync.prototype.run = failingRun as StatementSync['run'];
        const outcomes = await Promise.allSettled([storage.clients.create(before), storage.clients.create(full)]);
        StatementSync.prototype.run = originalRun;
        for (const outcome of outcomes) {
          assert.equal(outcome.status, 'rejected');
          assert.ok((outcome as PromiseRejectedResult).reason instanceof StorageUnavailableError);
        }
        assert.equal(clientVisible(path, before.clientId), false);
        // The next write opens a fresh batch.
        await storage.clients.create(before);
        assert.equal(clientVisible(path, before.clientId), true);
      });
    } finally {
      StatementSync.prototype.run = originalRun;
      DatabaseSync.prototype.prepare = originalPrepare;
    }
  });

  it('keeps a large operation\'s SAVEPOINT undo records in memory, and ROLLBACK TO still restores every page it changed', async (t) => {
    // Issue 12: past 64 KiB SQLite's default spills a savepoint's sub-journal into a temporary file, a
    // write system call per changed page of every operation (sqlite-storage.ts, PRAGMA temp_store).
    if (!existsSync('/proc/self/fd')) return t.skip('lists open files through /proc (Linux)');
    const temporaryFiles = () => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return /etilqs_/.test(readlinkSync(`/proc/self/fd/${fd}`));
      } catch {
        return false; // closed meanwhile (the directory's own descriptor)
      }
    });
    await withStorage(async (storage, path) => {
      const { codeDigest, grant } = await codeFor(storage);
      // Some 1,500 rows spread over well over 64 KiB of pages, that revoking the grant changes.
      const tokens = Array.from({ length: 1_500 }, () => token(grant, 'access'));
      assert.equal(await storage.grants.issueForCode(codeDigest, grant, tokens), 'issued');
      const other = clientRecord();
      const fault = failSqliteStatements(/^INSERT INTO audit_events/);
      let outcomes: PromiseSettledResult<unknown>[];
      let openedDuringBatch: string[];
      try {
        // The revocation changes every token row, then fails on its audit event: ROLLBACK TO undoes it all.
        const revocation = storage.grants.revoke(grant.grantId, NOW + 1, 'user_revoked', {
          auditEvent: { type: 'grant.revoked', at: NOW + 1, actor: 'user:alice', grantId: grant.grantId },
        });
        const creation = storage.clients.create(other);
        // Both ran synchronously in the open batch; its COMMIT waits for the end of the turn.
        openedDuringBatch = temporaryFiles();
        outcomes = await Promise.allSettled([revocation, creation]);
      } finally {
        fault.restore();
      }
      assert.equal(fault.failures(), 1, 'the revocation reached its audit event');
      assert.deepEqual(openedDuringBatch, [], 'no temporary file holds the undo records');
      assert.equal(outcomes[0]!.status, 'rejected');
      assert.ok((outcomes[0] as PromiseRejectedResult).reason instanceof StorageUnavailableError);
      assert.equal(outcomes[1]!.status, 'fulfilled', 'the other member of the batch committed');
      const db = new DatabaseSync(path);
      try {
        assert.equal(db.prepare('SELECT 1 FROM clients WHERE client_id = ?').get(other.clientId) !== undefined, true);
        assert.equal(db.prepare('SELECT revoked_at FROM grants WHERE grant_id = ?').get(grant.grantId)?.revoked_at, null, 'the grant is not revoked');
        assert.equal(db.prepare('SELECT count(*) AS n FROM tokens WHERE grant_id = ? AND revoked_at IS NULL').get(grant.grantId)?.n, 1_500, 'nor any token');
        assert.equal(db.prepare('PRAGMA integrity_check').get()?.integrity_check, 'ok');
      } finally {
        db.close();
      }
      assert.equal(await storage.grants.revoke(grant.grantId, NOW + 2, 'user_revoked'), true, 'the grant is revoked once the fault is gone');
    });
  });

  it('resolves no method before its commit: a second connection sees the write the moment the promise resolves', async () => {
    await withStorage(async (storage, path) => {
      for (let round = 0; round < 20; round++) {
        const client = clientRecord();
        const written = storage.clients.create(client);
        // A read in the same turn sees the uncommitted row; its answer waits for the commit as well.
        const found = storage.clients.find(client.clientId);
        const resource = `https://api.example/${round}`;
        // A scope of its own each round: a scope belongs to one resource (issue 15 §4).
        const viaDriver = storage.resources.create({ resource, name: 'API', scopes: [`round-${round}:read`], createdAt: NOW });
        assert.equal(clientVisible(path, client.clientId), false, 'not committed yet within the turn');
        await written;
        assert.equal(clientVisible(path, client.clientId), true, 'committed when create resolved');
        assert.deepEqual(await found, client);
        assert.equal(await viaDriver, 'created');
        const db = new DatabaseSync(path);
        assert.ok(db.prepare('SELECT 1 FROM resources WHERE resource = ?').get(resource), 'the driver\'s write committed when it resolved');
        db.close();
      }
    });
  });

  it('waits for another connection\'s write lock without blocking the thread: timers and reads run meanwhile, and the write lands once the lock is released', async () => {
    await withStorage(async (storage, path) => {
      const known = clientRecord();
      await storage.clients.create(known);
      const holder = new DatabaseSync(path);
      try {
        holder.exec('BEGIN IMMEDIATE');
        const client = clientRecord();
        const written = storage.clients.create(client);
        let settledEarly = false;
        written.then(() => (settledEarly = true), () => (settledEarly = true));
        // The event loop is free: a 20 ms timer fires on time, and a read answers, while the write waits.
        const timerStarted = performance.now();
        await new Promise((resolve) => setTimeout(resolve, 20));
        assert.ok(performance.now() - timerStarted < 1_000, `a 20 ms timer took ${Math.round(performance.now() - timerStarted)} ms: the thread was blocked`);
        assert.deepEqual(await storage.clients.find(known.clientId), known, 'reads are served');
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(settledEarly, false, 'the write waits for the lock');
        assert.equal(clientVisible(path, client.clientId), false);
        holder.exec('COMMIT');
        await written;
        assert.equal(clientVisible(path, client.clientId), true, 'written once, after the lock was released');
        assert.equal(holder.prepare('SELECT count(*) AS n FROM clients WHERE client_id = ?').get(client.clientId)?.n, 1);
      } finally {
        if (holder.isTransaction) holder.exec('ROLLBACK');
        holder.close();
      }
    });
  });

  it('fails an operation with StorageUnavailableError once the lock timeout has passed, writing nothing, and the thread stays free while it waits', async () => {
    const path = databaseFile();
    const db = new DatabaseSync(path);
    db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; CREATE TABLE t (x INTEGER)');
    const holder = new DatabaseSync(path);
    const group = createGroupCommit(db, { lockTimeoutMilliseconds: 300 });
    try {
      holder.exec('BEGIN IMMEDIATE');
      const started = performance.now();
      const attempt = group.settled(async () => group.write(() => db.prepare('INSERT INTO t VALUES (1)').run()));
      // A timer of 50 ms fires within the wait (a blocked thread would run it only after the 300 ms).
      const timer = await new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - started), 50));
      assert.ok(timer < 250, `a 50 ms timer fired after ${Math.round(timer)} ms`);
      await assert.rejects(attempt, (error: unknown) => error instanceof StorageUnavailableError && /database is locked/.test(error.message));
      assert.ok(performance.now() - started >= 300, 'it waited for the timeout');
      holder.exec('ROLLBACK');
      assert.equal(holder.prepare('SELECT count(*) AS n FROM t').get()?.n, 0, 'nothing was written');
      assert.equal(db.isTransaction, false, 'no transaction left open');
      // The next operation takes the lock as usual.
      await group.settled(async () => group.write(() => db.prepare('INSERT INTO t VALUES (2)').run()));
      assert.deepEqual(holder.prepare('SELECT x FROM t').all().map((row) => row.x), [2]);
    } finally {
      if (holder.isTransaction) holder.exec('ROLLBACK');
      holder.close();
      db.close();
    }
  });

  it('shutdown\'s deadline (refuseNewBatches): an operation waiting for the write lock fails at once, and never commits once the lock is released', async () => {
    const path = databaseFile();
    const db = new DatabaseSync(path);
    db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; CREATE TABLE t (x INTEGER)');
    const holder = new DatabaseSync(path);
    const group = createGroupCommit(db, { lockTimeoutMilliseconds: 5_000 });
    try {
      holder.exec('BEGIN IMMEDIATE');
      const started = performance.now();
      const attempt = group.settled(async () => group.write(() => db.prepare('INSERT INTO t VALUES (1)').run()));
      attempt.catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 50));
      const refusal = new StorageUnavailableError('the server is shutting down');
      assert.equal(group.refuseNewBatches(refusal), 1, 'one operation was waiting');
      await assert.rejects(attempt, (error: unknown) => error === refusal);
      assert.ok(performance.now() - started < 2_000, 'it did not wait for the lock timeout');
      holder.exec('ROLLBACK');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(holder.prepare('SELECT count(*) AS n FROM t').get()?.n, 0, 'nothing was written, before or after the lock was released');
      // From then on no batch begins.
      await assert.rejects(group.settled(async () => group.write(() => db.prepare('INSERT INTO t VALUES (2)').run())), (error: unknown) => error === refusal);
      assert.equal(holder.prepare('SELECT count(*) AS n FROM t').get()?.n, 0);
    } finally {
      if (holder.isTransaction) holder.exec('ROLLBACK');
      holder.close();
      db.close();
    }
  });

  it('does not make a read wait when no batch is open', async () => {
    await withStorage(async (storage) => {
      const client = clientRecord();
      await storage.clients.create(client);
      const counter = countCommits();
      try {
        assert.deepEqual(await storage.clients.find(client.clientId), client);
      } finally {
        counter.restore();
      }
      assert.equal(counter.commits(), 0, 'a read outside a batch opens none');
    });
  });

  it('the reads of one turn share one read transaction, ended with the turn: another connection\'s commit is seen from the next turn on', async () => {
    await withStorage(async (storage, path) => {
      const connection = new DatabaseSync(path);
      const inOtherConnection = (userId: string) => connection.prepare(
        "INSERT INTO users (user_id, email, name, password_hash, created_at) VALUES (?, ?, 'Bob', NULL, 0)",
      ).run(userId, `${userId}@example.com`);
      try {
        await new Promise((resolve) => setImmediate(resolve)); // a new turn: opening the storage read too
        const anchor = randomUUID();
        inOtherConnection(anchor);
        const late = randomUUID();
        // Both reads start in this turn: the second runs after the other connection's commit, in the
        // first's read transaction (a WAL reader does not block that writer).
        const first = storage.users.find(anchor);
        inOtherConnection(late);
        const second = storage.users.find(late);
        assert.equal((await first)?.userId, anchor);
        assert.equal(await second, undefined, 'the turn reads the database as of its first read');
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal((await storage.users.find(late))?.userId, late, 'the next turn sees the commit');
        // Ended with the turn: the other connection can take the WAL over entirely (it waits for no reader).
        await new Promise((resolve) => setImmediate(resolve));
        connection.exec('PRAGMA busy_timeout = 0');
        const checkpoint = connection.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number };
        assert.equal(checkpoint.busy, 0, 'no read transaction left open');
      } finally {
        connection.close();
      }
    });
  });

  it('a write in a turn ends the turn\'s read transaction: the reads after it see the latest rows, in its batch', async () => {
    await withStorage(async (storage, path) => {
      const connection = new DatabaseSync(path);
      try {
        await new Promise((resolve) => setImmediate(resolve));
        const userId = randomUUID();
        const before = storage.users.find(userId);
        connection.prepare("INSERT INTO users (user_id, email, name, password_hash, created_at) VALUES (?, ?, 'Bob', NULL, 0)").run(userId, `${userId}@example.com`);
        // The write opens a batch (BEGIN IMMEDIATE): a new snapshot, which has the other connection's row.
        const written = storage.audit.record({ type: 'test.write', at: NOW, actor: 'test', details: {} });
        const after = storage.users.find(userId);
        assert.equal(await before, undefined);
        await written;
        assert.equal((await after)?.userId, userId);
      } finally {
        connection.close();
      }
    });
  });

  it('keeps the WAL file bounded under sustained writes with the checkpoint worker, which stops on close', async () => {
    const path = databaseFile();
    const storage = createSqliteStorage(path, { checkpointIntervalMilliseconds: 50 });
    const walBytes = () => statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    const fileBytes = () => statSync(path).size;
    const detail = 'x'.repeat(16 * 1024);
    const write = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => storage.audit.record({ type: 'test.load', at: NOW, actor: 'test', details: { i, detail } })));
    try {
      // The server's connection does not checkpoint (wal_autocheckpoint=0): the database file grows only when the worker does.
      const initialFileBytes = fileBytes();
      const deadline = Date.now() + 60_000;
      while (fileBytes() === initialFileBytes) {
        assert.ok(Date.now() < deadline, 'the checkpoint worker never checkpointed');
        await write(1);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const walBefore = walBytes();
      let written = 0;
      // Sustained, not a burst: at most 256 KiB per 4 ms (~64 MB/s). Unpaced, a fast machine wrote the 32 MiB
      // in ~0.4 s, a few checkpoint intervals, and the WAL's high-water mark measured the race, not the bound.
      while (written < 32 * 1024 * 1024) {
        await Promise.all([write(16), new Promise((resolve) => setTimeout(resolve, 4))]);
        written += 16 * detail.length;
      }
      // Without checkpoints the WAL would have grown by more than everything written (32 MiB and its pages' overhead).
      const growth = walBytes() - walBefore;
      assert.ok(growth < 12 * 1024 * 1024, `the WAL grew by ${growth} bytes while 32 MiB were written`);
    } finally {
      await storage.close();
    }
    // Closing the last connection removes the WAL file: the worker's connection was closed first.
    assert.equal(existsSync(`${path}-wal`), false, 'the worker stopped and closed its connection');
  });
});
