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
  });
}
