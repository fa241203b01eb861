/**
 * Registered clients (storage.ts `clients`), written once for both databases over the SQL driver (issue 12).
 *
 * Not composed in `createSharedStores`: each backend wraps this store with its client-record cache
 * (client-cache.ts) its own way — SQLite clears it when another connection wrote (`PRAGMA data_version`),
 * PostgreSQL bypasses it until its LISTEN connection hears every change of a client row.
 *
 * Columns that differ by database: `redirect_uris` and `contacts` are JSON text on SQLite and `text[]` on
 * PostgreSQL (`listColumn` writes either); the booleans are bound as JavaScript booleans (the SQLite
 * driver binds them as 0/1); `toClient` reads both.
 */
import { CLIENT_FIELDS, clientColumnValue, toClient } from '../rows.ts';
import type { SqlDriver, SqlStep, SqlTransaction } from '../sql/driver.ts';
import type { AuthenticatedClient, ClientRecord, Storage } from '../storage.ts';
import { changeClientStatus } from './client-status.ts';
import { updateClientNarrowingSteps } from './client-scopes.ts';
import { writtenRowsOf } from '../postgres/written-rows.ts';

const INSERT_CLIENT = `INSERT INTO clients (${CLIENT_FIELDS.map(([, column]) => column).join(', ')}) VALUES (${CLIENT_FIELDS.map(() => '?').join(', ')})`;

/** Fields `update` may not change: the client's identity and its creation (storage.ts ClientPatch). */
const FIXED_FIELDS = new Set(['clientId', 'kind', 'createdAt']);

const FIND_CLIENT = 'SELECT * FROM clients WHERE client_id = ?';

export function createClientStore(db: SqlDriver): Storage['clients'] {
  return {
    async create(client) {
      await db.run(INSERT_CLIENT, CLIENT_FIELDS.map(([field]) => clientColumnValue(db.dialect, field, client[field as keyof ClientRecord])!.value));
    },
    async find(clientId) {
      // PostgreSQL text cannot hold NUL (it would refuse the parameter: a 500 where an unknown client_id is 401
      // invalid_client, RFC 6749 §5.2, or the unknown-app page, SPEC decision 5), so no stored client_id has one.
      if (clientId.includes('\u0000')) return undefined;
      // Named: behind the cache this still runs on every miss, and on PostgreSQL whenever the cache is bypassed.
      const row = await db.get(FIND_CLIENT, [clientId], { name: 'gatehouse_find_client' });
      return row && toClient(row);
    },
    async list() {
      return (await db.all('SELECT * FROM clients ORDER BY created_at, client_name')).map(toClient);
    },
    async listByOwner(userId) {
      return (await db.all('SELECT * FROM clients WHERE owner_user_id = ? ORDER BY created_at, client_name', [userId])).map(toClient);
    },
    async update(clientId, patch, narrowing) {
      const assignments: string[] = [];
      const values: unknown[] = [];
      for (const [field, value] of Object.entries(patch)) {
        if (value === undefined) continue;
        const stored = FIXED_FIELDS.has(field) ? undefined : clientColumnValue(db.dialect, field, value);
        if (!stored) throw new Error(`clients.update cannot change ${field}`);
        assignments.push(`${stored.column} = ?`);
        values.push(stored.value);
      }
      if (patch.scopes !== undefined) {
        if (narrowing === undefined) throw new Error('clients.update needs a ScopeNarrowing to change scopes');
        // PostgreSQL: refresh tokens this instance remembers writing must not answer a rotation with their old scope.
        if (db.dialect === 'postgres') writtenRowsOf(db).forgetAllGrants();
        return (await db.transaction((tx) => updateClientNarrowingSteps(tx, clientId, assignments, values, narrowing)))?.client;
      }
      // One statement either way: the row after the change (RETURNING), or as it is when nothing changes.
      const row = assignments.length > 0
        ? await db.get(`UPDATE clients SET ${assignments.join(', ')} WHERE client_id = ? RETURNING *`, [...values, clientId])
        : await db.get(FIND_CLIENT, [clientId]);
      return row && toClient(row);
    },
    changeStatus: (clientId, change) => changeClientStatus(db, clientId, change),
  };
}

/**
 * Whether the client no longer accepts a request that authenticated as `authenticated` (storage.ts
 * AuthenticatedClient): it is gone or not active, or the secret digest it had then is neither its secret nor
 * its previous one within the overlap at `now` (a rotation with overlap refuses no request in flight). Inside the
 * caller's transaction: SQLite's check (its one writer reads the latest row); PostgreSQL's is
 * `gatehouse_client_accepts` (migration 47), under its locks. The digests compared are stored ones (the
 * request's secret was compared in constant time at authentication, SPEC decision 9).
 */
export function* clientChangedSteps(tx: SqlTransaction, authenticated: AuthenticatedClient, now: number): SqlStep<boolean> {
  const row = yield* tx.get<Record<string, unknown>>(`SELECT ${CLIENT_STATE_COLUMNS} FROM clients c WHERE c.client_id = ?`, [authenticated.clientId]);
  return row === undefined || clientChangedIn(row, authenticated, now);
}

/** The client's columns `clientChangedIn` judges, as `c_…` (SQLite's code and token reads join them: one statement fewer). */
export const CLIENT_STATE_COLUMNS = 'c.status AS c_status, c.secret_digest AS c_secret_digest, c.previous_secret_digest AS c_previous_secret_digest, c.previous_secret_expires_at AS c_previous_secret_expires_at';

/** `clientChangedSteps`'s decision on a row with CLIENT_STATE_COLUMNS. */
export function clientChangedIn(row: Record<string, unknown>, authenticated: AuthenticatedClient, now: number): boolean {
  if (row.c_status !== 'active') return true;
  if ((row.c_secret_digest ?? null) === authenticated.secretDigest) return false;
  return !(authenticated.secretDigest !== null && row.c_previous_secret_digest === authenticated.secretDigest && Number(row.c_previous_secret_expires_at) > now);
}
