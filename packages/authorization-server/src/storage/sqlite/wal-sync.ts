/**
 * The durable half of a SQLite commit, off the event loop (issue 12).
 *
 * With `synchronous=FULL`, SQLite's COMMIT in WAL mode writes the transaction's frames to the `-wal` file
 * and then calls fdatasync on it, on the calling thread: node:sqlite is synchronous, so the server's only
 * event loop stood still for every flush (a quarter of its time under refresh load, measured with
 * bench/authorization-server.ts --profile: `exec` ← `commitNow`). The serving connection runs
 * `synchronous=NORMAL` instead, whose COMMIT writes the same frames without the flush, and group commit
 * (group-commit.ts) answers no operation until this module's fdatasync of the same file, run in libuv's
 * thread pool, has completed after its COMMIT. So a response still never reports a write that a power
 * loss could take back; what changes is which thread waits for the disk.
 *
 * Why that is the same guarantee: on Linux fdatasync flushes the file (the inode), whatever descriptor it
 * is called on, and everything written to it before the call; a COMMIT's frames, its commit frame last,
 * are written before the COMMIT returns. SQLite's recovery keeps the valid prefix of the WAL (salts and
 * checksums), so frames written after a flush that a crash cuts short belong to commits nobody was told
 * about. Checkpoints still flush the WAL before copying it into the database file and the database file
 * after (NORMAL does both), so a restarted WAL never overwrites frames that exist nowhere else on disk.
 *
 * Flushes run one at a time; a request made while one runs waits for the next, which starts after it (the
 * running one may have started before the caller's COMMIT wrote its frames), so one flush serves every
 * commit made meanwhile: PostgreSQL's group flush of its WAL.
 */
import { type FileHandle, open, stat } from 'node:fs/promises';

export interface WalSync {
  /** Resolves once every write made to the database's WAL before this call is on disk; rejects when the flush fails. */
  flush(): Promise<void>;
  /** Waits for the running flush and closes the file. */
  close(): Promise<void>;
}

/**
 * Flushes `<databasePath>-wal`. The WAL exists while a connection in WAL mode has the file open; should it
 * have been removed or replaced (looked at by name at most every `checkIntervalMilliseconds`, default 1,000) (the last connection closed, and another opened it again), the file of
 * that name is opened anew, and when there is none the database file itself is flushed (a closing
 * connection checkpoints the WAL into it before removing it).
 */
export function createWalSync(databasePath: string, options: { checkIntervalMilliseconds?: number } = {}): WalSync {
  const checkIntervalMilliseconds = options.checkIntervalMilliseconds ?? 1_000;
  const walPath = `${databasePath}-wal`;
  let file: { handle: FileHandle; inode: number; path: string } | undefined;
  let running: Promise<void> | undefined;
  let next: { promise: Promise<void>; resolve(): void; reject(error: unknown): void } | undefined;

  /** When the file was last looked up by name (ms, performance.now()). */
  let checkedAt = Number.NEGATIVE_INFINITY;

  const current = async (): Promise<FileHandle> => {
    // The WAL is removed only when the last connection closes, and the serving connection stays open: a
    // look by name at most once a second (a stat per flush cost 1–2% of the event loop under load). Without
    // a WAL (the database file flushed instead), every flush looks again.
    if (file?.path === walPath && performance.now() - checkedAt < checkIntervalMilliseconds) return file.handle;
    checkedAt = performance.now();
    const found = await stat(walPath).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    const path = found ? walPath : databasePath;
    const inode = found ? found.ino : (await stat(databasePath)).ino;
    if (file && file.path === path && file.inode === inode) return file.handle;
    await file?.handle.close().catch(() => {});
    file = undefined;
    // Read-write: Linux flushes a read-only descriptor too, Windows (FlushFileBuffers) does not.
    const handle = await open(path, 'r+');
    file = { handle, inode, path };
    return handle;
  };

  let closed = false;

  const start = (): Promise<void> => {
    const flushing = (async () => {
      if (closed) {
        // A write that joined a batch while the storage closed: flushed all the same, with a handle of its own.
        const handle = await open((await stat(walPath).catch(() => undefined)) ? walPath : databasePath, 'r+');
        try {
          await handle.datasync();
        } finally {
          await handle.close();
        }
        return;
      }
      const handle = await current();
      await handle.datasync();
    })();
    running = flushing.finally(() => {
      running = undefined;
      const waiting = next;
      next = undefined;
      if (waiting) start().then(waiting.resolve, waiting.reject);
    });
    // The promise callers await; `running` (which never rejects for them) only orders the next flush.
    running.catch(() => {});
    return flushing;
  };

  return {
    flush() {
      if (!running) return start();
      if (!next) {
        let resolve!: () => void;
        let reject!: (error: unknown) => void;
        const promise = new Promise<void>((onResolve, onReject) => {
          resolve = onResolve;
          reject = onReject;
        });
        next = { promise, resolve, reject };
      }
      return next.promise;
    },
    async close() {
      closed = true;
      for (let flushing = running; flushing !== undefined; flushing = running) await flushing.catch(() => {});
      await file?.handle.close().catch(() => {});
      file = undefined;
    },
  };
}
