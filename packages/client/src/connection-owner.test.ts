/**
 * RFC 6749 §6 and §10.4: a stored connection's tokens are used only by the client they were issued to, at
 * the issuer that issued them. A client configured for another issuer or client ID must send nothing (not
 * the refresh token, not its own secret with it, not the access token), change nothing in the store, and
 * say so with `ConnectionMismatchError`.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { generateEncryptionKey } from './encryption.ts';
import { ConnectionMismatchError } from './errors.ts';
import { createGatehouseClient, type GatehouseClient, type GatehouseClientOptions } from './gatehouse-client.ts';
import type { LogEntry } from './logging.ts';
import { createMemoryTokenStore } from './stores/memory.ts';
import type { StoredConnection, TokenStore } from './token-store.ts';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from './testing/fake-authorization-server.ts';
import { connectThroughFake, FAKE_START_SECONDS } from './testing/fake-connection.ts';
import { createManualClock } from './clock.ts';

const CLIENT_ID = '7af385a0-284d-48c5-b225-362862085551';
const OTHER_CLIENT_ID = '0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f';

describe('a stored connection is used only with the issuer and client it was made with (RFC 6749 §6, §10.4)', () => {
  let issuerA: FakeAuthorizationServer;
  let issuerB: FakeAuthorizationServer;
  let store: TokenStore;
  const keys = [generateEncryptionKey('shared')];
  /** Every request any client of these tests sent, to any host (discovery, token, revocation, API). */
  const sent: string[] = [];
  const recordingFetch: typeof fetch = async (input, init) => {
    sent.push(`${init?.method ?? 'GET'} ${String(input instanceof Request ? input.url : input)}`);
    return fetch(input, init);
  };

  beforeEach(async () => {
    issuerA = await startFakeAuthorizationServer();
    issuerB = await startFakeAuthorizationServer();
    store = createMemoryTokenStore();
    sent.length = 0;
  });
  afterEach(async () => {
    await issuerA.close();
    await issuerB.close();
  });

  /** A connection made at issuer A by CLIENT_ID; returns its id and the row as stored. */
  async function connectAtA(): Promise<{ connectionId: string; row: StoredConnection }> {
    const { connectionId } = await connectThroughFake(issuerA, { store, encryptionKeys: keys });
    return { connectionId, row: (await store.get(connectionId))! };
  }

  /** A client sharing the store and keys, whose access tokens are all expired (so any use would refresh). */
  const clientWith = (overrides: Partial<GatehouseClientOptions>): GatehouseClient => createGatehouseClient({
    issuer: issuerA.issuer, clientId: CLIENT_ID, clientSecret: 'fake-client-secret', redirectUri: 'http://127.0.0.1:9/callback',
    scope: 'users:read', apiUrl: 'http://127.0.0.1:1', store, encryptionKeys: keys,
    clock: createManualClock(FAKE_START_SECONDS + 10_000), logger: () => {}, fetch: recordingFetch,
    sleep: async () => {}, ...overrides,
  });

  const tokenOrRevocationRequests = (fake: FakeAuthorizationServer) =>
    fake.requests.filter((request) => request.path === '/oauth/token' || request.path === '/oauth/revoke');

  /** Every entry point that would send a token refuses, and nothing is sent or stored. */
  async function assertRefusedEverywhere(client: GatehouseClient, connectionId: string, stored: StoredConnection, configured: { issuer: string; clientId: string }) {
    const requestsAtA = issuerA.requests.length;
    const requestsAtB = issuerB.requests.length;
    const isMismatch = (error: unknown) => {
      assert.ok(error instanceof ConnectionMismatchError, String(error));
      assert.equal(error.connectionId, connectionId);
      assert.equal(error.storedIssuer, issuerA.issuer);
      assert.equal(error.storedClientId, CLIENT_ID);
      assert.equal(error.configuredIssuer, configured.issuer);
      assert.equal(error.configuredClientId, configured.clientId);
      const printed = `${error.message} ${JSON.stringify(error)}`;
      for (const token of issuerA.issuedTokens) assert.ok(!printed.includes(token), 'the error holds no token');
      return true;
    };
    await assert.rejects(client.getAccessToken(connectionId), isMismatch);
    await assert.rejects(client.refresh(connectionId), isMismatch);
    await assert.rejects(client.fetch(connectionId, '/v1/users'), isMismatch);
    await assert.rejects(client.revoke(connectionId), isMismatch);

    assert.deepEqual(sent, [], 'not a single request: no discovery, no token or revocation request, no API call');
    assert.equal(issuerA.requests.length, requestsAtA);
    assert.equal(issuerB.requests.length, requestsAtB);
    assert.deepEqual(tokenOrRevocationRequests(issuerB), []);
    assert.deepEqual(tokenOrRevocationRequests(issuerA).map((request) => request.form.get('grant_type')), ['authorization_code'], 'only the original code exchange');
    const after = await store.get(connectionId);
    assert.deepEqual(after, stored, 'the row is unchanged: still active, same version, same tokens');
    assert.equal(after?.status, 'active');
  }

  it('refuses to send issuer A\'s refresh token (and the client secret) to issuer B, and keeps the connection', async () => {
    const { connectionId, row } = await connectAtA();
    const atB = clientWith({ issuer: issuerB.issuer });
    await assertRefusedEverywhere(atB, connectionId, row, { issuer: `${issuerB.issuer}/`, clientId: CLIENT_ID });
    // The real grant at A is untouched: the right configuration still refreshes it.
    const atA = clientWith({ issuer: issuerA.issuer });
    await atA.refresh(connectionId);
    assert.equal(issuerA.tokenRequests('refresh_token').length, 1);
    assert.equal((await store.get(connectionId))?.version, row.version + 1);
  });

  it('refuses to present the refresh token as another client at the same issuer (no invalid_grant wipes the connection)', async () => {
    const { connectionId, row } = await connectAtA();
    const otherClient = clientWith({ clientId: OTHER_CLIENT_ID, clientSecret: 'another-secret' });
    await assertRefusedEverywhere(otherClient, connectionId, row, { issuer: `${issuerA.issuer}/`, clientId: OTHER_CLIENT_ID });
  });

  it('a connection that holds no tokens (reauthorization_required) is not another client\'s or issuer\'s to revoke either: refused, kept, no event', async () => {
    const { connectionId, row } = await connectAtA();
    const marked = (await store.markReauthorizationRequired(connectionId, row, 'invalid_grant: revoked', row.updatedAt))!;
    for (const [client, configured] of [
      [clientWith({ issuer: issuerB.issuer }), { issuer: `${issuerB.issuer}/`, clientId: CLIENT_ID }],
      [clientWith({ clientId: OTHER_CLIENT_ID, clientSecret: 'another-secret' }), { issuer: `${issuerA.issuer}/`, clientId: OTHER_CLIENT_ID }],
    ] as const) {
      const revoked: string[] = [];
      client.events.on('revoked', (event) => revoked.push(event.connectionId));
      await assert.rejects(client.revoke(connectionId), (error: unknown) => error instanceof ConnectionMismatchError
        && error.configuredIssuer === configured.issuer && error.configuredClientId === configured.clientId);
      assert.deepEqual(revoked, []);
      assert.deepEqual(await store.get(connectionId), marked, 'the connection is kept as it was');
    }
    assert.deepEqual(sent, []);
    // Its own client forgets it (nothing to send).
    await clientWith({}).revoke(connectionId);
    assert.equal(await store.get(connectionId), undefined);
    assert.deepEqual(sent, []);
  });

  it('compares issuers as URLs: a configured issuer with a trailing slash is the same issuer', async () => {
    const { connectionId, row } = await connectAtA();
    const withSlash = clientWith({ issuer: `${issuerA.issuer}/` });
    await withSlash.refresh(connectionId);
    assert.equal(issuerA.tokenRequests('refresh_token').length, 1);
    assert.equal((await store.get(connectionId))?.version, row.version + 1);
    await withSlash.revoke(connectionId);
    assert.equal(issuerA.requests.filter((request) => request.path === '/oauth/revoke').length, 1);
    assert.equal(await store.get(connectionId), undefined);
  });

  it('a reconnect under the same id by another client or at another issuer does not send the replaced refresh token anywhere', async () => {
    const { connectionId } = await connectAtA();
    const logs: LogEntry[] = [];
    // Another client at A connects another subject under the same id: A's old grant is not this client's to revoke.
    issuerA.subjectUrn = 'urn:gatehouse:company:6b2f7c1e-63f4-4c1f-9a55-0e7e1f3d8a21';
    await connectThroughFake(issuerA, { store, encryptionKeys: keys, clientId: OTHER_CLIENT_ID, logger: (entry) => logs.push(entry) }, { connectionId });
    assert.equal(issuerA.requests.filter((request) => request.path === '/oauth/revoke').length, 0, 'nothing revoked as another client');
    assert.equal((await store.get(connectionId))?.clientId, OTHER_CLIENT_ID, 'the new connection is stored');
    assert.ok(logs.some((entry) => entry.event === 'revoked' && entry.outcome === 'skipped'));

    // Then a client of issuer B connects under the same id: neither A nor B receives the replaced token.
    issuerB.subjectUrn = 'urn:gatehouse:company:d4290d20-6495-471e-bcac-5d9e0a4d844e';
    await connectThroughFake(issuerB, { store, encryptionKeys: keys, clientId: OTHER_CLIENT_ID }, { connectionId });
    assert.equal(issuerA.requests.filter((request) => request.path === '/oauth/revoke').length, 0);
    assert.equal(issuerB.requests.filter((request) => request.path === '/oauth/revoke').length, 0);
    assert.equal((await store.get(connectionId))?.issuer, issuerB.issuer);

    // Control: the same client at the same issuer reconnecting another subject still revokes the old grant.
    issuerB.subjectUrn = 'urn:gatehouse:company:6b2f7c1e-63f4-4c1f-9a55-0e7e1f3d8a21';
    await connectThroughFake(issuerB, { store, encryptionKeys: keys, clientId: OTHER_CLIENT_ID }, { connectionId });
    assert.equal(issuerB.requests.filter((request) => request.path === '/oauth/revoke').length, 1);
  });
});
