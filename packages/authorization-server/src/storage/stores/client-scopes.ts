/**
 * `clients.update` with a `scopes` change (storage.ts `ScopeNarrowing`): a client whose registered scopes lose a
 * scope loses it everywhere it was granted, in the same transaction as the change, written once for both
 * databases over the SQL driver. Before, narrowing a client's scopes narrowed its API keys (api-key-service.ts)
 * but not its grants: a refresh kept returning the removed scope for as long as the grant lived.
 *
 * Per active grant of the client that holds a removed scope:
 * - none of its scopes left: the grant is revoked with its tokens (reason `client_scopes_narrowed`, its
 *   `grant.revoked` webhook queued with it, issue 15 §5);
 * - otherwise the grant's scope, and its current refresh token's, become what is left (RFC 6749 §6: a refresh
 *   then answers with that scope), its live access tokens holding a removed scope are revoked (so a resource
 *   server in local mode refuses them through the revocation feed, SPEC decision 7), and unredeemed codes of the
 *   client holding a removed scope are narrowed the same way (voided when nothing is left).
 */
import { toClient } from '../rows.ts';
import type { SqlStep, SqlTransaction } from '../sql/driver.ts';
import type { ClientRecord, ScopeNarrowing, ScopeNarrowingDone } from '../storage.ts';
import { insertAuditEventSteps } from './audit.ts';
import { voidCodes } from './directory.ts';
import { revokeGrantSteps } from './grant-revocation.ts';

/**
 * Updates the client row (`assignments`, `values` as clients.update builds them) and narrows what it granted.
 * PostgreSQL lock order, the exchange's own (a code, then its client, then grants): first the client's unredeemed
 * codes (an exchange in flight holds its code's lock, so it commits first and its grant is narrowed here), then the
 * client row (FOR NO KEY UPDATE: an exchange past its code waits on it), then the grants in the rotations' key
 * order (a rotation in flight commits first, and its new tokens are seen). SQLite: the one writer needs no order.
 * A request that waited for these locks writes what the client is registered for as this commits it, read under
 * them (migration 49: gatehouse_redeem_code, gatehouse_exchange_ready_codes, gatehouse_rotate_ready_refresh_tokens;
 * migration 51: gatehouse_rotate_refresh_tokens).
 * @returns undefined when no client has that id (nothing changed).
 */
export function* updateClientNarrowingSteps(
  tx: SqlTransaction, clientId: string, assignments: string[], values: unknown[], narrowing: ScopeNarrowing,
): SqlStep<{ client: ClientRecord; done: ScopeNarrowingDone } | undefined> {
  const postgres = tx.dialect === 'postgres';
  const codes = yield* tx.all(`SELECT code_digest, scope FROM authorization_codes WHERE client_id = ? AND consumed_at IS NULL AND expires_at > ?
    ${postgres ? 'ORDER BY code_digest COLLATE "C" FOR UPDATE' : ''}`, [clientId, narrowing.now]);
  if (postgres) yield* tx.run('SELECT 1 FROM clients WHERE client_id = ? FOR NO KEY UPDATE', [clientId]);
  const row = yield* tx.get(`UPDATE clients SET ${assignments.join(', ')} WHERE client_id = ? RETURNING *`, [...values, clientId]);
  if (row === undefined) return undefined;
  const client = toClient(row);
  const registered = new Set(client.scopes);
  const keptOf = (stored: unknown) => {
    const scopes = String(stored).split(' ').filter((scope) => scope !== '');
    const kept = scopes.filter((scope) => registered.has(scope));
    return kept.length === scopes.length ? undefined : kept;
  };
  const done = { grantsNarrowed: 0, grantsRevoked: 0, accessTokensRevoked: 0 };
  const grants = yield* tx.all(`SELECT grant_id, scope FROM grants WHERE client_id = ? AND revoked_at IS NULL${postgres ? ' ORDER BY grant_id COLLATE "C" FOR UPDATE' : ''}`, [clientId]);
  for (const grant of grants) {
    const grantId = String(grant.grant_id);
    const kept = keptOf(grant.scope);
    if (kept === undefined) continue;
    if (kept.length === 0) {
      if (yield* revokeGrantSteps(tx, grantId, narrowing.now, 'client_scopes_narrowed', { webhookDelivery: narrowing.grantRevoked })) done.grantsRevoked += 1;
      continue;
    }
    yield* tx.run('UPDATE grants SET scope = ? WHERE grant_id = ?', [kept.join(' '), grantId]);
    done.grantsNarrowed += 1;
    // Live tokens only: an expired access token is refused anyway (and would inflate the audit event's count).
    const tokens = yield* tx.all(`SELECT token_digest, kind, scope FROM tokens WHERE grant_id = ? AND revoked_at IS NULL AND rotated_at IS NULL
      AND expires_at > ?`, [grantId, narrowing.now]);
    for (const token of tokens) {
      const tokenKept = keptOf(token.scope);
      if (tokenKept === undefined) continue;
      if (token.kind === 'access' || tokenKept.length === 0) {
        // An access token's scope is signed into it (JWT) or was answered for it: it cannot shrink, so it stops.
        yield* tx.run('UPDATE tokens SET revoked_at = ? WHERE token_digest = ?', [narrowing.now, token.token_digest]);
        if (token.kind === 'access') done.accessTokensRevoked += 1;
      } else {
        yield* tx.run('UPDATE tokens SET scope = ? WHERE token_digest = ?', [tokenKept.join(' '), token.token_digest]);
      }
    }
  }
  // A code issued before the change grants what it names at its exchange: narrowed, or voided (directory.ts
  // voidCodes: redeeming it is invalid_grant) when nothing is left.
  for (const code of codes) {
    const kept = keptOf(code.scope);
    if (kept === undefined) continue;
    yield* (kept.length === 0
      ? voidCodes(tx, 'code_digest = ?', narrowing.now, [code.code_digest])
      : tx.run('UPDATE authorization_codes SET scope = ? WHERE code_digest = ? AND consumed_at IS NULL', [kept.join(' '), code.code_digest]));
  }
  const auditEvent = narrowing.auditEvent?.(done);
  if (auditEvent) yield* insertAuditEventSteps(tx, auditEvent);
  return { client, done };
}
