/**
 * The storage contract on PostgreSQL through node-postgres (`pg`, pure JavaScript), for several stateless
 * authorization-server instances sharing one database.
 *
 * Atomicity across instances (storage.ts):
 * - `authorizationCodes.consume` is ONE conditional `UPDATE … RETURNING`: concurrent redemptions queue on
 *   the row lock and re-evaluate against the committed row, so exactly one sees it unconsumed.
 * - `tokens.rotateRefreshToken` is ONE statement: it locks the grant row (`FOR NO KEY UPDATE`), flips the
 *   presented refresh token from current to rotated only if it still is current (compare-and-swap), revokes
 *   the grant's access tokens and inserts the new pair, all or nothing.
 * - `grants.exchangeCode` (and `grants.issueForCode`) is ONE statement around `gatehouse_redeem_code`
 *   (migration 20): the function takes the advisory lock of the (client, subject), locks the code and the
 *   superseded grants and reads them fresh; the statement inserts the grant, tokens and audit event.
 * - `grants.revoke` is a short transaction.
 * Lock order, to rule out deadlocks: whatever touches several tokens of a grant locks the grant row first.
 *
 * Hot paths are one round trip each: consume a code, find a token by digest (tokens ⋈ grants ⋈ clients
 * by primary keys), rotate. They are named (prepared once per connection, planned from then on without
 * parsing; a transaction-pooling PgBouncer needs `max_prepared_statements` for that, 1.21+).
 *
 * Cleanup (`cleanup.deleteExpired`) deletes `LIMIT n … FOR UPDATE SKIP LOCKED` batches, ordered by the
 * indexed time column, so an idle run costs a few index probes however big the tables are. Two columns
 * keep it that way: `grants.cleanup_after` (set at revocation: the latest expiry of the grant's tokens)
 * and `tokens.cleanup_after` (set by cleanup on an expired refresh token kept for its live family: the
 * family's expiry as it was then), so rows that must stay are not examined again on every run.
 *
 * Times are `bigint` seconds, returned by `pg` as strings and converted here.
 */
import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
import { loginDelayWaitSeconds } from '../login-delay.ts';
import { AUTHORIZATION_CODE_RETENTION_SECONDS } from '../storage.ts';
import type {
  AuditEvent,
  CleanupResult,
  ClientPatch,
  ConsumeCodeResult,
  GrantRecord,
  LoginDelayRule,
  Storage,
  TokenRecord,
  TokenWithGrant,
} from '../storage.ts';
import { migrations, runMigrations, SCHEMA_NAME } from './migrations.ts';
import { postgresStorageError } from './postgres-unavailable.ts';
import { createPostgresDriver } from './postgres-driver.ts';
import { createSharedStores } from '../stores/index.ts';
import { toClient, CLIENT_PATCH_COLUMNS, nullableNumber, prefixed, toCode, toGrant, toToken } from '../rows.ts';
import { cacheClients, clientChangeChannel, listenForChanges, type ClientChangeListenerOptions } from '../client-cache.ts';
import { cacheResources, resourceChangeChannel } from '../resource-cache.ts';
import { createResourceStore } from '../stores/resources.ts';
import { resourcesColumn } from '../rows.ts';
import { webhookSubscribes } from '../rows.ts';
import type { GrantRevocationEffects, WebhookDeliveryRecord } from '../storage.ts';

export interface PostgresStorageOptions {
  /**
   * The schema holding Gatehouse's tables (created if missing), set as each connection's `search_path`.
   * Default `public`. Lowercase letters, digits and `_` (tests use a fresh `gh_test_<random>` each).
   */
  schema?: string;
  /** Connections in the pool; default 10. */
  poolSize?: number;
  /**
   * Errors of idle pooled connections (the pool replaces them) and losses of the client-cache listener (it
   * reconnects); default: one line on stderr.
   */
  onConnectionError?: (error: Error) => void;
  /**
   * How long an operation waits for a connection (a free one in the pool, or a new one to be established)
   * before it fails with StorageUnavailableError; default 5000 ms.
   */
  connectionTimeoutMillis?: number;
  /**
   * Client records kept in memory (storage/client-cache.ts); default 10,000. 0 turns the cache, the resource
   * catalogue's cache (resource-cache.ts) and their listening connection off: needed behind a pooler in
   * transaction mode (PgBouncer), where a LISTEN does not keep its session and notifications would be lost.
   */
  clientCacheEntries?: number;
  /** The client-change listener's backoff, heartbeat and state callback (tests, operations); defaults in client-cache.ts. */
  clientChangeListener?: Omit<ClientChangeListenerOptions, 'newConnection'>;
}

type Row = QueryResultRow;

/**
 * Connects, runs the missing migrations (safe when instances start together), and returns the storage.
 * @param databaseUrl `postgres://user[:password]@host[:port]/database[?sslmode=…]`
 * @throws when the database is unreachable or a migration fails; nothing is left open then.
 */
export async function createPostgresStorage(databaseUrl: string, options: PostgresStorageOptions = {}): Promise<Storage> {
  const schema = checkSchema(options.schema ?? 'public');
  const pool = createPool(databaseUrl, schema, options.poolSize ?? 10, options.connectionTimeoutMillis);
  const onConnectionError = options.onConnectionError ?? ((error: Error) => console.error(`gatehouse: PostgreSQL connection error: ${error.message}`));
  pool.on('error', onConnectionError);
  try {
    const { client, release } = await checkOut(pool);
    try {
      await runMigrations(client, schema);
    } finally {
      release();
    }
  } catch (error) {
    await pool.end();
    throw error;
  }

  // Every operation's errors pass through postgresStorageError: an unreachable database is a
  // StorageUnavailableError (SPEC decision 18: 503, never 500), anything else stays as it is.
  // pool.query checks a client out with its own 'error' listener for the query's duration (pg-pool).
  const query = async <R extends Row = Row>(text: string, params: unknown[] = [], name?: string) => {
    try {
      return await (name === undefined ? pool.query<R>(text, params) : pool.query<R>({ name, text, values: params }));
    } catch (error) {
      throw postgresStorageError(error);
    }
  };
  const one = async <R extends Row = Row>(text: string, params: unknown[] = []) => (await query<R>(text, params)).rows[0];
  /** A hot-path statement, prepared under `name` on each connection the first time it runs there. */
  const prepared = async <R extends Row = Row>(name: string, text: string, values: unknown[]) => {
    try {
      return (await pool.query<R>({ name, text, values })).rows[0];
    } catch (error) {
      throw postgresStorageError(error);
    }
  };
  const transaction = async <T>(work: (client: PoolClient) => Promise<T>): Promise<T> => {
    // A deadlock or serialization failure rolls the whole transaction back, so running it again is safe.
    // A connection lost mid-transaction rolls it back on the server; if it is lost during COMMIT the
    // outcome is unknown to us (the caller gets 503 and retries; every operation here is safe to retry).
    for (let attempt = 1; ; attempt++) {
      let checkedOut: Awaited<ReturnType<typeof checkOut>>;
      try {
        checkedOut = await checkOut(pool);
      } catch (error) {
        throw postgresStorageError(error);
      }
      const { client, release } = checkedOut;
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        const code = (error as { code?: string }).code;
        if ((code === '40P01' || code === '40001') && attempt < 3) continue;
        throw postgresStorageError(error);
      } finally {
        release(broken);
      }
    }
  };
  /** The one SQL layer (issue 12): stores written once for both databases run over this. */
  const driver = createPostgresDriver({ query: (text, params, name) => query(text, params, name), transaction });
  /** Issue 15 §5: on `client` (inside its transaction), queues the delivery if its client's endpoint receives that event type. */
  const enqueueIfSubscribed = async (client: PoolClient, d: WebhookDeliveryRecord): Promise<boolean> => {
    const endpoint = (await client.query('SELECT event_types FROM webhook_endpoints WHERE client_id = $1', [d.clientId])).rows[0];
    if (!endpoint || !webhookSubscribes(endpoint.event_types, d.eventType)) return false;
    await client.query(
      `INSERT INTO webhook_deliveries (delivery_id, client_id, event_type, payload, created_at, attempts, next_attempt_at, last_attempt_at, last_status, delivered_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [d.deliveryId, d.clientId, d.eventType, d.payload, d.createdAt, d.attempts, d.nextAttemptAt, d.lastAttemptAt, d.lastStatus, d.deliveredAt],
    );
    return true;
  };
  /** Revokes a grant and its tokens on `client`, with its effects (issue 15 §5) only when it was revoked now. */
  const revokeGrantOn = async (client: PoolClient, grantId: string, now: number, reason: string, effects?: GrantRevocationEffects): Promise<boolean> => {
    // Grant row first (lock order); the tokens statement then sees every token committed before it.
    // Issue 15 §5: the audit event commits with the revocation, only if it happened now; in the same statement
    // (one round trip fewer). The tokens need a statement of their own: its snapshot, taken once the grant
    // row is locked, sees every token a rotation that held the lock committed.
    const changed = effects?.auditEvent
      ? await client.query(
        `WITH changed AS (UPDATE grants SET revoked_at = $2, revocation_reason = $3 WHERE grant_id = $1 AND revoked_at IS NULL RETURNING *),
           audited AS (INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)
             SELECT $4::text, $5::bigint, $6::text, $7::text, $8::text, $9::jsonb WHERE EXISTS (SELECT 1 FROM changed))
         SELECT * FROM changed`,
        [grantId, now, reason, ...auditEventColumns(effects.auditEvent)])
      : await client.query('UPDATE grants SET revoked_at = $2, revocation_reason = $3 WHERE grant_id = $1 AND revoked_at IS NULL RETURNING *', [grantId, now, reason]);
    await client.query(
      `WITH revoked AS (UPDATE tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL)
       ${SET_GRANT_CLEANUP_AFTER} WHERE grant_id = $1 AND revoked_at IS NOT NULL`,
      [grantId, now],
    );
    const row = changed.rows[0];
    if (!row) return false;
    // Issue 15 §5: the side effects of a revocation commit with it, or not at all.
    if (effects?.webhookDelivery) await enqueueIfSubscribed(client, effects.webhookDelivery(toGrant(row)));
    return true;
  };

  /** grant id → when this instance last set its last_used_at (`grants.recordUse`); oldest dropped first. */
  const recentGrantUses = new Map<string, number>();

  const tokenWithGrant = async (column: 'token_digest' | 'token_id', value: string): Promise<TokenWithGrant | undefined> => {
    const row = await prepared(`gatehouse_token_by_${column}`, `SELECT ${TOKEN_WITH_GRANT_COLUMNS} FROM tokens t
      JOIN grants g ON g.grant_id = t.grant_id JOIN clients c ON c.client_id = t.client_id WHERE t.${column} = $1`, [value]);
    return row && { token: toToken(prefixed(row, 't_')), grant: toGrant(prefixed(row, 'g_')), client: toClient(prefixed(row, 'c_')) };
  };

  /**
   * Issue 12: issueForCode (`consume` false: the code was consumed before) and exchangeCode (`consume`
   * true) as ONE statement, so one round trip and all or nothing: `gatehouse_redeem_code` (migration 20)
   * takes the locks and makes the checks on freshly read rows and supersedes the previous grant; the
   * statement's other parts store the grant, its tokens, the code's link and the audit event only when it
   * answers `issued`. A deadlock or serialization failure rolled everything back: it runs again (twice at most).
   */
  const redeemCode = async (
    codeDigest: string, clientId: string | null, now: number, grant: GrantRecord, tokens: TokenRecord[], auditEvent: AuditEvent | undefined, consume: boolean,
  ): Promise<{ outcome: string; replayGrantId: string | null }> => {
    const values = [
      ...tokenColumns(tokens), codeDigest, clientId, grant.clientId, grant.subjectType, grant.subjectId, now, grant.createdAt, consume,
      grant.grantId, grant.userId, grant.scope.join(' '), ...(auditEvent ? auditEventColumns(auditEvent) : [null, null, null, null, null, null]),
      resourcesColumn(grant.resources), tokenAudiences(tokens), tokenJkts(tokens),
    ];
    for (let attempt = 1; ; attempt++) {
      try {
        const row = await pool.query<{ redeem_outcome: string; replay_grant_id: string | null }>({
          name: 'gatehouse_redeem_code',
          text: `WITH redeemed AS (
               SELECT * FROM gatehouse_redeem_code($11, $12, $13, $14, $15, $16, $17, $18)
             ), new_grant AS (
               INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at, revoked_at, revocation_reason, resources)
               SELECT $19, $13, $20, $14, $15, $21, $17, NULL, NULL, $28 FROM redeemed WHERE redeem_outcome = 'issued'
             ), new_tokens AS (
               ${insertTokens(1, 29)} WHERE EXISTS (SELECT 1 FROM redeemed WHERE redeem_outcome = 'issued')
             ), linked AS (
               UPDATE authorization_codes SET consumed_at = COALESCE(consumed_at, $16), grant_id = $19
               WHERE code_digest = $11 AND EXISTS (SELECT 1 FROM redeemed WHERE redeem_outcome = 'issued')
             ), audited AS (
               -- The audit event commits with the grant, and only if it was issued ($22 is NULL when none is given).
               INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)
               SELECT $22::text, $23::bigint, $24::text, $25::text, $26::text, $27::jsonb
               WHERE $22::text IS NOT NULL AND EXISTS (SELECT 1 FROM redeemed WHERE redeem_outcome = 'issued')
             )
             SELECT redeem_outcome, replay_grant_id FROM redeemed`,
          values,
        });
        const result = row.rows[0]!;
        return { outcome: result.redeem_outcome, replayGrantId: result.replay_grant_id };
      } catch (error) {
        const code = (error as { code?: string }).code;
        if ((code === '40P01' || code === '40001') && attempt < 3) continue;
        throw postgresStorageError(error);
      }
    }
  };

  // Issue 12: client records cached, bypassed until the listener below hears every change of a client row.
  const clientCache = cacheClients({
    async create(client) {
      await query(
        `INSERT INTO clients (client_id, kind, client_name, client_type, secret_digest, redirect_uris, scopes, subject_type,
           pkce_required, status, client_uri, logo_uri, tos_uri, policy_uri, audience, created_at, initiation_uri, settings_uri,
           contacts, owner_user_id, previous_secret_digest, previous_secret_expires_at, branding_verified,
           require_pushed_authorization_requests, dpop_bound_access_tokens, description, category)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)`,
        [client.clientId, client.kind, client.clientName, client.clientType, client.secretDigest, client.redirectUris,
          client.scopes.join(' '), client.subjectType, client.pkceRequired, client.status, client.clientUri, client.logoUri,
          client.tosUri, client.policyUri, client.audience, client.createdAt, client.initiationUri, client.settingsUri,
          client.contacts, client.ownerUserId, client.previousSecretDigest, client.previousSecretExpiresAt, client.brandingVerified,
          client.requirePushedAuthorizationRequests ?? false, client.dpopBoundAccessTokens ?? false, client.description ?? null, client.category ?? null],
      );
    },
    async find(clientId) {
      const row = await one('SELECT * FROM clients WHERE client_id = $1', [clientId]);
      return row && toClient(row);
    },
    async list() {
      return (await query('SELECT * FROM clients ORDER BY created_at, client_name')).rows.map(toClient);
    },
    async listByOwner(userId) {
      return (await query('SELECT * FROM clients WHERE owner_user_id = $1 ORDER BY created_at, client_name', [userId])).rows.map(toClient);
    },
    async update(clientId, patch) {
      const assignments: string[] = [];
      const values: unknown[] = [clientId];
      for (const [field, value] of Object.entries(patch)) {
        if (value === undefined) continue;
        const column = CLIENT_PATCH_COLUMNS[field as keyof ClientPatch];
        if (!column) throw new Error(`clients.update cannot change ${field}`);
        values.push(field === 'scopes' ? (value as string[]).join(' ') : value);
        assignments.push(`${column} = $${values.length}`);
      }
      const row = assignments.length > 0
        ? await one(`UPDATE clients SET ${assignments.join(', ')} WHERE client_id = $1 RETURNING *`, values)
        : await one('SELECT * FROM clients WHERE client_id = $1', [clientId]);
      return row && toClient(row);
    },
  }, { active: false, maxEntries: options.clientCacheEntries });
  // The resource catalogue likewise (resource-cache.ts), on the same listening connection.
  const resourceCache = cacheResources(createResourceStore(driver), { active: false, maxEntries: options.clientCacheEntries });
  const clientChanges = options.clientCacheEntries === 0 ? { close: async () => {} } : await listenForChanges([clientChangeChannel(clientCache), resourceChangeChannel(resourceCache)], {
    newConnection: () => createListenerConnection(databaseUrl, options.connectionTimeoutMillis),
    ...options.clientChangeListener,
    onStateChange(state) {
      if (!state.listening && state.error) {
        onConnectionError(new Error(`client-cache listener: ${state.error.message} (client records and the resource catalogue are read from the database until it listens again)`));
      }
      options.clientChangeListener?.onStateChange?.(state);
    },
  });

  const storage: Storage = {
    resources: resourceCache.resources,
    ...createSharedStores(driver),
    clients: clientCache.clients,
    authorizationCodes: {
      async create(code) {
        await query(
          `INSERT INTO authorization_codes (code_digest, client_id, user_id, redirect_uri, scope, subject_type, subject_id,
             code_challenge, issued_at, expires_at, resources, dpop_jkt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
          [code.codeDigest, code.clientId, code.userId, code.redirectUri, code.scope.join(' '), code.subjectType, code.subjectId,
            code.codeChallenge, code.issuedAt, code.expiresAt, resourcesColumn(code.resources), code.dpopJkt ?? null],
        );
      },
      async find(codeDigest, clientId) {
        const row = await prepared('gatehouse_find_code_for_client', 'SELECT * FROM authorization_codes WHERE code_digest = $1 AND client_id = $2', [codeDigest, clientId]);
        return row && { code: toCode(row), used: row.consumed_at !== null };
      },
      async consume(codeDigest, now, clientId): Promise<ConsumeCodeResult> {
        // RFC 6749 §4.1.2 single use, in one statement: SET sees the row as it was, so the first call sets
        // consumed_at and leaves replayed_at NULL; every later one (queued on the row lock and re-checked
        // against the committed row) sets replayed_at, which makes a concurrent issueForCode refuse.
        const row = await prepared(
          'gatehouse_consume_code_for_client',
          `UPDATE authorization_codes SET
             consumed_at = COALESCE(consumed_at, $2),
             replayed_at = CASE WHEN consumed_at IS NULL THEN NULL ELSE COALESCE(replayed_at, $2) END
           WHERE code_digest = $1 AND ($3::text IS NULL OR client_id = $3) RETURNING *`,
          // RFC 6749 §4.1.3: another client's code is unknown to this client, and stays unconsumed.
          [codeDigest, now, clientId ?? null],
        );
        if (!row) return { outcome: 'unknown' };
        if (row.replayed_at === null) return { outcome: 'consumed', code: toCode(row) };
        return { outcome: 'replayed', code: toCode(row), grantId: row.grant_id === null ? null : String(row.grant_id) };
      },
    },
    grants: {
      async issueForCode(codeDigest, grant, tokens, auditEvent) {
        const { outcome } = await redeemCode(codeDigest, null, grant.createdAt, grant, tokens, auditEvent, false);
        // A code that is gone (never stored, or cleaned up) cannot be issued for, as a replayed one.
        return outcome === 'unknown' ? 'code_replayed' : outcome as 'issued' | 'code_replayed' | 'code_outdated';
      },
      async exchangeCode(codeDigest, clientId, now, grant, tokens, auditEvent) {
        const { outcome, replayGrantId } = await redeemCode(codeDigest, clientId, now, grant, tokens, auditEvent, true);
        if (outcome === 'replayed') return { outcome, grantId: replayGrantId };
        return { outcome: outcome as 'issued' | 'code_outdated' | 'unknown' };
      },
      async find(grantId) {
        const row = await one('SELECT * FROM grants WHERE grant_id = $1', [grantId]);
        return row && toGrant(row);
      },
      async listActive(filter) {
        const [where, params]: [string, unknown[]] = 'clientId' in filter ? ['g.client_id = $1', [filter.clientId]]
          : 'userId' in filter ? ['g.user_id = $1', [filter.userId]] : ['g.subject_type = $1 AND g.subject_id = $2', [filter.subjectType, filter.subjectId]];
        const result = await query(
          `SELECT g.*, GREATEST(g.last_used_at, (SELECT MAX(t.issued_at) FROM tokens t WHERE t.grant_id = g.grant_id)) AS last_used
           FROM grants g WHERE ${where} AND g.revoked_at IS NULL ORDER BY g.created_at DESC, g.grant_id`, params,
        );
        return result.rows.map((row) => ({ ...toGrant(row), lastUsedAt: row.last_used === null ? null : Number(row.last_used) }));
      },
      async recordUse(grantId, now, minimumIntervalSeconds) {
        // Issue 12 (introspection in one round trip): once this instance has set last_used_at = t, the
        // UPDATE below changes nothing before t + interval, so it is not sent until then.
        const recordedAt = recentGrantUses.get(grantId);
        if (recordedAt !== undefined && now >= recordedAt && now - recordedAt < minimumIntervalSeconds) return;
        const changed = await query('UPDATE grants SET last_used_at = $1 WHERE grant_id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)', [now, grantId, now - minimumIntervalSeconds]);
        if ((changed.rowCount ?? 0) === 0) return;
        recentGrantUses.delete(grantId);
        recentGrantUses.set(grantId, now);
        if (recentGrantUses.size > RECENT_GRANT_USES) recentGrantUses.delete(recentGrantUses.keys().next().value!);
      },
      async findActive(clientId, subjectType, subjectId) {
        const row = await one(
          'SELECT * FROM grants WHERE client_id = $1 AND subject_type = $2 AND subject_id = $3 AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1',
          [clientId, subjectType, subjectId],
        );
        return row && toGrant(row);
      },
      async revokeAllOfClient(clientId, now, reason, effects) {
        return transaction(async (client) => {
          // Grant rows first (lock order, by id), then their tokens, as `revoke` does for one grant.
          const grants = await client.query<{ grant_id: string }>('SELECT grant_id FROM grants WHERE client_id = $1 AND revoked_at IS NULL ORDER BY grant_id FOR UPDATE', [clientId]);
          let revoked = 0;
          for (const { grant_id: grantId } of grants.rows) {
            if (await revokeGrantOn(client, grantId, now, reason, { webhookDelivery: effects?.webhookDelivery })) revoked += 1;
          }
          return revoked;
        });
      },
      async revoke(grantId, now, reason, effects) {
        return transaction((client) => revokeGrantOn(client, grantId, now, reason, effects));
      },
    },
    tokens: {
      async findByDigest(tokenDigest) {
        return tokenWithGrant('token_digest', tokenDigest);
      },
      async findByTokenId(tokenId) {
        return tokenWithGrant('token_id', tokenId);
      },
      async rotateRefreshToken(presentedDigest, now, newTokens, auditEvent, graceSuccessor) {
        // SPEC decision 8, compare-and-swap in one statement. `locked` takes the grant row lock, so two
        // rotations (on any instances) take turns and a concurrent revocation is either fully before or after;
        // `current` then flips the token only if it is STILL current (re-checked against the committed row);
        // the rest happens only if it did.
        const row = await prepared<{ rotated: number }>(
          'gatehouse_rotate_refresh_token',
          `WITH locked AS (
             SELECT g.grant_id FROM tokens t JOIN grants g ON g.grant_id = t.grant_id
             WHERE t.token_digest = $11 AND t.kind = 'refresh' AND g.revoked_at IS NULL
             FOR NO KEY UPDATE OF g
           ), current AS (
             UPDATE tokens SET rotated_at = $12
             WHERE token_digest = $11 AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL
               AND grant_id IN (SELECT grant_id FROM locked)
             RETURNING grant_id
           ), superseded_access AS (
             -- SPEC §3: "all previous tokens are invalidated immediately" — the grant's access tokens too.
             UPDATE tokens SET revoked_at = $12
             WHERE grant_id IN (SELECT grant_id FROM current) AND kind = 'access' AND revoked_at IS NULL
           ), inserted AS (
             ${insertTokens(1, 21)} WHERE EXISTS (SELECT 1 FROM current)
           ), audited AS (
             -- The audit event commits with the rotation, and only if it happened ($13 is NULL when none is given).
             INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)
             SELECT $13::text, $14::bigint, $15::text, $16::text, $17::text, $18::jsonb WHERE $13::text IS NOT NULL AND EXISTS (SELECT 1 FROM current)
           ), grace_kept AS (
             -- SPEC decision 8: the grace record follows the grant's last rotation ($19 is NULL without a grace successor).
             INSERT INTO refresh_token_grace (grant_id, previous_digest, sealed_successor, grace_expires_at)
             SELECT grant_id, $11, $19::text, $20::bigint FROM current WHERE $19::text IS NOT NULL
             ON CONFLICT (grant_id) DO UPDATE SET previous_digest = excluded.previous_digest,
               sealed_successor = excluded.sealed_successor, grace_expires_at = excluded.grace_expires_at
           ), grace_dropped AS (
             DELETE FROM refresh_token_grace WHERE grant_id IN (SELECT grant_id FROM current) AND $19::text IS NULL
           )
           SELECT count(*)::int AS rotated FROM current`,
          [...tokenColumns(newTokens), presentedDigest, now, ...(auditEvent ? auditEventColumns(auditEvent) : [null, null, null, null, null, null]),
            graceSuccessor?.sealedSuccessor ?? null, graceSuccessor?.graceExpiresAt ?? null, tokenAudiences(newTokens), tokenJkts(newTokens)],
        );
        return row!.rotated === 1 ? 'rotated' : 'not_current';
      },
      async findGraceSuccessor(presentedDigest) {
        const row = await prepared(
          'gatehouse_find_grace_successor',
          `SELECT r.grant_id, r.previous_digest, r.sealed_successor, r.grace_expires_at FROM refresh_token_grace r
           JOIN grants g ON g.grant_id = r.grant_id WHERE r.previous_digest = $1 AND g.revoked_at IS NULL`,
          [presentedDigest],
        );
        return row && {
          grantId: String(row.grant_id), previousDigest: String(row.previous_digest),
          sealedSuccessor: String(row.sealed_successor), graceExpiresAt: Number(row.grace_expires_at),
        };
      },
      async revokeAccessToken(tokenDigest, now) {
        await query("UPDATE tokens SET revoked_at = $2 WHERE token_digest = $1 AND kind = 'access' AND revoked_at IS NULL", [tokenDigest, now]);
      },
      async revokeAccessTokensOfClient(clientId, now) {
        // Issue 12 (migration 27): through the client's active grants (grants_one_active, tokens_by_grant), so
        // that no index on tokens by client has to be kept up to date by every rotation. The same tokens: a
        // grant's tokens share its client, and revoking a grant revokes all its tokens.
        const result = await query(
          `UPDATE tokens SET revoked_at = $2 WHERE kind = 'access' AND revoked_at IS NULL
             AND grant_id IN (SELECT grant_id FROM grants WHERE client_id = $1 AND revoked_at IS NULL)`,
          [clientId, now],
        );
        return result.rowCount ?? 0;
      },
      async listRevokedAccessTokens(sinceSeconds, now, limit, audience) {
        return (await query(
          `SELECT token_id, expires_at, revoked_at FROM tokens
           WHERE kind = 'access' AND revoked_at IS NOT NULL AND revoked_at >= $1 AND expires_at > $2
             AND (NOT $4::boolean OR audience IS NOT DISTINCT FROM $5::text)
           ORDER BY revoked_at, token_id LIMIT $3`,
          [sinceSeconds, now, limit, audience !== undefined, audience ?? null],
        )).rows.map((row) => ({ tokenId: String(row.token_id), expiresAt: Number(row.expires_at), revokedAt: Number(row.revoked_at) }));
      },
    },
    loginThrottle: {
      async recordFailure(keys, now, limit) {
        // Sorted, so concurrent attempts on overlapping keys lock them in one order (no deadlock).
        const distinct = [...new Set(keys)].sort();
        const counts = await transaction(async (client) => {
          // Rows must exist to be locked: a placeholder with an ended window (0) is "no current window".
          await client.query(
            'INSERT INTO login_throttle (throttle_key, window_ends_at, failures) SELECT key, 0, 0 FROM unnest($1::text[]) AS key ON CONFLICT DO NOTHING',
            [distinct],
          );
          const windows = (await client.query(
            'SELECT throttle_key, window_ends_at, failures FROM login_throttle WHERE throttle_key = ANY ($1::text[]) ORDER BY throttle_key FOR UPDATE',
            [distinct],
          )).rows.map((row) => ({ key: String(row.throttle_key), endsAt: Number(row.window_ends_at), failures: Number(row.failures) }));
          const current = new Map(windows.filter((window) => now < window.endsAt).map((window) => [window.key, window]));
          // SPEC decision 18: a key over its limit refuses the attempt without counting it (the window stays fixed).
          let retryAfterSeconds = 0;
          for (const window of current.values()) {
            if (window.failures >= limit.maxFailures) retryAfterSeconds = Math.max(retryAfterSeconds, window.endsAt - now);
          }
          if (retryAfterSeconds > 0) return { retryAfterSeconds, failures: new Map([...current].map(([key, window]) => [key, window.failures])) };
          const updated = await client.query(
            `UPDATE login_throttle SET
               failures = CASE WHEN window_ends_at > $2 THEN failures + 1 ELSE 1 END,
               window_ends_at = CASE WHEN window_ends_at > $2 THEN window_ends_at ELSE $2 + $3 END
             WHERE throttle_key = ANY ($1::text[]) RETURNING throttle_key, failures`,
            [distinct, now, limit.windowSeconds],
          );
          return { retryAfterSeconds: 0, failures: new Map(updated.rows.map((row) => [String(row.throttle_key), Number(row.failures)])) };
        });
        return { retryAfterSeconds: counts.retryAfterSeconds, failures: keys.map((key) => counts.failures.get(key) ?? 0) };
      },
      async retract(keys, now) {
        const distinct = [...new Set(keys)].sort();
        await transaction(async (client) => {
          // Lock in key order first, as recordFailure does: an UPDATE … = ANY locks rows in scan order,
          // which deadlocked against a concurrent recordFailure on the same keys (two logins from one address).
          await client.query('SELECT 1 FROM login_throttle WHERE throttle_key = ANY ($1::text[]) ORDER BY throttle_key FOR UPDATE', [distinct]);
          await client.query(
            'UPDATE login_throttle SET failures = failures - 1 WHERE throttle_key = ANY ($1::text[]) AND window_ends_at > $2 AND failures > 0',
            [distinct, now],
          );
        });
      },
      async reset(key) {
        await query('DELETE FROM login_throttle WHERE throttle_key = $1', [key]);
      },
      async attempt(counters, now) {
        const rules = new Map<string, LoginDelayRule>();
        for (const { key, rule } of counters) if (!rules.has(key)) rules.set(key, rule);
        // Sorted, so concurrent attempts on overlapping keys lock them in one order (no deadlock), as recordFailure does.
        const distinct = [...rules.keys()].sort();
        const counts = await transaction(async (client) => {
          // Rows must exist to be locked: a placeholder with an ended window (0) is "forgotten".
          await client.query(
            'INSERT INTO login_throttle (throttle_key, window_ends_at, failures) SELECT key, 0, 0 FROM unnest($1::text[]) AS key ON CONFLICT DO NOTHING',
            [distinct],
          );
          const rows = (await client.query(
            'SELECT throttle_key, window_ends_at, failures, last_failure_at FROM login_throttle WHERE throttle_key = ANY ($1::text[]) ORDER BY throttle_key FOR UPDATE',
            [distinct],
          )).rows;
          const failures = new Map<string, number>();
          let retryAfterSeconds = 0;
          for (const row of rows) {
            if (Number(row.window_ends_at) <= now) continue;
            const key = String(row.throttle_key);
            failures.set(key, Number(row.failures));
            retryAfterSeconds = Math.max(retryAfterSeconds, loginDelayWaitSeconds(rules.get(key)!, Number(row.failures), nullableNumber(row.last_failure_at), now));
          }
          // SPEC decision 18: an attempt that must wait is refused and counted nowhere.
          if (retryAfterSeconds > 0) return { retryAfterSeconds, failures };
          for (const key of distinct) {
            const count = (failures.get(key) ?? 0) + 1;
            await client.query(
              'UPDATE login_throttle SET failures = $2, last_failure_at = $3, window_ends_at = $4 WHERE throttle_key = $1',
              [key, count, now, now + rules.get(key)!.forgetAfterSeconds],
            );
            failures.set(key, count);
          }
          return { retryAfterSeconds: 0, failures };
        });
        return { retryAfterSeconds: counts.retryAfterSeconds, failures: counters.map(({ key }) => counts.failures.get(key) ?? 0) };
      },
    },
    rateLimits: {
      async hit(keys, windowSeconds, now) {
        if (!Number.isInteger(windowSeconds) || windowSeconds < 1) throw new RangeError('windowSeconds must be a positive integer');
        // Sorted, so concurrent hits on overlapping keys lock their rows in one order (no deadlock).
        const distinct = [...new Set(keys)].sort();
        // ONE statement (one round trip, atomic per key across instances): the upsert takes the row lock, so
        // concurrent hits queue and each sees the count the previous one committed. The table is UNLOGGED
        // (migration 6): this commit writes no WAL and waits for no flush.
        // Through postgresStorageError like every operation: an unreachable database is a 503, never a 500.
        const { rows } = await pool.query({
          name: 'gatehouse_rate_limit_hit',
          text: `INSERT INTO rate_limit_windows AS w (limit_key, window_ends_at, hits)
                 SELECT key, $2::bigint + $3::bigint, 1 FROM unnest($1::text[]) AS key ORDER BY key
                 ON CONFLICT (limit_key) DO UPDATE SET
                   hits = CASE WHEN w.window_ends_at > $2::bigint THEN w.hits + 1 ELSE 1 END,
                   window_ends_at = CASE WHEN w.window_ends_at > $2::bigint THEN w.window_ends_at ELSE EXCLUDED.window_ends_at END
                 RETURNING limit_key, hits, window_ends_at`,
          values: [distinct, now, windowSeconds],
        }).catch((error: unknown) => { throw postgresStorageError(error); });
        const windows = new Map(rows.map((row) => [String(row.limit_key), { hits: Number(row.hits), windowEndsAt: Number(row.window_ends_at) }]));
        return keys.map((key) => windows.get(key)!);
      },
    },
    cleanup: {
      async deleteExpired(now, batchSize) {
        if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
        /**
         * One DELETE of at most `batchSize` rows, repeated until a batch comes back short. `FOR UPDATE SKIP
         * LOCKED` lets every instance run this at once: each batch takes rows no other run holds, and rows a
         * request is updating are left for the next run instead of being waited for.
         */
        const inBatches = async (table: string, where: string, orderBy: string, params: unknown[]): Promise<number> => {
          const limit = `$${params.length + 1}`;
          let total = 0;
          for (;;) {
            // ORDER BY the indexed time column: the candidates come from an index range, so a run over a big
            // table with nothing to delete reads a few index pages, never the whole table.
            const result = await query(
              `DELETE FROM ${table} WHERE ctid = ANY (ARRAY(
                 SELECT x.ctid FROM ${table} x WHERE ${where} ORDER BY ${orderBy} LIMIT ${limit} FOR UPDATE OF x SKIP LOCKED))`,
              [...params, batchSize],
            );
            const deleted = result.rowCount ?? 0;
            total += deleted;
            if (deleted < batchSize) return total;
          }
        };
        /**
         * SPEC decision 8: a refresh token goes only with its whole family. One batch of expired refresh
         * tokens (by when they are next due): those whose family has expired are deleted; the others are
         * kept to be recognised as replays, and marked not to be looked at again before the family's
         * expiry as it is now, so kept tokens are not rescanned on every run.
         */
        const refreshFamilies = async (): Promise<number> => {
          let total = 0;
          for (;;) {
            const row = (await query<{ deleted: number; kept: number }>(
              `WITH candidates AS (
                 SELECT x.ctid AS row_id,
                   (SELECT max(u.expires_at) FROM tokens u WHERE u.grant_id = x.grant_id AND u.kind = 'refresh') AS family_expires_at
                 FROM tokens x WHERE x.kind = 'refresh' AND COALESCE(x.cleanup_after, x.expires_at) <= $1
                 ORDER BY COALESCE(x.cleanup_after, x.expires_at) LIMIT $2 FOR UPDATE OF x SKIP LOCKED
               ), deleted AS (
                 DELETE FROM tokens WHERE ctid = ANY (ARRAY(SELECT row_id FROM candidates WHERE family_expires_at <= $1)) RETURNING 1
               ), kept AS (
                 UPDATE tokens SET cleanup_after = c.family_expires_at FROM candidates c
                 WHERE tokens.ctid = c.row_id AND c.family_expires_at > $1 RETURNING 1
               )
               SELECT (SELECT count(*) FROM deleted)::int AS deleted, (SELECT count(*) FROM kept)::int AS kept`,
              [now, batchSize],
            )).rows[0]!;
            total += row.deleted;
            if (row.deleted + row.kept < batchSize) return total;
          }
        };
        const result: Omit<CleanupResult, 'deleted'> = {
          loginSessions: await inBatches('login_sessions', 'x.expires_at <= $1', 'x.expires_at', [now]),
          authorizationCodes: await inBatches('authorization_codes', 'x.expires_at <= $1', 'x.expires_at', [now - AUTHORIZATION_CODE_RETENTION_SECONDS]),
          accessTokens: await inBatches('tokens', "x.kind = 'access' AND x.expires_at <= $1", 'x.expires_at', [now]),
          refreshTokens: await refreshFamilies(),
          // After tokens and codes, so a grant whose last rows just went goes in the same run. Only revoked
          // grants whose tokens have all expired (cleanup_after, set at revocation) are candidates; a revoked
          // grant never gains tokens or codes again, so "none left" stays true until the delete.
          grants: await inBatches('grants', `x.revoked_at IS NOT NULL AND x.cleanup_after <= $1
            AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.grant_id = x.grant_id)
            AND NOT EXISTS (SELECT 1 FROM authorization_codes c WHERE c.grant_id = x.grant_id)`, 'x.cleanup_after', [now]),
          loginThrottleWindows: await inBatches('login_throttle', 'x.window_ends_at <= $1', 'x.window_ends_at', [now]),
          interactions: await inBatches('interactions', 'x.expires_at <= $1', 'x.expires_at', [now]),
          rateLimitWindows: await inBatches('rate_limit_windows', 'x.window_ends_at <= $1', 'x.window_ends_at', [now]),
          knownDevices: await inBatches('known_devices', 'x.expires_at <= $1', 'x.expires_at', [now]),
          pushedRequests: await inBatches('pushed_requests', 'x.expires_at <= $1', 'x.expires_at', [now]),
          // SPEC decision 8: a grace record whose window ended answers no retry any more.
          refreshTokenGrace: await inBatches('refresh_token_grace', 'x.grace_expires_at <= $1', 'x.grace_expires_at', [now]),
        };
        return { deleted: Object.values(result).reduce((sum, n) => sum + n, 0), ...result };
      },
    },
    dpopProofs: {
      async recordOnce(proofDigest, expiresAt, now) {
        // One statement: a new digest is inserted, an expired one replaced; a live one is left alone (no row
        // returned). A concurrent insert of the same digest waits on the unique index and then sees it.
        const row = await one(
          `INSERT INTO dpop_proofs (proof_digest, expires_at) VALUES ($1, $2)
           ON CONFLICT (proof_digest) DO UPDATE SET expires_at = excluded.expires_at WHERE dpop_proofs.expires_at <= $3
           RETURNING 1 AS recorded`,
          [proofDigest, expiresAt, now],
        );
        return row !== undefined;
      },
      async deleteExpired(now, limit) {
        const result = await query(
          'DELETE FROM dpop_proofs WHERE proof_digest IN (SELECT proof_digest FROM dpop_proofs WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)',
          [now, limit],
        );
        return result.rowCount ?? 0;
      },
    },
    async close() {
      await clientChanges.close();
      await pool.end();
    },
    connectionPool() {
      return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options.max ?? 10 };
    },
    async checkReady() {
      // One cheap round trip that also proves the schema is migrated (readiness, `/health/ready`).
      const row = await one<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
      const latest = Math.max(0, ...migrations.map((migration) => migration.version));
      if (Number(row?.version ?? 0) < latest) throw new Error(`the database schema is at version ${row?.version ?? 0}, this server needs ${latest}`);
    },
  };
  return storage;
}

/**
 * Runs the missing migrations and closes: `gatehouse migrate`.
 * @returns the versions applied by this call and the schema's version after it.
 */
export async function migratePostgres(databaseUrl: string, options: Pick<PostgresStorageOptions, 'schema'> = {}): Promise<{ applied: number[]; version: number }> {
  const schema = checkSchema(options.schema ?? 'public');
  const pool = createPool(databaseUrl, schema, 1);
  pool.on('error', () => {}); // an idle connection's loss: the migration's own query reports it
  try {
    const { client, release } = await checkOut(pool);
    try {
      return await runMigrations(client, schema);
    } finally {
      release();
    }
  } finally {
    await pool.end();
  }
}

function checkSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`schema must be lowercase letters, digits and "_" (got "${schema}")`);
  return schema;
}

function createPool(databaseUrl: string, schema: string, max: number, connectionTimeoutMillis = 5_000): pg.Pool {
  // search_path as a startup parameter: no extra round trip per connection. The name was checked above.
  // connectionTimeoutMillis bounds the wait for a connection (pool-pg: "timeout exceeded when trying to
  // connect"), so an unreachable database answers 503 promptly instead of queueing requests; keepAlive
  // lets the OS notice a peer that vanished without closing the connection.
  return new pg.Pool({ connectionString: databaseUrl, max, options: `-c search_path=${schema}`, connectionTimeoutMillis, keepAlive: true });
}

/**
 * The client-record cache's listening connection (storage/client-cache.ts): its own, never pooled (a
 * LISTEN belongs to one session). `query_timeout` bounds the heartbeat, so a silently dead connection is
 * noticed; keepAlive as for the pool.
 */
function createListenerConnection(databaseUrl: string, connectionTimeoutMillis = 5_000): pg.Client {
  return new pg.Client({
    connectionString: databaseUrl, connectionTimeoutMillis, query_timeout: 5_000, keepAlive: true, application_name: 'gatehouse client-cache listener',
  });
}

/**
 * Checks a client out of the pool with an `'error'` listener for as long as it is out. pg-pool detaches its
 * own listener on checkout, and a connection that dies while checked out (pg_terminate_backend, a restart,
 * a cut network) emits `'error'`: without a listener that ends the process. `release(error?)` hands the
 * client back with the error it met (its own or the one given), so the pool discards a broken connection
 * instead of reusing it (pg-pool README, "releasing clients").
 *
 * The callback form of `pool.connect`, not the promise: the listener must be attached in the same tick as
 * the checkout. A client handed over while the pool parses a socket chunk (release → next waiter) may find
 * the backend's termination notice in the rest of that chunk; with `await pool.connect()` the listener
 * would come a microtask too late and the process would exit (seen under load in connection-loss.test.ts).
 */
function checkOut(pool: pg.Pool): Promise<{ client: PoolClient; release(error?: Error): void }> {
  return new Promise((resolve, reject) => {
    pool.connect((connectError, client, done) => {
      if (connectError || !client) {
        reject(connectError ?? new Error('the pool gave no client'));
        return;
      }
      let broken: Error | undefined;
      const onError = (error: Error) => {
        broken ??= error;
      };
      client.on('error', onError);
      resolve({
        client,
        release(error) {
          client.removeListener('error', onError);
          done(error ?? broken);
        },
      });
    });
  });
}

/**
 * The tail of an UPDATE of revoked grants: `cleanup_after` = the latest expiry of any of the grant's
 * tokens (0 without tokens). Run after the grant row is locked, so every token is seen.
 */
const SET_GRANT_CLEANUP_AFTER = `UPDATE grants SET cleanup_after = (SELECT COALESCE(max(t.expires_at), 0) FROM tokens t WHERE t.grant_id = grants.grant_id)`;

/** The new tokens as ten parameters for insertTokens(): one array per column. */
function tokenColumns(tokens: TokenRecord[]): unknown[] {
  return [
    tokens.map((t) => t.tokenDigest), tokens.map((t) => t.tokenId), tokens.map((t) => t.kind), tokens.map((t) => t.grantId),
    tokens.map((t) => t.clientId), tokens.map((t) => t.scope.join(' ')), tokens.map((t) => t.issuedAt), tokens.map((t) => t.expiresAt),
    tokens.map((t) => t.rotatedAt), tokens.map((t) => t.revokedAt),
  ];
}

/**
 * An INSERT of every token given by tokenColumns() as parameters $first..$first+9 (one multi-row insert),
 * with their audiences (RFC 8707; `tokenAudiences()`) as parameter $audiences and their DPoP key
 * thumbprints (RFC 9449; `tokenJkts()`) as parameter $audiences+1.
 */
function insertTokens(first: number, audiences: number): string {
  const types = ['text', 'text', 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint', 'bigint'];
  return `INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, audience, dpop_jkt)
    SELECT * FROM unnest(${types.map((type, i) => `$${first + i}::${type}[]`).join(', ')}, $${audiences}::text[], $${audiences + 1}::text[])`;
}

/** RFC 8707: the tokens' audiences as one array parameter for insertTokens() (NULL: the default resource). */
const tokenAudiences = (tokens: TokenRecord[]) => tokens.map((t) => t.audience ?? null);

/** RFC 9449 §6.1: the new tokens' DPoP key thumbprints (null when not bound), the parameter after the audiences. */
function tokenJkts(tokens: TokenRecord[]): Array<string | null> {
  return tokens.map((t) => t.dpopJkt ?? null);
}

const TOKEN_COLUMNS = ['token_digest', 'token_id', 'kind', 'grant_id', 'client_id', 'scope', 'issued_at', 'expires_at', 'rotated_at', 'revoked_at', 'audience', 'dpop_jkt'];
const GRANT_COLUMNS = ['grant_id', 'client_id', 'user_id', 'subject_type', 'subject_id', 'scope', 'created_at', 'revoked_at', 'revocation_reason', 'resources'];
const CLIENT_COLUMNS = ['client_id', 'kind', 'client_name', 'client_type', 'secret_digest', 'redirect_uris', 'scopes', 'subject_type', 'pkce_required',
  'status', 'client_uri', 'logo_uri', 'tos_uri', 'policy_uri', 'audience', 'created_at', 'initiation_uri', 'settings_uri', 'contacts',
  'owner_user_id', 'previous_secret_digest', 'previous_secret_expires_at', 'branding_verified',
  'require_pushed_authorization_requests', 'dpop_bound_access_tokens', 'description', 'category'];
/** The column of each field `clients.update` may change. */
const TOKEN_WITH_GRANT_COLUMNS = [
  ...TOKEN_COLUMNS.map((column) => `t.${column} AS t_${column}`),
  ...GRANT_COLUMNS.map((column) => `g.${column} AS g_${column}`),
  ...CLIENT_COLUMNS.map((column) => `c.${column} AS c_${column}`),
].join(', ');



/** Grants whose last recorded use `grants.recordUse` remembers (a write skipped is a round trip saved). */
const RECENT_GRANT_USES = 10_000;

function auditEventColumns(event: AuditEvent): unknown[] {
  return [event.type, event.at, event.actor, event.clientId ?? null, event.grantId ?? null, JSON.stringify(event.details ?? {})];
}
