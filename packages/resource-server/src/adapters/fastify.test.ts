import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { createFakeIntrospectionEndpoint } from '../fake-introspection-endpoint.ts';
import { INVALID_TOKEN_DESCRIPTION } from '../bearer-token-error.ts';
import { createTokenVerifier } from '../token-verifier.ts';
import { createVerifierFixture, VALIDATION_MODES } from '../verifier-fixture.ts';
import {
  decorateAccessToken,
  fastifyLogSerializers,
  getAccessToken,
  redactAccessTokenFromUrl,
  requireAccessToken,
} from './fastify.ts';

const TOKEN = 'tok-Very-Secret-Value_123';
const ISSUER = 'http://localhost:3000';
const AUDIENCE = 'http://localhost:3001';

function setup() {
  const clock = { ms: Date.UTC(2026, 5, 1) };
  const endpoint = createFakeIntrospectionEndpoint();
  const nowSeconds = Math.floor(clock.ms / 1000);
  endpoint.answers.set(TOKEN, {
    active: true,
    scope: 'users:read',
    client_id: '7af385a0-284d-48c5-b225-362862085551',
    token_type: 'Bearer',
    exp: nowSeconds + 900,
    aud: AUDIENCE,
    iss: ISSUER,
    'urn:gatehouse:params:oauth:subject_urn': 'urn:gatehouse:company:d4290d20-6495-471e-bcac-5d9e0a4d844e',
  });
  const verifier = createTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    introspectionClientId: 'dbb72d5e-29fb-4cf3-80cc-78a687063942',
    introspectionClientSecret: 'not-the-real-secret',
    now: () => clock.ms,
    fetch: endpoint.fetch,
  });
  const logLines: string[] = [];
  const app = Fastify({
    logger: {
      level: 'trace',
      serializers: fastifyLogSerializers,
      stream: new Writable({
        write(chunk: Buffer, _encoding, callback) {
          logLines.push(chunk.toString('utf8'));
          callback();
        },
      }),
    },
  });
  decorateAccessToken(app);
  decorateAccessToken(app);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.get('/users', { preValidation: requireAccessToken(verifier, ['users:read']) }, async (request) => ({
    clientId: getAccessToken(request).clientId,
    decorated: request.accessToken?.subjectType,
  }));
  app.post('/users', { preValidation: requireAccessToken(verifier, ['users:read']) }, async () => ({ ok: true }));
  app.get('/accounts', { preValidation: requireAccessToken(verifier, ['accounts:read']) }, async () => ({ ok: true }));
  app.get('/unprotected', async (request) => ({ token: getAccessToken(request).clientId }));
  return { app, endpoint, logLines };
}

describe('requireAccessToken', () => {
  test('admits a valid token and exposes its claims on the request', async () => {
    const { app } = setup();
    const response = await app.inject({ url: '/users', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { clientId: '7af385a0-284d-48c5-b225-362862085551', decorated: 'company' });
  });

  test('renders refusals with status, challenge, no-store and JSON body', async () => {
    const { app } = setup();
    const missing = await app.inject({ url: '/users' });
    assert.equal(missing.statusCode, 401);
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="http://localhost:3001"');
    assert.equal(missing.headers['cache-control'], 'no-store');
    assert.equal(missing.json().error, 'unauthorized');

    const scope = await app.inject({ url: '/accounts', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(scope.statusCode, 403);
    assert.deepEqual(scope.json(), {
      error: 'insufficient_scope',
      error_description: 'The access token lacks the scope accounts:read that this resource requires',
      scope: 'accounts:read',
    });
  });

  test('refuses tokens in the query string and in form bodies', async () => {
    const { app } = setup();
    const query = await app.inject({ url: `/users?access_token=${TOKEN}` });
    assert.equal(query.statusCode, 400);
    assert.equal(query.json().error, 'invalid_request');
    const form = await app.inject({
      method: 'POST',
      url: '/users',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `access_token=${TOKEN}`,
    });
    assert.equal(form.statusCode, 400);
    assert.match(form.json().error_description, /request body/);
  });

  test('renders introspection outages as 503 with Retry-After', async () => {
    const { app, endpoint } = setup();
    endpoint.respond = () => new Response(null, { status: 500 });
    const response = await app.inject({ url: '/users', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(response.statusCode, 503);
    assert.equal(response.headers['retry-after'], '5');
    assert.equal(response.headers['www-authenticate'], undefined);
  });

  test('never logs the token, wherever the client put it', async () => {
    const { app, endpoint, logLines } = setup();
    await app.inject({ url: '/users', headers: { authorization: `Bearer ${TOKEN}` } });
    await app.inject({ url: `/users?access_token=${TOKEN}&limit=5` });
    await app.inject({ url: '/accounts', headers: { authorization: `Bearer ${TOKEN}` } });
    endpoint.respond = () => new Response(null, { status: 500 });
    await app.inject({ url: '/users', headers: { authorization: `Bearer ${TOKEN}x` } });
    assert.ok(logLines.length > 4);
    assert.ok(logLines.some((line) => line.includes('access_token=[REDACTED]&limit=5')));
    assert.ok(logLines.some((line) => line.includes('"reason":"unexpected_response"')));
    for (const line of logLines) {
      assert.ok(!line.includes(TOKEN), line);
      assert.ok(!line.includes('not-the-real-secret'), line);
    }
  });

  test('a route without the hook cannot read a token (500, not an empty token)', async () => {
    const { app } = setup();
    const response = await app.inject({ url: '/unprotected', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(response.statusCode, 500);
  });

  test('malformed scope names fail at route declaration', () => {
    const verifier = createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, introspectionClientId: 'id', introspectionClientSecret: 'secret' });
    assert.throws(() => requireAccessToken(verifier, ['users_read']), TypeError);
  });
});

test('redactAccessTokenFromUrl', () => {
  assert.equal(redactAccessTokenFromUrl('/v1/users?access_token=abc&limit=5'), '/v1/users?access_token=[REDACTED]&limit=5');
  assert.equal(redactAccessTokenFromUrl('/v1/users?limit=5&ACCESS_TOKEN=abc#x'), '/v1/users?limit=5&ACCESS_TOKEN=[REDACTED]#x');
  assert.equal(redactAccessTokenFromUrl('/v1/users?my_access_token=abc'), '/v1/users?my_access_token=abc');
  // API keys and other credential parameters, and credential-shaped values under any name.
  const key = `gak_${'a'.repeat(43)}.${'b'.repeat(43)}`;
  assert.equal(redactAccessTokenFromUrl(`/v1/users?api_key=${key}&apikey=x&token=y&limit=5`), '/v1/users?api_key=[REDACTED]&apikey=[REDACTED]&token=[REDACTED]&limit=5');
  assert.equal(redactAccessTokenFromUrl(`/v1/users?k=${key}&q=${encodeURIComponent('eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln')}`), '/v1/users?k=[REDACTED]&q=[REDACTED]');
  assert.equal(redactAccessTokenFromUrl(`/v1/x/gat_k0_000000000_${'c'.repeat(43)}.${'d'.repeat(43)}/y`), '/v1/x/[REDACTED]/y');
  assert.equal(redactAccessTokenFromUrl('/v1/companies/3f1c0e2a-1b2c-4d5e-8f90-a1b2c3d4e5f6/users?limit=5'), '/v1/companies/3f1c0e2a-1b2c-4d5e-8f90-a1b2c3d4e5f6/users?limit=5');
  // A credential beside other words in one value: a form-encoded header, a list, a percent-encoded JWT.
  const token = `gat_k0_000000000_${'c'.repeat(43)}.${'d'.repeat(43)}`;
  assert.equal(redactAccessTokenFromUrl(`/v1/x?authorization=Bearer+${token}&h=DPoP%20${token}`), '/v1/x?authorization=Bearer+[REDACTED]&h=DPoP%20[REDACTED]');
  assert.equal(redactAccessTokenFromUrl(`/v1/x?q=${token};more&r=${token},${token}`), '/v1/x?q=[REDACTED];more&r=[REDACTED],[REDACTED]');
  assert.equal(redactAccessTokenFromUrl('/v1/x?j=eyJhbGciOiJFUzI1NiJ9%2EeyJzdWIiOiJ4In0%2Ec2ln&access%5Ftoken=abc'), '/v1/x?j=[REDACTED]&access%5Ftoken=[REDACTED]');
  // Ordinary words that merely begin like a credential stay.
  assert.equal(redactAccessTokenFromUrl('/v1/vendors?name=gac_supplies&code=x-grt_2024&file=eyJsmith.doc'), '/v1/vendors?name=gac_supplies&code=x-grt_2024&file=eyJsmith.doc');
  // Near-matches that made the earlier unanchored pattern backtrack (quadratic): each part is tested on its own now.
  for (const unit of ['-eyJ', 'eyJ-', 'gat_', 'eyJa.']) {
    const url = `/v1/users?q=${unit.repeat(4_096)}`;
    assert.equal(redactAccessTokenFromUrl(url), unit === 'gat_' ? '/v1/users?q=[REDACTED]' : url, unit);
  }
});

/** A GET over a real socket with `rawHeaders` sent as given (fetch would merge repeated fields). */
function rawGet(url: string, rawHeaders: string[]): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    // A raw header list replaces Node's defaults, Host included (HTTP/1.1 requires it, RFC 9112 §3.2).
    const outgoing = httpRequest(url, { headers: ['Host', new URL(url).host, ...rawHeaders] }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

for (const mode of VALIDATION_MODES) {
  describe(`requireAccessToken on a listening server, ${mode} mode`, () => {
    async function withServer(body: (base: string, token: string, introspections: () => number) => Promise<void>): Promise<void> {
      const fixture = await createVerifierFixture(mode);
      const app = Fastify();
      decorateAccessToken(app);
      app.get('/users', { preValidation: requireAccessToken(fixture.verifier, ['users:read']) }, async (request) => ({ clientId: getAccessToken(request).clientId }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      try {
        const token = await fixture.issue();
        await body(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, token, () => fixture.requestsTo('/oauth/token/introspect'));
      } finally {
        await app.close();
        fixture.verifier.close();
      }
    }

    for (const order of ['good+bad', 'bad+good'] as const) {
      test(`two Authorization headers (${order}) are 400 invalid_request, never 200 (RFC 6750 §3.1)`, () =>
        withServer(async (base, token, introspections) => {
          const good = `Bearer ${token}`;
          const bad = 'Bearer not-a-token';
          const [first, second] = order === 'good+bad' ? [good, bad] : [bad, good];
          const response = await rawGet(`${base}/users`, ['Authorization', first, 'Authorization', second]);
          assert.equal(response.status, 400);
          assert.equal(JSON.parse(response.body).error, 'invalid_request');
          assert.match(String(response.headers['www-authenticate']), /error="invalid_request"/);
          assert.ok(!response.body.includes('clientId'), 'the handler did not run');
          assert.equal(introspections(), 0, 'no token was introspected');
          assert.equal((await rawGet(`${base}/users`, ['Authorization', good])).status, 200, 'the good header alone is accepted');
        }));
    }

    test('a revoked, forged or garbage token gets the one fixed error_description', () =>
      withServer(async (base) => {
        for (const token of ['garbage', 'kwu9xRtq7VwqVnj9bije56BeiktkPPwLRCfD77hsDZQ']) {
          const response = await rawGet(`${base}/users`, ['Authorization', `Bearer ${token}`]);
          assert.equal(response.status, 401);
          assert.deepEqual(JSON.parse(response.body), { error: 'invalid_token', error_description: INVALID_TOKEN_DESCRIPTION });
        }
      }));
  });
}

test('the cause of an invalid_token refusal is logged, never sent', async () => {
  const { app, logLines } = setup();
  const response = await app.inject({ url: '/users', headers: { authorization: 'Bearer unknown' } });
  assert.deepEqual(response.json(), { error: 'invalid_token', error_description: INVALID_TOKEN_DESCRIPTION });
  assert.ok(logLines.some((line) => line.includes('"reason":"The access token is not active"')));
});
