/**
 * stores/audit.ts on two instances of one database, on every backend: concurrent writers get distinct,
 * increasing event ids, and concurrent retention runs delete each old event once, never a newer one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { storeBackends } from '../../testing/store-backends.ts';

const NOW = 1_800_000_000;

for (const backend of await storeBackends()) {
  describe(`audit log on two instances (${backend.name})`, { skip: backend.skip }, () => {
    it('events recorded at once on two instances all appear, with distinct ids and their details as recorded', backend.withTwo(async ({ a, b }) => {
      await Promise.all(Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? a : b).audit.record({ type: 'token.issued', at: NOW + i, actor: 'system', clientId: `client-${i % 2}`, details: { n: i, even: i % 2 === 0, note: null } })));
      const events = await a.audit.list({ limit: 100 });
      assert.equal(new Set(events.map((event) => event.eventId)).size, 20);
      assert.deepEqual(events.map((event) => event.details!.n).toSorted((x, y) => Number(x) - Number(y)), Array.from({ length: 20 }, (_, i) => i));
      assert.ok(events.every((event) => event.details!.even === (Number(event.details!.n) % 2 === 0) && event.details!.note === null));
      assert.equal((await b.audit.list({ clientId: 'client-1', limit: 100 })).length, 10);
      assert.deepEqual((await b.audit.listSince(0, 0, 100)).map((event) => event.eventId), events.map((event) => event.eventId).toReversed());
    }));

    it('concurrent retention runs on two instances delete every old event exactly once and keep the newer ones', backend.withTwo(async ({ a, b }) => {
      for (let i = 0; i < 30; i++) await a.audit.record({ type: `old.${i}`, at: NOW - 1000 + i, actor: 'system' });
      for (let i = 0; i < 5; i++) await a.audit.record({ type: `new.${i}`, at: NOW + i, actor: 'system' });
      const deleted = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).audit.deleteOlderThan(NOW - 500, NOW, 100)));
      assert.equal(deleted.reduce((sum, n) => sum + n, 0), 30);
      assert.deepEqual((await b.audit.list()).map((event) => event.type), ['new.4', 'new.3', 'new.2', 'new.1', 'new.0']);
    }));

    it('a later run with an earlier cutoff deletes only events older than its own cutoff', backend.withTwo(async ({ a, b }) => {
      for (const at of [NOW - 300, NOW - 200, NOW - 100]) await a.audit.record({ type: `at.${at - NOW}`, at, actor: 'system' });
      assert.equal(await a.audit.deleteOlderThan(NOW - 50, NOW, 0), 0, 'limit 0: the cutoff is recorded, nothing deleted');
      assert.equal(await b.audit.deleteOlderThan(NOW - 250, NOW, 10), 1);
      assert.deepEqual((await a.audit.list()).map((event) => event.type), ['at.-100', 'at.-200']);
      assert.equal(await b.audit.deleteOlderThan(NOW - 50, NOW, 10), 2);
    }));
  });
}
