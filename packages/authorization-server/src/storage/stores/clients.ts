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
import { CLIENT_PATCH_COLUMNS, listColumn, toClient } from '../rows.ts';
import type { SqlDialect, SqlDriver } from '../sql/driver.ts';
import type { ClientPatch, Storage } from '../storage.ts';

/** Every column `create` fills, in the order of `clientValues`. */
const CLIENT_COLUMNS = [
  'client_id', 'kind', 'client_name', 'client_type', 'secret_digest', 'redirect_uris', 'scopes', 'subject_type', 'pkce_required',
  'status', 'client_uri', 'logo_uri', 'tos_uri', 'policy_uri', 'audience', 'created_at', 'initiation_uri', 'settings_uri', 'contacts',
  'owner_user_id', 'previous_secret_digest', 'previous_secret_expires_at', 'branding_verified',
  'require_pushed_authorization_requests', 'dpop_bound_access_tokens', 'description', 'category',
] as const;

const INSERT_CLIENT = `INSERT INTO clients (${CLIENT_COLUMNS.join(', ')}) VALUES (${CLIENT_COLUMNS.map(() => '?').join(', ')})`;

const FIND_CLIENT = 'SELECT * FROM clients WHERE client_id = ?';

export function createClientStore(db: SqlDriver): Storage['clients'] {
  return {
    async create(client) {
      await db.run(INSERT_CLIENT, [
        client.clientId, client.kind, client.clientName, client.clientType, client.secretDigest,
        listColumn(db.dialect, client.redirectUris), client.scopes.join(' '), client.subjectType, client.pkceRequired,
        client.status, client.clientUri, client.logoUri, client.tosUri, client.policyUri, client.audience, client.createdAt,
        client.initiationUri, client.settingsUri, listColumn(db.dialect, client.contacts), client.ownerUserId, client.previousSecretDigest,
        client.previousSecretExpiresAt, client.brandingVerified,
        client.requirePushedAuthorizationRequests ?? false, client.dpopBoundAccessTokens ?? false,
        client.description ?? null, client.category ?? null,
      ]);
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
        const column = CLIENT_PATCH_COLUMNS[field as keyof ClientPatch];
        if (!column) throw new Error(`clients.update cannot change ${field}`);
        assignments.push(`${column} = ?`);
        values.push(clientColumnValue(db.dialect, field as keyof ClientPatch, value));
      }
      // One statement either way: the row after the change (RETURNING), or as it is when nothing changes.
      const row = assignments.length > 0
        ? await db.get(`UPDATE clients SET ${assignments.join(', ')} WHERE client_id = ? RETURNING *`, [...values, clientId])
        : await db.get(FIND_CLIENT, [clientId]);
      return row && toClient(row);
    },
  };
}

/** A patched field's value as bound (the inverse of toClient); booleans stay booleans (the SQLite driver binds 0/1). */
function clientColumnValue(dialect: SqlDialect, field: keyof ClientPatch, value: unknown): unknown {
  if (field === 'redirectUris' || field === 'contacts') return listColumn(dialect, value as string[]);
  if (field === 'scopes') return (value as string[]).join(' ');
  return value;
}
