/**
 * Test support: the SQL of every SQLite statement this process executes while `work` runs (whitespace
 * collapsed), by wrapping node:sqlite's prepared-statement `run`/`get`/`all` and, unless `exec: false`,
 * `DatabaseSync.exec` (BEGIN, SAVEPOINT, COMMIT of the group commit). Restored afterwards, also on errors.
 * For tests that pin how many statements an operation costs (issue 12).
 */
import { DatabaseSync, StatementSync } from 'node:sqlite';

export async function recordSqliteStatements(work: () => Promise<unknown>, options: { exec?: boolean } = {}): Promise<string[]> {
  const executed: string[] = [];
  const statement = StatementSync.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const database = DatabaseSync.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = { run: statement.run!, get: statement.get!, all: statement.all! };
  const originalExec = database.exec!;
  for (const name of ['run', 'get', 'all'] as const) {
    const original = originals[name];
    statement[name] = function (this: StatementSync, ...args: unknown[]) {
      executed.push(this.sourceSQL.replace(/\s+/g, ' ').trim());
      return original.apply(this, args);
    };
  }
  if (options.exec !== false) {
    database.exec = function (this: DatabaseSync, sql: unknown) {
      executed.push(String(sql));
      return originalExec.call(this, sql);
    };
  }
  try {
    await work();
  } finally {
    Object.assign(statement, originals);
    database.exec = originalExec;
  }
  return executed;
}
