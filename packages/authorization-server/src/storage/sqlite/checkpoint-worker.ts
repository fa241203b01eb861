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
 *   frames the worker asks the server's connection to copy the few frames committed since its pass
 *   (`completeCheckpoint`, before the next batch begins): a small copy and one fsync of the database
 *   file on the event loop every 1000 frames, where SQLite's own autocheckpoint copies all 1000;
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
}

interface CheckpointJob {
  path: string;
  intervalMilliseconds: number;
  truncateBytes: number;
  /** [0] = 1: the worker copied a WAL of RESTART_FRAMES or more; the server's connection finishes the job. */
  restartRequest: Int32Array;
  restartFrames: number;
  truncateIntervalMilliseconds: number;
}

export interface CheckpointWorker {
  /**
   * Called on the server's connection outside any transaction (before a batch begins). After the worker
   * has copied a large WAL, copies the few frames committed since (PASSIVE, no other writer can be active):
   * the WAL is then fully copied when the next transaction begins, and that writer starts it over.
   */
  completeCheckpoint(): void;
  /** Ends the worker after it closed its connection. */
  stop(): Promise<void>;
}

const TRUNCATE_INTERVAL_MILLISECONDS = 60_000;
/** A WAL of this many frames (4 MiB of 4 KiB pages: SQLite's own autocheckpoint threshold) is started over. */
const RESTART_FRAMES = 1_000;

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
    restartRequest: new Int32Array(new SharedArrayBuffer(4)),
    restartFrames: RESTART_FRAMES,
    truncateIntervalMilliseconds: TRUNCATE_INTERVAL_MILLISECONDS,
  };
  const finish = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  let worker: Worker | undefined;
  let exited: Promise<void> = Promise.resolve();
  let running = false;
  const start = setTimeout(() => {
    worker = new Worker(WORKER_SOURCE, { eval: true, workerData: job });
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
      if (Atomics.load(job.restartRequest, 0) === 0) return;
      try {
        // busy = 1 when the worker is checkpointing right now: the next batch tries again.
        if (Number(finish.get()?.busy) === 0) Atomics.store(job.restartRequest, 0, 0);
      } catch {
        // The batch's own BEGIN reports a failing database; a checkpoint is not the request's business.
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
      let result = passive.get();
      const complete = Number(result?.busy) === 0 && result?.log === result?.checkpointed;
      // TRUNCATE takes the write lock and waits for readers: only when PASSIVE has just copied every frame
      // (so it has nothing left to copy, only the file to shrink), and at most once a minute.
      if (complete && walBytes() > job.truncateBytes && Date.now() - truncatedAt > job.truncateIntervalMilliseconds) {
        truncatedAt = Date.now();
        result = truncate.get();
      } else if (Number(result?.log) >= job.restartFrames && Number(result?.busy) === 0 && result?.log === result?.checkpointed) {
        // The writer starts the WAL over only when every frame was copied before its transaction began;
        // under sustained writes a commit always comes first. The server's connection copies the rest:
        // only what was committed during this pass (not when a reader held the pass back).
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
const WORKER_SOURCE = `(${runCheckpoints.toString()})(require('node:worker_threads').workerData);`;
