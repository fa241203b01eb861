/**
 * The settings store (storage.ts `settings`): values created once and shared by every instance (key rings).
 */
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ContractBackend } from './fixtures.ts';

export function settingsContract({ withStorage }: ContractBackend): void {
  describe('settings', () => {
    it('getOrCreate creates a value once and returns the same value afterwards', withStorage(async (storage) => {
      let calls = 0;
      const create = () => {
        calls += 1;
        return randomBytes(32).toString('base64url');
      };
      const first = await storage.settings.getOrCreate('token_key', create);
      const second = await storage.settings.getOrCreate('token_key', create);
      assert.equal(second, first);
      assert.equal(calls, 1);
      const other = await storage.settings.getOrCreate('other_key', () => 'other');
      assert.equal(other, 'other');
      assert.equal(await storage.settings.getOrCreate('token_key', () => 'never'), first);
    }));

    it('of concurrent getOrCreate calls for one name all see one value', withStorage(async (storage) => {
      const values = await Promise.all(Array.from({ length: 10 }, (_, i) => storage.settings.getOrCreate('token_key', () => `value-${i}`)));
      assert.equal(new Set(values).size, 1);
    }));

    it('list(prefix) returns exactly the settings whose name starts with the prefix, ordered by name (key rings)', withStorage(async (storage) => {
      await storage.settings.getOrCreate('token_hmac_key.k2', () => 'two');
      await storage.settings.getOrCreate('token_hmac_key.k1', () => 'one');
      await storage.settings.getOrCreate('token_hmac_keyX', () => 'not in the ring');
      await storage.settings.getOrCreate('token_hmac_key', () => 'shorter than the prefix');
      await storage.settings.getOrCreate('other', () => 'other');
      assert.deepEqual(await storage.settings.list('token_hmac_key.'), [
        { name: 'token_hmac_key.k1', value: 'one' }, { name: 'token_hmac_key.k2', value: 'two' },
      ]);
      assert.deepEqual(await storage.settings.list('nothing.'), []);
      // LIKE wildcards in a prefix are plain characters.
      await storage.settings.getOrCreate('a_b', () => 'underscore');
      await storage.settings.getOrCreate('axb', () => 'x');
      assert.deepEqual(await storage.settings.list('a_'), [{ name: 'a_b', value: 'underscore' }]);
    }));
  });
}
