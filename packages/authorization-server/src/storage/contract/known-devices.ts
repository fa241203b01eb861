/**
 * The known-device store (storage.ts `knownDevices`, issue 10 §3).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ContractBackend, NOW, digest, userRecord } from './fixtures.ts';

export function knownDevicesContract({ withStorage }: ContractBackend): void {
  describe('knownDevices (issue 10 §3: a known device is never blocked by another person\'s failures)', () => {
    it('knows a device for the user it signed in, until it expires; remember extends, never shortens', withStorage(async (storage) => {
      const [alice, bob] = [userRecord(), userRecord()];
      await storage.users.create(alice);
      await storage.users.create(bob);
      const device = digest();
      assert.equal(await storage.knownDevices.isKnown(device, alice.userId, NOW), false);
      await storage.knownDevices.remember(device, alice.userId, NOW, NOW + 1000);
      assert.equal(await storage.knownDevices.isKnown(device, alice.userId, NOW + 999), true);
      assert.equal(await storage.knownDevices.isKnown(device, alice.userId, NOW + 1000), false, 'expired');
      assert.equal(await storage.knownDevices.isKnown(device, bob.userId, NOW), false, 'known for alice only');
      assert.equal(await storage.knownDevices.isKnown(digest(), alice.userId, NOW), false);
      await storage.knownDevices.remember(device, alice.userId, NOW + 500, NOW + 2000);
      await storage.knownDevices.remember(device, alice.userId, NOW + 600, NOW + 1500);
      assert.equal(await storage.knownDevices.isKnown(device, alice.userId, NOW + 1999), true);
      // One browser may be known for several users (a shared office computer).
      await storage.knownDevices.remember(device, bob.userId, NOW, NOW + 1000);
      assert.equal(await storage.knownDevices.isKnown(device, bob.userId, NOW), true);
      assert.equal(await storage.knownDevices.isKnown(device, alice.userId, NOW), true);
    }));
  });
}
