/**
 * The SQL both the grants store (code exchange) and the tokens store (rotation) use to write new tokens
 * inside their own statements (issue 12; audit events: audit.ts `auditEventColumns`), kept in one place so the two hot paths
 * write exactly the same rows. SQLite: one multi-row INSERT step inside a transaction. PostgreSQL: one
 * `INSERT … SELECT FROM unnest(…)` part of a larger single statement, fed one array parameter per column.
 */
import type { SqlStep, SqlTransaction } from '../sql/driver.ts';
import type { TokenRecord } from '../storage.ts';

/**
 * SQLite, inside the caller's transaction: inserts `tokens` (usually an access/refresh pair) with ONE
 * multi-row INSERT, not one per token (issue 12: fewest statements). Nothing when `tokens` is empty.
 */
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

/** PostgreSQL: the new tokens as ten parameters for postgresInsertTokens(): one array per column. */
export function postgresTokenColumns(tokens: TokenRecord[]): unknown[] {
  return [
    tokens.map((t) => t.tokenDigest), tokens.map((t) => t.tokenId), tokens.map((t) => t.kind), tokens.map((t) => t.grantId),
    tokens.map((t) => t.clientId), tokens.map((t) => t.scope.join(' ')), tokens.map((t) => t.issuedAt), tokens.map((t) => t.expiresAt),
    tokens.map((t) => t.rotatedAt), tokens.map((t) => t.revokedAt),
  ];
}

/**
 * PostgreSQL: an INSERT of every token given by postgresTokenColumns() as parameters $first..$first+9
 * (one multi-row insert), with their audiences (RFC 8707; `tokenAudiences()`) as parameter $audiences and
 * their DPoP key thumbprints (RFC 9449; `tokenJkts()`) as parameter $audiences+1. SQL text with `$n`
 * placeholders: a part of a PostgreSQL-only statement (no `?` to number).
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
