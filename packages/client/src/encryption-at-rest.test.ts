/**
 * Tokens at rest, through the whole client: what reaches SQLite and PostgreSQL is ciphertext only, and
 * a key rotation keeps old rows readable until their next write re-encrypts them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import { createManualClock } from './clock.ts';
import { createTokenCipher, generateEncryptionKey, type EncryptionKey } from './encryption.ts';
import { DecryptionError } from './errors.ts';
import { createGatehouseClient } from './gatehouse-client.ts';
import { silentLogger } from './logging.ts';
import { createPostgresTokenStore } from './stores/postgres.ts';
import { createSqliteTokenStore } from './stores/sqlite.ts';
import type { TokenStore } from './token-store.ts';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from './testing/fake-authorization-server.ts';
import { connectThroughFake, FAKE_START_SECONDS } from './testing/fake-connection.ts';
import { postgresSkipReason, POSTGRES_URL, uniqueSchemaName } from './testing/services.ts';

const postgresSkip = await postgresSkipReason();

/** Every 12-character window of every token, so a partial leak is caught too. */
function assertNoTokenIn(haystack: string, tokens: readonly string[]): void {
  assert.ok(tokens.length > 0);
  for (const token of tokens) {
    for (let start = 0; start + 12 <= token.length; start += 6) {
      assert.ok(!haystack.includes(token.slice(start, start + 12)), `a piece of a token is stored in clear`);
    }
  }
}

describe('tokens at rest', () => {
  let fake: FakeAuthorizationServer;
  let directory: string;
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
    directory = mkdtempSync(join(tmpdir(), 'gatehouse-client-'));
  });
  afterEach(async () => {
    await fake.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('SQLite: the database file (and its WAL) holds ciphertext only, never a token substring', async () => {
    const store = createSqliteTokenStore({ path: join(directory, 'connections.sqlite') });
    const { client, connectionId, clock } = await connectThroughFake(fake, { store });
    clock.advanceSeconds(1000);
    await client.getAccessToken(connectionId);
    const files = readdirSync(directory).map((name) => readFileSync(join(directory, name)).toString('latin1')).join('\n');
    assert.match(files, /v1\.test\./, 'the ciphertexts are there');
    assertNoTokenIn(files, fake.issuedTokens);
    await store.close();
  });

  it('PostgreSQL: the stored rows hold ciphertext only', { skip: postgresSkip ?? false }, async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    const schema = uniqueSchemaName();
    try {
      const store = await createPostgresTokenStore({ pool, schema });
      const { client, connectionId, clock } = await connectThroughFake(fake, { store });
      clock.advanceSeconds(1000);
      await client.getAccessToken(connectionId);
      const { rows } = await pool.query(`SELECT * FROM "${schema}".gatehouse_connections`);
      assert.equal(rows.length, 1);
      assert.match(rows[0].access_token_ciphertext, /^v1\.test\./);
      assertNoTokenIn(JSON.stringify(rows), fake.issuedTokens);
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    }
  });

  it('key rotation: rows under the old key stay readable; the next write re-encrypts both tokens with the new key', async () => {
    const store: TokenStore = createSqliteTokenStore({ path: join(directory, 'connections.sqlite') });
    const oldKey = generateEncryptionKey('2026-01');
    const newKey = generateEncryptionKey('2026-07');
    const clock = createManualClock(FAKE_START_SECONDS);
    const { connectionId } = await connectThroughFake(fake, { store, encryptionKeys: [oldKey], clock });
    const keyIds = async () => {
      const row = (await store.get(connectionId))!;
      const cipher = createTokenCipher([newKey, oldKey]);
      return [cipher.keyIdOf(row.accessTokenCiphertext!), cipher.keyIdOf(row.refreshTokenCiphertext!)];
    };
    const clientWith = (keys: EncryptionKey[]) => createGatehouseClient({
      issuer: fake.issuer, clientId: '7af385a0-284d-48c5-b225-362862085551', clientSecret: 'fake-client-secret',
      redirectUri: 'http://127.0.0.1:9/callback', scope: 'users:read', store, encryptionKeys: keys, clock, logger: silentLogger,
    });

    const rotated = clientWith([newKey, oldKey]);
    const accessToken = await rotated.getAccessToken(connectionId);
    assert.equal(accessToken, fake.issuedTokens[1], 'the old row decrypts with the rotated keyring');
    assert.deepEqual(await keyIds(), ['2026-01', '2026-01'], 'reading does not rewrite');

    clock.advanceSeconds(1000);
    await rotated.getAccessToken(connectionId);
    assert.deepEqual(await keyIds(), ['2026-07', '2026-07']);
    assert.equal(await clientWith([newKey]).getAccessToken(connectionId), fake.issuedTokens.at(-1), 'the old key can now be retired');
    await assert.rejects(clientWith([oldKey]).getAccessToken(connectionId), DecryptionError);
    await store.close();
  });
});
