/** Issue 16: the rows of `api_keys` and `api_key_integrations` as records, shared by both backends. */
import type { ApiKeyIntegrationRecord, ApiKeyRecord, ApiKeyRevocationReason, ApiKeyType, SubjectType } from './storage.ts';

type Row = Record<string, unknown>;

const nullableNumber = (value: unknown) => (value === null || value === undefined ? null : Number(value));
const scopeList = (value: unknown): string[] => (String(value) === '' ? [] : String(value).split(' '));

export const toApiKey = (row: Row): ApiKeyRecord => ({
  keyId: String(row.key_id), keyDigest: String(row.key_digest), displayPrefix: String(row.display_prefix), keyType: row.key_type as ApiKeyType,
  name: String(row.name), clientId: row.client_id === null ? null : String(row.client_id), subjectType: row.subject_type as SubjectType,
  subjectId: String(row.subject_id), scopes: scopeList(row.scopes), createdByUserId: String(row.created_by_user_id), createdAt: Number(row.created_at),
  expiresAt: nullableNumber(row.expires_at), lastUsedAt: nullableNumber(row.last_used_at), revokedAt: nullableNumber(row.revoked_at),
  revocationReason: (row.revocation_reason ?? null) as ApiKeyRevocationReason | null,
});

export const toApiKeyIntegration = (row: Row): ApiKeyIntegrationRecord => ({
  clientId: String(row.client_id), scopes: scopeList(row.scopes), enabledAt: Number(row.enabled_at), enabledBy: String(row.enabled_by),
});

/** The INSERT of a key: column list and values in one order, for both dialects. */
export const API_KEY_COLUMNS = [
  'key_id', 'key_digest', 'display_prefix', 'key_type', 'name', 'client_id', 'subject_type', 'subject_id', 'scopes', 'created_by_user_id',
  'created_at', 'expires_at', 'last_used_at', 'revoked_at', 'revocation_reason',
] as const;

export const apiKeyValues = (key: ApiKeyRecord): Array<string | number | null> => [
  key.keyId, key.keyDigest, key.displayPrefix, key.keyType, key.name, key.clientId, key.subjectType, key.subjectId, key.scopes.join(' '),
  key.createdByUserId, key.createdAt, key.expiresAt, key.lastUsedAt, key.revokedAt, key.revocationReason,
];

/** The WHERE clause of `apiKeys.list` with `?` placeholders (PostgreSQL numbers them), and its values. */
export function apiKeyFilterClause(filter: { subjectType?: string; subjectId?: string; clientId?: string; keyType?: string; includeRevoked?: boolean }): { where: string; values: string[] } {
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
