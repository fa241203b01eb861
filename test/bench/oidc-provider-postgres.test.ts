/**
 * The benchmark's durable peer end to end: oidc-provider 9 with bench/oidc-postgres-adapter.ts, run as
 * the benchmark runs it (the `oidc-provider-postgres` role of bench/servers.ts, in its own process, its
 * own `bench_test_…` schema). One real flow (login, consent, code exchange), introspection, one refresh
 * rotation, and the replay of the rotated refresh token, which oidc-provider must refuse and answer by
 * revoking the whole grant (its `consume` and `revokeByGrantId` through the adapter). Skipped with the
 * reason when PostgreSQL is unreachable.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { OIDC_CLIENT, OIDC_SCOPE } from '../../bench/config.ts';
import { oidcLogin } from '../../bench/http-session.ts';
import { dropOidcPostgresSchema } from '../../bench/oidc-postgres-adapter.ts';
import { ServerProcess } from '../../bench/server-process.ts';
import { basicAuthorization, type Endpoints } from '../../bench/workloads.ts';
import { postgresSkipReason, TEST_DATABASE_URL } from '../../packages/authorization-server/src/testing/postgres.ts';

const skip = await postgresSkipReason();

describe('oidc-provider on the PostgreSQL adapter (benchmark peer), over HTTP', { skip }, () => {
  const schema = `bench_test_${randomBytes(6).toString('hex')}`;
  const directory = mkdtempSync(join(tmpdir(), 'oidc-peer-test-'));
  const endpoints: Endpoints = {
    system: 'test', token: '/token', introspection: '/token/introspection',
    clientId: OIDC_CLIENT.id, clientSecret: OIDC_CLIENT.secret, redirectUri: OIDC_CLIENT.redirectUri,
  };
  let server: ServerProcess;
  let database: pg.Client;

  before(async () => {
    database = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();
    server = await ServerProcess.start('oidc-provider-postgres', { postgresUrl: TEST_DATABASE_URL, postgresSchema: schema }, join(directory, 'server.log'));
  });

  after(async () => {
    await server?.stop();
    await dropOidcPostgresSchema(database, schema);
    await database.end();
    rmSync(directory, { recursive: true, force: true });
  });

  const post = async (path: string, form: Record<string, string>) => {
    const response = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuthorization(endpoints.clientId, endpoints.clientSecret) },
      body: new URLSearchParams(form),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  test('a flow, introspection and a rotation work and are committed; a replayed refresh token is refused and revokes the grant', async () => {
    const { tokens } = await oidcLogin(server.url, endpoints, OIDC_SCOPE);
    const accessToken = String(tokens.access_token);
    const firstRefresh = String(tokens.refresh_token);

    // What the flow stored is in the table, as seen from another connection (its Interaction is destroyed at its end).
    const { rows } = await database.query<{ model: string; count: number }>(`SELECT model, count(*)::int AS count FROM ${schema}.oidc_payloads GROUP BY model`);
    const stored = Object.fromEntries(rows.map((row) => [row.model, row.count]));
    for (const model of ['Session', 'Grant', 'AuthorizationCode', 'AccessToken', 'RefreshToken']) {
      assert.ok((stored[model] ?? 0) >= 1, `${model} stored: ${JSON.stringify(stored)}`);
    }
    const codes = await database.query<{ consumed: boolean }>(`SELECT consumed_at IS NOT NULL AS consumed FROM ${schema}.oidc_payloads WHERE model = 'AuthorizationCode'`);
    assert.deepEqual(codes.rows, [{ consumed: true }], 'the exchanged code is marked consumed');

    const introspected = await post('/token/introspection', { token: accessToken });
    assert.equal(introspected.status, 200);
    assert.equal(introspected.body.active, true);

    const rotated = await post('/token', { grant_type: 'refresh_token', refresh_token: firstRefresh });
    assert.equal(rotated.status, 200);
    assert.equal(typeof rotated.body.refresh_token, 'string');
    assert.notEqual(rotated.body.refresh_token, firstRefresh);

    const grants = await database.query<{ grant_id: string }>(`SELECT DISTINCT grant_id FROM ${schema}.oidc_payloads WHERE model = 'RefreshToken'`);
    assert.equal(grants.rows.length, 1);
    const grantId = grants.rows[0]!.grant_id;

    // RFC 9700 §4.14.2 (refresh token rotation): the old token is refused, and its reuse revokes the grant.
    const replay = await post('/token', { grant_type: 'refresh_token', refresh_token: firstRefresh });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    const successor = await post('/token', { grant_type: 'refresh_token', refresh_token: String(rotated.body.refresh_token) });
    assert.equal(successor.status, 400, 'the rotated token died with its grant');
    assert.equal(successor.body.error, 'invalid_grant');
    const afterRevocation = await post('/token/introspection', { token: String(rotated.body.access_token) });
    assert.equal(afterRevocation.body.active, false);
    // revokeByGrantId (once per grantable model) and the grant's destroy left no row of the grant behind.
    const left = await database.query<{ model: string }>(`SELECT model FROM ${schema}.oidc_payloads WHERE grant_id = $1 OR (model = 'Grant' AND id = $1)`, [grantId]);
    assert.deepEqual(left.rows, []);
  });
});
