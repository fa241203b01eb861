/**
 * A token store in PostgreSQL, for integrations running several instances. Each operation is one
 * statement, so both tokens of a connection are always written together; version checks make
 * conditional writes safe under any isolation level (a row-level UPDATE … WHERE generation … AND version = $n).
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { ConfigurationError } from '../errors.ts';
import { advisoryKey, assertPgPool } from '../locks/postgres.ts';
import type { StoredConnection, TokenStore } from '../token-store.ts';
import { fromRow, SQL_IDENTIFIER } from './columns.ts';
import { checkOutPooled } from '../postgres-checkout.ts';

export interface PostgresTokenStoreOptions {
  /** The caller's pool; `close()` does not end it. */
  pool: Pool;
  /** Schema of the table, created when missing; default the connection's search_path (usually `public`). */
  schema?: string;
  /** Default `gatehouse_connections`. */
  tableName?: string;
}

/**
 * Creates the table (and schema) when missing, then returns the store.
 * @throws ConfigurationError when `options.pool` is not a `pg` Pool (`pg` is an optional peer dependency: install it to use this store).
 */
export async function createPostgresTokenStore(options: PostgresTokenStoreOptions): Promise<TokenStore> {
  assertPgPool(options?.pool, 'createPostgresTokenStore');
  const tableName = options.tableName ?? 'gatehouse_connections';
  for (const identifier of [tableName, ...(options.schema === undefined ? [] : [options.schema])]) {
    if (!SQL_IDENTIFIER.test(identifier)) throw new ConfigurationError(`"${identifier}" must match ${SQL_IDENTIFIER}`);
  }
  const table = options.schema === undefined ? `"${tableName}"` : `"${options.schema}"."${tableName}"`;
  const { pool } = options;

  if (!(await isUpToDate(pool, table))) await createOrUpgrade(pool, table, options.schema);

  const one = async (sql: string, values: unknown[]) => fromRow((await pool.query(sql, values)).rows[0]);
  return {
    save(c) {
      return one(`INSERT INTO ${table} (connection_id, issuer, client_id, subject_urn, scope, status, status_reason,
          access_token_ciphertext, refresh_token_ciphertext, access_token_expires_at, version, created_at, updated_at, dpop_key_ciphertext, generation)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12, $13, $14)
        ON CONFLICT (connection_id) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id,
          subject_urn = excluded.subject_urn, scope = excluded.scope, status = excluded.status, status_reason = excluded.status_reason,
          access_token_ciphertext = excluded.access_token_ciphertext, refresh_token_ciphertext = excluded.refresh_token_ciphertext,
          access_token_expires_at = excluded.access_token_expires_at, version = ${table}.version + 1, updated_at = excluded.updated_at,
          dpop_key_ciphertext = excluded.dpop_key_ciphertext
        RETURNING *`, [
        c.connectionId, c.issuer, c.clientId, c.subjectUrn, c.scope, c.status, c.statusReason,
        c.accessTokenCiphertext, c.refreshTokenCiphertext, c.accessTokenExpiresAt, c.createdAt, c.updatedAt, c.dpopKeyCiphertext ?? null,
        // Used only when the row is inserted: a replaced row (a reconnect) keeps its generation.
        randomUUID(),
      ]) as Promise<StoredConnection>;
    },
    get(connectionId) {
      return one(`SELECT * FROM ${table} WHERE connection_id = $1`, [connectionId]);
    },
    async list() {
      return (await pool.query(`SELECT * FROM ${table} ORDER BY connection_id COLLATE "C"`)).rows.map((row) => fromRow(row)!);
    },
    replaceTokens(connectionId, expected, update) {
      return one(`UPDATE ${table} SET access_token_ciphertext = $1, refresh_token_ciphertext = $2, access_token_expires_at = $3,
          scope = $4, updated_at = $5, version = version + 1, dpop_key_ciphertext = COALESCE($8, dpop_key_ciphertext)
        WHERE connection_id = $6 AND generation IS NOT DISTINCT FROM $9::text AND version = $7 AND status = 'active' RETURNING *`, [
        update.accessTokenCiphertext, update.refreshTokenCiphertext, update.accessTokenExpiresAt, update.scope, update.updatedAt,
        connectionId, expected.version, update.dpopKeyCiphertext ?? null, expected.generation,
      ]);
    },
    markReauthorizationRequired(connectionId, expected, reason, at) {
      return one(`UPDATE ${table} SET status = 'reauthorization_required', status_reason = $1, access_token_ciphertext = NULL,
          refresh_token_ciphertext = NULL, access_token_expires_at = NULL, dpop_key_ciphertext = NULL, updated_at = $2, version = version + 1
        WHERE connection_id = $3 AND generation IS NOT DISTINCT FROM $5::text AND version = $4 RETURNING *`,
        [reason, at, connectionId, expected.version, expected.generation]);
    },
    async delete(connectionId) {
      return ((await pool.query(`DELETE FROM ${table} WHERE connection_id = $1`, [connectionId])).rowCount ?? 0) > 0;
    },
    async close() {},
  };
}

/** What the catalogue says of the table's columns that releases after its first added. */
interface TableColumns {
  readonly dpopKeyCiphertext: boolean;
  readonly generation: boolean;
  readonly generationHasDefault: boolean;
}

/** Reads {@link TableColumns} (all false when the table does not exist). */
async function readColumns(queryable: Pick<Pool, 'query'>, table: string): Promise<TableColumns> {
  const { rows } = await queryable.query<{ attname: string; atthasdef: boolean }>(
    `SELECT attname, atthasdef FROM pg_attribute
      WHERE attrelid = to_regclass($1) AND attname IN ('dpop_key_ciphertext', 'generation') AND NOT attisdropped`, [table]);
  const generation = rows.find((row) => row.attname === 'generation');
  return {
    dpopKeyCiphertext: rows.some((row) => row.attname === 'dpop_key_ciphertext'),
    generation: generation !== undefined,
    generationHasDefault: generation?.atthasdef === true,
  };
}

/**
 * Whether the table exists with every column and default this release needs: then opening a store runs no DDL.
 * `ALTER TABLE … ADD COLUMN IF NOT EXISTS` takes an ACCESS EXCLUSIVE lock before it finds the column there, so
 * each instance opening the store waited for every transaction using the table, and every query after it waited
 * behind it.
 */
async function isUpToDate(pool: Pool, table: string): Promise<boolean> {
  const columns = await readColumns(pool, table);
  return columns.dpopKeyCiphertext && columns.generation && columns.generationHasDefault;
}

/** Creates the schema and table, or adds what a table created by an earlier release lacks. */
async function createOrUpgrade(pool: Pool, table: string, schema: string | undefined): Promise<void> {
  // Several instances may start at once; concurrent CREATE … IF NOT EXISTS can still collide in the
  // catalogue, so creation is serialized with a transaction-scoped advisory lock.
  const { client: setup, release } = await checkOutPooled(pool);
  try {
    await setup.query('BEGIN');
    await setup.query('SELECT pg_advisory_xact_lock($1::bigint)', [advisoryKey('gatehouse-client-schema', table)]);
    if (schema !== undefined) await setup.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await setup.query(`CREATE TABLE IF NOT EXISTS ${table} (
      connection_id text PRIMARY KEY,
      issuer text NOT NULL,
      client_id text NOT NULL,
      subject_urn text NOT NULL,
      scope text NOT NULL,
      status text NOT NULL CHECK (status IN ('active', 'reauthorization_required')),
      status_reason text,
      access_token_ciphertext text,
      refresh_token_ciphertext text,
      access_token_expires_at bigint,
      version integer NOT NULL,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL,
      dpop_key_ciphertext text,
      generation text DEFAULT gen_random_uuid()::text
    )`);
    // Each ALTER only when its change is missing: ALTER TABLE locks the table out (see isUpToDate).
    const columns = await readColumns(setup, table);
    // RFC 9449 (issue 15 §3): the sealed DPoP key the tokens are bound to; added to tables created before.
    if (!columns.dpopKeyCiphertext) await setup.query(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS dpop_key_ciphertext text`);
    // Which row this is (token-store.ts, `generation`); added to tables created before, whose rows keep null
    // (no default here: a refresh in flight that read null must still find its row).
    if (!columns.generation) await setup.query(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS generation text`);
    // A row inserted without the column (by an SDK release before it, still running beside this one) gets a
    // generation from the default, so it never matches what was read of a row deleted before it;
    // gen_random_uuid() is built in from PostgreSQL 13.
    if (!columns.generationHasDefault) {
      await setup.query(`ALTER TABLE ${table} ALTER COLUMN generation SET DEFAULT gen_random_uuid()::text`);
    }
    await setup.query('COMMIT');
  } catch (error) {
    await setup.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    release();
  }
}
