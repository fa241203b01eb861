/**
 * The administrator-credential store (storage.ts `adminCredentials`): `gatehouse admins create-token`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ContractBackend, NOW, digest } from './fixtures.ts';

export function adminCredentialsContract({ withStorage }: ContractBackend): void {
  describe('adminCredentials', () => {
    it('adminCredentials finds a credential by its token digest only, and refuses a second one with the same name', withStorage(async (storage) => {
      const credential = { name: 'ops-alice', tokenDigest: digest(), createdAt: NOW };
      await storage.adminCredentials.create(credential);
      assert.deepEqual(await storage.adminCredentials.findByDigest(credential.tokenDigest), credential);
      assert.equal(await storage.adminCredentials.findByDigest(digest()), undefined);
      await assert.rejects(storage.adminCredentials.create({ name: 'ops-alice', tokenDigest: digest(), createdAt: NOW }));
    }));

    it('adminCredentials lists credentials by name, and delete removes one by name: its token is no longer found, and the name is free again', withStorage(async (storage) => {
      const bob = { name: 'ops-bob', tokenDigest: digest(), createdAt: NOW + 1 };
      const alice = { name: 'ops-alice', tokenDigest: digest(), createdAt: NOW };
      await storage.adminCredentials.create(bob);
      await storage.adminCredentials.create(alice);
      assert.deepEqual(await storage.adminCredentials.list(), [alice, bob]);
      assert.equal(await storage.adminCredentials.delete('ops-alice'), true);
      assert.equal(await storage.adminCredentials.findByDigest(alice.tokenDigest), undefined);
      assert.equal(await storage.adminCredentials.delete('ops-alice'), false, 'a second time');
      assert.deepEqual(await storage.adminCredentials.list(), [bob]);
      await storage.adminCredentials.create({ ...alice, tokenDigest: digest() });
    }));
  });
}
