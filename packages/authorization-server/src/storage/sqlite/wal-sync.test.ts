/**
 * The WAL flush off the event loop (issue 12, wal-sync.ts): the serving connection's COMMIT does not
 * flush (`synchronous=NORMAL`), and no operation answers before the fdatasync that follows its commit, nor
 * a read of rows committed but not flushed yet; a failed flush fails its batch and everything after it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import type { Storage, UserRecord } from '../storage.ts';
import { StorageUnavailableError } from '../storage-unavailable.ts';
import { createSqliteStorage, migrateSqliteFile } from './sqlite-storage.ts';
import { createWalSync, type WalSync } from './wal-sync.ts';
import { eventually } from '../../testing/postgres.ts';

const temporaryDirectory = mkdtempSync(join(tmpdir(), 'gatehouse-wal-sync-'));
after(() => rmSync(temporaryDirectory, { recursive: true, force: true }));
const databaseFile = () => join(temporaryDirectory, `${randomUUID()}.sqlite`);

const user = (): UserRecord => {
  const userId = randomUUID();
  return { userId, email: `${userId}@example.com`, name: 'Alice', passwordHash: null };
};

/** Committed rows, as another process sees them. */
function userVisible(path: string, userId: string): boolean {
  const db = new DatabaseSync(path);
  try {
    return db.prepare('SELECT 1 FROM users WHERE user_id = ?').get(userId) !== undefined;
  } finally {
    db.close();
  }
}

/** A WAL flush the test completes or fails by hand; `requests` counts the flushes asked for. */
function heldFlush(): WalSync & { requests: number; complete(): void; fail(error: Error): void } {
  let pending: { resolve(): void; reject(error: Error): void }[] = [];
  const held = {
    requests: 0,
    flush() {
      held.requests += 1;
      return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
    },
    async close() {},
    complete() {
      for (const waiting of pending) waiting.resolve();
      pending = [];
    },
    fail(error: Error) {
      for (const waiting of pending) waiting.reject(error);
      pending = [];
    },
  };
  return held;
}

const settledYet = async (promise: Promise<unknown>) => {
  let settled = false;
  promise.then(() => (settled = true), () => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, 30));
  return settled;
};

async function withHeldStorage(test: (storage: Storage, path: string, flush: ReturnType<typeof heldFlush>) => Promise<void>): Promise<void> {
  const path = databaseFile();
  const flush = heldFlush();
  const storage = createSqliteStorage(path, { walSync: flush });
  try {
    await test(storage, path, flush);
  } finally {
    flush.complete();
    await storage.close().catch(() => {});
  }
}

describe('SQLite: the WAL flush runs off the event loop, and answers wait for it (issue 12)', () => {
  it('the serving connection commits without flushing (NORMAL); `gatehouse migrate`\'s connection keeps FULL', async () => {
    const path = databaseFile();
    const original = DatabaseSync.prototype.exec;
    const pragmas: string[] = [];
    DatabaseSync.prototype.exec = function (this: DatabaseSync, sql: string) {
      if (/^PRAGMA synchronous/i.test(sql)) pragmas.push(sql);
      return original.call(this, sql);
    };
    try {
      migrateSqliteFile(path);
      assert.deepEqual(pragmas, ['PRAGMA synchronous = FULL']);
      const storage = createSqliteStorage(path);
      await storage.close();
      assert.deepEqual(pragmas.slice(1), ['PRAGMA synchronous = FULL', 'PRAGMA synchronous = NORMAL']);
    } finally {
      DatabaseSync.prototype.exec = original;
    }
  });

  it('a write answers only after the flush that follows its COMMIT, though the row is committed before', async () => {
    await withHeldStorage(async (storage, path, flush) => {
      const alice = user();
      const created = storage.users.create(alice);
      // Its batch commits and asks for the flush (not by a fixed time: on a loaded machine 30 ms may pass first).
      await eventually('the batch committed and asked for its flush', () => flush.requests === 1);
      assert.equal(await settledYet(created), false, 'no answer before the flush');
      assert.equal(userVisible(path, alice.userId), true, 'committed: the flush is what it waits for');
      assert.equal(flush.requests, 1);
      flush.complete();
      await created;
    });
  });

  it('a read of rows committed but not flushed yet waits for that flush; once flushed, reads answer at once', async () => {
    await withHeldStorage(async (storage, _path, flush) => {
      const alice = user();
      const created = storage.users.create(alice);
      await new Promise((resolve) => setImmediate(resolve)); // the batch's COMMIT runs
      const found = storage.users.find(alice.userId);
      assert.equal(await settledYet(found), false, 'it read a row that a power loss could still take back');
      flush.complete();
      await created;
      assert.deepEqual(await found, alice);
      assert.deepEqual(await storage.users.find(alice.userId), alice);
      assert.equal(flush.requests, 1, 'a read asks for no flush of its own');
    });
  });

  it('a failed flush fails its batch with StorageUnavailableError, and every operation after it, readiness too', async () => {
    await withHeldStorage(async (storage, _path, flush) => {
      const alice = user();
      const created = storage.users.create(alice);
      await new Promise((resolve) => setImmediate(resolve));
      const found = storage.users.find(alice.userId);
      flush.fail(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      await assert.rejects(created, StorageUnavailableError);
      await assert.rejects(found, StorageUnavailableError);
      // The kernel may have dropped the pages it could not write: nothing is answered as durable any more.
      await assert.rejects(storage.users.create(user()), StorageUnavailableError);
      await assert.rejects(storage.users.find(alice.userId), StorageUnavailableError);
      await assert.rejects(storage.checkReady(), StorageUnavailableError);
    });
  });

  it('the real flush: fdatasync of the -wal file in the thread pool after the COMMIT, before the answer', async () => {
    const path = databaseFile();
    const handle = await open(path, 'w');
    const prototype = Object.getPrototypeOf(handle) as { datasync(): Promise<void> };
    await handle.close();
    const original = prototype.datasync;
    const flushed: boolean[] = [];
    let alice: UserRecord | undefined;
    prototype.datasync = function (this: { fd: number }) {
      // What the flush sees when it starts: the row committed already.
      if (alice) flushed.push(userVisible(path, alice.userId));
      return original.call(this);
    };
    const storage = createSqliteStorage(path);
    try {
      alice = user();
      await storage.users.create(alice);
      assert.deepEqual(flushed, [true], 'one flush, after the commit, before the answer');
    } finally {
      prototype.datasync = original;
      await storage.close();
    }
  });
});

describe('createWalSync', () => {
  it('one flush at a time; calls made while one runs share the next one', async () => {
    const path = databaseFile();
    writeFileSync(path, 'database');
    writeFileSync(`${path}-wal`, 'wal');
    const sync = createWalSync(path);
    const handle = await open(path, 'r');
    const prototype = Object.getPrototypeOf(handle) as { datasync(): Promise<void> };
    await handle.close();
    const original = prototype.datasync;
    let flushes = 0;
    let running = 0;
    prototype.datasync = async function (this: unknown) {
      flushes += 1;
      running += 1;
      assert.equal(running, 1, 'never two at once');
      await new Promise((resolve) => setTimeout(resolve, 20));
      running -= 1;
      return original.call(this);
    };
    try {
      await Promise.all([sync.flush(), sync.flush(), sync.flush(), sync.flush()]);
      assert.equal(flushes, 2, 'the first, then one for the three that came while it ran');
    } finally {
      prototype.datasync = original;
      await sync.close();
    }
  });

  it('follows the WAL when it is replaced, and flushes the database file when there is none', async () => {
    const path = databaseFile();
    writeFileSync(path, 'database');
    writeFileSync(`${path}-wal`, 'first');
    const sync = createWalSync(path, { checkIntervalMilliseconds: 0 });
    const handle = await open(path, 'r');
    const prototype = Object.getPrototypeOf(handle) as { datasync(): Promise<void> };
    await handle.close();
    const original = prototype.datasync;
    const sizes: number[] = [];
    prototype.datasync = async function (this: { stat(): Promise<{ size: number }> }) {
      sizes.push((await this.stat()).size);
      return original.call(this);
    };
    try {
      await sync.flush();
      unlinkSync(`${path}-wal`);
      writeFileSync(`${path}-wal`, 'second WAL');
      await sync.flush();
      unlinkSync(`${path}-wal`);
      await sync.flush();
      assert.deepEqual(sizes, ['first'.length, 'second WAL'.length, 'database'.length]);
    } finally {
      prototype.datasync = original;
      await sync.close();
    }
  });
});
