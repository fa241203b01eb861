/**
 * Defect 2 of the partner-side review: losing the refresh lock mid-refresh went unnoticed. A's lock
 * backend terminated (PostgreSQL releases the advisory lock with it) while A's refresh was under way; B
 * then took the lock and refreshed, and A went on to send the same refresh token: two refresh requests
 * presenting one token (Gatehouse without its grace window revokes the grant). Now the lock's hold signals
 * the loss, A checks it immediately before sending and sends nothing; taking the lock again it finds B's
 * tokens. Only this test's own backends are terminated (by application_name).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import { createManualClock } from '../clock.ts';
import { generateEncryptionKey } from '../encryption.ts';
import { LockLostError, ReauthorizationRequiredError } from '../errors.ts';
import { createGatehouseClient } from '../gatehouse-client.ts';
import type { LockHold, RefreshLock } from '../lock.ts';
import type { LogEntry } from '../logging.ts';
import { createMemoryTokenStore } from '../stores/memory.ts';
import type { TokenStore } from '../token-store.ts';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from '../testing/fake-authorization-server.ts';
import { connectThroughFake, FAKE_START_SECONDS } from '../testing/fake-connection.ts';
import { postgresSkipReason, POSTGRES_URL } from '../testing/services.ts';
import { createPostgresLock, type PostgresRefreshLock } from './postgres.ts';
import { createRedisLock, type RedisLockClient } from './redis.ts';

const skip = await postgresSkipReason();
const APPLICATION_NAME = `gh_test_lock_lost_${randomBytes(6).toString('hex')}`;

describe('a refresh lock lost while held (PostgreSQL)', { skip: skip ?? false, timeout: 30_000 }, () => {
  let pool: pg.Pool;
  const locks: PostgresRefreshLock[] = [];
  let admin: pg.Client;
  let fake: FakeAuthorizationServer;
  before(async () => {
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('application_name', APPLICATION_NAME);
    pool = new pg.Pool({ connectionString: url.href, max: 2 });
    admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
  });
  after(async () => {
    await Promise.all(locks.map((lock) => lock.close()));
    await admin?.end();
    await pool?.end();
  });
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('A sends nothing after its lock backend died; B refreshes once; A then returns B\'s token', async () => {
    const namespace = `client-test-${APPLICATION_NAME}`;
    const holds: LockHold[] = [];
    const inner = createPostgresLock({ pool, namespace });
    const innerB = createPostgresLock({ pool, namespace });
    locks.push(inner, innerB);
    const recordingLock: RefreshLock = { withLock: (key, work) => inner.withLock(key, (hold) => {
      holds.push(hold!);
      return work(hold);
    }) };
    const shared = createMemoryTokenStore();
    // A's store: its read under the lock is made, then answered only when the test lets it go (A is slow
    // between reading the row and sending its refresh token).
    let blockReads = false;
    const readUnderLock = Promise.withResolvers<void>();
    const letReadGo = Promise.withResolvers<void>();
    const storeA: TokenStore = {
      ...shared,
      async get(connectionId) {
        const row = await shared.get(connectionId);
        if (blockReads && holds.length > 0) {
          blockReads = false;
          readUnderLock.resolve();
          await letReadGo.promise;
        }
        return row;
      },
    };
    const keys = [generateEncryptionKey('test')];
    const a = await connectThroughFake(fake, { store: storeA, lock: recordingLock, encryptionKeys: keys });
    const logsB: LogEntry[] = [];
    const b = createGatehouseClient({
      issuer: fake.issuer, clientId: '7af385a0-284d-48c5-b225-362862085551', clientSecret: 'fake-client-secret',
      redirectUri: 'http://127.0.0.1:9/callback', scope: ['users:read'], store: shared, encryptionKeys: keys,
      lock: innerB, clock: createManualClock(FAKE_START_SECONDS + 1000),
      logger: (entry) => logsB.push(entry), sleep: async () => {},
    });
    a.clock.advanceSeconds(1000);
    holds.length = 0;
    blockReads = true;
    const aToken = a.client.getAccessToken(a.connectionId);
    try {
      await readUnderLock.promise;

      const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE '%pg_advisory_xact_lock%'", [APPLICATION_NAME]);
      assert.equal(rows.length, 1, 'A holds the lock on one connection');
      const signal = holds[0]!.signal;
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      if (!signal.aborted) await once(signal, 'abort');
      assert.ok(signal.reason instanceof LockLostError);

      const bToken = await b.getAccessToken(a.connectionId);
      letReadGo.resolve();
      assert.equal(await aToken, bToken, 'A, taking the lock again, found B\'s tokens');
    } finally {
      letReadGo.resolve();
      await aToken.catch(() => {});
    }
    const presented = fake.tokenRequests('refresh_token').map((request) => request.form.get('refresh_token'));
    assert.equal(presented.length, 1, 'one refresh request reached the server');
    assert.deepEqual(
      a.logs.filter((entry) => entry.event === 'refresh_outcome').map((entry) => [entry.outcome, entry.reason]),
      [['lock_lost', 'before_request: nothing sent'], ['refreshed_elsewhere', 'expiring']],
    );
    assert.equal(a.logs.filter((entry) => entry.event === 'refresh_attempt').length, 1, 'A got as far as an attempt, and sent nothing');
  });
});

describe('a refresh lock lost while held (Redis lease)', { timeout: 10_000 }, () => {
  function fakeRedis(extend: () => Promise<unknown>, release: () => Promise<unknown> = async () => 1): RedisLockClient {
    return {
      set: async () => 'OK',
      eval: (script) => (script.includes('pexpire') ? extend() : release()),
    };
  }

  it('a failed renewal aborts the hold\'s signal with LockLostError', async () => {
    const lock = createRedisLock({ client: fakeRedis(async () => {
      throw new Error('connection reset');
    }), ttlMilliseconds: 30 });
    const reason = await lock.withLock('k', async (hold) => {
      if (!hold!.signal.aborted) await once(hold!.signal, 'abort');
      return hold!.signal.reason;
    });
    assert.ok(reason instanceof LockLostError);
    assert.match(reason.message, /renewing its Redis lease failed/);
  });

  it('a renewal finding the key no longer ours aborts the signal too', async () => {
    const lock = createRedisLock({ client: fakeRedis(async () => 0), ttlMilliseconds: 30 });
    const reason = await lock.withLock('k', async (hold) => {
      if (!hold!.signal.aborted) await once(hold!.signal, 'abort');
      return hold!.signal.reason;
    });
    assert.ok(reason instanceof LockLostError);
    assert.match(reason.message, /expired or another holder/);
  });
});

describe('a Redis lock whose release fails (defect 8)', { timeout: 10_000 }, () => {
  it('keeps the work\'s result, and the work\'s error, when Redis fails on release', async () => {
    const client: RedisLockClient = {
      set: async () => 'OK',
      eval: async (script) => {
        if (script.includes("'del'")) throw new Error('Redis went away');
        return 1;
      },
    };
    const lock = createRedisLock({ client });
    assert.equal(await lock.withLock('k', async () => 'refreshed'), 'refreshed');
    const reauthorization = new ReauthorizationRequiredError('c1', 'invalid_grant');
    await assert.rejects(lock.withLock('k', async () => {
      throw reauthorization;
    }), (error: unknown) => error === reauthorization);
  });
});
