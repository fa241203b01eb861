import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BearerTokenError } from './bearer-token-error.ts';
import { authorizationHeaderValues, bearerTokenCandidate, extractBearerToken, rejectAccessTokenOutsideHeader } from './bearer-token.ts';

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

describe('more than one Authorization header (RFC 6750 §3.1: invalid_request)', () => {
  test('two header fields are 400 invalid_request, whichever comes first', () => {
    for (const headers of [['Bearer good', 'Bearer bad'], ['Bearer bad', 'Bearer good'], ['Basic dXNlcjpwYXNz', 'Bearer good'], ['Bearer good', '']]) {
      const error = refusal(() => extractBearerToken(headers, REALM));
      assert.equal(error.status, 400);
      assert.equal(error.bearerError, 'invalid_request');
      assert.match(error.errorDescription, /more than one Authorization header/);
    }
  });

  test('two fields joined with a comma (the Fetch Headers form) are 400 invalid_request too', () => {
    for (const header of ['Bearer good, Bearer bad', 'Bearer bad, Bearer good', 'Basic dXNlcjpwYXNz, Bearer good', 'Bearer good,Bearer bad', 'Bearer good, bad']) {
      const error = refusal(() => extractBearerToken(header, REALM));
      assert.equal(error.status, 400, header);
      assert.match(error.errorDescription, /more than one Authorization header/);
    }
  });

  test('one field, alone in a list, is read as usual; an auth-param list is not taken for two headers', () => {
    assert.equal(extractBearerToken(['Bearer good'], REALM), 'good');
    assert.equal(refusal(() => extractBearerToken([], REALM)).status, 401);
    assert.equal(refusal(() => extractBearerToken('Digest username="a", realm="b"', REALM)).bearerError, undefined);
  });

  test('authorizationHeaderValues lists every Authorization field of Node rawHeaders, in order', () => {
    assert.deepEqual(authorizationHeaderValues(['Host', 'api', 'Authorization', 'Bearer a', 'accept', '*/*', 'authorization', 'Bearer b']), ['Bearer a', 'Bearer b']);
    assert.deepEqual(authorizationHeaderValues(['Host', 'api']), []);
  });
});

describe('bearerTokenCandidate (the cache-lookup shortcut)', () => {
  test('for a well-formed Bearer header, the candidate is what extractBearerToken returns (RFC 6750 §2.1)', () => {
    for (const header of ['Bearer abc.DEF-123_~+/==', 'bearer  token', 'BEARER token', '  Bearer token  ', ['Bearer token']]) {
      assert.equal(bearerTokenCandidate(header), extractBearerToken(header, REALM));
    }
  });

  test('two values, a comma, another scheme, a tab or no token give no candidate (extractBearerToken refuses them)', () => {
    for (const header of [undefined, [], ['Bearer a', 'Bearer a'], 'Bearer a, Bearer a', 'Bearer a,', 'Basic a', 'Bearer\ta', 'Bearer', 'Bearer ', 'Bearerx a']) {
      assert.equal(bearerTokenCandidate(header), undefined, JSON.stringify(header));
    }
  });

  test('a candidate is not checked: a lookup can only hit tokens extractBearerToken returned before', () => {
    assert.equal(bearerTokenCandidate('Bearer a b'), 'a b');
    assert.throws(() => extractBearerToken('Bearer a b', REALM), BearerTokenError);
  });
});
