/**
 * The one SQL layer's driver (sql/driver.ts) on the PostgreSQL storage's pool. It is built from the
 * storage's own `query` (error translation: 503 when the database is unreachable) and `transaction`
 * (one checked-out connection with an 'error' listener, BEGIN/COMMIT, retried on deadlock or
 * serialization failure), so a store written over it behaves like the hand-written ones.
 */
import type { PoolClient, QueryResultRow } from 'pg';
import { numberPlaceholders, runStepsAsync, sqlTransaction, type SqlDriver, type SqlRequest, type SqlRow, type SqlStatementOptions } from '../sql/driver.ts';

/** The PostgreSQL storage's primitives (postgres-storage.ts). */
export interface PostgresPrimitives {
  /** `name`: prepare the statement once per connection under it (SqlStatementOptions). */
  query(text: string, params?: unknown[], name?: string): Promise<{ rows: QueryResultRow[]; rowCount: number | null }>;
  transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T>;
}

export function createPostgresDriver(primitives: PostgresPrimitives): SqlDriver {
  const { query, transaction } = primitives;
  const tx = sqlTransaction('postgres');
  return {
    dialect: 'postgres',
    async get<R extends SqlRow>(text: string, params: readonly unknown[] = [], options?: SqlStatementOptions) {
      return (await query(numberPlaceholders(text), [...params], options?.name)).rows[0] as R | undefined;
    },
    async all<R extends SqlRow>(text: string, params: readonly unknown[] = [], options?: SqlStatementOptions) {
      return (await query(numberPlaceholders(text), [...params], options?.name)).rows as R[];
    },
    async run(text, params = [], options) {
      return { changes: (await query(numberPlaceholders(text), [...params], options?.name)).rowCount ?? 0 };
    },
    transaction(body) {
      return transaction((client) => runStepsAsync(body(tx), async (request: SqlRequest) => {
        const result = await client.query(numberPlaceholders(request.text), [...request.params]);
        if (request.kind === 'get') return result.rows[0];
        if (request.kind === 'all') return result.rows;
        return { changes: result.rowCount ?? 0 };
      }));
    },
  };
}
