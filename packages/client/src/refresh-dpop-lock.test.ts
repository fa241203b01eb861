/**
 * Review defect 6 (DPoP key across lock holds): a bearer connection gets its first DPoP key at refresh. When a
 * request was sent with key K1, the lock was then lost and taken again, the next hold generated key K2: the
 * retry's answer (the server's grace-window pair, bound to K1) was stored with K2, and the next refresh failed
 * with invalid_grant. Now the key resolved for the refresh is kept in its progress and reused by later holds
 * while the stored key is unchanged. The refresher is driven directly: its DPoP and token request are fakes.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type * as oauth from 'oauth4webapi';
import { generateEncryptionKey, createTokenCipher } from './encryption.ts';
import { createClientEvents } from './events.ts';
import { LockLostError, TransportError } from './errors.ts';
import { createRefresher } from './refresh.ts';
import { createMemoryTokenStore } from './stores/memory.ts';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from './testing/fake-authorization-server.ts';
import { connectThroughFake, takeableLock } from './testing/fake-connection.ts';

describe('a refresh that generates the first DPoP key, across a lock lost and taken again', { timeout: 10_000 }, () => {
  let fake: FakeAuthorizationServer;
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('sends every request of the refresh with one key, and stores the new pair with that key', async () => {
    const keys = [generateEncryptionKey('test')];
    const store = createMemoryTokenStore();
    const { connectionId, clock } = await connectThroughFake(fake, { store, encryptionKeys: keys });
    assert.equal((await store.get(connectionId))?.dpopKeyCiphertext, null, 'a bearer connection');
    const { lock, holds } = takeableLock();
    let generated = 0;
    const sentWith: unknown[] = [];
    const refresher = createRefresher({
      store, cipher: createTokenCipher(keys), lock, clock, logger: () => {}, events: createClientEvents(),
      retryPolicy: { maxAttempts: 4, baseDelayMilliseconds: 1, maxDelayMilliseconds: 1 },
      sleep: async () => {}, random: () => 0.5, refreshMarginSeconds: 60,
      owner: { issuer: new URL(fake.issuer), clientId: '7af385a0-284d-48c5-b225-362862085551' }, lockNamespace: 'test',
      connectionDpop: async () => {
        generated++;
        return { handle: { key: `K${generated}` } as unknown as oauth.DPoPHandle, newKeyCiphertext: `sealed-K${generated}` };
      },
      requestRefresh: async (_refreshToken, dpop) => {
        sentWith.push((dpop?.handle as unknown as { key: string } | undefined)?.key);
        if (sentWith.length === 1) {
          // Sent, its answer lost; meanwhile the lock is lost: the retry happens in a new hold.
          holds.at(-1)!.abort(new LockLostError('the test took the lock away'));
          throw new TransportError('the token request timed out', 'timeout');
        }
        return { access_token: 'new-access', token_type: 'dpop', refresh_token: 'new-refresh', expires_in: 3600 } as unknown as oauth.TokenEndpointResponse;
      },
    });
    await refresher.refreshNow(connectionId);
    assert.equal(holds.length, 2, 'the lock was taken again');
    assert.deepEqual(sentWith, ['K1', 'K1'], 'both requests with the key generated first');
    assert.equal(generated, 1);
    assert.equal((await store.get(connectionId))?.dpopKeyCiphertext, 'sealed-K1', 'the pair is stored with the key it is bound to');
  });
});
