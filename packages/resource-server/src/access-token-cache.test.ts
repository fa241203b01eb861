import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AccessTokenHash, createAccessTokenCache, hashAccessToken } from './access-token-cache.ts';

function setup(ttlSeconds = 5, maxEntries = 3) {
  const clock = { ms: 1_000_000 };
  const cache = createAccessTokenCache<string>({ ttlSeconds, maxEntries, now: () => clock.ms });
  return { clock, cache };
}

const [A, B, C, D] = ['a', 'b', 'c', 'd'].map(hashAccessToken) as [AccessTokenHash, AccessTokenHash, AccessTokenHash, AccessTokenHash];

test('keys are SHA-256 digests, base64url, never the token', () => {
  const digest = hashAccessToken('secret-token');
  assert.equal(digest, 'kwu9xRtq7VwqVnj9bije56BeiktkPPwLRCfD77hsDZQ');
  assert.ok(!digest.includes('secret-token'));
  assert.notEqual(hashAccessToken('secret-tokeN'), digest);
  // A token sliced out of a header digests as the same token.
  assert.equal(hashAccessToken('Bearer secret-token'.slice(7)), digest);
});

test('two tokens that end alike keep their own entries (the whole token is digested)', () => {
  const { cache } = setup();
  const suffix = 'S'.repeat(43);
  cache.set(hashAccessToken(`aaaa.${suffix}`), 'A');
  cache.set(hashAccessToken(`bbbb.${suffix}`), 'B');
  assert.equal(cache.get(hashAccessToken(`aaaa.${suffix}`)), 'A');
  assert.equal(cache.get(hashAccessToken(`bbbb.${suffix}`)), 'B');
  assert.equal(cache.get(hashAccessToken(suffix)), undefined, 'the ending alone');
  assert.equal(cache.get(hashAccessToken(`aaaa.${suffix}x`)), undefined, 'a longer token');
  assert.equal(cache.size, 2);
});

test('entries live for the TTL; the caller may pass the time it already read', () => {
  const { clock, cache } = setup();
  cache.set(A, 'value');
  clock.ms += 4_999;
  assert.equal(cache.get(A), 'value');
  assert.equal(cache.get(A), 'value', 'the entry last hit, again');
  assert.equal(cache.get(A, clock.ms + 1), undefined, 'expired at the time given');
  assert.equal(cache.size, 0, 'expired entries are dropped on read');
  assert.equal(cache.get(A), undefined);
});

test('entries never outlive notAfterMs (the token exp)', () => {
  const { clock, cache } = setup(60);
  cache.set(A, 'value', clock.ms + 2_000);
  clock.ms += 1_999;
  assert.equal(cache.get(A), 'value');
  clock.ms += 1;
  assert.equal(cache.get(A), undefined);
});

test('TTL 0 disables caching, and an entry already past notAfterMs is not stored', () => {
  const zero = setup(0);
  zero.cache.set(A, 'value');
  assert.equal(zero.cache.get(A), undefined);
  const { clock, cache } = setup();
  cache.set(A, 'value', clock.ms);
  assert.equal(cache.size, 0);
});

test('bounded: the least recently used entry is evicted first', () => {
  const { cache } = setup(60, 3);
  cache.set(A, 'A');
  cache.set(B, 'B');
  cache.set(C, 'C');
  assert.equal(cache.get(A), 'A'); // a is now the most recent
  assert.equal(cache.get(A), 'A'); // a hit on the most recent entry keeps the order
  cache.set(D, 'D'); // evicts b
  assert.equal(cache.size, 3);
  assert.equal(cache.get(B), undefined);
  assert.deepEqual([A, C, D].map((key) => cache.get(key)), ['A', 'C', 'D']);
});

test('delete and clear forget entries, the one last hit included', () => {
  const { cache } = setup();
  cache.set(A, 'A');
  cache.set(B, 'B');
  assert.equal(cache.get(B), 'B');
  cache.delete(B);
  assert.equal(cache.get(B), undefined);
  assert.equal(cache.get(A), 'A');
  cache.clear();
  assert.equal(cache.get(A), undefined);
  assert.equal(cache.size, 0);
});

test('rejects a non-positive maxEntries and a negative TTL', () => {
  assert.throws(() => createAccessTokenCache({ maxEntries: 0, ttlSeconds: 5, now: Date.now }), TypeError);
  assert.throws(() => createAccessTokenCache({ maxEntries: 1, ttlSeconds: -1, now: Date.now }), TypeError);
  assert.throws(() => createAccessTokenCache({ maxEntries: 1.5, ttlSeconds: 5, now: Date.now }), TypeError);
});
