/**
 * The DPoP part of the storage contract suite (RFC 9449; storage.ts `dpopProofs`, `TokenRecord.dpopJkt`,
 * `ClientRecord.dpopBoundAccessTokens`), run by contract/index.ts on every backend. Times are passed in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TokenRecord } from '../storage.ts';
import { type ContractBackend, NOW, digest, fixture, issueGrant, tokenPair } from './fixtures.ts';

export function dpopContract({ withStorage }: ContractBackend): void {
  describe('DPoP (RFC 9449)', () => {
    it('recordOnce records a proof once and refuses it again until it expires (§11.1)', withStorage(async (storage) => {
      const proof = digest();
      assert.equal(await storage.dpopProofs.recordOnce(proof, NOW + 61, NOW), true);
      assert.equal(await storage.dpopProofs.recordOnce(proof, NOW + 70, NOW + 30), false);
      assert.equal(await storage.dpopProofs.recordOnce(proof, NOW + 70, NOW + 60), false);
      // Expired: the record is replaced (a new acceptance window), and that one is refused again.
      assert.equal(await storage.dpopProofs.recordOnce(proof, NOW + 200, NOW + 61), true);
      assert.equal(await storage.dpopProofs.recordOnce(proof, NOW + 300, NOW + 100), false);
      assert.equal(await storage.dpopProofs.recordOnce(digest(), NOW + 61, NOW), true);
    }));

    it('of concurrent recordOnce calls for one proof exactly one gets true', withStorage(async (storage) => {
      const proof = digest();
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => storage.dpopProofs.recordOnce(proof, NOW + 61, NOW)));
      assert.equal(outcomes.filter(Boolean).length, 1);
    }));

    it('deleteExpired removes expired records only, at most `limit` at a time', withStorage(async (storage) => {
      const expired = [digest(), digest(), digest()];
      for (const proof of expired) await storage.dpopProofs.recordOnce(proof, NOW, NOW - 60);
      const live = digest();
      await storage.dpopProofs.recordOnce(live, NOW + 1, NOW - 60);
      assert.equal(await storage.dpopProofs.deleteExpired(NOW, 2), 2);
      assert.equal(await storage.dpopProofs.deleteExpired(NOW, 2), 1);
      assert.equal(await storage.dpopProofs.deleteExpired(NOW, 2), 0);
      assert.equal(await storage.dpopProofs.recordOnce(live, NOW + 61, NOW), false);
    }));

    it('keeps a token\'s dpopJkt through issueForCode and rotateRefreshToken; unbound tokens have none (§6.1)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant, access, refresh } = await issueGrant(storage, f, NOW);
      assert.equal((await storage.tokens.findByDigest(access.tokenDigest))?.token.dpopJkt, undefined);
      const jkt = digest();
      const [boundAccess, boundRefresh] = tokenPair(grant, NOW + 10).map((token) => ({ ...token, dpopJkt: jkt })) as [TokenRecord, TokenRecord];
      assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, [boundAccess, boundRefresh]), 'rotated');
      assert.deepEqual((await storage.tokens.findByDigest(boundAccess.tokenDigest))?.token, boundAccess);
      assert.deepEqual((await storage.tokens.findByDigest(boundRefresh.tokenDigest))?.token, boundRefresh);
    }));

    it('stores and updates a client\'s dpop_bound_access_tokens (§5.2)', withStorage(async (storage) => {
      const { client } = await fixture(storage);
      assert.equal((await storage.clients.find(client.clientId))?.dpopBoundAccessTokens, undefined);
      assert.equal((await storage.clients.update(client.clientId, { dpopBoundAccessTokens: true }))?.dpopBoundAccessTokens, true);
      assert.equal((await storage.clients.find(client.clientId))?.dpopBoundAccessTokens, true);
      await storage.clients.update(client.clientId, { dpopBoundAccessTokens: false });
      assert.equal((await storage.clients.find(client.clientId))?.dpopBoundAccessTokens ?? false, false);
    }));
  });
}
