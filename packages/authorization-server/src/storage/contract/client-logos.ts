/**
 * The client-logo store (storage.ts `clientLogos`): uploaded logos, one per client.
 */
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ContractBackend, NOW, digest, clientRecord } from './fixtures.ts';

export function clientLogosContract({ withStorage }: ContractBackend): void {
  describe('clientLogos', () => {
    it('clientLogos stores one logo per client byte for byte, and a new upload replaces it', withStorage(async (storage) => {
      const client = clientRecord();
      await storage.clients.create(client);
      assert.equal(await storage.clientLogos.get(client.clientId), undefined);
      const bytes = randomBytes(2048);
      await storage.clientLogos.put({ clientId: client.clientId, contentType: 'image/png', bytes, sha256: digest(), updatedAt: NOW });
      const stored = await storage.clientLogos.get(client.clientId);
      assert.equal(stored?.contentType, 'image/png');
      assert.ok(stored?.bytes.equals(bytes));
      const replacement = { clientId: client.clientId, contentType: 'image/webp', bytes: randomBytes(100), sha256: digest(), updatedAt: NOW + 5 };
      await storage.clientLogos.put(replacement);
      const replaced = await storage.clientLogos.get(client.clientId);
      assert.equal(replaced?.contentType, 'image/webp');
      assert.ok(replaced?.bytes.equals(replacement.bytes));
      assert.equal(replaced?.sha256, replacement.sha256);
      assert.equal(replaced?.updatedAt, NOW + 5);
    }));
  });
}
