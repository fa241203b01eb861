/**
 * The interaction store (storage.ts `interactions`, SPEC decision 11).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InteractionRecord } from '../storage.ts';
import { type ContractBackend, type Fixture, NOW, digest, fixture } from './fixtures.ts';

export function interactionsContract({ withStorage }: ContractBackend): void {
  describe('interactions (SPEC decision 11: the consent request kept server-side, bound to a session, single use)', () => {
    const interactionRecord = (f: Fixture, overrides: Partial<InteractionRecord> = {}): InteractionRecord => ({
      interactionDigest: digest(), sessionDigest: digest(), clientId: f.client.clientId,
      requestParameters: { response_type: 'code', client_id: f.client.clientId, redirect_uri: f.client.redirectUris[0]!, scope: 'users:read', state: 'a b&c=d"é' },
      createdAt: NOW, expiresAt: NOW + 600, ...overrides,
    });

    it('consume returns the stored request once, for its own session, then nothing', withStorage(async (storage) => {
      const f = await fixture(storage);
      const interaction = interactionRecord(f);
      await storage.interactions.create(interaction);
      assert.deepEqual(await storage.interactions.consume(interaction.interactionDigest, interaction.sessionDigest, NOW + 1), interaction);
      assert.equal(await storage.interactions.consume(interaction.interactionDigest, interaction.sessionDigest, NOW + 2), undefined);
    }));

    it("consume by another session gets nothing and leaves it for its own session", withStorage(async (storage) => {
      const f = await fixture(storage);
      const interaction = interactionRecord(f);
      await storage.interactions.create(interaction);
      assert.equal(await storage.interactions.consume(interaction.interactionDigest, digest(), NOW + 1), undefined);
      assert.deepEqual(await storage.interactions.consume(interaction.interactionDigest, interaction.sessionDigest, NOW + 1), interaction);
    }));

    it('consume at or after expiresAt gets nothing; an unknown digest gets nothing', withStorage(async (storage) => {
      const f = await fixture(storage);
      const interaction = interactionRecord(f);
      await storage.interactions.create(interaction);
      assert.equal(await storage.interactions.consume(interaction.interactionDigest, interaction.sessionDigest, NOW + 600), undefined);
      assert.equal(await storage.interactions.consume(digest(), interaction.sessionDigest, NOW), undefined);
    }));

    it('of 20 concurrent consumes of one interaction exactly one wins (atomic)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const interaction = interactionRecord(f);
      await storage.interactions.create(interaction);
      const results = await Promise.all(Array.from({ length: 20 }, () => storage.interactions.consume(interaction.interactionDigest, interaction.sessionDigest, NOW + 1)));
      assert.equal(results.filter((result) => result !== undefined).length, 1);
    }));

    it('cleanup deletes expired interactions, used or not, and keeps live ones', withStorage(async (storage) => {
      const f = await fixture(storage);
      const expired = interactionRecord(f, { expiresAt: NOW - 1 });
      const atBoundary = interactionRecord(f, { expiresAt: NOW });
      const usedExpired = interactionRecord(f, { createdAt: NOW - 700, expiresAt: NOW - 100 });
      const live = interactionRecord(f, { expiresAt: NOW + 1 });
      for (const interaction of [expired, atBoundary, usedExpired, live]) await storage.interactions.create(interaction);
      assert.ok(await storage.interactions.consume(usedExpired.interactionDigest, usedExpired.sessionDigest, NOW - 200));
      const result = await storage.cleanup.deleteExpired(NOW, 2);
      assert.equal(result.interactions, 3);
      assert.deepEqual(await storage.interactions.consume(live.interactionDigest, live.sessionDigest, NOW), live);
    }));
  });
}
