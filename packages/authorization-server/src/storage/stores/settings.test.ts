/**
 * settings (stores/settings.ts) on both backends: `list` compares its prefix as text, character by
 * character (not as a LIKE pattern, not by bytes), and `getOrCreate` does not store what it does not keep.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { storeBackends } from '../../testing/store-backends.ts';

for (const backend of await storeBackends()) {
  describe(`settings on ${backend.name}`, { skip: backend.skip }, () => {
    it('list matches `%` literally and counts a non-ASCII prefix in characters', backend.with(async ({ storage }) => {
      for (const name of ['100%.a', '100x.a', '1000.a', 'ключ.k1', 'ключ.k2', 'ключи', 'клю']) await storage.settings.getOrCreate(name, () => `v:${name}`);
      assert.deepEqual(await storage.settings.list('100%.'), [{ name: '100%.a', value: 'v:100%.a' }]);
      assert.deepEqual(await storage.settings.list('ключ.'), [{ name: 'ключ.k1', value: 'v:ключ.k1' }, { name: 'ключ.k2', value: 'v:ключ.k2' }]);
      assert.deepEqual((await storage.settings.list('')).length, 7, 'the empty prefix lists every setting');
    }));

    it('getOrCreate stores nothing when create throws, and a later call creates', backend.with(async ({ storage, rows }) => {
      await assert.rejects(storage.settings.getOrCreate('signing_key', () => {
        throw new Error('no entropy');
      }), /no entropy/);
      assert.deepEqual(await rows('SELECT name FROM settings'), []);
      assert.equal(await storage.settings.getOrCreate('signing_key', () => 'created'), 'created');
    }));
  });
}
