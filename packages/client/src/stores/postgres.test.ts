import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { postgresSkipReason, POSTGRES_URL, uniqueSchemaName } from '../testing/services.ts';
import { createPostgresTokenStore } from './postgres.ts';
import { assertRowFromBeforeGenerations, describeTokenStoreContract } from './token-store-contract.ts';

const skip = await postgresSkipReason();

describeTokenStoreContract('postgres', async () => {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  const schema = uniqueSchemaName();
  const store = await createPostgresTokenStore({ pool, schema });
  return {
    store,
    async dispose() {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}, skip);

describe('postgres token store table', { skip: skip ?? false }, () => {
  it('opens on an up-to-date table without DDL: a transaction holding a row of it does not hold the open up, nor queries behind it', async () => {
    const schema = uniqueSchemaName();
    const table = `"${schema}".gatehouse_connections`;
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    // Waiting for a lock fails after 2 s instead of hanging: an ALTER TABLE at open (ACCESS EXCLUSIVE) would.
    const starting = new pg.Pool({ connectionString: POSTGRES_URL, max: 2, options: '-c lock_timeout=2000' });
    const other = new pg.Client({ connectionString: POSTGRES_URL });
    await other.connect();
    try {
      const store = await createPostgresTokenStore({ pool, schema });
      await store.save({ connectionId: 'a', issuer: 'http://127.0.0.1:3000', clientId: 'c', subjectUrn: 'urn:gatehouse:company:x', scope: 'users:read',
        status: 'active', statusReason: null, accessTokenCiphertext: 'v1.k.a', refreshTokenCiphertext: 'v1.k.r', accessTokenExpiresAt: 1_800_000_900,
        dpopKeyCiphertext: null, createdAt: 1_800_000_000, updatedAt: 1_800_000_000 });
      // Another instance mid-transaction on the table (a refresh holding its row).
      await other.query('BEGIN');
      await other.query(`SELECT * FROM ${table} WHERE connection_id = 'a' FOR UPDATE`);
      const second = await createPostgresTokenStore({ pool: starting, schema });
      assert.equal((await second.get('a'))?.accessTokenCiphertext, 'v1.k.a');
      const locks = await starting.query(`SELECT count(*)::int AS n FROM pg_locks WHERE relation = to_regclass($1) AND mode = 'AccessExclusiveLock'`, [table]);
      assert.equal(locks.rows[0].n, 0);
      await other.query('COMMIT');
      await second.close();
      await store.close();
    } finally {
      await other.end();
      await starting.end();
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    }
  });

  it('adds the generation column to a table created before it: its rows keep working (generation null), a row saved again after a delete is another row', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    const schema = uniqueSchemaName();
    try {
      // The table as the SDK created it before rows had a generation (and before the DPoP key column).
      await pool.query(`CREATE SCHEMA "${schema}"`);
      await pool.query(`CREATE TABLE "${schema}".gatehouse_connections (
        connection_id text PRIMARY KEY, issuer text NOT NULL, client_id text NOT NULL, subject_urn text NOT NULL, scope text NOT NULL,
        status text NOT NULL CHECK (status IN ('active', 'reauthorization_required')), status_reason text, access_token_ciphertext text,
        refresh_token_ciphertext text, access_token_expires_at bigint, version integer NOT NULL, created_at bigint NOT NULL, updated_at bigint NOT NULL)`);
      await pool.query(`INSERT INTO "${schema}".gatehouse_connections VALUES ('a', 'http://127.0.0.1:3000', 'c', 'urn:gatehouse:company:x', 'users:read',
        'active', NULL, 'v1.k.a', 'v1.k.r', 1800000900, 1, 1800000000, 1800000000)`);
      const store = await createPostgresTokenStore({ pool, schema });
      await createPostgresTokenStore({ pool, schema }); // opening it again changes nothing
      const read = (await store.get('a'))!;
      assert.equal(read.generation, null);
      assert.equal(read.dpopKeyCiphertext, null);
      await assertRowFromBeforeGenerations(store, read);
      await store.close();
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    }
  });

  // The previous SDK release names its columns without `generation` (its INSERT, verbatim): a row it inserts into a
  // table a newer SDK created or upgraded gets a generation from the column's default, so it is another row than one
  // it deleted, and a refresh that read the deleted one writes nothing.
  for (const created of ['by this SDK', 'by an SDK before the generation column']) {
    it(`gives a row an older SDK inserts a generation (table created ${created})`, async () => {
      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
      const schema = uniqueSchemaName();
      const table = `"${schema}".gatehouse_connections`;
      try {
        if (created !== 'by this SDK') {
          await pool.query(`CREATE SCHEMA "${schema}"`);
          await pool.query(`CREATE TABLE ${table} (
            connection_id text PRIMARY KEY, issuer text NOT NULL, client_id text NOT NULL, subject_urn text NOT NULL, scope text NOT NULL,
            status text NOT NULL CHECK (status IN ('active', 'reauthorization_required')), status_reason text, access_token_ciphertext text,
            refresh_token_ciphertext text, access_token_expires_at bigint, version integer NOT NULL, created_at bigint NOT NULL, updated_at bigint NOT NULL,
            dpop_key_ciphertext text)`);
        }
        const store = await createPostgresTokenStore({ pool, schema });
        const saveOld = (n: number) => pool.query(`INSERT INTO ${table} (connection_id, issuer, client_id, subject_urn, scope, status, status_reason,
            access_token_ciphertext, refresh_token_ciphertext, access_token_expires_at, version, created_at, updated_at, dpop_key_ciphertext)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12, $13)
          ON CONFLICT (connection_id) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id,
            subject_urn = excluded.subject_urn, scope = excluded.scope, status = excluded.status, status_reason = excluded.status_reason,
            access_token_ciphertext = excluded.access_token_ciphertext, refresh_token_ciphertext = excluded.refresh_token_ciphertext,
            access_token_expires_at = excluded.access_token_expires_at, version = ${table}.version + 1, updated_at = excluded.updated_at,
            dpop_key_ciphertext = excluded.dpop_key_ciphertext
          RETURNING *`, ['a', 'http://127.0.0.1:3000', 'c', 'urn:gatehouse:company:x', 'users:read', 'active', null,
          `v1.k.a${n}`, `v1.k.r${n}`, 1_800_000_900, 1_800_000_000, 1_800_000_000, null]);
        await saveOld(1);
        const read = (await store.get('a'))!;
        await pool.query(`DELETE FROM ${table} WHERE connection_id = $1`, ['a']);
        await saveOld(2);
        const recreated = (await store.get('a'))!;
        assert.equal(recreated.version, read.version);
        assert.equal(await store.replaceTokens('a', read, {
          accessTokenCiphertext: 'v1.k.a3', refreshTokenCiphertext: 'v1.k.r3', accessTokenExpiresAt: 1_800_001_000, scope: 'users:read', updatedAt: 1_800_000_100,
        }), undefined, 'what was read of the deleted row matches no new row');
        assert.equal(await store.markReauthorizationRequired('a', read, 'invalid_grant', 1_800_000_100), undefined);
        assert.deepEqual(await store.get('a'), recreated, 'the new connection\'s tokens are unchanged');
        assert.equal(typeof read.generation, 'string', 'the database gave each row a generation');
        assert.equal(typeof recreated.generation, 'string');
        assert.notEqual(recreated.generation, read.generation);
        // A reconnect by the older SDK (its upsert) keeps the row's generation.
        await saveOld(4);
        assert.equal((await store.get('a'))?.generation, recreated.generation);
        await store.close();
      } finally {
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await pool.end();
      }
    });
  }
});
