/**
 * The SQL backends' shared row shape: snake_case columns, read back into a `StoredConnection`.
 */
import type { ConnectionStatus, StoredConnection } from '../token-store.ts';

/** A table or schema name that needs no quoting rules beyond double quotes. */
export const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * A row of either backend as a `StoredConnection`. Numbers go through `Number()`: node-postgres returns
 * bigint columns as strings, and epoch seconds fit a double exactly.
 */
export function fromRow(row: Record<string, unknown> | undefined): StoredConnection | undefined {
  if (!row) return undefined;
  return {
    connectionId: row.connection_id as string,
    issuer: row.issuer as string,
    clientId: row.client_id as string,
    subjectUrn: row.subject_urn as string,
    scope: row.scope as string,
    status: row.status as ConnectionStatus,
    statusReason: (row.status_reason as string | null) ?? null,
    accessTokenCiphertext: (row.access_token_ciphertext as string | null) ?? null,
    refreshTokenCiphertext: (row.refresh_token_ciphertext as string | null) ?? null,
    accessTokenExpiresAt: row.access_token_expires_at === null ? null : Number(row.access_token_expires_at),
    dpopKeyCiphertext: (row.dpop_key_ciphertext as string | null | undefined) ?? null,
    version: Number(row.version),
    generation: (row.generation as string | null | undefined) ?? null,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
