/**
 * The API-key store (storage.ts `ApiKeyStore`, issue 16), written once for both databases over the SQL
 * driver (issue 12).
 *
 * `install` is one transaction: revoke the previous integrated key, insert the new one. On SQLite
 * `BEGIN IMMEDIATE` serializes it across processes; on PostgreSQL it locks the previous key's row
 * (`FOR UPDATE`), and the unique partial index `api_keys_one_integrated` (both schemas) refuses a second
 * active key should two instances install at once (the loser fails, never doubles).
 */
import { nullableNumber, scopeList } from '../rows.ts';
import type { SqlDriver, SqlRow } from '../sql/driver.ts';
import { recordLastUses } from './last-uses.ts';
import type { ApiKeyFilter, ApiKeyIntegrationRecord, ApiKeyRecord, ApiKeyRevocationReason, ApiKeyStore, ApiKeyType, SubjectType } from '../storage.ts';

const API_KEY_COLUMNS = [
  'key_id', 'key_digest', 'display_prefix', 'key_type', 'name', 'client_id', 'subject_type', 'subject_id', 'scopes', 'created_by_user_id',
  'created_at', 'expires_at', 'last_used_at', 'revoked_at', 'revocation_reason',
] as const;

const INSERT = `INSERT INTO api_keys (${API_KEY_COLUMNS.join(', ')}) VALUES (${API_KEY_COLUMNS.map(() => '?').join(', ')})`;

/** A key's values in `API_KEY_COLUMNS` order. */
const apiKeyValues = (key: ApiKeyRecord): Array<string | number | null> => [
  key.keyId, key.keyDigest, key.displayPrefix, key.keyType, key.name, key.clientId, key.subjectType, key.subjectId, key.scopes.join(' '),
  key.createdByUserId, key.createdAt, key.expiresAt, key.lastUsedAt, key.revokedAt, key.revocationReason,
];

export function createApiKeyStore(db: SqlDriver): ApiKeyStore {
  return {
    async create(key) {
      await db.run(INSERT, apiKeyValues(key));
    },
    async install(key) {
      return db.transaction(function* (tx) {
        const previous = yield* tx.get(`SELECT key_id FROM api_keys WHERE key_type = 'integrated' AND client_id = ? AND subject_type = ? AND subject_id = ?
          AND revoked_at IS NULL${tx.dialect === 'postgres' ? ' FOR UPDATE' : ''}`, [key.clientId, key.subjectType, key.subjectId]);
        if (previous) yield* tx.run(`UPDATE api_keys SET revoked_at = ?, revocation_reason = 'rotated' WHERE key_id = ?`, [key.createdAt, previous.key_id]);
        yield* tx.run(INSERT, apiKeyValues(key));
        return previous ? String(previous.key_id) : null;
      });
    },
    async find(keyId) {
      // No key_id holds NUL, which PostgreSQL text cannot (it refuses the parameter: a 500 where an unknown key is a 404,
      // SPEC decision 18), as clients.find (2f97c8e) and grants.find (e557d8a).
      if (keyId.includes('\u0000')) return undefined;
      const row = await db.get('SELECT * FROM api_keys WHERE key_id = ?', [keyId]);
      return row && toApiKey(row);
    },
    async findByDigest(keyDigest) {
      const row = await db.get('SELECT * FROM api_keys WHERE key_digest = ?', [keyDigest]);
      return row && toApiKey(row);
    },
    async list(filter) {
      const { where, values } = apiKeyFilterClause(filter);
      return (await db.all(`SELECT * FROM api_keys ${where} ORDER BY created_at DESC, key_id DESC LIMIT ?`, [...values, filter.limit ?? 1000])).map(toApiKey);
    },
    async revoke(keyId, now, reason) {
      if (keyId.includes('\u0000')) return false;
      return (await db.run('UPDATE api_keys SET revoked_at = ?, revocation_reason = ? WHERE key_id = ? AND revoked_at IS NULL', [now, reason, keyId])).changes > 0;
    },
    async recordUses(uses, minimumIntervalSeconds) {
      await recordLastUses(db, 'api_keys', uses, minimumIntervalSeconds);
    },
    async enableIntegration(integration) {
      await db.run(`INSERT INTO api_key_integrations (client_id, scopes, enabled_at, enabled_by) VALUES (?, ?, ?, ?)
        ON CONFLICT (client_id) DO UPDATE SET scopes = excluded.scopes, enabled_at = excluded.enabled_at, enabled_by = excluded.enabled_by`,
      [integration.clientId, integration.scopes.join(' '), integration.enabledAt, integration.enabledBy]);
    },
    async disableIntegration(clientId) {
      return (await db.run('DELETE FROM api_key_integrations WHERE client_id = ?', [clientId])).changes > 0;
    },
    async findIntegration(clientId) {
      const row = await db.get('SELECT * FROM api_key_integrations WHERE client_id = ?', [clientId]);
      return row && toApiKeyIntegration(row);
    },
    async listIntegrations() {
      return (await db.all('SELECT * FROM api_key_integrations ORDER BY client_id')).map(toApiKeyIntegration);
    },
  };
}

/** The WHERE clause of `list` (`?` placeholders) and its values. */
function apiKeyFilterClause(filter: ApiKeyFilter): { where: string; values: string[] } {
  const conditions: string[] = [];
  const values: string[] = [];
  for (const [column, value] of [['subject_type', filter.subjectType], ['subject_id', filter.subjectId], ['client_id', filter.clientId], ['key_type', filter.keyType]] as const) {
    if (value !== undefined) {
      conditions.push(`${column} = ?`);
      values.push(value);
    }
  }
  if (!filter.includeRevoked) conditions.push('revoked_at IS NULL');
  return { where: conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`, values };
}

function toApiKey(row: SqlRow): ApiKeyRecord {
  return {
    keyId: String(row.key_id), keyDigest: String(row.key_digest), displayPrefix: String(row.display_prefix), keyType: row.key_type as ApiKeyType,
    name: String(row.name), clientId: row.client_id === null ? null : String(row.client_id), subjectType: row.subject_type as SubjectType,
    subjectId: String(row.subject_id), scopes: scopeList(row.scopes), createdByUserId: String(row.created_by_user_id), createdAt: Number(row.created_at),
    expiresAt: nullableNumber(row.expires_at), lastUsedAt: nullableNumber(row.last_used_at), revokedAt: nullableNumber(row.revoked_at),
    revocationReason: (row.revocation_reason ?? null) as ApiKeyRevocationReason | null,
  };
}

function toApiKeyIntegration(row: SqlRow): ApiKeyIntegrationRecord {
  return { clientId: String(row.client_id), scopes: scopeList(row.scopes), enabledAt: Number(row.enabled_at), enabledBy: String(row.enabled_by) };
}
