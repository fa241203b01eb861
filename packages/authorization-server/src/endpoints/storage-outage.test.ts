/**
 * Issue 11 item 3, SPEC decision 18: an unreachable database is `503 temporarily_unavailable` with
 * `Retry-After` (JSON at the JSON endpoints, an HTML page at /oauth/authorize and the other pages), never a
 * 500 and never a crash; `/health/ready` is 503 while it lasts and `/health` stays 200; service comes back
 * by itself, without a restart.
 *
 * The outage is made by a TCP proxy between the server and the shared PostgreSQL (testing/tcp-proxy.ts):
 * `cut()` resets every connection and refuses new ones. PostgreSQL itself is never stopped.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createAdminToken } from '../admin/admin-credentials.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createPostgresStorage } from '../storage/postgres/postgres-storage.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import {
  authorize, authorizeUrl, basic, Browser, confidentialAuth, inputValue, introspect, obtainTokens, pkcePair, postForm, seed, startTestServer, type TestServer,
} from '../testing/harness.ts';
import { dropTestSchema, newTestSchema, postgresSkipReason, queryTestSchema, TEST_DATABASE_URL } from '../testing/postgres.ts';
import { startTcpProxy, type TcpProxy } from '../testing/tcp-proxy.ts';
import { failSqliteStatements } from '../testing/sqlite-faults.ts';

const skip = await postgresSkipReason();
const APPLICATION_NAME = `gh_test_h2_outage_${randomBytes(6).toString('hex')}`;

interface Answer {
  status: number;
  retryAfter: string | null;
  contentType: string;
  body: string;
}

async function answer(response: Promise<Response>): Promise<Answer> {
  const settled = await response;
  return { status: settled.status, retryAfter: settled.headers.get('retry-after'), contentType: settled.headers.get('content-type') ?? '', body: await settled.text() };
}


describe('a database outage under load (issue 11 item 3, SPEC decision 18)', { skip }, () => {
  const schema = newTestSchema();
  let proxy: TcpProxy;
  let server: TestServer;
  /** Every request the load sends: each touches the storage; `json` says how its 503 must look. */
  let requests: { name: string; json: boolean; send(): Promise<Answer> }[];

  before(async () => {
    const database = new URL(TEST_DATABASE_URL);
    proxy = await startTcpProxy({ host: database.hostname, port: Number(database.port || 5432) });
    const storage = await createPostgresStorage(proxy.urlThrough(TEST_DATABASE_URL, APPLICATION_NAME), {
      schema, poolSize: 4, connectionTimeoutMillis: 2_000, onConnectionError: () => {},
    });
    // The load posts a wrong password thousands of times: login delays (issue 10 §3) would slow it, so they start late here.
    const patient = { freeFailures: 1_000_000, baseDelaySeconds: 1, maxDelaySeconds: 900, forgetAfterSeconds: 3600 };
    server = await startTestServer({ storage, loginThrottle: { accountAddress: patient, account: patient, address: patient } });
    const { tokens, browser: signedIn } = await obtainTokens(server);
    const { token: adminToken } = await createAdminToken(storage, 'ops-outage', server.clock.nowSeconds());
    // A login form (its CSRF cookie and token) fetched while the database was up, posted during the outage.
    const signedOut = new Browser();
    const loginForm = await signedOut.get(authorizeUrl(server, {
      response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri,
      scope: 'users:read', state: 'outage', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256',
    }));
    const resourceServer = basic(seed.resourceServer.id, seed.resourceServer.secret);
    const asAnswer = async (result: Promise<{ status: number; headers: Headers; text: string }>): Promise<Answer> => {
      const settled = await result;
      return { status: settled.status, retryAfter: settled.headers.get('retry-after'), contentType: settled.headers.get('content-type') ?? '', body: settled.text };
    };
    const authorize = authorizeUrl(server, {
      response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri,
      scope: 'users:read', state: 'outage-state', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256',
    });
    requests = [
      { name: 'POST /oauth/token', json: true, send: () => asAnswer(postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: 'not-a-refresh-token' }, { authorization: confidentialAuth() })) },
      { name: 'POST /oauth/token/introspect', json: true, send: () => asAnswer(postForm(`${server.url}/oauth/token/introspect`, { token: tokens.access_token }, { authorization: resourceServer })) },
      { name: 'POST /oauth/revoke', json: true, send: () => asAnswer(postForm(`${server.url}/oauth/revoke`, { token: 'not-a-token' }, { authorization: confidentialAuth() })) },
      { name: 'GET /oauth/revoked-access-tokens', json: true, send: () => answer(fetch(`${server.url}/oauth/revoked-access-tokens?since=0`, { headers: { authorization: resourceServer } })) },
      { name: 'GET /admin/v1/clients', json: true, send: () => answer(fetch(`${server.url}/admin/v1/clients`, { headers: { authorization: `Bearer ${adminToken}` } })) },
      // The directory routes have their own error handler (admin/directory-api.ts).
      { name: 'GET /admin/v1/users', json: true, send: () => answer(fetch(`${server.url}/admin/v1/users`, { headers: { authorization: `Bearer ${adminToken}` } })) },
      { name: 'POST /admin/v1/organizations', json: true, send: () => answer(fetch(`${server.url}/admin/v1/organizations`, {
        method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: randomUUID(), name: 'Outage Org' }),
      })) },
      { name: 'GET /oauth/authorize', json: false, send: () => asAnswer(signedOut.get(authorize)) },
      { name: 'POST /login', json: false, send: () => asAnswer(signedOut.post(`${server.url}/login`, {
        _csrf: inputValue(loginForm.text, '_csrf')!, return_to: inputValue(loginForm.text, 'return_to')!, email: seed.users.alice.email, password: 'a-wrong-password',
      })) },
      { name: 'GET /account/connected-apps', json: false, send: () => asAnswer(signedIn.get(`${server.url}/account/connected-apps`)) },
    ];
  });

  after(async () => {
    proxy?.restore();
    await server?.close();
    await proxy?.close();
    await dropTestSchema(schema);
  });

  const readiness = async () => answer(fetch(`${server.url}/health/ready`));
  const liveness = async () => answer(fetch(`${server.url}/health`));

  /** The 503 each kind of endpoint must give: Retry-After always; JSON temporarily_unavailable or an HTML page. */
  function assertUnavailable(name: string, json: boolean, got: Answer): void {
    assert.equal(got.status, 503, `${name}: ${got.status} ${got.body.slice(0, 200)}`);
    assert.ok(got.retryAfter && /^\d+$/.test(got.retryAfter), `${name}: Retry-After`);
    if (json) {
      assert.match(got.contentType, /^application\/json/, name);
      assert.equal(JSON.parse(got.body).error, 'temporarily_unavailable', name);
    } else {
      assert.match(got.contentType, /^text\/html/, name);
      assert.match(got.body, /Temporarily unavailable/, name);
    }
  }

  it('answers 503 temporarily_unavailable with Retry-After while the database is cut off (never 500), /health/ready 503 then 200, and serves again without a restart', async () => {
    assert.equal((await readiness()).status, 200, 'ready before the outage');
    const healthy = new Map<string, number>();
    for (const request of requests) healthy.set(request.name, (await request.send()).status);
    for (const [name, status] of healthy) assert.ok(status < 500, `${name} works before the outage (${status})`);

    // Load: four loops send every request over and over; each answer is kept with the phase it started in.
    type Phase = 'up' | 'down' | 'back';
    let phase = 'up' as Phase;
    let stop = false;
    const answers: { phase: Phase; ended: Phase; name: string; json: boolean; got: Answer }[] = [];
    const loop = async () => {
      while (!stop) {
        for (const request of requests) {
          const started = phase;
          const got = await request.send();
          answers.push({ phase: started, ended: phase, name: request.name, json: request.json, got });
        }
      }
    };
    const countIn = (wanted: Phase) => answers.filter((entry) => entry.phase === wanted).length;
    const untilAnswers = async (wanted: typeof phase, count: number) => {
      while (countIn(wanted) < count) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    const loops = Array.from({ length: 4 }, loop);

    await untilAnswers('up', 2 * requests.length);
    proxy.cut();
    phase = 'down';
    await untilAnswers('down', 4 * 3 * requests.length);
    const readyWhileDown = await readiness();
    const liveWhileDown = await liveness();
    proxy.restore();
    phase = 'back';
    // Recovery is automatic: readiness comes back once a connection succeeds (bounded, not timed).
    let readyAgain = await readiness();
    for (let attempt = 0; readyAgain.status !== 200 && attempt < 200; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      readyAgain = await readiness();
    }
    await untilAnswers('back', 2 * requests.length);
    stop = true;
    await Promise.all(loops);

    // Never a 500 (nor any other 5xx but 503), whenever the request started; every 503 is the right one.
    for (const entry of answers) {
      assert.ok(entry.got.status < 500 || entry.got.status === 503, `${entry.phase} ${entry.name}: ${entry.got.status} ${entry.got.body.slice(0, 200)}`);
      if (entry.got.status === 503) assertUnavailable(`${entry.phase} ${entry.name}`, entry.json, entry.got);
    }
    // Every request that started and ended while the database was cut off is a 503.
    const duringOutage = answers.filter((candidate) => candidate.phase === 'down' && candidate.ended === 'down');
    assert.ok(duringOutage.length >= 4 * 3 * requests.length);
    for (const entry of duringOutage) assertUnavailable(`down ${entry.name}`, entry.json, entry.got);
    assertUnavailable('/health/ready while down', true, { ...readyWhileDown, body: JSON.stringify({ error: 'temporarily_unavailable' }) });
    assert.deepEqual(JSON.parse(readyWhileDown.body), { status: 'unavailable', reason: 'storage_unreachable' });
    assert.equal(liveWhileDown.status, 200, '/health is liveness: it does not depend on the database');
    assert.equal(readyAgain.status, 200, '/health/ready is 200 again after the outage');

    // After the outage every request answers as it did before it.
    for (const request of requests) assert.equal((await request.send()).status, healthy.get(request.name), `${request.name} after the outage`);
  });
});

describe('a SQLite database that stays locked past busy_timeout (issue 11 item 3, SPEC decision 18)', () => {
  let directory: string;
  let path: string;
  let server: TestServer;
  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'gatehouse-outage-'));
    path = join(directory, 'gatehouse.sqlite');
    server = await startTestServer({ storage: createSqliteStorage(path) });
  });
  after(async () => {
    await server?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('answers a revocation that cannot get the write lock (SQLITE_BUSY) with 503 temporarily_unavailable and Retry-After, revokes nothing, and works once the lock is gone', async () => {
    const { tokens } = await obtainTokens(server);
    // Another process (here: another connection) holds the write lock for longer than busy_timeout (5 s).
    const holder = new DatabaseSync(path);
    try {
      holder.exec('BEGIN IMMEDIATE');
      const started = performance.now();
      const revocation = postForm(`${server.url}/oauth/revoke`, { token: tokens.refresh_token }, { authorization: confidentialAuth() });
      const secondRevocation = postForm(`${server.url}/oauth/revoke`, { token: tokens.refresh_token }, { authorization: confidentialAuth() });
      // While the writes wait for the lock, the event loop is free: liveness and metadata answer at once.
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (const path of ['/health', '/.well-known/oauth-authorization-server']) {
        const asked = performance.now();
        assert.equal((await fetch(`${server.url}${path}`)).status, 200, path);
        assert.ok(performance.now() - asked < 1_000, `${path} took ${Math.round(performance.now() - asked)} ms while the lock was held`);
      }
      const refused = await revocation;
      assert.equal(refused.status, 503);
      // Each write waits its own lock timeout (5 s), side by side, not one after the other.
      assert.equal((await secondRevocation).status, 503);
      assert.ok(performance.now() - started < 9_000, `two waits took ${Math.round(performance.now() - started)} ms`);
      assert.equal(refused.json.error, 'temporarily_unavailable');
      assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
      assert.equal(refused.headers.get('cache-control'), 'no-store');
      holder.exec('ROLLBACK');
    } finally {
      holder.close();
    }
    // Nothing was revoked: the refresh token still works... after which revocation works as well.
    const refreshed = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
    assert.equal(refreshed.status, 200, refreshed.text);
    const revoked = await postForm(`${server.url}/oauth/revoke`, { token: refreshed.json.refresh_token }, { authorization: confidentialAuth() });
    assert.equal(revoked.status, 200);
    assert.equal((await answer(fetch(`${server.url}/health/ready`))).status, 200);
  });

  it('answers /health/ready with 503 storage_not_migrated while the schema lacks a migration this server needs, and 200 once it is back', async () => {
    const other = new DatabaseSync(path);
    try {
      const latest = other.prepare('SELECT version, name FROM schema_migrations ORDER BY version DESC LIMIT 1').get() as { version: number; name: string };
      other.prepare('DELETE FROM schema_migrations WHERE version = ?').run(latest.version);
      const behind = await answer(fetch(`${server.url}/health/ready`));
      assert.equal(behind.status, 503);
      assert.deepEqual(JSON.parse(behind.body), { status: 'unavailable', reason: 'storage_not_migrated' });
      assert.match(behind.retryAfter ?? '', /^\d+$/);
      other.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)').run(latest.version, latest.name);
    } finally {
      other.close();
    }
    assert.equal((await answer(fetch(`${server.url}/health/ready`))).status, 200);
    assert.equal((await answer(fetch(`${server.url}/health`))).status, 200);
  });
});

describe('a PostgreSQL backend terminated during a code exchange (issue 11 item 2)', { skip }, () => {
  const schema = newTestSchema();
  const applicationName = `gh_test_h2_exchange_${randomBytes(6).toString('hex')}`;
  let server: TestServer;
  let side: pg.Client;
  before(async () => {
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('application_name', applicationName);
    server = await startTestServer({ storage: await createPostgresStorage(url.href, { schema, poolSize: 4, onConnectionError: () => {} }) });
    // Locks and terminates from a connection of its own (another application_name: never terminated itself).
    side = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
    side.on('error', () => {});
    await side.connect();
  });
  after(async () => {
    await side?.end();
    await server?.close();
    await dropTestSchema(schema);
  });

  const exchange = (code: string, codeVerifier: string) => postForm(`${server.url}/oauth/token`, {
    grant_type: 'authorization_code', code, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier,
  }, { authorization: confidentialAuth() });

  const count = async (table: 'tokens' | 'grants') => (await queryTestSchema<{ n: number }>(schema, `SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

  /** Terminates exactly the backend that `side`'s lock blocks (pg_blocking_pids), none other; returns how many. */
  const terminateBlocked = async () => {
    let terminated = 0;
    for (let attempt = 0; attempt < 1_000 && terminated === 0; attempt++) {
      const waiting = await side.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND pg_backend_pid() = ANY (pg_blocking_pids(pid))', [applicationName]);
      for (const { pid } of waiting.rows) terminated += (await side.query('SELECT pg_terminate_backend($1)', [pid])).rowCount ?? 0;
      if (terminated === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return terminated;
  };

  // Issue 12: the exchange is one statement (consume + grant + tokens + audit), so a backend terminated at
  // any point of it leaves the code unused: the client's retry with the same code gets its tokens.
  const points: { name: string; lock(code: string): Promise<unknown> }[] = [
    { name: 'at the statement\'s start (the grants table locked)', lock: () => side.query('LOCK TABLE grants IN ACCESS EXCLUSIVE MODE') },
    { name: 'inside it (the code row locked)', lock: () => side.query('SELECT 1 FROM authorization_codes WHERE consumed_at IS NULL FOR UPDATE') },
  ];
  for (const point of points) {
    it(`terminated ${point.name}: answers 503 temporarily_unavailable with Retry-After, stores nothing, keeps the process running, and the retry with the same code gets tokens`, async () => {
      const { redirect, codeVerifier } = await authorize(server, { extra: { prompt: 'consent' } });
      const code = redirect.searchParams.get('code')!;
      const tokensBefore = await count('tokens');
      const grantsBefore = await count('grants');
      await side.query('BEGIN');
      await point.lock(code);
      const pending = exchange(code, codeVerifier);
      const terminated = await terminateBlocked();
      const refused = await pending;
      await side.query('ROLLBACK');
      assert.equal(terminated, 1);
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.json.error, 'temporarily_unavailable');
      assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
      assert.equal(refused.json.access_token, undefined, 'no token in the answer');
      assert.equal(await count('tokens'), tokensBefore, 'no token stored');
      assert.equal(await count('grants'), grantsBefore, 'no grant stored');
      // The code was not consumed: the client's retry (RFC 6749 §4.1.3) gets its tokens.
      const retried = await exchange(code, codeVerifier);
      assert.equal(retried.status, 200, retried.text);
      assert.ok(retried.json.access_token);
      assert.equal(await count('tokens'), tokensBefore + 2);
      // And the code is single use from then on (RFC 6749 §4.1.2): a replay is refused and revokes.
      const replayed = await exchange(code, codeVerifier);
      assert.equal(replayed.json.error, 'invalid_grant');
      assert.equal((await introspect(server, retried.json.access_token)).active, false);
    });
  }
});

describe('a SQLite disk failure during a code exchange (issue 12, SPEC decision 18)', () => {
  let directory: string;
  let server: TestServer;
  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'gatehouse-exchange-fault-'));
    server = await startTestServer({ storage: createSqliteStorage(join(directory, 'gatehouse.sqlite')) });
  });
  after(async () => {
    await server?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  const exchange = (code: string, codeVerifier: string) => postForm(`${server.url}/oauth/token`, {
    grant_type: 'authorization_code', code, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier,
  }, { authorization: confidentialAuth() });

  for (const [point, pattern] of [['consuming the code', /^UPDATE authorization_codes SET consumed_at/], ['inserting the tokens', /^INSERT INTO tokens/], ['COMMIT', /^COMMIT$/]] as const) {
    it(`failing at ${point}: answers 503 temporarily_unavailable with Retry-After and no token; the retry with the same code gets tokens`, async () => {
      const { redirect, codeVerifier } = await authorize(server, { extra: { prompt: 'consent' } });
      const code = redirect.searchParams.get('code')!;
      const fault = failSqliteStatements(pattern);
      let refused: Awaited<ReturnType<typeof exchange>>;
      try {
        refused = await exchange(code, codeVerifier);
      } finally {
        fault.restore();
      }
      assert.ok(fault.failures() >= 1, 'the failure happened');
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.json.error, 'temporarily_unavailable');
      assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
      assert.equal(refused.json.access_token, undefined);
      const retried = await exchange(code, codeVerifier);
      assert.equal(retried.status, 200, retried.text);
      assert.equal((await introspect(server, retried.json.access_token)).active, true);
    });
  }
});
