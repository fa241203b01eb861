import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import {
  API_AUDIENCE, authorize, authorizeUrl, basic, Browser, confidentialAuth, hiddenInputs, inputValue, introspect, obtainTokens, pkcePair, postForm, seed,
  startTestServer, type TestServer,
} from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';
import { hashPassword } from '../users/password.ts';
import { createAdminToken } from './admin-credentials.ts';
import { createResourceServer } from '../directory/resource-servers.ts';
import { DirectoryError } from '../directory/directory.ts';
import { importDirectory } from '../directory/directory-import.ts';

const postgresSkip = await postgresSkipReason();
const ORGANIZATION = seed.organization.id;
const [DANMARK, SVERIGE] = [seed.companies[0].id, seed.companies[1].id];

/** A test server with an administrator token `ops` and a JSON caller for /admin/v1. */
async function adminServerOn(overrides: Parameters<typeof startTestServer>[0] = {}) {
  const server = await startTestServer(overrides);
  const token = (await createAdminToken(server.storage, 'ops', server.clock.nowSeconds())).token;
  const call = async (method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${server.url}/admin/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : undefined };
  };
  return { server, call };
}

const auditTypes = async (server: TestServer) => (await server.storage.audit.list({ limit: 1000 })).map((event) => `${event.type} ${event.actor}`);

describe('directory admin API /admin/v1 (issue 10 §1)', () => {
  let server: TestServer;
  let call: Awaited<ReturnType<typeof adminServerOn>>['call'];
  before(async () => ({ server, call } = await adminServerOn()));
  after(() => server.close());

  it('needs an administrator bearer token (RFC 6750 §3) like the rest of the admin API', async () => {
    const response = await fetch(`${server.url}/admin/v1/users`);
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="gatehouse-admin"');
    const post = await fetch(`${server.url}/admin/v1/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":"x@example.com","name":"X"}' });
    assert.equal(post.status, 401);
    assert.equal((await call('GET', `/users?email=x%40example.com`)).json.data.length, 0, 'nothing was created');
  });

  it('lists every directory route in the OpenAPI document', async () => {
    const document = await (await fetch(`${server.url}/admin/v1/openapi.json`)).json() as { paths: Record<string, Record<string, unknown>> };
    const expected: Record<string, string[]> = {
      '/admin/v1/organizations': ['get', 'post'], '/admin/v1/organizations/{id}': ['delete', 'get', 'patch'],
      '/admin/v1/companies': ['get', 'post'], '/admin/v1/companies/{id}': ['delete', 'get', 'patch'],
      '/admin/v1/users': ['get', 'post'], '/admin/v1/users/{id}': ['delete', 'get', 'patch'],
      '/admin/v1/users/{user_id}/administers/{subject_type}/{subject_id}': ['delete', 'put'],
      '/admin/v1/resource-servers': ['get', 'post'], '/admin/v1/resource-servers/{client_id}': ['delete'],
      '/admin/v1/developers/{user_id}': ['delete', 'put'],
    };
    for (const [path, methods] of Object.entries(expected)) assert.deepEqual(Object.keys(document.paths[path] ?? {}).sort(), methods, path);
  });

  describe('organizations and companies', () => {
    it('POST creates with the caller\'s UUID (lowercased) and answers 201 with id, fields and created_at; GET shows it; audited', async () => {
      const id = randomUUID().toUpperCase();
      const created = await call('POST', '/organizations', { id, name: 'Fjord Holding' });
      assert.equal(created.status, 201);
      assert.deepEqual(created.json, { id: id.toLowerCase(), name: 'Fjord Holding', created_at: server.clock.nowSeconds(), updated_at: server.clock.nowSeconds() });
      assert.deepEqual((await call('GET', `/organizations/${id.toLowerCase()}`)).json, created.json);
      const company = await call('POST', '/companies', { name: 'Fjord ApS', organization_id: id.toLowerCase() });
      assert.equal(company.status, 201);
      assert.match(company.json.id, /^[0-9a-f-]{36}$/, 'generated when omitted');
      assert.equal(company.json.organization_id, id.toLowerCase());
      assert.ok((await auditTypes(server)).includes('directory.company.created admin:ops'));
    });

    it('refuses a duplicate id with 409, and bad or unknown members with 400 naming the field', async () => {
      const duplicate = await call('POST', '/companies', { id: DANMARK, name: 'Again' });
      assert.equal(duplicate.status, 409);
      assert.equal(duplicate.json.error, 'conflict');
      assert.equal(duplicate.json.field, 'id');
      const cases: [string, Record<string, unknown>, string][] = [
        ['/companies', { id: 'not-a-uuid', name: 'X' }, 'id'],
        ['/companies', { name: '' }, 'name'],
        ['/companies', { name: 'X'.repeat(201) }, 'name'],
        ['/companies', { id: randomUUID() }, 'name'],
        ['/companies', { name: 'X', organization_id: randomUUID() }, 'organization_id'],
        ['/companies', { name: 'X', organisation_id: ORGANIZATION }, 'organisation_id'],
        ['/organizations', { name: 'X', organization_id: ORGANIZATION }, 'organization_id'],
      ];
      for (const [path, body, field] of cases) {
        const response = await call('POST', path, body);
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(response.json.error, 'invalid_request');
        assert.equal(response.json.field, field, JSON.stringify(response.json));
      }
      assert.equal((await call('GET', `/companies?organization_id=${randomUUID()}`)).json.data.length, 0);
    });

    it('lists with cursor pagination and the organization_id filter', async () => {
      const group = (await call('POST', '/organizations', { name: 'Paged Group' })).json;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await call('POST', '/companies', { name: `Paged ${i}`, organization_id: group.id })).json.id);
      ids.sort();
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const response: { status: number; json: { data: { id: string }[]; next_cursor: string | null } } =
          await call('GET', `/companies?organization_id=${group.id}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        assert.equal(response.status, 200);
        assert.ok(response.json.data.length <= 2);
        seen.push(...response.json.data.map((company) => company.id));
        cursor = response.json.next_cursor;
      } while (cursor);
      assert.deepEqual(seen, ids);
      assert.equal((await call('GET', '/companies?limit=0')).json.field, 'limit');
      assert.equal((await call('GET', '/companies?cursor=nonsense')).json.field, 'cursor');
    });

    it('PATCH changes the name and moves a company; 404 for an unknown id', async () => {
      const company = (await call('POST', '/companies', { name: 'Mover' })).json;
      server.clock.advanceSeconds(5);
      const moved = await call('PATCH', `/companies/${company.id}`, { name: 'Mover ApS', organization_id: ORGANIZATION });
      assert.equal(moved.status, 200);
      assert.equal(moved.json.name, 'Mover ApS');
      assert.equal(moved.json.organization_id, ORGANIZATION);
      assert.equal(moved.json.updated_at, company.created_at + 5);
      assert.equal((await call('PATCH', `/companies/${company.id}`, { organization_id: randomUUID() })).json.field, 'organization_id');
      assert.equal((await call('PATCH', `/companies/${randomUUID()}`, { name: 'X' })).status, 404);
      assert.equal((await call('GET', `/organizations/${DANMARK}`)).status, 404, 'a company is not an organization');
    });
  });

  describe('users', () => {
    it('POST creates a user (email, name, locale) with 201; a duplicate e-mail in any case or a duplicate id is 409 naming the field', async () => {
      const created = await call('POST', '/users', { email: 'Carla@Example.com', name: 'Carla Controller', locale: 'da-dk' });
      assert.equal(created.status, 201);
      assert.equal(created.json.email, 'Carla@Example.com');
      assert.equal(created.json.locale, 'da-DK');
      assert.equal(created.json.created_at, server.clock.nowSeconds());
      const again = await call('POST', '/users', { email: 'carla@EXAMPLE.com', name: 'Other Carla' });
      assert.equal(again.status, 409);
      assert.equal(again.json.field, 'email');
      const sameId = await call('POST', '/users', { id: created.json.id, email: 'carla2@example.com', name: 'Carla 2' });
      assert.equal(sameId.status, 409);
      assert.equal(sameId.json.field, 'id');
      for (const [body, field] of [[{ email: 'not-an-address', name: 'X' }, 'email'], [{ email: 'x@example.com' }, 'name'], [{ email: 'x@example.com', name: 'X', locale: 'not a tag' }, 'locale'], [{ email: 'x@example.com', name: 'X', password: 'secret' }, 'password']] as const) {
        const response = await call('POST', '/users', body);
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(response.json.field, field);
      }
      const found = await call('GET', `/users?email=${encodeURIComponent('CARLA@example.com')}`);
      assert.deepEqual(found.json.data.map((user: { id: string }) => user.id), [created.json.id]);
      assert.equal(found.json.next_cursor, null);
    });

    it('GET /users/{id} shows what the user administers; PATCH changes fields; 404 for an unknown user', async () => {
      const alice = await call('GET', `/users/${seed.users.alice.id}`);
      assert.equal(alice.status, 200);
      assert.equal(alice.json.email, seed.users.alice.email);
      assert.deepEqual(alice.json.administers.map((membership: { type: string; id: string }) => `${membership.type}:${membership.id}`).sort(),
        [`company:${DANMARK}`, `company:${SVERIGE}`, `organization:${ORGANIZATION}`].sort());
      const user = (await call('POST', '/users', { email: 'dora@example.com', name: 'Dora' })).json;
      const patched = await call('PATCH', `/users/${user.id}`, { name: 'Dora Director', locale: 'sv-SE' });
      assert.equal(patched.status, 200);
      assert.equal(patched.json.name, 'Dora Director');
      assert.equal(patched.json.locale, 'sv-SE');
      assert.equal((await call('PATCH', `/users/${user.id}`, { email: seed.users.bob.email.toUpperCase() })).status, 409);
      assert.equal((await call('GET', `/users/${user.id.toUpperCase()}`)).json.id, user.id, 'a path id in any case');
      assert.equal((await call('GET', `/users/${randomUUID()}`)).status, 404);
      assert.equal((await call('DELETE', `/users/${randomUUID()}`)).status, 404);
    });

    it('PUT and DELETE /users/{user_id}/administers/{subject_type}/{subject_id} answer 204; unknown user, subject or membership 404', async () => {
      const user = (await call('POST', '/users', { email: 'erik@example.com', name: 'Erik' })).json;
      const path = `/users/${user.id}/administers/company/${SVERIGE}`;
      assert.equal((await call('PUT', path)).status, 204);
      assert.equal((await call('PUT', path)).status, 204, 'idempotent');
      assert.deepEqual((await call('GET', `/users/${user.id}`)).json.administers, [{ type: 'company', id: SVERIGE }]);
      assert.equal((await call('PUT', `/users/${randomUUID()}/administers/company/${SVERIGE}`)).status, 404);
      assert.equal((await call('PUT', `/users/${user.id}/administers/company/${randomUUID()}`)).status, 404);
      assert.equal((await call('PUT', `/users/${user.id}/administers/team/${SVERIGE}`)).status, 400);
      assert.equal((await call('DELETE', path)).status, 204);
      assert.equal((await call('DELETE', path)).status, 404);
      const types = await auditTypes(server);
      assert.ok(types.includes('directory.membership.added admin:ops') && types.includes('directory.membership.removed admin:ops'));
    });

    it('DELETE /users/{user_id}/administers/…: a code the user obtained for that company before is refused, and the company\'s connection stays', async () => {
      const danmark = `urn:gatehouse:company:${DANMARK}`;
      const alices = await obtainTokens(server, { user: seed.users.alice, scope: 'users:read', extra: { urn_gatehouse_params_oauth_subject: danmark, prompt: 'consent' } });
      const bob = (await call('POST', '/users', { email: 'bo@example.com', name: 'Bo' })).json;
      await server.storage.users.setPasswordHash(bob.id, await hashPassword('correct horse battery staple'));
      assert.equal((await call('PUT', `/users/${bob.id}/administers/company/${DANMARK}`)).status, 204);
      const bobs = await authorize(server, { user: { email: 'bo@example.com', password: 'correct horse battery staple' }, scope: 'users:read', extra: { urn_gatehouse_params_oauth_subject: danmark, prompt: 'consent' } });
      const code = bobs.redirect.searchParams.get('code');
      assert.ok(code, bobs.redirect.href);
      assert.equal((await call('DELETE', `/users/${bob.id}/administers/company/${DANMARK}`)).status, 204);
      const exchange = await postForm(`${server.url}/oauth/token`, {
        grant_type: 'authorization_code', code: code!, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: bobs.codeVerifier,
      }, { authorization: confidentialAuth() });
      assert.equal(exchange.status, 400);
      assert.equal(exchange.json.error, 'invalid_grant');
      assert.equal(exchange.json.access_token, undefined, 'no token');
      assert.equal((await introspect(server, alices.tokens.access_token)).active, true, 'alice\'s connection was not superseded');
    });

    it('PUT and DELETE /developers/{user_id} make a directory user a partner developer and back (204; 404 unknown)', async () => {
      const user = (await call('POST', '/users', { email: 'fin@partner.example', name: 'Fin' })).json;
      assert.equal((await call('PUT', `/developers/${user.id}`)).status, 204);
      assert.equal(await server.storage.developers.isDeveloper(user.id), true);
      assert.equal((await call('DELETE', `/developers/${user.id}`)).status, 204);
      assert.equal(await server.storage.developers.isDeveloper(user.id), false);
      assert.equal((await call('DELETE', `/developers/${user.id}`)).status, 404);
      assert.equal((await call('PUT', `/developers/${randomUUID()}`)).status, 404);
      const types = await auditTypes(server);
      assert.ok(types.includes('developer.added admin:ops') && types.includes('developer.removed admin:ops'));
    });
  });

  describe('resource servers (SPEC decision 14)', () => {
    it('POST registers introspection credentials for an audience, the secret once (stored as SHA-256); they introspect that audience\'s tokens', async () => {
      const created = await call('POST', '/resource-servers', { audience: API_AUDIENCE, name: 'Ledger API' });
      assert.equal(created.status, 201);
      assert.match(created.json.client_id, /^[0-9a-f-]{36}$/);
      assert.match(created.json.client_secret, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(created.json.audience, API_AUDIENCE);
      const stored = await server.storage.clients.find(created.json.client_id);
      assert.equal(stored?.kind, 'resource_server');
      assert.equal(stored?.secretDigest, createHash('sha256').update(created.json.client_secret).digest('base64url'));
      const listed = await call('GET', '/resource-servers');
      assert.ok(listed.json.some((entry: { client_id: string }) => entry.client_id === created.json.client_id));
      assert.ok(!JSON.stringify(listed.json).includes(created.json.client_secret));
      assert.ok(!JSON.stringify(await server.storage.audit.list({ limit: 1000 })).includes(created.json.client_secret));

      const { tokens } = await obtainTokens(server);
      const credentials = basic(created.json.client_id, created.json.client_secret);
      assert.equal((await introspect(server, tokens.access_token, credentials)).active, true);

      const deleted = await call('DELETE', `/resource-servers/${created.json.client_id}`);
      assert.equal(deleted.status, 200);
      assert.equal(deleted.json.status, 'deleted');
      const refused = await postForm(`${server.url}/oauth/token/introspect`, { token: tokens.access_token }, { authorization: credentials });
      assert.equal(refused.status, 401);
      assert.equal(refused.json.error, 'invalid_client');
      assert.equal((await call('DELETE', `/resource-servers/${created.json.client_id}`)).status, 404);
      assert.equal((await call('DELETE', `/resource-servers/${seed.confidentialClient.id}`)).status, 404, 'a partner client is not a resource server');
      const types = await auditTypes(server);
      assert.ok(types.includes('resource_server.registered admin:ops') && types.includes('resource_server.deleted admin:ops'));
    });

    it('refuses an audience that is not an absolute https URI (http only for localhost outside production), naming the field', async () => {
      for (const audience of ['api.example', 'http://api.example', 'https://user@api.example', 'https://api.example/#x']) {
        const response = await call('POST', '/resource-servers', { audience });
        assert.equal(response.status, 400, audience);
        assert.equal(response.json.field, 'audience');
      }
      assert.equal((await call('POST', '/resource-servers', {})).json.field, 'audience');
    });

    it('POST with scopes registers another API with its scope family (RFC 8707, issue 15 section 4); GET lists each audience\'s family', async () => {
      const audience = 'https://ledger.api.example';
      const created = await call('POST', '/resource-servers', { audience, name: 'Ledger API', scopes: ['accounts:read', 'accounts:write'] });
      assert.equal(created.status, 201);
      assert.deepEqual(created.json.scopes, ['accounts:read', 'accounts:write']);
      assert.deepEqual(await server.storage.resources.find(audience), { resource: audience, name: 'Ledger API', scopes: ['accounts:read', 'accounts:write'], createdAt: server.clock.nowSeconds() });
      const listed = await call('GET', '/resource-servers');
      const scopesOf = (clientId: string) => listed.json.find((entry: { client_id: string }) => entry.client_id === clientId)?.scopes;
      assert.deepEqual(scopesOf(created.json.client_id), ['accounts:read', 'accounts:write']);
      assert.ok(!scopesOf(seed.resourceServer.id).includes('accounts:read'), 'the default API keeps only the scopes no other API claims');
      assert.ok(scopesOf(seed.resourceServer.id).includes('users:read'));
      // Refusals naming the field; none of them registers anything.
      for (const [input, status, field] of [
        [{ audience, scopes: ['accounts:read'] }, 409, 'audience'],
        [{ audience: 'https://other.api.example', scopes: ['accounts:read'] }, 400, 'scopes'],
        [{ audience: 'https://other.api.example', scopes: ['payroll:read'] }, 400, 'scopes'],
        [{ audience: 'https://other.api.example', scopes: [] }, 400, 'scopes'],
        [{ audience: API_AUDIENCE, scopes: ['vendors:read'] }, 400, 'scopes'],
      ] as const) {
        const refused = await call('POST', '/resource-servers', input);
        assert.equal(refused.status, status, JSON.stringify(input));
        assert.equal(refused.json.field, field, JSON.stringify(input));
      }
      assert.equal(await server.storage.resources.find('https://other.api.example'), undefined);
      // Deleting its last credentials removes the API: no token is issued for it any more.
      assert.equal((await call('DELETE', `/resource-servers/${created.json.client_id}`)).status, 200);
      assert.equal(await server.storage.resources.find(audience), undefined);
      const types = await auditTypes(server);
      assert.ok(types.includes('resource.registered admin:ops') && types.includes('resource.removed admin:ops'));
    });
  });
});

for (const backend of ['sqlite', 'postgres'] as const) describe(`directory lifecycle rules (issue 10 §1), over HTTP: ${backend}`, { skip: backend === 'postgres' ? postgresSkip : false }, () => {
  /** A server on this backend (PostgreSQL: a fresh schema, dropped when the server closes). */
  const adminServer = async (overrides: Parameters<typeof startTestServer>[0] = {}) =>
    adminServerOn({ ...(backend === 'postgres' ? { storage: await createTestPostgresStorage() } : {}), ...overrides });

  it('of two APIs registered at once claiming the same scope, one is created and the other refused 400 scopes naming it (issue 15 §4)', async () => {
    const { server, call } = await adminServer();
    try {
      // Called directly, both at once: on SQLite both read the catalogue before either stores its resource, so
      // the refusal comes from the store's atomic claim (over HTTP the second request usually sees the first's
      // row). PostgreSQL's race of the claim itself is in the storage contract suite (contract/resources.ts).
      const context = { storage: server.storage, environment: 'development' as const, now: server.clock.nowSeconds(), actor: 'admin:ops', defaultAudience: API_AUDIENCE };
      const audiences = ['https://ledger.api.example', 'https://payables.api.example'];
      const outcomes = await Promise.allSettled(audiences.map((audience, index) => createResourceServer(context, { audience, scopes: [index === 0 ? 'accounts:read' : 'export-jobs:read', 'accounts:write'] })));
      assert.deepEqual(outcomes.map((outcome) => outcome.status).sort(), ['fulfilled', 'rejected']);
      const refusal = outcomes.find((outcome) => outcome.status === 'rejected')!.reason;
      assert.ok(refusal instanceof DirectoryError);
      assert.deepEqual([refusal.status, refusal.field, refusal.message], [400, 'scopes', 'scopes already belong to another API: accounts:write']);
      const winner = audiences[outcomes.findIndex((outcome) => outcome.status === 'fulfilled')];
      assert.deepEqual((await server.storage.resources.list()).filter((resource) => resource.scopes.includes('accounts:write')).map((resource) => resource.resource), [winner]);
      const listed = (await call('GET', '/resource-servers')).json as { audience: string }[];
      assert.deepEqual(listed.filter((entry) => audiences.includes(entry.audience)).map((entry) => entry.audience), [winner], 'the refused API got no credentials');
    } finally {
      await server.close();
    }
  });

  it('removing a membership stops that user consenting for the subject at once (no code), while the grant already made stays active', async () => {
    const { server, call } = await adminServer();
    try {
      const bob = { email: seed.users.bob.email, password: seed.users.bob.password };
      const { tokens } = await obtainTokens(server, { user: bob });
      // Bob is on the consent page when his membership is removed: his Allow is refused.
      const browser = new Browser();
      const pkce = pkcePair();
      const url = authorizeUrl(server, {
        response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri, scope: 'users:read',
        state: 'state-1', code_challenge: pkce.codeChallenge, code_challenge_method: 'S256', prompt: 'consent',
      });
      const loginPage = await browser.get(url);
      const login = await browser.post(`${server.url}/login`, { _csrf: inputValue(loginPage.text, '_csrf')!, return_to: inputValue(loginPage.text, 'return_to')!, ...bob });
      const consent = await browser.get(new URL(login.location!, server.url).href);
      assert.match(consent.text, /action="\/oauth\/authorize\/decision"/);

      assert.equal((await call('DELETE', `/users/${seed.users.bob.id}/administers/company/${DANMARK}`)).status, 204);

      const decision = await browser.post(`${server.url}/oauth/authorize/decision`, {
        ...hiddenInputs(consent.text), subject: `urn:gatehouse:company:${DANMARK}`, decision: 'allow',
      });
      assert.equal(decision.status, 303);
      const redirect = new URL(decision.location!);
      assert.equal(redirect.searchParams.get('error'), 'access_denied');
      assert.equal(redirect.searchParams.get('code'), null);
      // A new request: still no code, but the page saying bob has no company to connect (the app hears
      // access_denied only through its "Back to" link there).
      const retry = await browser.get(url);
      assert.equal(retry.status, 403);
      assert.match(retry.text, /You have no company to connect/);
      assert.doesNotMatch(retry.text, /[?&]code=/);
      // The grant belongs to the company: it stays, and its tokens keep working.
      assert.equal((await introspect(server, tokens.access_token)).active, true);
      const refreshed = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
      assert.equal(refreshed.status, 200);
      const grants = await call('GET', `/grants?user_id=${seed.users.bob.id}`);
      assert.equal(grants.json.length, 1, 'connected apps still shows who connected it');
    } finally {
      await server.close();
    }
  });

  it('a set-password link stops working when the user\'s e-mail address changes (PATCH or import): it went to whoever held the old address', async () => {
    const { server, call } = await adminServer();
    try {
      const created = await call('POST', '/users', { email: 'karin@tpyo.example', name: 'Karin Kasserer' });
      assert.equal(created.status, 201);
      const id = created.json.id as string;
      const invitation = await call('POST', `/users/${id}/invitation`);
      assert.equal(invitation.status, 201);
      assert.equal((await fetch(invitation.json.url)).status, 200, 'the link works');
      // A correction of the name (the same address) keeps the link.
      assert.equal((await call('PATCH', `/users/${id}`, { name: 'Karin Kassér' })).status, 200);
      assert.equal((await fetch(invitation.json.url)).status, 200, 'same address: still usable');
      // The address corrected: the link mailed to the mistyped one is void.
      assert.equal((await call('PATCH', `/users/${id}`, { email: 'karin@typo.example' })).status, 200);
      assert.equal((await fetch(invitation.json.url)).status, 410, 'voided by the change of address');
      // The same through the import.
      const again = await call('POST', `/users/${id}/invitation`);
      assert.equal((await fetch(again.json.url)).status, 200);
      const report = await importDirectory({ storage: server.storage, environment: 'development', now: server.clock.nowSeconds(), actor: 'admin:ops' },
        { users: [{ id, email: 'karin@elsewhere.example', name: 'Karin Kassér' }] });
      assert.deepEqual([report.updated, report.refused], [1, []]);
      assert.equal((await fetch(again.json.url)).status, 410, 'voided by the import\'s change of address');
    } finally {
      await server.close();
    }
  });

  it("a change of e-mail address (PATCH, import) ends what the old address's holder got: sessions, a sign-in at its second step, links, the password and factor set through them", async () => {
    const { server, call } = await adminServer();
    try {
      const PASSWORD = 'periwinkle saxophone glacier';
      const created = await call('POST', '/users', { email: 'karin@tpyo.example', name: 'Karin Kasserer' });
      const id = created.json.id as string;
      assert.equal((await call('PUT', `/users/${id}/administers/company/${DANMARK}`)).status, 204);
      // Whoever holds the mistyped address uses the invitation: sets a password and signs in.
      const setPassword = async (url: string, password: string) => {
        const browser = new Browser();
        const form = await browser.get(url);
        assert.equal(form.status, 200);
        return browser.post(`${server.url}/account/set-password`, {
          _csrf: inputValue(form.text, '_csrf')!, token: inputValue(form.text, 'token')!, password, password_confirmation: password,
        });
      };
      const passwordStep = async (browser: Browser, email: string, password: string) => {
        const page = await browser.get(`${server.url}/account/sessions`);
        return browser.post(`${server.url}/login`, { _csrf: inputValue(page.text, '_csrf')!, return_to: '/account/sessions', email, password });
      };
      const signedIn = async (browser: Browser) => !/action="\/login[?"]/.test((await browser.get(`${server.url}/account/sessions`)).text);
      assert.equal((await setPassword((await call('POST', `/users/${id}/invitation`)).json.url, PASSWORD)).status, 200);
      const holder = new Browser();
      assert.equal((await passwordStep(holder, 'karin@tpyo.example', PASSWORD)).status, 303);
      assert.equal(await signedIn(holder), true);
      // … obtains a code it has not redeemed yet (a consent with the session) …
      const unredeemed = await authorize(server, { browser: holder, extra: { prompt: 'consent' } });
      const code = unredeemed.redirect.searchParams.get('code')!;
      assert.ok(code);
      // … enrols a factor (arranged in storage), and has a sign-in waiting at its second step in another browser.
      const now = server.clock.nowSeconds();
      assert.equal(await server.storage.localAccounts.startSecondFactor(id, 'ciphertext', now), true);
      assert.equal(await server.storage.localAccounts.confirmSecondFactor(id, 1, [createHash('sha256').update('recovery').digest('base64url')], now), true);
      const waiting = new Browser();
      assert.equal((await passwordStep(waiting, 'karin@tpyo.example', PASSWORD)).location, '/login/second-factor');
      assert.equal((await waiting.get(`${server.url}/login/second-factor`)).status, 200);
      const pendingLink = (await call('POST', `/users/${id}/invitation`)).json.url as string;

      // Neither a new name nor the same address in capitals is a new address: nothing ends.
      assert.equal((await call('PATCH', `/users/${id}`, { name: 'Karin Kassér', email: 'Karin@TPYO.example' })).status, 200);
      assert.equal(await signedIn(holder), true, 'same address: the session stays');
      assert.equal((await waiting.get(`${server.url}/login/second-factor`)).status, 200, 'same address: the second step stays');
      assert.ok((await server.storage.users.find(id))?.passwordHash, 'same address: the password stays');

      // The address corrected.
      const corrected = await call('PATCH', `/users/${id}`, { email: 'karin@typo.example' });
      assert.equal(corrected.status, 200);
      assert.equal(corrected.json.email, 'karin@typo.example');
      assert.equal(await signedIn(holder), false, "the old holder's session is ended");
      assert.deepEqual(await server.storage.loginSessions.listActiveOfUser(id, server.clock.nowSeconds()), []);
      const secondStep = await waiting.get(`${server.url}/login/second-factor`);
      assert.equal(secondStep.status, 401, 'the sign-in at its second step is ended');
      assert.equal(await signedIn(waiting), false);
      assert.equal((await fetch(pendingLink)).status, 410, 'the unused link is void');
      assert.equal((await server.storage.users.find(id))?.passwordHash, null, 'the password set through the old address is cleared');
      assert.equal(await server.storage.localAccounts.findSecondFactor(id), undefined, 'and the factor enrolled with it');
      assert.equal((await passwordStep(new Browser(), 'karin@typo.example', PASSWORD)).status, 401, 'the old password signs nobody in');
      assert.equal((await passwordStep(new Browser(), 'karin@tpyo.example', PASSWORD)).status, 401);
      assert.deepEqual((await call('GET', `/users/${id}`)).json.administers, [{ type: 'company', id: DANMARK }], 'memberships stay');
      const exchange = await postForm(`${server.url}/oauth/token`, {
        grant_type: 'authorization_code', code, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: unredeemed.codeVerifier,
      }, { authorization: confidentialAuth() });
      assert.equal(exchange.status, 400);
      assert.equal((exchange.json as { error: string }).error, 'invalid_grant', 'the unredeemed code is void: no tokens');

      // The new address's owner sets a password through a new link and signs in, with no second step of the old holder's.
      const OWNER_PASSWORD = 'marmalade thunder quarry';
      assert.equal((await setPassword((await call('POST', `/users/${id}/invitation`)).json.url, OWNER_PASSWORD)).status, 200);
      const owner = new Browser();
      const ownerLogin = await passwordStep(owner, 'karin@typo.example', OWNER_PASSWORD);
      assert.equal(ownerLogin.location, '/account/sessions');
      assert.equal(await signedIn(owner), true);

      // The import's change of address does the same.
      const report = await importDirectory({ storage: server.storage, environment: 'development', now: server.clock.nowSeconds(), actor: 'admin:ops' },
        { users: [{ id, email: 'karin@elsewhere.example', name: 'Karin Kassér' }] });
      assert.deepEqual([report.updated, report.refused], [1, []]);
      assert.equal(await signedIn(owner), false, 'ended by the import');
      assert.equal((await server.storage.users.find(id))?.passwordHash, null);
    } finally {
      await server.close();
    }
  });

  it('deleting a user ends their login sessions everywhere and they cannot log in again; grants they made stay; the e-mail may be reused', async () => {
    const { server, call } = await adminServer();
    try {
      const { tokens, browser } = await obtainTokens(server);
      const deleted = await call('DELETE', `/users/${seed.users.alice.id}`);
      assert.equal(deleted.status, 200);
      assert.equal(deleted.json.login_sessions_ended, 1);
      assert.equal(deleted.json.memberships_removed, 3);
      // The same browser is sent to the login page again (its session is gone), and Alice's password no longer works.
      const page = await browser.get(authorizeUrl(server, {
        response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri, scope: 'users:read',
        state: 'state-2', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256',
      }));
      assert.match(page.text, /action="\/login[?"]/);
      const login = await browser.post(`${server.url}/login`, {
        _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!, email: seed.users.alice.email, password: seed.users.alice.password,
      });
      assert.notEqual(login.status, 303, 'a deleted user cannot log in');
      assert.equal((await introspect(server, tokens.access_token)).active, true, 'the grant belongs to the company');
      assert.equal((await call('GET', `/users/${seed.users.alice.id}`)).status, 404);
      assert.equal((await call('POST', '/users', { id: seed.users.alice.id, email: 'new@example.com', name: 'New' })).status, 409);
      assert.equal((await call('POST', '/users', { email: seed.users.alice.email, name: 'Alice Again' })).status, 201);
      assert.ok((await auditTypes(server)).includes('directory.user.deleted admin:ops'));
    } finally {
      await server.close();
    }
  });

  it('deleting a company revokes every grant on it: introspection inactive, refresh invalid_grant; an organization with companies is 409', async () => {
    const { server, call } = await adminServer();
    try {
      const { tokens } = await obtainTokens(server, { subject: `urn:gatehouse:company:${SVERIGE}` });
      const refused = await call('DELETE', `/organizations/${ORGANIZATION}`);
      assert.equal(refused.status, 409);
      assert.equal(refused.json.error, 'conflict');
      assert.equal((await introspect(server, tokens.access_token)).active, true, 'a refused deletion changes nothing');

      const deleted = await call('DELETE', `/companies/${SVERIGE}`);
      assert.equal(deleted.status, 200);
      assert.equal(deleted.json.grants_revoked, 1);
      assert.equal((await introspect(server, tokens.access_token)).active, false);
      const refresh = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
      assert.equal(refresh.status, 400);
      assert.equal(refresh.json.error, 'invalid_grant');
      assert.equal((await call('GET', `/companies/${SVERIGE}`)).status, 404);
      assert.ok((await auditTypes(server)).includes('directory.company.deleted admin:ops'));
    } finally {
      await server.close();
    }
  });

  it('deleting a company revokes its API keys: the answer counts them, and none answers for the id if it is created again (issue 16)', async () => {
    const { server, call } = await adminServer();
    try {
      const keyId = randomUUID();
      await server.storage.apiKeys.create({
        keyId, keyDigest: randomBytes(32).toString('base64url'), displayPrefix: 'gak_abcdef', keyType: 'standalone', name: 'Export', clientId: null,
        subjectType: 'company', subjectId: SVERIGE, scopes: ['users:read'], createdByUserId: seed.users.alice.id, createdAt: server.clock.nowSeconds(),
        expiresAt: null, lastUsedAt: null, revokedAt: null, revocationReason: null,
      });
      const deleted = await call('DELETE', `/companies/${SVERIGE}`);
      assert.equal(deleted.status, 200);
      assert.equal(deleted.json.api_keys_revoked, 1);
      assert.equal((await server.storage.apiKeys.find(keyId))?.revocationReason, 'revoked');
      assert.equal((await call('POST', '/companies', { id: SVERIGE, name: 'Someone else' })).status, 201);
      assert.notEqual((await server.storage.apiKeys.find(keyId))?.revokedAt, null, 'the key stays revoked for the new company');
    } finally {
      await server.close();
    }
  });

  it('a code obtained before its company was deleted no longer redeems (invalid_grant, no tokens)', async () => {
    const { server, call } = await adminServer();
    try {
      const { redirect, codeVerifier } = await authorize(server, { subject: `urn:gatehouse:company:${SVERIGE}` });
      assert.equal((await call('DELETE', `/companies/${SVERIGE}`)).status, 200);
      const exchange = await postForm(`${server.url}/oauth/token`, {
        grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier,
      }, { authorization: confidentialAuth() });
      assert.equal(exchange.status, 400);
      assert.equal(exchange.json.error, 'invalid_grant');
      // It was never redeemed: it answers as an unknown code, not as a replay (README "Consent and codes").
      assert.equal(exchange.json.error_description, 'authorization code is invalid or expired');
      assert.equal(exchange.json.access_token, undefined);
    } finally {
      await server.close();
    }
  });

  it('a token\'s sub is the directory user\'s id: introspection and JWT access tokens (RFC 7662 §2.2, RFC 9068 §2.2)', async () => {
    const { server, call } = await adminServer({ accessTokenFormat: 'jwt' });
    try {
      const created = (await call('POST', '/users', { email: 'gry@example.com', name: 'Gry' })).json;
      assert.equal((await call('PUT', `/users/${created.id}/administers/company/${DANMARK}`)).status, 204);
      await server.storage.users.setPasswordHash(created.id, await hashPassword('gry-test-password'));
      const { tokens } = await obtainTokens(server, { user: { email: 'gry@example.com', password: 'gry-test-password' } });
      assert.equal(decodeJwt(tokens.access_token).sub, created.id);
      assert.equal((await introspect(server, tokens.access_token)).sub, created.id);
    } finally {
      await server.close();
    }
  });
});
