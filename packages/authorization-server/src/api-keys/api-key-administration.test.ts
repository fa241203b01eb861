/**
 * Issue 16: API keys in the admin API (/admin/v1/api-keys, the integration flag) and the CLI
 * (`gatehouse api-keys list|revoke|enable-integration|disable-integration`).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAdminToken } from '../admin/admin-credentials.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { ApiKeyRecord } from '../storage/storage.ts';
import { gatehouse } from '../testing/cli.ts';
import { Browser, inputValue, languageSwitchForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';

const keyRecord = (overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({
  keyId: randomUUID(), keyDigest: randomUUID(), displayPrefix: 'gak_abcdef', keyType: 'standalone', name: 'Script', clientId: null, subjectType: 'company',
  subjectId: seed.companies[0].id, scopes: ['users:read'], createdByUserId: seed.users.alice.id, createdAt: 1_800_000_000, expiresAt: null,
  lastUsedAt: null, revokedAt: null, revocationReason: null, ...overrides,
});

describe('API keys in the admin API (issue 16)', () => {
  let server: TestServer;
  let token: string;
  before(async () => {
    server = await startTestServer();
    token = (await createAdminToken(server.storage, 'ops-alice', server.clock.nowSeconds())).token;
  });
  after(() => server?.close());

  const call = async (method: string, path: string, body?: unknown, authorization = `Bearer ${token}`) => {
    const init: RequestInit = { method, headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(`${server.url}/admin/v1${path}`, init);
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  };

  it('refuses callers without an administrator token (401) and lists nothing', async () => {
    assert.equal((await call('GET', '/api-keys', undefined, 'Bearer nope')).status, 401);
    assert.equal((await call('DELETE', `/api-keys/${randomUUID()}`, undefined, '')).status, 401);
  });

  it('lists keys without value or digest, revokes one (audited with the administrator), 404 unknown, 409 twice', async () => {
    const key = keyRecord();
    await server.storage.apiKeys.create(key);
    const listed = await call('GET', `/api-keys?subject_urn=urn:gatehouse:company:${seed.companies[0].id}`);
    assert.equal(listed.status, 200);
    const shown = listed.json.find((candidate: { key_id: string }) => candidate.key_id === key.keyId);
    assert.equal(shown.state, 'active');
    assert.ok(!JSON.stringify(listed.json).includes(key.keyDigest), 'no digest is shown');
    assert.equal((await call('GET', '/api-keys?subject_urn=nope')).status, 400);
    const revoked = await call('DELETE', `/api-keys/${key.keyId}`);
    assert.equal(revoked.status, 200);
    assert.equal(revoked.json.state, 'revoked');
    assert.equal((await call('DELETE', `/api-keys/${key.keyId}`)).status, 409);
    assert.equal((await call('DELETE', `/api-keys/${randomUUID()}`)).status, 404);
    assert.equal((await call('GET', `/api-keys/${randomUUID()}`)).status, 404);
    const [event] = await server.storage.audit.list({ types: ['api_key.revoked'] });
    assert.equal(event?.actor, 'admin:ops-alice');
    assert.equal(event?.details?.key_id, key.keyId);
    const all = await call('GET', '/api-keys?include_revoked=true');
    assert.ok(all.json.some((candidate: { key_id: string }) => candidate.key_id === key.keyId));
    assert.ok(!(await call('GET', '/api-keys')).json.some((candidate: { key_id: string }) => candidate.key_id === key.keyId));
  });

  it('sets the integration flag pre-scoped within the client\'s scopes; a wider scope is invalid_scope and changes nothing', async () => {
    const clientId = seed.confidentialClient.id;
    const wider = await call('PUT', `/clients/${clientId}/api-key-integration`, { scope: 'users:read admin:all' });
    assert.equal(wider.status, 400);
    assert.equal(wider.json.error, 'invalid_scope');
    assert.equal(await server.storage.apiKeys.findIntegration(clientId), undefined);
    const enabled = await call('PUT', `/clients/${clientId}/api-key-integration`, { scope: 'users:read' });
    assert.equal(enabled.status, 200);
    assert.equal(enabled.json.scope, 'users:read');
    assert.equal(enabled.json.enabled_by, 'admin:ops-alice');
    assert.equal((await call('PUT', `/clients/${randomUUID()}/api-key-integration`, {})).status, 404);
    assert.equal((await call('DELETE', `/clients/${clientId}/api-key-integration`)).status, 204);
    assert.equal((await call('DELETE', `/clients/${clientId}/api-key-integration`)).status, 404);
  });
});

describe('API keys in the administrators\' console /admin/api-keys (issue 16)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await server.storage.consoleAdministrators.grant(seed.users.alice.id, server.clock.nowSeconds());
  });
  after(() => server?.close());

  async function signIn(user: { email: string; password: string }): Promise<Browser> {
    const browser = new Browser();
    const login = await browser.get(`${server.url}/admin/api-keys`);
    assert.equal((await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: '/', email: user.email, password: user.password })).status, 303);
    return browser;
  }

  it('lists active keys and revokes one after a confirmation; 403 without the role, 404 for unknown keys', async () => {
    const key = keyRecord({ name: 'Nightly sync' });
    await server.storage.apiKeys.create(key);
    const bob = await signIn(seed.users.bob);
    assert.equal((await bob.get(`${server.url}/admin/api-keys`)).status, 403);
    const browser = await signIn(seed.users.alice);
    const listing = await browser.get(`${server.url}/admin/api-keys`);
    assert.equal(listing.status, 200);
    assert.match(listing.text, /Nightly sync/);
    assert.match(listing.text, /Nordlys Danmark ApS/);
    // The console's whole navigation, as on its other pages.
    for (const link of ['/admin/users', '/admin/companies', '/admin/organizations', '/admin/audit']) assert.match(listing.text, new RegExp(`href="${link}"`));
    const csrf = inputValue(listing.text, '_csrf')!;
    const confirmation = await browser.post(`${server.url}/admin/api-keys/${key.keyId}/revoke`, { _csrf: csrf });
    assert.equal(confirmation.status, 200);
    assert.match(confirmation.text, /<h1>Revoke the API key Nightly sync for Nordlys Danmark ApS\?<\/h1>/);
    assert.equal((await server.storage.apiKeys.find(key.keyId))?.revokedAt, null);
    const revoked = await browser.post(`${server.url}/admin/api-keys/${key.keyId}/revoke`, { _csrf: csrf, confirm: 'yes' });
    assert.equal(revoked.status, 303);
    assert.match((await browser.get(`${server.url}${revoked.location}`)).text, /The API key Nightly sync was revoked\./);
    assert.notEqual((await server.storage.apiKeys.find(key.keyId))?.revokedAt, null);
    assert.equal((await browser.post(`${server.url}/admin/api-keys/${key.keyId}/revoke`, { _csrf: csrf, confirm: 'yes' })).status, 404);
    const [event] = await server.storage.audit.list({ types: ['api_key.revoked'] });
    assert.equal(event?.actor, `admin:${seed.users.alice.name} (user:${seed.users.alice.id})`);
  });

  it("the revocation's language switch shows the confirmation again in French and revokes nothing, confirm=yes or not", async () => {
    const key = keyRecord({ name: 'Kept sync' });
    await server.storage.apiKeys.create(key);
    const browser = await signIn(seed.users.alice);
    const csrf = inputValue((await browser.get(`${server.url}/admin/api-keys`)).text, '_csrf')!;
    const path = `/admin/api-keys/${key.keyId}/revoke`;
    const confirmation = await browser.post(`${server.url}${path}`, { _csrf: csrf });
    assert.doesNotMatch(confirmation.text, /href="\/language\?/, 'no link away from the pending confirmation');
    const toFrench = languageSwitchForm(confirmation.text, 'fr');
    assert.equal(toFrench.action, path);
    assert.equal(toFrench.body.get('confirm'), null, 'the switch does not confirm');
    for (const form of [Object.fromEntries(toFrench.body), { ...Object.fromEntries(toFrench.body), confirm: 'yes' }]) {
      const french = await browser.post(`${server.url}${path}`, form);
      assert.equal(french.status, 200, 'a form with locale shows the confirmation, confirm=yes or not');
      assert.match(french.text, /<html lang="fr"/);
      assert.ok(french.text.includes(`<h1>Révoquer la clé d’API Kept sync pour ${seed.companies[0].name} ?</h1>`));
      assert.ok(french.text.includes('<input type="hidden" name="confirm" value="yes">'));
      assert.equal((await server.storage.apiKeys.find(key.keyId))?.revokedAt, null, 'not revoked');
    }
    assert.ok(!(await server.storage.audit.list({ types: ['api_key.revoked'], limit: 100 })).some((event) => event.details?.key_id === key.keyId));
  });
});

describe('gatehouse api-keys (issue 16)', () => {
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-api-keys-cli-'));
  after(() => rmSync(directory, { recursive: true, force: true }));

  it('lists, revokes (exit 2, a refused change, when already revoked or unknown), enables and disables integrations; bad arguments exit 2', async () => {
    const database = join(directory, 'gatehouse.sqlite');
    assert.equal(gatehouse(database, ['migrate']).status, 0);
    const created = gatehouse(database, ['clients', 'create', '--name', 'Ledgerly Keys', '--type', 'confidential', '--redirect-uri', 'https://ledgerly.example/cb', '--scope', 'users:read vendors:read', '--json']);
    assert.equal(created.status, 0, created.stderr);
    const clientId = JSON.parse(created.stdout).client_id as string;
    const storage = createSqliteStorage(database);
    const key = keyRecord({ subjectId: randomUUID(), createdByUserId: randomUUID() });
    await storage.apiKeys.create(key);
    await storage.close();

    const listed = gatehouse(database, ['api-keys', 'list', '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout).map((entry: { key_id: string }) => entry.key_id), [key.keyId]);
    assert.match(gatehouse(database, ['api-keys', 'list']).stdout, new RegExp(`${key.keyId}  active`));
    assert.equal(gatehouse(database, ['api-keys', 'revoke', key.keyId]).status, 0);
    assert.equal(gatehouse(database, ['api-keys', 'revoke', key.keyId]).status, 2, 'already revoked');
    assert.equal(gatehouse(database, ['api-keys', 'revoke', randomUUID()]).status, 2, 'unknown');
    assert.deepEqual(JSON.parse(gatehouse(database, ['api-keys', 'list', '--json']).stdout), []);
    assert.equal(JSON.parse(gatehouse(database, ['api-keys', 'list', '--all', '--json']).stdout)[0].state, 'revoked');

    assert.equal(gatehouse(database, ['api-keys', 'enable-integration', clientId, '--scope', 'users:read accounts:write']).status, 2, 'wider than the client');
    const enabled = gatehouse(database, ['api-keys', 'enable-integration', clientId, '--scope', 'users:read', '--json']);
    assert.equal(enabled.status, 0, enabled.stderr);
    assert.deepEqual(JSON.parse(enabled.stdout), { client_id: clientId, scope: 'users:read' });
    assert.equal(gatehouse(database, ['api-keys', 'disable-integration', clientId]).status, 0);
    assert.equal(gatehouse(database, ['api-keys', 'disable-integration', clientId]).status, 2);
    assert.equal(gatehouse(database, ['api-keys', 'enable-integration', randomUUID()]).status, 2, 'an unknown client (README "The CLI")');

    for (const args of [['api-keys'], ['api-keys', 'frobnicate'], ['api-keys', 'revoke'], ['api-keys', 'list', '--subject-urn', 'nope'], ['api-keys', 'list', '--bogus']]) {
      assert.equal(gatehouse(database, args).status, 2, args.join(' '));
    }
    const check = createSqliteStorage(database);
    const events = await check.audit.list({ types: ['api_key.revoked', 'api_key.integration_enabled', 'api_key.integration_disabled'] });
    await check.close();
    assert.deepEqual(events.map((event) => event.type).sort(), ['api_key.integration_disabled', 'api_key.integration_enabled', 'api_key.revoked']);
    assert.ok(events.every((event) => event.actor === 'admin:cli'));
  });
});
