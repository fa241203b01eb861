/**
 * The API-key part of the storage contract suite (storage.ts `apiKeys`, issue 16), run by
 * contract/index.ts on every backend. Times are passed in explicitly.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApiKeyRecord } from '../storage.ts';
import { type ContractBackend, NOW, digest } from './fixtures.ts';

const apiKey = (overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({
  keyId: randomUUID(), keyDigest: digest(), displayPrefix: 'gak_abcdef', keyType: 'standalone', name: 'Bookkeeping export',
  clientId: null, subjectType: 'company', subjectId: randomUUID(), scopes: ['users:read', 'vendors:read'], createdByUserId: randomUUID(),
  createdAt: NOW, expiresAt: NOW + 3600, lastUsedAt: null, revokedAt: null, revocationReason: null, ...overrides,
});

/** The API-key contract, inside the caller's describe; `withStorage` gives each test a fresh storage. */
export function apiKeysContract({ withStorage }: ContractBackend): void {
  describe('API keys (issue 16: digests only, one integrated key per company per integration)', () => {
    it('a key is created and found by id and by digest, exactly as stored', withStorage(async (storage) => {
      const key = apiKey();
      await storage.apiKeys.create(key);
      assert.deepEqual(await storage.apiKeys.find(key.keyId), key);
      assert.deepEqual(await storage.apiKeys.findByDigest(key.keyDigest), key);
      assert.equal(await storage.apiKeys.findByDigest(digest()), undefined);
      await assert.rejects(storage.apiKeys.create({ ...apiKey(), keyDigest: key.keyDigest }), 'a digest is unique');
    }));

    it('revoke marks an active key once and keeps the row (use after revocation stays recognisable)', withStorage(async (storage) => {
      const key = apiKey();
      await storage.apiKeys.create(key);
      assert.equal(await storage.apiKeys.revoke(key.keyId, NOW + 5, 'deleted'), true);
      assert.equal(await storage.apiKeys.revoke(key.keyId, NOW + 6, 'revoked'), false, 'already revoked');
      assert.equal(await storage.apiKeys.revoke(randomUUID(), NOW, 'revoked'), false, 'unknown');
      assert.deepEqual(await storage.apiKeys.findByDigest(key.keyDigest), { ...key, revokedAt: NOW + 5, revocationReason: 'deleted' });
    }));

    it('install replaces the active integrated key of the same client and subject atomically, and only that one', withStorage(async (storage) => {
      const clientId = randomUUID();
      const subjectId = randomUUID();
      const integrated = (overrides: Partial<ApiKeyRecord> = {}) => apiKey({ keyType: 'integrated', clientId, subjectId, expiresAt: null, ...overrides });
      const first = integrated();
      const otherCompany = integrated({ subjectId: randomUUID() });
      assert.equal(await storage.apiKeys.install(first), null);
      assert.equal(await storage.apiKeys.install(otherCompany), null);
      const second = integrated({ createdAt: NOW + 10 });
      assert.equal(await storage.apiKeys.install(second), first.keyId);
      assert.deepEqual(await storage.apiKeys.find(first.keyId), { ...first, revokedAt: NOW + 10, revocationReason: 'rotated' });
      assert.deepEqual((await storage.apiKeys.list({ clientId })).map((key) => key.keyId).sort(), [second.keyId, otherCompany.keyId].sort());
      const concurrent = await Promise.allSettled([integrated({ createdAt: NOW + 20 }), integrated({ createdAt: NOW + 20 })].map((key) => storage.apiKeys.install(key)));
      assert.ok(concurrent.some((outcome) => outcome.status === 'fulfilled'));
      assert.equal((await storage.apiKeys.list({ clientId, subjectId })).length, 1, 'never two active keys for one company and integration');
    }));

    it('list filters by subject, client and type, newest first, and leaves revoked keys out unless asked', withStorage(async (storage) => {
      const subjectId = randomUUID();
      const old = apiKey({ subjectId, createdAt: NOW - 100 });
      const recent = apiKey({ subjectId, createdAt: NOW });
      const revoked = apiKey({ subjectId, createdAt: NOW - 50 });
      const elsewhere = apiKey();
      for (const key of [old, recent, revoked, elsewhere]) await storage.apiKeys.create(key);
      await storage.apiKeys.revoke(revoked.keyId, NOW, 'revoked');
      assert.deepEqual((await storage.apiKeys.list({ subjectType: 'company', subjectId })).map((key) => key.keyId), [recent.keyId, old.keyId]);
      assert.deepEqual((await storage.apiKeys.list({ subjectType: 'company', subjectId, includeRevoked: true })).map((key) => key.keyId), [recent.keyId, revoked.keyId, old.keyId]);
      assert.deepEqual((await storage.apiKeys.list({ subjectId, keyType: 'integrated' })), []);
      assert.equal((await storage.apiKeys.list({ subjectId, limit: 1 })).length, 1);
    }));

    it('recordUses moves each key\'s lastUsedAt forward, at most once per interval, in one call for many keys', withStorage(async (storage) => {
      const key = apiKey();
      const other = apiKey();
      for (const created of [key, other]) await storage.apiKeys.create(created);
      await storage.apiKeys.recordUses([{ id: key.keyId, usedAt: NOW + 1 }, { id: randomUUID(), usedAt: NOW + 1 }], 60);
      await storage.apiKeys.recordUses([{ id: key.keyId, usedAt: NOW + 30 }, { id: other.keyId, usedAt: NOW + 30 }], 60);
      assert.equal((await storage.apiKeys.find(key.keyId))?.lastUsedAt, NOW + 1, 'within the interval: no write');
      assert.equal((await storage.apiKeys.find(other.keyId))?.lastUsedAt, NOW + 30);
      await storage.apiKeys.recordUses([{ id: key.keyId, usedAt: NOW + 61 }], 60);
      assert.equal((await storage.apiKeys.find(key.keyId))?.lastUsedAt, NOW + 61);
      assert.equal((await storage.apiKeys.find(other.keyId))?.lastUsedAt, NOW + 30);
    }));

    it('integrations are enabled (re-scoped on a second enable), found, listed and disabled', withStorage(async (storage) => {
      const clientId = randomUUID();
      assert.equal(await storage.apiKeys.findIntegration(clientId), undefined);
      await storage.apiKeys.enableIntegration({ clientId, scopes: ['users:read'], enabledAt: NOW, enabledBy: 'admin:ops' });
      await storage.apiKeys.enableIntegration({ clientId, scopes: ['users:read', 'vendors:read'], enabledAt: NOW + 1, enabledBy: 'cli' });
      assert.deepEqual(await storage.apiKeys.findIntegration(clientId), { clientId, scopes: ['users:read', 'vendors:read'], enabledAt: NOW + 1, enabledBy: 'cli' });
      assert.ok((await storage.apiKeys.listIntegrations()).some((integration) => integration.clientId === clientId));
      assert.equal(await storage.apiKeys.disableIntegration(clientId), true);
      assert.equal(await storage.apiKeys.disableIntegration(clientId), false);
      assert.equal(await storage.apiKeys.findIntegration(clientId), undefined);
    }));
  });
}
