/**
 * The marketplace part of the storage contract suite (issue 13, End users: `ClientRecord.description`
 * and `ClientRecord.category`, migration 24), run by contract/index.ts on every backend.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClientRecord } from '../storage.ts';
import { type ContractBackend, fixture } from './fixtures.ts';

export function marketplaceContract({ withStorage }: ContractBackend): void {
  describe('marketplace listing (issue 13)', () => {
    it('a client without a description or category has neither member', withStorage(async (storage) => {
      const { client } = await fixture(storage);
      const found = await storage.clients.find(client.clientId);
      assert.equal(found?.description, undefined);
      assert.equal(found?.category, undefined);
      assert.deepEqual(found, client);
    }));

    it('creates with a description and category, keeps them exactly, and returns them from find, list and listByOwner', withStorage(async (storage) => {
      const { client } = await fixture(storage);
      // 500 characters, astral-plane and quotes included: stored and returned verbatim.
      const description = `Bokføring "på" nettet 📒 — ${'x'.repeat(500 - 26)}`;
      assert.equal([...description].length, 500);
      const listed: ClientRecord = { ...client, clientId: randomUUID(), clientName: 'Listed', description, category: 'e-commerce' };
      await storage.clients.create(listed);
      assert.deepEqual(await storage.clients.find(listed.clientId), listed);
      assert.deepEqual((await storage.clients.list()).find((candidate) => candidate.clientId === listed.clientId), listed);
      if (listed.ownerUserId) assert.ok((await storage.clients.listByOwner(listed.ownerUserId)).some((candidate) => candidate.clientId === listed.clientId));
    }));

    it('update sets, changes and (with null) clears the description and category; other fields stay', withStorage(async (storage) => {
      const { client } = await fixture(storage);
      const set = await storage.clients.update(client.clientId, { description: 'Payroll for small teams', category: 'payroll' });
      assert.deepEqual(set, { ...client, description: 'Payroll for small teams', category: 'payroll' });
      assert.deepEqual(await storage.clients.update(client.clientId, { category: 'crm' }), { ...client, description: 'Payroll for small teams', category: 'crm' });
      assert.deepEqual(await storage.clients.update(client.clientId, { description: null, category: null }), client);
      assert.deepEqual(await storage.clients.find(client.clientId), client);
    }));

    it('the schema refuses a category outside the fixed list and a description over 500 characters', withStorage(async (storage) => {
      const { client } = await fixture(storage);
      await assert.rejects(storage.clients.update(client.clientId, { category: 'games' as never }));
      await assert.rejects(storage.clients.update(client.clientId, { description: 'y'.repeat(501) }));
      assert.deepEqual(await storage.clients.find(client.clientId), client, 'a refused update changes nothing');
    }));
  });
}
