/**
 * Issue 16: API keys at the sample platform API, end to end against the real authorization server:
 * curl-style HTTP Basic (the key as the user name, an empty password), the same scope and
 * company-isolation checks as Bearer tokens, revocation within the 5 s bound, expiry, and every refusal.
 * The API's clock (milliseconds) and the server's (seconds) move together; nothing sleeps.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createManualClock } from '@gatehouse/resource-server/testing';
import type { ManualClock } from '@gatehouse/resource-server/testing';
import { API_AUDIENCE, Browser, inputValue, seed, startTestServer } from '../../../packages/authorization-server/src/testing/harness.ts';
import type { TestServer } from '../../../packages/authorization-server/src/testing/harness.ts';
import { startPlatformApi } from './platform-api.ts';
import type { RunningPlatformApi } from './platform-api.ts';

const [danmark, sverige] = seed.companies;
const basicKey = (key: string, password = '') => `Basic ${Buffer.from(`${key}:${password}`).toString('base64')}`;

describe('API keys at the platform API (issue 16)', () => {
  let server: TestServer;
  let api: RunningPlatformApi;
  let bearerOnly: RunningPlatformApi;
  let apiClock: ManualClock;
  let browser: Browser;
  let csrf: string;

  before(async () => {
    server = await startTestServer();
    apiClock = createManualClock(server.clock.nowSeconds() * 1000);
    const common = {
      issuer: server.issuer, audience: API_AUDIENCE, introspectionClientId: seed.resourceServer.id, introspectionClientSecret: seed.resourceServer.secret,
      port: 0, host: '127.0.0.1', now: apiClock.now,
    };
    api = await startPlatformApi(common);
    bearerOnly = await startPlatformApi({ ...common, acceptedCredentials: ['bearer'] });
    browser = new Browser();
    const login = await browser.get(`${server.url}/account/api-keys`);
    await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: '/account/api-keys', email: seed.users.alice.email, password: seed.users.alice.password });
    csrf = inputValue((await browser.get(`${server.url}/account/api-keys`)).text, '_csrf')!;
  });

  after(async () => {
    await api?.close();
    await bearerOnly?.close();
    await server?.close();
  });

  async function advanceSeconds(seconds: number): Promise<void> {
    server.clock.advanceSeconds(seconds);
    await apiClock.advance(seconds * 1000);
  }

  async function createKey(form: { name: string; subject: string; expiration: string; scope: string[] }): Promise<{ value: string; keyId: string }> {
    const body = new URLSearchParams({ _csrf: csrf, name: form.name, subject: form.subject, expiration: form.expiration });
    for (const scope of form.scope) body.append('scope', scope);
    const created = await browser.request(`${server.url}/account/api-keys`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    assert.equal(created.status, 303, created.text);
    // Post/redirect/get: the key is shown once, on the page the POST leads to.
    const page = await browser.get(`${server.url}${created.location}`);
    assert.equal(page.status, 200, page.text);
    const value = /id="api_key_value" class="secret-value">([^<]+)</.exec(page.text)![1]!;
    const [key] = (await server.storage.apiKeys.list({})).filter((candidate) => candidate.name === form.name);
    return { value, keyId: key!.keyId };
  }

  const call = async (path: string, authorization: string, target = api) => {
    const response = await fetch(`${target.url}${path}`, { headers: { authorization } });
    return { status: response.status, challenge: response.headers.get('www-authenticate'), body: await response.json() as Record<string, any> };
  };

  test('a standalone company key works with curl-style Basic auth: /v1/introspect says API_KEY, scope and company isolation as for tokens', async () => {
    const { value } = await createKey({ name: 'Users export', subject: `urn:gatehouse:company:${danmark.id}`, expiration: '2592000', scope: ['users:read'] });
    const introspection = await call('/v1/introspect', basicKey(value));
    assert.equal(introspection.status, 200);
    assert.deepEqual(introspection.body.data, { authMethod: 'API_KEY', clientId: null, scope: 'users:read', applicationName: null, subjectURN: `urn:gatehouse:company:${danmark.id}` });
    const users = await call('/v1/users', basicKey(value));
    assert.equal(users.status, 200);
    assert.ok(users.body.data.length > 0);
    // RFC 6750 §3.1 insufficient_scope, the same as for a token.
    const vendors = await call('/v1/vendors', basicKey(value));
    assert.equal(vendors.status, 403);
    assert.equal(vendors.body.error, 'insufficient_scope');
    assert.equal(vendors.body.scope, 'vendors:read');
    // Company isolation (SPEC §3): a company key never reaches another company.
    const other = await call(`/v1/users?company_id=${sverige.id}`, basicKey(value));
    assert.equal(other.status, 403);
    const companies = await call('/v1/companies', basicKey(value));
    assert.deepEqual(companies.body.data.map((company: { id: string }) => company.id), [danmark.id]);
  });

  test('an organization key discovers its companies and reads company data only with a company_id of its organization', async () => {
    const { value } = await createKey({ name: 'Group automation', subject: `urn:gatehouse:organization:${seed.organization.id}`, expiration: 'never', scope: ['users:read'] });
    const companies = await call('/v1/companies', basicKey(value));
    assert.equal(companies.status, 200);
    assert.deepEqual(companies.body.data.map((company: { id: string }) => company.id).sort(), [danmark.id, sverige.id].sort());
    assert.equal((await call('/v1/users', basicKey(value))).status, 400, 'an organization key must name the company');
    assert.equal((await call(`/v1/users?company_id=${sverige.id}`, basicKey(value))).status, 200);
  });

  test('malformed Basic credentials and a password are invalid_request (400); a Bearer-only route refuses keys (401)', async () => {
    const { value } = await createKey({ name: 'Malformed checks', subject: `urn:gatehouse:company:${danmark.id}`, expiration: 'never', scope: ['users:read'] });
    assert.equal((await call('/v1/users', basicKey(value, 'secret'))).status, 400);
    assert.equal((await call('/v1/users', 'Basic !!!')).status, 400);
    assert.equal((await call('/v1/users', `Basic ${Buffer.from(value).toString('base64')}`)).status, 400, 'no colon');
    const refused = await call('/v1/users', basicKey(value), bearerOnly);
    assert.equal(refused.status, 401);
    assert.equal(refused.challenge, `Bearer realm="${API_AUDIENCE}", DPoP algs="ES256 EdDSA RS256 PS256"`);
  });

  test('a deleted key is refused within the 5 s bound; revoked, expired and unknown keys answer alike (no oracle)', async () => {
    const deleted = await createKey({ name: 'Deleted soon', subject: `urn:gatehouse:company:${danmark.id}`, expiration: '2592000', scope: ['users:read'] });
    const expiring = await createKey({ name: 'Expiring', subject: `urn:gatehouse:company:${danmark.id}`, expiration: '2592000', scope: ['users:read'] });
    assert.equal((await call('/v1/users', basicKey(deleted.value))).status, 200);
    const confirmed = await browser.post(`${server.url}/account/api-keys/${deleted.keyId}/delete`, { _csrf: csrf, confirm: 'yes' });
    assert.equal(confirmed.status, 303);
    // SPEC decision 7's bound: a cached answer may last up to 5 s, never longer.
    await advanceSeconds(5);
    const revoked = await call('/v1/users', basicKey(deleted.value));
    assert.equal(revoked.status, 401);
    assert.equal(revoked.challenge, `Basic realm="${API_AUDIENCE}", charset="UTF-8"`);

    assert.equal((await call('/v1/users', basicKey(expiring.value))).status, 200);
    await advanceSeconds(2592000);
    const expired = await call('/v1/users', basicKey(expiring.value));
    const unknown = await call('/v1/users', basicKey(`gak_${'A'.repeat(43)}.${'B'.repeat(43)}`));
    const foreign = await call('/v1/users', basicKey('not-an-api-key'));
    for (const refusal of [expired, unknown, foreign]) {
      assert.equal(refusal.status, 401);
      assert.deepEqual(refusal.body, revoked.body);
      assert.equal(refusal.challenge, revoked.challenge);
    }
    assert.deepEqual(revoked.body, { error: 'invalid_token', error_description: 'The API key is invalid' });
  });
});
