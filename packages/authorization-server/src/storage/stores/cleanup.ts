/**
 * Cleanup (storage.ts `cleanup.deleteExpired`), written once for both databases (issue 12): one list of
 * what expires (table, indexed time column, condition, retention), and the two statements whose
 * atomicity differs, a batch delete and a batch of refresh-token families, side by side per dialect.
 *
 * Every batch is ordered by the indexed time column, so its candidates come from an index range: an idle
 * run costs a few index probes however big the tables are. Two columns keep it that way:
 * `grants.cleanup_after` (set at revocation: the latest expiry of the grant's tokens) and
 * `tokens.cleanup_after` (set by cleanup on an expired refresh token kept for its live family: the
 * family's expiry as it was then), so rows that must stay are not examined again on every run.
 *
 * SQLite: the batches up to the first full one share one short write transaction (an idle run is one
 * transaction, one COMMIT), and the run yields to the event loop after each full batch: node:sqlite is
 * synchronous, and requests must not wait for a whole cleanup. PostgreSQL: batches take
 * their rows `FOR UPDATE … SKIP LOCKED`, so every instance can run cleanup at once (storage.ts: rows
 * another run holds are skipped, never waited for or deleted twice).
 */
import { runStepsAsync, sqlTransaction, type SqlDialect, type SqlDriver, type SqlRequest, type SqlStep, type SqlTransaction } from '../sql/driver.ts';
import { AUTHORIZATION_CODE_RETENTION_SECONDS, type CleanupResult, PARTNER_TEAM_INVITATION_RETENTION_SECONDS, type Storage } from '../storage.ts';

/** One kind of row cleanup deletes once its time has passed. */
interface ExpiringRows {
  /** The CleanupResult field that counts them. */
  kind: Exclude<keyof CleanupResult, 'deleted'>;
  table: string;
  /** The time (seconds) after which a row may go, on alias `x`: an indexed column or indexed expression. */
  time: string;
  /** More conditions a row must meet, on alias `x` (each must match a partial index's WHERE where there is one). */
  where?: string;
  /** Seconds a row is kept after its time. */
  retention?: number;
}

/**
 * What cleanup deletes, in this order (storage.ts `cleanup.deleteExpired` says what and why). The refresh
 * tokens entry names the candidates of the family step (batchSteps), not a plain batch delete.
 */
const EXPIRING: readonly ExpiringRows[] = [
  { kind: 'loginSessions', table: 'login_sessions', time: 'x.expires_at' },
  // Replay detection stays meaningful for a day after expiry (AUTHORIZATION_CODE_RETENTION_SECONDS, RFC 6749 §4.1.2).
  { kind: 'authorizationCodes', table: 'authorization_codes', time: 'x.expires_at', retention: AUTHORIZATION_CODE_RETENTION_SECONDS },
  { kind: 'accessTokens', table: 'tokens', time: 'x.expires_at', where: "x.kind = 'access'" },
  // SPEC decision 8: by when they are next due (tokens_refresh_cleanup); only whole families go.
  { kind: 'refreshTokens', table: 'tokens', time: 'COALESCE(x.cleanup_after, x.expires_at)', where: "x.kind = 'refresh'" },
  // After the tokens and codes above, so that a grant whose last rows just went goes in the same run. Only
  // revoked grants whose tokens have all expired (cleanup_after, set at revocation) are candidates; a
  // revoked grant never gains tokens or codes again, so "none left" stays true until the delete.
  {
    kind: 'grants', table: 'grants', time: 'x.cleanup_after',
    where: `x.revoked_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.grant_id = x.grant_id)
      AND NOT EXISTS (SELECT 1 FROM authorization_codes c WHERE c.grant_id = x.grant_id)`,
  },
  { kind: 'loginThrottleWindows', table: 'login_throttle', time: 'x.window_ends_at' },
  { kind: 'interactions', table: 'interactions', time: 'x.expires_at' },
  { kind: 'rateLimitWindows', table: 'rate_limit_windows', time: 'x.window_ends_at' },
  { kind: 'knownDevices', table: 'known_devices', time: 'x.expires_at' },
  { kind: 'pushedRequests', table: 'pushed_requests', time: 'x.expires_at' },
  // SPEC decision 8: a grace record whose window ended answers no retry any more.
  { kind: 'refreshTokenGrace', table: 'refresh_token_grace', time: 'x.grace_expires_at' },
  // Issue 13: an invitation answered or not is of no use once expired; kept a while so an invitee who opens an old
  // e-mail is told it expired rather than that it does not exist (the audit log keeps the history).
  { kind: 'partnerTeamInvitations', table: 'partner_team_invitations', time: 'x.expires_at', retention: PARTNER_TEAM_INVITATION_RETENTION_SECONDS },
];

/** Those of `rows` whose time is at or before the first `?` (now minus retention), in index order, at most the second `?`. */
function dueRows(rows: ExpiringRows, selected: string): string {
  return `SELECT ${selected} FROM ${rows.table} x WHERE ${rows.where ? `${rows.where} AND ` : ''}${rows.time} <= ? ORDER BY ${rows.time} LIMIT ?`;
}

/**
 * One DELETE of at most `limit` due rows (params: due, limit), in the order of the indexed time column:
 * the candidates come from an index range, so a run over a big table with nothing to delete reads a few
 * index pages, never the whole table.
 */
function batchDelete(dialect: SqlDialect, rows: ExpiringRows): string {
  if (dialect === 'postgres') {
    // FOR UPDATE SKIP LOCKED: each batch takes rows no other run holds, and rows a request is updating are
    // left for the next run instead of being waited for.
    return `DELETE FROM ${rows.table} WHERE ctid = ANY (ARRAY(${dueRows(rows, 'x.ctid')} FOR UPDATE OF x SKIP LOCKED))`;
  }
  // SQLite runs one writer at a time, so there is nothing to skip; the subquery bounds the batch
  // (node:sqlite is built without DELETE … LIMIT). Rows are named by rowid (no index lookup; every table
  // here has one: `tokens` as WITHOUT ROWID measured ~50% more CPU per rotation, bench/storage-operations.ts).
  return `DELETE FROM ${rows.table} WHERE rowid IN (${dueRows(rows, 'x.rowid')})`;
}

/** One batch's outcome: rows deleted, and whether it was full (more may be due: run another). */
interface Batch {
  deleted: number;
  full: boolean;
}

/**
 * One batch of `rows` due at `due`: at most `limit` rows.
 *
 * Refresh tokens, SPEC decision 8: a refresh token goes only with its whole family. The batch's expired
 * refresh tokens, by when they are next due: those whose family has expired are deleted; the others are
 * kept (still recognised as replays) and marked not to be looked at again before the family's expiry as it
 * is now (`cleanup_after`), so kept tokens are not rescanned on every run.
 */
function* batchSteps(tx: SqlTransaction, rows: ExpiringRows, due: number, limit: number): SqlStep<Batch> {
  if (rows.kind !== 'refreshTokens') {
    const { changes } = yield* tx.run(batchDelete(tx.dialect, rows), [due, limit]);
    return { deleted: changes, full: changes >= limit };
  }
  const candidates = (key: string) => dueRows(rows, `${key} AS token_key,
    (SELECT max(u.expires_at) FROM tokens u WHERE u.grant_id = x.grant_id AND u.kind = 'refresh') AS family_expires_at`);
  if (tx.dialect === 'postgres') {
    // ONE statement (one round trip, atomic): the candidates are locked SKIP LOCKED, as in batchDelete.
    const row = yield* tx.get(
      `WITH candidates AS (${candidates('x.ctid')} FOR UPDATE OF x SKIP LOCKED),
       deleted AS (
         DELETE FROM tokens WHERE ctid = ANY (ARRAY(SELECT token_key FROM candidates WHERE family_expires_at <= ?)) RETURNING 1
       ), kept AS (
         UPDATE tokens SET cleanup_after = c.family_expires_at FROM candidates c
         WHERE tokens.ctid = c.token_key AND c.family_expires_at > ? RETURNING 1
       )
       SELECT (SELECT count(*) FROM deleted)::int AS deleted, (SELECT count(*) FROM kept)::int AS kept`,
      [due, limit, due, due],
    );
    const deleted = Number(row?.deleted ?? 0);
    return { deleted, full: deleted + Number(row?.kept ?? 0) >= limit };
  }
  // SQLite, inside the pass's transaction: the candidates and their deletes and marks commit together;
  // named by rowid (no primary-key lookup per row).
  const found = yield* tx.all(candidates('x.rowid'), [due, limit]);
  let deleted = 0;
  for (const candidate of found) {
    const familyExpiresAt = Number(candidate.family_expires_at);
    if (familyExpiresAt <= due) deleted += (yield* tx.run('DELETE FROM tokens WHERE rowid = ?', [candidate.token_key])).changes;
    else yield* tx.run('UPDATE tokens SET cleanup_after = ? WHERE rowid = ?', [familyExpiresAt, candidate.token_key]);
  }
  return { deleted, full: found.length >= limit };
}

export function createCleanupStore(db: SqlDriver): Storage['cleanup'] {
  /** PostgreSQL: each statement of a pass on its own, autocommitted (one round trip; row locks held for that statement only). */
  const autocommit = (request: SqlRequest): Promise<unknown> => request.kind === 'get' ? db.get(request.text, request.params)
    : request.kind === 'all' ? db.all(request.text, request.params) : db.run(request.text, request.params);

  return {
    async deleteExpired(now, batchSize) {
      if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
      const result = Object.fromEntries(EXPIRING.map((rows) => [rows.kind, 0])) as Omit<CleanupResult, 'deleted'>;
      /**
       * Batches in EXPIRING's order from kind `first` on, until one comes back full (more of that kind may be
       * due; a batch that comes back short means none is left, or a concurrent run holds the rest).
       * @returns rows deleted by kind, and the kind to go on with (EXPIRING.length: done).
       */
      function* pass(tx: SqlTransaction, first: number): SqlStep<{ deleted: number[]; next: number }> {
        const deleted: number[] = [];
        for (let i = first; i < EXPIRING.length; i++) {
          const rows = EXPIRING[i]!;
          const batch = yield* batchSteps(tx, rows, now - (rows.retention ?? 0), batchSize);
          deleted[i] = batch.deleted;
          if (batch.full) return { deleted, next: i };
        }
        return { deleted, next: EXPIRING.length };
      }
      for (let next = 0; next < EXPIRING.length;) {
        // SQLite: one pass is one short write transaction (one COMMIT, however many kinds it covers; an idle run
        // is one), and node:sqlite is synchronous, so requests run between passes. PostgreSQL: statements
        // autocommit, and their awaits let requests run anyway.
        const done = db.dialect === 'sqlite'
          ? await db.transaction((tx) => pass(tx, next))
          : await runStepsAsync(pass(sqlTransaction('postgres'), next), autocommit);
        done.deleted.forEach((n, i) => { result[EXPIRING[i]!.kind] += n; });
        next = done.next;
        if (db.dialect === 'sqlite' && next < EXPIRING.length) await new Promise((resolve) => setImmediate(resolve));
      }
      return { deleted: Object.values(result).reduce((sum, n) => sum + n, 0), ...result };
    },
  };
}
