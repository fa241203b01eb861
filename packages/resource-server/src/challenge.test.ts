import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBearerChallenge, quoteAuthParam } from './challenge.ts';

test('a challenge without error carries only the realm (RFC 6750 §3.1)', () => {
  assert.equal(formatBearerChallenge({ realm: 'http://localhost:3001' }), 'Bearer realm="http://localhost:3001"');
});

test('attributes come in RFC 6750 §3 order', () => {
  assert.equal(
    formatBearerChallenge({ realm: 'api', error: 'insufficient_scope', errorDescription: 'Needs more', scope: ['users:read', 'vendors:read'] }),
    'Bearer realm="api", error="insufficient_scope", error_description="Needs more", scope="users:read vendors:read"',
  );
});

test('error_description is dropped without an error code', () => {
  assert.equal(formatBearerChallenge({ realm: 'api', errorDescription: 'ignored' }), 'Bearer realm="api"');
});

test('quote-escapes values so they cannot break out of the quoted-string', () => {
  assert.equal(quoteAuthParam('say "hi" \\ bye'), '"say \\"hi\\" \\\\ bye"');
  assert.equal(formatBearerChallenge({ realm: 'a", error="forged' }), 'Bearer realm="a\\", error=\\"forged"');
});

test('replaces characters outside printable ASCII (header values must stay ASCII)', () => {
  assert.equal(quoteAuthParam('§2.1\r\nSet-Cookie: x'), '"?2.1??Set-Cookie: x"');
});
