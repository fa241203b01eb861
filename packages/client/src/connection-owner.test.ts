/**
 * RFC 6749 §6 and §10.4: a stored connection's tokens are used only by the client they were issued to, at
 * the issuer that issued them. A client configured for another issuer or client ID must send nothing (not
 * the refresh token, not its own secret with it, not the access token), change nothing in the store, and
 * say so with `ConnectionMismatchError`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { generateEncryptionKey } from './encryption.ts';
import type { AuthorizationTransaction } from './authorization.ts';
import { ConnectionMismatchError, ConnectionNotStoredError } from './errors.ts';
import { createGatehouseClient, type GatehouseClient, type GatehouseClientOptions } from './gatehouse-client.ts';
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

  /** A callback URL for `transaction` carrying a code `fake` accepts once. */
  const callbackFor = (fake: FakeAuthorizationServer, transaction: AuthorizationTransaction) => {
    const url = new URL(transaction.redirectUri);
    url.searchParams.set('code', fake.issueCode());
    url.searchParams.set('state', transaction.state);
    url.searchParams.set('iss', fake.issuer);
    return url;
  };
  const revocationsAt = (fake: FakeAuthorizationServer) => fake.requests.filter((request) => request.path === '/oauth/revoke');

  it('a callback under the id of a connection made by another client or at another issuer is refused before the code is sent: the row untouched, nothing revoked', async () => {
    const connectionId = randomUUID();
    const otherClientAtA = clientWith({ clientId: OTHER_CLIENT_ID, clientSecret: 'another-secret' });
    const sameClientAtB = clientWith({ issuer: issuerB.issuer });
    // Both flows start while no connection has the id; then CLIENT_ID connects at A under it.
    const { transaction: atA } = await otherClientAtA.authorizationUrl({ connectionId });
    const { transaction: atB } = await sameClientAtB.authorizationUrl({ connectionId });
    await connectThroughFake(issuerA, { store, encryptionKeys: keys }, { connectionId });
    const row = (await store.get(connectionId))!;
    issuerA.subjectUrn = 'urn:gatehouse:company:6b2f7c1e-63f4-4c1f-9a55-0e7e1f3d8a21';
    issuerB.subjectUrn = 'urn:gatehouse:company:6b2f7c1e-63f4-4c1f-9a55-0e7e1f3d8a21';

    for (const [client, fake, transaction, configured] of [
      [otherClientAtA, issuerA, atA, { issuer: `${issuerA.issuer}/`, clientId: OTHER_CLIENT_ID }],
      [sameClientAtB, issuerB, atB, { issuer: `${issuerB.issuer}/`, clientId: CLIENT_ID }],
    ] as const) {
      await assert.rejects(client.handleCallback(callbackFor(fake, transaction), transaction), (error: unknown) => error instanceof ConnectionMismatchError
        && error.connectionId === connectionId && error.storedClientId === CLIENT_ID && error.storedIssuer === issuerA.issuer
        && error.configuredIssuer === configured.issuer && error.configuredClientId === configured.clientId);
      // And a new flow under the id is refused at its start.
      await assert.rejects(client.authorizationUrl({ connectionId }), ConnectionMismatchError);
    }
    assert.equal(issuerA.tokenRequests('authorization_code').length, 1, 'only CLIENT_ID\'s own code exchange: the refused callbacks\' codes were not sent');
    assert.deepEqual(tokenOrRevocationRequests(issuerB), []);
    assert.deepEqual(revocationsAt(issuerA), [], 'the row\'s token was sent nowhere');
    assert.deepEqual(await store.get(connectionId), row, 'the other client\'s row is untouched');

    // Control: the same client at the same issuer reconnecting another subject replaces the row and revokes the old grant.
    await connectThroughFake(issuerA, { store, encryptionKeys: keys }, { connectionId });
    assert.equal(revocationsAt(issuerA).length, 1);
    assert.equal((await store.get(connectionId))?.subjectUrn, issuerA.subjectUrn);
  });

  it('a connection saved under the id by another client during the code exchange is kept: the grant just issued is revoked (ConnectionNotStoredError)', async () => {
    const { connectionId, row } = await connectAtA();
    // The other client's checks at the start and before the exchange do not see the row (as if it were saved meanwhile);
    // its check under the lock does.
    let hiddenReads = 2;
    const racing: TokenStore = { ...store, get: async (id) => (hiddenReads-- > 0 ? undefined : store.get(id)) };
    const other = clientWith({ clientId: OTHER_CLIENT_ID, clientSecret: 'another-secret', store: racing });
    const { transaction } = await other.authorizationUrl({ connectionId });
    await assert.rejects(other.handleCallback(callbackFor(issuerA, transaction), transaction), (error: unknown) =>
      error instanceof ConnectionNotStoredError && error.grantRevoked && error.cause instanceof ConnectionMismatchError);
    assert.equal(issuerA.tokenRequests('authorization_code').length, 2, 'this code was exchanged');
    const newRefreshToken = issuerA.issuedTokens.filter((token) => token.startsWith('rt_')).at(-1);
    assert.deepEqual(revocationsAt(issuerA).map((request) => request.form.get('token')), [newRefreshToken], 'only the new grant is revoked');
    assert.deepEqual(await store.get(connectionId), row, 'the row is untouched');
  });
});
