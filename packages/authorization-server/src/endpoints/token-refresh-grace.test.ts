/**
 * POST /oauth/token, grant_type=refresh_token, and what the reuse grace window leaves at rest (SPEC
 * decisions 8 and 9): the database, read directly, holds no token value of either pair, only digests and
 * ciphertext; with the window off it holds no ciphertext at all. Both backends.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createAuthorizationServer } from '../authorization-server.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import { confidentialAuth, obtainTokens, postForm, API_AUDIENCE, startTestServer, type TestServer } from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason, queryTestSchema } from '../testing/postgres.ts';

const postgresSkip = await postgresSkipReason();
const temporaryDirectory = mkdtempSync(join(tmpdir(), 'gatehouse-grace-'));
after(() => rmSync(temporaryDirectory, { recursive: true, force: true }));

/** A server on `backend` and a way to read every row of the tables that hold tokens, as text. */
async function startOn(backend: 'sqlite' | 'postgres', refreshTokenReuseGraceSeconds: number): Promise<{ server: TestServer; tableText(table: string): Promise<string> }> {
  if (backend === 'postgres') {
    const storage = await createTestPostgresStorage();
    const server = await startTestServer({ storage, refreshTokenReuseGraceSeconds });
    return { server, tableText: async (table) => JSON.stringify((await queryTestSchema(storage.schema, `SELECT * FROM ${table}`)).rows) };
  }
  const path = join(temporaryDirectory, `${randomBytes(6).toString('hex')}.sqlite`);
  const server = await startTestServer({ storage: createSqliteStorage(path), refreshTokenReuseGraceSeconds });
  return {
    server,
    async tableText(table) {
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        return JSON.stringify(db.prepare(`SELECT * FROM ${table}`).all());
      } finally {
        db.close();
      }
    },
  };
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`POST /oauth/token refresh_token: the grace window at rest (SPEC decisions 8, 9) on ${backend}`, { skip: backend === 'postgres' ? postgresSkip : false }, () => {
    let grace: Awaited<ReturnType<typeof startOn>>;
    let off: Awaited<ReturnType<typeof startOn>>;
    before(async () => {
      grace = await startOn(backend, 30);
      off = await startOn(backend, 0);
    });
    after(async () => {
      await grace.server.close();
      await off.server.close();
    });

    const refresh = (server: TestServer, refreshToken: string) =>
      postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization: confidentialAuth() });
    /** The 256-bit random part of an opaque token (`<kind>_<kid>_<time>_<random>.<tag>`, opaque-token.ts); `<time><tag>` is the stored digest. */
    const randomPart = (value: string) => /^g(?:at|rt)_(?:k[0-9]+_)?(?:[0-9a-v]{7}(?:[0-9a-v]{2})?_)?([A-Za-z0-9_-]{43})\./.exec(value)![1]!;

    it('keeps only digests and ciphertext: no value of the replaced or the successor pair is in the database', async () => {
      const { tokens: first } = await obtainTokens(grace.server, { extra: { prompt: 'consent' } });
      const rotated = await refresh(grace.server, first.refresh_token);
      assert.equal(rotated.status, 200);
      const stored = (await Promise.all(['tokens', 'refresh_token_grace', 'audit_events'].map((table) => grace.tableText(table)))).join('\n');
      assert.match(await grace.tableText('refresh_token_grace'), /sealed_successor/, 'the successor is kept, sealed');
      for (const value of [first.access_token, first.refresh_token, rotated.json.access_token, rotated.json.refresh_token]) {
        assert.equal(stored.includes(randomPart(value)), false, 'a token value is readable at rest');
      }
      const retry = await refresh(grace.server, first.refresh_token);
      assert.equal(retry.json.refresh_token, rotated.json.refresh_token, 'and the retry still gets the pair back');
    });

    it('window 0: keeps no sealed successor, and a retry of the rotated-out token revokes the grant at once', async () => {
      const { tokens: first } = await obtainTokens(off.server, { extra: { prompt: 'consent' } });
      const rotated = await refresh(off.server, first.refresh_token);
      assert.equal(rotated.status, 200);
      assert.equal(await off.tableText('refresh_token_grace'), '[]');
      const retry = await refresh(off.server, first.refresh_token);
      assert.equal(retry.status, 400);
      assert.equal(retry.json.error, 'invalid_grant');
      assert.equal((await refresh(off.server, rotated.json.refresh_token)).json.error, 'invalid_grant', 'the grant is revoked');
    });
  });
}

describe('POST /oauth/token refresh_token: the grace window with JWT access tokens (RFC 9068)', () => {
  it('answers a retry with the byte-identical signed access token, not a re-signed one', async () => {
    const server = await startTestServer({ accessTokenFormat: 'jwt' });
    try {
      const { tokens: first } = await obtainTokens(server, { extra: { prompt: 'consent' } });
      const form = { grant_type: 'refresh_token', refresh_token: first.refresh_token };
      const rotated = await postForm(`${server.url}/oauth/token`, form, { authorization: confidentialAuth() });
      assert.equal(rotated.status, 200);
      assert.equal(rotated.json.access_token.split('.').length, 3, 'a JWT');
      server.clock.advanceSeconds(5);
      const retry = await postForm(`${server.url}/oauth/token`, form, { authorization: confidentialAuth() });
      assert.equal(retry.status, 200, retry.text);
      assert.equal(retry.json.access_token, rotated.json.access_token);
      assert.equal(retry.json.refresh_token, rotated.json.refresh_token);
      assert.equal(retry.json.expires_in, 895);
    } finally {
      await server.close();
    }
  });
});

describe('refreshTokenReuseGraceSeconds (SPEC decision 8: default 30, 0 turns it off, at most 120)', () => {
  it('refuses a window over 120 s, negative or fractional at startup', async () => {
    for (const refreshTokenReuseGraceSeconds of [121, -1, 2.5]) {
      const storage = createSqliteStorage(':memory:');
      try {
        await assert.rejects(createAuthorizationServer({
          issuer: 'http://127.0.0.1:1', environment: 'development', storage, accessTokenAudience: API_AUDIENCE,
          tokenHmacKey: randomBytes(32), logger: false, refreshTokenReuseGraceSeconds,
        }), /refreshTokenReuseGraceSeconds must be a whole number 0\.\.120/);
      } finally {
        await storage.close();
      }
    }
  });
});
