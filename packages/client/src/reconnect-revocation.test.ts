/**
 * Review item 11: after a reconnect to another subject, a failed revocation of the replaced grant was
 * swallowed without a trace. It is now logged (an error code or reason, the token's fingerprint, never the token).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from './testing/fake-authorization-server.ts';
import { connectThroughFake } from './testing/fake-connection.ts';
import { createMemoryTokenStore } from './stores/memory.ts';
import { generateEncryptionKey } from './encryption.ts';

describe('a reconnect to another subject', () => {
  let fake: FakeAuthorizationServer;
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('logs a failed revocation of the replaced grant, without its token', async () => {
    const store = createMemoryTokenStore();
    const encryptionKeys = [generateEncryptionKey('test')];
    const first = await connectThroughFake(fake, { store, encryptionKeys });
    fake.subjectUrn = 'urn:gatehouse:company:6b2f7c1e-63f4-4c1f-9a55-0e7e1f3d8a21';
    fake.revocationError = { status: 503, error: 'temporarily_unavailable' };
    const second = await connectThroughFake(fake, { store, encryptionKeys }, { connectionId: first.connectionId });
    assert.equal(fake.requests.filter((request) => request.path === '/oauth/revoke').length, 1, 'the old grant\'s revocation was tried');
    const failures = second.logs.filter((entry) => entry.event === 'revoked' && entry.outcome === 'failed');
    assert.equal(failures.length, 1);
    assert.match(failures[0]!.reason!, /^the grant replaced by a reconnect to another subject was not revoked: /);
    assert.match(failures[0]!.refresh_token_fingerprint!, /^sha256:[0-9a-f]{8}$/);
    const logged = JSON.stringify(second.logs);
    for (const issued of fake.issuedTokens) assert.ok(!logged.includes(issued));
  });

  it('whose replaced row cannot be decrypted (its key was dropped) still connects: the old grant is left, logged, and the new connection returned', async () => {
    const store = createMemoryTokenStore();
    const first = await connectThroughFake(fake, { store, encryptionKeys: [generateEncryptionKey('retired')] });
    fake.subjectUrn = 'urn:gatehouse:company:6b2f7c1e-63f4-4c1f-9a55-0e7e1f3d8a21';
    // The reconnect is the remedy for tokens no key opens: it must not fail after storing the new connection.
    const second = await connectThroughFake(fake, { store, encryptionKeys: [generateEncryptionKey('current')] }, { connectionId: first.connectionId });
    assert.equal((await store.get(first.connectionId))?.subjectUrn, fake.subjectUrn);
    assert.equal(fake.requests.filter((request) => request.path === '/oauth/revoke').length, 0, 'nothing to send: the old token cannot be read');
    const failures = second.logs.filter((entry) => entry.event === 'revoked' && entry.outcome === 'failed');
    assert.equal(failures.length, 1);
    assert.match(failures[0]!.reason!, /^the grant replaced by a reconnect to another subject was not revoked: /);
    assert.ok(second.logs.some((entry) => entry.event === 'connected' && entry.outcome === 'succeeded'));
  });
});
