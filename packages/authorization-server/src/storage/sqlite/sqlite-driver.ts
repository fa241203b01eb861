/**
 * The one SQL layer's driver (sql/driver.ts) on the SQLite storage's connection. It is built from the
 * storage's own synchronous primitives, so it shares their error translation (503 when the database is
 * busy, full or failing), their prepared-statement cache and their transaction (`BEGIN IMMEDIATE`, or a
 * SAVEPOINT of the group commit).
 *
 * `durable` is awaited after every operation: with group commit, an operation's writes are durable only
 * when the commit they joined has completed, and its answer must not be seen before that.
 */
import type { SQLInputValue } from 'node:sqlite';
import { runStepsSync, sqlTransaction, type SqlDriver, type SqlRequest, type SqlRow } from '../sql/driver.ts';

/** The SQLite storage's synchronous primitives (sqlite-storage.ts). */
export interface SqlitePrimitives {
  get(text: string, ...params: SQLInputValue[]): Record<string, SQLInputValue> | undefined;
  all(text: string, ...params: SQLInputValue[]): Record<string, SQLInputValue>[];
  run(text: string, ...params: SQLInputValue[]): { changes: number | bigint };
  transaction<T>(work: () => T): T;
  /** Resolves when every write made so far is committed (default: at once, each write autocommits). */
  durable?(): Promise<void>;
}

export function createSqliteDriver(primitives: SqlitePrimitives): SqlDriver {
  const { get, all, run, transaction } = primitives;
  const durable = primitives.durable ?? (() => Promise.resolve());
  const bind = (params: readonly unknown[]) => params.map(sqliteValue);
  const answer = (request: SqlRequest): unknown => {
    const params = bind(request.params);
    if (request.kind === 'get') return get(request.text, ...params);
    if (request.kind === 'all') return all(request.text, ...params);
    return { changes: Number(run(request.text, ...params).changes) };
  };
  const tx = sqlTransaction('sqlite');
  return {
    dialect: 'sqlite',
    async get<R extends SqlRow>(text: string, params: readonly unknown[] = []) {
      const row = get(text, ...bind(params)) as R | undefined;
      await durable();
      return row;
    },
    async all<R extends SqlRow>(text: string, params: readonly unknown[] = []) {
      const rows = all(text, ...bind(params)) as R[];
      await durable();
      return rows;
    },
    async run(text, params = []) {
      const result = { changes: Number(run(text, ...bind(params)).changes) };
      await durable();
      return result;
    },
    async transaction(body) {
      const result = transaction(() => runStepsSync(body(tx), answer));
      await durable();
      return result;
    },
  };
}

/** JavaScript → SQLite value: booleans as 0/1, undefined as NULL. */
function sqliteValue(value: unknown): SQLInputValue {
  if (value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value as SQLInputValue;
}
