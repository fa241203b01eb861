import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readIntrospectionResponse } from './introspection-response.ts';

const EXPECTATIONS = { issuer: 'http://localhost:3000', audience: 'http://localhost:3001', urnNamespace: 'gatehouse' };
const COMPANY_URN = 'urn:gatehouse:company:d4290d20-6495-471e-bcac-5d9e0a4d844e';
const ACTIVE = {
  active: true,
  scope: 'users:read vendors:read',
  client_id: '7af385a0-284d-48c5-b225-362862085551',
  client_name: 'Ledgerly Sync',
  token_type: 'Bearer',
  exp: 1790000000,
  iat: 1789999100,
  sub: 'a3e3fc33-5e1b-4cac-81ad-b7accdcd5313',
  aud: 'http://localhost:3001',
  iss: 'http://localhost:3000',
  jti: '0e9c2b3a-5a43-4c55-8f0e-6f4a8d1b2c3d',
  'urn:gatehouse:params:oauth:subject_urn': COMPANY_URN,
};

test('maps the contract response to claims', () => {
  assert.deepEqual(readIntrospectionResponse(ACTIVE, EXPECTATIONS), {
    active: true,
    accessToken: {
      clientId: ACTIVE.client_id,
      clientName: 'Ledgerly Sync',
      scope: ['users:read', 'vendors:read'],
      subjectType: 'company',
      subjectId: 'd4290d20-6495-471e-bcac-5d9e0a4d844e',
      subjectUrn: COMPANY_URN,
      userId: ACTIVE.sub,
      expiresAt: 1790000000,
      issuedAt: 1789999100,
      tokenId: ACTIVE.jti,
    },
  });
});

test('optional members may be absent', () => {
  const { client_name: _name, sub: _sub, jti: _jti, iat: _iat, scope: _scope, ...minimal } = ACTIVE;
  const result = readIntrospectionResponse(minimal, EXPECTATIONS);
  assert.ok(result.active);
  assert.equal(result.accessToken.clientName, undefined);
  assert.equal(result.accessToken.userId, undefined);
  assert.deepEqual(result.accessToken.scope, []);
});

test('accepts an aud array containing the audience and a lowercase token_type', () => {
  const result = readIntrospectionResponse({ ...ACTIVE, aud: ['https://a.example', 'http://localhost:3001'], token_type: 'bearer' }, EXPECTATIONS);
  assert.equal(result.active, true);
});

test('refuses, with a reason, every answer that does not fit the contract', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ active: false }, /not active/],
    [{ ...ACTIVE, active: false }, /not active/],
    [{ ...ACTIVE, token_type: 'refresh_token' }, /not a Bearer or DPoP access token/],
    [{ ...ACTIVE, token_type: undefined }, /not a Bearer or DPoP access token/],
    [{ ...ACTIVE, token_type: 'DPoP' }, /names no key/],
    [{ ...ACTIVE, token_type: 'DPoP', cnf: { jkt: '' } }, /names no key/],
    [{ ...ACTIVE, iss: 'http://localhost:3000/' }, /another authorization server/],
    [{ ...ACTIVE, iss: undefined }, /another authorization server/],
    [{ ...ACTIVE, aud: 'http://localhost:3002' }, /not issued for this resource server/],
    [{ ...ACTIVE, aud: ['http://localhost:3002'] }, /not issued for this resource server/],
    [{ ...ACTIVE, aud: undefined }, /not issued for this resource server/],
    [{ ...ACTIVE, exp: undefined }, /no expiry/],
    [{ ...ACTIVE, exp: '1790000000' }, /no expiry/],
    [{ ...ACTIVE, client_id: undefined }, /no client/],
    [{ ...ACTIVE, 'urn:gatehouse:params:oauth:subject_urn': undefined }, /no company or organization subject/],
    [{ ...ACTIVE, 'urn:gatehouse:params:oauth:subject_urn': 'urn:other:company:d4290d20-6495-471e-bcac-5d9e0a4d844e' }, /subject/],
  ];
  for (const [response, reason] of cases) {
    const result = readIntrospectionResponse(response as typeof ACTIVE, EXPECTATIONS);
    assert.equal(result.active, false, JSON.stringify(response));
    if (!result.active) {
      assert.match(result.reason, reason);
    }
  }
});

test('reads the subject member of the configured namespace', () => {
  const urn = 'urn:pleo:organization:a78f8460-ea41-4745-905b-660d706ebca4';
  const result = readIntrospectionResponse(
    { ...ACTIVE, 'urn:gatehouse:params:oauth:subject_urn': undefined, 'urn:pleo:params:oauth:subject_urn': urn },
    { ...EXPECTATIONS, urnNamespace: 'pleo' },
  );
  assert.ok(result.active);
  assert.equal(result.accessToken.subjectType, 'organization');
  assert.equal(result.accessToken.subjectUrn, urn);
});
