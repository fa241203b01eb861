/**
 * Writing tokens and audit events, shared by the stores that issue tokens (grants: code exchange;
 * tokens: refresh rotation), issue 12. Tokens are stored by digest only (SPEC decision 9): these take
 * `TokenRecord`s, which carry no token value.
 *
 * SQLite inserts a token pair as one multi-row INSERT inside the caller's transaction
 * (`sqliteInsertTokens`); PostgreSQL inserts it inside one data-modifying statement from ten array
 * parameters (`postgresTokenColumns`, `postgresInsertTokens`, `tokenAudiences`, `tokenJkts`).
 */
import type { SqlStep, SqlTransaction } from '../sql/driver.ts';
import type { AuditEvent, TokenRecord } from '../storage.ts';

/** Issue 12 (fewest statements): a pair of tokens is one multi-row INSERT, not two. Nothing for no tokens. */
export function* sqliteInsertTokens(tx: SqlTransaction, tokens: readonly TokenRecord[]): SqlStep<void> {
  if (tokens.length === 0) return;
  yield* tx.run(
    `INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, audience, dpop_jkt)
       VALUES ${tokens.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
    tokens.flatMap((token) => [
      token.tokenDigest, token.tokenId, token.kind, token.grantId, token.clientId, token.scope.join(' '),
      token.issuedAt, token.expiresAt, token.rotatedAt, token.revokedAt, token.audience ?? null, token.dpopJkt ?? null,
    ]),
  );
}

/** The new tokens as ten parameters for postgresInsertTokens(): one array per column. */
export function postgresTokenColumns(tokens: TokenRecord[]): unknown[] {
  return [
    tokens.map((t) => t.tokenDigest), tokens.map((t) => t.tokenId), tokens.map((t) => t.kind), tokens.map((t) => t.grantId),
    tokens.map((t) => t.clientId), tokens.map((t) => t.scope.join(' ')), tokens.map((t) => t.issuedAt), tokens.map((t) => t.expiresAt),
    tokens.map((t) => t.rotatedAt), tokens.map((t) => t.revokedAt),
  ];
}

/**
 * PostgreSQL SQL text: an INSERT of every token given by postgresTokenColumns() as parameters
 * $first..$first+9 (one multi-row insert), with their audiences (RFC 8707; `tokenAudiences()`) as parameter
 * $audiences and their DPoP key thumbprints (RFC 9449; `tokenJkts()`) as parameter $audiences+1.
 */
export function postgresInsertTokens(first: number, audiences: number): string {
  const types = ['text', 'text', 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint', 'bigint'];
  return `INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, audience, dpop_jkt)
    SELECT * FROM unnest(${types.map((type, i) => `$${first + i}::${type}[]`).join(', ')}, $${audiences}::text[], $${audiences + 1}::text[])`;
}

/** RFC 8707: the tokens' audiences as one array parameter for postgresInsertTokens() (NULL: the default resource). */
export const tokenAudiences = (tokens: TokenRecord[]) => tokens.map((t) => t.audience ?? null);

/** RFC 9449 §6.1: the new tokens' DPoP key thumbprints (null when not bound), the parameter after the audiences. */
export function tokenJkts(tokens: TokenRecord[]): Array<string | null> {
  return tokens.map((t) => t.dpopJkt ?? null);
}

/** An audit event as the six values of an `audit_events` row (type, at, actor, client_id, grant_id, details as JSON text). */
export function auditEventColumns(event: AuditEvent): unknown[] {
  return [event.type, event.at, event.actor, event.clientId ?? null, event.grantId ?? null, JSON.stringify(event.details ?? {})];
}
