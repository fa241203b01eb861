/**
 * Defect 3 of the partner-side review: each client made without a `lock` had its own memory lock, so two
 * clients in one process sharing one store both refreshed a connection with the same refresh token
 * (Gatehouse without its grace window then revokes the grant). The default lock is now the process's.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createManualClock } from './clock.ts';
import { generateEncryptionKey } from './encryption.ts';
import { createGatehouseClient } from './gatehouse-client.ts';
import { createMemoryTokenStore } from './stores/memory.ts';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from './testing/fake-authorization-server.ts';
import { connectThroughFake, FAKE_START_SECONDS } from './testing/fake-connection.ts';

describe('the default refresh lock: one per process', () => {
  let fake: FakeAuthorizationServer;
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('two clients sharing one store in one process refresh a connection once', async () => {
    const store = createMemoryTokenStore();
    const keys = [generateEncryptionKey('test')];
    const first = await connectThroughFake(fake, { store, encryptionKeys: keys });
    const second = createGatehouseClient({
      issuer: fake.issuer, clientId: '7af385a0-284d-48c5-b225-362862085551', clientSecret: 'fake-client-secret',
      redirectUri: 'http://127.0.0.1:9/callback', scope: ['users:read'], store, encryptionKeys: keys,
      clock: createManualClock(FAKE_START_SECONDS + 1000), logger: () => {}, sleep: async () => {},
    });
    first.clock.advanceSeconds(1000);
    const tokens = await Promise.all([first.client.getAccessToken(first.connectionId), second.getAccessToken(first.connectionId)]);
    assert.equal(fake.tokenRequests('refresh_token').length, 1, 'one refresh request');
    assert.equal(tokens[0], tokens[1]);
    assert.equal((await store.get(first.connectionId))?.status, 'active');
  });
});
