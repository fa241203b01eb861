/**
 * A durable oidc-provider adapter on PostgreSQL, for the benchmark's like-with-like peer row
 * (issue 12, "A durable peer row"): oidc-provider with every code, token, grant, session and interaction
 * committed to the same PostgreSQL Gatehouse runs on, before its response.
 *
 * It implements oidc-provider's adapter interface as its documented template describes it
 * (node-oidc-provider `example/my_adapter.js`; the semantics mirror `lib/adapters/memory_adapter.js`):
 *
 * - `upsert(id, payload, expiresIn)` stores the whole payload (jsonb) under `(model, id)`, replacing any
 *   previous one, with the lookup columns pulled out of it: `grant_id` (for `revokeByGrantId`), `uid`
 *   (sessions, for `findByUid`), `user_code` (device codes, for `findByUserCode`), `expires_at`
 *   (now + `expiresIn` seconds; none when `expiresIn` is absent) and `consumed_at` (from `payload.consumed`,
 *   normally none: a re-saved payload starts unconsumed, as in the memory adapter).
 * - `find`, `findByUid`, `findByUserCode` return the payload, with `consumed` (epoch seconds) when it was
 *   consumed, or `undefined` when there is none or it has expired (expired rows are left in place; nothing
 *   in a benchmark run lives long enough to need a sweep).
 * - `consume(id)` sets `consumed_at` to the database's clock; `destroy(id)` deletes the row;
 *   `revokeByGrantId(grantId)` deletes the rows of this model that belong to the grant (oidc-provider calls
 *   it once per grantable model).
 *
 * One table, `oidc_payloads`, in a schema of its own that `createOidcPostgresSchema` creates fresh. Every
 * call is one statement on a pooled connection, in autocommit: with PostgreSQL's default
 * `synchronous_commit=on`, each write is flushed to the WAL before the call resolves — the same durability
 * Gatehouse's PostgreSQL storage gives its writes.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type pg from 'pg';

/** A schema name the benchmark may create and drop: `bench_…`, lowercase letters, digits, underscores. */
const SCHEMA_NAME = /^bench_[a-z0-9_]+$/;

function checkedSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`refusing schema name ${JSON.stringify(schema)}: it must match ${SCHEMA_NAME}`);
  return schema;
}

/**
 * Creates `schema` and its one table and indexes. Throws when the schema already exists (each run uses a
 * fresh one) or when its name does not match `bench_[a-z0-9_]+`.
 */
export async function createOidcPostgresSchema(client: pg.Pool | pg.Client, schema: string): Promise<void> {
  const s = checkedSchema(schema);
  await client.query(`
    CREATE SCHEMA ${s};
    CREATE TABLE ${s}.oidc_payloads (
      model text NOT NULL,
      id text NOT NULL,
      payload jsonb NOT NULL,
      grant_id text,
      uid text,
      user_code text,
      expires_at timestamptz,
      consumed_at timestamptz,
      PRIMARY KEY (model, id)
    );
    CREATE INDEX oidc_payloads_grant ON ${s}.oidc_payloads (model, grant_id) WHERE grant_id IS NOT NULL;
    CREATE INDEX oidc_payloads_uid ON ${s}.oidc_payloads (model, uid) WHERE uid IS NOT NULL;
    CREATE INDEX oidc_payloads_user_code ON ${s}.oidc_payloads (model, user_code) WHERE user_code IS NOT NULL;
  `);
}

/** Drops `schema` and its table. Throws when the name does not match `bench_[a-z0-9_]+`. */
export async function dropOidcPostgresSchema(client: pg.Pool | pg.Client, schema: string): Promise<void> {
  await client.query(`DROP SCHEMA IF EXISTS ${checkedSchema(schema)} CASCADE`);
}

interface Row {
  payload: AdapterPayload;
  consumed: number | null;
}

function toPayload(row: Row | undefined): AdapterPayload | undefined {
  if (!row) return undefined;
  return row.consumed === null ? row.payload : { ...row.payload, consumed: row.consumed };
}

/** `payload.consumed` (epoch seconds, or any truthy value: then "now") as a timestamp parameter, or null. */
function consumedAt(payload: AdapterPayload): number | null {
  const consumed = payload.consumed as unknown;
  if (!consumed) return null;
  return typeof consumed === 'number' ? consumed : Math.floor(Date.now() / 1000);
}

/** One row of `upsertMany`. */
export interface OidcRow {
  model: string;
  id: string;
  payload: AdapterPayload;
  /** Seconds from now; absent: never expires. */
  expiresIn?: number;
}

/**
 * The adapter factory oidc-provider takes as its `adapter` option: `(model) => Adapter`, every model's rows
 * in `schema.oidc_payloads` through `pool`. `upsertMany` writes many rows in one statement (the benchmark's
 * seeding; oidc-provider never calls it). Errors from PostgreSQL are thrown as they come (oidc-provider
 * answers 500 `server_error`).
 */
export function createOidcPostgresAdapter(pool: pg.Pool, schema: string): ((model: string) => Adapter) & { upsertMany(rows: OidcRow[]): Promise<void> } {
  const table = `${checkedSchema(schema)}.oidc_payloads`;
  // Expiry and consumption are compared and stamped with the database's clock, like a real deployment
  // with several provider instances would have to.
  const selectColumns = `payload, floor(extract(epoch FROM consumed_at))::float8 AS consumed`;
  const live = `(expires_at IS NULL OR expires_at > now())`;
  const upsertSql = `
    INSERT INTO ${table} AS t (model, id, payload, grant_id, uid, user_code, expires_at, consumed_at)
    VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7::float8), to_timestamp($8::float8))
    ON CONFLICT (model, id) DO UPDATE SET
      payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid, user_code = excluded.user_code,
      expires_at = excluded.expires_at, consumed_at = excluded.consumed_at`;
  const findSql = `SELECT ${selectColumns} FROM ${table} WHERE model = $1 AND id = $2 AND ${live}`;
  const findByUidSql = `SELECT ${selectColumns} FROM ${table} WHERE model = $1 AND uid = $2 AND ${live} LIMIT 1`;
  const findByUserCodeSql = `SELECT ${selectColumns} FROM ${table} WHERE model = $1 AND user_code = $2 AND ${live} LIMIT 1`;
  const consumeSql = `UPDATE ${table} SET consumed_at = now() WHERE model = $1 AND id = $2`;
  const destroySql = `DELETE FROM ${table} WHERE model = $1 AND id = $2`;
  const revokeSql = `DELETE FROM ${table} WHERE model = $1 AND grant_id = $2`;

  const one = async (sql: string, model: string, key: string) => toPayload((await pool.query<Row>(sql, [model, key])).rows[0]);

  const factory = (model: string): Adapter => ({
    async upsert(id, payload, expiresIn) {
      await pool.query(upsertSql, [
        model, id, payload, payload.grantId ?? null, payload.uid ?? null, payload.userCode ?? null,
        typeof expiresIn === 'number' ? expiresIn : null, consumedAt(payload),
      ]);
    },
    find: (id) => one(findSql, model, id),
    findByUid: (uid) => one(findByUidSql, model, uid),
    findByUserCode: (userCode) => one(findByUserCodeSql, model, userCode),
    async consume(id) {
      await pool.query(consumeSql, [model, id]);
    },
    async destroy(id) {
      await pool.query(destroySql, [model, id]);
    },
    async revokeByGrantId(grantId) {
      await pool.query(revokeSql, [model, grantId]);
    },
  });

  return Object.assign(factory, {
    async upsertMany(rows: OidcRow[]): Promise<void> {
      if (rows.length === 0) return;
      await pool.query(`
        INSERT INTO ${table} (model, id, payload, grant_id, uid, user_code, expires_at, consumed_at)
        SELECT r.model, r.id, r.payload, r.grant_id, r.uid, r.user_code, now() + make_interval(secs => r.expires_in), to_timestamp(r.consumed)
        FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[])
          AS r (model, id, payload, grant_id, uid, user_code, expires_in, consumed)
        ON CONFLICT (model, id) DO UPDATE SET
          payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid, user_code = excluded.user_code,
          expires_at = excluded.expires_at, consumed_at = excluded.consumed_at`, [
        rows.map((row) => row.model), rows.map((row) => row.id), rows.map((row) => JSON.stringify(row.payload)),
        rows.map((row) => row.payload.grantId ?? null), rows.map((row) => row.payload.uid ?? null),
        rows.map((row) => row.payload.userCode ?? null), rows.map((row) => row.expiresIn ?? null), rows.map((row) => consumedAt(row.payload)),
      ]);
    },
  });
}
