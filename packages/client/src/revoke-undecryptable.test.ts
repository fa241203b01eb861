/**
 * Defect 3 of the partner-side review: a connection whose stored tokens no configured key can decrypt could not be
 * forgotten: `revoke` decrypts first and threw DecryptionError, keeping the row. With `undecryptable: 'delete'` it is
 * now deleted without a request (nothing can be sent), and the outcome says the grant was not revoked.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { generateEncryptionKey } from './encryption.ts';
import { DecryptionError } from './errors.ts';
import type { RevokedEvent } from './events.ts';
import { createGatehouseClient } from './gatehouse-client.ts';
import type { LogEntry } from './logging.ts';
import { createMemoryTokenStore } from './stores/memory.ts';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from './testing/fake-authorization-server.ts';
import { connectThroughFake } from './testing/fake-connection.ts';

describe('revoke of a connection whose tokens cannot be decrypted', () => {
  let fake: FakeAuthorizationServer;
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
  });
  afterEach(async () => {
    await fake.close();
  });
  const revocations = () => fake.requests.filter((request) => request.path === '/oauth/revoke');

  it('throws DecryptionError and keeps it by default; with undecryptable: \'delete\' deletes it without a request (deleted_undecryptable)', async () => {
    const store = createMemoryTokenStore();
    const { connectionId } = await connectThroughFake(fake, { store, encryptionKeys: [generateEncryptionKey('retired')] });
    const logs: LogEntry[] = [];
    // The key the tokens were sealed with was dropped from the keyring.
    const client = createGatehouseClient({
      issuer: fake.issuer, clientId: '7af385a0-284d-48c5-b225-362862085551', clientSecret: 'fake-client-secret', redirectUri: 'http://127.0.0.1:9/callback',
      scope: 'users:read', store, encryptionKeys: [generateEncryptionKey('current')], logger: (entry) => logs.push(entry),
    });
    const events: RevokedEvent[] = [];
    client.events.on('revoked', (event) => events.push(event));
    const row = await store.get(connectionId);

    await assert.rejects(client.revoke(connectionId), DecryptionError);
    await assert.rejects(client.revoke(connectionId, { undecryptable: 'throw' }), DecryptionError);
    assert.deepEqual(await store.get(connectionId), row, 'kept');

    assert.equal(await client.revoke(connectionId, { undecryptable: 'delete' }), 'deleted_undecryptable');
    assert.equal(await store.get(connectionId), undefined, 'deleted');
    assert.equal(revocations().length, 0, 'nothing could be sent');
    assert.deepEqual(events, [{ connectionId, subjectUrn: fake.subjectUrn, outcome: 'deleted_undecryptable' }]);
    const skipped = logs.filter((entry) => entry.event === 'revoked');
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0]!.outcome, 'skipped');
    assert.match(skipped[0]!.reason!, /^the connection is deleted without revoking its grant: its refresh token could not be decrypted/);
  });

  it('a connection that can be decrypted is revoked as before with the option set (revoked)', async () => {
    const store = createMemoryTokenStore();
    const { client, connectionId } = await connectThroughFake(fake, { store });
    assert.equal(await client.revoke(connectionId, { undecryptable: 'delete' }), 'revoked');
    assert.equal(revocations().length, 1);
    assert.equal(await store.get(connectionId), undefined);
  });
});
