/**
 * Issue 13 (End users, Marketplace), black-box over HTTP against a real listening server: a description
 * and a category per app, set in the developer portal, the admin API and the CLI (validated alike, field
 * errors with the input kept); the marketplace's search (GET, no JavaScript), category filter, and the
 * "Connected" state for apps a company the user can see already uses.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createAdminToken } from '../admin/admin-credentials.ts';
import { registerClient } from '../clients/registration.ts';
import { gatehouse } from '../testing/cli.ts';
import { Browser, inputValue, obtainTokens, seed, startTestServer, type TestServer } from '../testing/harness.ts';

const danish = seed.companies[0];
const swedish = seed.companies[1];
const ledgerly = seed.confidentialClient.id;
const urn = (company: { id: string }) => `urn:gatehouse:company:${company.id}`;

async function signIn(server: TestServer, path: string, user: { email: string; password: string } = seed.users.alice): Promise<Browser> {
  const browser = new Browser();
  const login = await browser.get(`${server.url}${path}`);
  const answer = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: path, email: user.email, password: user.password });
  assert.equal(answer.status, 303);
  return browser;
}

/** The listing of one app on the marketplace page. */
const listing = (page: string, clientId: string) => new RegExp(`<section class="marketplace-app" data-client-id="${clientId}">([\\s\\S]*?)</section>`).exec(page)?.[1];
/** The apps listed on a marketplace page (OAuth listings, not the API-key integrations), in order. */
const listedIds = (page: string) => [...page.matchAll(/<section class="marketplace-app" data-client-id="([^"]+)">/g)].map((match) => match[1]);

describe('marketplace: description, category, search, filter and connected state (issue 13)', () => {
  let server: TestServer;
  let payroll: string;
  let books: string;
  before(async () => {
    server = await startTestServer();
    await server.storage.clients.update(ledgerly, { initiationUri: 'https://ledgerly.example/start' });
    const register = async (clientName: string, description: string, category: string) => (await registerClient(
      { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
      { clientName, clientType: 'confidential', redirectUris: ['https://fjord.example/callback'], scopes: ['users:read'], initiationUri: 'https://fjord.example/start', description, category },
    )).client.clientId;
    payroll = await register('Fjord Lønn', 'Salaries and PENSION for Nordic teams.\nSecond line <b>not bold</b>.', 'payroll');
    books = await register('Kvist Regnskab', 'Bogføring og moms for ÆBLE-virksomheder', 'accounting');
  });
  after(() => server.close());
  beforeEach(async () => {
    await server.storage.grants.revokeAllOfClient(ledgerly, server.clock.nowSeconds(), 'test_reset');
  });

  it('lists each app with its description (escaped, plain text) and translated category label', async () => {
    const browser = await signIn(server, '/marketplace');
    const page = await browser.get(`${server.url}/marketplace`);
    assert.equal(page.status, 200);
    const fjord = listing(page.text, payroll)!;
    assert.match(fjord, /<p class="app-description">Salaries and PENSION for Nordic teams\.\nSecond line &lt;b&gt;not bold&lt;\/b&gt;\.<\/p>/);
    assert.match(fjord, /<span class="badge category">Payroll<\/span>/);
    assert.doesNotMatch(listing(page.text, ledgerly)!, /app-description|badge category/, 'an app without a listing shows neither');
  });

  it('searches names and descriptions case- and accent-insensitively with a plain GET form, keeping what was typed', async () => {
    const browser = await signIn(server, '/marketplace');
    const page = await browser.get(`${server.url}/marketplace`);
    // A GET form: works without JavaScript, the search is a link that can be shared.
    assert.match(page.text, /<form class="marketplace-search" method="get" action="\/marketplace" role="search">/);
    assert.match(page.text, /<input id="marketplace-q" name="q" type="search"/);

    const pension = await browser.get(`${server.url}/marketplace?q=pension`);
    assert.deepEqual(listedIds(pension.text), [payroll], 'found by a word of the description, whatever its case');
    assert.match(pension.text, /value="pension"/);
    assert.match(pension.text, /1 app matches\./);
    assert.deepEqual(listedIds((await browser.get(`${server.url}/marketplace?q=KVIST`)).text), [books], 'by name');
    assert.deepEqual(listedIds((await browser.get(`${server.url}/marketplace?q=${encodeURIComponent('æble')}`)).text), [books], 'non-ASCII letters fold too');
    assert.deepEqual(listedIds((await browser.get(`${server.url}/marketplace?q=${encodeURIComponent('fjord LØNN')}`)).text), [payroll], 'every word, any case');
    assert.deepEqual(listedIds((await browser.get(`${server.url}/marketplace?q=${encodeURIComponent('bogfo\u0308ring')}`)).text), [], 'ø is a letter of its own, not o with a mark');
    assert.deepEqual(listedIds((await browser.get(`${server.url}/marketplace?q=nordic+salaries`)).text), [payroll], 'every word, in any order');
    assert.deepEqual(listedIds((await browser.get(`${server.url}/marketplace?q=fjord+moms`)).text), [], 'every word must match');

    const none = await browser.get(`${server.url}/marketplace?q=${encodeURIComponent('<script>alert(1)</script>')}`);
    assert.equal(none.status, 200);
    assert.doesNotMatch(none.text, /<script>alert/, 'the search is escaped where it is shown again');
    assert.match(none.text, /value="&lt;script&gt;alert\(1\)&lt;\/script&gt;"/);
    assert.match(none.text, /No app matches\. <a href="\/marketplace">Show all apps<\/a>/);
    assert.doesNotMatch(none.text, /No apps are listed yet/);
  });

  it('filters by category (unknown categories show every app), alone or with a search', async () => {
    const browser = await signIn(server, '/marketplace');
    const all = listedIds((await browser.get(`${server.url}/marketplace`)).text);
    assert.deepEqual([...all].sort(), [books, ledgerly, payroll].sort());
    const filtered = await browser.get(`${server.url}/marketplace?category=payroll`);
    assert.deepEqual(listedIds(filtered.text), [payroll]);
    assert.match(filtered.text, /<option value="payroll" selected>Payroll<\/option>/);
    assert.deepEqual(listedIds((await browser.get(`${server.url}/marketplace?q=fjord&category=accounting`)).text), []);
    assert.deepEqual(listedIds((await browser.get(`${server.url}/marketplace?q=kvist&category=accounting`)).text), [books]);
    assert.deepEqual([...listedIds((await browser.get(`${server.url}/marketplace?category=games`)).text)].sort(), [...all].sort());
  });

  it('shows an app a company already uses as Connected, with a way to connected apps instead of a second Connect, and "Connect another company" for the rest', async () => {
    await obtainTokens(server, { subject: urn(swedish), scope: 'users:read' });
    const alice = await signIn(server, '/marketplace');
    const one = listing((await alice.get(`${server.url}/marketplace`)).text, ledgerly)!;
    assert.match(one, /<span class="badge">Connected<\/span> Connected to [^<]*\./);
    assert.ok(one.includes(`Connected to ${swedish.name}.`));
    assert.match(one, /<a href="\/account\/connected-apps">Manage in connected apps<\/a>/);
    // Alice administers both companies: she may connect the other one, and only that one.
    assert.match(one, /aria-label="Connect another company to Ledgerly Sync">Connect another company<\/button>/);
    assert.ok(one.includes(`<option value="${urn(danish)}">`));
    assert.ok(!one.includes(`<option value="${urn(swedish)}">`), 'the connected company is not offered again');
    assert.doesNotMatch(one, />Connect Ledgerly Sync</);

    await obtainTokens(server, { subject: urn(danish), scope: 'users:read' });
    const both = listing((await alice.get(`${server.url}/marketplace`)).text, ledgerly)!;
    assert.match(both, /<span class="badge">Connected<\/span>/);
    assert.ok(both.includes(danish.name) && both.includes(swedish.name));
    assert.doesNotMatch(both, /<form|<button/, 'no second Connect when every company is connected');
    // Others' listings are unchanged.
    assert.doesNotMatch(listing((await alice.get(`${server.url}/marketplace`)).text, payroll)!, /badge">Connected/);
  });

  it('never shows Connected for a company the user cannot see (Bob administers only the Danish company)', async () => {
    await obtainTokens(server, { subject: urn(swedish), scope: 'users:read' });
    const bob = await signIn(server, '/marketplace', seed.users.bob);
    const mine = listing((await bob.get(`${server.url}/marketplace`)).text, ledgerly)!;
    assert.doesNotMatch(mine, /Connected|badge"/);
    assert.ok(!mine.includes(swedish.name), 'the Swedish company is not named to Bob');
    assert.match(mine, />Connect Ledgerly Sync<\/button>/);
  });
});

describe('the listing fields in the developer portal, the admin API and the CLI (issue 13)', () => {
  let server: TestServer;
  let token: string;
  before(async () => {
    server = await startTestServer();
    token = (await createAdminToken(server.storage, 'ops', server.clock.nowSeconds())).token;
  });
  after(() => server.close());

  const portalForm = (csrf: string, fields: Record<string, string>) => {
    const form = new FormData();
    const values: Record<string, string> = {
      _csrf: csrf, client_name: 'Fjord Books', token_endpoint_auth_method: 'client_secret_basic', redirect_uris: 'https://fjord.example/callback',
      scope: 'users:read', subject_type: '', ...fields,
    };
    for (const [name, value] of Object.entries(values)) form.append(name, value);
    return form;
  };
  const fieldRefused = (page: string, name: string) =>
    new RegExp(`id="${name}"[^>]*aria-describedby="[^"]*${name}-error[^"]*"[^>]*aria-invalid="true"`).test(page) && page.includes(`<p class="field-error" id="${name}-error">`);

  it('portal: refuses a description over 500 characters and an unknown category at once, beside each field, keeping the input and storing nothing', async () => {
    const browser = await signIn(server, '/portal', seed.developer);
    const form = await browser.get(`${server.url}/portal/clients/new`);
    assert.match(form.text, /<textarea id="description" name="description"/);
    assert.match(form.text, /<option value="e-commerce">E-commerce<\/option>/);
    const tooLong = `Fjord ${'x'.repeat(495)}`; // 501 characters
    const refused = await browser.request(`${server.url}/portal/clients`, { method: 'POST', body: portalForm(inputValue(form.text, '_csrf')!, { description: tooLong, category: 'games', client_name: '' }) });
    assert.equal(refused.status, 400);
    assert.ok(fieldRefused(refused.text, 'description'), 'description marked');
    assert.ok(fieldRefused(refused.text, 'category'), 'category marked');
    assert.ok(fieldRefused(refused.text, 'client_name'), 'the other refused fields at the same time');
    assert.match(refused.text, /must be at most 500 characters/);
    assert.ok(refused.text.includes(`>${tooLong}</textarea>`), 'the description typed is kept');
    assert.match(refused.text, /<a href="#description">Marketplace description<\/a>/);
    assert.deepEqual(await server.storage.clients.listByOwner(seed.developer.id), [], 'nothing stored');
  });

  it('portal: stores a valid description and category, shows them in the edit form, and an edit changes or clears them', async () => {
    const browser = await signIn(server, '/portal', seed.developer);
    const form = await browser.get(`${server.url}/portal/clients/new`);
    const created = await browser.request(`${server.url}/portal/clients`, { method: 'POST', body: portalForm(inputValue(form.text, '_csrf')!, { description: '  Payroll for Nordic teams  ', category: 'payroll' }) });
    assert.equal(created.status, 303, created.text.slice(0, 300));
    const clientId = created.location!.split('/').pop()!;
    const stored = await server.storage.clients.find(clientId);
    assert.equal(stored?.description, 'Payroll for Nordic teams', 'trimmed');
    assert.equal(stored?.category, 'payroll');
    const page = await browser.get(`${server.url}/portal/clients/${clientId}`);
    assert.match(page.text, />Payroll for Nordic teams<\/textarea>/);
    assert.match(page.text, /<option value="payroll" selected>Payroll<\/option>/);
    const edited = await browser.post(`${server.url}/portal/clients/${clientId}`, {
      _csrf: inputValue(page.text, '_csrf')!, client_name: 'Fjord Books', redirect_uris: 'https://fjord.example/callback', scope: 'users:read', description: '', category: 'crm',
    });
    assert.equal(edited.status, 303, edited.text.slice(0, 300));
    const after = await server.storage.clients.find(clientId);
    assert.equal(after?.description, undefined, 'an empty description clears it');
    assert.equal(after?.category, 'crm');
    const audit = (await server.storage.audit.list({ clientId })).find((event) => event.type === 'client.updated');
    assert.deepEqual(String(audit?.details?.fields).split(' ').sort(), ['category', 'description'], 'audited by wire name, values never');
  });

  it('admin API: POST and PATCH take description and category (null clears); a bad one is 400 naming the field and changes nothing', async () => {
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${server.url}/admin/v1${path}`, {
        method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, json: await response.json() as Record<string, any> };
    };
    const registration = { client_name: 'Acme Books', token_endpoint_auth_method: 'client_secret_basic', redirect_uris: ['https://acme.example/cb'], scope: 'users:read' };
    const before = (await server.storage.clients.list()).length;
    const badCategory = await call('POST', '/clients', { ...registration, category: 'games' });
    assert.equal(badCategory.status, 400);
    assert.equal(badCategory.json.field, 'category');
    assert.equal(badCategory.json.error, 'invalid_client_metadata');
    const badDescription = await call('POST', '/clients', { ...registration, description: 'y'.repeat(501) });
    assert.equal(badDescription.status, 400);
    assert.equal(badDescription.json.field, 'description');
    assert.equal((await server.storage.clients.list()).length, before, 'nothing registered');

    const created = await call('POST', '/clients', { ...registration, description: 'Books for Acme', category: 'accounting' });
    assert.equal(created.status, 201);
    assert.equal(created.json.description, 'Books for Acme');
    assert.equal(created.json.category, 'accounting');
    const id = created.json.client_id as string;
    assert.equal((await call('GET', `/clients/${id}`)).json.category, 'accounting');
    const refused = await call('PATCH', `/clients/${id}`, { category: 'other-things' });
    assert.equal(refused.status, 400);
    assert.equal((await server.storage.clients.find(id))?.category, 'accounting', 'a refused PATCH changes nothing');
    const cleared = await call('PATCH', `/clients/${id}`, { description: null, category: 'e-commerce' });
    assert.equal(cleared.status, 200);
    assert.equal(cleared.json.description, null);
    assert.equal(cleared.json.category, 'e-commerce');
    const plain = await call('GET', `/clients/${id}`);
    assert.equal(plain.json.description, null);
  });

  it('CLI: clients create/update --description --category; an unknown category is refused (exit 2) naming the field', () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-market-'));
    try {
      const database = join(directory, 'gatehouse.sqlite');
      const created = gatehouse(database, ['clients', 'create', '--name', 'Fjord Payroll', '--type', 'confidential', '--redirect-uri', 'https://fjord.example/cb',
        '--scope', 'users:read', '--description', 'Salaries for Nordic teams', '--category', 'payroll', '--json']);
      assert.equal(created.status, 0, created.stderr);
      const output = JSON.parse(created.stdout);
      assert.equal(output.description, 'Salaries for Nordic teams');
      assert.equal(output.category, 'payroll');
      const refused = gatehouse(database, ['clients', 'update', output.client_id, '--category', 'games']);
      assert.equal(refused.status, 2);
      assert.match(refused.stderr, /category: must be one of accounting, payroll, crm, reporting, e-commerce, other/);
      const updated = gatehouse(database, ['clients', 'update', output.client_id, '--description', '', '--category', 'reporting', '--json']);
      assert.equal(updated.status, 0, updated.stderr);
      assert.equal(JSON.parse(updated.stdout).description, null);
      assert.equal(JSON.parse(updated.stdout).category, 'reporting');
      const shown = gatehouse(database, ['clients', 'show', output.client_id]);
      assert.match(shown.stdout, /category\s+reporting/);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
