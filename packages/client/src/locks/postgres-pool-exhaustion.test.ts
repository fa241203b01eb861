/**
 * Defect 1 of the partner-side review: the README passes one `pool` to both the PostgreSQL token store
 * and the PostgreSQL lock. When the lock held a pooled connection for the whole refresh, N concurrent
 * refreshes with a pool of N connections each held one and waited forever for another (store.get /
 * replaceTokens): a deadlock with `pool.waitingCount === N`, and the rotated tokens never stored. Here
 * the token endpoint holds every refresh request until all N have arrived (a slow server, without a
 * timer): with the lock on its own connections, all N arrive, and every new pair is stored.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import { createPostgresTokenStore } from '../stores/postgres.ts';
import type { TokenStore } from '../token-store.ts';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from '../testing/fake-authorization-server.ts';
import { connectThroughFake, type FakeConnection } from '../testing/fake-connection.ts';
import { postgresSkipReason, POSTGRES_URL, uniqueSchemaName } from '../testing/services.ts';
import { createPostgresLock, type PostgresRefreshLock } from './postgres.ts';

const skip = await postgresSkipReason();
const POOL_MAX = 2;
const APPLICATION_NAME = `gh_test_pool_exhaustion_${randomBytes(6).toString('hex')}`;

describe('PostgreSQL lock and store sharing one pool', { skip: skip ?? false, timeout: 30_000 }, () => {
  let pool: pg.Pool;
  let lock: PostgresRefreshLock | undefined;
  let store: TokenStore;
  let fake: FakeAuthorizationServer;
  const schema = uniqueSchemaName();
  before(async () => {
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('application_name', APPLICATION_NAME);
    pool = new pg.Pool({ connectionString: url.href, max: POOL_MAX });
    pool.on('error', () => {});
    store = await createPostgresTokenStore({ pool, schema });
  });
  let deadlocked = false;
  after(async () => {
    await lock?.close();
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    // A deadlocked pool never ends (its connections stay checked out); its sockets are closed already.
    if (deadlocked) void pool.end();
    else await pool.end();
  });
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
  });
  afterEach(async () => {
    await fake.close();
  });

  it(`refreshes ${POOL_MAX} connections at once with a pool of ${POOL_MAX}: no deadlock, every pair stored`, async () => {
    const arrived: (() => void)[] = [];
    let released = false;
    const releaseAll = () => {
      released = true;
      for (const release of arrived.splice(0)) release();
    };
    // The token endpoint is slow: a refresh request is answered only once all of them have arrived.
    const slowFetch: typeof fetch = async (input, init) => {
      if (!released && new URLSearchParams(String(init?.body)).get('grant_type') === 'refresh_token') {
        await new Promise<void>((resolve) => {
          arrived.push(resolve);
          if (arrived.length === POOL_MAX) releaseAll();
        });
      }
      return fetch(input, init);
    };
    lock = createPostgresLock({ pool, namespace: `client-test-${schema}` });
    const connections: FakeConnection[] = [];
    for (let index = 0; index < POOL_MAX; index++) connections.push(await connectThroughFake(fake, { store, lock, fetch: slowFetch }));
    for (const { clock } of connections) clock.advanceSeconds(1000);

    let settled = 0;
    const refreshes = connections.map(({ client, connectionId }) => client.getAccessToken(connectionId).finally(() => {
      settled++;
    }));
    // Wait until either every refresh finished, or the deadlock's state shows: every pooled connection
    // checked out and a query of each refresh waiting for one, with no refresh request at the server.
    // Bounded; whatever happens, the parked refresh requests are let go.
    try {
      for (let attempt = 0; ; attempt++) {
        if (settled === POOL_MAX) break;
        if (attempt >= 1_500) assert.fail(`only ${settled} of ${POOL_MAX} refreshes finished within 15 s`);
        if (pool.waitingCount >= POOL_MAX && pool.idleCount === 0 && arrived.length === 0 && fake.tokenRequests('refresh_token').length === 0) {
          // End the test: terminate this test's own backends only (by application_name), so no socket stays open.
          deadlocked = true;
          const admin = new pg.Client({ connectionString: POSTGRES_URL });
          await admin.connect();
          await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [APPLICATION_NAME]);
          await admin.end();
          assert.fail(`deadlock: ${pool.waitingCount} queries wait for a pooled connection held by the refresh lock`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      releaseAll();
    }
    const tokens = await Promise.all(refreshes);
    assert.equal(fake.tokenRequests('refresh_token').length, POOL_MAX, 'one refresh request per connection');
    for (const [index, { connectionId }] of connections.entries()) {
      const row = await store.get(connectionId);
      assert.equal(row?.version, 2, 'the rotated pair was stored');
      assert.equal(tokens[index], await connections[index]!.client.getAccessToken(connectionId), 'the stored token is the one returned');
    }
    assert.equal(fake.tokenRequests('refresh_token').length, POOL_MAX, 'no further refresh');
  });
});
