import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidCursorError, paginate } from './pagination.ts';

const keyOf = (item: string): string => item;

test('pages through items in key order', () => {
  const items = ['d', 'a', 'c', 'b', 'e'];
  const first = paginate(items, 'letters', keyOf, { limit: 2 });
  assert.deepEqual(first.data, ['a', 'b']);
  const second = paginate(items, 'letters', keyOf, { limit: 2, cursor: first.pagination.nextCursor ?? undefined });
  assert.deepEqual(second.data, ['c', 'd']);
  const third = paginate(items, 'letters', keyOf, { limit: 2, cursor: second.pagination.nextCursor ?? undefined });
  assert.deepEqual(third, { data: ['e'], pagination: { nextCursor: null } });
});

test('an exactly full last page has no next cursor', () => {
  assert.equal(paginate(['a', 'b'], 'letters', keyOf, { limit: 2 }).pagination.nextCursor, null);
  assert.deepEqual(paginate([], 'letters', keyOf, {}), { data: [], pagination: { nextCursor: null } });
});

test('rows inserted between requests neither repeat nor vanish (keyset, not offset)', () => {
  const items = ['b', 'd', 'f'];
  const first = paginate(items, 'letters', keyOf, { limit: 2 });
  assert.deepEqual(first.data, ['b', 'd']);
  items.push('a', 'e');
  const second = paginate(items, 'letters', keyOf, { limit: 2, cursor: first.pagination.nextCursor ?? undefined });
  assert.deepEqual(second.data, ['e', 'f']);
});

test('refuses cursors of other lists and garbage', () => {
  const cursor = paginate(['a', 'b'], 'letters', keyOf, { limit: 1 }).pagination.nextCursor ?? '';
  assert.throws(() => paginate(['a', 'b'], 'digits', keyOf, { cursor }), InvalidCursorError);
  assert.throws(() => paginate(['a'], 'letters', keyOf, { cursor: '%%%' }), InvalidCursorError);
  assert.throws(() => paginate(['a'], 'letters', keyOf, { cursor: Buffer.from('[1]').toString('base64url') }), InvalidCursorError);
});

test('limit must be 1..100', () => {
  assert.throws(() => paginate(['a'], 'letters', keyOf, { limit: 0 }), RangeError);
  assert.throws(() => paginate(['a'], 'letters', keyOf, { limit: 101 }), RangeError);
});
