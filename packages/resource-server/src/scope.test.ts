import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertScopeNames, findMissingScopes, formatScope, isScopeName, parseScope } from './scope.ts';

test('scope names are resource:permission', () => {
  for (const name of ['users:read', 'export-jobs:write', 'test:test']) {
    assert.ok(isScopeName(name), name);
  }
  for (const name of ['users', 'users:', ':read', 'Users:Read', 'users:read:all', 'users read']) {
    assert.ok(!isScopeName(name), name);
  }
  assert.throws(() => assertScopeNames(['users:read', 'bogus']), TypeError);
});

test('parseScope splits on spaces without duplicates (RFC 6749 §3.3)', () => {
  assert.deepEqual(parseScope('users:read  vendors:read users:read'), ['users:read', 'vendors:read']);
  assert.deepEqual(parseScope(undefined), []);
  assert.deepEqual(parseScope(''), []);
  assert.equal(formatScope(['a:b', 'c:d']), 'a:b c:d');
});

test('every required scope must be granted; none implies another', () => {
  assert.deepEqual(findMissingScopes(['users:read', 'vendors:read'], ['users:read']), []);
  assert.deepEqual(findMissingScopes(['users:write'], ['users:read', 'vendors:read']), ['users:read', 'vendors:read']);
  assert.deepEqual(findMissingScopes([], []), []);
});

test('remembering valid required scope names never lets a malformed one through', () => {
  assertScopeNames(['users:read', 'vendors:read']);
  assertScopeNames(['users:read', 'vendors:read']);
  assert.throws(() => assertScopeNames(['users:read', 'users']), TypeError);
  assert.throws(() => assertScopeNames(['Users:read']), TypeError);
});

test('findMissingScopes lists every missing required scope in order, and [] when none is', () => {
  assert.deepEqual(findMissingScopes(['users:read'], ['accounts:read', 'users:read', 'vendors:read']), ['accounts:read', 'vendors:read']);
  assert.deepEqual(findMissingScopes(['users:read'], ['users:read']), []);
  assert.deepEqual(findMissingScopes([], []), []);
});
