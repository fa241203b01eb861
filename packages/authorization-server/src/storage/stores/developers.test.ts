/**
 * developers and subject administrators (stores/developers.ts, stores/subjects.ts) on both backends:
 * the idempotent adds ignore only a repeat, never a reference to a user or subject that does not exist.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { storeBackends } from '../../testing/store-backends.ts';

for (const backend of await storeBackends()) {
  describe(`developers and subject administrators on ${backend.name}`, { skip: backend.skip }, () => {
    it('developers.add refuses an unknown user and stores nothing', backend.with(async ({ storage, rows }) => {
      const unknown = randomUUID();
      await assert.rejects(storage.developers.add(unknown));
      assert.equal(await storage.developers.isDeveloper(unknown), false);
      assert.deepEqual(await rows('SELECT user_id FROM partner_developers'), []);
    }));

    it('subjects.addAdministrator refuses an unknown subject or user and stores nothing', backend.with(async ({ storage, rows }) => {
      const userId = randomUUID();
      const companyId = randomUUID();
      await storage.users.create({ userId, email: `${userId}@example.com`, name: 'Alice', passwordHash: null });
      await storage.subjects.create({ subjectType: 'company', subjectId: companyId, name: 'Nordlys ApS', organizationId: null });
      await assert.rejects(storage.subjects.addAdministrator(userId, 'company', randomUUID()));
      await assert.rejects(storage.subjects.addAdministrator(randomUUID(), 'company', companyId));
      assert.deepEqual(await rows('SELECT user_id FROM subject_administrators'), []);
    }));
  });
}
