/**
 * Authorization codes (storage.ts `authorizationCodes`, RFC 6749 §4.1.2), written once for both databases
 * over the SQL driver (issue 12). Codes are stored by digest only. `consume` keeps one version per
 * database, side by side: single use is enforced differently (a transaction of the one writer on SQLite,
 * one conditional UPDATE under the row lock on PostgreSQL). The code exchange itself (consume and issue
 * in one operation) is `grants.exchangeCode` (stores/grants.ts).
 */
import { resourcesColumn, toCode } from '../rows.ts';
import type { SqlDialect, SqlDriver, SqlStep, SqlTransaction } from '../sql/driver.ts';
import type { AuditEvent, AuthorizationCodeRecord, ConsumeCodeResult, Storage } from '../storage.ts';
import { auditEventColumns, insertAuditEventSteps } from './audit.ts';
import { writtenRowsOf } from '../postgres/written-rows.ts';

const CODE_COLUMNS = `authorization_codes (code_digest, client_id, user_id, redirect_uri, scope, subject_type, subject_id,
  code_challenge, issued_at, expires_at, resources, dpop_jkt, active_grant_at_issue, recent_grants_at_issue)`;
/**
 * SPEC decision 6 in commit order (migration 48): how far back a code counts its (client, subject)'s grants, in
 * seconds before its `issuedAt`. A grant is stamped with its redemption's clock as that request began, so one
 * committed after the code was written may carry an earlier second (a request in flight, another instance's
 * clock): any grant stamped within this window is counted. Clocks and requests must stay within it (5 minutes).
 * `gatehouse_redeem_code` (migration 48) spells the same number.
 */
export const RECENT_GRANTS_WINDOW_SECONDS = 300;

/**
 * What the code saw of its (client, subject) as it was written, read in the insert itself (nothing commits
 * between): the pair's live grant ('' for none) and how many of its grants stamped within
 * RECENT_GRANTS_WINDOW_SECONDS before the code's second existed. Its redemption reads both again (stores/grants.ts
 * `codeIsOutdated`, `gatehouse_redeem_code`): another live grant (a revocation, a newer redemption) or one more
 * recent grant (a newer redemption, even one revoked since) happened after the code was written. Each a seek of
 * grants_by_subject (a grant created since is live or revoked since). Parameters follow the code's columns (`codeValues`).
 */
const PAIR = 'g.client_id = ? AND g.subject_type = ? AND g.subject_id = ?';
const AT_ISSUE = `COALESCE((SELECT min(g.grant_id) FROM grants g WHERE ${PAIR} AND g.revoked_at IS NULL), ''),
  (SELECT count(*) FROM grants g WHERE ${PAIR} AND g.revoked_at IS NULL AND g.created_at >= ?)
    + (SELECT count(*) FROM grants g WHERE ${PAIR} AND g.revoked_at >= ? AND g.created_at >= ?)`;
const INSERT_CODE = `INSERT INTO ${CODE_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${AT_ISSUE})`;
/**
 * `create` with `onlyForAdministrator`: the code only if its user administers its subject (the parameters
 * of `codeForAdministratorValues`). PostgreSQL infers the parameters' types from the columns. `from`: a
 * FROM clause the insert selects from (a row per code: the consent decision's consumed interaction).
 *
 * PostgreSQL reads the membership `FOR SHARE`: a removal in flight (stores/directory.ts, which voids the user's
 * unredeemed codes for the subject in its transaction) holds the row, so the check waits for it and then finds
 * no membership; read as last committed (READ COMMITTED), the code would be stored after the removal's void had
 * looked, and redeem for a subject the user no longer administers. SQLite's one writer orders them already.
 */
export const insertCodeForAdministrator = (dialect: SqlDialect, from = '') => `INSERT INTO ${CODE_COLUMNS} SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${AT_ISSUE} ${from}
  WHERE EXISTS (SELECT 1 FROM subject_administrators a WHERE a.user_id = ? AND a.subject_type = ? AND a.subject_id = ?${dialect === 'postgres' ? ' FOR SHARE' : ''})`;
const INSERT_CODE_FOR_ADMINISTRATOR = { sqlite: insertCodeForAdministrator('sqlite'), postgres: insertCodeForAdministrator('postgres') };

/** The parameters of INSERT_CODE: the code's columns in order, then AT_ISSUE's (its client and subject, and where its window starts). */
function codeValues(code: AuthorizationCodeRecord): unknown[] {
  const pair = [code.clientId, code.subjectType, code.subjectId];
  const since = code.issuedAt - RECENT_GRANTS_WINDOW_SECONDS;
  return [code.codeDigest, code.clientId, code.userId, code.redirectUri, code.scope.join(' '), code.subjectType, code.subjectId,
    code.codeChallenge, code.issuedAt, code.expiresAt, resourcesColumn(code.resources), code.dpopJkt ?? null,
    ...pair, ...pair, since, ...pair, since, since];
}

/** The parameters of `insertCodeForAdministrator`: the code's columns, then its user and subject for the check. */
export function codeForAdministratorValues(code: AuthorizationCodeRecord): unknown[] {
  return [...codeValues(code), code.userId, code.subjectType, code.subjectId];
}

/**
 * SQLite, inside the caller's transaction: `create` with `onlyForAdministrator` and its audit event.
 * @returns false when the user does not administer the subject: nothing was written.
 */
export function* createCodeForAdministratorSteps(tx: SqlTransaction, code: AuthorizationCodeRecord, auditEvent: AuditEvent): SqlStep<boolean> {
  if ((yield* tx.run(INSERT_CODE_FOR_ADMINISTRATOR[tx.dialect], codeForAdministratorValues(code))).changes !== 1) return false;
  yield* insertAuditEventSteps(tx, auditEvent);
  return true;
}

export function createAuthorizationCodeStore(db: SqlDriver): Storage['authorizationCodes'] {
  // PostgreSQL: the codes this instance wrote, so that their exchange is one round trip (postgres/written-rows.ts).
  const written = db.dialect === 'postgres' ? writtenRowsOf(db) : undefined;
  return {
    async create(code, auditEvent, options) {
      const [insert, values] = options?.onlyForAdministrator
        ? [INSERT_CODE_FOR_ADMINISTRATOR[db.dialect], codeForAdministratorValues(code)]
        : [INSERT_CODE, codeValues(code)];
      let created: boolean;
      if (!auditEvent) {
        created = (await db.run(insert, values)).changes === 1;
      } else if (db.dialect === 'postgres') {
        // Issue 12: the code and its consent's audit event in one statement (one round trip, one commit); the
        // event only with the code.
        const { changes } = await db.run(`WITH code AS (${insert} RETURNING 1) INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)
          SELECT ?, ?, ?, ?, ?, ? FROM code`, [...values, ...auditEventColumns(auditEvent)], {
          name: options?.onlyForAdministrator ? 'gatehouse_create_code_for_administrator_audited' : 'gatehouse_create_code_audited',
        });
        created = changes === 1;
      } else {
        // One transaction: one commit, and one flush to wait for instead of two.
        created = await db.transaction(function* (tx) {
          if ((yield* tx.run(insert, values)).changes !== 1) return false;
          yield* insertAuditEventSteps(tx, auditEvent);
          return true;
        });
      }
      if (created) written?.rememberCode(code);
      return created;
    },
    async find(codeDigest, clientId, options) {
      // PostgreSQL, for a redemption only: a code this instance wrote and has not redeemed reads as unused
      // without a round trip; the redemption (grants.exchangeCode) re-checks single use under the code's row
      // lock, and answers `replayed` if another instance redeemed it meanwhile (postgres/written-rows.ts).
      const remembered = options?.forRedemption ? written?.code(codeDigest) : undefined;
      if (remembered?.clientId === clientId) return { code: remembered, used: false };
      // The token endpoint's read before an exchange that cannot be checked in storage (JWT access tokens, a
      // resource parameter: grants.exchangeReadyCode covers the rest) or that it refused: named on PostgreSQL.
      const row = await db.get('SELECT * FROM authorization_codes WHERE code_digest = ? AND client_id = ?', [codeDigest, clientId], {
        name: 'gatehouse_find_code_for_client',
      });
      return row && { code: toCode(row), used: row.consumed_at !== null };
    },
    async consume(codeDigest, now, clientId): Promise<ConsumeCodeResult> {
      if (written) {
        written.forgetCode(codeDigest);
        // RFC 6749 §4.1.2 single use, in one statement: SET sees the row as it was, so the first call sets
        // consumed_at and leaves replayed_at NULL; every later one (queued on the row lock and re-checked
        // against the committed row) sets replayed_at, which makes a concurrent issueForCode refuse.
        // PostgreSQL-only text: `$n` placeholders (a parameter used twice is sent once; the driver numbers only `?`).
        const row = await db.get(
          `UPDATE authorization_codes SET
             consumed_at = COALESCE(consumed_at, $2),
             replayed_at = CASE WHEN consumed_at IS NULL THEN NULL ELSE COALESCE(replayed_at, $2) END
           WHERE code_digest = $1 AND ($3::text IS NULL OR client_id = $3) RETURNING *`,
          // RFC 6749 §4.1.3: another client's code is unknown to this client, and stays unconsumed.
          [codeDigest, now, clientId ?? null],
          { name: 'gatehouse_consume_code_for_client' },
        );
        if (!row) return { outcome: 'unknown' };
        if (row.replayed_at === null) return { outcome: 'consumed', code: toCode(row) };
        return { outcome: 'replayed', code: toCode(row), grantId: row.grant_id === null ? null : String(row.grant_id) };
      }
      // SQLite: one writer at a time, so reading the row and then marking it in one transaction is atomic
      // (across processes too: BEGIN IMMEDIATE, or a SAVEPOINT of the group commit's batch).
      return db.transaction(function* (tx) {
        const row = yield* tx.get('SELECT * FROM authorization_codes WHERE code_digest = ?', [codeDigest]);
        // RFC 6749 §4.1.3: another client's code is unknown to this client, and stays unconsumed.
        if (!row || (clientId !== undefined && row.client_id !== clientId)) return { outcome: 'unknown' } as const;
        if (row.consumed_at === null) {
          yield* tx.run('UPDATE authorization_codes SET consumed_at = ? WHERE code_digest = ?', [now, codeDigest]);
          return { outcome: 'consumed', code: toCode(row) } as const;
        }
        // RFC 6749 §4.1.2: a second use; marked replayed (once), which makes a concurrent issueForCode refuse.
        if (row.replayed_at === null) yield* tx.run('UPDATE authorization_codes SET replayed_at = ? WHERE code_digest = ?', [now, codeDigest]);
        return { outcome: 'replayed', code: toCode(row), grantId: row.grant_id === null ? null : String(row.grant_id) } as const;
      });
    },
  };
}
