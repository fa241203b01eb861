/**
 * A lock across processes on one host, as an exclusively created file (`open(…, 'wx')`): for tools
 * such as `gatehouse-connect`, of which several may run at once against one SQLite store. The file holds
 * the holder's pid and a random token; a lock whose holder process is gone, or older than
 * `staleMilliseconds`, is taken over. Waiters poll (`pollForLock`).
 */
import { hash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pollForLock, type RefreshLock } from '../lock.ts';

export interface FileLockOptions {
  /** Where lock files live (created when missing). */
  directory: string;
  /** A lock file older than this is considered abandoned, milliseconds; default 60 000. */
  staleMilliseconds?: number;
  /** Longest wait, milliseconds; default 30 000. */
  acquireTimeoutMilliseconds?: number;
}

export function createFileLock(options: FileLockOptions): RefreshLock {
  const stale = options.staleMilliseconds ?? 60_000;
  const acquireTimeout = options.acquireTimeoutMilliseconds ?? 30_000;
  mkdirSync(options.directory, { recursive: true, mode: 0o700 });

  const tryAcquire = (path: string, holder: string): boolean => {
    try {
      writeFileSync(path, `${process.pid} ${holder}\n`, { flag: 'wx', mode: 0o600 });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (isAbandoned(path, stale)) {
      try {
        unlinkSync(path);
      } catch {
        // Another waiter removed it first; the next attempt decides.
      }
    }
    return false;
  };

  return {
    async withLock(key, work) {
      const path = join(options.directory, `${hash('sha256', key, 'hex').slice(0, 32)}.lock`);
      const holder = randomUUID();
      await pollForLock(key, acquireTimeout, () => tryAcquire(path, holder));
      try {
        return await work();
      } finally {
        try {
          // Only our own file: after a stale takeover the file may be someone else's.
          if (readFileSync(path, 'utf8').includes(holder)) unlinkSync(path);
        } catch {
          // Already gone.
        }
      }
    },
  };
}

function isAbandoned(path: string, staleMilliseconds: number): boolean {
  try {
    if (Date.now() - statSync(path).mtimeMs > staleMilliseconds) return true;
    const pid = Number(readFileSync(path, 'utf8').split(' ')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
      process.kill(pid, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH';
    }
  } catch {
    return false;
  }
}
