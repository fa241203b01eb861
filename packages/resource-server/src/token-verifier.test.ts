import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { BearerTokenError } from './bearer-token-error.ts';
import { createFakeIntrospectionEndpoint } from './fake-introspection-endpoint.ts';
import { IntrospectionUnavailableError } from './introspection-unavailable-error.ts';
import type { IntrospectionFailureReason } from './introspection-unavailable-error.ts';
import { cachedBearerVerification, createTokenVerifier } from './token-verifier.ts';
import type { TokenVerifierOptions } from './token-verifier.ts';
import { createVerifierFixture, VALIDATION_MODES } from './verifier-fixture.ts';
import type { VerifierFixture } from './verifier-fixture.ts';

const ISSUER = 'http://localhost:3000';
const AUDIENCE = 'http://localhost:3001';
const CLIENT_ID = 'dbb72d5e-29fb-4cf3-80cc-78a687063942';
const CLIENT_SECRET = '6Q9O2m3XGCT49_h_NYPNlkxF-p9fnXsbem650ws-1sw';
const COMPANY_URN = 'urn:gatehouse:company:d4290d20-6495-471e-bcac-5d9e0a4d844e';

function setup(overrides: Partial<TokenVerifierOptions> = {}) {
  const clock = { ms: Date.UTC(2026, 5, 1) };
  const endpoint = createFakeIntrospectionEndpoint();
  const verifier = createTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    introspectionClientId: CLIENT_ID,
    introspectionClientSecret: CLIENT_SECRET,
    now: () => clock.ms,
    fetch: endpoint.fetch,
    ...overrides,
  });
  function grant(token: string, members: Record<string, unknown> = {}): void {
    const nowSeconds = Math.floor(clock.ms / 1000);
    endpoint.answers.set(token, {
      active: true,
      scope: 'users:read vendors:read',
      client_id: '7af385a0-284d-48c5-b225-362862085551',
      client_name: 'Ledgerly Sync',
      token_type: 'Bearer',
      exp: nowSeconds + 900,
      iat: nowSeconds,
      sub: 'a3e3fc33-5e1b-4cac-81ad-b7accdcd5313',
      aud: AUDIENCE,
      iss: ISSUER,
      jti: '0e9c2b3a-5a43-4c55-8f0e-6f4a8d1b2c3d',
      'urn:gatehouse:params:oauth:subject_urn': COMPANY_URN,
      ...members,
    });
  }
  return { clock, endpoint, verifier, grant };
}

async function rejection<T extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => T): Promise<T> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${type.name}`);
}

describe('introspection request (RFC 7662 §2.1)', () => {
  test('posts the token with token_type_hint and client_secret_basic credentials', async () => {
    const { endpoint, verifier, grant } = setup();
    grant('tok');
    await verifier.verifyAccessToken('Bearer tok', []);
    assert.equal(endpoint.requests.length, 1);
    const [request] = endpoint.requests;
    assert.equal(request?.url, 'http://localhost:3000/oauth/token/introspect');
    assert.equal(request?.method, 'POST');
    assert.match(request?.headers.get('content-type') ?? '', /^application\/x-www-form-urlencoded/);
    assert.equal(request?.body.get('token'), 'tok');
    assert.equal(request?.body.get('token_type_hint'), 'access_token');
    // RFC 6749 §2.3.1: ID and secret are form-urlencoded before base64 ('_' and '-' escaped).
    const basic = /^Basic (.+)$/.exec(request?.headers.get('authorization') ?? '')?.[1] ?? '';
    const [id, secret] = atob(basic).split(':');
    assert.match(secret ?? '', /%5F/);
    assert.equal(decodeURIComponent(id ?? ''), CLIENT_ID);
    assert.equal(decodeURIComponent(secret ?? ''), CLIENT_SECRET);
  });

  test('uses a configured introspection endpoint and keeps an issuer path', async () => {
    const custom = setup({ introspectionEndpoint: 'https://as.example/introspect' });
    custom.grant('tok');
    await custom.verifier.verifyAccessToken('Bearer tok', []).catch(() => undefined);
    assert.equal(custom.endpoint.requests[0]?.url, 'https://as.example/introspect');

    const withPath = setup({ issuer: 'https://as.example/tenant-a' });
    await withPath.verifier.verifyAccessToken('Bearer tok', []).catch(() => undefined);
    assert.equal(withPath.endpoint.requests[0]?.url, 'https://as.example/tenant-a/oauth/token/introspect');
  });
});

describe('verifyAccessToken', () => {
  test('returns the claims of an active token', async () => {
    const { verifier, grant, clock } = setup();
    grant('tok');
    const token = await verifier.verifyAccessToken('Bearer tok', ['users:read']);
    assert.deepEqual(token, {
      clientId: '7af385a0-284d-48c5-b225-362862085551',
      clientName: 'Ledgerly Sync',
      scope: ['users:read', 'vendors:read'],
      subjectType: 'company',
      subjectId: 'd4290d20-6495-471e-bcac-5d9e0a4d844e',
      subjectUrn: COMPANY_URN,
      userId: 'a3e3fc33-5e1b-4cac-81ad-b7accdcd5313',
      expiresAt: Math.floor(clock.ms / 1000) + 900,
      issuedAt: Math.floor(clock.ms / 1000),
      tokenId: '0e9c2b3a-5a43-4c55-8f0e-6f4a8d1b2c3d',
    });
  });

  test('no credentials: 401 without error code, and no introspection', async () => {
    const { verifier, endpoint } = setup();
    const error = await rejection(verifier.verifyAccessToken(undefined, ['users:read']), BearerTokenError);
    assert.equal(error.status, 401);
    assert.equal(error.bearerError, undefined);
    assert.equal(error.headers['www-authenticate'], 'Bearer realm="http://localhost:3001"');
    assert.equal(endpoint.requests.length, 0);
  });

  test('an inactive token is 401 invalid_token', async () => {
    const { verifier } = setup();
    const error = await rejection(verifier.verifyAccessToken('Bearer unknown', []), BearerTokenError);
    assert.equal(error.status, 401);
    assert.equal(error.bearerError, 'invalid_token');
    assert.equal(
      error.headers['www-authenticate'],
      'Bearer realm="http://localhost:3001", error="invalid_token", error_description="The access token is invalid"',
    );
    assert.deepEqual(error.body, { error: 'invalid_token', error_description: 'The access token is invalid' });
    assert.equal(error.reason, 'The access token is not active');
  });

  test('exp is compared with the clock within the configured skew (RFC 7662 §2.2)', async () => {
    const { verifier, grant, clock } = setup({ introspectionCacheTtlSeconds: 0 });
    const nowSeconds = Math.floor(clock.ms / 1000);
    grant('barely', { exp: nowSeconds - 4 });
    grant('expired', { exp: nowSeconds - 5 });
    await verifier.verifyAccessToken('Bearer barely', []);
    const error = await rejection(verifier.verifyAccessToken('Bearer expired', []), BearerTokenError);
    assert.equal(error.bearerError, 'invalid_token');
    assert.match(error.reason ?? '', /expired/);

    const strict = setup({ clockSkewSeconds: 0 });
    strict.grant('at-exp', { exp: Math.floor(strict.clock.ms / 1000) });
    await rejection(strict.verifier.verifyAccessToken('Bearer at-exp', []), BearerTokenError);
  });

  test('a token expiring while cached is refused on the clock, without asking again', async () => {
    const { verifier, grant, clock, endpoint } = setup({ introspectionCacheTtlSeconds: 60, clockSkewSeconds: 0 });
    grant('short', { exp: Math.floor(clock.ms / 1000) + 2 });
    await verifier.verifyAccessToken('Bearer short', []);
    clock.ms += 2_000;
    const error = await rejection(verifier.verifyAccessToken('Bearer short', []), BearerTokenError);
    assert.equal(error.bearerError, 'invalid_token');
    // The cache entry ended at exp, so this was a fresh (inactive) introspection.
    assert.equal(endpoint.requests.length, 2);
  });

  test('missing scopes are 403 insufficient_scope listing every required scope (RFC 6750 §3)', async () => {
    const { verifier, grant } = setup();
    grant('tok');
    const error = await rejection(verifier.verifyAccessToken('Bearer tok', ['users:read', 'accounts:read']), BearerTokenError);
    assert.equal(error.status, 403);
    assert.equal(error.bearerError, 'insufficient_scope');
    assert.deepEqual(error.requiredScopes, ['users:read', 'accounts:read']);
    assert.match(error.errorDescription, /accounts:read/);
    assert.match(error.headers['www-authenticate'] ?? '', /, scope="users:read accounts:read"$/);
    assert.equal(error.body.scope, 'users:read accounts:read');
  });

  test('a malformed required scope is a programming error', async () => {
    const { verifier } = setup();
    await rejection(verifier.verifyAccessToken('Bearer tok', ['users']), TypeError);
  });

  test('uses a configured realm', async () => {
    const { verifier } = setup({ realm: 'Platform "API"' });
    const error = await rejection(verifier.verifyAccessToken(undefined, []), BearerTokenError);
    assert.equal(error.headers['www-authenticate'], 'Bearer realm="Platform \\"API\\""');
  });

  test('refuses tokens outside the header with its realm', () => {
    const { verifier } = setup();
    assert.throws(
      () => verifier.rejectAccessTokenOutsideHeader({ query: { access_token: 'x' } }),
      (error) => error instanceof BearerTokenError && error.status === 400 && error.realm === AUDIENCE,
    );
  });
});

describe('introspection cache', () => {
  test('reuses a result for the TTL, then asks again', async () => {
    const { verifier, grant, endpoint, clock } = setup({ introspectionCacheTtlSeconds: 5 });
    grant('tok');
    await verifier.verifyAccessToken('Bearer tok', []);
    endpoint.answers.delete('tok');
    clock.ms += 4_999;
    await verifier.verifyAccessToken('Bearer tok', ['users:read']);
    assert.equal(endpoint.requests.length, 1);
    clock.ms += 1;
    await rejection(verifier.verifyAccessToken('Bearer tok', []), BearerTokenError);
    assert.equal(endpoint.requests.length, 2);
  });

  test('the TTL counts from when the introspection was sent, so a slow answer does not extend it', async () => {
    const context: ReturnType<typeof setup> = setup({
      introspectionCacheTtlSeconds: 5,
      fetch: async (url, init) => {
        context.clock.ms += 3_000; // the answer takes 3 s to arrive
        return context.endpoint.fetch(url, init);
      },
    });
    context.grant('tok');
    await context.verifier.verifyAccessToken('Bearer tok', []);
    context.clock.ms += 1_999;
    await context.verifier.verifyAccessToken('Bearer tok', []);
    assert.equal(context.endpoint.requests.length, 1);
    context.clock.ms += 1;
    await context.verifier.verifyAccessToken('Bearer tok', []);
    assert.equal(context.endpoint.requests.length, 2, '5 s after the request was sent');
  });

  test('caches inactive results too, so a flood of a bad token costs one request per TTL', async () => {
    const { verifier, endpoint } = setup();
    await rejection(verifier.verifyAccessToken('Bearer bad', []), BearerTokenError);
    await rejection(verifier.verifyAccessToken('Bearer bad', []), BearerTokenError);
    assert.equal(endpoint.requests.length, 1);
  });

  test('concurrent verifications of one token share one request', async () => {
    const { verifier, grant, endpoint } = setup();
    grant('tok');
    await Promise.all([1, 2, 3].map(() => verifier.verifyAccessToken('Bearer tok', [])));
    assert.equal(endpoint.requests.length, 1);
  });

  test('TTL 0 introspects every time', async () => {
    const { verifier, grant, endpoint } = setup({ introspectionCacheTtlSeconds: 0 });
    grant('tok');
    await verifier.verifyAccessToken('Bearer tok', []);
    await verifier.verifyAccessToken('Bearer tok', []);
    assert.equal(endpoint.requests.length, 2);
  });

  test('clearCache forgets results', async () => {
    const { verifier, grant, endpoint } = setup();
    grant('tok');
    await verifier.verifyAccessToken('Bearer tok', []);
    verifier.clearCache();
    await verifier.verifyAccessToken('Bearer tok', []);
    assert.equal(endpoint.requests.length, 2);
  });

  test('failures are not cached', async () => {
    const { verifier, grant, endpoint } = setup();
    grant('tok');
    endpoint.respond = () => new Response(null, { status: 502 });
    await rejection(verifier.verifyAccessToken('Bearer tok', []), IntrospectionUnavailableError);
    endpoint.respond = undefined;
    await verifier.verifyAccessToken('Bearer tok', []);
    assert.equal(endpoint.requests.length, 2);
  });
});

describe('introspection failures are 503, never 401', () => {
  const cases: Array<[string, () => Response | Promise<Response>, IntrospectionFailureReason]> = [
    ['network error', () => Promise.reject(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })), 'network_error'],
    ['HTTP 500', () => new Response('oops', { status: 500 }), 'unexpected_response'],
    ['401 challenge', () => new Response(null, { status: 401, headers: { 'www-authenticate': 'Basic realm="as"' } }), 'client_authentication_failed'],
    ['invalid_client body', () => Response.json({ error: 'invalid_client' }, { status: 401 }), 'client_authentication_failed'],
    ['other error body', () => Response.json({ error: 'invalid_request' }, { status: 400 }), 'unexpected_response'],
    ['not JSON', () => new Response('<html>', { status: 200, headers: { 'content-type': 'text/html' } }), 'unexpected_response'],
    ['active not boolean', () => Response.json({ active: 'true' }), 'unexpected_response'],
    ['redirect', () => Response.redirect('https://elsewhere.example', 302), 'unexpected_response'],
  ];
  for (const [name, respond, reason] of cases) {
    test(name, async () => {
      const { verifier, endpoint } = setup();
      endpoint.respond = respond;
      const error = await rejection(verifier.verifyAccessToken('Bearer tok', []), IntrospectionUnavailableError);
      assert.equal(error.status, 503);
      assert.equal(error.reason, reason);
      assert.equal(error.error, 'temporarily_unavailable');
      assert.equal(error.headers['retry-after'], '5');
      assert.equal(error.headers['www-authenticate'], undefined);
      assert.ok(!error.detail.includes('tok'), 'detail names no token');
    });
  }

  test('timeout', async () => {
    const { verifier } = setup({
      introspectionTimeoutMilliseconds: 20,
      // Never answers; rejects on abort the way fetch does.
      fetch: (_url, init) =>
        new Promise<Response>((_resolve, reject) => {
          init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
        }),
    });
    const error = await rejection(verifier.verifyAccessToken('Bearer tok', []), IntrospectionUnavailableError);
    assert.equal(error.reason, 'timeout');
  });
});

describe('options', () => {
  test('the issuer must be https except on loopback (SPEC §2, decision 17)', () => {
    assert.throws(() => setup({ issuer: 'http://as.example' }), TypeError);
    assert.throws(() => setup({ issuer: 'ftp://localhost' }), TypeError);
    assert.throws(() => setup({ issuer: 'localhost:3000' }), TypeError);
    assert.throws(() => setup({ introspectionEndpoint: 'http://as.example/introspect' }), TypeError);
    for (const issuer of ['https://as.example', 'http://localhost:3000', 'http://127.0.0.1:3000', 'http://[::1]:3000']) {
      setup({ issuer });
    }
  });

  test('credentials, audience and namespace are required and checked', () => {
    assert.throws(() => setup({ introspectionClientSecret: '' }), TypeError);
    assert.throws(() => setup({ introspectionClientId: '' }), TypeError);
    assert.throws(() => setup({ audience: '' }), TypeError);
    assert.throws(() => setup({ urnNamespace: 'Bad:NS' }), TypeError);
    assert.throws(() => setup({ introspectionCacheTtlSeconds: -1 }), TypeError);
    assert.throws(() => setup({ clockSkewSeconds: Number.NaN }), TypeError);
  });

  test('reads the subject member of a configured namespace', async () => {
    const { verifier, grant } = setup({ urnNamespace: 'pleo' });
    const urn = 'urn:pleo:organization:a78f8460-ea41-4745-905b-660d706ebca4';
    grant('tok', { 'urn:gatehouse:params:oauth:subject_urn': undefined, 'urn:pleo:params:oauth:subject_urn': urn });
    const token = await verifier.verifyAccessToken('Bearer tok', []);
    assert.equal(token.subjectType, 'organization');
    assert.equal(token.subjectUrn, urn);
  });
});

// Issue 12: the credential verifier's synchronous path remembers the last Authorization value it decided
// and that value's parsed token; every call must still be decided by the caches, never by the memory.
describe('the cached path (cachedBearerVerification)', () => {
  const fixtures: VerifierFixture[] = [];
  after(() => {
    for (const fixture of fixtures) fixture.verifier.close();
  });
  async function cachedPath(mode: (typeof VALIDATION_MODES)[number]) {
    const fixture = await createVerifierFixture(mode);
    fixtures.push(fixture);
    const decide = cachedBearerVerification(fixture.verifier);
    assert.ok(decide);
    return { fixture, decide };
  }
  // The header of every call is a new string, as Node gives each request's.
  const header = (token: string) => ['Bearer', token].join(' ');

  for (const mode of VALIDATION_MODES) {
    test(`${mode}: a repeated header is decided again on every call (scopes), and a different token gets its own claims`, async () => {
      const { fixture, decide } = await cachedPath(mode);
      const first = await fixture.issue({ claims: { jti: 'f7d2c1e0-0001-4000-8000-000000000001' } });
      const second = await fixture.issue({ claims: { jti: 'f7d2c1e0-0002-4000-8000-000000000002' } });
      await fixture.verify(first);
      await fixture.verify(second);
      assert.equal(decide(header(first), ['users:read'])?.tokenId, 'f7d2c1e0-0001-4000-8000-000000000001');
      assert.equal(decide(header(first), ['users:read'])?.tokenId, 'f7d2c1e0-0001-4000-8000-000000000001');
      assert.throws(() => decide(header(first), ['accounts:write']), (error: unknown) => error instanceof BearerTokenError && error.bearerError === 'insufficient_scope');
      assert.equal(decide(header(second), ['users:read'])?.tokenId, 'f7d2c1e0-0002-4000-8000-000000000002');
      assert.equal(decide(header(first), ['vendors:read'])?.tokenId, 'f7d2c1e0-0001-4000-8000-000000000001');
      // Not a Bearer header, and a token nobody verified: the caches cannot decide, whatever was remembered.
      assert.equal(decide(`Basic ${first}`, []), undefined);
      assert.equal(decide(header(await fixture.issue()), []), undefined);
    });

    test(`${mode}: after clearCache a repeated header is not decided from memory`, async () => {
      const { fixture, decide } = await cachedPath(mode);
      const token = await fixture.issue();
      await fixture.verify(token);
      assert.ok(decide(header(token), []));
      fixture.verifier.clearCache();
      assert.equal(decide(header(token), []), undefined);
    });
  }

  test('local: a repeated header whose token is revoked is refused (the feed still decides)', async () => {
    const { fixture, decide } = await cachedPath('local');
    const token = await fixture.issue();
    await fixture.verify(token);
    assert.ok(decide(header(token), []));
    assert.ok(decide(header(token), []));
    fixture.stub.revoke(token);
    await fixture.clock.advance(2_000);
    assert.throws(() => decide(header(token), []), (error: unknown) => error instanceof BearerTokenError && error.bearerError === 'invalid_token' && /revoked/.test(error.reason ?? ''));
  });

  test('introspection: a repeated header is introspected again once the TTL has passed', async () => {
    const { fixture, decide } = await cachedPath('introspection');
    const token = await fixture.issue();
    await fixture.verify(token);
    assert.ok(decide(header(token), []));
    await fixture.clock.advance(5_000);
    assert.equal(decide(header(token), []), undefined);
  });
});
