/**
 * The API-key store (storage.ts `ApiKeyStore`, issue 16) on SQLite. `install` is one `BEGIN IMMEDIATE`
 * transaction (revoke the previous integrated key, insert the new one), so one company never holds two
 * active keys of one integration, also across processes sharing the file.
 */
import type { SQLInputValue } from 'node:sqlite';
import type { ApiKeyStore } from '../storage.ts';
import { API_KEY_COLUMNS, apiKeyFilterClause, apiKeyValues, toApiKey, toApiKeyIntegration } from '../api-key-rows.ts';

type Row = Record<string, SQLInputValue>;

/** What the SQLite storage shares with this store. */
export interface SqliteApiKeyDriver {
  get(text: string, ...params: SQLInputValue[]): Row | undefined;
  all(text: string, ...params: SQLInputValue[]): Row[];
  run(text: string, ...params: SQLInputValue[]): { changes: number | bigint };
  transaction<T>(work: () => T): T;
}

const INSERT = `INSERT INTO api_keys (${API_KEY_COLUMNS.join(', ')}) VALUES (${API_KEY_COLUMNS.map(() => '?').join(', ')})`;

export function createSqliteApiKeys(db: SqliteApiKeyDriver): ApiKeyStore {
  const { get, all, run, transaction } = db;
  return {
    async create(key) {
      run(INSERT, ...apiKeyValues(key));
    },
    async install(key) {
      return transaction(() => {
        const previous = get(`SELECT key_id FROM api_keys WHERE key_type = 'integrated' AND client_id = ? AND subject_type = ? AND subject_id = ? AND revoked_at IS NULL`,
          key.clientId, key.subjectType, key.subjectId);
        if (previous) run(`UPDATE api_keys SET revoked_at = ?, revocation_reason = 'rotated' WHERE key_id = ?`, key.createdAt, previous.key_id as string);
        run(INSERT, ...apiKeyValues(key));
        return previous ? String(previous.key_id) : null;
      });
    },
    async find(keyId) {
      const row = get('SELECT * FROM api_keys WHERE key_id = ?', keyId);
      return row && toApiKey(row);
    },
    async findByDigest(keyDigest) {
      const row = get('SELECT * FROM api_keys WHERE key_digest = ?', keyDigest);
      return row && toApiKey(row);
    },
    async list(filter) {
      const { where, values } = apiKeyFilterClause(filter);
      return all(`SELECT * FROM api_keys ${where} ORDER BY created_at DESC, key_id DESC LIMIT ?`, ...values, filter.limit ?? 1000).map(toApiKey);
    },
    async revoke(keyId, now, reason) {
      return Number(run('UPDATE api_keys SET revoked_at = ?, revocation_reason = ? WHERE key_id = ? AND revoked_at IS NULL', now, reason, keyId).changes) > 0;
    },
    async recordUse(keyId, now, minimumIntervalSeconds) {
      run('UPDATE api_keys SET last_used_at = ? WHERE key_id = ? AND (last_used_at IS NULL OR last_used_at <= ?)', now, keyId, now - minimumIntervalSeconds);
    },
    async enableIntegration(integration) {
      run(`INSERT INTO api_key_integrations (client_id, scopes, enabled_at, enabled_by) VALUES (?, ?, ?, ?)
        ON CONFLICT (client_id) DO UPDATE SET scopes = excluded.scopes, enabled_at = excluded.enabled_at, enabled_by = excluded.enabled_by`,
      integration.clientId, integration.scopes.join(' '), integration.enabledAt, integration.enabledBy);
    },
    async disableIntegration(clientId) {
      return Number(run('DELETE FROM api_key_integrations WHERE client_id = ?', clientId).changes) > 0;
    },
    async findIntegration(clientId) {
      const row = get('SELECT * FROM api_key_integrations WHERE client_id = ?', clientId);
      return row && toApiKeyIntegration(row);
    },
    async listIntegrations() {
      return all('SELECT * FROM api_key_integrations ORDER BY client_id').map(toApiKeyIntegration);
    },
  };
}
