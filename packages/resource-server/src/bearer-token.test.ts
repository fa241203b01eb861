import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BearerTokenError } from './bearer-token-error.ts';
import { extractBearerToken, rejectAccessTokenOutsideHeader } from './bearer-token.ts';

const REALM = 'http://localhost:3001';

function refusal(action: () => unknown): BearerTokenError {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof BearerTokenError);
    return error;
  }
  assert.fail('expected a BearerTokenError');
}

describe('extractBearerToken', () => {
  test('returns the b64token of a Bearer header (RFC 6750 §2.1)', () => {
    assert.equal(extractBearerToken('Bearer abc.DEF-123_~+/==', REALM), 'abc.DEF-123_~+/==');
  });

  test('the scheme is case-insensitive and several spaces are allowed', () => {
    assert.equal(extractBearerToken('bearer  token', REALM), 'token');
    assert.equal(extractBearerToken('BEARER token', REALM), 'token');
  });

  test('no header, an empty one or another scheme: 401 without an error code (§3.1)', () => {
    for (const header of [undefined, '', '   ', 'Basic dXNlcjpwYXNz', 'DPoP token']) {
      const error = refusal(() => extractBearerToken(header, REALM));
      assert.equal(error.status, 401);
      assert.equal(error.bearerError, undefined);
      assert.equal(error.headers['www-authenticate'], `Bearer realm="${REALM}"`);
      assert.equal(error.body.error, 'unauthorized');
    }
  });

  test('a malformed Bearer credential: 400 invalid_request (§3.1)', () => {
    for (const header of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer a=b', 'Bearer "quoted"', 'Bearer\ttoken']) {
      const error = refusal(() => extractBearerToken(header, REALM));
      assert.equal(error.status, 400, header);
      assert.equal(error.bearerError, 'invalid_request');
      assert.match(error.headers['www-authenticate'] ?? '', /error="invalid_request"/);
    }
  });
});

describe('rejectAccessTokenOutsideHeader', () => {
  test('refuses access_token in the query string (§2.3), also when empty', () => {
    for (const query of [{ access_token: 'x' }, { access_token: '' }, new URLSearchParams('access_token=x')]) {
      const error = refusal(() => rejectAccessTokenOutsideHeader({ realm: REALM, query }));
      assert.equal(error.status, 400);
      assert.equal(error.bearerError, 'invalid_request');
    }
  });

  test('refuses access_token in a form body (§2.2)', () => {
    const error = refusal(() =>
      rejectAccessTokenOutsideHeader({ realm: REALM, body: { access_token: 'x' }, contentType: 'application/x-www-form-urlencoded; charset=UTF-8' }),
    );
    assert.equal(error.status, 400);
    assert.match(error.errorDescription, /request body/);
  });

  test('a JSON field named access_token is data, not a bearer method', () => {
    rejectAccessTokenOutsideHeader({ realm: REALM, body: { access_token: 'x' }, contentType: 'application/json' });
  });

  test('passes requests without such parameters', () => {
    rejectAccessTokenOutsideHeader({ realm: REALM, query: { limit: '5' }, body: undefined, contentType: undefined });
    rejectAccessTokenOutsideHeader({ realm: REALM, query: Object.create(null) as object });
  });
});
