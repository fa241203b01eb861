/**
 * beginImmediate (issue 12): takes SQLite's write lock, waiting for another connection by the wall clock,
 * so that signals (SIGPROF under --cpu-prof) cannot cut the wait short; gives up with SQLITE_BUSY after
 * its deadline.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { after, describe, it } from 'node:test';
import { beginImmediate, isSqliteBusy } from './write-lock.ts';

const temporaryDirectory = mkdtempSync(join(tmpdir(), 'gatehouse-write-lock-'));
after(() => rmSync(temporaryDirectory, { recursive: true, force: true }));

/** A WAL file with one table, and two connections to it: `db` waits for the lock `holder` takes. */
function twoConnections(): { path: string; db: DatabaseSync; holder: DatabaseSync; close(): void } {
  const path = join(temporaryDirectory, `${randomUUID()}.sqlite`);
  const holder = new DatabaseSync(path);
  holder.exec('PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER)');
  const db = new DatabaseSync(path);
  // SQLite's own busy handler off: every wait below is beginImmediate's.
  db.exec('PRAGMA busy_timeout = 0');
  return {
    path, db, holder, close: () => {
      db.close();
      holder.close();
    },
  };
}

describe('beginImmediate', () => {
  it('retries while another connection holds the write lock, and takes it once released', () => {
    const { db, holder, close } = twoConnections();
    try {
      holder.exec('BEGIN IMMEDIATE');
      let sleeps = 0;
      beginImmediate(db, {
        timeoutMilliseconds: 60_000,
        sleep: () => {
          sleeps += 1;
          if (sleeps === 3) holder.exec('COMMIT');
        },
      });
      assert.equal(sleeps, 3);
      assert.equal(db.isTransaction, true);
      db.exec('INSERT INTO t VALUES (1); COMMIT');
      assert.deepEqual(holder.prepare('SELECT x FROM t').all().map((row) => row.x), [1]);
    } finally {
      close();
    }
  });

  it('gives up with the SQLITE_BUSY error once the deadline has passed by the clock', () => {
    const { db, holder, close } = twoConnections();
    try {
      holder.exec('BEGIN IMMEDIATE');
      let clock = 1_000;
      let slept = 0;
      assert.throws(
        () => beginImmediate(db, {
          timeoutMilliseconds: 100,
          now: () => clock,
          sleep: (milliseconds) => {
            assert.ok(milliseconds >= 1 && milliseconds <= 100);
            slept += milliseconds;
            clock += milliseconds;
          },
        }),
        (error: unknown) => isSqliteBusy(error) && (error as { errcode: number }).errcode === 5,
      );
      // It slept until the deadline (100 ms by this clock), not a moment less.
      assert.ok(slept >= 100, `slept ${slept} ms`);
      assert.equal(db.isTransaction, false);
      holder.exec('ROLLBACK');
    } finally {
      close();
    }
  });

  it('throws any other error at once, without retrying', () => {
    const { db, close } = twoConnections();
    try {
      db.exec('BEGIN');
      let sleeps = 0;
      assert.throws(() => beginImmediate(db, { sleep: () => (sleeps += 1) }), (error: unknown) => !isSqliteBusy(error) && /within a transaction/.test(String(error)));
      assert.equal(sleeps, 0);
      db.exec('ROLLBACK');
    } finally {
      close();
    }
  });

  it('keeps waiting while the CPU profiler signals the thread (SIGPROF), until the other connection commits', async () => {
    const { path, db, close } = twoConnections();
    // [0]: 1 once the worker holds the lock, 2 just before it commits.
    const state = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(
      `const { DatabaseSync } = require('node:sqlite');
       const { workerData } = require('node:worker_threads');
       const db = new DatabaseSync(workerData.path);
       db.exec('BEGIN IMMEDIATE');
       Atomics.store(workerData.state, 0, 1);
       Atomics.notify(workerData.state, 0);
       Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400);
       Atomics.store(workerData.state, 0, 2);
       db.exec('COMMIT');
       db.close();`,
      { eval: true, workerData: { path, state } },
    );
    const session = new Session();
    session.connect();
    try {
      Atomics.wait(state, 0, 0, 10_000);
      assert.equal(Atomics.load(state, 0), 1);
      // A sampling interval of 50 µs: the sampler thread sends SIGPROF to this thread that often. A plain
      // `BEGIN IMMEDIATE` with busy_timeout = 5000 gave up here after 9 ms with SQLITE_BUSY (checked once).
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 50 });
      await session.post('Profiler.start');
      db.exec('PRAGMA busy_timeout = 5000');
      beginImmediate(db, { timeoutMilliseconds: 30_000 });
      // It got the lock only after the worker released it: the wait was not cut short.
      assert.equal(Atomics.load(state, 0), 2);
      assert.equal(db.isTransaction, true);
      db.exec('ROLLBACK');
    } finally {
      await session.post('Profiler.stop').catch(() => {});
      session.disconnect();
      await new Promise((resolve) => worker.once('exit', resolve));
      close();
    }
  });
});
