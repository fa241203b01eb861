/**
 * Checkpoints off the request path (issue 12). In WAL mode SQLite copies committed pages back into the
 * database file in a checkpoint, which by default (`wal_autocheckpoint`, 1000 pages) the committing
 * connection runs itself, inside a request's COMMIT, on the event loop. The server's connection turns that
 * off (`PRAGMA wal_autocheckpoint = 0`) and this module's worker thread, with its own connection to the
 * same file, checkpoints instead:
 * - every `checkpointIntervalMilliseconds` when another connection committed since its last complete
 *   checkpoint (`PRAGMA data_version`): `PRAGMA wal_checkpoint(PASSIVE)`, which never waits for or blocks
 *   a writer; once every frame is copied the next writer starts the WAL over from its beginning, so the
 *   file stops growing. Under sustained writes a commit always comes between, so once the WAL holds 1000
 *   frames the worker catches up first (more PASSIVE passes, each copying what was committed during the
 *   one before, until one finds fewer than CATCH_UP_FRAMES new frames, at most MAX_CATCH_UP_PASSES) and
 *   then asks the server's connection to copy the few frames committed since its last pass
 *   (`completeCheckpoint`, before the next batch begins): a small copy and one fsync of the database
 *   file on the event loop once a second at most, where SQLite's own autocheckpoint copies all 1000 every
 *   1000 frames. Without the catch-up that copy was what a whole pass let through (at ~10,000 frames a
 *   second, a pass of 20–50 ms: some 200–500 random pages of a large file), 10–80 ms of the event loop;
 * - when the WAL file is larger than `walTruncateBytes` (after a burst), right after a PASSIVE pass that
 *   copied every frame, and at most once a minute: `PRAGMA wal_checkpoint(TRUNCATE)`, which shrinks it to
 *   zero bytes. It takes the write lock (a batch's BEGIN waits for it, write-lock.ts), so it waits at most
 *   10 ms (`busy_timeout`), has nothing left to copy, and is rare.
 * In-memory databases have no WAL and no worker. `stop()` closes the worker's connection and ends it.
 */
import type { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';

export interface CheckpointOptions {
  /** How often the worker looks for commits to checkpoint, in milliseconds (default 1000). */
  checkpointIntervalMilliseconds?: number;
  /** A WAL file larger than this, in bytes, is truncated by a TRUNCATE checkpoint (default 64 MiB). */
  walTruncateBytes?: number;
  /** The WAL is started over once the worker has copied this many frames (default 1000; tests lower it). */
  restartFrames?: number;
}

interface CheckpointJob {
  path: string;
  intervalMilliseconds: number;
  truncateBytes: number;
  /**
   * [0] = 1: the worker copied a WAL of RESTART_FRAMES or more; the server's connection finishes the job.
   * [1]: the frames the worker's last pass had copied (the WAL's size then), set before [0].
   */
  restartRequest: Int32Array;
  restartFrames: number;
  catchUpFrames: number;
  maxCatchUpPasses: number;
  truncateIntervalMilliseconds: number;
}

/** What one `completeCheckpoint` on the server's connection did. */
export interface CheckpointCompletion {
  /** Frames it copied: those committed after the worker's last pass (its catch-up included). */
  frames: number;
  /** Whether every frame is now copied (the next writer starts the WAL over); false: the worker was checkpointing, tried again at the next batch. */
  complete: boolean;
}

export interface CheckpointWorker {
  /**
   * Called on the server's connection outside any transaction (before a batch begins). After the worker
   * has copied a large WAL, copies the few frames committed since (PASSIVE, no other writer can be active):
   * the WAL is then fully copied when the next transaction begins, and that writer starts it over.
   */
  completeCheckpoint(): CheckpointCompletion | undefined;
  /** Ends the worker after it closed its connection. */
  stop(): Promise<void>;
}

const TRUNCATE_INTERVAL_MILLISECONDS = 60_000;
/** A WAL of this many frames (4 MiB of 4 KiB pages: SQLite's own autocheckpoint threshold) is started over. */
const RESTART_FRAMES = 1_000;
/** The worker's catch-up before it asks the server's connection to finish: a pass that finds fewer new frames than this is the last. */
const CATCH_UP_FRAMES = 32;
/** At most this many catch-up passes (when writes outrun the copy, the server's connection copies what is left). */
const MAX_CATCH_UP_PASSES = 4;

/**
 * Turns the connection's own checkpoints off and starts the worker on `path` (a WAL database file) one
 * interval later: a worker thread takes a while to start, and a storage opened for a moment (a CLI
 * command, a test) needs none, its close checkpoints the WAL. Should the worker fail, the connection
 * checkpoints itself again (SQLite's default), so the WAL stays bounded.
 */
export function startCheckpointWorker(db: DatabaseSync, path: string, options: CheckpointOptions): CheckpointWorker {
  db.exec('PRAGMA wal_autocheckpoint = 0');
  const job: CheckpointJob = {
    path,
    intervalMilliseconds: options.checkpointIntervalMilliseconds ?? 1_000,
    truncateBytes: options.walTruncateBytes ?? 64 * 1024 * 1024,
    restartRequest: new Int32Array(new SharedArrayBuffer(8)),
    restartFrames: options.restartFrames ?? RESTART_FRAMES,
    catchUpFrames: CATCH_UP_FRAMES,
    maxCatchUpPasses: MAX_CATCH_UP_PASSES,
    truncateIntervalMilliseconds: TRUNCATE_INTERVAL_MILLISECONDS,
  };
  const finish = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  let worker: Worker | undefined;
  let exited: Promise<void> = Promise.resolve();
  let running = false;
  const start = setTimeout(() => {
    // execArgv []: as read-worker.ts, CommonJS source whatever flags the process was started with.
    worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: job });
    // A process that never closes its storage still exits.
    worker.unref();
    running = true;
    exited = new Promise<void>((resolve) => {
      worker?.once('exit', () => {
        running = false;
        resolve();
      });
    });
    worker.on('error', () => {
      try {
        db.exec('PRAGMA wal_autocheckpoint = 1000');
      } catch {
        // The connection is closed already: nothing left to checkpoint.
      }
    });
  }, job.intervalMilliseconds);
  start.unref();
  return {
    completeCheckpoint() {
      if (Atomics.load(job.restartRequest, 0) === 0) return undefined;
      try {
        const result = finish.get();
        // busy = 1 when the worker is checkpointing right now: the next batch tries again.
        const complete = Number(result?.busy) === 0;
        if (complete) Atomics.store(job.restartRequest, 0, 0);
        // A WAL smaller than the worker's last pass saw has been started over since (no commit came between).
        const workerFrames = Atomics.load(job.restartRequest, 1);
        const checkpointed = Number(result?.checkpointed);
        return { frames: Number(result?.log) < workerFrames ? checkpointed : checkpointed - workerFrames, complete };
      } catch {
        // The batch's own BEGIN reports a failing database; a checkpoint is not the request's business.
        return undefined;
      }
    },
    async stop() {
      clearTimeout(start);
      if (worker && running) {
        // Keeps the process alive until the worker has closed its connection.
        worker.ref();
        worker.postMessage('stop');
      }
      await exited;
    },
  };
}

/** SQLite's answer to `PRAGMA wal_checkpoint`: `busy`, `log` (frames in the WAL), `checkpointed` (frames copied). */
export type CheckpointResult = Record<string, unknown> | undefined;

/**
 * The worker's catch-up before it asks the server's connection to finish a checkpoint (see the module
 * comment): after `result`, a pass that copied every frame of a large WAL, more passes (`pass`: PASSIVE)
 * while each finds `catchUpFrames` or more frames committed during the one before, at most
 * `maxCatchUpPasses`. A pass held back (busy, or frames left behind for a reader) ends it.
 * @returns the last pass that copied every frame (`result` when none did).
 */
export function catchUp(pass: () => CheckpointResult, result: CheckpointResult, limits: { catchUpFrames: number; maxCatchUpPasses: number }): CheckpointResult {
  let last = result;
  for (let passes = 0; passes < limits.maxCatchUpPasses; passes++) {
    const next = pass();
    if (!(Number(next?.busy) === 0 && next?.log === next?.checkpointed)) break;
    const found = Number(next?.log) - Number(last?.log);
    last = next;
    if (found < limits.catchUpFrames) break;
  }
  return last;
}

/**
 * The worker's loop. It runs from its source text (`eval`, see WORKER_SOURCE): a worker started from a
 * .ts file loads the TypeScript stripper too, about 18 MB more memory for these few lines. So it is
 * self-contained: its modules through `require`, its constants in `job`.
 */
function runCheckpoints(job: CheckpointJob): void {
  const { DatabaseSync } = require('node:sqlite') as typeof import('node:sqlite');
  const { statSync } = require('node:fs') as typeof import('node:fs');
  const { parentPort } = require('node:worker_threads') as typeof import('node:worker_threads');
  const walBytes = () => statSync(`${job.path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  const db = new DatabaseSync(job.path);
  db.exec('PRAGMA busy_timeout = 10');
  const dataVersion = db.prepare('PRAGMA data_version');
  const passive = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  const truncate = db.prepare('PRAGMA wal_checkpoint(TRUNCATE)');
  let checkpointedVersion: unknown;
  let truncatedAt = 0;
  const timer = setInterval(() => {
    try {
      const version = dataVersion.get()?.data_version;
      if (version === checkpointedVersion) return;
      let result: CheckpointResult = passive.get();
      const complete = Number(result?.busy) === 0 && result?.log === result?.checkpointed;
      // TRUNCATE takes the write lock and waits for readers: only when PASSIVE has just copied every frame
      // (so it has nothing left to copy, only the file to shrink), and at most once a minute.
      if (complete && walBytes() > job.truncateBytes && Date.now() - truncatedAt > job.truncateIntervalMilliseconds) {
        truncatedAt = Date.now();
        result = truncate.get();
      } else if (Number(result?.log) >= job.restartFrames && Number(result?.busy) === 0 && result?.log === result?.checkpointed) {
        // The writer starts the WAL over only when every frame was copied before its transaction began;
        // under sustained writes a commit always comes first. The server's connection copies the rest, on
        // the event loop: so first the worker copies what was committed during its pass, and again, until a
        // pass finds little new (its fsync is short, and few commits fit in it). Not when a reader held a
        // pass back.
        result = catchUp(() => passive.get(), result, job);
        Atomics.store(job.restartRequest, 1, Number(result?.checkpointed));
        Atomics.store(job.restartRequest, 0, 1);
      }
      // Frames left behind (a reader on an older snapshot) are tried again at the next tick.
      if (result && Number(result.busy) === 0 && result.log === result.checkpointed) checkpointedVersion = version;
    } catch {
      // SQLITE_BUSY or the like: the next tick tries again.
    }
  }, job.intervalMilliseconds);
  parentPort?.on('message', (message) => {
    if (message !== 'stop') return;
    clearInterval(timer);
    db.close();
    parentPort?.close();
  });
}

// Node runs this file with its types stripped (replaced by spaces), so the function's text is JavaScript.
const WORKER_SOURCE = `const catchUp = ${catchUp.toString()};\n(${runCheckpoints.toString()})(require('node:worker_threads').workerData);`;
