/**
 * A 401 `invalid_token` for a token read before the connection was revoked and connected again under the
 * same id: the new connection's row may be at the very version the rejected token came from, but it is another
 * row (`generation`), so the rejection says nothing about its token and it is not refreshed.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { generateEncryptionKey } from './encryption.ts';
import { createMemoryTokenStore } from './stores/memory.ts';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from './testing/fake-authorization-server.ts';
import { connectThroughFake, type FakeConnection } from './testing/fake-connection.ts';

describe('a token rejected by the API after a revoke and reconnect under the same id', () => {
  let fake: FakeAuthorizationServer;
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('does not rotate the new connection, even at the version the rejected token came from', async () => {
    const store = createMemoryTokenStore();
    const encryptionKeys = [generateEncryptionKey('test')];
    const apiUrl = 'http://127.0.0.1:9/api';
    /** The bearer token of each API request, in order. */
    const presented: string[] = [];
    let connection: FakeConnection | undefined;
    let reconnected: FakeConnection | undefined;
    let reconnectedVersion: number | undefined;
    connection = await connectThroughFake(fake, {
      store, encryptionKeys, apiUrl,
      fetch: async (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        if (!url.startsWith(apiUrl)) return fetch(input, init);
        presented.push(new Headers(init?.headers).get('authorization') ?? '');
        if (presented.length > 1) return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });
        // While the first request is out: the user disconnects and connects again under the same id. The API
        // then refuses the old grant's token.
        await connection!.client.revoke(connection!.connectionId);
        reconnected = await connectThroughFake(fake, { store, encryptionKeys }, { connectionId: connection!.connectionId });
        reconnectedVersion = (await store.get(connection!.connectionId))!.version;
        return new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
      },
    });
    const rejectedVersion = (await store.get(connection.connectionId))!.version;

    const response = await connection.client.fetch(connection.connectionId, '/v1/introspect');
    assert.equal(response.status, 200);
    assert.equal(reconnectedVersion, rejectedVersion, 'the new row is at the version the rejected token came from');
    assert.equal(fake.tokenRequests('refresh_token').length, 0, 'the new connection was not refreshed');
    assert.equal((await store.get(connection.connectionId))!.version, rejectedVersion);
    assert.equal(presented.length, 2);
    assert.equal(presented[1], `Bearer ${await reconnected!.client.getAccessToken(connection.connectionId)}`, 'repeated with the new connection\'s token');
    assert.notEqual(presented[1], presented[0]);
  });
});
