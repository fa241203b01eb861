/**
 * Test support for PostgreSQL's lock-order tests (client-change-locks.test.ts, membership-removal-locks.test.ts,
 * company-deletion-locks.test.ts): a second connection that plays one side of an interleaving, holding its locks
 * in an open transaction, and an observer connection that sees a storage operation wait for them
 * (pg_blocking_pids), so each interleaving is made on purpose, not by chance.
 */
import pg from 'pg';
import { TEST_DATABASE_URL } from '../../testing/postgres.ts';

/** How long an operation may take to start waiting before the test fails (it would otherwise wait forever). */
const WAIT_LIMIT_MILLIS = 10_000;

export interface LockHolder {
  /** The holding connection's backend process id. */
  pid: number;
  /** Runs a statement in the open transaction. */
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
  /**
   * Resolves, with the waiting backend's process id, once `operation` waits for this side's locks.
   * @throws (after rolling back and closing, so a failing test leaves no transaction open) when the operation
   * finished without waiting, or did not wait within 10 s.
   */
  waitingOn(operation: Promise<unknown>): Promise<number>;
  /** The same, for an operation that waits for another backend (`blocker`: an operation in flight, which waits here). */
  waitingOnBackend(blocker: number, operation: Promise<unknown>): Promise<number>;
  /** Commits and closes both connections. */
  end(): Promise<void>;
  /** Rolls back and closes both connections (idempotent: after `end`, nothing). */
  close(): Promise<void>;
}

/** Opens the holding connection on `schema` (search_path) with its transaction begun, and the observer. */
export async function holdLocks(schema: string): Promise<LockHolder> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
  const observer = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await Promise.all([client.connect(), observer.connect()]);
  await client.query('BEGIN');
  const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
  let open = true;
  const close = async () => {
    if (!open) return;
    open = false;
    await client.query('ROLLBACK').catch(() => {});
    await Promise.all([client.end(), observer.end()]);
  };
  const waitingFor = async (blocker: number, operation: Promise<unknown>): Promise<number> => {
    let settled = false;
    operation.then(() => { settled = true; }, () => { settled = true; });
    const deadline = Date.now() + WAIT_LIMIT_MILLIS;
    for (;;) {
      if (settled || Date.now() > deadline) {
        await close();
        throw new Error(settled ? 'the operation finished without waiting for the transaction in flight' : 'the operation did not wait for the transaction in flight within 10 s');
      }
      const { rows } = await observer.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid)) LIMIT 1', [blocker]);
      if (rows[0]) return rows[0].pid;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  return {
    pid,
    query: (text, values = []) => client.query(text, values),
    waitingOn: (operation) => waitingFor(pid, operation),
    waitingOnBackend: (blocker, operation) => waitingFor(blocker, operation),
    async end() {
      if (!open) return;
      open = false;
      await client.query('COMMIT');
      await Promise.all([client.end(), observer.end()]);
    },
    close,
  };
}
