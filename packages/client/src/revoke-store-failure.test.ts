/**
 * Defect 2 of the partner-side review: when the revocation at the server succeeded and the token store's delete then
 * threw, `revoke` threw the store's bare error and recorded nothing: the caller could not tell that the grant was
 * gone and only the local row was left. It now logs it and rejects with ConnectionNotDeletedError, and a second
 * `revoke` (the same token revoked again, answered 200 by RFC 7009 §2.2) deletes the row.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ConnectionNotDeletedError } from './errors.ts';
import { createMemoryTokenStore } from './stores/memory.ts';
import type { TokenStore } from './token-store.ts';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from './testing/fake-authorization-server.ts';
import { connectThroughFake } from './testing/fake-connection.ts';

describe('revoke whose token store delete fails after the revocation went through', () => {
  let fake: FakeAuthorizationServer;
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
  });
  afterEach(async () => {
    await fake.close();
  });

  /** A memory store whose next `failures` deletes throw, as a database that went away does. */
  function failingDeletes(failures: number): TokenStore {
    const store = createMemoryTokenStore();
    return {
      ...store,
      async delete(connectionId) {
        if (failures-- > 0) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        return store.delete(connectionId);
      },
    };
  }
  const revocations = () => fake.requests.filter((request) => request.path === '/oauth/revoke');

  it('rejects with ConnectionNotDeletedError (revoked at the server, the row kept), logs it, emits no revoked event; revoke again deletes it', async () => {
    const store = failingDeletes(1);
    const { client, connectionId, logs } = await connectThroughFake(fake, { store });
    const revoked: string[] = [];
    client.events.on('revoked', (event) => revoked.push(event.connectionId));
    await assert.rejects(client.revoke(connectionId), (error: unknown) => {
      assert.ok(error instanceof ConnectionNotDeletedError, String(error));
      assert.equal(error.connectionId, connectionId);
      assert.match(error.message, /was revoked at the authorization server, but the token store could not delete it \(connect ECONNREFUSED 127\.0\.0\.1:5432\): call revoke again/);
      assert.equal((error.cause as { code?: string }).code, 'ECONNREFUSED');
      return true;
    });
    assert.equal(revocations().length, 1, 'the revocation was sent');
    assert.notEqual(await store.get(connectionId), undefined, 'the row is still stored');
    assert.deepEqual(revoked, [], 'no revoked event: the connection still exists here');
    const failures = logs.filter((entry) => entry.event === 'revoked' && entry.outcome === 'failed');
    assert.equal(failures.length, 1);
    assert.match(failures[0]!.reason!, /^revoked at the authorization server, but the token store could not delete the connection: /);
    assert.ok(!logs.some((entry) => entry.event === 'revoked' && entry.outcome === 'succeeded'));

    // The retry the error asks for: the token is revoked again (200) and the row deleted.
    await client.revoke(connectionId);
    assert.equal(revocations().length, 2);
    assert.equal(await store.get(connectionId), undefined);
    assert.deepEqual(revoked, [connectionId]);
    const logged = JSON.stringify(logs);
    for (const issued of fake.issuedTokens) assert.ok(!logged.includes(issued), 'no token in the log');
  });

  it('a connection holding no tokens whose delete fails throws the store\'s own error: nothing was revoked', async () => {
    const store = failingDeletes(1);
    const { client, connectionId } = await connectThroughFake(fake, { store });
    const row = (await store.get(connectionId))!;
    await store.markReauthorizationRequired(connectionId, row, 'invalid_grant: revoked', row.updatedAt);
    await assert.rejects(client.revoke(connectionId), (error: unknown) => !(error instanceof ConnectionNotDeletedError) && /ECONNREFUSED/.test((error as Error).message));
    assert.equal(revocations().length, 0);
  });
});
