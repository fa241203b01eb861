/**
 * The partner-developer store (storage.ts `developers`): who may register clients in the developer portal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ContractBackend, userRecord } from './fixtures.ts';

export function developersContract({ withStorage }: ContractBackend): void {
  describe('developers', () => {
    it('developers marks partner developers idempotently', withStorage(async (storage) => {
      const [developer, user] = [userRecord(), userRecord()];
      for (const u of [developer, user]) await storage.users.create(u);
      await storage.developers.add(developer.userId);
      await storage.developers.add(developer.userId);
      assert.equal(await storage.developers.isDeveloper(developer.userId), true);
      assert.equal(await storage.developers.isDeveloper(user.userId), false);
    }));
  });
}
