/**
 * A lock across processes on one host, as an exclusively created file (`open(…, 'wx')`): for tools
 * such as `gatehouse-connect`, of which several may run at once against one SQLite store. The file holds
 * the holder's pid and a random token. Waiters poll (`pollForLock`).
 *
 * The holder renews the file (its mtime) every `staleMilliseconds / 3` while it holds the lock, however long
 * the work takes (a CLI refresh with retries, a DPoP nonce round and `Retry-After` can exceed a minute). A
 * lock file is abandoned when its holder's process is gone (`kill(pid, 0)` answers ESRCH), or when it has
 * not been renewed for `staleMilliseconds` (its holder hangs, or the pid now names another process).
 *
 * Takeover is atomic: a waiter that judged a file abandoned renames it to a name of its own, then checks
 * that what it moved is that same abandoned file (its content: pid and token). If another waiter took over
 * first and a new holder's file was moved instead, it is linked back (`link` never replaces a file). Only a
 * file verified to be the abandoned one is deleted. (Should a third process create a lock file in the instant
 * the name was free, the link back fails; the holder whose file was moved then finds at its next renewal
 * that the file is not its own, and its hold's `signal` says the lock is lost.)
 */
import { hash, randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LockLostError } from '../errors.ts';
import { pollForLock, type RefreshLock } from '../lock.ts';

export interface FileLockOptions {
  /** Where lock files live (created when missing). */
  directory: string;
  /**
   * A lock file not renewed for this long is considered abandoned, milliseconds; default 60 000. The holder
   * renews it every third of this.
   */
  staleMilliseconds?: number;
  /** Longest wait, milliseconds; default 30 000. */
  acquireTimeoutMilliseconds?: number;
}

export function createFileLock(options: FileLockOptions): RefreshLock {
  const stale = options.staleMilliseconds ?? 60_000;
  const acquireTimeout = options.acquireTimeoutMilliseconds ?? 30_000;
  if (!(stale >= 30)) throw new RangeError('staleMilliseconds must be at least 30');
  mkdirSync(options.directory, { recursive: true, mode: 0o700 });

  const tryAcquire = (path: string, holder: string): boolean => {
    try {
      writeFileSync(path, `${process.pid} ${holder}\n`, { flag: 'wx', mode: 0o600 });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const abandoned = abandonedContent(path, stale);
    if (abandoned !== undefined) removeIfStill(path, abandoned, holder);
    return false;
  };

  return {
    async withLock(key, work) {
      const path = join(options.directory, `${hash('sha256', key, 'hex').slice(0, 32)}.lock`);
      const holder = randomUUID();
      await pollForLock(key, acquireTimeout, () => tryAcquire(path, holder));
      const lost = new AbortController();
      const ours = () => {
        try {
          return readFileSync(path, 'utf8').includes(holder);
        } catch {
          return false;
        }
      };
      const renewal = setInterval(() => {
        try {
          if (!ours()) throw new Error('the lock file is no longer ours');
          const now = new Date();
          utimesSync(path, now, now);
        } catch (error) {
          clearInterval(renewal);
          lost.abort(new LockLostError(`the refresh lock "${key}" was lost: ${(error as Error).message}`));
        }
      }, Math.floor(stale / 3));
      renewal.unref();
      try {
        return await work({ signal: lost.signal });
      } finally {
        clearInterval(renewal);
        // Only our own file: after a takeover the file may be someone else's.
        if (ours()) {
          try {
            unlinkSync(path);
          } catch {
            // Already gone.
          }
        }
      }
    },
  };
}

/** The content of the lock file at `path` when it is abandoned (see the file's comment), else undefined. */
function abandonedContent(path: string, staleMilliseconds: number): string | undefined {
  try {
    const content = readFileSync(path, 'utf8');
    const pid = Number(content.split(' ')[0]);
    if (Number.isInteger(pid) && pid > 0 && !processAlive(pid)) return content;
    return Date.now() - statSync(path).mtimeMs > staleMilliseconds ? content : undefined;
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, another user's.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes the lock file at `path` only if it still is the abandoned one (`content`): moved atomically to a
 * name of this waiter's own first, then compared; another file moved by mistake is linked back.
 * @returns whether the abandoned file was removed.
 */
export function removeIfStill(path: string, content: string, taker: string): boolean {
  const moved = `${path}.${taker}.takeover`;
  try {
    renameSync(path, moved);
  } catch {
    return false; // Gone already: another waiter took it over.
  }
  let same = false;
  try {
    same = readFileSync(moved, 'utf8') === content;
  } catch {
    // Unreadable: treated as not the same.
  }
  if (!same) {
    try {
      linkSync(moved, path);
    } catch {
      // A new lock file was created meanwhile: the moved one's holder finds out at its next renewal.
    }
  }
  try {
    unlinkSync(moved);
  } catch {
    // Nothing to clean.
  }
  return same;
}
