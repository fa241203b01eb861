/**
 * stores/branding-reviews.ts on two instances of one database, on every backend: the first snapshot
 * wins, also when partners' changes arrive at once on different instances.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { BrandingReviewRecord, ClientRecord } from '../storage.ts';
import { storeBackends } from '../../testing/store-backends.ts';

const NOW = 1_800_000_000;

const client = (): ClientRecord => ({
  clientId: randomUUID(), kind: 'client', clientName: 'Ledgerly', clientType: 'confidential', secretDigest: null,
  redirectUris: ['https://ledgerly.example/cb'], scopes: ['users:read'], subjectType: null, pkceRequired: true, status: 'active',
  clientUri: null, logoUri: null, tosUri: null, policyUri: null, audience: null, createdAt: NOW,
  initiationUri: null, settingsUri: null, contacts: [], ownerUserId: null, previousSecretDigest: null, previousSecretExpiresAt: null,
  brandingVerified: true,
});

const snapshot = (clientId: string, n: number): BrandingReviewRecord => ({
  clientId, keptAt: NOW + n,
  reviewed: { clientName: `Ledgerly ${n}`, clientUri: 'https://ledgerly.example', logoUri: null, tosUri: null, policyUri: null, description: null },
  logo: n % 2 === 0 ? null : { contentType: 'image/png', bytes: randomBytes(64), sha256: `sha-${n}` },
});

for (const backend of await storeBackends()) {
  describe(`branding reviews on two instances (${backend.name})`, { skip: backend.skip }, () => {
    it('of concurrent keeps on two instances exactly one is kept, and find returns that snapshot byte for byte', backend.withTwo(async ({ a, b }) => {
      const { clientId } = client();
      await a.clients.create({ ...client(), clientId });
      const snapshots = Array.from({ length: 6 }, (_, n) => snapshot(clientId, n));
      const kept = await Promise.all(snapshots.map((record, n) => (n % 2 === 0 ? a : b).brandingReviews.keep(record)));
      assert.equal(kept.filter(Boolean).length, 1);
      assert.deepEqual(await b.brandingReviews.find(clientId), snapshots[kept.indexOf(true)]);
      assert.equal(await a.brandingReviews.remove(clientId), true);
      assert.equal(await b.brandingReviews.remove(clientId), false);
      assert.equal(await b.brandingReviews.find(clientId), undefined);
    }));
  });
}
