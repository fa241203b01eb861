/**
 * consoleAdministrators (stores/console-administrators.ts, issue 13) on both backends: what the storage
 * contract does not see through the API — the first grant's time is the one kept, and concurrent grants
 * of one user all succeed into one row.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { storeBackends } from '../../testing/store-backends.ts';

const NOW = 1_800_000_000;

for (const backend of await storeBackends()) {
  describe(`consoleAdministrators on ${backend.name}`, { skip: backend.skip }, () => {
    it('a second grant answers true and keeps the first granted_at', backend.with(async ({ storage, rows }) => {
      const userId = randomUUID();
      await storage.users.create({ userId, email: `${userId}@example.com`, name: 'Alice', passwordHash: null });
      assert.equal(await storage.consoleAdministrators.grant(userId, NOW), true);
      assert.equal(await storage.consoleAdministrators.grant(userId, NOW + 60), true);
      const stored = await rows('SELECT granted_at FROM console_administrators WHERE user_id = ?', [userId]);
      assert.deepEqual(stored.map((row) => Number(row.granted_at)), [NOW]);
    }));

    it('concurrent grants of one user all answer true and store one row; an unknown user gains none', backend.with(async ({ storage, rows }) => {
      const userId = randomUUID();
      await storage.users.create({ userId, email: `${userId}@example.com`, name: 'Alice', passwordHash: null });
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => storage.consoleAdministrators.grant(userId, NOW + i)));
      assert.deepEqual(answers, Array(8).fill(true));
      const unknown = randomUUID();
      assert.equal(await storage.consoleAdministrators.grant(unknown, NOW), false);
      const stored = await rows('SELECT user_id FROM console_administrators');
      assert.deepEqual(stored.map((row) => row.user_id), [userId]);
    }));
  });
}
