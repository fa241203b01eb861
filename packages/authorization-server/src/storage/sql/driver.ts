/**
 * The one SQL layer (issue 12): the small driver every store's plain operations are written over once,
 * for SQLite and PostgreSQL alike.
 *
 * SQL text uses `?` placeholders (the PostgreSQL driver numbers them `$1…$n`, once per text); never
 * write a literal `?` in SQL given to a driver (PostgreSQL's jsonb `?` operators are off limits here).
 * Write the SQL both databases share: `INSERT … ON CONFLICT … DO NOTHING/UPDATE`, `RETURNING`,
 * `lower()`, `LIMIT ?`. Where they differ, branch on `driver.dialect` beside the statement.
 *
 * Values: times are seconds (numbers); PostgreSQL returns `bigint` columns as strings, so row mappers
 * convert with `Number(...)` (rows.ts). Booleans are stored as 0/1 integers on SQLite and booleans on
 * PostgreSQL only where the schema says so; mappers accept both.
 *
 * Transactions are generator functions, so the SAME code runs synchronously on SQLite (node:sqlite is
 * synchronous: nothing else can interleave, and the SQLite group commit wraps it in one SAVEPOINT) and
 * asynchronously on one checked-out PostgreSQL connection:
 *
 * ```ts
 * await driver.transaction(function* (tx) {
 *   const row = yield* tx.get('SELECT role FROM partner_team_members WHERE user_id = ?', [userId]);
 *   if (!row) return 'not_member' as const;
 *   yield* tx.run('DELETE FROM partner_team_members WHERE user_id = ?', [userId]);
 *   return 'removed' as const;
 * });
 * ```
 *
 * A transaction body may only yield the executor's statements (no other awaits): it may run again when
 * PostgreSQL reports a deadlock or serialization failure, and on SQLite it must finish without waiting.
 * Errors of the database come out as `StorageUnavailableError` when the database is unavailable
 * (SPEC decision 18: 503), unchanged otherwise.
 */

/** A result row: column name → value as the driver returns it. */
export type SqlRow = Record<string, unknown>;

/** The values a statement binds, in `?` order. */
export type SqlParams = readonly unknown[];

export type SqlDialect = 'sqlite' | 'postgres';

/** One statement a transaction body asks the driver to run. */
export type SqlRequest =
  | { readonly kind: 'get'; readonly text: string; readonly params: SqlParams }
  | { readonly kind: 'all'; readonly text: string; readonly params: SqlParams }
  | { readonly kind: 'run'; readonly text: string; readonly params: SqlParams };

/** A transaction body's step: yields one request, receives its answer. */
export type SqlStep<T> = Generator<SqlRequest, T, unknown>;

/** `run`'s answer: how many rows the statement inserted, updated or deleted. */
export interface SqlRunResult {
  changes: number;
}

/** The statements available inside a transaction body (use with `yield*`). */
export interface SqlTransaction {
  readonly dialect: SqlDialect;
  /** The first row, or undefined. */
  get<R extends SqlRow = SqlRow>(text: string, params?: SqlParams): SqlStep<R | undefined>;
  /** Every row. */
  all<R extends SqlRow = SqlRow>(text: string, params?: SqlParams): SqlStep<R[]>;
  /** A statement run for its effect. */
  run(text: string, params?: SqlParams): SqlStep<SqlRunResult>;
}

/**
 * How to run one autocommit statement. `name`: a hot path's statement, prepared once per PostgreSQL
 * connection under this name and planned from then on without parsing (names start `gatehouse_` and
 * are unique per text; give one only to fixed texts, never to text built from varying parts). SQLite
 * caches every prepared statement by its text anyway and ignores it.
 */
export interface SqlStatementOptions {
  readonly name?: string;
}

/** A database both dialects' stores are written against. */
export interface SqlDriver {
  readonly dialect: SqlDialect;
  /** The first row, or undefined (one statement, autocommit). */
  get<R extends SqlRow = SqlRow>(text: string, params?: SqlParams, options?: SqlStatementOptions): Promise<R | undefined>;
  /** Every row (one statement, autocommit). */
  all<R extends SqlRow = SqlRow>(text: string, params?: SqlParams, options?: SqlStatementOptions): Promise<R[]>;
  /** A statement run for its effect (autocommit). */
  run(text: string, params?: SqlParams, options?: SqlStatementOptions): Promise<SqlRunResult>;
  /**
   * Runs `body` in one transaction: every statement it yields commits together, or none does.
   * SQLite: `BEGIN IMMEDIATE` (one writer across processes), or a SAVEPOINT of the current group
   * commit. PostgreSQL: one pooled connection, READ COMMITTED; retried (at most three runs) on a
   * deadlock (40P01) or serialization failure (40001).
   */
  transaction<T>(body: (tx: SqlTransaction) => SqlStep<T>): Promise<T>;
}

/** The executor handed to transaction bodies: each method yields one request and returns its answer. */
export function sqlTransaction(dialect: SqlDialect): SqlTransaction {
  function* get<R extends SqlRow>(text: string, params: SqlParams = []): SqlStep<R | undefined> {
    return (yield { kind: 'get', text, params }) as R | undefined;
  }
  function* all<R extends SqlRow>(text: string, params: SqlParams = []): SqlStep<R[]> {
    return (yield { kind: 'all', text, params }) as R[];
  }
  function* run(text: string, params: SqlParams = []): SqlStep<SqlRunResult> {
    return (yield { kind: 'run', text, params }) as SqlRunResult;
  }
  return { dialect, get, all, run };
}

/** Drives `step` to its end synchronously, answering each request with `answer` (SQLite). */
export function runStepsSync<T>(step: SqlStep<T>, answer: (request: SqlRequest) => unknown): T {
  let next = step.next();
  while (!next.done) {
    let value: unknown;
    try {
      value = answer(next.value);
    } catch (error) {
      // Let the body see the error where it yielded (a try/catch there may handle it).
      next = step.throw(error);
      continue;
    }
    next = step.next(value);
  }
  return next.value;
}

/** Drives `step` to its end, awaiting each answer (PostgreSQL). */
export async function runStepsAsync<T>(step: SqlStep<T>, answer: (request: SqlRequest) => Promise<unknown>): Promise<T> {
  let next = step.next();
  while (!next.done) {
    let value: unknown;
    try {
      value = await answer(next.value);
    } catch (error) {
      next = step.throw(error);
      continue;
    }
    next = step.next(value);
  }
  return next.value;
}

const numbered = new Map<string, string>();

/** `?` placeholders → `$1…$n` (PostgreSQL), cached per text. */
export function numberPlaceholders(text: string): string {
  let converted = numbered.get(text);
  if (converted === undefined) {
    let n = 0;
    converted = text.replace(/\?/g, () => `$${++n}`);
    if (numbered.size < 10_000) numbered.set(text, converted);
  }
  return converted;
}
