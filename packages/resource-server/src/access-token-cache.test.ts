import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAccessTokenCache, SLOT_KEY_LENGTH } from './access-token-cache.ts';

function setup(ttlSeconds = 5, maxEntries = 3) {
  const clock = { ms: 1_000_000 };
  const cache = createAccessTokenCache<string>({ ttlSeconds, maxEntries, now: () => clock.ms });
  return { clock, cache };
}

/** Two distinct tokens with the same last SLOT_KEY_LENGTH characters, so they share a slot. */
const SHARED_SUFFIX = 'S'.repeat(SLOT_KEY_LENGTH);
const TOKEN_A = `aaaa.${SHARED_SUFFIX}`;
const TOKEN_B = `bbbb.${SHARED_SUFFIX}`;

test('a token sharing the slot of a cached token never gets its result: the whole token must match', () => {
  const { cache } = setup();
  cache.set(TOKEN_A, 'active for A');
  assert.equal(cache.get(TOKEN_B), undefined);
  assert.equal(cache.get(`${TOKEN_A}x`), undefined, 'a longer token');
  assert.equal(cache.get(TOKEN_A.slice(1)), undefined, 'a shorter token');
  assert.equal(cache.get(SHARED_SUFFIX), undefined, 'the suffix alone');
  assert.equal(cache.get(TOKEN_A), 'active for A');
});

test('two tokens sharing a slot evict each other and keep their own results', () => {
  const { cache } = setup();
  cache.set(TOKEN_A, 'A');
  cache.set(TOKEN_B, 'B');
  assert.equal(cache.get(TOKEN_A), undefined);
  assert.equal(cache.get(TOKEN_B), 'B');
  assert.equal(cache.size, 1);
});

test('entries live for the TTL; the caller may pass the time it already read', () => {
  const { clock, cache } = setup();
  cache.set('a', 'value');
  clock.ms += 4_999;
  assert.equal(cache.get('a'), 'value');
  assert.equal(cache.get('a', clock.ms + 1), undefined, 'expired at the time given');
  assert.equal(cache.size, 0, 'expired entries are dropped on read');
});

test('entries never outlive notAfterMs (the token exp)', () => {
  const { clock, cache } = setup(60);
  cache.set('a', 'value', clock.ms + 2_000);
  clock.ms += 1_999;
  assert.equal(cache.get('a'), 'value');
  clock.ms += 1;
  assert.equal(cache.get('a'), undefined);
});

test('TTL 0 disables caching, and an entry already past notAfterMs is not stored', () => {
  const zero = setup(0);
  zero.cache.set('a', 'value');
  assert.equal(zero.cache.get('a'), undefined);
  const { clock, cache } = setup();
  cache.set('a', 'value', clock.ms);
  assert.equal(cache.size, 0);
});

test('bounded: the least recently used entry is evicted first', () => {
  const { cache } = setup(60, 3);
  cache.set('a', 'A');
  cache.set('b', 'B');
  cache.set('c', 'C');
  assert.equal(cache.get('a'), 'A'); // a is now the most recent
  assert.equal(cache.get('a'), 'A'); // a hit on the most recent entry keeps the order
  cache.set('d', 'D'); // evicts b
  assert.equal(cache.size, 3);
  assert.equal(cache.get('b'), undefined);
  assert.deepEqual(['a', 'c', 'd'].map((token) => cache.get(token)), ['A', 'C', 'D']);
});

test('clear forgets every entry', () => {
  const { cache } = setup();
  cache.set('a', 'A');
  cache.clear();
  assert.equal(cache.get('a'), undefined);
  assert.equal(cache.size, 0);
});

test('rejects a non-positive maxEntries and a negative TTL', () => {
  assert.throws(() => createAccessTokenCache({ maxEntries: 0, ttlSeconds: 5, now: Date.now }), TypeError);
  assert.throws(() => createAccessTokenCache({ maxEntries: 1, ttlSeconds: -1, now: Date.now }), TypeError);
});

test('a hit with an equal token sliced from a header keeps the entry answering for that token only', () => {
  const { cache } = setup();
  cache.set(TOKEN_A, 'A');
  // Each request's header is a new string; the token is a slice of it (the entry adopts the string presented).
  const sliced = (token: string) => `Bearer ${token}`.slice(7);
  const presented = sliced(TOKEN_A);
  assert.equal(cache.get(presented), 'A');
  assert.equal(cache.get(presented), 'A');
  assert.equal(cache.get(sliced(TOKEN_A)), 'A');
  assert.equal(cache.get(TOKEN_B), undefined, 'another token of the same slot');
  assert.equal(cache.get(sliced(TOKEN_B)), undefined);
  cache.set(TOKEN_B, 'B');
  assert.equal(cache.get(presented), undefined, 'evicted by the token sharing its slot');
  assert.equal(cache.get(sliced(TOKEN_B)), 'B');
});
