/**
 * The API-key store (stores/api-keys.ts, issue 16) on both backends, beyond the storage contract:
 * installs racing each other (issue 12: one store for both databases, PostgreSQL locking the previous
 * key `FOR UPDATE`, the unique partial index refusing a second active key).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestPostgresStorage, postgresSkipReason } from '../../testing/postgres.ts';
import { createSqliteStorage } from '../sqlite/sqlite-storage.ts';
import type { ApiKeyRecord, Storage } from '../storage.ts';

const NOW = 1_800_000_000;
const postgresSkip = await postgresSkipReason();

const integratedKey = (clientId: string, subjectId: string, createdAt: number): ApiKeyRecord => ({
  keyId: randomUUID(), keyDigest: randomBytes(32).toString('base64url'), displayPrefix: 'gak_abcdef', keyType: 'integrated', name: 'Ledgerly Sync',
  clientId, subjectType: 'company', subjectId, scopes: ['users:read'], createdByUserId: randomUUID(),
  createdAt, expiresAt: null, lastUsedAt: null, revokedAt: null, revocationReason: null,
});

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`apiKeys on ${backend} (issue 12: one store for both databases)`, { skip: backend === 'postgres' ? postgresSkip : false }, () => {
    let storage: Storage;
    before(async () => {
      storage = backend === 'postgres' ? await createTestPostgresStorage() : createSqliteStorage(':memory:');
    });
    after(() => storage.close());

    it('of four installs at once, one key stays active, every other installed one is rotated, and a refused install stores nothing', async () => {
      const clientId = randomUUID();
      const subjectId = randomUUID();
      const original = integratedKey(clientId, subjectId, NOW);
      await storage.apiKeys.install(original);
      const racing = Array.from({ length: 4 }, () => integratedKey(clientId, subjectId, NOW + 10));
      const outcomes = await Promise.allSettled(racing.map((key) => storage.apiKeys.install(key)));
      const installed = racing.filter((_, index) => outcomes[index]!.status === 'fulfilled');
      const refused = racing.filter((_, index) => outcomes[index]!.status === 'rejected');
      assert.ok(installed.length >= 1);
      const stored = await storage.apiKeys.list({ clientId, subjectId, includeRevoked: true });
      assert.deepEqual(stored.map((key) => key.keyId).sort(), [original.keyId, ...installed.map((key) => key.keyId)].sort(), 'no refused key was stored');
      const active = stored.filter((key) => key.revokedAt === null);
      assert.equal(active.length, 1, 'never two active keys for one company and integration');
      for (const key of stored.filter((row) => row.revokedAt !== null)) assert.deepEqual([key.revokedAt, key.revocationReason], [NOW + 10, 'rotated']);
      // Each installation replaced exactly the key active before it: the replaced ids are all distinct.
      const replaced = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
      assert.ok(replaced.every((keyId) => keyId !== null), 'each replaced the key active before it');
      assert.equal(new Set(replaced).size, replaced.length, 'no key was replaced twice');
      assert.equal(refused.length + installed.length, 4);
    });
  });
}
