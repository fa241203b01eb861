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
 * client row (FOR NO KEY UPDATE: an exchange past its code waits on it), then the grants holding a removed scope in
 * the rotations' key order (a rotation in flight commits first, and its new tokens are seen); then the set-based
 * UPDATEs, which find those rows locked. SQLite: the one writer needs no order.
 * A request that waited for these locks writes what the client is registered for as this commits it, read under
 * them (migration 49: gatehouse_redeem_code, gatehouse_exchange_ready_codes, gatehouse_rotate_ready_refresh_tokens;
 * migration 51: gatehouse_rotate_refresh_tokens).
 * @returns undefined when no client has that id (nothing changed).
 */
export function* updateClientNarrowingSteps(
  tx: SqlTransaction, clientId: string, assignments: string[], values: unknown[], narrowing: ScopeNarrowing,
): SqlStep<{ client: ClientRecord; done: ScopeNarrowingDone } | undefined> {
  const postgres = tx.dialect === 'postgres';
  const unredeemed = 'client_id = ? AND consumed_at IS NULL AND expires_at > ?';
  if (postgres) yield* tx.run(`SELECT 1 FROM authorization_codes WHERE ${unredeemed} ORDER BY code_digest COLLATE "C" FOR UPDATE`, [clientId, narrowing.now]);
  if (postgres) yield* tx.run('SELECT 1 FROM clients WHERE client_id = ? FOR NO KEY UPDATE', [clientId]);
  const row = yield* tx.get(`UPDATE clients SET ${assignments.join(', ')} WHERE client_id = ? RETURNING *`, [...values, clientId]);
  if (row === undefined) return undefined;
  const client = toClient(row);
  // Set-based, a few statements whatever the number of grants and tokens (the client's locks are held meanwhile):
  // `kept` is what of a row's scope the client is registered for now (gatehouse_scope_within: a PostgreSQL function,
  // migration 49; on SQLite a function of the connection, sqlite-storage.ts); a row holding a removed scope is one
  // whose `kept` differs from its scope.
  const registered = client.scopes.join(' ');
  const kept = 'gatehouse_scope_within(scope, ?)';
  const done = { grantsNarrowed: 0, grantsRevoked: 0, accessTokensRevoked: 0 };
  // The grants holding a removed scope, locked in the rotations' key order on PostgreSQL.
  const grants = yield* tx.all(`SELECT grant_id, ${kept} AS kept FROM grants WHERE client_id = ? AND revoked_at IS NULL AND ${kept} <> scope
    ${postgres ? 'ORDER BY grant_id COLLATE "C" FOR UPDATE' : ''}`, [registered, clientId, registered]);
  for (const grant of grants) {
    // None of its scopes left (rare): revoked with its tokens and its webhook, one by one.
    if (grant.kept !== '') continue;
    if (yield* revokeGrantSteps(tx, String(grant.grant_id), narrowing.now, 'client_scopes_narrowed', { webhookDelivery: narrowing.grantRevoked })) done.grantsRevoked += 1;
  }
  if (grants.length > done.grantsRevoked) {
    const liveGrants = 'grant_id IN (SELECT grant_id FROM grants WHERE client_id = ? AND revoked_at IS NULL)';
    done.grantsNarrowed = (yield* tx.run(`UPDATE grants SET scope = ${kept} WHERE client_id = ? AND revoked_at IS NULL AND ${kept} NOT IN ('', scope)`,
      [registered, clientId, registered])).changes;
    // Live tokens only: an expired access token is refused anyway (and would inflate the audit event's count). An
    // access token's scope is signed into it (JWT) or was answered for it: it cannot shrink, so it stops; so does a
    // refresh token with nothing left. A refresh token with some left is narrowed.
    const live = `${liveGrants} AND revoked_at IS NULL AND rotated_at IS NULL AND expires_at > ?`;
    const stopped = yield* tx.all(`UPDATE tokens SET revoked_at = ? WHERE ${live} AND ${kept} <> scope AND (kind = 'access' OR ${kept} = '') RETURNING kind`,
      [narrowing.now, clientId, narrowing.now, registered, registered]);
    done.accessTokensRevoked = stopped.filter((token) => token.kind === 'access').length;
    yield* tx.run(`UPDATE tokens SET scope = ${kept} WHERE ${live} AND kind = 'refresh' AND ${kept} NOT IN ('', scope)`,
      [registered, clientId, narrowing.now, registered]);
  }
  // A code issued before the change grants what it names at its exchange: narrowed, or voided (directory.ts
  // voidCodes: redeeming it is invalid_grant) when nothing is left.
  yield* tx.run(`UPDATE authorization_codes SET scope = ${kept} WHERE ${unredeemed} AND ${kept} NOT IN ('', scope)`,
    [registered, clientId, narrowing.now, registered]);
  yield* voidCodes(tx, `${unredeemed} AND ${kept} = '' AND scope <> ''`, narrowing.now, [clientId, narrowing.now, registered]);
  const auditEvent = narrowing.auditEvent?.(done);
  if (auditEvent) yield* insertAuditEventSteps(tx, auditEvent);
  return { client, done };
}
