import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { postgresSkipReason, POSTGRES_URL, uniqueSchemaName } from '../testing/services.ts';
import { createPostgresTokenStore } from './postgres.ts';
import { describeTokenStoreContract } from './token-store-contract.ts';

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
      const tokens = (n: number) => ({
        accessTokenCiphertext: `v1.k.a${n}`, refreshTokenCiphertext: `v1.k.r${n}`, accessTokenExpiresAt: 1_800_001_000, scope: 'users:read', updatedAt: 1_800_000_100,
      });
      const refreshed = (await store.replaceTokens('a', read, tokens(2)))!;
      assert.deepEqual([refreshed.version, refreshed.generation], [2, null], 'an old row is written at its version');
      const reconnected = await store.save({ ...refreshed, accessTokenCiphertext: 'v1.k.a3' });
      assert.deepEqual([reconnected.version, reconnected.generation], [3, null], 'a reconnect keeps counting');
      assert.equal(await store.delete('a'), true);
      const recreated = await store.save({ ...read, createdAt: 1_800_000_500, updatedAt: 1_800_000_500 });
      assert.equal(typeof recreated.generation, 'string');
      const current = (await store.replaceTokens('a', recreated, tokens(4)))!;
      const again = (await store.replaceTokens('a', current, tokens(5)))!;
      assert.equal(again.version, reconnected.version);
      assert.equal(await store.replaceTokens('a', reconnected, tokens(6)), undefined, 'what was read of the old row matches no new row');
      assert.equal(await store.markReauthorizationRequired('a', reconnected, 'invalid_grant', 1_800_000_600), undefined);
      assert.deepEqual(await store.get('a'), again);
      await store.close();
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    }
  });
});
