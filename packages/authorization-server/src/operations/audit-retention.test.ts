/** Audit retention (issue 14): default keep forever; GATEHOUSE_AUDIT_RETENTION_DAYS honoured by the cleanup, on both backends. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfiguration } from '../configuration.ts';
import { runCleanup } from '../storage/cleanup-job.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';

const postgresSkip = await postgresSkipReason();
const NOW = 1_800_000_000;
const DAY = 86_400;

for (const backend of [
  { name: 'SQLite', skip: false as string | false, open: async (): Promise<Storage> => createSqliteStorage(':memory:') },
  { name: 'PostgreSQL', skip: postgresSkip, open: (): Promise<Storage> => createTestPostgresStorage() },
]) {
  describe(`audit retention (issue 14) on ${backend.name}`, { skip: backend.skip }, () => {
    it('keeps every audit event by default, and deletes only those older than the retention when one is set', async () => {
      const storage = await backend.open();
      try {
        for (const ageDays of [400, 91, 89, 1]) await storage.audit.record({ type: `age.${ageDays}`, at: NOW - ageDays * DAY, actor: 'system' });
        const kept = await runCleanup(storage, NOW, 2);
        assert.equal(kept.auditEvents, undefined);
        assert.equal((await storage.audit.list()).length, 4, 'default: kept forever');
        const { cleanup } = loadConfiguration({ GATEHOUSE_AUDIT_RETENTION_DAYS: '90' });
        const pruned = await runCleanup(storage, NOW, 1, cleanup.auditRetentionSeconds);
        assert.equal(pruned.auditEvents, 2, 'in batches of 1 until none is left');
        assert.deepEqual((await storage.audit.list()).map((event) => event.type), ['age.1', 'age.89']);
      } finally {
        await storage.close();
      }
    });
  });
}

describe('GATEHOUSE_AUDIT_RETENTION_DAYS', () => {
  it('is unset by default (keep forever) and refuses 0 or nonsense', () => {
    assert.equal(loadConfiguration({}).cleanup.auditRetentionSeconds, undefined);
    assert.equal(loadConfiguration({ GATEHOUSE_AUDIT_RETENTION_DAYS: '365' }).cleanup.auditRetentionSeconds, 365 * DAY);
    assert.throws(() => loadConfiguration({ GATEHOUSE_AUDIT_RETENTION_DAYS: '0' }), /GATEHOUSE_AUDIT_RETENTION_DAYS must be a whole number of days from 1 to 36500/);
    assert.throws(() => loadConfiguration({ GATEHOUSE_AUDIT_RETENTION_DAYS: 'forever' }), /GATEHOUSE_AUDIT_RETENTION_DAYS/);
  });
});
