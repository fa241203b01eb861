import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientSecretMatches, digestClientSecret, generateClientSecret, presentedSecretDigest, secretDigestMatches, UNMATCHABLE_SECRET_DIGEST } from './client-secret.ts';

test('a secret is stored as its SHA-256, base64url (SPEC decision 9; FIPS 180-4 test vector "abc")', () => {
  assert.equal(digestClientSecret('abc'), 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  assert.equal(presentedSecretDigest('abc').toString('base64url'), digestClientSecret('abc'));
});

test('a presented secret matches its own digest only', () => {
  const secret = generateClientSecret();
  assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
  const stored = digestClientSecret(secret);
  assert.equal(clientSecretMatches(secret, stored), true);
  assert.equal(clientSecretMatches(`${secret}x`, stored), false);
  assert.equal(clientSecretMatches(generateClientSecret(), stored), false);
  assert.equal(secretDigestMatches(presentedSecretDigest(secret), UNMATCHABLE_SECRET_DIGEST), false);
  assert.equal(secretDigestMatches(presentedSecretDigest(secret), 'short'), false, 'a stored digest of another length');
});
