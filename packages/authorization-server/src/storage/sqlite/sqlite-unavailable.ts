/**
 * Which node:sqlite errors mean "the database file cannot take the operation right now" (→
 * StorageUnavailableError, 503) rather than a fault of the statement (→ 500). node:sqlite throws
 * `{ code: 'ERR_SQLITE_ERROR', errcode, errstr }`; `errcode` may be an extended result code, whose low
 * byte is the primary one (https://sqlite.org/rescode.html).
 */
import { StorageUnavailableError } from '../storage-unavailable.ts';

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_NOMEM = 7;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_PROTOCOL = 15;

/**
 * Another writer held the lock past `busy_timeout`, memory or disk ran out, the file became unreadable or
 * read-only (a remount), or it cannot be opened. Not SQLITE_CORRUPT or SQLITE_CONSTRAINT: those are faults.
 */
const UNAVAILABLE_PRIMARY_CODES = new Set([SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_PROTOCOL]);

export function isSqliteUnavailable(error: unknown): boolean {
  if (!(error instanceof Error) || (error as { code?: unknown }).code !== 'ERR_SQLITE_ERROR') return false;
  const errcode = (error as { errcode?: unknown }).errcode;
  return typeof errcode === 'number' && UNAVAILABLE_PRIMARY_CODES.has(errcode & 0xff);
}

/** The error to throw for `error`: a StorageUnavailableError when SQLite cannot serve, else `error` itself. */
export function sqliteStorageError(error: unknown): unknown {
  if (error instanceof StorageUnavailableError) return error;
  return isSqliteUnavailable(error) ? new StorageUnavailableError(error) : error;
}
