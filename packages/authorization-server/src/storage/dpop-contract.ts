/**
 * The DPoP part of the storage contract suite (RFC 9449; storage.ts `dpopProofs`, `TokenRecord.dpopJkt`,
 * `ClientRecord.dpopBoundAccessTokens`), run by storage-contract.ts on every backend. Times are passed in.
 */
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClientRecord, GrantRecord, Storage, TokenRecord } from './storage.ts';

const NOW = 1_800_000_000;
const digest = () => randomBytes(32).toString('base64url');

/** What the main suite lends: a fresh client/user/company, and a grant with its first pair issued for a code. */
export interface DpopContractHelpers {
  fixture(storage: Storage): Promise<{ client: ClientRecord }>;
  issueGrant(storage: Storage, f: { client: ClientRecord }, now: number): Promise<{ grant: GrantRecord; access: TokenRecord; refresh: TokenRecord }>;
  tokenPair(grant: GrantRecord, now: number): [TokenRecord, TokenRecord];
}

export function dpopContract(withStorage: (body: (storage: Storage) => Promise<void>) => () => Promise<void>, helpers: DpopContractHelpers): void {
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
      const f = await helpers.fixture(storage);
      const { grant, access, refresh } = await helpers.issueGrant(storage, f, NOW);
      assert.equal((await storage.tokens.findByDigest(access.tokenDigest))?.token.dpopJkt, undefined);
      const jkt = digest();
      const [boundAccess, boundRefresh] = helpers.tokenPair(grant, NOW + 10).map((token) => ({ ...token, dpopJkt: jkt })) as [TokenRecord, TokenRecord];
      assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, [boundAccess, boundRefresh]), 'rotated');
      assert.deepEqual((await storage.tokens.findByDigest(boundAccess.tokenDigest))?.token, boundAccess);
      assert.deepEqual((await storage.tokens.findByTokenId(boundRefresh.tokenId))?.token, boundRefresh);
    }));

    it('stores and updates a client\'s dpop_bound_access_tokens (§5.2)', withStorage(async (storage) => {
      const { client } = await helpers.fixture(storage);
      assert.equal((await storage.clients.find(client.clientId))?.dpopBoundAccessTokens, undefined);
      assert.equal((await storage.clients.update(client.clientId, { dpopBoundAccessTokens: true }))?.dpopBoundAccessTokens, true);
      assert.equal((await storage.clients.find(client.clientId))?.dpopBoundAccessTokens, true);
      await storage.clients.update(client.clientId, { dpopBoundAccessTokens: false });
      assert.equal((await storage.clients.find(client.clientId))?.dpopBoundAccessTokens ?? false, false);
    }));
  });
}
