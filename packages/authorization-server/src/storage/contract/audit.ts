/**
 * The audit log (storage.ts `audit`, SPEC decision 19): append-only events, newest first.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ContractBackend, NOW } from './fixtures.ts';

export function auditContract({ withStorage }: ContractBackend): void {
  describe('audit', () => {
    it('records events and lists them newest first with details intact (SPEC decision 19)', withStorage(async (storage) => {
      assert.deepEqual(await storage.audit.list(), []);
      const clientId = randomUUID();
      const grantId = randomUUID();
      await storage.audit.record({ type: 'client.registered', at: NOW, actor: 'admin:cli', clientId, details: { client_name: 'Ledgerly', status: 'active' } });
      await storage.audit.record({ type: 'token.issued', at: NOW + 1, actor: `client:${clientId}`, clientId, grantId, details: { scope: 'users:read', count: 2, first: true, previous: null } });
      await storage.audit.record({ type: 'system.started', at: NOW + 1, actor: 'system' });

      const events = await storage.audit.list();
      assert.deepEqual(events.map((event) => event.type), ['system.started', 'token.issued', 'client.registered']);
      assert.ok(events[0]!.eventId > events[1]!.eventId && events[1]!.eventId > events[2]!.eventId, 'event ids increase with time');
      const { eventId: _eventId, ...issued } = events[1]!;
      assert.deepEqual(issued, { type: 'token.issued', at: NOW + 1, actor: `client:${clientId}`, clientId, grantId, details: { scope: 'users:read', count: 2, first: true, previous: null } });
      assert.equal(events[2]!.grantId ?? null, null);
      assert.equal(events[0]!.clientId ?? null, null);
      assert.deepEqual(events[0]!.details ?? {}, {});
    }));

    it('lists at most `limit` events, the newest', withStorage(async (storage) => {
      for (let i = 0; i < 5; i++) await storage.audit.record({ type: `event.${i}`, at: NOW + i, actor: 'system' });
      assert.deepEqual((await storage.audit.list({ limit: 2 })).map((event) => event.type), ['event.4', 'event.3']);
      assert.equal((await storage.audit.list()).length, 5);
    }));

    it('listSince pages through the events at or after a time, oldest first (gatehouse audit export)', withStorage(async (storage) => {
      for (let i = 0; i < 5; i++) await storage.audit.record({ type: `event.${i}`, at: NOW + i * 10, actor: 'system', details: { n: i } });
      const firstPage = await storage.audit.listSince(NOW + 10, 0, 2);
      assert.deepEqual(firstPage.map((event) => event.type), ['event.1', 'event.2']);
      assert.deepEqual(firstPage[0]!.details, { n: 1 });
      const secondPage = await storage.audit.listSince(NOW + 10, firstPage[1]!.eventId, 10);
      assert.deepEqual(secondPage.map((event) => event.type), ['event.3', 'event.4']);
      assert.deepEqual(await storage.audit.listSince(NOW + 1000, 0, 10), []);
    }));

    it('deleteOlderThan deletes only events older than the retention cutoff, in batches (issue 14, audit retention)', withStorage(async (storage) => {
      for (const at of [NOW - 300, NOW - 200, NOW - 100, NOW]) await storage.audit.record({ type: `at.${at - NOW}`, at, actor: 'system' });
      assert.equal(await storage.audit.deleteOlderThan(NOW - 50, NOW, 2), 2);
      assert.equal(await storage.audit.deleteOlderThan(NOW - 50, NOW, 2), 1);
      assert.equal(await storage.audit.deleteOlderThan(NOW - 50, NOW, 2), 0);
      assert.deepEqual((await storage.audit.list()).map((event) => event.type), ['at.0']);
    }));

    it('filters by client and type and pages with a cursor (the portal\'s integration activity)', withStorage(async (storage) => {
      const mine = randomUUID();
      const theirs = randomUUID();
      for (let i = 0; i < 5; i++) await storage.audit.record({ type: i % 2 === 0 ? 'token.refused' : 'consent.granted', at: NOW + i, actor: 'system', clientId: mine });
      await storage.audit.record({ type: 'token.refused', at: NOW + 9, actor: 'system', clientId: theirs });
      const firstPage = await storage.audit.list({ clientId: mine, limit: 2 });
      assert.deepEqual(firstPage.map((event) => event.at), [NOW + 4, NOW + 3]);
      const secondPage = await storage.audit.list({ clientId: mine, limit: 2, beforeEventId: firstPage.at(-1)!.eventId });
      assert.deepEqual(secondPage.map((event) => event.at), [NOW + 2, NOW + 1]);
      const refused = await storage.audit.list({ clientId: mine, types: ['token.refused'] });
      assert.deepEqual(refused.map((event) => event.at), [NOW + 4, NOW + 2, NOW]);
      assert.ok(refused.every((event) => event.clientId === mine), 'another client\'s events never appear');
      assert.deepEqual(await storage.audit.list({ clientId: mine, types: [] }), [], 'an empty type list keeps nothing');
      assert.equal((await storage.audit.list({ types: ['token.refused', 'consent.granted'] })).length, 6);
    }));
  });
}
