/**
 * The branding-review part of the storage contract suite (storage.ts `brandingReviews`, issue 13), run by
 * contract/index.ts on every backend. Times are passed in explicitly.
 */
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BrandingReviewRecord, Storage } from '../storage.ts';
import { type ContractBackend, NOW, bareClientRecord } from './fixtures.ts';

async function client(storage: Storage): Promise<string> {
  const registered = bareClientRecord({ subjectType: 'company' });
  await storage.clients.create(registered);
  return registered.clientId;
}

export function brandingReviewsContract({ withStorage }: ContractBackend): void {
  describe('brandingReviews (issue 13)', () => {
    it('keeps the first snapshot of a client (logo bytes byte for byte), ignores a later one, and removes it', withStorage(async (storage) => {
      const clientId = await client(storage);
      assert.equal(await storage.brandingReviews.find(clientId), undefined);
      const first: BrandingReviewRecord = {
        clientId, keptAt: NOW,
        reviewed: { clientName: 'Ledgerly Sync', clientUri: 'https://ledgerly.example', logoUri: 'https://as.example/logos/x?v=1', tosUri: null, policyUri: 'https://ledgerly.example/privacy' },
        logo: { contentType: 'image/png', bytes: randomBytes(300), sha256: 'abc' },
      };
      assert.equal(await storage.brandingReviews.keep(first), true);
      assert.equal(await storage.brandingReviews.keep({ ...first, keptAt: NOW + 5, reviewed: { ...first.reviewed, clientName: 'Later' }, logo: null }), false);
      assert.deepEqual(await storage.brandingReviews.find(clientId), first);
      assert.equal(await storage.brandingReviews.remove(clientId), true);
      assert.equal(await storage.brandingReviews.remove(clientId), false);
      assert.equal(await storage.brandingReviews.find(clientId), undefined);
    }));

    it('stores a snapshot without a logo as null', withStorage(async (storage) => {
      const clientId = await client(storage);
      const record: BrandingReviewRecord = { clientId, keptAt: NOW, reviewed: { clientName: 'A', clientUri: null, logoUri: null, tosUri: null, policyUri: null }, logo: null };
      assert.equal(await storage.brandingReviews.keep(record), true);
      assert.deepEqual(await storage.brandingReviews.find(clientId), record);
    }));
  });
}
