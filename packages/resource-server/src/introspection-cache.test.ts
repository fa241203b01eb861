import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createIntrospectionCache, hashAccessToken } from './introspection-cache.ts';

function setup(ttlSeconds = 5, maxEntries = 3) {
  const clock = { ms: 1_000_000 };
  const cache = createIntrospectionCache<string>({ ttlSeconds, maxEntries, now: () => clock.ms });
  return { clock, cache };
}

test('keys are SHA-256 digests, never the token', () => {
  const hash = hashAccessToken('secret-token');
  assert.equal(hash, 'kwu9xRtq7VwqVnj9bije56BeiktkPPwLRCfD77hsDZQ');
  assert.ok(!hash.includes('secret-token'));
  assert.notEqual(hashAccessToken('secret-tokeN'), hash);
});

test('entries live for the TTL', () => {
  const { clock, cache } = setup();
  const key = hashAccessToken('a');
  cache.set(key, 'value');
  clock.ms += 4_999;
  assert.equal(cache.get(key), 'value');
  clock.ms += 1;
  assert.equal(cache.get(key), undefined);
  assert.equal(cache.size, 0, 'expired entries are dropped on read');
});

test('entries never outlive notAfterMs (the token exp)', () => {
  const { clock, cache } = setup(60);
  const key = hashAccessToken('a');
  cache.set(key, 'value', clock.ms + 2_000);
  clock.ms += 1_999;
  assert.equal(cache.get(key), 'value');
  clock.ms += 1;
  assert.equal(cache.get(key), undefined);
});

test('an entry already past notAfterMs is not stored', () => {
  const { clock, cache } = setup();
  cache.set(hashAccessToken('a'), 'value', clock.ms);
  assert.equal(cache.size, 0);
});

test('TTL 0 disables caching', () => {
  const { cache } = setup(0);
  cache.set(hashAccessToken('a'), 'value');
  assert.equal(cache.get(hashAccessToken('a')), undefined);
});

test('evicts the least recently used entry beyond maxEntries', () => {
  const { cache } = setup(5, 3);
  const [a, b, c, d] = [hashAccessToken('a'), hashAccessToken('b'), hashAccessToken('c'), hashAccessToken('d')];
  cache.set(a, 'A');
  cache.set(b, 'B');
  cache.set(c, 'C');
  assert.equal(cache.get(a), 'A', 'touch a, so b is now least recently used');
  cache.set(d, 'D');
  assert.equal(cache.size, 3);
  assert.equal(cache.get(b), undefined);
  assert.equal(cache.get(a), 'A');
  assert.equal(cache.get(c), 'C');
  assert.equal(cache.get(d), 'D');
});

test('delete and clear', () => {
  const { cache } = setup();
  cache.set(hashAccessToken('a'), 'A');
  cache.set(hashAccessToken('b'), 'B');
  cache.delete(hashAccessToken('a'));
  assert.equal(cache.get(hashAccessToken('a')), undefined);
  cache.clear();
  assert.equal(cache.size, 0);
});

test('rejects nonsensical bounds', () => {
  assert.throws(() => createIntrospectionCache({ ttlSeconds: 5, maxEntries: 0, now: Date.now }), TypeError);
  assert.throws(() => createIntrospectionCache({ ttlSeconds: -1, maxEntries: 1, now: Date.now }), TypeError);
});
