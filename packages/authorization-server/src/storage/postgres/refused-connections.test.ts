/**
 * SPEC decision 18, "nothing a dependency does may crash the server": a database that is there but refuses new
 * connections (an operator's `ALLOW_CONNECTIONS false`; the database renamed away, as a botched restore does)
 * is an outage like an unreachable one: 503 with Retry-After, never a 500, and recovery without a restart once
 * the operator undoes it. On a database of its own (the shared `test` database cannot be closed to others).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { basic, obtainTokens, postForm, seed, startTestServer, type TestServer } from '../../testing/harness.ts';
import { postgresSkipReason, TEST_DATABASE_URL } from '../../testing/postgres.ts';
import { createPostgresStorage } from './postgres-storage.ts';

const skip = await postgresSkipReason();
const DATABASE = `gh_fault_${randomBytes(6).toString('hex')}`;
const RENAMED = `${DATABASE}_away`;

/** A connection to the maintenance database `postgres`, from which the test database is altered. */
async function maintenance<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.href });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const terminate = (client: pg.Client, database: string) =>
  client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);

describe('PostgreSQL refusing new connections: 503 with Retry-After, then recovery without a restart', { skip }, () => {
  let server: TestServer;
  let accessToken: string;
  const introspect = () => postForm(`${server.url}/oauth/token/introspect`, { token: accessToken }, { authorization: basic(seed.resourceServer.id, seed.resourceServer.secret) });

  before(async () => {
    await maintenance((client) => client.query(`CREATE DATABASE ${DATABASE}`));
    const url = new URL(TEST_DATABASE_URL);
    url.pathname = `/${DATABASE}`;
    server = await startTestServer({ storage: await createPostgresStorage(url.href, { poolSize: 2, connectionTimeoutMillis: 2_000, onConnectionError: () => {} }) });
    accessToken = (await obtainTokens(server, { scope: 'users:read' })).tokens.access_token;
  });

  after(async () => {
    await server?.close().catch(() => {});
    await maintenance(async (client) => {
      for (const name of [DATABASE, RENAMED]) {
        await client.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => {});
        await terminate(client, name);
        await client.query(`DROP DATABASE IF EXISTS ${name}`);
      }
    });
  });

  const expectOutage = async (what: string) => {
    const refused = await introspect();
    assert.equal(refused.status, 503, `${what}: ${refused.text}`);
    assert.equal(refused.headers.get('retry-after'), '5');
    assert.equal(refused.json.error, 'temporarily_unavailable');
  };

  it('ALLOW_CONNECTIONS false (SQLSTATE 55000)', async () => {
    assert.equal((await introspect()).json.active, true);
    await maintenance(async (client) => {
      await client.query(`ALTER DATABASE ${DATABASE} ALLOW_CONNECTIONS false`);
      await terminate(client, DATABASE);
    });
    await expectOutage('connections not allowed');
    await maintenance((client) => client.query(`ALTER DATABASE ${DATABASE} ALLOW_CONNECTIONS true`));
    assert.equal((await introspect()).json.active, true, 'recovered without a restart');
  });

  it('the database renamed away (SQLSTATE 3D000)', async () => {
    await maintenance(async (client) => {
      await client.query(`ALTER DATABASE ${DATABASE} ALLOW_CONNECTIONS false`);
      await terminate(client, DATABASE);
      await client.query(`ALTER DATABASE ${DATABASE} RENAME TO ${RENAMED}`);
      await client.query(`ALTER DATABASE ${RENAMED} ALLOW_CONNECTIONS true`);
    });
    await expectOutage('no such database');
    await maintenance(async (client) => {
      await client.query(`ALTER DATABASE ${RENAMED} ALLOW_CONNECTIONS false`);
      await terminate(client, RENAMED);
      await client.query(`ALTER DATABASE ${RENAMED} RENAME TO ${DATABASE}`);
      await client.query(`ALTER DATABASE ${DATABASE} ALLOW_CONNECTIONS true`);
    });
    assert.equal((await introspect()).json.active, true, 'recovered without a restart');
  });
});
