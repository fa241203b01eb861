/**
 * Issue 11 item 3: the sample platform API survives the authorization server being unable to answer, in
 * introspection mode, both when its database is unreachable (it answers introspection with 503
 * temporarily_unavailable) and when it is not listening at all: the API answers 503 without a challenge
 * (clients keep their token), keeps running, and serves again once the authorization server does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StorageUnavailableError } from '../../../packages/authorization-server/src/storage/storage-unavailable.ts';
import { createSqliteStorage } from '../../../packages/authorization-server/src/storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../../../packages/authorization-server/src/storage/storage.ts';
import { API_AUDIENCE, obtainTokens, seed, startTestServer } from '../../../packages/authorization-server/src/testing/harness.ts';
import type { TestServer } from '../../../packages/authorization-server/src/testing/harness.ts';
import { startPlatformApi } from './platform-api.ts';
import type { RunningPlatformApi } from './platform-api.ts';

/** The storage, every call of which fails with StorageUnavailableError while `outage.down` is set. */
function storageWithOutage(storage: Storage, outage: { down: boolean }): Storage {
  const wrapped: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(storage)) {
    if (typeof member !== 'object' || member === null) {
      wrapped[name] = member;
      continue;
    }
    wrapped[name] = Object.fromEntries(Object.entries(member).map(([method, call]) => [method, async (...args: unknown[]) => {
      if (outage.down) throw new StorageUnavailableError(new Error('connect ECONNREFUSED'));
      return (call as (...parameters: unknown[]) => unknown)(...args);
    }]));
  }
  return wrapped as unknown as Storage;
}

describe('the platform API while the authorization server cannot answer (introspection mode)', () => {
  const outage = { down: false };
  let server: TestServer;
  let api: RunningPlatformApi;

  before(async () => {
    server = await startTestServer({ storage: storageWithOutage(createSqliteStorage(':memory:'), outage) });
    api = await startPlatformApi({
      validationMode: 'introspection', issuer: server.issuer, audience: API_AUDIENCE,
      introspectionClientId: seed.resourceServer.id, introspectionClientSecret: seed.resourceServer.secret, port: 0, host: '127.0.0.1',
    });
  });
  after(async () => {
    await api?.close();
    await server?.close();
  });

  const call = (token: string) => fetch(`${api.url}/v1/introspect`, { headers: { authorization: `Bearer ${token}` } });

  test('answers 503 temporarily_unavailable without a challenge while the authorization server answers 503, and 200 once it is back', async () => {
    const { tokens } = await obtainTokens(server);
    outage.down = true;
    try {
      const response = await call(tokens.access_token);
      assert.equal(response.status, 503);
      assert.equal((await response.json() as { error: string }).error, 'temporarily_unavailable');
      assert.equal(response.headers.get('www-authenticate'), null, 'no challenge: the client keeps its token');
    } finally {
      outage.down = false;
    }
    assert.equal((await call(tokens.access_token)).status, 200);
  });

  test('answers 503 while the authorization server is not listening at all, and keeps running', async () => {
    const { tokens } = await obtainTokens(server);
    await server.app.close();
    const response = await call(tokens.access_token);
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('www-authenticate'), null);
    assert.equal((await fetch(`${api.url}/openapi.json`)).status, 200, 'the API process still serves');
  });
});

describe('the platform API\'s readiness (issue 14: /health liveness, /health/ready readiness)', () => {
  test('/health/ready is 200 while the authorization server answers and 503 with Retry-After once it is gone; /health stays 200', async () => {
    const server = await startTestServer();
    const api = await startPlatformApi({
      validationMode: 'introspection', issuer: server.issuer, audience: API_AUDIENCE,
      introspectionClientId: seed.resourceServer.id, introspectionClientSecret: seed.resourceServer.secret, port: 0, host: '127.0.0.1',
    });
    try {
      const ready = await fetch(`${api.url}/health/ready`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ready' });
      await server.close();
      const gone = await fetch(`${api.url}/health/ready`);
      assert.equal(gone.status, 503);
      assert.equal(gone.headers.get('retry-after'), '5');
      assert.deepEqual(await gone.json(), { status: 'unavailable', reason: 'authorization_server_unreachable' });
      assert.equal((await fetch(`${api.url}/health`)).status, 200);
    } finally {
      await api.close();
    }
  });
});
