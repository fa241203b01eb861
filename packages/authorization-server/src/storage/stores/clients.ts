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
    async update(clientId, patch) {
      const assignments: string[] = [];
      const values: unknown[] = [];
      for (const [field, value] of Object.entries(patch)) {
        if (value === undefined) continue;
        const stored = FIXED_FIELDS.has(field) ? undefined : clientColumnValue(db.dialect, field, value);
        if (!stored) throw new Error(`clients.update cannot change ${field}`);
        assignments.push(`${stored.column} = ?`);
        values.push(stored.value);
      }
      // One statement either way: the row after the change (RETURNING), or as it is when nothing changes.
      const row = assignments.length > 0
        ? await db.get(`UPDATE clients SET ${assignments.join(', ')} WHERE client_id = ? RETURNING *`, [...values, clientId])
        : await db.get(FIND_CLIENT, [clientId]);
      return row && toClient(row);
    },
  };
}

/**
 * Whether `authenticated` no longer holds (storage.ts AuthenticatedClient): the client is gone, not active, or
 * its secret is not the one the request authenticated with. Inside the caller's transaction; SQLite's check
 * (its one writer reads the latest row); PostgreSQL makes the same check in its functions, under a lock, and
 * reads it again here when a rotation came back without rotating (`clientChangedSince`). The digests compared
 * are both stored ones (the request's secret was compared in constant time at authentication, SPEC decision 9).
 */
export function* clientChangedSteps(tx: SqlTransaction, authenticated: AuthenticatedClient): SqlStep<boolean> {
  return changedFrom(yield* tx.get<ClientState>(CLIENT_STATE, [authenticated.clientId]), authenticated);
}

/** `clientChangedSteps` as a read of its own (PostgreSQL, after a rotation that did not happen). */
export async function clientChangedSince(db: SqlDriver, authenticated: AuthenticatedClient): Promise<boolean> {
  return changedFrom(await db.get<ClientState>(CLIENT_STATE, [authenticated.clientId]), authenticated);
}

type ClientState = { status: unknown; secret_digest: unknown };
const CLIENT_STATE = 'SELECT status, secret_digest FROM clients WHERE client_id = ?';
const changedFrom = (row: ClientState | undefined, authenticated: AuthenticatedClient): boolean =>
  !row || row.status !== 'active' || (row.secret_digest ?? null) !== authenticated.secretDigest;

/**
 * `clientChangedSteps`'s decision on a client's `status` and `secret_digest` read with another row (SQLite's
 * code and token reads join them as `c_status` and `c_secret_digest`: one statement fewer per request).
 */
export function clientChangedIn(row: { c_status?: unknown; c_secret_digest?: unknown }, authenticated: AuthenticatedClient): boolean {
  return changedFrom({ status: row.c_status, secret_digest: row.c_secret_digest }, authenticated);
}
