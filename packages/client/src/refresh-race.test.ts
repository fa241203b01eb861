/**
 * The race the integrator rules exist for (SPEC §3: "one centralised refresh with one request in flight
 * … a distributed lock across instances"): 4 processes × 25 concurrent API calls through one connection
 * whose access token has expired. Exactly one refresh request may reach Gatehouse — a second one would
 * present a rotated-out refresh token, which Gatehouse (here with its reuse grace window off, so that a
 * slip cannot hide behind it) answers with `invalid_grant` and a revoked grant (SPEC decision 8) — and
 * every call must succeed. Requests are counted at the server.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createClient } from 'redis';
import { formatEncryptionKeys, generateEncryptionKey } from './encryption.ts';
import { createGatehouseClient } from './gatehouse-client.ts';
import { silentLogger } from './logging.ts';
import { createPostgresTokenStore } from './stores/postgres.ts';
import { createSqliteTokenStore } from './stores/sqlite.ts';
import type { TokenStore } from './token-store.ts';
import { startGatehouse, type GatehouseFixture } from './testing/gatehouse-fixture.ts';
import { completeAuthorizationAsUser } from './testing/gatehouse-flow.ts';
import type { RaceWorkerConfig, RaceWorkerResult } from './testing/race-worker.ts';
import { postgresSkipReason, POSTGRES_URL, redisSkipReason, REDIS_URL, uniqueSchemaName } from './testing/services.ts';

const PROCESSES = 4;
const CALLS_PER_PROCESS = 25;
const WORKER = fileURLToPath(new URL('./testing/race-worker.ts', import.meta.url));
const postgresSkip = await postgresSkipReason();
const redisSkip = await redisSkipReason();

interface Worker {
  ready: Promise<void>;
  result: Promise<RaceWorkerResult>;
  go(): void;
}

function startWorker(config: RaceWorkerConfig): Worker {
  const child = spawn(process.execPath, [WORKER, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const fail = async (what: string) => {
    const code = await exited;
    return new Error(`race worker ${what} (exit ${code}): ${stderr}`);
  };
  const ready = lines.next().then(async ({ value }) => {
    if (value !== 'ready') throw await fail(`did not start: ${value}`);
  });
  const result = ready.then(async () => {
    const { value } = await lines.next();
    if ((await exited) !== 0 || !value) throw await fail('failed');
    return JSON.parse(value) as RaceWorkerResult;
  });
  return { ready, result, go: () => child.stdin.end('go\n') };
}

describe(`refresh race: ${PROCESSES} processes × ${CALLS_PER_PROCESS} calls with an expired access token`, () => {
  let gatehouse: GatehouseFixture;
  before(async () => {
    gatehouse = await startGatehouse({ clientName: 'Race Partner', refreshTokenReuseGraceSeconds: 0 });
  });
  after(async () => {
    await gatehouse?.close();
  });

  async function auditCount(type: string): Promise<number> {
    return (await gatehouse.server.storage.audit.list({ limit: 100_000 })).filter((event) => event.type === type).length;
  }

  /** Connects in this process, lets the access token expire, then races the workers. */
  async function race(store: TokenStore, storeConfig: RaceWorkerConfig['store'], lockConfig: RaceWorkerConfig['lock']): Promise<void> {
    const { server, api, clientId, clientSecret, redirectUri } = gatehouse;
    const keys = [generateEncryptionKey('race')];
    const connectionId = randomUUID();
    const partner = createGatehouseClient({
      issuer: server.issuer, clientId, clientSecret, redirectUri, scope: 'users:read vendors:read', apiUrl: api.url,
      store, encryptionKeys: keys, clock: server.clock, logger: silentLogger,
    });
    const { url, transaction } = await partner.authorizationUrl({ connectionId, prompt: 'consent' });
    await partner.handleCallback(await completeAuthorizationAsUser(url), transaction);
    server.clock.advanceSeconds(1000); // past expires_in (900 s) at Gatehouse and for the workers' clocks

    const requestsBefore = gatehouse.tokenRequests();
    const rotationsBefore = await auditCount('refresh_token.rotated');
    const reusesBefore = await auditCount('refresh_token.reuse_detected');
    const workers = Array.from({ length: PROCESSES }, () => startWorker({
      issuer: server.issuer, apiUrl: api.url, clientId, clientSecret, redirectUri, connectionId,
      encryptionKeys: formatEncryptionKeys(keys), nowSeconds: server.clock.nowSeconds(), calls: CALLS_PER_PROCESS,
      store: storeConfig, lock: lockConfig,
    }));
    await Promise.all(workers.map((worker) => worker.ready));
    assert.equal(gatehouse.tokenRequests(), requestsBefore, 'no worker refreshed before the start');
    for (const worker of workers) worker.go();
    const results = await Promise.all(workers.map((worker) => worker.result));

    assert.equal(gatehouse.tokenRequests() - requestsBefore, 1, 'exactly one refresh request reached Gatehouse');
    assert.equal(await auditCount('refresh_token.rotated') - rotationsBefore, 1);
    assert.equal(await auditCount('refresh_token.reuse_detected') - reusesBefore, 0, 'zero invalid_grant');
    assert.deepEqual(results.flatMap((result) => result.errors), []);
    const statuses = results.flatMap((result) => result.statuses);
    assert.equal(statuses.length, PROCESSES * CALLS_PER_PROCESS);
    assert.ok(statuses.every((status) => status === 200), `every call succeeds: ${statuses.join(',')}`);
    assert.equal(new Set(results.flatMap((result) => result.accessTokenFingerprints)).size, 1, 'all processes share the new token');
    const logs = results.flatMap((result) => result.logs);
    assert.equal(logs.filter((entry) => entry.event === 'refresh_attempt').length, 1);
    assert.equal(logs.filter((entry) => entry.outcome === 'succeeded').length, 1);
    assert.equal((await store.get(connectionId))?.status, 'active');
  }

  it('PostgreSQL advisory lock (PostgreSQL token store)', { skip: postgresSkip ?? false }, async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    const schema = uniqueSchemaName();
    try {
      const store = await createPostgresTokenStore({ pool, schema });
      await race(store, { kind: 'postgres', url: POSTGRES_URL, schema }, { kind: 'postgres', url: POSTGRES_URL });
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    }
  });

  it('Redis lock (SQLite token store shared by the processes)', { skip: redisSkip ?? false }, async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-race-'));
    const keyPrefix = `client-test:${randomBytes(6).toString('hex')}:`;
    const store = createSqliteTokenStore({ path: join(directory, 'connections.sqlite') });
    try {
      await race(store, { kind: 'sqlite', path: join(directory, 'connections.sqlite') }, { kind: 'redis', url: REDIS_URL, keyPrefix });
    } finally {
      await store.close();
      rmSync(directory, { recursive: true, force: true });
      const redis = createClient({ url: REDIS_URL });
      await redis.connect();
      const leftovers = await redis.keys(`${keyPrefix}*`);
      if (leftovers.length) await redis.del(leftovers);
      await redis.close();
    }
  });
});
