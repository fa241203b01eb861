/**
 * The console-administrator store (storage.ts `consoleAdministrators`, issue 13): the platform-administrator role.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ContractBackend, NOW, userRecord } from './fixtures.ts';

export function consoleAdministratorsContract({ withStorage }: ContractBackend): void {
  describe('consoleAdministrators', () => {
    it('consoleAdministrators grants the platform-administrator role idempotently, only to existing users, and revokes it (issue 13)', withStorage(async (storage) => {
      const [administrator, user] = [userRecord(), userRecord()];
      for (const u of [administrator, user]) await storage.users.create(u);
      assert.equal(await storage.consoleAdministrators.grant(administrator.userId, NOW), true);
      assert.equal(await storage.consoleAdministrators.grant(administrator.userId, NOW + 1), true);
      assert.equal(await storage.consoleAdministrators.isConsoleAdministrator(administrator.userId), true);
      assert.equal(await storage.consoleAdministrators.isConsoleAdministrator(user.userId), false);
      assert.equal(await storage.consoleAdministrators.grant(randomUUID(), NOW), false, 'an unknown user');
      assert.equal(await storage.consoleAdministrators.revoke(administrator.userId), true);
      assert.equal(await storage.consoleAdministrators.revoke(administrator.userId), false);
      assert.equal(await storage.consoleAdministrators.isConsoleAdministrator(administrator.userId), false);
    }));
  });
}
