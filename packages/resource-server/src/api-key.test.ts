/**
 * Issue 16: API keys in the resource-server toolkit, against an injected introspection endpoint: the
 * Basic wire format (RFC 7617 §2), the checks of the answer (RFC 7662 §2.2), the 5 s cache, the refusal
 * limit per address, and the per-route choice of credentials.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiKeyError, createApiKeyVerifier, createCredentialVerifier, extractApiKey, readApiKeyIntrospection } from './api-key.ts';
import { createFakeIntrospectionEndpoint } from './fake-introspection-endpoint.ts';
import { createTokenVerifier } from './token-verifier.ts';
import { AUDIENCE, COMPANY_URN, ISSUER, RESOURCE_SERVER_ID, RESOURCE_SERVER_SECRET } from './verifier-fixture.ts';

const KEY = `gak_${'a'.repeat(43)}.${'b'.repeat(43)}`;
const basic = (userPassword: string) => `Basic ${Buffer.from(userPassword).toString('base64')}`;
const NOW_S = 1_800_000_000;
const activeAnswer = (overrides: Record<string, unknown> = {}) => ({
  active: true, token_type: 'api_key', scope: 'users:read', iss: ISSUER, aud: AUDIENCE, jti: 'c1d3f0a4-0000-4000-8000-000000000001', api_key_type: 'standalone',
  iat: NOW_S, sub: 'e5b0b6b4-0000-4000-8000-000000000002', 'urn:gatehouse:params:oauth:subject_urn': COMPANY_URN, ...overrides,
});

function setup(
  overrides: { maxRefusedApiKeysPerAddressPerMinute?: number; maxApiKeyChecksInFlightPerAddress?: number } = {},
  credentialOptions: { maxRefusedAccessTokensPerAddressPerMinute?: number; maxAccessTokenChecksInFlightPerAddress?: number } = {},
) {
  const endpoint = createFakeIntrospectionEndpoint();
  let nowMs = NOW_S * 1000;
  const common = { issuer: ISSUER, audience: AUDIENCE, introspectionClientId: RESOURCE_SERVER_ID, introspectionClientSecret: RESOURCE_SERVER_SECRET, now: () => nowMs, fetch: endpoint.fetch };
  const apiKeyVerifier = createApiKeyVerifier({ ...common, ...overrides });
  const tokenVerifier = createTokenVerifier(common);
  return { endpoint, apiKeyVerifier, credentials: createCredentialVerifier({ tokenVerifier, apiKeyVerifier, now: () => nowMs, ...credentialOptions }), advance: (ms: number) => { nowMs += ms; } };
}

/** `count` distinct access tokens the fake introspection endpoint answers active (scope users:read). */
function activeAccessTokens(endpoint: ReturnType<typeof createFakeIntrospectionEndpoint>, count: number): string[] {
  const tokens = Array.from({ length: count }, (_, i) => `gat_k0_${'a'.repeat(9)}_${String(i).padStart(43, 'b')}.${'c'.repeat(43)}`);
  for (const token of tokens) {
    endpoint.answers.set(token, {
      active: true, scope: 'users:read', client_id: 'c', token_type: 'Bearer', exp: NOW_S + 900, iat: NOW_S, sub: 'u', aud: AUDIENCE, iss: ISSUER, jti: 'j',
      'urn:gatehouse:params:oauth:subject_urn': COMPANY_URN,
    });
  }
  return tokens;
}

describe('extractApiKey (RFC 7617 §2: the key as the user-id, an empty password)', () => {
  it('returns the key of Basic credentials, and undefined without Basic', () => {
    assert.equal(extractApiKey(basic(`${KEY}:`), 'r'), KEY);
    assert.equal(extractApiKey(`basic  ${Buffer.from(`${KEY}:`).toString('base64')}`, 'r'), KEY, 'the scheme is case-insensitive (RFC 9110 §11.1)');
    assert.equal(extractApiKey(undefined, 'r'), undefined);
    assert.equal(extractApiKey('Bearer abc', 'r'), undefined);
  });

  it('refuses a password, no colon, no key, bad base64 and two headers with 400 invalid_request', () => {
    for (const header of [basic(`${KEY}:secret`), basic(KEY), basic(':'), 'Basic !!!', 'Basic']) {
      assert.throws(() => extractApiKey(header, 'r'), (error: unknown) => error instanceof ApiKeyError && error.status === 400 && error.error === 'invalid_request', header);
    }
    assert.throws(() => extractApiKey([basic(`${KEY}:`), basic(`${KEY}:`)], 'r'), (error: unknown) => error instanceof ApiKeyError && error.status === 400);
  });
});

describe('readApiKeyIntrospection (RFC 7662 §2.2)', () => {
  const expectations = { issuer: ISSUER, audience: AUDIENCE, urnNamespace: 'gatehouse' };
  it('accepts an active api_key answer and refuses anything else', () => {
    assert.equal(readApiKeyIntrospection(activeAnswer(), expectations).active, true);
    for (const overrides of [{ active: false }, { token_type: 'Bearer' }, { iss: 'https://evil.example' }, { aud: 'https://other.example' },
      { 'urn:gatehouse:params:oauth:subject_urn': undefined }, { api_key_type: 'other' }, { jti: undefined }]) {
      assert.equal(readApiKeyIntrospection(activeAnswer(overrides) as never, expectations).active, false, JSON.stringify(overrides));
    }
  });
});

describe('createApiKeyVerifier', () => {
  it('asks with token_type_hint=api_key once, reuses the answer for 5 s (the revocation bound), then asks again', async () => {
    const { endpoint, apiKeyVerifier, advance } = setup();
    endpoint.answers.set(KEY, activeAnswer());
    assert.equal((await apiKeyVerifier.verifyApiKey(KEY, ['users:read'])).subjectUrn, COMPANY_URN);
    assert.equal(endpoint.requests[0]?.body.get('token_type_hint'), 'api_key');
    endpoint.answers.set(KEY, { active: false });
    advance(4_999);
    await apiKeyVerifier.verifyApiKey(KEY, []);
    assert.equal(endpoint.requests.length, 1, 'cached within the bound');
    advance(1);
    await assert.rejects(apiKeyVerifier.verifyApiKey(KEY, []), (error: unknown) => error instanceof ApiKeyError && error.status === 401 && error.error === 'invalid_token');
    assert.equal(endpoint.requests.length, 2);
  });

  it('refuses an expired key, a missing scope (403 with the scope), and a non-gak_ value without asking', async () => {
    const { endpoint, apiKeyVerifier, advance } = setup();
    endpoint.answers.set(KEY, activeAnswer({ exp: NOW_S + 60 }));
    await assert.rejects(apiKeyVerifier.verifyApiKey(KEY, ['vendors:read']), (error: unknown) => error instanceof ApiKeyError && error.status === 403 && error.body.scope === 'vendors:read');
    advance(65_000);
    await assert.rejects(apiKeyVerifier.verifyApiKey(KEY, []), (error: unknown) => error instanceof ApiKeyError && error.status === 401);
    const before = endpoint.requests.length;
    await assert.rejects(apiKeyVerifier.verifyApiKey('not-a-key', []), (error: unknown) => error instanceof ApiKeyError && error.status === 401);
    assert.equal(endpoint.requests.length, before);
  });

  it('answers 429 with Retry-After after 30 refused keys from one address in a minute, without asking; other addresses and the next minute are unaffected', async () => {
    const { endpoint, apiKeyVerifier, advance } = setup();
    endpoint.answers.set(KEY, activeAnswer());
    for (let index = 0; index < 30; index += 1) {
      await assert.rejects(apiKeyVerifier.verifyApiKey(`gak_${String(index).padStart(43, 'x')}.${'c'.repeat(43)}`, [], '192.0.2.1'), (error: unknown) => error instanceof ApiKeyError && error.status === 401);
    }
    const asked = endpoint.requests.length;
    await assert.rejects(apiKeyVerifier.verifyApiKey(KEY, [], '192.0.2.1'), (error: unknown) => error instanceof ApiKeyError && error.status === 429 && error.headers['retry-after'] === '60');
    assert.equal(endpoint.requests.length, asked, 'a limited address costs no introspection');
    assert.equal((await apiKeyVerifier.verifyApiKey(KEY, [], '192.0.2.2')).keyId, activeAnswer().jti);
    advance(60_000);
    assert.equal((await apiKeyVerifier.verifyApiKey(KEY, [], '192.0.2.1')).keyId, activeAnswer().jti);
  });
});

describe('createCredentialVerifier (per-route accepted credentials)', () => {
  it('no credentials: 401 naming every accepted scheme; a key on a Bearer-only route is refused; a key on an API-key route is accepted', async () => {
    const { endpoint, credentials } = setup();
    endpoint.answers.set(KEY, activeAnswer());
    await assert.rejects(credentials.verifyCredential(undefined, [], ['bearer', 'api_key']),
      (error: unknown) => error instanceof Error && (error as ApiKeyError).status === 401 && (error as ApiKeyError).headers['www-authenticate'] === `Bearer realm="${AUDIENCE}", DPoP algs="ES256 EdDSA RS256 PS256", Basic realm="${AUDIENCE}", charset="UTF-8"`);
    await assert.rejects(credentials.verifyCredential(basic(`${KEY}:`), [], ['bearer']), (error: unknown) => (error as ApiKeyError).status === 401);
    await assert.rejects(credentials.verifyCredential('Bearer some-token', [], ['api_key']), (error: unknown) => (error as ApiKeyError).status === 401);
    const accepted = await credentials.verifyCredential(basic(`${KEY}:`), ['users:read'], ['api_key']);
    assert.equal(accepted.kind, 'api_key');
  });

  it('verifyRequestCredential (the route hook\'s call, from Node rawHeaders) still checks an API key: accepted, scope, inactive, two fields', async () => {
    const { endpoint, credentials } = setup();
    endpoint.answers.set(KEY, activeAnswer());
    const raw = (...rawHeaders: string[]) => ({ rawHeaders, method: 'GET', url: '/v1/users' });
    const accepted = await credentials.verifyRequestCredential(raw('Host', 'api', 'Authorization', basic(`${KEY}:`)), ['users:read'], ['bearer', 'api_key'], '127.0.0.1');
    assert.equal(accepted.kind === 'api_key' ? accepted.apiKey.keyId : undefined, 'c1d3f0a4-0000-4000-8000-000000000001');
    await assert.rejects(credentials.verifyRequestCredential(raw('authorization', basic(`${KEY}:`)), ['users:write'], ['bearer', 'api_key']),
      (error: unknown) => error instanceof ApiKeyError && error.status === 403 && error.error === 'insufficient_scope');
    await assert.rejects(credentials.verifyRequestCredential(raw('authorization', basic(`${KEY}:`), 'Authorization', basic(`${KEY}:`)), ['users:read'], ['bearer', 'api_key']),
      (error: unknown) => error instanceof ApiKeyError && error.status === 400 && error.error === 'invalid_request');
    const other = `gak_${'c'.repeat(43)}.${'d'.repeat(43)}`;
    endpoint.answers.set(other, { active: false });
    await assert.rejects(credentials.verifyRequestCredential(raw('authorization', basic(`${other}:`)), ['users:read'], ['bearer', 'api_key']),
      (error: unknown) => error instanceof ApiKeyError && error.status === 401 && error.error === 'invalid_token');
  });

  it('introspection mode: after 30 refused access tokens from one address in a minute, 429 with Retry-After without asking; a cached token, other addresses and the next minute are unaffected', async () => {
    const { endpoint, credentials, advance } = setup();
    const token = `gat_k0_${'a'.repeat(9)}_${'b'.repeat(43)}.${'c'.repeat(43)}`;
    endpoint.answers.set(token, {
      active: true, scope: 'users:read', client_id: 'c', token_type: 'Bearer', exp: NOW_S + 900, iat: NOW_S, sub: 'u', aud: AUDIENCE, iss: ISSUER, jti: 'j',
      'urn:gatehouse:params:oauth:subject_urn': COMPANY_URN,
    });
    const raw = (authorization: string) => ({ rawHeaders: ['Authorization', authorization], method: 'GET', url: '/v1/users' });
    // The client's own token, verified (and cached) from the address before the made-up ones.
    assert.equal((await credentials.verifyRequestCredential(raw(`Bearer ${token}`), ['users:read'], ['bearer', 'api_key'], '192.0.2.1')).kind, 'bearer');
    for (let i = 0; i < 30; i++) {
      await assert.rejects(credentials.verifyRequestCredential(raw(`Bearer made-up-${i}`), [], ['bearer', 'api_key'], '192.0.2.1'),
        (error: unknown) => error instanceof Error && (error as ApiKeyError).status === 401 && (error as ApiKeyError).error === 'invalid_token');
    }
    const asked = endpoint.requests.length;
    assert.equal(asked, 31, 'each made-up token was introspected once');
    await assert.rejects(credentials.verifyRequestCredential(raw('Bearer made-up-30'), [], ['bearer', 'api_key'], '192.0.2.1'),
      (error: unknown) => error instanceof Error && (error as ApiKeyError).status === 429 && (error as ApiKeyError).error === 'too_many_requests' && (error as ApiKeyError).headers['retry-after'] === '60');
    await assert.rejects(credentials.verifyCredential('DPoP made-up-31', [], ['bearer'], '192.0.2.1', { dpop: undefined, method: 'GET', url: '/v1/users' }),
      (error: unknown) => (error as ApiKeyError).status === 429, 'a DPoP token too');
    assert.equal(endpoint.requests.length, asked, 'nothing sent to the authorization server');
    // The cached token is decided without the limit; another address is unaffected.
    assert.equal((await credentials.verifyRequestCredential(raw(`Bearer ${token}`), ['users:read'], ['bearer', 'api_key'], '192.0.2.1')).kind, 'bearer');
    // Past the cache's 5 s the client's token is introspected again, and still not held back: it is known.
    advance(6_000);
    assert.equal((await credentials.verifyRequestCredential(raw(`Bearer ${token}`), ['users:read'], ['bearer', 'api_key'], '192.0.2.1')).kind, 'bearer');
    assert.equal(endpoint.requests.length, asked + 1, 'introspected again (the revocation bound holds)');
    // Revoked now: refused invalid_token, not 429, and not counted (a known token).
    endpoint.answers.set(token, { active: false });
    advance(6_000);
    await assert.rejects(credentials.verifyRequestCredential(raw(`Bearer ${token}`), [], ['bearer'], '192.0.2.1'), (error: unknown) => (error as ApiKeyError).status === 401);
    advance(-12_000);
    await assert.rejects(credentials.verifyRequestCredential(raw('Bearer made-up-x'), [], ['bearer'], '198.51.100.9'), (error: unknown) => (error as ApiKeyError).status === 401);
    advance(60_000);
    await assert.rejects(credentials.verifyRequestCredential(raw('Bearer made-up-y'), [], ['bearer'], '192.0.2.1'), (error: unknown) => (error as ApiKeyError).status === 401, 'the next minute');
  });

  it('a burst of made-up tokens sent at once is held to 100 checks in flight, then the address is limited', async () => {
    const { endpoint, credentials } = setup();
    const results = await Promise.allSettled(Array.from({ length: 500 }, (_, i) => credentials.verifyCredential(`Bearer burst-${i}`, [], ['bearer'], '192.0.2.99')));
    const statuses = results.map((result) => (result.status === 'rejected' ? (result.reason as ApiKeyError).status : 200));
    assert.equal(statuses.filter((status) => status === 401).length, 100);
    assert.equal(statuses.filter((status) => status === 429).length, 400);
    assert.equal(endpoint.requests.length, 100, 'at most 100 reached the authorization server');
    await assert.rejects(credentials.verifyCredential('Bearer after-the-burst', [], ['bearer'], '192.0.2.99'), (error: unknown) => (error as ApiKeyError).status === 429);
    assert.equal(endpoint.requests.length, 100);
  });

  it('many requests at once with valid credentials from one address are all answered: one API key, new access tokens', async () => {
    const { endpoint, credentials } = setup();
    endpoint.answers.set(KEY, activeAnswer());
    const keyResults = await Promise.all(Array.from({ length: 40 }, () => credentials.verifyCredential(basic(`${KEY}:`), ['users:read'], ['api_key'], '192.0.2.50')));
    assert.equal(keyResults.length, 40);
    const tokens = activeAccessTokens(endpoint, 60);
    const tokenResults = await Promise.all(tokens.map((token) => credentials.verifyCredential(`Bearer ${token}`, ['users:read'], ['bearer'], '192.0.2.50')));
    assert.equal(tokenResults.length, 60);
  });

  it('unknown credentials that cannot be checked (503: the budget at the authorization server spent) count too; known ones are never held back', async () => {
    const { endpoint, credentials } = setup();
    endpoint.answers.set(KEY, activeAnswer());
    assert.equal((await credentials.verifyCredential(basic(`${KEY}:`), ['users:read'], ['api_key'], '192.0.2.77')).kind, 'api_key');
    endpoint.respond = () => new Response('slow down', { status: 429 });
    for (let i = 0; i < 30; i++) {
      await assert.rejects(credentials.verifyCredential(`Bearer unknown-${i}`, [], ['bearer'], '192.0.2.77'), (error: unknown) => (error as ApiKeyError).status === 503);
    }
    const asked = endpoint.requests.length;
    await assert.rejects(credentials.verifyCredential('Bearer unknown-30', [], ['bearer'], '192.0.2.77'), (error: unknown) => (error as ApiKeyError).status === 429);
    assert.equal(endpoint.requests.length, asked, 'no more spent from this address');
    // The integration's key, accepted before, is still checked (and answered 503 while the budget is spent), never 429.
    endpoint.respond = undefined;
    assert.equal((await credentials.verifyCredential(basic(`${KEY}:`), ['users:read'], ['api_key'], '192.0.2.77')).kind, 'api_key');
  });

  it('the in-flight ceiling is an option: 200 new valid access tokens at once from one address all pass with 250; a made-up burst stops at it', async () => {
    const { endpoint, credentials } = setup({}, { maxAccessTokenChecksInFlightPerAddress: 250 });
    const tokens = activeAccessTokens(endpoint, 200);
    const results = await Promise.allSettled(tokens.map((token) => credentials.verifyCredential(`Bearer ${token}`, ['users:read'], ['bearer'], '192.0.2.60')));
    assert.deepEqual(results.filter((result) => result.status === 'rejected').map((result) => (result.reason as ApiKeyError).status), [], 'none held back');
    // The same 200 with the default ceiling: the 101st and later are answered 429 with Retry-After: 1.
    const defaults = setup();
    for (const [token, answer] of endpoint.answers) defaults.endpoint.answers.set(token, answer);
    const held = await Promise.allSettled(tokens.map((token) => defaults.credentials.verifyCredential(`Bearer ${token}`, ['users:read'], ['bearer'], '192.0.2.60')));
    const refusals = held.flatMap((result) => (result.status === 'rejected' ? [result.reason as ApiKeyError] : []));
    assert.equal(refusals.length, 100);
    assert.ok(refusals.every((error) => error.status === 429 && error.headers['retry-after'] === '1'));
    // A made-up burst with the ceiling at 3: three reach the authorization server.
    const small = setup({}, { maxAccessTokenChecksInFlightPerAddress: 3 });
    const burst = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => small.credentials.verifyCredential(`Bearer burst-${i}`, [], ['bearer'], '192.0.2.61')));
    assert.equal(burst.filter((result) => result.status === 'rejected' && (result.reason as ApiKeyError).status === 429).length, 7);
    assert.equal(small.endpoint.requests.length, 3);
  });

  it('the API-key in-flight ceiling is an option too', async () => {
    const { endpoint, apiKeyVerifier } = setup({ maxApiKeyChecksInFlightPerAddress: 2 });
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => apiKeyVerifier.verifyApiKey(`gak_guess_${i}`, [], '192.0.2.62')));
    assert.equal(results.filter((result) => result.status === 'rejected' && (result.reason as ApiKeyError).status === 429).length, 3);
    assert.equal(endpoint.requests.length, 2);
  });

  it('refuses an in-flight ceiling that is not a whole number, 1 or more', () => {
    for (const value of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => setup({}, { maxAccessTokenChecksInFlightPerAddress: value }), TypeError, String(value));
      assert.throws(() => setup({ maxApiKeyChecksInFlightPerAddress: value }), TypeError, String(value));
    }
  });

  it('the access-token refusal limit is off with 0', async () => {
    const { credentials } = setup({}, { maxRefusedAccessTokensPerAddressPerMinute: 0 });
    for (let i = 0; i < 40; i++) {
      await assert.rejects(credentials.verifyCredential(`Bearer made-up-${i}`, [], ['bearer'], '192.0.2.1'), (error: unknown) => (error as ApiKeyError).status === 401);
    }
  });
});
