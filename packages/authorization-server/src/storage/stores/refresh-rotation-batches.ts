/**
 * PostgreSQL's refresh rotations in batches (issue 12, migration 37; postgres/statement-batches.ts): the
 * rotations of one event-loop turn, and those that queue while others are in flight, go as ONE call of
 * `gatehouse_rotate_refresh_tokens`.
 * Each rotation in a batch is the same compare-and-swap as alone (SPEC decision 8): the function locks each
 * grant row, flips the presented token only if it is still current and revokes the grant's access tokens,
 * then stores the new tokens, audit events and grace records of those that happened. A batch orders its
 * rotations by grant id, so two batches lock their grant rows in the same order; a deadlock with another
 * operation (40P01) rolls the batch back and it runs again.
 */
import type { SqlDriver } from '../sql/driver.ts';
import type { AuditEvent, AuthenticatedClient, GraceSuccessor, ScopeNarrowed, TokenRecord } from '../storage.ts';
import { auditEventColumns } from './audit.ts';
import { postgresTokenColumns, tokenAudiences, tokenJkts } from './token-rows.ts';
import { retryingDeadlocks } from '../postgres/deadlock-retry.ts';
import { createStatementBatches, type StatementBatches, type StatementBatchOptions } from '../postgres/statement-batches.ts';

/** What `tokens.rotateRefreshToken` was given. */
export interface PendingRotation {
  presentedDigest: string;
  now: number;
  newTokens: TokenRecord[];
  auditEvent?: AuditEvent | undefined;
  graceSuccessor?: GraceSuccessor | undefined;
  /** storage.ts AuthenticatedClient: rotated only while the client is still active with this secret (migration 47). */
  authenticated?: AuthenticatedClient | undefined;
}

const ROTATE_REFRESH_TOKENS = `SELECT rotated, scopes_left FROM gatehouse_rotate_refresh_tokens(${Array.from({ length: 26 }, (_, i) => `$${i + 1}`).join(', ')})`;

/**
 * `submit` resolves with the rotation's outcome: rotated, not current, its client changed (storage.ts
 * AuthenticatedClient), or its new tokens name a scope narrowed meanwhile (ScopeNarrowed; migration 51).
 */
export type RotationOutcome = 'rotated' | 'not_current' | 'client_changed' | ScopeNarrowed;

export function createRotationBatches(db: SqlDriver, options: StatementBatchOptions = {}): StatementBatches<PendingRotation, RotationOutcome> {
  return createStatementBatches((rotations) => rotateTogether(db, rotations), options);
}

/** One call of gatehouse_rotate_refresh_tokens for `rotations`; what became of each, in their order. */
async function rotateTogether(db: SqlDriver, rotations: PendingRotation[]): Promise<RotationOutcome[]> {
  // By grant id: every batch locks its grants in the same order (no deadlock between two batches).
  const order = rotations.map((_, i) => i);
  const grantOf = (i: number) => rotations[i]!.newTokens[0]?.grantId ?? '';
  order.sort((a, b) => (grantOf(a) < grantOf(b) ? -1 : grantOf(a) > grantOf(b) ? 1 : a - b));
  const sorted = order.map((i) => rotations[i]!);
  const tokens = sorted.flatMap((rotation, i) => rotation.newTokens.map((token) => ({ token, rotation: i + 1 })));
  const newTokens = tokens.map(({ token }) => token);
  const audit = sorted.map((rotation) => (rotation.auditEvent ? auditEventColumns(rotation.auditEvent) : [null, null, null, null, null, null]));
  const values = [
    sorted.map((r) => r.presentedDigest), sorted.map((r) => r.now),
    // The tokens' columns as every PostgreSQL token insert sends them (token-rows.ts).
    ...postgresTokenColumns(newTokens), tokenAudiences(newTokens), tokenJkts(newTokens),
    tokens.map(({ rotation }) => rotation),
    ...[0, 1, 2, 3, 4, 5].map((column) => audit.map((columns) => columns[column])),
    sorted.map((r) => r.graceSuccessor?.sealedSuccessor ?? null), sorted.map((r) => r.graceSuccessor?.graceExpiresAt ?? null),
    sorted.map((r) => r.authenticated !== undefined), sorted.map((r) => r.authenticated?.secretDigest ?? null),
    // README "Registering clients" (migration 51): every rotation's new tokens checked against the scopes left.
    sorted.map(() => true),
  ];
  const row = await retryingDeadlocks(() => db.get<{ rotated: string[]; scopes_left: Array<string | null> }>(
    ROTATE_REFRESH_TOKENS, values, { name: 'gatehouse_rotate_refresh_tokens' }));
  const outcomes: RotationOutcome[] = new Array(rotations.length);
  order.forEach((original, position) => {
    const outcome = row!.rotated[position]!;
    outcomes[original] = outcome === 'scope_narrowed'
      ? { outcome, scope: (row!.scopes_left[position] ?? '').split(' ').filter((scope) => scope !== '') }
      : outcome as 'rotated' | 'not_current' | 'client_changed';
  });
  return outcomes;
}
