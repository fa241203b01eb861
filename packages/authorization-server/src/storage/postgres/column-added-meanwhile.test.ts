/**
 * A rolling deploy: the next release's migration adds a column while this release's instances run. Their named
 * statements reading the table with `SELECT *` or `RETURNING *` were prepared on each pooled connection against
 * the old columns, and PostgreSQL refuses to run such a plan once the result would change ("cached plan must not
 * change result type", 0A000), once per connection and statement, before running anything: found by a review of
 * migration 48, where requests of the previous release's instances failed with it. The storage closes a connection
 * that refused so and runs the statement (or the transaction) again, on another one, as often as the pool may hold
 * stale connections.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createTestPostgresStorage, postgresSkipReason, queryTestSchema } from '../../testing/postgres.ts';
import { codeRecord, fixture, NOW } from '../contract/fixtures.ts';

const skip = await postgresSkipReason();

describe('PostgreSQL: a column added to a table while named statements read it whole (a rolling deploy\'s migration)', { skip }, () => {
  for (const poolSize of [1, 3]) {
    it(`a named SELECT * reading the table still answers, on a pool of ${poolSize} whose every connection prepared it`, async () => {
      const storage = await createTestPostgresStorage({ poolSize });
      try {
        const f = await fixture(storage);
        const code = codeRecord(f, { issuedAt: NOW, expiresAt: NOW + 60 });
        await storage.authorizationCodes.create(code);
        // Prepared on every connection of the pool (gatehouse_find_code_for_client: SELECT * FROM authorization_codes …).
        for (let round = 0; round < 5; round++) {
          await Promise.all(Array.from({ length: poolSize }, () => storage.authorizationCodes.find(code.codeDigest, f.client.clientId)));
        }
        const column = `added_${randomBytes(4).toString('hex')}`;
        await queryTestSchema(storage.schema, `ALTER TABLE authorization_codes ADD COLUMN ${column} text`);
        assert.equal((await storage.authorizationCodes.find(code.codeDigest, f.client.clientId))?.used, false);
        // And on every later call, concurrent ones included.
        const later = await Promise.all(Array.from({ length: poolSize * 2 }, () => storage.authorizationCodes.find(code.codeDigest, f.client.clientId)));
        assert.ok(later.every((found) => found?.code.codeDigest === code.codeDigest));
      } finally {
        await storage.close();
      }
    });
  }
});
