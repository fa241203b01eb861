import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type CheckpointCompletion, type CheckpointResult, catchUp, startCheckpointWorker } from './checkpoint-worker.ts';

/** A scripted PASSIVE checkpoint: each call answers the next result and counts itself. */
function scripted(results: CheckpointResult[]): { pass: () => CheckpointResult; calls: () => number } {
  let calls = 0;
  return { pass: () => results[calls++], calls: () => calls };
}

const copiedAll = (log: number) => ({ busy: 0, log, checkpointed: log });
const LIMITS = { catchUpFrames: 32, maxCatchUpPasses: 4 };

describe('checkpoint worker: the catch-up before the server\'s connection finishes a checkpoint', () => {
  it('passes again while each pass finds 32 or more new frames, and stops at the first that finds fewer', () => {
    const passes = scripted([copiedAll(1_300), copiedAll(1_340), copiedAll(1_360), copiedAll(9_999)]);
    const last = catchUp(passes.pass, copiedAll(1_000), LIMITS);
    assert.deepEqual(last, copiedAll(1_360));
    assert.equal(passes.calls(), 3, 'the pass that found 20 frames was the last');
  });

  it('makes at most four passes when writes outrun the copy', () => {
    const passes = scripted([copiedAll(1_500), copiedAll(2_000), copiedAll(2_500), copiedAll(3_000), copiedAll(3_500)]);
    assert.deepEqual(catchUp(passes.pass, copiedAll(1_000), LIMITS), copiedAll(3_000));
    assert.equal(passes.calls(), 4);
  });

  it('ends at a pass held back by another connection, and answers the last pass that copied every frame', () => {
    const busy = scripted([copiedAll(1_200), { busy: 1, log: 1_250, checkpointed: 1_200 }, copiedAll(1_300)]);
    assert.deepEqual(catchUp(busy.pass, copiedAll(1_000), LIMITS), copiedAll(1_200));
    assert.equal(busy.calls(), 2);
    // Frames left behind for a reader on an older snapshot: not a pass that copied every frame.
    const behind = scripted([{ busy: 0, log: 1_250, checkpointed: 1_100 }, copiedAll(1_300)]);
    assert.deepEqual(catchUp(behind.pass, copiedAll(1_000), LIMITS), copiedAll(1_000));
    assert.equal(behind.calls(), 1);
  });
});

describe('checkpoint worker: a WAL under sustained writes', () => {
  it('is started over after the worker copied it, the server\'s connection copying only what came after the worker\'s last pass', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-checkpoint-'));
    const path = join(directory, 'wal.sqlite');
    const db = new DatabaseSync(path);
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE pages (n INTEGER PRIMARY KEY, body BLOB NOT NULL)');
    const restartFrames = 200;
    const worker = startCheckpointWorker(db, path, { checkpointIntervalMilliseconds: 20, restartFrames });
    const insert = db.prepare('INSERT INTO pages (body) VALUES (?)');
    const body = new Uint8Array(6 * 1024);
    const completions: CheckpointCompletion[] = [];
    const walFrames: number[] = [];
    try {
      // As group commit writes: the completion before each transaction begins, a commit every millisecond or so.
      const deadline = Date.now() + 30_000;
      while (completions.filter((completion) => completion.complete).length < 3) {
        assert.ok(Date.now() < deadline, `the worker never asked for a completion (${completions.length} tried)`);
        const completion = worker.completeCheckpoint();
        if (completion) completions.push(completion);
        db.exec('BEGIN IMMEDIATE');
        insert.run(body);
        db.exec('COMMIT');
        if (completion?.complete) {
          // The transaction after a complete one began with every frame copied: it started the WAL over.
          const { log } = db.prepare('PRAGMA wal_checkpoint(PASSIVE)').get() as { log: number };
          walFrames.push(log);
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    } finally {
      await worker.stop();
      db.close();
      rmSync(directory, { recursive: true, force: true });
    }
    for (const completion of completions.filter((c) => c.complete)) {
      // What the worker's last pass had not seen: a few milliseconds of commits, never the WAL the worker copied.
      assert.ok(completion.frames >= 0 && completion.frames < restartFrames, `the completion copied ${completion.frames} frames`);
    }
    for (const frames of walFrames) assert.ok(frames < 10, `the WAL held ${frames} frames after the transaction that followed a completion`);
  });

  it('runs in a process started with --input-type=module (its CommonJS source does not inherit the flag)', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-checkpoint-'));
    // The worker's passes seen from the server's side: it asks for a completion once it has copied the WAL.
    const source = `
      import { DatabaseSync } from 'node:sqlite';
      import { startCheckpointWorker } from ${JSON.stringify(new URL('./checkpoint-worker.ts', import.meta.url).href)};
      const path = process.env.DATABASE_PATH;
      const db = new DatabaseSync(path);
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE pages (n INTEGER PRIMARY KEY, body BLOB NOT NULL)');
      const worker = startCheckpointWorker(db, path, { checkpointIntervalMilliseconds: 20, restartFrames: 50 });
      const insert = db.prepare('INSERT INTO pages (body) VALUES (?)');
      let asked = false;
      for (const deadline = Date.now() + 15000; !asked && Date.now() < deadline;) {
        asked = worker.completeCheckpoint() !== undefined;
        insert.run(new Uint8Array(6 * 1024));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await worker.stop();
      db.close();
      console.log(JSON.stringify({ asked }));
    `;
    try {
      const { stdout } = await promisify(execFile)(process.execPath, ['--no-warnings', '--input-type=module', '-e', source], {
        env: { PATH: process.env.PATH ?? '', DATABASE_PATH: join(directory, 'wal.sqlite') },
        timeout: 30_000,
      });
      assert.deepEqual(JSON.parse(stdout.trim()), { asked: true });
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
