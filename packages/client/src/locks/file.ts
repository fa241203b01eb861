/**
 * A lock across processes on one host, as an exclusively created file (`open(…, 'wx')`): for tools
 * such as `gatehouse-connect`, of which several may run at once against one SQLite store. The file holds
 * the holder's pid, a random token and the identity of the holder's host (a digest of `os.hostname()`, the
 * kernel's boot id and the pid namespace, where readable). Waiters poll (`pollForLock`).
 *
 * The holder renews the file (its mtime) every `staleMilliseconds / 3` while it holds the lock, however long
 * the work takes (a CLI refresh with retries, a DPoP nonce round and `Retry-After` can exceed a minute). A
 * lock file is abandoned when it has not been renewed for `staleMilliseconds` (its holder died or hangs), or
 * — only when its host identity is this host's, so its pid means the same process here — when its holder's
 * process is gone (`kill(pid, 0)` answers ESRCH). A file from another host, container (pid namespace) or NFS
 * client, or without an identity, is judged by its mtime alone.
 *
 * Takeover is atomic: a waiter that judged a file abandoned renames it to a name of its own, then checks
 * that what it moved is that same abandoned file (its exact content: pid, token, host). Only a file verified
 * to be the abandoned one is deleted. If another waiter took over first and a live holder's file was moved
 * instead, it is linked back (`link` never replaces a file) and the extra name removed. When it cannot be
 * linked back (a filesystem without hard links, or a third process created a lock file in the instant the
 * name was free), the moved file is left as it is, never deleted, and its holder learns at once: its hold's
 * `signal` looks at the lock file whenever `aborted` is read (as the refresh does immediately before sending)
 * and is aborted when the file is no longer its own; the holder removes the moved file when it releases.
 */
import { hash, randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
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
      writeFileSync(path, lockFileContent(process.pid, holder), { flag: 'wx', mode: 0o600 });
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
      const content = lockFileContent(process.pid, holder);
      const ours = () => {
        try {
          return readFileSync(path, 'utf8') === content;
        } catch {
          return false;
        }
      };
      let isLost = false;
      const markLost = (why: string) => {
        clearInterval(renewal);
        if (isLost) return;
        isLost = true;
        lost.abort(new LockLostError(`the refresh lock "${key}" was lost: ${why}`));
      };
      // Whoever reads `aborted` (the refresh, immediately before sending) gets the file's present state, not
      // the last renewal's: a takeover that moved this file away is seen at once.
      let released = false;
      const nativeAborted = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get!;
      Object.defineProperty(lost.signal, 'aborted', {
        get(this: AbortSignal) {
          if (!released && !isLost && !ours()) markLost('the lock file is no longer ours');
          return nativeAborted.call(this) as boolean;
        },
      });
      const renewal = setInterval(() => {
        try {
          if (!ours()) throw new Error('the lock file is no longer ours');
          const now = new Date();
          utimesSync(path, now, now);
        } catch (error) {
          markLost((error as Error).message);
        }
      }, Math.floor(stale / 3));
      renewal.unref();
      try {
        return await work({ signal: lost.signal });
      } finally {
        released = true;
        clearInterval(renewal);
        // Only our own file: after a takeover the file may be someone else's.
        if (ours()) {
          try {
            unlinkSync(path);
          } catch {
            // Already gone.
          }
        } else {
          removeMovedCopies(path, content);
        }
      }
    },
  };
}

/** The identity of this host as a lock file records it: hostname, boot id and pid namespace, where readable. */
export const HOST_IDENTITY: string = hash('sha256', [hostname(), readOptional(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()),
  readOptional(() => readlinkSync('/proc/self/ns/pid'))].join('\0'), 'hex').slice(0, 32);

function readOptional(read: () => string): string {
  try {
    return read();
  } catch {
    return '';
  }
}

/** A lock file's content: `<pid> <token> host:<identity>`. */
export function lockFileContent(pid: number, holder: string, hostIdentity: string = HOST_IDENTITY): string {
  return `${pid} ${holder} host:${hostIdentity}\n`;
}

/** Removes this holder's file where a takeover left it under another name (it could not be linked back). */
function removeMovedCopies(path: string, content: string): void {
  const prefix = `${basename(path)}.`;
  try {
    for (const name of readdirSync(dirname(path))) {
      if (!name.startsWith(prefix) || !name.endsWith('.takeover')) continue;
      const moved = join(dirname(path), name);
      try {
        if (readFileSync(moved, 'utf8') === content) unlinkSync(moved);
      } catch {
        // Gone meanwhile.
      }
    }
  } catch {
    // The directory is unreadable: a leftover name holds no lock.
  }
}

/** The content of the lock file at `path` when it is abandoned (see the file's comment), else undefined. */
function abandonedContent(path: string, staleMilliseconds: number): string | undefined {
  try {
    const content = readFileSync(path, 'utf8');
    const [pidText, , host] = content.trim().split(' ');
    const pid = Number(pidText);
    // A pid means this host's process only when the file says it was written on this host (and pid namespace).
    if (host === `host:${HOST_IDENTITY}` && Number.isInteger(pid) && pid > 0 && !processAlive(pid)) return content;
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
  if (same) {
    try {
      unlinkSync(moved);
    } catch {
      // Nothing to clean.
    }
    return true;
  }
  // A live holder's file was moved by mistake: put it back under its name. Deleted only as an extra name once
  // linked back; never otherwise (its holder, reading its signal, finds its file gone and stops).
  try {
    linkSync(moved, path);
  } catch {
    return false;
  }
  try {
    unlinkSync(moved);
  } catch {
    // Nothing to clean.
  }
  return false;
}
