/**
 * Grants (storage.ts `grants`), written once for both databases over the SQL driver (issue 12). The plain
 * operations (find, findActive, listActive, recordUses) are one text for both. Where atomicity is made
 * differently, each operation keeps both versions side by side in one function:
 *
 * - The code exchange (`exchangeCode`, `issueForCode`, `exchangeReadyCode`; RFC 6749 §4.1.2/§4.1.3, SPEC
 *   decisions 6 and 11): on SQLite one transaction of the one writer (read the code, check, supersede,
 *   insert); on PostgreSQL ONE named statement around `gatehouse_redeem_code` (migration 20), which takes
 *   the advisory lock of the (client, subject), locks the code and the superseded grants and reads them
 *   fresh. `exchangeReadyCode` checks the code it reads against the token request first (the token
 *   endpoint's checks, meetsReadyConditions / `gatehouse_exchange_ready_codes`), so the exchange needs no
 *   read before; on PostgreSQL a turn's exchanges, and those that queue while two are in flight, go together, as one call
 *   and one commit (migration 38, postgres/statement-batches.ts).
 * - Revocation (`revoke`, `revokeAllOfClient`; issue 15 §5): on SQLite `revokeGrantSteps`
 *   (stores/grant-revocation.ts); on PostgreSQL `gatehouse_revoke_grant` (migration 42: the grant row first,
 *   the lock order of whatever touches several tokens of a grant, then its tokens, with the audit event),
 *   alone when no webhook delivery is to be built from the revoked row (the revocation endpoint's: one
 *   round trip), else in a transaction with the delivery.
 *
 * PostgreSQL-only statements keep `$n` placeholders: a parameter used several times is sent once, and the
 * driver numbers only `?` (a text without one is sent as it is).
 */
import { resourcesColumn, toCode, toGrant } from '../rows.ts';
import type { SqlDriver, SqlStep, SqlTransaction } from '../sql/driver.ts';
import type {
  AuditEvent, AuthenticatedClient, AuthorizationCodeRecord, ExchangeCodeResult, ExchangeReadyCodeResult, GrantRecord, GrantRevocationEffects, ReadyCodeConditions, Storage,
  TokenForCode, TokenRecord,
} from '../storage.ts';
import { auditEventColumns, insertAuditEventSteps } from './audit.ts';
import { revokeGrantSteps } from './grant-revocation.ts';
import { postgresInsertTokens, postgresTokenColumns, sqliteInsertTokens, tokenAudiences, tokenJkts } from './token-rows.ts';
import { enqueueIfSubscribedSteps } from './webhooks.ts';
import { recordLastUses } from './last-uses.ts';
import { CLIENT_STATE_COLUMNS, clientChangedIn } from './clients.ts';
import { writtenRowsOf } from '../postgres/written-rows.ts';
import { RECENT_GRANTS_WINDOW_SECONDS } from './authorization-codes.ts';
import { retryingDeadlocks } from '../postgres/deadlock-retry.ts';
import { createStatementBatches } from '../postgres/statement-batches.ts';

export function createGrantStore(db: SqlDriver): Storage['grants'] {
  /** How this database revokes one grant inside a transaction (see the file's comment). */
  const revokeGrant = db.dialect === 'postgres' ? postgresRevokeGrantSteps : revokeGrantSteps;
  // PostgreSQL: the codes and refresh tokens this instance wrote (postgres/written-rows.ts): forgotten
  // before this instance's own next write to them, the exchange's refresh token remembered.
  const written = db.dialect === 'postgres' ? writtenRowsOf(db) : undefined;
  const exchanges = written ? createStatementBatches((pending: PendingExchange[]) => postgresExchangeReadyCodes(db, pending)) : undefined;
  return {
    async issueForCode(codeDigest, grant, tokens, auditEvent) {
      if (written) {
        written.forgetCode(codeDigest);
        const { outcome } = await postgresRedeemCode(db, codeDigest, null, grant.createdAt, grant, tokens, auditEvent, false, undefined);
        // A code that is gone (never stored, or cleaned up) cannot be issued for, as a replayed one.
        return outcome === 'unknown' ? 'code_replayed' : outcome as 'issued' | 'code_replayed' | 'code_outdated';
      }
      return db.transaction(function* (tx) {
        const code = yield* tx.get('SELECT replayed_at, grant_id, issued_at, active_grant_at_issue, recent_grants_at_issue FROM authorization_codes WHERE code_digest = ?', [codeDigest]);
        // Replayed meanwhile (authorizationCodes.consume marked it), or already issued for: nothing is stored.
        if (!code || code.replayed_at !== null || code.grant_id !== null) return 'code_replayed' as const;
        return yield* sqliteIssueGrantSteps(tx, codeDigest, issuedWhen(code), null, grant, tokens, auditEvent);
      });
    },
    async exchangeCode(codeDigest, clientId, now, grant, tokens, auditEvent, authenticated) {
      if (written) {
        written.forgetCode(codeDigest);
        const { outcome, replayGrantId, grantedScope } = await postgresRedeemCode(db, codeDigest, clientId, now, grant, tokens, auditEvent, true, authenticated);
        if (outcome === 'replayed') return { outcome, grantId: replayGrantId };
        if (outcome === 'scope_narrowed') return { outcome, scope: scopeList(grantedScope) };
        // The grant's first refresh reads its token from here (stores/tokens.ts `findByDigest` for rotation).
        const refreshToken = tokens.find((token) => token.kind === 'refresh');
        if (outcome === 'issued' && refreshToken) written.rememberRefreshToken(refreshToken, grant);
        return { outcome: outcome as 'issued' | 'code_outdated' | 'unknown' | 'client_changed' };
      }
      // Issue 12: consume and issue in ONE transaction, so a failure anywhere leaves the code unused.
      return db.transaction(function* (tx): SqlStep<ExchangeCodeResult> {
        const code = yield* tx.get('SELECT client_id, consumed_at, replayed_at, grant_id, issued_at, active_grant_at_issue, recent_grants_at_issue FROM authorization_codes WHERE code_digest = ?', [codeDigest]);
        // RFC 6749 §4.1.3: another client's code is unknown to this client, and stays unconsumed.
        if (!code || code.client_id !== clientId) return { outcome: 'unknown' };
        // storage.ts AuthenticatedClient: the one writer reads the client as the last change left it.
        const client = yield* tx.get(`SELECT ${CLIENT_STATE_COLUMNS}, c.scopes AS c_scopes FROM clients c WHERE c.client_id = ?`, [clientId]);
        if (authenticated && (client === undefined || clientChangedIn(client, authenticated, now))) return { outcome: 'client_changed' };
        if (code.consumed_at !== null) {
          // RFC 6749 §4.1.2: used before (a concurrent redemption won); marked replayed as consume() does.
          if (code.replayed_at === null) yield* tx.run('UPDATE authorization_codes SET replayed_at = ? WHERE code_digest = ?', [now, codeDigest]);
          return { outcome: 'replayed', grantId: code.grant_id === null ? null : String(code.grant_id) };
        }
        // README "Registering clients" (gatehouse_redeem_code on PostgreSQL, migration 49): a grant naming a scope the
        // client is no longer registered for, as the one writer reads it now, stores nothing (the caller builds again).
        const registered = scopeList(client?.c_scopes);
        const granted = grant.scope.filter((scope) => registered.includes(scope));
        if (granted.length !== grant.scope.length || granted.length === 0) return { outcome: 'scope_narrowed', scope: granted };
        // Issue 12: consumed by the same UPDATE that links the code to its grant (one statement fewer); an
        // outdated code is consumed all the same, on its own (RFC 6749 §4.1.2: used once, whatever the answer).
        const outcome = yield* sqliteIssueGrantSteps(tx, codeDigest, issuedWhen(code), now, grant, tokens, auditEvent);
        if (outcome === 'code_outdated') yield* tx.run('UPDATE authorization_codes SET consumed_at = ? WHERE code_digest = ?', [now, codeDigest]);
        return { outcome };
      });
    },
    async exchangeReadyCode(codeDigest, clientId, now, conditions, grantId, tokens, auditEvent) {
      if (written) {
        written.forgetCode(codeDigest);
        // Issue 12: with the exchanges that queued meanwhile, in one statement and one commit.
        const result = await exchanges!.submit({ codeDigest, clientId, now, conditions, grantId, tokens, auditEvent });
        const refreshToken = result.outcome === 'issued' ? result.tokens.find((token) => token.kind === 'refresh') : undefined;
        if (result.outcome === 'issued' && refreshToken) written.rememberRefreshToken(refreshToken, result.grant);
        return result;
      }
      // One transaction of the one writer: the code is read once, checked, then redeemed as exchangeCode does.
      return db.transaction(function* (tx): SqlStep<ExchangeReadyCodeResult> {
        // With its client's status, secret (storage.ts AuthenticatedClient) and scopes, by primary key: one statement.
        const row = yield* tx.get(
          `SELECT a.*, ${CLIENT_STATE_COLUMNS}, c.scopes AS c_scopes FROM authorization_codes a JOIN clients c ON c.client_id = a.client_id
             WHERE a.code_digest = ? AND a.client_id = ?`,
          [codeDigest, clientId],
        );
        if (!row) return { outcome: 'not_ready' };
        if (conditions.clientSecretDigest !== undefined && clientChangedIn(row, { clientId, secretDigest: conditions.clientSecretDigest }, now)) {
          return { outcome: 'client_changed' };
        }
        const code = toCode(row);
        const used = row.consumed_at !== null;
        if (used || !meetsReadyConditions(code, now, conditions)) return { outcome: 'not_ready', found: { code, used } };
        // README "Registering clients" (gatehouse_redeem_code's on PostgreSQL, migration 49): what is granted is the
        // code's scope less any scope its client is no longer registered for, as read in this write transaction (the
        // caller's conditions were read before it, from the client cache); nothing left: nothing written.
        const registered = scopeList(row.c_scopes);
        const scope = code.scope.filter((name) => registered.includes(name));
        if (scope.length === 0) return { outcome: 'not_ready' };
        const issued = issuedForCode({ ...code, scope }, now, grantId, tokens, auditEvent);
        const outcome = yield* sqliteIssueGrantSteps(tx, codeDigest, issuedWhen(row), now, issued.grant, issued.tokens, issued.auditEvent);
        if (outcome === 'issued') return { outcome, ...issued };
        yield* tx.run('UPDATE authorization_codes SET consumed_at = ? WHERE code_digest = ?', [now, codeDigest]);
        return { outcome };
      });
    },
    async find(grantId) {
      // No grant_id holds NUL, which PostgreSQL text cannot (it refuses the parameter: a 500 where an unknown grant is a
      // 404, SPEC decision 18), as clients.find (2f97c8e).
      if (grantId.includes('\u0000')) return undefined;
      const row = await db.get('SELECT * FROM grants WHERE grant_id = ?', [grantId]);
      return row && toGrant(row);
    },
    async listActive(filter) {
      const [where, params]: [string, unknown[]] = 'clientId' in filter ? ['g.client_id = ?', [filter.clientId]]
        : 'userId' in filter ? ['g.user_id = ?', [filter.userId]] : ['g.subject_type = ? AND g.subject_id = ?', [filter.subjectType, filter.subjectId]];
      // The later of the last recorded use and the last token issued. SQLite's two-argument max() is
      // PostgreSQL's GREATEST, except that it is NULL when either is: hence 0 for "none" (times are > 0).
      const greatest = db.dialect === 'postgres' ? 'GREATEST' : 'MAX';
      const rows = await db.all(
        `SELECT g.*, NULLIF(${greatest}(COALESCE(g.last_used_at, 0), COALESCE((SELECT MAX(t.issued_at) FROM tokens t WHERE t.grant_id = g.grant_id), 0)), 0) AS last_used
         FROM grants g WHERE ${where} AND g.revoked_at IS NULL ORDER BY g.created_at DESC, g.grant_id`, params,
      );
      return rows.map((row) => ({ ...toGrant(row), lastUsedAt: row.last_used === null ? null : Number(row.last_used) }));
    },
    async recordUses(uses, minimumIntervalSeconds) {
      // Whether a use is noted at all is the introspection endpoint's to decide from the use it read with
      // the token, not this instance's memory; the recorder sends each grant once per batch (last-uses.ts).
      await recordLastUses(db, 'grants', uses, minimumIntervalSeconds);
    },
    async findActive(clientId, subjectType, subjectId) {
      // A seek of the pair's live range of grants_by_subject (at most one row, sorted in
      // memory), never its history: since migration 33 no index orders the pair by created_at, which SQLite
      // walked backwards through every grant of the pair when none was live (sqlite/query-plans.test.ts).
      const row = await db.get(
        'SELECT * FROM grants WHERE client_id = ? AND subject_type = ? AND subject_id = ? AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1',
        [clientId, subjectType, subjectId],
      );
      return row && toGrant(row);
    },
    async revokeAllOfClient(clientId, now, reason, effects) {
      // PostgreSQL: the client row first (storage.ts AuthenticatedClient: an exchange in flight holds its SHARE
      // lock, so it commits before this reads the grants, and one after waits and reads the change); then
      // the grant rows in id order (lock order; "C" as the rotation batches'), then each grant's tokens, as
      // `revoke` does for one. SQLite: the one writer needs no order.
      const lockGrants = db.dialect === 'postgres' ? ' ORDER BY grant_id COLLATE "C" FOR UPDATE' : '';
      written?.forgetAllGrants(); // rare (client deletion, secret rotation): all, rather than a client index
      return db.transaction(function* (tx) {
        if (db.dialect === 'postgres') yield* tx.run('SELECT 1 FROM clients WHERE client_id = ? FOR NO KEY UPDATE', [clientId]);
        const grants = yield* tx.all(`SELECT grant_id FROM grants WHERE client_id = ? AND revoked_at IS NULL${lockGrants}`, [clientId]);
        let revoked = 0;
        for (const grant of grants) {
          // The client-wide audit event is the caller's; each revoked grant's webhook commits with it (issue 15 §5).
          if (yield* revokeGrant(tx, String(grant.grant_id), now, reason, { webhookDelivery: effects?.webhookDelivery })) revoked += 1;
        }
        return revoked;
      });
    },
    async revoke(grantId, now, reason, effects) {
      written?.forgetGrant(grantId);
      // PostgreSQL without a webhook delivery (the revocation endpoint's): the one statement alone, one round trip.
      if (db.dialect === 'postgres' && !effects?.webhookDelivery) {
        const values = revokeGrantValues(grantId, now, reason, effects?.auditEvent);
        const row = await retryingDeadlocks(() => db.get<{ revoked: boolean }>(REVOKE_GRANT, values, { name: 'gatehouse_revoke_grant' }));
        return row!.revoked;
      }
      return db.transaction((tx) => revokeGrant(tx, grantId, now, reason, effects));
    },
  };
}

/**
 * When a stored code was issued, as the SPEC decision 6 check reads it: `issuedAt` (seconds); and what it saw of
 * its (client, subject) as it was written (migration 48): the live grant (`activeGrantAtIssue`, '' none) and how
 * many grants stamped within RECENT_GRANTS_WINDOW_SECONDS before `issuedAt` existed (`recentGrantsAtIssue`). Both
 * null for a code written before migration 48, which the seconds alone judge.
 */
interface CodeIssue { issuedAt: number; activeGrantAtIssue: string | null; recentGrantsAtIssue: number | null }

/** A space-separated scope column (RFC 6749 §3.3) as a list; none for NULL. */
const scopeList = (column: unknown): string[] => (column === null || column === undefined ? [] : String(column).split(' ').filter((scope) => scope !== ''));

const issuedWhen = (row: Record<string, unknown>): CodeIssue => ({
  issuedAt: Number(row.issued_at),
  activeGrantAtIssue: row.active_grant_at_issue === null || row.active_grant_at_issue === undefined ? null : String(row.active_grant_at_issue),
  recentGrantsAtIssue: row.recent_grants_at_issue === null || row.recent_grants_at_issue === undefined ? null : Number(row.recent_grants_at_issue),
});

/**
 * SQLite, the body of issueForCode and exchangeCode inside their transaction: the SPEC decision 6 check,
 * the supersede (SPEC decision 11), the grant, its tokens, the code's link and the audit event. The one
 * writer (BEGIN IMMEDIATE, or the group commit's batch) makes the check and the inserts atomic.
 * `consumedAt` (seconds, exchangeCode): the link also marks the code consumed; null (issueForCode): the
 * code was consumed before. On `code_outdated` nothing is written.
 */
function* sqliteIssueGrantSteps(
  tx: SqlTransaction, codeDigest: string, code: CodeIssue, consumedAt: number | null, grant: GrantRecord, tokens: TokenRecord[],
  auditEvent: AuditEvent | undefined,
): SqlStep<'issued' | 'code_outdated'> {
  // Issue 12: the (client, subject)'s grants in one read (the decision 6 check and the supersede used two
  // over the same index range). Only the rows either needs: live ones, and any revoked since the code's window
  // began (RECENT_GRANTS_WINDOW_SECONDS before its second); a grant created since is one of those, its revocation
  // never being stamped before its creation (migration 33). Superseded grants stay until their tokens expire (cleanup), so a (client, subject)
  // connected again and again has a long history that neither needs. Two disjoint ranges of grants_by_subject
  // (migration 35: the pair's live grant; the subject's grants revoked since the code's issue, a few), each a
  // seek: as one OR, SQLite's planner (without ANALYZE statistics) scanned the pair's whole history instead
  // (300 grants: 32 µs per read; 3 µs so).
  const pair = 'client_id = ? AND subject_type = ? AND subject_id = ?';
  const pairValues = [grant.clientId, grant.subjectType, grant.subjectId];
  const grants = yield* tx.all<{ grant_id: string; created_at: number; revoked_at: number | null }>(
    `SELECT grant_id, created_at, revoked_at FROM grants WHERE ${pair} AND revoked_at IS NULL
     UNION ALL SELECT grant_id, created_at, revoked_at FROM grants WHERE ${pair} AND revoked_at >= ?`,
    [...pairValues, ...pairValues, code.issuedAt - RECENT_GRANTS_WINDOW_SECONDS],
  );
  if (codeIsOutdated(code, grants)) return 'code_outdated';
  for (const row of grants) {
    if (row.revoked_at === null) yield* revokeGrantSteps(tx, String(row.grant_id), grant.createdAt, 'superseded');
  }
  yield* tx.run(
    `INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at, revoked_at, revocation_reason, resources)
     VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)`,
    [grant.grantId, grant.clientId, grant.userId, grant.subjectType, grant.subjectId, grant.scope.join(' '), grant.createdAt, resourcesColumn(grant.resources)],
  );
  yield* sqliteInsertTokens(tx, tokens);
  if (consumedAt === null) yield* tx.run('UPDATE authorization_codes SET grant_id = ? WHERE code_digest = ?', [grant.grantId, codeDigest]);
  else yield* tx.run('UPDATE authorization_codes SET consumed_at = ?, grant_id = ? WHERE code_digest = ?', [consumedAt, grant.grantId, codeDigest]);
  if (auditEvent) yield* insertAuditEventSteps(tx, auditEvent);
  return 'issued';
}

/**
 * SPEC decision 6 (SQLite; `gatehouse_redeem_code` on PostgreSQL, migration 48): whether something newer
 * happened to the code's (client, subject) after it was written, given the pair's live grants and those revoked
 * since the code's window began. A code written since migration 48 is judged by what it saw then, in commit
 * order: the live grant is another (a revocation, a Disconnect, a newer redemption superseding it), or there are
 * more grants stamped within its window than it counted (a newer redemption, even one revoked since). Seconds
 * cannot order events of one second, nor a grant committed after the code but stamped earlier by its request's
 * clock. A code written before 48: a grant created after its second or revoked after it.
 */
function codeIsOutdated(code: CodeIssue, grants: ReadonlyArray<{ grant_id: string; created_at: number; revoked_at: number | null }>): boolean {
  const issuedAt = code.issuedAt;
  if (code.activeGrantAtIssue === null || code.recentGrantsAtIssue === null) {
    return grants.some((row) => row.created_at > issuedAt || (row.revoked_at !== null && row.revoked_at > issuedAt));
  }
  const live = grants.filter((row) => row.revoked_at === null).map((row) => String(row.grant_id)).sort();
  if ((live[0] ?? '') !== code.activeGrantAtIssue) return true;
  const since = issuedAt - RECENT_GRANTS_WINDOW_SECONDS;
  return grants.filter((row) => row.created_at >= since).length > code.recentGrantsAtIssue;
}

/**
 * PostgreSQL: issueForCode and exchangeCode as ONE statement (one round trip, all or nothing). Parameters:
 * $1–$10 the tokens' columns, $11–$18 `gatehouse_redeem_code`'s (code digest, redeeming client or NULL,
 * the grant's client, subject type and id, now, the grant's creation time = when it supersedes, consume?),
 * $19–$21 the grant's id, user and scope, $22–$27 the audit event (all NULL without one), $28 the grant's
 * resources, $29–$30 the tokens' audiences and DPoP key thumbprints, $31–$32 whether to check the client
 * and the secret digest it authenticated with (storage.ts AuthenticatedClient; migration 47). The grant's scope
 * ($21) is also the scope the exchange may grant: migration 49's overload refuses it ('scope_narrowed', nothing
 * written) when the client, read under its lock, is no longer registered for all of it (README "Registering clients").
 */
const REDEEM_CODE = `WITH redeemed AS (
    SELECT * FROM gatehouse_redeem_code($11, $12, $13, $14, $15, $16, $17, $18, $31, $32, $21)
  ), new_grant AS (
    INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at, revoked_at, revocation_reason, resources)
    SELECT $19, $13, $20, $14, $15, $21, $17, NULL, NULL, $28 FROM redeemed WHERE redeem_outcome = 'issued'
  ), new_tokens AS (
    ${postgresInsertTokens(1, 29)} WHERE EXISTS (SELECT 1 FROM redeemed WHERE redeem_outcome = 'issued')
  ), linked AS (
    UPDATE authorization_codes SET consumed_at = COALESCE(consumed_at, $16), grant_id = $19
    WHERE code_digest = $11 AND EXISTS (SELECT 1 FROM redeemed WHERE redeem_outcome = 'issued')
  ), audited AS (
    -- The audit event commits with the grant, and only if it was issued ($22 is NULL when none is given).
    INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)
    SELECT $22::text, $23::bigint, $24::text, $25::text, $26::text, $27::jsonb
    WHERE $22::text IS NOT NULL AND EXISTS (SELECT 1 FROM redeemed WHERE redeem_outcome = 'issued')
  )
  SELECT redeem_outcome, replay_grant_id, granted_scope FROM redeemed`;

/**
 * Issue 12: issueForCode (`consume` false: the code was consumed before) and exchangeCode (`consume`
 * true) as ONE named statement: `gatehouse_redeem_code` (migration 20) takes the locks, makes the checks
 * on freshly read rows (RFC 6749 §4.1.2 single use, §4.1.3 the redeeming client, SPEC decision 6) and
 * supersedes the previous grant (SPEC decision 11); the statement's other parts store the grant, its
 * tokens, the code's link and the audit event only when it answers `issued`. A deadlock (40P01) or
 * serialization failure (40001) rolled everything back: it runs again (twice at most).
 * @returns the function's outcome (`issued`, `replayed`, `code_replayed`, `code_outdated`, `unknown`) and,
 * when replayed, the grant the code's first use produced.
 */
async function postgresRedeemCode(
  db: SqlDriver, codeDigest: string, clientId: string | null, now: number, grant: GrantRecord, tokens: TokenRecord[],
  auditEvent: AuditEvent | undefined, consume: boolean, authenticated: AuthenticatedClient | undefined,
): Promise<{ outcome: string; replayGrantId: string | null; grantedScope: string | null }> {
  const values = [
    ...postgresTokenColumns(tokens), codeDigest, clientId, grant.clientId, grant.subjectType, grant.subjectId, now, grant.createdAt, consume,
    grant.grantId, grant.userId, grant.scope.join(' '), ...(auditEvent ? auditEventColumns(auditEvent) : [null, null, null, null, null, null]),
    resourcesColumn(grant.resources), tokenAudiences(tokens), tokenJkts(tokens), authenticated !== undefined, authenticated?.secretDigest ?? null,
  ];
  const row = await retryingDeadlocks(() => db.get<{ redeem_outcome: string; replay_grant_id: string | null; granted_scope: string | null }>(
    REDEEM_CODE, values, { name: 'gatehouse_redeem_code' }));
  return { outcome: row!.redeem_outcome, replayGrantId: row!.replay_grant_id, grantedScope: row!.granted_scope };
}

/**
 * `grants.exchangeReadyCode`'s conditions (storage.ts ReadyCodeConditions) on a code read unused: SQLite's
 * check. PostgreSQL's is the readiness test of `gatehouse_exchange_ready_codes` (migration 38); the contract suite holds both to
 * the same answers (contract/grants.ts). `conditions.codeChallenge` is the presented verifier's S256 hash, compared
 * with the public challenge: `===` reveals nothing about the verifier (grants/pkce.ts, `challengeOf`; SPEC decision 9).
 */
function meetsReadyConditions(code: AuthorizationCodeRecord, now: number, conditions: ReadyCodeConditions): boolean {
  return now < code.expiresAt && code.redirectUri === conditions.redirectUri && code.codeChallenge === conditions.codeChallenge
    && (code.dpopJkt === undefined || code.dpopJkt === conditions.dpopJkt) && code.resources === undefined
    && code.scope.length > 0 && code.scope.every((name) => conditions.defaultResourceScopes.includes(name));
}

/** The grant, tokens and audit event `exchangeReadyCode` stores for `code`, as both databases write them. */
function issuedForCode(code: AuthorizationCodeRecord, now: number, grantId: string, tokens: TokenForCode[], auditEvent: AuditEvent | undefined) {
  const grant: GrantRecord = {
    grantId, clientId: code.clientId, userId: code.userId, subjectType: code.subjectType, subjectId: code.subjectId, scope: code.scope,
    createdAt: now, revokedAt: null, revocationReason: null,
  };
  const records = tokens.map((token): TokenRecord => ({
    tokenDigest: token.tokenDigest, tokenId: token.tokenId, kind: token.kind, grantId, clientId: code.clientId, scope: code.scope,
    issuedAt: now, expiresAt: token.expiresAt, rotatedAt: null, revokedAt: null, ...(token.dpopJkt === undefined ? {} : { dpopJkt: token.dpopJkt }),
  }));
  const event = auditEvent && { ...auditEvent, details: { ...auditEvent.details, scope: code.scope.join(' ') } };
  return { grant, tokens: records, ...(event ? { auditEvent: event } : {}) };
}

/** What `grants.exchangeReadyCode` was given (PostgreSQL: one exchange of a batch). */
interface PendingExchange {
  codeDigest: string;
  clientId: string;
  now: number;
  conditions: ReadyCodeConditions;
  grantId: string;
  tokens: TokenForCode[];
  auditEvent: AuditEvent | undefined;
}

const EXCHANGE_READY_CODES = `SELECT exchange, code, redeem_outcome, replay_grant_id
  FROM gatehouse_exchange_ready_codes(${Array.from({ length: 22 }, (_, i) => `$${i + 1}`).join(', ')})`;

/**
 * PostgreSQL: exchangeReadyCode for every exchange of a batch (postgres/statement-batches.ts) as ONE call of
 * `gatehouse_exchange_ready_codes` (migration 38): for each, the client's code read and checked against the
 * conditions (as meetsReadyConditions), and only then `gatehouse_redeem_code`'s locks and single use (SPEC
 * decisions 6 and 11), the grant, the code's link, the tokens and the audit event with the code's scope. A
 * deadlock (40P01) rolled the whole batch back: it runs again.
 */
async function postgresExchangeReadyCodes(db: SqlDriver, exchanges: PendingExchange[]): Promise<ExchangeReadyCodeResult[]> {
  const tokens = exchanges.flatMap((exchange, i) => exchange.tokens.map((token) => ({ token, exchange: i + 1 })));
  const audit = exchanges.map(({ auditEvent }) => (auditEvent ? auditEventColumns(auditEvent) : [null, null, null, null, null, null]));
  const values = [
    exchanges.map((e) => e.codeDigest), exchanges.map((e) => e.clientId), exchanges.map((e) => e.now), exchanges.map((e) => e.conditions.redirectUri),
    exchanges.map((e) => e.conditions.codeChallenge), exchanges.map((e) => e.conditions.dpopJkt), exchanges.map((e) => e.conditions.defaultResourceScopes.join(' ')),
    exchanges.map((e) => e.grantId),
    tokens.map(({ token }) => token.tokenDigest), tokens.map(({ token }) => token.tokenId), tokens.map(({ token }) => token.kind),
    tokens.map(({ token }) => token.expiresAt), tokens.map(({ token }) => token.dpopJkt ?? null), tokens.map(({ exchange }) => exchange),
    ...[0, 1, 2, 3, 4, 5].map((column) => audit.map((columns) => columns[column])),
    // storage.ts AuthenticatedClient (migration 47): whether to check the client, and its secret digest.
    exchanges.map((e) => e.conditions.clientSecretDigest !== undefined), exchanges.map((e) => e.conditions.clientSecretDigest ?? null),
  ];
  const rows = await retryingDeadlocks(() => db.all<Record<string, unknown>>(EXCHANGE_READY_CODES, values, { name: 'gatehouse_exchange_ready_codes' }));
  const results: ExchangeReadyCodeResult[] = exchanges.map(() => ({ outcome: 'not_ready' }));
  for (const row of rows) {
    const i = Number(row.exchange) - 1;
    const { now, grantId, tokens: minted, auditEvent } = exchanges[i]!;
    if (row.code === null) continue; // no such code for the client
    const stored = row.code as Record<string, unknown>;
    const code = toCode(stored);
    switch (row.redeem_outcome) {
      case null: results[i] = { outcome: 'not_ready', found: { code, used: stored.consumed_at !== null } }; break;
      case 'issued': results[i] = { outcome: 'issued', ...issuedForCode(code, now, grantId, minted, auditEvent) }; break;
      case 'replayed': results[i] = { outcome: 'replayed', code, grantId: row.replay_grant_id === null ? null : String(row.replay_grant_id) }; break;
      case 'code_outdated': results[i] = { outcome: 'code_outdated' }; break;
      case 'client_changed': results[i] = { outcome: 'client_changed' }; break;
      // README "Registering clients": nothing of the code's scope is registered for its client any more (migration
      // 49; a narrowing voids such a code): nothing written, and answered as a code that is no more.
      case 'scope_narrowed': results[i] = { outcome: 'not_ready' }; break;
      // Gone between the read and its lock (deleted with its user): no such code any more.
      default: results[i] = { outcome: 'not_ready' };
    }
  }
  return results;
}

/**
 * PostgreSQL, inside the caller's transaction: revokes a grant and its tokens with `gatehouse_revoke_grant`
 * (migration 42: the grant row first, for the lock order, then its tokens in a statement of their own, which
 * sees every token a rotation holding the lock committed; the audit event only if this revoked the grant;
 * the revocation time never before the grant's creation, migration 33), then its webhook delivery, built
 * from the revoked row (read under the lock this transaction holds).
 * @returns false when the grant was already revoked (or does not exist).
 */
function* postgresRevokeGrantSteps(tx: SqlTransaction, grantId: string, now: number, reason: string, effects?: GrantRevocationEffects): SqlStep<boolean> {
  const row = yield* tx.get<{ revoked: boolean }>(REVOKE_GRANT, revokeGrantValues(grantId, now, reason, effects?.auditEvent));
  if (!row!.revoked) return false;
  // Issue 15 §5: the side effects of a revocation commit with it, or not at all.
  if (effects?.webhookDelivery) {
    const revoked = yield* tx.get('SELECT * FROM grants WHERE grant_id = $1', [grantId]);
    yield* enqueueIfSubscribedSteps(tx, effects.webhookDelivery(toGrant(revoked!)));
  }
  return true;
}

/** A grant's revocation on PostgreSQL, with its tokens and its audit event, in one statement (migration 42). */
const REVOKE_GRANT = 'SELECT gatehouse_revoke_grant($1, $2, $3, $4, $5, $6, $7, $8, $9) AS revoked';

/** REVOKE_GRANT's parameters: the grant, the time (seconds), the reason, the audit event's six columns (NULL: none). */
const revokeGrantValues = (grantId: string, now: number, reason: string, auditEvent: AuditEvent | undefined): unknown[] =>
  [grantId, now, reason, ...(auditEvent ? auditEventColumns(auditEvent) : [null, null, null, null, null, null])];
