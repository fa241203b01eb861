/**
 * The token store (storage.ts `tokens`), written once for both databases over the SQL driver (issue 12).
 * Tokens are stored and looked up by digest only (SPEC decision 9); `token_id` is the public `jti`.
 *
 * Written once: the lookup's token ⋈ grant part, the grace-successor read, the revocations and the
 * revocation feed. Nothing looks a token up by `token_id`, and no index keeps it unique (migration 30,
 * issue 12: it is a random UUID, so its index cost every token written a random page). Dialect-specific,
 * side by side in one function each:
 * - the lookup's client comes from the backend's cached client store (`findClient`, storage/client-cache.ts)
 *   on both. SQLite: a lookup is one SELECT, and a client changed by `clients.update` (or by another
 *   connection: PRAGMA data_version) is seen by the very next lookup. PostgreSQL: another instance's change
 *   reaches the cache by a notification, a moment after it commits, so the same statement joins the
 *   client's `status` (the one column SPEC decision 13 rests on) and a cached record whose status differs is
 *   read again: a suspension anywhere is seen by the very next lookup, still in one round trip. (Joining the
 *   whole client row cost 27 more columns to describe and parse per lookup: 9% of an introspection's CPU.)
 * - `rotateRefreshToken` (SPEC decision 8): on PostgreSQL one call of `gatehouse_rotate_refresh_tokens`
 *   (migration 37) for the rotations of a turn or that queued while others were in flight (refresh-rotation-batches.ts:
 *   one round trip and one commit for a batch); a compare-and-swap transaction of five statements on SQLite
 *   (pinned by sqlite/refresh-statements.test.ts), in the group commit's shared COMMIT.
 * - `rotateReadyRefreshToken` (a refresh naming no scope, resource or DPoP proof, with opaque access
 *   tokens): the read, the refresh grant's checks (ReadyRefreshConditions) and the rotation in one
 *   operation. On PostgreSQL one call of `gatehouse_rotate_ready_refresh_tokens` (migration 41) for every
 *   such rotation that queued: one round trip instead of a lookup and a rotation; on SQLite one transaction
 *   of six statements. A token that does not meet them comes back as read, unchanged.
 * - the refresh grant's lookup (`findByDigest` with `forRotation`): on PostgreSQL, the refresh token this
 *   instance's exchange or last rotation wrote, from postgres/written-rows.ts (no round trip); the
 *   rotation's compare-and-swap re-checks its state.
 * - every other lookup on PostgreSQL (introspection; a refresh token this instance does not remember) goes
 *   with the turn's other lookups and those that queued while two were in flight, as one statement
 *   (postgres/statement-batches.ts).
 *
 * Hot statements carry their PostgreSQL names (`SqlStatementOptions.name`: prepared once per connection).
 */
import { toGrant, toToken, type Row } from '../rows.ts';
import type { SqlDriver, SqlStep, SqlTransaction } from '../sql/driver.ts';
import type {
  AuditEvent, ClientRecord, GraceSuccessor, GrantRecord, ReadyGraceSuccessor, ReadyRefreshConditions, RotateReadyRefreshTokenResult, ScopeNarrowed, Storage,
  TokenForCode, TokenRecord, TokenWithGrant,
} from '../storage.ts';
import { retryingDeadlocks } from '../postgres/deadlock-retry.ts';
import { auditEventColumns, insertAuditEventSteps } from './audit.ts';
import { sqliteInsertTokens } from './token-rows.ts';
import { writtenRowsOf } from '../postgres/written-rows.ts';
import { createRotationBatches } from './refresh-rotation-batches.ts';
import { CLIENT_STATE_COLUMNS, clientChangedIn, clientChangedSteps } from './clients.ts';
import { createStatementBatches, type StatementBatches, type StatementBatchOptions } from '../postgres/statement-batches.ts';

export interface TokenStoreDependencies {
  /**
   * The client record of `clientId` (undefined if there is none), from the backend's cached client store
   * (`cacheClients(…).clients.find`), so that it is never staler than that cache allows.
   */
  findClient(clientId: string): Promise<ClientRecord | undefined>;
  /**
   * Drops `clientId`'s cached record (`cacheClients(…).invalidate`): PostgreSQL's lookup calls it when the
   * status it read with the token differs from the cached record's, before reading the record again.
   */
  invalidateClient?(clientId: string): void;
  /**
   * SQLite (issue 12): runs the lookup (`text`, one digest parameter) on the read worker's connection, off
   * the event loop (sqlite/read-worker.ts), answered once what it may have read is durable. Used for the
   * lookups that no compare-and-swap follows (introspection, revocation); the refresh grant's stay here.
   */
  readElsewhere?(text: string, tokenDigest: string): Promise<Row | undefined>;
}

const TOKEN_COLUMNS = ['token_digest', 'token_id', 'kind', 'grant_id', 'client_id', 'scope', 'issued_at', 'expires_at', 'rotated_at', 'revoked_at', 'audience', 'dpop_jkt'];
const GRANT_COLUMNS = ['grant_id', 'client_id', 'user_id', 'subject_type', 'subject_id', 'scope', 'created_at', 'revoked_at', 'revocation_reason', 'resources'];

/** The grant's columns as the lookup names them (`g_…`), beside the names `toGrant` reads. */
const LOOKUP_GRANT_COLUMNS = GRANT_COLUMNS.map((name) => [`g_${name}`, name] as const);

/** The grant of a lookup row: its `g_` columns under their own names (a loop over all of the row's 22 columns cost ~4 µs per lookup). */
function lookupGrant(row: Row): GrantRecord {
  const grantRow: Row = {};
  for (const [lookupName, name] of LOOKUP_GRANT_COLUMNS) grantRow[name] = row[lookupName];
  return toGrant(grantRow);
}

/**
 * The lookup behind findByDigest, by primary key: the token's columns as they are, the grant's prefixed
 * `g_`, and with `withClient` the client's status as `c_status` (PostgreSQL's lookups), with `'secret'` also
 * its secrets as CLIENT_STATE_COLUMNS names them (SQLite's rotation: storage.ts AuthenticatedClient) and its
 * scopes as `c_scopes` (README "Registering clients").
 */
function tokenLookup(withClient: boolean | 'secret'): string {
  const columns = [
    ...TOKEN_COLUMNS.map((name) => `t.${name}`),
    ...GRANT_COLUMNS.map((name) => `g.${name} AS g_${name}`),
    'g.last_used_at AS g_last_used_at',
    ...(withClient === 'secret' ? [CLIENT_STATE_COLUMNS, 'c.scopes AS c_scopes'] : withClient ? ['c.status AS c_status'] : []),
  ];
  return `SELECT ${columns.join(', ')} FROM tokens t JOIN grants g ON g.grant_id = t.grant_id${withClient ? ' JOIN clients c ON c.client_id = t.client_id' : ''}
    WHERE t.token_digest = ?`;
}

/**
 * PostgreSQL: tokenLookup for every digest of a batch (one array parameter), each by primary key. A
 * lateral subquery per digest, fenced by OFFSET 0 so that it is not flattened into a join: a generic plan
 * made on empty tables would otherwise read tokens and grants sequentially for `= ANY (…)`
 * (empty-table-plans.test.ts); the single lookup's equality always searches the primary keys.
 */
const POSTGRES_TOKEN_LOOKUPS = `SELECT x.* FROM unnest($1::text[]) AS d(digest),
  LATERAL (${tokenLookup(true).replace('t.token_digest = ?', 't.token_digest = d.digest')} OFFSET 0) AS x`;

export function createTokenStore(db: SqlDriver, { findClient, invalidateClient, readElsewhere }: TokenStoreDependencies): Storage['tokens'] {
  const postgres = db.dialect === 'postgres';
  const byDigest = tokenLookup(false); // SQLite's: one lookup, one statement
  const forReadyRotation = tokenLookup('secret'); // SQLite's rotation: the same, with the client's state
  // PostgreSQL (issue 12): a turn's lookups, and those that queue while two are in flight, go as one statement
  // (postgres/statement-batches.ts): introspection's and the refresh's reads share round trips as the writes do.
  const lookups = postgres ? createStatementBatches(async (digests: string[]) => {
    const rows = await db.all(POSTGRES_TOKEN_LOOKUPS, [digests], { name: 'gatehouse_tokens_by_token_digests' });
    const byToken = new Map(rows.map((row) => [String(row.token_digest), row]));
    return digests.map((digest) => byToken.get(digest));
  }) : undefined;
  // PostgreSQL: the refresh tokens this instance wrote, for the lookup before a rotation (postgres/written-rows.ts).
  const written = postgres ? writtenRowsOf(db) : undefined;
  const batches = postgres ? createRotationBatches(db) : undefined;
  const readyRotations = postgres ? createReadyRotationBatches(db) : undefined;

  return {
    /** One token with its grant and client (RFC 7662 §2.2 needs all three); undefined if any is missing. */
    async findByDigest(tokenDigest, options): Promise<TokenWithGrant | undefined> {
      if (options?.forRotation && written) {
        // Issue 12: the refresh token this instance's last rotation (or the exchange) wrote, without a round
        // trip; the rotation's compare-and-swap re-checks its state. The client from the client-record cache.
        const remembered = written.refreshToken(tokenDigest);
        const client = remembered && await findClient(remembered.token.clientId);
        if (remembered && client) return { ...remembered, client };
      }
      const row = lookups ? await lookups.submit(tokenDigest)
        : readElsewhere && !options?.forRotation ? await readElsewhere(byDigest, tokenDigest) : await db.get(byDigest, [tokenDigest]);
      if (!row) return undefined;
      const grant = lookupGrant(row);
      // From the client-record cache instead of a second SELECT; on PostgreSQL checked against the status
      // read with the token (another instance's change may not have been notified yet).
      const clientId = String(row.client_id);
      let client = await findClient(clientId);
      if (postgres && client?.status !== row.c_status) {
        invalidateClient?.(clientId);
        client = await findClient(clientId);
      }
      if (!client) return undefined;
      const token = toToken(row);
      // Read fresh and current: its grant is what the rotation that follows remembers with the successor.
      if (options?.forRotation && token.kind === 'refresh' && token.rotatedAt === null && token.revokedAt === null && grant.revokedAt === null) {
        written?.rememberRefreshToken(token, grant);
      }
      // The grant's recorded use, for introspection to decide whether to record one (issue 7, at most once a minute).
      return row.g_last_used_at === null ? { token, grant, client } : { token, grant, client, grantUseRecordedAt: Number(row.g_last_used_at) };
    },
    async rotateRefreshToken(presentedDigest, now, newTokens, auditEvent, graceSuccessor, authenticated) {
      if (written) {
        // Forgotten before the write: whatever its outcome, the presented token is no longer current here.
        const presented = written.takeRefreshToken(presentedDigest);
        // Issue 12: with the rotations that queued meanwhile, in one statement and one commit.
        // Not rotated: a lost race, or a client change (storage.ts AuthenticatedClient), told apart by the
        // function itself: the caller answers a lost race by revoking the grant, and a client change must not be one.
        const outcome = await batches!.submit({ presentedDigest, now, newTokens, auditEvent, graceSuccessor, authenticated });
        if (outcome !== 'rotated') return outcome;
        // The successor is current, and its grant was unrevoked at the rotation (it held the grant's row lock).
        const successor = newTokens.find((token) => token.kind === 'refresh');
        if (presented && successor) written.rememberRefreshToken(successor, presented.grant);
        return 'rotated';
      }
      // SQLite: one writer at a time, so the compare-and-swap and what follows it run in one transaction
      // (a SAVEPOINT of the group commit, sqlite/group-commit.ts) that nothing can interleave with.
      return db.transaction(function* (tx): SqlStep<'rotated' | 'not_current' | 'client_changed' | ScopeNarrowed> {
        if (authenticated && (yield* clientChangedSteps(tx, authenticated, now))) return 'client_changed';
        // README "Registering clients" (gatehouse_rotate_refresh_tokens on PostgreSQL, migration 51): new tokens naming
        // a scope the current token, as the one writer reads it now, or its client no longer has store nothing.
        const current = yield* tx.get<{ scope: string; c_scopes: string }>(
          `SELECT t.scope, c.scopes AS c_scopes FROM tokens t JOIN clients c ON c.client_id = t.client_id
             WHERE t.token_digest = ? AND t.rotated_at IS NULL AND t.revoked_at IS NULL`, [presentedDigest]);
        if (current) {
          const registered = current.c_scopes.split(' ');
          const left = current.scope.split(' ').filter((scope) => scope !== '' && registered.includes(scope));
          if (newTokens.some((token) => token.scope.some((scope) => !left.includes(scope)))) return { outcome: 'scope_narrowed', scope: left };
        }
        return yield* sqliteRotationSteps(tx, presentedDigest, now, newTokens, auditEvent, graceSuccessor);
      });
    },
    async rotateReadyRefreshToken(presentedDigest, now, conditions, newTokens, auditEvent, graceSuccessor): Promise<RotateReadyRefreshTokenResult> {
      if (written) {
        // As rotateRefreshToken: forgotten before the write, whatever its outcome.
        written.takeRefreshToken(presentedDigest);
        const result = await readyRotations!.submit({ presentedDigest, now, conditions, newTokens, auditEvent, graceSuccessor });
        const successor = result.outcome === 'rotated' ? result.tokens.find((token) => token.kind === 'refresh') : undefined;
        if (result.outcome === 'rotated' && successor) written.rememberRefreshToken(successor, result.grant);
        return result;
      }
      // SQLite: the read, the check and the rotation in one transaction of the one writer.
      return db.transaction(function* (tx): SqlStep<RotateReadyRefreshTokenResult> {
        const row = yield* tx.get(forReadyRotation, [presentedDigest]);
        if (!row) return { outcome: 'not_ready' };
        const presented = toToken(row);
        const grant = lookupGrant(row);
        // storage.ts AuthenticatedClient, for the client's own token (another's is the refresh grant's refusal).
        if (conditions.clientSecretDigest !== undefined && presented.clientId === conditions.clientId
          && clientChangedIn(row, { clientId: conditions.clientId, secretDigest: conditions.clientSecretDigest }, now)) {
          return { outcome: 'client_changed' };
        }
        if (!meetsReadyRefreshConditions(presented, grant, now, conditions)) return { outcome: 'not_ready', found: { token: presented, grant } };
        // README "Registering clients" (gatehouse_rotate_ready_refresh_tokens on PostgreSQL, migration 49): the scope
        // written is the token's less any scope its client is no longer registered for, as read in this write
        // transaction (the caller's conditions come from the client cache); nothing left: nothing rotated.
        const registered = String(row.c_scopes ?? '').split(' ');
        const scope = presented.scope.filter((name) => registered.includes(name));
        if (scope.length === 0) return { outcome: 'not_ready', found: { token: presented, grant } };
        const rotation = readyRotation(presented, scope, now, newTokens, auditEvent);
        const grace = graceSuccessor && { grantId: grant.grantId, previousDigest: presentedDigest, ...graceSuccessor };
        const outcome = yield* sqliteRotationSteps(tx, presentedDigest, now, rotation.tokens, rotation.auditEvent, grace, grant.grantId);
        return outcome === 'rotated' ? { outcome, presented, grant, scope, ...rotation } : { outcome, presented, grant };
      });
    },
    async findGraceSuccessor(presentedDigest) {
      // Through the presented token's row (tokens' primary key) to its grant's record (the grace table's
      // primary key): no index on previous_digest to keep up to date in every rotation (migration 30,
      // issue 12). The record answers only the very token its rotation replaced; never for a revoked grant.
      const row = await db.get(
        `SELECT r.grant_id, r.previous_digest, r.sealed_successor, r.grace_expires_at FROM tokens t
           JOIN refresh_token_grace r ON r.grant_id = t.grant_id JOIN grants g ON g.grant_id = r.grant_id
           WHERE t.token_digest = ? AND r.previous_digest = t.token_digest AND g.revoked_at IS NULL`,
        [presentedDigest],
        { name: 'gatehouse_find_grace_successor' },
      );
      return row && toGraceSuccessor(row);
    },
    async revokeAccessToken(tokenDigest, now, auditEvent) {
      const revoke = "UPDATE tokens SET revoked_at = ? WHERE token_digest = ? AND kind = 'access' AND revoked_at IS NULL";
      if (!auditEvent) return (await db.run(revoke, [now, tokenDigest])).changes > 0;
      if (db.dialect === 'postgres') {
        // One statement (one round trip): the audit event is inserted only if the UPDATE revoked the token.
        const row = await db.get(
          `WITH revoked AS (${revoke} RETURNING 1), audited AS (
             INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)
             SELECT ?::text, ?::bigint, ?::text, ?::text, ?::text, ?::jsonb WHERE EXISTS (SELECT 1 FROM revoked))
           SELECT count(*)::int AS revoked FROM revoked`,
          [now, tokenDigest, ...auditEventColumns(auditEvent)],
        );
        return Number(row?.revoked ?? 0) > 0;
      }
      return db.transaction(function* (tx) {
        const { changes } = yield* tx.run(revoke, [now, tokenDigest]);
        if (changes > 0) yield* insertAuditEventSteps(tx, auditEvent);
        return changes > 0;
      });
    },
    async listRevokedAccessTokens(position, now, limit, audience) {
      // Issue 15 §4: `audience` null matches tokens stored without one (the default resource), hence
      // IS NOT DISTINCT FROM (SQLite has it too, since 3.39); without `audience`, no audience condition.
      // After a token: a row-value comparison, which both databases answer with a seek of
      // tokens_revoked_access (revoked_at, token_id); token_id compares bytewise on both (BINARY, COLLATE "C").
      const { sinceSeconds, afterTokenId } = position;
      const start = afterTokenId === undefined ? 'revoked_at >= ?' : '(revoked_at, token_id) > (?, ?)';
      const parameters: unknown[] = afterTokenId === undefined ? [sinceSeconds, now] : [sinceSeconds, afterTokenId, now];
      if (audience !== undefined) parameters.push(audience);
      parameters.push(limit);
      const rows = await db.all(
        `SELECT token_id, expires_at, revoked_at FROM tokens
           WHERE kind = 'access' AND revoked_at IS NOT NULL AND ${start} AND expires_at > ?${audience === undefined ? '' : ' AND audience IS NOT DISTINCT FROM ?'}
           ORDER BY revoked_at, token_id LIMIT ?`,
        parameters,
      );
      return rows.map((row) => ({ tokenId: String(row.token_id), expiresAt: Number(row.expires_at), revokedAt: Number(row.revoked_at) }));
    },
  };
}

function toGraceSuccessor(row: Row): GraceSuccessor {
  return {
    grantId: String(row.grant_id), previousDigest: String(row.previous_digest),
    sealedSuccessor: String(row.sealed_successor), graceExpiresAt: Number(row.grace_expires_at),
  };
}

/**
 * SQLite's compare-and-swap rotation (SPEC decision 8), the body of `rotateRefreshToken`'s transaction and
 * of `rotateReadyRefreshToken`'s: five statements (pinned by sqlite/refresh-statements.test.ts).
 *
 * @param currentGrantId given by `rotateReadyRefreshToken`, which read the presented token and its grant in
 *   this same transaction and found the token current and the grant unrevoked: the batch holds SQLite's one
 *   write lock (`BEGIN IMMEDIATE`, group-commit.ts) and the steps run without yielding to other JavaScript,
 *   so nothing can have changed them since, and the rotation is a plain UPDATE by primary key (~2.5 µs
 *   less than the compare-and-swap's, which finds the grant again; issue 12).
 */
function* sqliteRotationSteps(
  tx: SqlTransaction, presentedDigest: string, now: number, newTokens: readonly TokenRecord[], auditEvent: AuditEvent | undefined,
  graceSuccessor: GraceSuccessor | undefined, currentGrantId?: string,
): SqlStep<'rotated' | 'not_current'> {
  let grantId = currentGrantId;
  if (grantId !== undefined) {
    yield* tx.run('UPDATE tokens SET rotated_at = ? WHERE token_digest = ?', [now, presentedDigest]);
  } else {
    // Issue 12: the compare-and-swap is one UPDATE … RETURNING (no SELECT first): it marks the presented
    // refresh token rotated only while it is current and its grant unrevoked, and says whether it did.
    // It sets rotated_at alone, a column no index covers, so it rewrites the row and nothing else.
    const current = yield* tx.get<{ grant_id: string }>(
      `UPDATE tokens SET rotated_at = ?
         WHERE token_digest = ? AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL
           AND EXISTS (SELECT 1 FROM grants g WHERE g.grant_id = tokens.grant_id AND g.revoked_at IS NULL)
         RETURNING grant_id`,
      [now, presentedDigest],
    );
    if (!current) return 'not_current';
    grantId = current.grant_id;
  }
  // SPEC §3: "all previous tokens are invalidated immediately" — the superseded access tokens too.
  yield* tx.run("UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND kind = 'access' AND revoked_at IS NULL", [now, grantId]);
  yield* sqliteInsertTokens(tx, newTokens);
  if (auditEvent) yield* insertAuditEventSteps(tx, auditEvent);
  // SPEC decision 8: the grace record follows the grant's last rotation, in the same commit.
  if (graceSuccessor) {
    yield* tx.run(
      `INSERT INTO refresh_token_grace (grant_id, previous_digest, sealed_successor, grace_expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (grant_id) DO UPDATE SET previous_digest = excluded.previous_digest,
           sealed_successor = excluded.sealed_successor, grace_expires_at = excluded.grace_expires_at`,
      [grantId, presentedDigest, graceSuccessor.sealedSuccessor, graceSuccessor.graceExpiresAt],
    );
  } else {
    yield* tx.run('DELETE FROM refresh_token_grace WHERE grant_id = ?', [grantId]);
  }
  return 'rotated';
}

/**
 * `tokens.rotateReadyRefreshToken`'s conditions (storage.ts ReadyRefreshConditions) on a token as read:
 * SQLite's check. PostgreSQL's is the readiness test of `gatehouse_rotate_ready_refresh_tokens` (migration
 * 41); the contract suite holds both to the same answers (contract/tokens.ts).
 */
function meetsReadyRefreshConditions(token: TokenRecord, grant: GrantRecord, now: number, conditions: ReadyRefreshConditions): boolean {
  return token.kind === 'refresh' && token.clientId === conditions.clientId && token.rotatedAt === null && token.revokedAt === null
    && now < token.expiresAt && token.dpopJkt === undefined && grant.revokedAt === null && grant.resources === undefined
    && token.scope.length > 0 && token.scope.every((name) => conditions.defaultResourceScopes.includes(name));
}

/**
 * The tokens and audit event `rotateReadyRefreshToken` stores for `presented`, as both databases write them:
 * its grant and client, `scope` (the presented token's as read under the rotation's lock, less any scope its
 * client lost), issued at `now`, for the default resource (no audience).
 */
function readyRotation(presented: TokenRecord, scope: string[], now: number, newTokens: readonly TokenForCode[], auditEvent: AuditEvent | undefined) {
  const tokens = newTokens.map((token): TokenRecord => ({
    tokenDigest: token.tokenDigest, tokenId: token.tokenId, kind: token.kind, grantId: presented.grantId, clientId: presented.clientId,
    scope, issuedAt: now, expiresAt: token.expiresAt, rotatedAt: null, revokedAt: null,
    ...(token.dpopJkt === undefined ? {} : { dpopJkt: token.dpopJkt }),
  }));
  const event = auditEvent && {
    ...auditEvent, clientId: presented.clientId, grantId: presented.grantId, details: { scope: scope.join(' '), previous_refresh_token_id: presented.tokenId, ...auditEvent.details },
  };
  return { tokens, ...(event ? { auditEvent: event } : {}) };
}

/** What `tokens.rotateReadyRefreshToken` was given (PostgreSQL: one rotation of a batch). */
export interface PendingReadyRotation {
  presentedDigest: string;
  now: number;
  conditions: ReadyRefreshConditions;
  newTokens: TokenForCode[];
  auditEvent: AuditEvent | undefined;
  graceSuccessor: ReadyGraceSuccessor | undefined;
}

/** PostgreSQL: the ready rotations of a turn, or that queue while others are in flight, as one call (postgresRotateReadyRefreshTokens). */
export function createReadyRotationBatches(db: SqlDriver, options: StatementBatchOptions = {}): StatementBatches<PendingReadyRotation, RotateReadyRefreshTokenResult> {
  return createStatementBatches((rotations: PendingReadyRotation[]) => postgresRotateReadyRefreshTokens(db, rotations), options);
}

const ROTATE_READY_REFRESH_TOKENS = `SELECT ready_rotation, token_row, ready_outcome
  FROM gatehouse_rotate_ready_refresh_tokens(${Array.from({ length: 18 }, (_, i) => `$${i + 1}`).join(', ')})`;

/**
 * PostgreSQL: rotateReadyRefreshToken for every rotation of a batch (postgres/statement-batches.ts) as ONE
 * call of `gatehouse_rotate_ready_refresh_tokens` (migration 41): for each, the token read with its grant
 * and client status and checked against the conditions (as meetsReadyRefreshConditions, and the client
 * still active), then `gatehouse_rotate_refresh_tokens`'s grant lock and compare-and-swap; then one INSERT
 * for every rotated token pair, one for the audit events, one for the grace records. A deadlock (40P01)
 * rolled the whole batch back: it runs again.
 */
async function postgresRotateReadyRefreshTokens(db: SqlDriver, rotations: PendingReadyRotation[]): Promise<RotateReadyRefreshTokenResult[]> {
  const tokens = rotations.flatMap((rotation, i) => rotation.newTokens.map((token) => ({ token, rotation: i + 1 })));
  const audit = rotations.map(({ auditEvent }) => (auditEvent ? auditEventColumns(auditEvent) : [null, null, null, null, null, null]));
  const values = [
    rotations.map((r) => r.presentedDigest), rotations.map((r) => r.now), rotations.map((r) => r.conditions.clientId),
    rotations.map((r) => r.conditions.defaultResourceScopes.join(' ')),
    tokens.map(({ token }) => token.tokenDigest), tokens.map(({ token }) => token.tokenId), tokens.map(({ token }) => token.kind),
    tokens.map(({ token }) => token.expiresAt), tokens.map(({ token }) => token.dpopJkt ?? null), tokens.map(({ rotation }) => rotation),
    // The audit event's type, time, actor and details (its client and grant are the token's).
    ...[0, 1, 2, 5].map((column) => audit.map((columns) => columns[column])),
    rotations.map((r) => r.graceSuccessor?.sealedSuccessor ?? null), rotations.map((r) => r.graceSuccessor?.graceExpiresAt ?? null),
    // storage.ts AuthenticatedClient (migration 47): whether to check the client, and its secret digest.
    rotations.map((r) => r.conditions.clientSecretDigest !== undefined), rotations.map((r) => r.conditions.clientSecretDigest ?? null),
  ];
  const rows = await retryingDeadlocks(() => db.all<Record<string, unknown>>(ROTATE_READY_REFRESH_TOKENS, values, { name: 'gatehouse_rotate_ready_refresh_tokens' }));
  const results: RotateReadyRefreshTokenResult[] = rotations.map(() => ({ outcome: 'not_ready' }));
  for (const row of rows) {
    const i = Number(row.ready_rotation) - 1;
    if (row.ready_outcome === 'client_changed') {
      results[i] = { outcome: 'client_changed' };
      continue;
    }
    const found = row.token_row as Row;
    const presented = toToken(found);
    const grant = lookupGrant(found);
    if (row.ready_outcome === 'rotated') {
      const { now, newTokens, auditEvent } = rotations[i]!;
      // README "Registering clients" (migration 49): the scope written, read under the grant's lock.
      const scope = String(found.written_scope).split(' ');
      results[i] = { outcome: 'rotated', presented, grant, scope, ...readyRotation(presented, scope, now, newTokens, auditEvent) };
    } else if (row.ready_outcome === 'not_current') {
      results[i] = { outcome: 'not_current', presented, grant };
    } else {
      results[i] = { outcome: 'not_ready', found: { token: presented, grant } };
    }
  }
  return results;
}
