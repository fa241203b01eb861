/**
 * Rate limits at the token, revocation and introspection endpoints (SPEC decision 18; RFC 6585 §4), black
 * box against real listening servers on both backends, with the injected clock moving the windows.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { systemClock } from '../clock.ts';
import { resolveOptions, type OAuthEndpointRateLimit } from '../options.ts';
import { createPostgresStorage } from '../storage/postgres/postgres-storage.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { authorize, basic, confidentialAuth, obtainTokens, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { createTestPostgresStorage, dropTestSchema, newTestSchema, postgresSkipReason, TEST_DATABASE_URL } from '../testing/postgres.ts';
import { addressKey } from './rate-limit.ts';

const postgresSkip = await postgresSkipReason();
const backends: { name: string; skip: string | false; storage: () => Promise<Storage> | Storage }[] = [
  { name: 'sqlite', skip: false, storage: () => createSqliteStorage(':memory:') },
  { name: 'sqlite, counters in the database', skip: false, storage: () => createSqliteStorage(':memory:', { rateLimitCounters: 'database' }) },
  // PostgreSQL's default counters (`shared`, issue 12): one instance counts exactly, its timer flushing to the table meanwhile.
  { name: 'postgres', skip: postgresSkip, storage: () => createTestPostgresStorage() },
  { name: 'postgres, counters written per request', skip: postgresSkip, storage: () => createTestPostgresStorage({ rateLimitCounters: 'database' }) },
];

/** Small limits, so a test reaches them in a few requests. */
const LIMIT: OAuthEndpointRateLimit = { windowSeconds: 10, maxRequestsPerClient: 3, maxRequestsPerAddress: 6 };

/** What a refused request must look like: 429, Retry-After, no-store, the RFC 6749 §5.2 JSON shape. */
function assertRateLimited(response: { status: number; headers: Headers; json: any }, retryAfterSeconds: number): void {
  assert.equal(response.status, 429);
  assert.equal(response.headers.get('retry-after'), String(retryAfterSeconds));
  assert.equal(response.headers.get('cache-control'), 'no-store');
  assert.equal(response.headers.get('pragma'), 'no-cache');
  assert.equal(response.json.error, 'temporarily_unavailable');
  assert.equal(typeof response.json.error_description, 'string');
  assert.equal(response.json.access_token, undefined);
}

/** POST a form from another loopback address (Linux routes all of 127.0.0.0/8 to lo). */
function postFormFrom(localAddress: string, url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Headers; json: any }>((resolve, reject) => {
    const body = new URLSearchParams(form).toString();
    const request = httpRequest(url, { method: 'POST', localAddress, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } }, (response) => {
      let text = '';
      const headers = new Headers(Object.entries(response.headers).flatMap(([name, value]) => (typeof value === 'string' ? [[name, value] as [string, string]] : [])));
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve({ status: response.statusCode!, headers, json: JSON.parse(text) }));
    });
    request.on('error', reject).end(body);
  });
}

for (const backend of backends) {
  describe(`rate limits at /oauth/token, /oauth/revoke and /oauth/token/introspect (SPEC decision 18; RFC 6585 §4): ${backend.name}`, { skip: backend.skip }, () => {
    const withServer = (body: (server: TestServer) => Promise<void>, limit: OAuthEndpointRateLimit | false = LIMIT) => async () => {
      const server = await startTestServer({ storage: await backend.storage(), oauthEndpointRateLimit: limit });
      try {
        await body(server);
      } finally {
        await server.close();
      }
    };
    const refresh = (server: TestServer, refreshToken: string) =>
      postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization: confidentialAuth() });
    /** A token request with an unknown code from a client_id of its own: 401 invalid_client, counted for the address only. */
    const strangerAttempt = (server: TestServer) =>
      postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code: 'x', redirect_uri: 'https://x.example/cb', code_verifier: 'v'.repeat(43) }, { authorization: basic(randomUUID(), 'guess') });

    it("refuses the client's request over its limit with 429 temporarily_unavailable, Retry-After and no-store, and issues nothing", withServer(async (server) => {
      const { tokens } = await obtainTokens(server); // the client's 1st token request in this window
      const second = await refresh(server, tokens.refresh_token);
      assert.equal(second.status, 200);
      const third = await refresh(server, second.json.refresh_token);
      assert.equal(third.status, 200);
      server.clock.advanceSeconds(4);
      const refused = await refresh(server, third.json.refresh_token);
      assertRateLimited(refused, 6); // the window started 4 s ago and lasts 10 s
      // Nothing happened to the presented refresh token: it was not rotated (a rotated one would be a replay
      // and revoke the grant), so once the window ends it refreshes normally.
      server.clock.advanceSeconds(6);
      const after = await refresh(server, third.json.refresh_token);
      assert.equal(after.status, 200, after.text);
      assert.equal((await refresh(server, after.json.refresh_token)).status, 200);
    }));

    it('a refused code exchange does not consume the code: it redeems once the window ends', withServer(async (server) => {
      const { tokens } = await obtainTokens(server); // 1
      await refresh(server, tokens.refresh_token).then((r) => refresh(server, r.json.refresh_token)); // 2, 3
      const { redirect, codeVerifier } = await authorize(server, { extra: { prompt: 'consent' } });
      const exchange = () => postForm(`${server.url}/oauth/token`, {
        grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier,
      }, { authorization: confidentialAuth() });
      assertRateLimited(await exchange(), 10);
      server.clock.advanceSeconds(10);
      const redeemed = await exchange();
      assert.equal(redeemed.status, 200, redeemed.text);
      assert.equal(typeof redeemed.json.access_token, 'string');
    }));

    it('a refused client authentication counts against its address only: wrong secrets for a client never spend its window (one address cannot hold its refreshes at 429)', withServer(async (server) => {
      const { tokens } = await obtainTokens(server); // client 1, address 127.0.0.1: 1
      const wrongSecret = { authorization: basic(seed.confidentialClient.id, 'not-the-secret') };
      const guess = () => postFormFrom('127.0.0.2', `${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, wrongSecret);
      for (let i = 0; i < 6; i++) assert.equal((await guess()).status, 401); // 127.0.0.2: 1..6; the client still 1
      assertRateLimited(await guess(), 10); // 127.0.0.2: 7 > 6, the guesser's own address
      const first = await refresh(server, tokens.refresh_token); // client 2
      assert.equal(first.status, 200, 'the client is answered: the guesses did not count against it');
      assert.equal((await refresh(server, first.json.refresh_token)).status, 200); // client 3
      assertRateLimited(await refresh(server, first.json.refresh_token), 10); // client 4 > 3: its own requests
    }));

    it('a request over its address limit is answered 429 before any client lookup (no database work for a flood of made-up clients)', async () => {
      const storage = await backend.storage();
      let finds = 0;
      const find = storage.clients.find.bind(storage.clients);
      storage.clients.find = (clientId) => ((finds += 1), find(clientId));
      const server = await startTestServer({ storage, oauthEndpointRateLimit: LIMIT });
      try {
        for (let i = 0; i < 6; i++) assert.equal((await strangerAttempt(server)).status, 401);
        const looked = finds;
        for (let i = 0; i < 5; i++) assertRateLimited(await strangerAttempt(server), 10);
        assert.equal(finds, looked, 'no client looked up for the refused requests');
      } finally {
        await server.close();
      }
    });

    it('a request refused before its client authenticates (malformed) counts against its address, and over the limit is answered 429', withServer(async (server) => {
      // No body: refused by the endpoint (400 invalid_request) before it reads any client credentials. (A JSON body is
      // refused with 415 before the endpoint runs, http/media-types.ts, like the 413s Fastify answers: not counted.)
      const malformed = async () => {
        const response = await fetch(`${server.url}/oauth/token`, { method: 'POST', headers: { authorization: confidentialAuth() } });
        return { status: response.status, headers: response.headers, json: await response.json() };
      };
      for (let i = 0; i < 6; i++) assert.equal((await malformed()).status, 400);
      assertRateLimited(await malformed(), 10);
      assertRateLimited(await strangerAttempt(server), 10);
    }));

    it('another client at the same address is unaffected by one client being limited, until the address limit (6) is reached', withServer(async (server) => {
      const { tokens } = await obtainTokens(server); // address 1
      await refresh(server, tokens.refresh_token).then((r) => refresh(server, r.json.refresh_token)); // 2, 3
      assertRateLimited(await refresh(server, tokens.refresh_token), 10); // 4 (the client is over its limit)
      // The public client presents its client_id in the body: its own count, 1 and 2; the address is at 5, 6.
      const publicAttempt = () => postForm(`${server.url}/oauth/token`, {
        grant_type: 'authorization_code', client_id: seed.publicClient.id, code: 'unknown', redirect_uri: seed.publicClient.redirectUri, code_verifier: 'v'.repeat(43),
      });
      for (let i = 0; i < 2; i++) {
        const response = await publicAttempt();
        assert.equal(response.status, 400);
        assert.equal(response.json.error, 'invalid_grant');
      }
      assertRateLimited(await publicAttempt(), 10); // address 7 > 6
    }));

    it('another address is unaffected by one address being limited', withServer(async (server) => {
      for (let i = 0; i < 6; i++) assert.equal((await strangerAttempt(server)).status, 401);
      assertRateLimited(await strangerAttempt(server), 10);
      const elsewhere = await postFormFrom('127.0.0.2', `${server.url}/oauth/token`,
        { grant_type: 'refresh_token', refresh_token: 'unknown' }, { authorization: basic(randomUUID(), 'guess') });
      assert.equal(elsewhere.status, 401);
      assert.equal(elsewhere.json.error, 'invalid_client');
    }));

    it('limits introspection and revocation too, each endpoint counting on its own', withServer(async (server) => {
      const { tokens } = await obtainTokens(server);
      const introspect = () => postForm(`${server.url}/oauth/token/introspect`, { token: tokens.access_token }, { authorization: confidentialAuth() });
      for (let i = 0; i < 3; i++) assert.equal((await introspect()).json.active, true);
      assertRateLimited(await introspect(), 10);
      const revoke = () => postForm(`${server.url}/oauth/revoke`, { token: 'unknown-token' }, { authorization: confidentialAuth() });
      for (let i = 0; i < 3; i++) assert.equal((await revoke()).status, 200);
      const refusedRevocation = await revoke();
      assertRateLimited(refusedRevocation, 10);
      // The token endpoint's count is its own: the client made one token request so far.
      assert.equal((await refresh(server, tokens.refresh_token)).status, 200);
    }));

    it('a refused revocation revokes nothing', withServer(async (server) => {
      const { tokens } = await obtainTokens(server);
      const revoke = () => postForm(`${server.url}/oauth/revoke`, { token: tokens.refresh_token }, { authorization: confidentialAuth() });
      for (let i = 0; i < 3; i++) {
        assert.equal((await postForm(`${server.url}/oauth/revoke`, { token: 'unknown-token' }, { authorization: confidentialAuth() })).status, 200);
      }
      assertRateLimited(await revoke(), 10);
      assert.equal((await refresh(server, tokens.refresh_token)).status, 200, 'the grant was not revoked');
    }));

    it('is off with oauthEndpointRateLimit: false', withServer(async (server) => {
      for (let i = 0; i < 12; i++) assert.equal((await strangerAttempt(server)).status, 401);
    }, false));
  });
}

describe('rate limits: two instances on one PostgreSQL schema share the count (SPEC decision 18)', { skip: postgresSkip }, () => {
  /** Two servers on one fresh schema, their counters kept as `rateLimitCounters` says. */
  const withTwoInstances = (rateLimitCounters: 'shared' | 'database', body: (a: TestServer, b: TestServer) => Promise<void>) => async () => {
    const schema = newTestSchema();
    const servers: TestServer[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        // Shared counters: the flush timer is set beyond the test, which flushes by hand (no sleeps).
        const storage = await createPostgresStorage(TEST_DATABASE_URL, { schema, poolSize: 2, rateLimitCounters, rateLimitFlushIntervalMs: 3_600_000 });
        servers.push(await startTestServer({ storage, oauthEndpointRateLimit: LIMIT }));
      }
      await body(servers[0]!, servers[1]!);
    } finally {
      for (const server of servers) await server.close();
      await dropTestSchema(schema);
    }
  };
  const introspectAt = (server: TestServer) =>
    postForm(`${server.url}/oauth/token/introspect`, { token: 'unknown' }, { authorization: confidentialAuth() });

  it('counters written per request: requests to either instance count against one limit, exactly', withTwoInstances('database', async (a, b) => {
    assert.deepEqual((await introspectAt(a)).json, { active: false });
    assert.deepEqual((await introspectAt(b)).json, { active: false });
    assert.deepEqual((await introspectAt(a)).json, { active: false });
    assertRateLimited(await introspectAt(b), 10);
    assertRateLimited(await introspectAt(a), 10);
  }));

  it('shared counters (the default): each instance learns the other\'s requests at its flush, so the limit holds up to one flush interval late', withTwoInstances('shared', async (a, b) => {
    // Each request is followed by its instance's flush, as the timer would do within 250 ms.
    const introspectAndFlush = async (server: TestServer) => {
      const response = await introspectAt(server);
      await server.storage.rateLimits.flush!();
      return response;
    };
    // A: 1. B: 1 (it has learned nothing yet), then 2 at its flush. A: 1 + 1, then 3. B: 2 + 1, then 4.
    for (const server of [a, b, a, b]) assert.deepEqual((await introspectAndFlush(server)).json, { active: false });
    // Four counted, limit 3: written per request the 4th was refused; here the fifth is, at either instance.
    assertRateLimited(await introspectAndFlush(b), 10);
    assertRateLimited(await introspectAndFlush(a), 10);
  }));
});

describe('rate limits: two server processes on one SQLite file (GATEHOUSE_RATE_LIMIT_COUNTERS)', () => {
  /** Three introspections at A, B, A, then one at B: whether the fourth is refused (the count was shared). */
  async function fourthRefused(rateLimitCounters: 'memory' | 'database'): Promise<boolean> {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-rate-limit-'));
    const path = join(directory, 'gatehouse.sqlite');
    const servers: TestServer[] = [];
    try {
      // Two storages on one file stand in for two processes: each has its own connection and memory.
      for (let i = 0; i < 2; i++) servers.push(await startTestServer({ storage: createSqliteStorage(path, { rateLimitCounters }), oauthEndpointRateLimit: LIMIT }));
      const [a, b] = servers as [TestServer, TestServer];
      const introspectAt = (server: TestServer) => postForm(`${server.url}/oauth/token/introspect`, { token: 'unknown' }, { authorization: confidentialAuth() });
      for (const server of [a, b, a]) assert.deepEqual((await introspectAt(server)).json, { active: false });
      const fourth = await introspectAt(b);
      if (fourth.status === 429) assertRateLimited(fourth, 10);
      return fourth.status === 429;
    } finally {
      for (const server of servers) await server.close();
      rmSync(directory, { recursive: true, force: true });
    }
  }

  it('share one count with the counters in the database (the file\'s rate_limit_windows)', async () => {
    assert.equal(await fourthRefused('database'), true);
  });

  it('count on their own with the counters in memory (the default: one server process per file)', async () => {
    assert.equal(await fourthRefused('memory'), false);
  });
});

describe('addressKey: what an address is counted as', () => {
  it('counts IPv4 as is, IPv4-mapped IPv6 as its IPv4, and IPv6 by its /64 (one host usually holds a whole /64)', () => {
    assert.equal(addressKey('203.0.113.7'), '203.0.113.7');
    assert.equal(addressKey('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(addressKey('2001:db8:0:1:aaaa::1'), '2001:db8:0:1::/64');
    assert.equal(addressKey('2001:0db8:0000:0001:ffff:ffff:ffff:ffff'), '2001:db8:0:1::/64');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  });
});

describe('oauthEndpointRateLimit option', () => {
  const base = { issuer: 'http://localhost:3000', environment: 'development' as const, accessTokenAudience: 'x', tokenHmacKey: Buffer.alloc(32) };
  it('defaults to 1,000 per client and 2,000 per address per 10 s, and refuses limits or windows below 1', () => {
    const storage = {} as Storage;
    assert.deepEqual(resolveOptions({ ...base, storage }, systemClock).oauthEndpointRateLimit, { windowSeconds: 10, maxRequestsPerClient: 1_000, maxRequestsPerAddress: 2_000 });
    assert.equal(resolveOptions({ ...base, storage, oauthEndpointRateLimit: false }, systemClock).oauthEndpointRateLimit, false);
    for (const wrong of [{ ...LIMIT, windowSeconds: 0 }, { ...LIMIT, maxRequestsPerClient: 0.5 }, { ...LIMIT, maxRequestsPerAddress: -1 }]) {
      assert.throws(() => resolveOptions({ ...base, storage, oauthEndpointRateLimit: wrong }, systemClock), /oauthEndpointRateLimit\.\w+ must be a positive integer/);
    }
  });
});
