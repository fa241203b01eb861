/**
 * The storage contract on SQLite through Node's built-in `node:sqlite` (no native addon).
 *
 * Durability: WAL with `synchronous=FULL`, so every committed rotation survives power loss before its
 * response is sent. Group commit (issue 12, group-commit.ts): the writes of one event-loop turn share one
 * `BEGIN IMMEDIATE` transaction and one COMMIT, each multi-statement operation in its own SAVEPOINT, and
 * every method resolves only after that commit. Atomicity across processes: one writer at a time,
 * `busy_timeout` waits for it; a batch holds the lock for one turn. Checkpoints run in a worker thread
 * (checkpoint-worker.ts), off the request path. Cleanup deletes in short batches and yields to the event
 * loop between them (node:sqlite is synchronous).
 */
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrations } from './migrations.ts';
import { sqliteStorageError } from './sqlite-unavailable.ts';
import { resourcesColumn } from '../rows.ts';
import { createSqliteDriver } from './sqlite-driver.ts';
import { createSharedStores } from '../stores/index.ts';
import { commitOpenBatches, createGroupCommit, settledAfterCommits } from './group-commit.ts';
import { type CheckpointOptions, startCheckpointWorker } from './checkpoint-worker.ts';
import { toClient, CLIENT_PATCH_COLUMNS, nullableNumber, prefixed, toCode, toGrant, toToken } from '../rows.ts';
import { webhookSubscribes } from '../rows.ts';
import { cacheClients, externalWriteCheck } from '../client-cache.ts';
import { cacheResources } from '../resource-cache.ts';
import { createResourceStore } from '../stores/resources.ts';
import type { GrantRevocationEffects, WebhookDeliveryRecord } from '../storage.ts';
import { loginDelayWaitSeconds } from '../login-delay.ts';
import { AUTHORIZATION_CODE_RETENTION_SECONDS } from '../storage.ts';
import type {
  AuditEvent,
  CleanupResult,
  ClientPatch,
  ConsumeCodeResult,
  ExchangeCodeResult,
  GrantRecord,
  LoginDelayRule,
  Storage,
  TokenRecord,
} from '../storage.ts';

type Row = Record<string, SQLInputValue>;

/** Statements that never write: they run outside the batch (and wait for it only when one is open). */
const READ_ONLY_STATEMENT = /^\s*(SELECT|PRAGMA)\b/i;

/** Tuning of createSqliteStorage (defaults suit a server; tests shorten them). */
export type SqliteStorageOptions = CheckpointOptions;

/** Opens (creating and migrating) a database file, or an in-memory one for `':memory:'`. */
export function createSqliteStorage(path: string, options: SqliteStorageOptions = {}): Storage {
  const db = openDatabase(path);
  migrate(db);

  // Every statement's errors pass through sqliteStorageError: a busy, full or failing database is a
  // StorageUnavailableError (SPEC decision 18: 503, never 500), anything else stays as it is.
  const translated = <T>(work: () => T): T => {
    try {
      return work();
    } catch (error) {
      throw sqliteStorageError(error);
    }
  };
  // Issue 12: the writes of one event-loop turn share one transaction and one COMMIT (group-commit.ts).
  const checkpoints = path === ':memory:' ? undefined : startCheckpointWorker(db, path, options);
  const group = createGroupCommit(db, { beforeBatch: () => checkpoints?.completeCheckpoint() });
  /** Runs `work` in its own SAVEPOINT of the turn's batch: all of its writes commit, or none does. */
  const transaction = <T>(work: () => T): T => translated(() => group.transaction(work));
  const statements = new Map<string, { statement: ReturnType<DatabaseSync['prepare']>; writes: boolean }>();
  const sql = (text: string) => {
    let prepared = statements.get(text);
    if (!prepared) {
      prepared = { statement: db.prepare(text), writes: !READ_ONLY_STATEMENT.test(text) };
      statements.set(text, prepared);
    }
    return prepared;
  };
  /** A write joins the turn's batch; a read sees it, so its answer waits for the batch's commit too. */
  const statement = <T>(text: string, execute: (statement: ReturnType<DatabaseSync['prepare']>) => T): T => translated(() => {
    const prepared = sql(text);
    return prepared.writes ? group.write(() => execute(prepared.statement)) : group.read(() => execute(prepared.statement));
  });
  const get = (text: string, ...params: SQLInputValue[]) => statement(text, (prepared) => prepared.get(...params) as Row | undefined);
  const all = (text: string, ...params: SQLInputValue[]) => statement(text, (prepared) => prepared.all(...params) as Row[]);
  const run = (text: string, ...params: SQLInputValue[]) => {
    return statement(text, (prepared) => prepared.run(...params));
  };
  /** The one SQL layer (issue 12): stores written once for both databases run over this. */
  const driver = createSqliteDriver({ get, all, run, transaction, durable: group.durable });

  /** Issue 12 (fewest statements): a pair of tokens is one multi-row INSERT, not two. */
  const insertTokens = (tokens: readonly TokenRecord[]) => {
    if (tokens.length === 0) return;
    run(
      `INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, audience, dpop_jkt)
       VALUES ${tokens.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      ...tokens.flatMap((token) => [
        token.tokenDigest, token.tokenId, token.kind, token.grantId, token.clientId, token.scope.join(' '),
        token.issuedAt, token.expiresAt, token.rotatedAt, token.revokedAt, token.audience ?? null, token.dpopJkt ?? null,
      ]),
    );
  };
  const insertAuditEvent = (event: AuditEvent) =>
    run('INSERT INTO audit_events (type, at, actor, client_id, grant_id, details) VALUES (?, ?, ?, ?, ?, ?)',
      event.type, event.at, event.actor, event.clientId ?? null, event.grantId ?? null, JSON.stringify(event.details ?? {}));
  /** Issue 15 §5: inside the caller's transaction, queues the delivery if its client's endpoint receives that event type. */
  const enqueueIfSubscribed = (d: WebhookDeliveryRecord): boolean => {
    const endpoint = get('SELECT event_types FROM webhook_endpoints WHERE client_id = ?', d.clientId);
    if (!endpoint || !webhookSubscribes(endpoint.event_types, d.eventType)) return false;
    run(
      `INSERT INTO webhook_deliveries (delivery_id, client_id, event_type, payload, created_at, attempts, next_attempt_at, last_attempt_at, last_status, delivered_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      d.deliveryId, d.clientId, d.eventType, d.payload, d.createdAt, d.attempts, d.nextAttemptAt, d.lastAttemptAt, d.lastStatus, d.deliveredAt,
    );
    return true;
  };
  const revokeGrant = (grantId: string, now: number, reason: string, effects?: GrantRevocationEffects): boolean => {
    const changed = run('UPDATE grants SET revoked_at = ?, revocation_reason = ? WHERE grant_id = ? AND revoked_at IS NULL', now, reason, grantId);
    run('UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL', now, grantId);
    // A revoked grant gains no tokens: once its latest token has expired, cleanup may consider it.
    run('UPDATE grants SET cleanup_after = (SELECT COALESCE(MAX(expires_at), 0) FROM tokens WHERE grant_id = ?) WHERE grant_id = ? AND revoked_at IS NOT NULL', grantId, grantId);
    const revoked = Number(changed.changes) > 0;
    // Issue 15 §5: the side effects of a revocation commit with it, or not at all.
    if (revoked && effects?.auditEvent) insertAuditEvent(effects.auditEvent);
    if (revoked && effects?.webhookDelivery) enqueueIfSubscribed(effects.webhookDelivery(toGrant(get('SELECT * FROM grants WHERE grant_id = ?', grantId)!)));
    return revoked;
  };

  /**
   * The body of issueForCode and exchangeCode, inside their transaction: the SPEC decision 6 check, the
   * supersede (SPEC decision 11), the grant, its tokens, the code's link and the audit event.
   */
  const issueGrant = (codeDigest: string, codeIssuedAt: number, grant: GrantRecord, tokens: TokenRecord[], auditEvent: AuditEvent | undefined): 'issued' | 'code_outdated' => {
    // SPEC decision 6: nothing newer happened to this (client, subject) since the code was issued — no
    // grant created after it (a newer redemption) and none revoked after it (a revocation, a disconnect).
    const newer = get(
      `SELECT 1 FROM grants WHERE client_id = ? AND subject_type = ? AND subject_id = ? AND (created_at > ? OR revoked_at > ?) LIMIT 1`,
      grant.clientId, grant.subjectType, grant.subjectId, codeIssuedAt, codeIssuedAt,
    );
    if (newer) return 'code_outdated';
    const previous = all(
      'SELECT grant_id FROM grants WHERE client_id = ? AND subject_type = ? AND subject_id = ? AND revoked_at IS NULL',
      grant.clientId, grant.subjectType, grant.subjectId,
    );
    for (const row of previous) revokeGrant(String(row.grant_id), grant.createdAt, 'superseded');
    run(
      `INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at, revoked_at, revocation_reason, resources)
       VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)`,
      grant.grantId, grant.clientId, grant.userId, grant.subjectType, grant.subjectId, grant.scope.join(' '), grant.createdAt,
      resourcesColumn(grant.resources),
    );
    insertTokens(tokens);
    run('UPDATE authorization_codes SET grant_id = ? WHERE code_digest = ?', grant.grantId, codeDigest);
    if (auditEvent) insertAuditEvent(auditEvent);
    return 'issued';
  };

  /** One token with its grant and client: the lookup behind findByDigest and findByTokenId. */
  const tokenWithGrant = (where: string, value: string) => {
    const row = get(
      `SELECT t.*, g.grant_id AS g_grant_id, g.client_id AS g_client_id, g.user_id AS g_user_id, g.subject_type AS g_subject_type,
         g.subject_id AS g_subject_id, g.scope AS g_scope, g.created_at AS g_created_at, g.revoked_at AS g_revoked_at,
         g.revocation_reason AS g_revocation_reason, g.resources AS g_resources
       FROM tokens t JOIN grants g ON g.grant_id = t.grant_id WHERE ${where}`,
      value,
    );
    if (!row) return undefined;
    const clientRow = get('SELECT * FROM clients WHERE client_id = ?', row.client_id as string);
    if (!clientRow) return undefined;
    return { token: toToken(row), grant: toGrant(prefixed(row, 'g_')), client: toClient(clientRow) };
  };

  // Issue 12: client records and the resource catalogue cached (storage/client-cache.ts, resource-cache.ts);
  // another connection's commit (the CLI, another process) changes PRAGMA data_version, and they are cleared then.
  const dataVersion = () => Number(get('PRAGMA data_version')!.data_version);
  const externalWrites = externalWriteCheck(dataVersion);
  const storage: Storage = {
    resources: cacheResources(createResourceStore(driver), { externalWrites: externalWriteCheck(dataVersion) }).resources,
    ...createSharedStores(driver),
    clients: cacheClients({
      async create(client) {
        run(
          `INSERT INTO clients (client_id, kind, client_name, client_type, secret_digest, redirect_uris, scopes, subject_type,
             pkce_required, status, client_uri, logo_uri, tos_uri, policy_uri, audience, created_at, initiation_uri, settings_uri,
             contacts, owner_user_id, previous_secret_digest, previous_secret_expires_at, branding_verified,
             require_pushed_authorization_requests, dpop_bound_access_tokens, description, category)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          client.clientId, client.kind, client.clientName, client.clientType, client.secretDigest,
          JSON.stringify(client.redirectUris), client.scopes.join(' '), client.subjectType, client.pkceRequired ? 1 : 0,
          client.status, client.clientUri, client.logoUri, client.tosUri, client.policyUri, client.audience, client.createdAt,
          client.initiationUri, client.settingsUri, JSON.stringify(client.contacts), client.ownerUserId, client.previousSecretDigest,
          client.previousSecretExpiresAt, client.brandingVerified ? 1 : 0,
          client.requirePushedAuthorizationRequests ? 1 : 0, client.dpopBoundAccessTokens ? 1 : 0,
          client.description ?? null, client.category ?? null,
        );
      },
      async listByOwner(userId) {
        return all('SELECT * FROM clients WHERE owner_user_id = ? ORDER BY created_at, client_name', userId).map(toClient);
      },
      async update(clientId, patch) {
        const assignments: string[] = [];
        const values: SQLInputValue[] = [];
        for (const [field, value] of Object.entries(patch)) {
          if (value === undefined) continue;
          const column = CLIENT_PATCH_COLUMNS[field as keyof ClientPatch];
          if (!column) throw new Error(`clients.update cannot change ${field}`);
          assignments.push(`${column} = ?`);
          values.push(toClientColumn(field as keyof ClientPatch, value));
        }
        if (assignments.length > 0) run(`UPDATE clients SET ${assignments.join(', ')} WHERE client_id = ?`, ...values, clientId);
        const row = get('SELECT * FROM clients WHERE client_id = ?', clientId);
        return row && toClient(row);
      },
      async find(clientId) {
        const row = get('SELECT * FROM clients WHERE client_id = ?', clientId);
        return row && toClient(row);
      },
      async list() {
        return all('SELECT * FROM clients ORDER BY created_at, client_name').map(toClient);
      },
    }, { externalWrites }).clients,
    authorizationCodes: {
      async create(code) {
        run(
          `INSERT INTO authorization_codes (code_digest, client_id, user_id, redirect_uri, scope, subject_type, subject_id,
             code_challenge, issued_at, expires_at, resources, dpop_jkt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          code.codeDigest, code.clientId, code.userId, code.redirectUri, code.scope.join(' '), code.subjectType, code.subjectId,
          code.codeChallenge, code.issuedAt, code.expiresAt, resourcesColumn(code.resources), code.dpopJkt ?? null,
        );
      },
      async find(codeDigest, clientId) {
        const row = get('SELECT * FROM authorization_codes WHERE code_digest = ? AND client_id = ?', codeDigest, clientId);
        return row && { code: toCode(row), used: row.consumed_at !== null };
      },
      async consume(codeDigest, now, clientId): Promise<ConsumeCodeResult> {
        return transaction(() => {
          const row = get('SELECT * FROM authorization_codes WHERE code_digest = ?', codeDigest);
          // RFC 6749 §4.1.3: another client's code is unknown to this client, and stays unconsumed.
          if (!row || (clientId !== undefined && row.client_id !== clientId)) return { outcome: 'unknown' } as const;
          if (row.consumed_at === null) {
            run('UPDATE authorization_codes SET consumed_at = ? WHERE code_digest = ?', now, codeDigest);
            return { outcome: 'consumed', code: toCode(row) } as const;
          }
          if (row.replayed_at === null) run('UPDATE authorization_codes SET replayed_at = ? WHERE code_digest = ?', now, codeDigest);
          return { outcome: 'replayed', code: toCode(row), grantId: row.grant_id === null ? null : String(row.grant_id) } as const;
        });
      },
    },
    grants: {
      async issueForCode(codeDigest, grant, tokens, auditEvent) {
        return transaction(() => {
          const code = get('SELECT replayed_at, grant_id, issued_at FROM authorization_codes WHERE code_digest = ?', codeDigest);
          if (!code || code.replayed_at !== null || code.grant_id !== null) return 'code_replayed' as const;
          return issueGrant(codeDigest, Number(code.issued_at), grant, tokens, auditEvent);
        });
      },
      async exchangeCode(codeDigest, clientId, now, grant, tokens, auditEvent) {
        // Issue 12: consume and issue in ONE transaction, so a failure anywhere leaves the code unused.
        return transaction((): ExchangeCodeResult => {
          const code = get('SELECT client_id, consumed_at, replayed_at, grant_id, issued_at FROM authorization_codes WHERE code_digest = ?', codeDigest);
          // RFC 6749 §4.1.3: another client's code is unknown to this client, and stays unconsumed.
          if (!code || code.client_id !== clientId) return { outcome: 'unknown' };
          if (code.consumed_at !== null) {
            // RFC 6749 §4.1.2: used before (a concurrent redemption won); marked replayed as consume() does.
            if (code.replayed_at === null) run('UPDATE authorization_codes SET replayed_at = ? WHERE code_digest = ?', now, codeDigest);
            return { outcome: 'replayed', grantId: code.grant_id === null ? null : String(code.grant_id) };
          }
          run('UPDATE authorization_codes SET consumed_at = ? WHERE code_digest = ?', now, codeDigest);
          return { outcome: issueGrant(codeDigest, Number(code.issued_at), grant, tokens, auditEvent) };
        });
      },
      async find(grantId) {
        const row = get('SELECT * FROM grants WHERE grant_id = ?', grantId);
        return row && toGrant(row);
      },
      async listActive(filter) {
        const [where, params]: [string, SQLInputValue[]] = 'clientId' in filter ? ['g.client_id = ?', [filter.clientId]]
          : 'userId' in filter ? ['g.user_id = ?', [filter.userId]] : ['g.subject_type = ? AND g.subject_id = ?', [filter.subjectType, filter.subjectId]];
        return all(
          `SELECT g.*, NULLIF(MAX(COALESCE(g.last_used_at, 0), COALESCE((SELECT MAX(t.issued_at) FROM tokens t WHERE t.grant_id = g.grant_id), 0)), 0) AS last_used
           FROM grants g WHERE ${where} AND g.revoked_at IS NULL ORDER BY g.created_at DESC, g.grant_id`, ...params,
        ).map((row) => ({ ...toGrant(row), lastUsedAt: row.last_used === null ? null : Number(row.last_used) }));
      },
      async recordUse(grantId, now, minimumIntervalSeconds) {
        run('UPDATE grants SET last_used_at = ? WHERE grant_id = ? AND (last_used_at IS NULL OR last_used_at <= ?)', now, grantId, now - minimumIntervalSeconds);
      },
      async findActive(clientId, subjectType, subjectId) {
        const row = get(
          'SELECT * FROM grants WHERE client_id = ? AND subject_type = ? AND subject_id = ? AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1',
          clientId, subjectType, subjectId,
        );
        return row && toGrant(row);
      },
      async revokeAllOfClient(clientId, now, reason, effects) {
        return transaction(() => {
          const grants = all('SELECT grant_id FROM grants WHERE client_id = ? AND revoked_at IS NULL', clientId);
          let revoked = 0;
          for (const grant of grants) if (revokeGrant(String(grant.grant_id), now, reason, { webhookDelivery: effects?.webhookDelivery })) revoked += 1;
          return revoked;
        });
      },
      async revoke(grantId, now, reason, effects) {
        return transaction(() => revokeGrant(grantId, now, reason, effects));
      },
    },
    tokens: {
      async findByDigest(tokenDigest) {
        return tokenWithGrant('t.token_digest = ?', tokenDigest);
      },
      async findByTokenId(tokenId) {
        return tokenWithGrant('t.token_id = ?', tokenId);
      },
      async rotateRefreshToken(presentedDigest, now, newTokens, auditEvent, graceSuccessor) {
        return transaction(() => {
          // Issue 12: the compare-and-swap is one UPDATE … RETURNING (no SELECT first): it marks the presented
          // refresh token rotated only while it is current and its grant unrevoked, and says whether it did.
          // It sets rotated_at alone, a column no index covers, so it rewrites the row and nothing else.
          const current = get(
            `UPDATE tokens SET rotated_at = ?
             WHERE token_digest = ? AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL
               AND EXISTS (SELECT 1 FROM grants g WHERE g.grant_id = tokens.grant_id AND g.revoked_at IS NULL)
             RETURNING grant_id`,
            now, presentedDigest,
          );
          if (!current) return 'not_current' as const;
          // SPEC §3: "all previous tokens are invalidated immediately" — the superseded access tokens too.
          run("UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND kind = 'access' AND revoked_at IS NULL", now, current.grant_id as string);
          insertTokens(newTokens);
          if (auditEvent) insertAuditEvent(auditEvent);
          // SPEC decision 8: the grace record follows the grant's last rotation, in the same commit.
          if (graceSuccessor) {
            run(
              `INSERT INTO refresh_token_grace (grant_id, previous_digest, sealed_successor, grace_expires_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (grant_id) DO UPDATE SET previous_digest = excluded.previous_digest,
                 sealed_successor = excluded.sealed_successor, grace_expires_at = excluded.grace_expires_at`,
              current.grant_id as string, presentedDigest, graceSuccessor.sealedSuccessor, graceSuccessor.graceExpiresAt,
            );
          } else {
            run('DELETE FROM refresh_token_grace WHERE grant_id = ?', current.grant_id as string);
          }
          return 'rotated' as const;
        });
      },
      async findGraceSuccessor(presentedDigest) {
        const row = get(
          `SELECT r.grant_id, r.previous_digest, r.sealed_successor, r.grace_expires_at FROM refresh_token_grace r
           JOIN grants g ON g.grant_id = r.grant_id WHERE r.previous_digest = ? AND g.revoked_at IS NULL`,
          presentedDigest,
        );
        return row && {
          grantId: String(row.grant_id), previousDigest: String(row.previous_digest),
          sealedSuccessor: String(row.sealed_successor), graceExpiresAt: Number(row.grace_expires_at),
        };
      },
      async revokeAccessToken(tokenDigest, now) {
        run("UPDATE tokens SET revoked_at = ? WHERE token_digest = ? AND kind = 'access' AND revoked_at IS NULL", now, tokenDigest);
      },
      async revokeAccessTokensOfClient(clientId, now) {
        // Issue 12 (index pruning): through the client's active grants (grants_by_client, tokens_by_grant),
        // so that tokens_by_client, which every rotation updated three times for this rare operation, can go.
        // The same tokens: a grant's tokens share its client, and revoking a grant revokes all its tokens.
        return Number(run(
          `UPDATE tokens SET revoked_at = ? WHERE kind = 'access' AND revoked_at IS NULL
             AND grant_id IN (SELECT grant_id FROM grants WHERE client_id = ? AND revoked_at IS NULL)`,
          now, clientId,
        ).changes);
      },
      async listRevokedAccessTokens(sinceSeconds, now, limit, audience) {
        return all(
          `SELECT token_id, expires_at, revoked_at FROM tokens
           WHERE kind = 'access' AND revoked_at IS NOT NULL AND revoked_at >= ? AND expires_at > ? AND (? = 0 OR audience IS ?)
           ORDER BY revoked_at, token_id LIMIT ?`,
          sinceSeconds, now, audience === undefined ? 0 : 1, audience ?? null, limit,
        ).map((row) => ({ tokenId: String(row.token_id), expiresAt: Number(row.expires_at), revokedAt: Number(row.revoked_at) }));
      },
    },
    loginThrottle: {
      async recordFailure(keys, now, limit) {
        const distinct = [...new Set(keys)];
        return transaction(() => {
          const windows = new Map<string, { endsAt: number; failures: number }>();
          for (const key of distinct) {
            const row = get('SELECT window_ends_at, failures FROM login_throttle WHERE throttle_key = ? AND window_ends_at > ?', key, now);
            if (row) windows.set(key, { endsAt: Number(row.window_ends_at), failures: Number(row.failures) });
          }
          // SPEC decision 18: a key over its limit refuses the attempt without counting it (the window stays fixed).
          let retryAfterSeconds = 0;
          for (const window of windows.values()) {
            if (window.failures >= limit.maxFailures) retryAfterSeconds = Math.max(retryAfterSeconds, window.endsAt - now);
          }
          if (retryAfterSeconds > 0) return { retryAfterSeconds, failures: keys.map((key) => windows.get(key)?.failures ?? 0) };
          for (const key of distinct) {
            const window = windows.get(key);
            if (window) {
              run('UPDATE login_throttle SET failures = failures + 1 WHERE throttle_key = ?', key);
              window.failures += 1;
            } else {
              // No current window (none, or an ended one): a new one starts with this failure.
              run(
                `INSERT INTO login_throttle (throttle_key, window_ends_at, failures) VALUES (?, ?, 1)
                 ON CONFLICT (throttle_key) DO UPDATE SET window_ends_at = excluded.window_ends_at, failures = 1`,
                key, now + limit.windowSeconds,
              );
              windows.set(key, { endsAt: now + limit.windowSeconds, failures: 1 });
            }
          }
          return { retryAfterSeconds: 0, failures: keys.map((key) => windows.get(key)!.failures) };
        });
      },
      async retract(keys, now) {
        for (const key of new Set(keys)) {
          run('UPDATE login_throttle SET failures = failures - 1 WHERE throttle_key = ? AND window_ends_at > ? AND failures > 0', key, now);
        }
      },
      async reset(key) {
        run('DELETE FROM login_throttle WHERE throttle_key = ?', key);
      },
      async attempt(counters, now) {
        const rules = new Map<string, LoginDelayRule>();
        for (const { key, rule } of counters) if (!rules.has(key)) rules.set(key, rule);
        return transaction(() => {
          const failures = new Map<string, number>();
          let retryAfterSeconds = 0;
          for (const [key, rule] of rules) {
            const row = get('SELECT failures, last_failure_at FROM login_throttle WHERE throttle_key = ? AND window_ends_at > ?', key, now);
            if (!row) continue;
            failures.set(key, Number(row.failures));
            retryAfterSeconds = Math.max(retryAfterSeconds, loginDelayWaitSeconds(rule, Number(row.failures), nullableNumber(row.last_failure_at), now));
          }
          // SPEC decision 18: an attempt that must wait is refused and counted nowhere.
          if (retryAfterSeconds > 0) return { retryAfterSeconds, failures: counters.map(({ key }) => failures.get(key) ?? 0) };
          for (const [key, rule] of rules) {
            const count = (failures.get(key) ?? 0) + 1;
            run(
              `INSERT INTO login_throttle (throttle_key, window_ends_at, failures, last_failure_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (throttle_key) DO UPDATE SET window_ends_at = excluded.window_ends_at, failures = excluded.failures,
                 last_failure_at = excluded.last_failure_at`,
              key, now + rule.forgetAfterSeconds, count, now,
            );
            failures.set(key, count);
          }
          return { retryAfterSeconds: 0, failures: counters.map(({ key }) => failures.get(key)!) };
        });
      },
    },
    rateLimits: {
      async hit(keys, windowSeconds, now) {
        if (!Number.isInteger(windowSeconds) || windowSeconds < 1) throw new RangeError('windowSeconds must be a positive integer');
        const distinct = [...new Set(keys)];
        // With group commit a hit shares its turn's one COMMIT (and fsync) with the other writes of that turn.
        const windows = transaction(() => new Map(distinct.map((key) => {
          // One statement per key: a new window, a hit in the current one, or a new window over an ended one.
          const row = get(
            `INSERT INTO rate_limit_windows (limit_key, window_ends_at, hits) VALUES (?1, ?2 + ?3, 1)
             ON CONFLICT (limit_key) DO UPDATE SET
               hits = CASE WHEN window_ends_at > ?2 THEN hits + 1 ELSE 1 END,
               window_ends_at = CASE WHEN window_ends_at > ?2 THEN window_ends_at ELSE excluded.window_ends_at END
             RETURNING hits, window_ends_at`,
            key, now, windowSeconds,
          )!;
          return [key, { hits: Number(row.hits), windowEndsAt: Number(row.window_ends_at) }];
        })));
        return keys.map((key) => windows.get(key)!);
      },
    },
    cleanup: {
      async deleteExpired(now, batchSize) {
        if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
        /**
         * Runs one DELETE (its own short write transaction) until it deletes fewer than `batchSize` rows,
         * yielding to the event loop between batches: node:sqlite is synchronous, and requests must not
         * wait for a whole cleanup.
         */
        const inBatches = async (statement: string, ...params: SQLInputValue[]): Promise<number> => {
          let total = 0;
          for (;;) {
            const deleted = Number(run(statement, ...params, batchSize).changes);
            total += deleted;
            if (deleted < batchSize) return total;
            await new Promise((resolve) => setImmediate(resolve));
          }
        };
        /**
         * SPEC decision 8: a refresh token goes only with its whole family. Per batch (one short write
         * transaction): expired refresh tokens, by when they are next due; those whose family has expired
         * are deleted, the others kept (still recognised as replays) and not looked at again before the
         * family's expiry as it is now.
         */
        const refreshFamilies = async (): Promise<number> => {
          let total = 0;
          for (;;) {
            const batch = transaction(() => {
              const candidates = all(
                `SELECT t.rowid AS row_id,
                   (SELECT MAX(u.expires_at) FROM tokens u WHERE u.grant_id = t.grant_id AND u.kind = 'refresh') AS family_expires_at
                 FROM tokens t WHERE t.kind = 'refresh' AND COALESCE(t.cleanup_after, t.expires_at) <= ?
                 ORDER BY COALESCE(t.cleanup_after, t.expires_at) LIMIT ?`,
                now, batchSize,
              );
              let deleted = 0;
              for (const candidate of candidates) {
                if (Number(candidate.family_expires_at) <= now) deleted += Number(run('DELETE FROM tokens WHERE rowid = ?', candidate.row_id as number).changes);
                else run('UPDATE tokens SET cleanup_after = ? WHERE rowid = ?', candidate.family_expires_at as number, candidate.row_id as number);
              }
              return { deleted, examined: candidates.length };
            });
            total += batch.deleted;
            if (batch.examined < batchSize) return total;
            await new Promise((resolve) => setImmediate(resolve));
          }
        };
        const result: Omit<CleanupResult, 'deleted'> = {
          loginSessions: await inBatches('DELETE FROM login_sessions WHERE rowid IN (SELECT rowid FROM login_sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)', now),
          authorizationCodes: await inBatches(
            'DELETE FROM authorization_codes WHERE rowid IN (SELECT rowid FROM authorization_codes WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)',
            now - AUTHORIZATION_CODE_RETENTION_SECONDS,
          ),
          accessTokens: await inBatches("DELETE FROM tokens WHERE rowid IN (SELECT rowid FROM tokens WHERE kind = 'access' AND expires_at <= ? ORDER BY expires_at LIMIT ?)", now),
          refreshTokens: await refreshFamilies(),
          // After the tokens and codes above, so that a grant whose last rows just went goes in the same run.
          // Candidates: revoked grants whose tokens have all expired (cleanup_after, set at revocation).
          grants: await inBatches(
            `DELETE FROM grants WHERE rowid IN (
               SELECT g.rowid FROM grants g WHERE g.revoked_at IS NOT NULL AND g.cleanup_after <= ?
                 AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.grant_id = g.grant_id)
                 AND NOT EXISTS (SELECT 1 FROM authorization_codes c WHERE c.grant_id = g.grant_id)
               ORDER BY g.cleanup_after LIMIT ?)`,
            now,
          ),
          loginThrottleWindows: await inBatches('DELETE FROM login_throttle WHERE rowid IN (SELECT rowid FROM login_throttle WHERE window_ends_at <= ? ORDER BY window_ends_at LIMIT ?)', now),
          interactions: await inBatches('DELETE FROM interactions WHERE rowid IN (SELECT rowid FROM interactions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)', now),
          rateLimitWindows: await inBatches(
            'DELETE FROM rate_limit_windows WHERE rowid IN (SELECT rowid FROM rate_limit_windows WHERE window_ends_at <= ? ORDER BY window_ends_at LIMIT ?)',
            now,
          ),
          knownDevices: await inBatches('DELETE FROM known_devices WHERE rowid IN (SELECT rowid FROM known_devices WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)', now),
          pushedRequests: await inBatches('DELETE FROM pushed_requests WHERE rowid IN (SELECT rowid FROM pushed_requests WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)', now),
          // SPEC decision 8: a grace record whose window ended answers no retry any more.
          refreshTokenGrace: await inBatches(
            'DELETE FROM refresh_token_grace WHERE rowid IN (SELECT rowid FROM refresh_token_grace WHERE grace_expires_at <= ? ORDER BY grace_expires_at LIMIT ?)',
            now,
          ),
        };
        return { deleted: Object.values(result).reduce((sum, n) => sum + n, 0), ...result };
      },
    },
    dpopProofs: {
      async recordOnce(proofDigest, expiresAt, now) {
        // One statement: a new digest is inserted, an expired one replaced; a live one is left alone (no row returned).
        const row = get(
          `INSERT INTO dpop_proofs (proof_digest, expires_at) VALUES (?, ?)
           ON CONFLICT (proof_digest) DO UPDATE SET expires_at = excluded.expires_at WHERE dpop_proofs.expires_at <= ?
           RETURNING 1 AS recorded`,
          proofDigest, expiresAt, now,
        );
        return row !== undefined;
      },
      async deleteExpired(now, limit) {
        const result = run('DELETE FROM dpop_proofs WHERE rowid IN (SELECT rowid FROM dpop_proofs WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)', now, limit);
        return Number(result.changes);
      },
    },
    async close() {
      // Members of the open batch wait for its commit. The checkpoint worker's connection closes before
      // this one, so that closing the last connection checkpoints the WAL into the file and removes it.
      group.commitNow();
      await checkpoints?.stop();
      db.close();
    },
    async checkReady() {
      // One cheap query that also proves the file is migrated (readiness, `/health/ready`).
      const row = get('SELECT max(version) AS version FROM schema_migrations');
      const latest = Math.max(0, ...migrations.map((migration) => migration.version));
      if (Number(row?.version ?? 0) < latest) throw new Error(`the database file is at version ${String(row?.version ?? 0)}, this server needs ${latest}`);
    },
  };
  // Issue 12: no method resolves before the commit of the batches holding its writes (or rows it read).
  return settledAfterCommits(storage, group);
}

function openDatabase(path: string): DatabaseSync {
  // A batch of this process holding the write lock would make the WAL switch and migrations wait in vain.
  commitOpenBatches();
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec('PRAGMA busy_timeout = 5000');
  if (path !== ':memory:') enableWriteAheadLog(db);
  db.exec('PRAGMA synchronous = FULL');
  db.exec('PRAGMA foreign_keys = ON');
  return db;
}

/**
 * Switching a new file to WAL while another process does the same answers SQLITE_BUSY at once, without
 * waiting for busy_timeout (SQLite avoids a deadlock there), so retry for a while.
 */
function enableWriteAheadLog(db: DatabaseSync): void {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      const row = db.prepare('PRAGMA journal_mode = WAL').get() as { journal_mode?: string } | undefined;
      if (row?.journal_mode === 'wal') return;
    } catch (error) {
      if (!(error instanceof Error && /locked|busy/i.test(error.message))) throw error;
    }
    if (Date.now() > deadline) throw new Error('could not switch the database to WAL mode: it stays locked');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10 + Math.floor(Math.random() * 20));
  }
}

/** Applies the missing migrations, each in one IMMEDIATE transaction; returns the versions it applied. */
function migrate(db: DatabaseSync): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
  const applied: number[] = [];
  for (const migration of migrations) {
    db.exec('BEGIN IMMEDIATE');
    try {
      const done = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(migration.version);
      if (!done) {
        db.exec(migration.sql);
        migration.run?.(db);
        db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)').run(migration.version, migration.name);
        applied.push(migration.version);
      }
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  }
  return applied;
}

/**
 * Creates (if needed) and migrates a database file, then closes it: `gatehouse migrate`.
 * @returns the versions applied by this call and the file's version after it.
 */
export function migrateSqliteFile(path: string): { applied: number[]; version: number } {
  const db = openDatabase(path);
  try {
    const applied = migrate(db);
    return { applied, version: Math.max(0, ...migrations.map((migration) => migration.version)) };
  } finally {
    db.close();
  }
}




/** A field's value as stored (the inverse of toClient). */
function toClientColumn(field: keyof ClientPatch, value: unknown): SQLInputValue {
  if (field === 'redirectUris' || field === 'contacts') return JSON.stringify(value);
  if (field === 'scopes') return (value as string[]).join(' ');
  if (field === 'pkceRequired' || field === 'brandingVerified') return value ? 1 : 0;
  if (field === 'requirePushedAuthorizationRequests') return value ? 1 : 0;
  if (field === 'dpopBoundAccessTokens') return value ? 1 : 0;
  return value as SQLInputValue;
}
