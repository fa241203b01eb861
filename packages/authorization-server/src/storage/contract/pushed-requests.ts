/**
 * The pushed-request store (storage.ts `pushedRequests`, RFC 9126).
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PushedRequestRecord } from '../storage.ts';
import { type ContractBackend, type Fixture, NOW, digest, clientRecord, fixture } from './fixtures.ts';

export function pushedRequestsContract({ withStorage }: ContractBackend): void {
  describe('pushedRequests (RFC 9126: a pushed authorization request, bound to its client, single use)', () => {
    const pushedRecord = (f: Fixture, overrides: Partial<PushedRequestRecord> = {}): PushedRequestRecord => ({
      requestUriDigest: digest(), clientId: f.client.clientId,
      requestParameters: { response_type: 'code', client_id: f.client.clientId, redirect_uri: f.client.redirectUris[0]!, scope: 'users:read', state: 'a b&c=d"é' },
      createdAt: NOW, expiresAt: NOW + 60, ...overrides,
    });

    it('consume returns the pushed request once, to its own client, then nothing (RFC 9126 §4: single use)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const pushed = pushedRecord(f);
      await storage.pushedRequests.create(pushed);
      assert.deepEqual(await storage.pushedRequests.consume(pushed.requestUriDigest, f.client.clientId, NOW + 1), pushed);
      assert.equal(await storage.pushedRequests.consume(pushed.requestUriDigest, f.client.clientId, NOW + 2), undefined);
    }));

    it('markReauthenticated records the login session on an unused, unexpired request of its client only; consume returns it', withStorage(async (storage) => {
      const f = await fixture(storage);
      const pushed = pushedRecord(f);
      await storage.pushedRequests.create(pushed);
      const session = digest();
      assert.equal(await storage.pushedRequests.markReauthenticated(pushed.requestUriDigest, randomUUID(), session, NOW + 1), false, 'another client');
      assert.equal(await storage.pushedRequests.markReauthenticated(pushed.requestUriDigest, f.client.clientId, session, NOW + 60), false, 'expired');
      assert.equal(await storage.pushedRequests.markReauthenticated(digest(), f.client.clientId, session, NOW + 1), false, 'unknown');
      assert.equal(await storage.pushedRequests.markReauthenticated(pushed.requestUriDigest, f.client.clientId, session, NOW + 1), true);
      assert.deepEqual(await storage.pushedRequests.consume(pushed.requestUriDigest, f.client.clientId, NOW + 1), { ...pushed, reauthenticatedSessionDigest: session });
      assert.equal(await storage.pushedRequests.markReauthenticated(pushed.requestUriDigest, f.client.clientId, digest(), NOW + 1), false, 'used');
    }));

    it('consume by another client gets nothing and leaves it for its own client', withStorage(async (storage) => {
      const f = await fixture(storage);
      const pushed = pushedRecord(f);
      await storage.pushedRequests.create(pushed);
      assert.equal(await storage.pushedRequests.consume(pushed.requestUriDigest, randomUUID(), NOW + 1), undefined);
      assert.deepEqual(await storage.pushedRequests.consume(pushed.requestUriDigest, f.client.clientId, NOW + 1), pushed);
    }));

    it('consume at or after expiresAt gets nothing; an unknown digest gets nothing', withStorage(async (storage) => {
      const f = await fixture(storage);
      const pushed = pushedRecord(f);
      await storage.pushedRequests.create(pushed);
      assert.equal(await storage.pushedRequests.consume(pushed.requestUriDigest, f.client.clientId, NOW + 60), undefined);
      assert.equal(await storage.pushedRequests.consume(digest(), f.client.clientId, NOW), undefined);
    }));

    it('of 20 concurrent consumes of one pushed request exactly one wins (atomic)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const pushed = pushedRecord(f);
      await storage.pushedRequests.create(pushed);
      const results = await Promise.all(Array.from({ length: 20 }, () => storage.pushedRequests.consume(pushed.requestUriDigest, f.client.clientId, NOW + 1)));
      assert.equal(results.filter((result) => result !== undefined).length, 1);
    }));

    it('cleanup deletes expired pushed requests, used or not, and keeps live ones', withStorage(async (storage) => {
      const f = await fixture(storage);
      const expired = pushedRecord(f, { expiresAt: NOW - 1 });
      const atBoundary = pushedRecord(f, { expiresAt: NOW });
      const usedExpired = pushedRecord(f, { createdAt: NOW - 100, expiresAt: NOW - 40 });
      const live = pushedRecord(f, { expiresAt: NOW + 1 });
      for (const pushed of [expired, atBoundary, usedExpired, live]) await storage.pushedRequests.create(pushed);
      assert.ok(await storage.pushedRequests.consume(usedExpired.requestUriDigest, f.client.clientId, NOW - 50));
      const result = await storage.cleanup.deleteExpired(NOW, 2);
      assert.equal(result.pushedRequests, 3);
      assert.deepEqual(await storage.pushedRequests.consume(live.requestUriDigest, f.client.clientId, NOW), live);
    }));

    it('stores and updates a client\'s require_pushed_authorization_requests (RFC 9126 §6)', withStorage(async (storage) => {
      const client = clientRecord({ requirePushedAuthorizationRequests: true });
      await storage.clients.create(client);
      assert.deepEqual(await storage.clients.find(client.clientId), client);
      const changed = await storage.clients.update(client.clientId, { requirePushedAuthorizationRequests: false });
      assert.equal(changed?.requirePushedAuthorizationRequests ?? false, false);
      assert.equal((await storage.clients.find(client.clientId))?.requirePushedAuthorizationRequests ?? false, false);
    }));
  });
}
