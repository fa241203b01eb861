import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { SCOPE_CATALOGUE } from '@gatehouse/protocol';
import { createManualClock } from '@gatehouse/resource-server/testing';
import { PLATFORM_API_DEVELOPMENT_DEFAULTS, startPlatformApi } from './platform-api.ts';
import type { PlatformApiOptions, RunningPlatformApi, ValidationMode } from './platform-api.ts';
import { SEED_IDS } from './seed-data.ts';
import { startStubAuthorizationServer } from './stub-authorization-server.ts';
import type { IssueOptions, StubAuthorizationServer } from './stub-authorization-server.ts';

const AUDIENCE = PLATFORM_API_DEVELOPMENT_DEFAULTS.audience;
const CLIENT_ID = PLATFORM_API_DEVELOPMENT_DEFAULTS.introspectionClientId;
const CLIENT_SECRET = PLATFORM_API_DEVELOPMENT_DEFAULTS.introspectionClientSecret;
const DANMARK = SEED_IDS.nordlysDanmark;
const SVERIGE = SEED_IDS.nordlysSverige;
const DANMARK_URN = `urn:gatehouse:company:${DANMARK}`;
const GROUP_URN = `urn:gatehouse:organization:${SEED_IDS.nordlysGroup}`;
const ALL_READ = 'users:read vendors:read accounts:read export-jobs:read export-items:read';

interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: any;
}

/**
 * The black-box suite, once per validation mode: the stub authorization server issues opaque tokens
 * for introspection mode and RFC 9068 JWTs (with JWKS and revocation feed) for local mode; one manual
 * clock drives the stub, the API's verifier and its feed polling.
 */
for (const validationMode of ['introspection', 'local'] as const satisfies readonly ValidationMode[]) {
  describe(`platform API, ${validationMode} mode`, () => {
    const clock = createManualClock(Date.UTC(2026, 5, 1, 12, 0, 0));
    const local = validationMode === 'local';
    let stub: StubAuthorizationServer;
    let api: RunningPlatformApi;

    async function advanceSeconds(seconds: number): Promise<void> {
      await clock.advance(seconds * 1000);
    }

    before(async () => {
      stub = await startStubAuthorizationServer({
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        audience: AUDIENCE,
        now: clock.now,
        accessTokenFormat: local ? 'jwt' : 'opaque',
      });
      api = await startApi();
    });

    after(async () => {
      await api.close();
      await stub.close();
    });

    function startApi(overrides: Partial<PlatformApiOptions> = {}): Promise<RunningPlatformApi> {
      return startPlatformApi({
        port: 0,
        host: '127.0.0.1',
        issuer: stub.issuer,
        audience: AUDIENCE,
        introspectionClientId: CLIENT_ID,
        introspectionClientSecret: CLIENT_SECRET,
        validationMode,
        introspectionCacheTtlSeconds: 5,
        now: clock.now,
        scheduleTimer: clock.scheduleTimer,
        ...overrides,
      });
    }

    async function call(path: string, init: { token?: string; authorization?: string; method?: string; body?: string; contentType?: string; base?: string } = {}): Promise<ApiResponse> {
      const headers: Record<string, string> = {};
      if (init.token !== undefined) headers['authorization'] = `Bearer ${init.token}`;
      if (init.authorization !== undefined) headers['authorization'] = init.authorization;
      if (init.contentType !== undefined) headers['content-type'] = init.contentType;
      const response = await fetch(`${init.base ?? api.url}${path}`, { method: init.method ?? 'GET', headers, body: init.body });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
    }

    /** A GET over a real socket with header fields sent as listed (fetch would merge repeated ones). */
    function rawGet(path: string, rawHeaders: string[]): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
      return new Promise((resolve, reject) => {
        const url = new URL(path, api.url);
        const outgoing = httpRequest(url, { headers: ['Host', url.host, ...rawHeaders] }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
        });
        outgoing.on('error', reject);
        outgoing.end();
      });
    }

    function issue(options: Partial<IssueOptions> = {}): Promise<string> {
      return stub.issue({ scope: ALL_READ, subjectUrn: DANMARK_URN, ...options });
    }

    function companyToken(scope = ALL_READ, companyId: string = DANMARK): Promise<string> {
      return stub.issue({ scope, subjectUrn: `urn:gatehouse:company:${companyId}` });
    }

    function organizationToken(scope = ALL_READ): Promise<string> {
      return stub.issue({ scope, subjectUrn: GROUP_URN });
    }

    describe('public endpoints', () => {
      test('GET /health needs no token', async () => {
        const response = await call('/health');
        assert.equal(response.status, 200);
        assert.deepEqual(response.body, { status: 'ok' });
      });

      test('GET /openapi.json documents the routes, their scopes and the OAuth flow', async () => {
        const response = await call('/openapi.json');
        assert.equal(response.status, 200);
        assert.equal(response.body.openapi, '3.1.0');
        assert.deepEqual(response.body.paths['/v1/users'].get.security, [{ oauth2: ['users:read'] }, { apiKey: [] }]);
        assert.deepEqual(response.body.paths['/v1/vendors'].post.security, [{ oauth2: ['vendors:write'] }, { apiKey: [] }]);
        assert.ok(response.body.paths['/v1/export-jobs/{exportJobId}/items'].get);
        assert.equal(response.body.components.securitySchemes.oauth2.flows.authorizationCode.tokenUrl, `${stub.issuer}/oauth/token`);
        const parameterNames = response.body.paths['/v1/accounts'].get.parameters.map((parameter: { name: string }) => parameter.name);
        assert.deepEqual(parameterNames, ['limit', 'cursor', 'company_id']);
      });

      test('GET /openapi.json describes each scope in the catalogue\'s one wording, as the consent page does (SPEC §3 "Scopes")', async () => {
        const response = await call('/openapi.json');
        assert.equal(response.status, 200);
        assert.deepEqual(response.body.components.securitySchemes.oauth2.flows.authorizationCode.scopes, Object.fromEntries(SCOPE_CATALOGUE));
        assert.equal(response.body.components.securitySchemes.oauth2.flows.authorizationCode.scopes['users:read'], 'See users and employees');
      });

      test('unknown routes answer a JSON 404 without echoing the query string', async () => {
        const response = await call('/v1/nothing?access_token=secret-value');
        assert.equal(response.status, 404);
        assert.equal(response.body.error, 'not_found');
        assert.ok(!JSON.stringify(response.body).includes('secret-value'));
      });
    });

    describe('X-Content-Type-Options', () => {
      test('every response carries X-Content-Type-Options: nosniff, errors and 404s included', async () => {
        const token = await companyToken('users:read vendors:read');
        const responses: [string, ApiResponse][] = [
          ['200 health', await call('/health')],
          ['200 openapi', await call('/openapi.json')],
          ['200 data', await call('/v1/users', { token })],
          ['401 no token', await call('/v1/users')],
          ['401 invalid token', await call('/v1/users', { token: 'garbage' })],
          ['400 malformed header', await call('/v1/users', { authorization: 'Bearer two tokens' })],
          ['400 token in query', await call(`/v1/users?access_token=${token}`)],
          ['403 scope', await call('/v1/accounts', { token })],
          ['404 unknown path', await call('/v1/nothing-here')],
          ['404 unknown method', await call('/health', { method: 'DELETE' })],
          ['400 bad parameter', await call('/v1/users?limit=-1', { token })],
          ['400 bad JSON', await call('/v1/vendors', { token, method: 'POST', contentType: 'application/json', body: '{' })],
          ['415 unsupported type', await call('/v1/vendors', { token, method: 'POST', contentType: 'application/xml', body: '<a/>' })],
        ];
        for (const [label, response] of responses) {
          assert.equal(response.headers.get('x-content-type-options'), 'nosniff', label);
        }
        assert.deepEqual(responses.map(([, response]) => response.status), [200, 200, 200, 401, 401, 400, 400, 403, 404, 404, 400, 400, 415]);
      });

      test('a 503 while the authorization server is unreachable carries nosniff too', async () => {
        const token = await companyToken();
        const down = await startApi({ issuer: 'http://127.0.0.1:1', introspectionCacheTtlSeconds: 0 });
        try {
          const response = await call('/v1/users', { token, base: down.url });
          assert.equal(response.status, 503);
          assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
        } finally {
          await down.close();
        }
      });
    });

    describe('RFC 6750 refusals', () => {
      test('no credentials: 401 with a challenge carrying no error attribute (§3.1)', async () => {
        const response = await call('/v1/users');
        assert.equal(response.status, 401);
        // Issue 16: the routes also accept API keys, so the challenge names every scheme (RFC 9110 §11.6.1),
        // DPoP with its algorithms beside Bearer (RFC 9449 §7.1).
        assert.equal(response.headers.get('www-authenticate'), `Bearer realm="${AUDIENCE}", DPoP algs="ES256 EdDSA RS256 PS256", Basic realm="${AUDIENCE}", charset="UTF-8"`);
        assert.equal(response.body.error, 'unauthorized');
      });

      test('another authentication scheme counts as no credentials (§3.1)', async () => {
        const response = await call('/v1/users', { authorization: 'Digest username="user"' });
        assert.equal(response.status, 401);
        assert.equal(response.headers.get('www-authenticate'), `Bearer realm="${AUDIENCE}", DPoP algs="ES256 EdDSA RS256 PS256", Basic realm="${AUDIENCE}", charset="UTF-8"`);
      });

      test('Basic credentials with a password are invalid_request: an API key goes with an empty password (issue 16)', async () => {
        const response = await call('/v1/users', { authorization: `Basic ${btoa('user:password')}` });
        assert.equal(response.status, 400);
        assert.equal(response.body.error, 'invalid_request');
        assert.equal(response.headers.get('www-authenticate'), `Basic realm="${AUDIENCE}", charset="UTF-8"`);
      });

      test('a malformed Bearer credential is invalid_request (§2.1, §3.1)', async () => {
        for (const authorization of ['Bearer', 'Bearer two tokens', 'Bearer bad"char']) {
          const response = await call('/v1/users', { authorization });
          assert.equal(response.status, 400, authorization);
          assert.equal(response.body.error, 'invalid_request');
          assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer realm="[^"]+", error="invalid_request", error_description="[^"]+"$/);
        }
      });

      for (const order of ['good+bad', 'bad+good'] as const) {
        test(`two Authorization headers (${order}) are 400 invalid_request, never 200 or 401 (§3.1)`, async () => {
          const good = `Bearer ${await companyToken()}`;
          const bad = 'Bearer not-a-token';
          const calls = stub.calls.length;
          const response = await rawGet('/v1/users', ['Authorization', ...(order === 'good+bad' ? [good, 'Authorization', bad] : [bad, 'Authorization', good])]);
          assert.equal(response.status, 400);
          assert.equal(JSON.parse(response.body).error, 'invalid_request');
          assert.match(String(response.headers['www-authenticate']), /error="invalid_request"/);
          assert.ok(!response.body.includes('"data"'), 'no users listed');
          assert.equal(stub.calls.length, calls, 'no token was introspected');
        });
      }

      test('a revoked, a forged and a garbage token get the same error_description (no oracle)', async () => {
        const revoked = await companyToken();
        stub.revoke(revoked);
        await advanceSeconds(2);
        const answers = [];
        for (const token of [revoked, await issue({ forge: 'unpublished-key' }), 'garbage', 'a.b.c']) {
          const response = await call('/v1/users', { token });
          assert.equal(response.status, 401);
          answers.push({ body: response.body, challenge: response.headers.get('www-authenticate') });
        }
        for (const answer of answers) assert.deepEqual(answer, answers[0]);
        assert.deepEqual(answers[0]?.body, { error: 'invalid_token', error_description: 'The access token is invalid' });
      });

      test('a token in the query string is refused with invalid_request, even beside a valid header (§2.3)', async () => {
        const token = await companyToken();
        const calls = stub.calls.length;
        const response = await call(`/v1/users?access_token=${token}`, { token });
        assert.equal(response.status, 400);
        assert.equal(response.body.error, 'invalid_request');
        assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_request"/);
        assert.match(response.body.error_description, /query string/);
        assert.equal(stub.calls.length, calls, 'refused before any introspection');
      });

      test('a token in a form body is refused with invalid_request (§2.2)', async () => {
        const token = await companyToken('vendors:write');
        const response = await call('/v1/vendors', {
          method: 'POST',
          contentType: 'application/x-www-form-urlencoded',
          body: new URLSearchParams({ access_token: token, name: 'Form Vendor ApS' }).toString(),
        });
        assert.equal(response.status, 400);
        assert.equal(response.body.error, 'invalid_request');
        assert.match(response.body.error_description, /request body/);
      });

      test('an unknown token is invalid_token', async () => {
        const response = await call('/v1/users', { token: 'not-a-token-the-server-issued' });
        assert.equal(response.status, 401);
        assert.equal(response.body.error, 'invalid_token');
        const challenge = response.headers.get('www-authenticate') ?? '';
        assert.equal(challenge, 'Bearer realm="http://localhost:3001", error="invalid_token", error_description="The access token is invalid"');
      });

      test('a revoked token is invalid_token once the verifier has learnt of it (at once, or at the next feed poll)', async () => {
        const token = await companyToken();
        stub.revoke(token);
        await advanceSeconds(2);
        const response = await call('/v1/users', { token });
        assert.equal(response.status, 401);
        assert.equal(response.body.error, 'invalid_token');
      });

      test('an expired token is invalid_token past exp plus the 5 s clock skew', async () => {
        const token = await issue({ expiresInSeconds: 60 });
        await advanceSeconds(65);
        const response = await call('/v1/users', { token });
        assert.equal(response.status, 401);
        assert.equal(response.body.error, 'invalid_token');
      });

      for (const forge of ['alg-none', 'hs256-public-key', 'rs256', 'unpublished-key', 'wrong-key-same-kid'] as const) {
        test(`a token with a forged signature (${forge}) is invalid_token`, async () => {
          const response = await call('/v1/users', { token: await issue({ forge }) });
          assert.equal(response.status, 401);
          assert.equal(response.body.error, 'invalid_token');
        });
      }

      test("a suspended client's tokens are invalid_token within the bound", async () => {
        const token = await companyToken();
        assert.equal((await call('/v1/users', { token })).status, 200);
        stub.suspendClient('7af385a0-284d-48c5-b225-362862085551');
        await advanceSeconds(5);
        const response = await call('/v1/users', { token });
        assert.equal(response.status, 401);
        assert.equal(response.body.error, 'invalid_token');
      });

      test('a token for another audience is invalid_token', async () => {
        const token = await issue({ claims: { aud: 'https://other-api.example' } });
        const response = await call('/v1/users', { token });
        assert.equal(response.status, 401);
        assert.equal(response.body.error, 'invalid_token');
        assert.equal(response.body.error_description, 'The access token is invalid');
      });

      test('a token from another issuer is invalid_token', async () => {
        const token = await issue({ claims: { iss: 'https://evil.example' } });
        const response = await call('/v1/users', { token });
        assert.equal(response.status, 401);
        assert.equal(response.body.error, 'invalid_token');
      });

      test('a token that is not an access token is invalid_token (token_type, or the JWT typ)', async () => {
        // Introspection: token_type (RFC 7662 §2.2); local: typ at+jwt (RFC 9068 §2.1).
        const token = local ? await issue({ typ: 'JWT' }) : await issue({ claims: { token_type: 'refresh_token' } });
        const response = await call('/v1/users', { token });
        assert.equal(response.status, 401);
        assert.equal(response.body.error, 'invalid_token');
      });

      test('a missing scope is 403 insufficient_scope naming the required scope (§3.1)', async () => {
        const token = await companyToken('vendors:read');
        const response = await call('/v1/users', { token });
        assert.equal(response.status, 403);
        assert.equal(response.body.error, 'insufficient_scope');
        assert.equal(response.body.scope, 'users:read');
        const challenge = response.headers.get('www-authenticate') ?? '';
        assert.match(challenge, /error="insufficient_scope"/);
        assert.match(challenge, /scope="users:read"/);
        assert.match(challenge, /^Bearer realm="http:\/\/localhost:3001", /);
      });

      test('each list endpoint requires its own scope', async () => {
        const routes: Array<[string, string]> = [
          ['/v1/users', 'users:read'],
          ['/v1/vendors', 'vendors:read'],
          ['/v1/accounts', 'accounts:read'],
          ['/v1/export-jobs', 'export-jobs:read'],
        ];
        for (const [path, scope] of routes) {
          const granted = await call(path, { token: await companyToken(scope) });
          assert.equal(granted.status, 200, `${path} with ${scope}`);
          const others = routes.filter(([, other]) => other !== scope).map(([, other]) => other).join(' ');
          const refused = await call(path, { token: await companyToken(others) });
          assert.equal(refused.status, 403, `${path} without ${scope}`);
          assert.equal(refused.body.scope, scope);
        }
      });

      test('an unreachable authorization server is 503 without a challenge, so clients keep their token', async () => {
        const token = await companyToken();
        if (local) {
          // Local mode fails closed once the feed has been silent for longer than the 5 s bound.
          assert.equal((await call('/v1/users', { token })).status, 200);
          stub.failures.revocationFeed = 500;
          await advanceSeconds(5);
          assert.equal((await call('/v1/users', { token })).status, 200, 'within the bound');
          await advanceSeconds(1);
        } else {
          stub.failures.introspection = 500;
        }
        try {
          const response = await call('/v1/users', { token });
          assert.equal(response.status, 503);
          assert.equal(response.body.error, 'temporarily_unavailable');
          assert.equal(response.headers.get('www-authenticate'), null);
          assert.equal(response.headers.get('retry-after'), '5');
        } finally {
          stub.failures.introspection = undefined;
          stub.failures.revocationFeed = undefined;
        }
        // Failures are not cached: the next introspection, or the next feed poll, restores service.
        await advanceSeconds(local ? 2 : 0);
        assert.equal((await call('/v1/users', { token })).status, 200);
      });

      test('rejected resource-server credentials are 503, not a client error', async () => {
        const misconfigured = await startApi({ introspectionClientSecret: 'wrong-secret' });
        try {
          const response = await call('/v1/users', { token: await companyToken(), base: misconfigured.url });
          assert.equal(response.status, 503);
          assert.equal(response.body.error, 'temporarily_unavailable');
        } finally {
          await misconfigured.close();
        }
      });

      test('introspection requests are form-encoded with token_type_hint=access_token and Basic credentials', { skip: local ? 'introspection mode only' : false }, async () => {
        const token = await companyToken();
        const calls = stub.calls.length;
        assert.equal((await call('/v1/users', { token })).status, 200);
        const last = stub.calls.at(-1);
        assert.equal(stub.calls.length, calls + 1);
        assert.equal(last?.tokenTypeHint, 'access_token');
        assert.match(last?.contentType ?? '', /^application\/x-www-form-urlencoded/);
      });
    });

    describe('GET /v1/introspect', () => {
      test('describes the current authentication for any valid token', async () => {
        const token = await companyToken('users:read vendors:read');
        const response = await call('/v1/introspect', { token });
        assert.equal(response.status, 200);
        assert.deepEqual(response.body, {
          data: {
            authMethod: 'OAUTH2',
            clientId: '7af385a0-284d-48c5-b225-362862085551',
            scope: 'users:read vendors:read',
            applicationName: 'Ledgerly Sync',
            subjectURN: DANMARK_URN,
          },
        });
      });

      test('still requires a token', async () => {
        assert.equal((await call('/v1/introspect')).status, 401);
      });
    });

    describe('company isolation', () => {
      test('a company token sees only its own company', async () => {
        const response = await call('/v1/users', { token: await companyToken() });
        assert.equal(response.status, 200);
        assert.ok(response.body.data.length > 0);
        assert.ok(response.body.data.every((employee: { companyId: string }) => employee.companyId === DANMARK));
        assert.ok(response.body.data.some((employee: { email: string }) => employee.email === 'bob@example.com'));
      });

      test('a company token may name its own company but no other', async () => {
        const token = await companyToken();
        assert.equal((await call(`/v1/vendors?company_id=${DANMARK}`, { token })).status, 200);
        const refused = await call(`/v1/vendors?company_id=${SVERIGE}`, { token });
        assert.equal(refused.status, 403);
        assert.equal(refused.body.error, 'company_access_denied');
        assert.equal(refused.headers.get('www-authenticate'), null, 'not a token problem');
      });

      test('an organization token needs company_id on company endpoints', async () => {
        const response = await call('/v1/accounts', { token: await organizationToken() });
        assert.equal(response.status, 400);
        assert.equal(response.body.error, 'company_id_required');
      });

      test("an organization token reaches each of its organization's companies by company_id", async () => {
        const token = await organizationToken();
        for (const companyId of [DANMARK, SVERIGE]) {
          const response = await call(`/v1/accounts?company_id=${companyId}`, { token });
          assert.equal(response.status, 200);
          assert.ok(response.body.data.every((account: { companyId: string }) => account.companyId === companyId));
        }
      });

      test('an organization token cannot reach a company outside its organization', async () => {
        const response = await call(`/v1/users?company_id=${randomUUID()}`, { token: await organizationToken() });
        assert.equal(response.status, 403);
        assert.equal(response.body.error, 'company_access_denied');
      });

      test('a malformed company_id is 400', async () => {
        const response = await call('/v1/users?company_id=not-a-uuid', { token: await organizationToken() });
        assert.equal(response.status, 400);
        assert.equal(response.body.error, 'invalid_company_id');
      });

      test('GET /v1/companies lists the organization companies, or only the own company', async () => {
        const organizationView = await call('/v1/companies', { token: await organizationToken() });
        assert.equal(organizationView.status, 200);
        assert.deepEqual(
          organizationView.body.data.map((company: { name: string }) => company.name).sort(),
          ['Nordlys Danmark ApS', 'Nordlys Sverige AB'],
        );
        const companyView = await call('/v1/companies', { token: await companyToken(ALL_READ, SVERIGE) });
        assert.equal(companyView.status, 200);
        assert.deepEqual(companyView.body.data.map((company: { id: string }) => company.id), [SVERIGE]);
        assert.equal(companyView.body.data[0].subjectURN, `urn:gatehouse:company:${SVERIGE}`);
      });

      test("export items are reachable only through the company's own export jobs", async () => {
        const danishJobs = await call('/v1/export-jobs', { token: await companyToken() });
        const swedishJobs = await call(`/v1/export-jobs?company_id=${SVERIGE}`, { token: await organizationToken() });
        const danishJob = danishJobs.body.data.find((job: { itemCount: number }) => job.itemCount > 0);
        const swedishJob = swedishJobs.body.data[0];
        const items = await call(`/v1/export-jobs/${danishJob.id}/items`, { token: await companyToken() });
        assert.equal(items.status, 200);
        assert.equal(items.body.data.length, danishJob.itemCount);
        assert.ok(items.body.data.every((item: { currency: string }) => item.currency === 'DKK'));
        const foreign = await call(`/v1/export-jobs/${swedishJob.id}/items`, { token: await companyToken() });
        assert.equal(foreign.status, 404);
        const withoutScope = await call(`/v1/export-jobs/${danishJob.id}/items`, { token: await companyToken('export-jobs:read') });
        assert.equal(withoutScope.status, 403);
        assert.equal(withoutScope.body.scope, 'export-items:read');
      });
    });

    describe('introspection cache', { skip: local ? 'introspection mode only' : false }, () => {
      test('a revoked token keeps working until the TTL passes, then is refused', async () => {
        const token = await companyToken();
        const calls = stub.calls.length;
        assert.equal((await call('/v1/users', { token })).status, 200);
        stub.revoke(token);
        assert.equal((await call('/v1/users', { token })).status, 200, 'served from the cache');
        await advanceSeconds(4.999);
        assert.equal((await call('/v1/users', { token })).status, 200, 'still within the 5 s bound');
        assert.equal(stub.calls.length, calls + 1);
        await advanceSeconds(0.001);
        const refused = await call('/v1/users', { token });
        assert.equal(refused.status, 401, 'refused once the TTL passed');
        assert.equal(refused.body.error, 'invalid_token');
        assert.equal(stub.calls.length, calls + 2);
      });

      test('the authorization server is asked once per TTL, also for concurrent requests', async () => {
        const token = await companyToken();
        const calls = stub.calls.length;
        const responses = await Promise.all(Array.from({ length: 5 }, () => call('/v1/vendors', { token })));
        assert.deepEqual(responses.map((response) => response.status), [200, 200, 200, 200, 200]);
        for (let index = 0; index < 5; index += 1) {
          await advanceSeconds(0.9);
          assert.equal((await call('/v1/accounts', { token })).status, 200);
        }
        assert.equal(stub.calls.length, calls + 1);
        await advanceSeconds(0.6);
        assert.equal((await call('/v1/accounts', { token })).status, 200);
        assert.equal(stub.calls.length, calls + 2);
      });

      test("a cached result never outlives the token's exp", async () => {
        const longCache = await startApi({ introspectionCacheTtlSeconds: 60 });
        try {
          const token = await issue({ expiresInSeconds: 3 });
          const calls = stub.calls.length;
          assert.equal((await call('/v1/users', { token, base: longCache.url })).status, 200);
          await advanceSeconds(4);
          // Past exp but within the 5 s clock skew: only a cached answer could still admit it.
          const response = await call('/v1/users', { token, base: longCache.url });
          assert.equal(response.status, 401);
          assert.equal(stub.calls.length, calls + 2, 'introspected again after exp');
        } finally {
          await longCache.close();
        }
      });
    });

    describe('revocation feed and JWKS', { skip: local ? false : 'local mode only' }, () => {
      test('a revoked token keeps working until the next feed poll (at most 2 s), then is refused', async () => {
        // A fresh API: its catch-up poll runs now, so the next one is due in exactly 2 s.
        const fresh = await startApi();
        try {
          const token = await companyToken();
          assert.equal((await call('/v1/users', { token, base: fresh.url })).status, 200);
          stub.revoke(token);
          await advanceSeconds(1.999);
          assert.equal((await call('/v1/users', { token, base: fresh.url })).status, 200, 'not before the next poll');
          await advanceSeconds(0.001);
          const refused = await call('/v1/users', { token, base: fresh.url });
          assert.equal(refused.status, 401);
          assert.equal(refused.body.error, 'invalid_token');
        } finally {
          await fresh.close();
        }
      });

      test('a token superseded by a refresh is refused after the next poll; the new one works', async () => {
        const token = await companyToken();
        assert.equal((await call('/v1/introspect', { token })).status, 200);
        const refreshed = await stub.refresh(token);
        await advanceSeconds(2);
        assert.equal((await call('/v1/introspect', { token })).status, 401);
        assert.equal((await call('/v1/introspect', { token: refreshed })).status, 200);
      });

      test('the feed is polled every 2 s, so tokens pass while it answers', async () => {
        const token = await companyToken();
        const polls = stub.feedCalls;
        for (let index = 0; index < 5; index += 1) {
          await advanceSeconds(2);
          assert.equal((await call('/v1/users', { token })).status, 200);
        }
        assert.equal(stub.feedCalls, polls + 5);
      });

      test('a key rotation at the authorization server is followed by refetching the JWKS on the new kid', async () => {
        // Its own stub: the shared API would (rightly) refuse the new kid within its 30 s JWKS cooldown.
        const rotatingStub = await startStubAuthorizationServer({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, audience: AUDIENCE, now: clock.now, accessTokenFormat: 'jwt' });
        const rotating = await startApi({ issuer: rotatingStub.issuer, jwksCooldownSeconds: 0 });
        try {
          const token = () => rotatingStub.issue({ scope: 'users:read', subjectUrn: DANMARK_URN });
          assert.equal((await call('/v1/users', { token: await token(), base: rotating.url })).status, 200);
          await rotatingStub.rotateSigningKey();
          assert.equal((await call('/v1/users', { token: await token(), base: rotating.url })).status, 200);
          assert.equal(rotatingStub.requests.filter((request) => request.path === '/.well-known/jwks.json').length, 2);
        } finally {
          await rotating.close();
          await rotatingStub.close();
        }
      });
    });

    describe('pagination', () => {
      test('walks the chart of accounts in pages, ordered by account number', async () => {
        const token = await companyToken();
        const numbers: string[] = [];
        let cursor: string | null = null;
        const pageSizes: number[] = [];
        do {
          const query: string = cursor === null ? '?limit=5' : `?limit=5&cursor=${encodeURIComponent(cursor)}`;
          const response = await call(`/v1/accounts${query}`, { token });
          assert.equal(response.status, 200);
          pageSizes.push(response.body.data.length);
          numbers.push(...response.body.data.map((account: { number: string }) => account.number));
          cursor = response.body.pagination.nextCursor;
        } while (cursor !== null);
        assert.deepEqual(pageSizes, [5, 5, 4]);
        assert.deepEqual(numbers, [...numbers].sort());
        assert.equal(new Set(numbers).size, 14);
      });

      test('the default page holds everything small lists have, with a null nextCursor', async () => {
        const response = await call('/v1/users', { token: await companyToken() });
        assert.equal(response.body.data.length, 6);
        assert.deepEqual(response.body.pagination, { nextCursor: null });
      });

      test('cursors of another list or not from this API are 400 invalid_cursor', async () => {
        const token = await companyToken();
        const users = await call('/v1/users?limit=1', { token });
        const foreignCursor = users.body.pagination.nextCursor;
        assert.equal(typeof foreignCursor, 'string');
        for (const cursor of [foreignCursor, 'garbage', Buffer.from('{"list":"/v1/accounts"}').toString('base64url')]) {
          const response = await call(`/v1/accounts?cursor=${encodeURIComponent(cursor)}`, { token });
          assert.equal(response.status, 400, cursor);
          assert.equal(response.body.error, 'invalid_cursor');
        }
      });

      test('limit outside 1..100 is 400 invalid_parameter', async () => {
        const token = await companyToken();
        for (const limit of ['0', '101', 'many']) {
          const response = await call(`/v1/accounts?limit=${limit}`, { token });
          assert.equal(response.status, 400, limit);
          assert.equal(response.body.error, 'invalid_parameter');
        }
      });
    });

    describe('POST /v1/vendors', () => {
      test('creates a vendor for the token company with vendors:write', async () => {
        const writer = await companyToken('vendors:write vendors:read');
        const created = await call('/v1/vendors', {
          token: writer,
          method: 'POST',
          contentType: 'application/json',
          body: JSON.stringify({ name: 'Odense Blomster ApS', email: 'hej@blomster.example' }),
        });
        assert.equal(created.status, 201);
        assert.equal(created.body.data.companyId, DANMARK);
        assert.equal(created.body.data.currency, 'DKK');
        const listed = await call('/v1/vendors?limit=100', { token: writer });
        assert.ok(listed.body.data.some((vendor: { id: string }) => vendor.id === created.body.data.id));
        const swedish = await call(`/v1/vendors?company_id=${SVERIGE}`, { token: await organizationToken() });
        assert.ok(!swedish.body.data.some((vendor: { id: string }) => vendor.id === created.body.data.id));
      });

      test('needs vendors:write', async () => {
        const response = await call('/v1/vendors', {
          token: await companyToken('vendors:read'),
          method: 'POST',
          contentType: 'application/json',
          body: JSON.stringify({ name: 'Nope ApS' }),
        });
        assert.equal(response.status, 403);
        assert.match(response.headers.get('www-authenticate') ?? '', /scope="vendors:write"/);
      });

      test('an organization token writes only with company_id of its companies', async () => {
        const token = await organizationToken('vendors:write');
        const body = JSON.stringify({ name: 'Malmö El AB' });
        const missing = await call('/v1/vendors', { token, method: 'POST', contentType: 'application/json', body });
        assert.equal(missing.status, 400);
        assert.equal(missing.body.error, 'company_id_required');
        const created = await call(`/v1/vendors?company_id=${SVERIGE}`, { token, method: 'POST', contentType: 'application/json', body });
        assert.equal(created.status, 201);
        assert.equal(created.body.data.companyId, SVERIGE);
      });

      test('validates the body', async () => {
        const response = await call('/v1/vendors', {
          token: await companyToken('vendors:write'),
          method: 'POST',
          contentType: 'application/json',
          body: JSON.stringify({ name: '' }),
        });
        assert.equal(response.status, 400);
        assert.equal(response.body.error, 'invalid_parameter');
      });
    });
  });
}
