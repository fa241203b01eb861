/**
 * Test support: a failing disk under a SQLite storage in this process (issue 12). While installed, every
 * node:sqlite statement whose SQL matches `pattern` (and `db.exec` of matching text, e.g. `COMMIT`) throws
 * the error node:sqlite throws for an I/O error (`ERR_SQLITE_ERROR`, errcode 10 `SQLITE_IOERR`) instead of
 * running, so a test can fail a multi-statement operation at any chosen point and check what it left behind.
 * Statements that do not match run untouched. Always call the returned `restore()` (in `finally`).
 */
import { DatabaseSync, StatementSync } from 'node:sqlite';

const SQLITE_IOERR = 10;

/** The error node:sqlite raises for a disk I/O error. */
function ioError(): Error {
  return Object.assign(new Error('disk I/O error'), { code: 'ERR_SQLITE_ERROR', errcode: SQLITE_IOERR, errstr: 'disk I/O error' });
}

/**
 * Makes matching statements fail with SQLITE_IOERR until `restore()`.
 * @param pattern tested against each statement's SQL text (`StatementSync.sourceSQL`, or `exec`'s argument).
 * @returns `restore()`, and `failures()`: how many statements failed so far (a test checks the point was reached).
 */
export function failSqliteStatements(pattern: RegExp): { restore(): void; failures(): number } {
  const statement = StatementSync.prototype as unknown as Record<'run' | 'get' | 'all', (...args: unknown[]) => unknown>;
  const originals = { run: statement.run, get: statement.get, all: statement.all };
  const originalExec = DatabaseSync.prototype.exec;
  let failed = 0;
  for (const method of ['run', 'get', 'all'] as const) {
    const original = originals[method];
    statement[method] = function (this: StatementSync, ...args: unknown[]) {
      if (pattern.test(this.sourceSQL)) {
        failed += 1;
        throw ioError();
      }
      return original.apply(this, args);
    };
  }
  DatabaseSync.prototype.exec = function (this: DatabaseSync, sql: string) {
    if (pattern.test(sql)) {
      failed += 1;
      throw ioError();
    }
    return originalExec.call(this, sql);
  };
  return {
    restore() {
      Object.assign(statement, originals);
      DatabaseSync.prototype.exec = originalExec;
    },
    failures: () => failed,
  };
}
