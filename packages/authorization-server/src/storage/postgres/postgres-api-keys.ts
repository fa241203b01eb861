/**
 * The API-key store (storage.ts `ApiKeyStore`, issue 16) on PostgreSQL. `install` is one short
 * transaction that locks the previous integrated key's row (`FOR UPDATE`), revokes it and inserts the
 * new key; the unique partial index `api_keys_one_integrated` refuses a second active key should two
 * instances install at once (the loser retries through the transaction helper or fails, never doubles).
 */
import type { PoolClient, QueryResultRow } from 'pg';
import type { ApiKeyStore } from '../storage.ts';
import { API_KEY_COLUMNS, apiKeyFilterClause, apiKeyValues, toApiKey, toApiKeyIntegration } from '../api-key-rows.ts';

type Row = QueryResultRow;

/** What the PostgreSQL storage shares with this store. */
export interface PostgresApiKeyDriver {
  query(text: string, params?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
  transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T>;
}

const INSERT = `INSERT INTO api_keys (${API_KEY_COLUMNS.join(', ')}) VALUES (${API_KEY_COLUMNS.map((_, index) => `$${index + 1}`).join(', ')})`;
/** `?` placeholders numbered from `$from`. */
const numbered = (text: string, from = 1) => {
  let index = from - 1;
  return text.replace(/\?/g, () => `$${(index += 1)}`);
};

export function createPostgresApiKeys(db: PostgresApiKeyDriver): ApiKeyStore {
  const { query, transaction } = db;
  const changed = (result: { rowCount: number | null }) => (result.rowCount ?? 0) > 0;
  return {
    async create(key) {
      await query(INSERT, apiKeyValues(key));
    },
    async install(key) {
      return transaction(async (client) => {
        const { rows } = await client.query(`SELECT key_id FROM api_keys WHERE key_type = 'integrated' AND client_id = $1 AND subject_type = $2 AND subject_id = $3
          AND revoked_at IS NULL FOR UPDATE`, [key.clientId, key.subjectType, key.subjectId]);
        const previous = rows[0] as Row | undefined;
        if (previous) await client.query(`UPDATE api_keys SET revoked_at = $1, revocation_reason = 'rotated' WHERE key_id = $2`, [key.createdAt, previous.key_id]);
        await client.query(INSERT, apiKeyValues(key));
        return previous ? String(previous.key_id) : null;
      });
    },
    async find(keyId) {
      const { rows } = await query('SELECT * FROM api_keys WHERE key_id = $1', [keyId]);
      return rows[0] && toApiKey(rows[0]);
    },
    async findByDigest(keyDigest) {
      const { rows } = await query('SELECT * FROM api_keys WHERE key_digest = $1', [keyDigest]);
      return rows[0] && toApiKey(rows[0]);
    },
    async list(filter) {
      const { where, values } = apiKeyFilterClause(filter);
      const { rows } = await query(numbered(`SELECT * FROM api_keys ${where} ORDER BY created_at DESC, key_id DESC LIMIT ?`), [...values, filter.limit ?? 1000]);
      return rows.map(toApiKey);
    },
    async revoke(keyId, now, reason) {
      return changed(await query('UPDATE api_keys SET revoked_at = $1, revocation_reason = $2 WHERE key_id = $3 AND revoked_at IS NULL', [now, reason, keyId]));
    },
    async recordUse(keyId, now, minimumIntervalSeconds) {
      await query('UPDATE api_keys SET last_used_at = $1 WHERE key_id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)', [now, keyId, now - minimumIntervalSeconds]);
    },
    async enableIntegration(integration) {
      await query(`INSERT INTO api_key_integrations (client_id, scopes, enabled_at, enabled_by) VALUES ($1, $2, $3, $4)
        ON CONFLICT (client_id) DO UPDATE SET scopes = excluded.scopes, enabled_at = excluded.enabled_at, enabled_by = excluded.enabled_by`,
      [integration.clientId, integration.scopes.join(' '), integration.enabledAt, integration.enabledBy]);
    },
    async disableIntegration(clientId) {
      return changed(await query('DELETE FROM api_key_integrations WHERE client_id = $1', [clientId]));
    },
    async findIntegration(clientId) {
      const { rows } = await query('SELECT * FROM api_key_integrations WHERE client_id = $1', [clientId]);
      return rows[0] && toApiKeyIntegration(rows[0]);
    },
    async listIntegrations() {
      const { rows } = await query('SELECT * FROM api_key_integrations ORDER BY client_id');
      return rows.map(toApiKeyIntegration);
    },
  };
}
