/**
 * The administrators' console, issue 13 additions: branding-change review (before/after, approve, reject),
 * PKCE exceptions and the directory views. Black-box over HTTP against a real listening server, on SQLite
 * and PostgreSQL: 403 without the role, CSRF refusal, the confirmation step, the audit record with the
 * administrator's name, and what did not happen on a refusal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { approveClient, setClientLogo, updateClient, type ManagementContext } from '../clients/client-management.ts';
import { registerClient } from '../clients/registration.ts';
import type { Storage } from '../storage/storage.ts';
import { authorize, Browser, inputValue, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { pngImage } from '../testing/images.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';

const alice = seed.users.alice;
const bob = seed.users.bob;
const ADMIN_ACTOR = new RegExp(`^admin:${alice.name} \\(user:${alice.id}\\)$`);

async function signIn(server: TestServer, user: { email: string; password: string } = alice): Promise<Browser> {
  const browser = new Browser();
  const login = await browser.get(`${server.url}/admin`);
  const answer = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: inputValue(login.text, 'return_to')!, email: user.email, password: user.password });
  assert.equal(answer.status, 303);
  return browser;
}

const context = (server: TestServer, actor: string): ManagementContext =>
  ({ storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds(), actor, requireApproval: true });

/** A partner's client, approved with a logo, then renamed and given a new logo and terms by the partner. */
async function changedClient(server: TestServer, name: string) {
  const { client } = await registerClient({ storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds(), requireApproval: true },
    { clientName: name, clientType: 'confidential', redirectUris: ['http://localhost:8080/callback'], scopes: ['users:read'], tosUri: 'https://fjord.example/terms' },
    {}, { actor: `user:${seed.developer.id}`, ownerUserId: seed.developer.id });
  const reviewedLogo = pngImage(256, 256);
  await setClientLogo(context(server, 'admin:ops'), server.url, client.clientId, reviewedLogo);
  await approveClient(context(server, 'admin:ops'), client.clientId);
  const partner = context(server, `user:${seed.developer.id}`);
  await updateClient(partner, client.clientId, { clientName: `${name} Pro`, tosUri: 'https://fjord.example/new-terms' });
  await setClientLogo(partner, server.url, client.clientId, pngImage(300, 300));
  return { clientId: client.clientId, reviewedLogo };
}

function reviewSuite(backend: 'SQLite' | 'PostgreSQL', createStorage?: () => Promise<Storage>, skip?: string) {
  describe(`console branding review, PKCE exceptions and directory on ${backend}`, { skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(createStorage ? { storage: await createStorage() } : {});
      assert.equal(await server.storage.consoleAdministrators.grant(alice.id, server.clock.nowSeconds()), true);
    });
    after(() => server?.close());

    it('answers 403 to a signed-in user without the role, on every new page and action, and changes nothing', async () => {
      const { clientId } = await changedClient(server, 'Forbidden Fjord');
      const browser = await signIn(server, bob);
      for (const path of ['/admin/users', `/admin/users/${alice.id}`, '/admin/companies', '/admin/organizations', `/admin/clients/${clientId}/reviewed-logo`]) {
        const response = await browser.get(`${server.url}${path}`);
        assert.equal(response.status, 403, path);
        assert.doesNotMatch(response.text, /<table|Alice Admin/, path);
      }
      const csrf = inputValue((await browser.get(`${server.url}/admin`)).text, '_csrf')!;
      for (const path of [`/admin/clients/${clientId}/reject_branding`, `/admin/clients/${clientId}/grant_pkce_exception`,
        `/admin/users/${bob.id}/memberships/company/${seed.companies[0].id}/remove`]) {
        assert.equal((await browser.post(`${server.url}${path}`, { _csrf: csrf, confirm: 'yes' })).status, 403, path);
      }
      const client = (await server.storage.clients.find(clientId))!;
      assert.equal(client.clientName, 'Forbidden Fjord Pro');
      assert.equal(client.pkceRequired, true);
      assert.ok(await server.storage.brandingReviews.find(clientId));
      assert.equal((await server.storage.directory.listMemberships(bob.id)).length, 1);
    });

    it('the review queue shows a branding change before and after (name, logo, URIs); the reviewed logo is served to administrators', async () => {
      const { clientId, reviewedLogo } = await changedClient(server, 'Fjord Before');
      const browser = await signIn(server);
      const queue = await browser.get(`${server.url}/admin`);
      assert.equal(queue.status, 200);
      const section = queue.text.slice(queue.text.indexOf(`id="change-${clientId}"`));
      assert.match(section, /<th scope="col">Before \(reviewed\)<\/th><th scope="col">After \(waiting for review\)<\/th>/);
      assert.match(section, /<th scope="row">Name<br><strong class="tag">changed<\/strong><\/th><td>Fjord Before<\/td><td>Fjord Before Pro<\/td>/);
      assert.match(section, new RegExp(`<img class="logo-compare" src="/admin/clients/${clientId}/reviewed-logo\\?v=[\\w-]{16}" alt="Reviewed logo of Fjord Before"`));
      assert.match(section, new RegExp(`alt="New logo of Fjord Before Pro"`));
      assert.match(section, /https:\/\/fjord\.example\/terms<\/a><\/td><td><a href="https:\/\/fjord\.example\/new-terms"/);
      assert.match(section, new RegExp(`action="/admin/clients/${clientId}/reject_branding"`));
      const cookie = [...browser.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
      const logo = await fetch(`${server.url}/admin/clients/${clientId}/reviewed-logo`, { headers: { cookie } });
      assert.equal(logo.status, 200);
      assert.equal(logo.headers.get('content-type'), 'image/png');
      assert.ok(Buffer.from(await logo.arrayBuffer()).equals(reviewedLogo));
    });

    it('reject (confirmed) restores the reviewed name, terms and logo, audited with the administrator\'s name; nothing before the confirmation', async () => {
      const { clientId, reviewedLogo } = await changedClient(server, 'Fjord Reject');
      const browser = await signIn(server);
      const csrf = inputValue((await browser.get(`${server.url}/admin`)).text, '_csrf')!;
      const confirmation = await browser.post(`${server.url}/admin/clients/${clientId}/reject_branding`, { _csrf: csrf });
      assert.equal(confirmation.status, 200);
      assert.match(confirmation.text, /<h1>Reject the branding change of Fjord Reject Pro\?<\/h1>/);
      assert.match(confirmation.text, /reviewed name, logo and addresses of Fjord Reject Pro come back/);
      assert.equal((await server.storage.clients.find(clientId))!.clientName, 'Fjord Reject Pro', 'nothing changes before the confirmation');
      const rejected = await browser.post(`${server.url}/admin/clients/${clientId}/reject_branding`, { _csrf: inputValue(confirmation.text, '_csrf')!, confirm: 'yes' });
      assert.equal(rejected.status, 303);
      assert.equal(rejected.location, '/admin?done=reject_branding');
      const client = (await server.storage.clients.find(clientId))!;
      assert.equal(client.clientName, 'Fjord Reject');
      assert.equal(client.tosUri, 'https://fjord.example/terms');
      assert.equal(client.brandingVerified, true);
      assert.ok((await server.storage.clientLogos.get(clientId))!.bytes.equals(reviewedLogo));
      const [event] = await server.storage.audit.list({ clientId, types: ['client.branding_rejected'] });
      assert.match(event!.actor, ADMIN_ACTOR);
      assert.deepEqual(event!.details, { fields: 'client_name logo_uri tos_uri' });
      const after = await browser.get(`${server.url}/admin?done=reject_branding`);
      assert.match(after.text, /The branding change was rejected/);
      assert.doesNotMatch(after.text, /Fjord Reject/, 'no longer in the queue');
    });

    it('approve (confirmed) keeps the new branding as reviewed, audited; a branding action without CSRF token is refused and changes nothing', async () => {
      const { clientId } = await changedClient(server, 'Fjord Approve');
      const browser = await signIn(server);
      assert.equal((await browser.post(`${server.url}/admin/clients/${clientId}/reject_branding`, { confirm: 'yes' })).status, 403);
      assert.equal((await browser.post(`${server.url}/admin/clients/${clientId}/approve`, { confirm: 'yes' })).status, 403);
      assert.equal((await server.storage.clients.find(clientId))!.brandingVerified, false);
      assert.ok(await server.storage.brandingReviews.find(clientId));
      const csrf = inputValue((await browser.get(`${server.url}/admin`)).text, '_csrf')!;
      const approved = await browser.post(`${server.url}/admin/clients/${clientId}/approve`, { _csrf: csrf, confirm: 'yes' });
      assert.equal(approved.status, 303);
      const client = (await server.storage.clients.find(clientId))!;
      assert.equal(client.clientName, 'Fjord Approve Pro');
      assert.equal(client.brandingVerified, true);
      assert.equal(await server.storage.brandingReviews.find(clientId), undefined);
      const [event] = await server.storage.audit.list({ clientId, types: ['client.approved'] });
      assert.match(event!.actor, ADMIN_ACTOR);
      assert.equal(event!.details?.branding_change, true);
      // With nothing kept, a reject is not offered and is refused.
      assert.equal((await browser.post(`${server.url}/admin/clients/${clientId}/reject_branding`, { _csrf: csrf, confirm: 'yes' })).status, 409);
    });

    it('PKCE exception: granted and withdrawn (each confirmed and audited) for a confidential client; refused for a public one', async () => {
      const browser = await signIn(server);
      const search = await browser.get(`${server.url}/admin/clients?q=${seed.confidentialClient.id}`);
      assert.match(search.text, new RegExp(`action="/admin/clients/${seed.confidentialClient.id}/grant_pkce_exception"`));
      const csrf = inputValue(search.text, '_csrf')!;
      const confirmation = await browser.post(`${server.url}/admin/clients/${seed.confidentialClient.id}/grant_pkce_exception`, { _csrf: csrf });
      assert.match(confirmation.text, /<h1>Exempt Ledgerly Sync from PKCE\?<\/h1>/);
      assert.equal((await server.storage.clients.find(seed.confidentialClient.id))!.pkceRequired, true, 'nothing before the confirmation');
      assert.equal((await browser.post(`${server.url}/admin/clients/${seed.confidentialClient.id}/grant_pkce_exception`, { confirm: 'yes' })).status, 403, 'no CSRF token');
      assert.equal((await server.storage.clients.find(seed.confidentialClient.id))!.pkceRequired, true);
      const granted = await browser.post(`${server.url}/admin/clients/${seed.confidentialClient.id}/grant_pkce_exception`, { _csrf: csrf, confirm: 'yes' });
      assert.equal(granted.status, 303);
      assert.equal(granted.location, `/admin/clients?q=${seed.confidentialClient.id}&done=grant_pkce_exception`);
      assert.equal((await server.storage.clients.find(seed.confidentialClient.id))!.pkceRequired, false);
      const [event] = await server.storage.audit.list({ clientId: seed.confidentialClient.id, types: ['client.pkce_exception_granted'] });
      assert.match(event!.actor, ADMIN_ACTOR);
      const shown = await browser.get(`${server.url}${granted.location}`);
      assert.match(shown.text, /The client is exempt from PKCE\./);
      assert.match(shown.text, /exempt from PKCE<\/span>/);
      const withdrawn = await browser.post(`${server.url}/admin/clients/${seed.confidentialClient.id}/withdraw_pkce_exception`, { _csrf: csrf, confirm: 'yes' });
      assert.equal(withdrawn.status, 303);
      assert.equal((await server.storage.clients.find(seed.confidentialClient.id))!.pkceRequired, true);
      assert.equal((await server.storage.audit.list({ clientId: seed.confidentialClient.id, types: ['client.pkce_exception_removed'] })).length, 1);
      const publicClient = await browser.post(`${server.url}/admin/clients/${seed.publicClient.id}/grant_pkce_exception`, { _csrf: csrf, confirm: 'yes' });
      assert.equal(publicClient.status, 409);
      assert.equal((await server.storage.clients.find(seed.publicClient.id))!.pkceRequired, true);
      assert.equal((await server.storage.audit.list({ clientId: seed.publicClient.id, types: ['client.pkce_exception_granted'] })).length, 0);
    });

    it('directory: users, companies and organizations by name with search; a user page shows memberships and grants by name', async () => {
      const browser = await signIn(server);
      const users = await browser.get(`${server.url}/admin/users`);
      assert.equal(users.status, 200);
      assert.match(users.text, new RegExp(`<a href="/admin/users/${alice.id}">Alice Admin</a>`));
      const searched = await browser.get(`${server.url}/admin/users?q=BOOKKEEPER`);
      assert.match(searched.text, /Bob Bookkeeper/);
      assert.doesNotMatch(searched.text, /Alice Admin<\/a>/);
      const companies = await browser.get(`${server.url}/admin/companies`);
      assert.match(companies.text, /Nordlys Danmark ApS/);
      assert.match(companies.text, /<td>Nordlys Group<\/td>/, 'the organization by name');
      assert.match((await browser.get(`${server.url}/admin/organizations?q=nordlys`)).text, /Nordlys Group/);
      // An organization's active grants are counted (the column said "none" for every organization).
      const organization = { subjectType: 'organization' as const, subjectId: seed.organization.id };
      const grantCount = async () => Number(/Nordlys Group<br><code[^>]*>[^<]*<\/code><\/td><td>(\d+) active grants?<\/td>/.exec((await browser.get(`${server.url}/admin/organizations`)).text)?.[1]);
      const before = (await server.storage.grants.listActive(organization)).length;
      assert.equal(await grantCount(), before);
      // An organization client, connected to Nordlys Group by Alice.
      const { client } = await registerClient({ storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds(), requireApproval: false },
        { clientName: `Group Reports ${backend}`, clientType: 'public', redirectUris: ['http://localhost:8080/callback'], scopes: ['users:read'], subjectType: 'organization' },
        {}, { actor: 'admin:test' });
      const { redirect, codeVerifier } = await authorize(server, { clientId: client.clientId, scope: 'users:read', subject: `urn:gatehouse:organization:${seed.organization.id}` });
      const exchange = await postForm(`${server.url}/oauth/token`, {
        grant_type: 'authorization_code', client_id: client.clientId, code: redirect.searchParams.get('code') ?? '', redirect_uri: 'http://localhost:8080/callback', code_verifier: codeVerifier,
      });
      assert.equal(exchange.status, 200, exchange.text);
      assert.equal((await server.storage.grants.listActive(organization)).length, before + 1);
      assert.equal(await grantCount(), before + 1, 'the new grant is counted');
      assert.doesNotMatch((await browser.get(`${server.url}/admin/companies?q=sverige`)).text, /Danmark/);
      const page = await browser.get(`${server.url}/admin/users/${alice.id}`);
      assert.equal(page.status, 200);
      assert.match(page.text, /<h1>Alice Admin<\/h1>/);
      assert.match(page.text, /Nordlys Danmark ApS <span class="muted">\(company\)<\/span>/);
      assert.match(page.text, /Nordlys Group <span class="muted">\(organization\)<\/span>/);
      assert.equal((await browser.get(`${server.url}/admin/users/00000000-0000-4000-8000-000000000000`)).status, 404);
    });

    it('removing a membership asks first, then removes it through the directory rules, audited with the administrator\'s name', async () => {
      const browser = await signIn(server);
      const page = await browser.get(`${server.url}/admin/users/${bob.id}`);
      const path = `/admin/users/${bob.id}/memberships/company/${seed.companies[0].id}/remove`;
      assert.match(page.text, new RegExp(`action="${path}"`));
      const csrf = inputValue(page.text, '_csrf')!;
      const confirmation = await browser.post(`${server.url}${path}`, { _csrf: csrf });
      assert.match(confirmation.text, /<h1>Stop Bob Bookkeeper administering Nordlys Danmark ApS\?<\/h1>/);
      assert.equal((await server.storage.directory.listMemberships(bob.id)).length, 1, 'nothing before the confirmation');
      assert.equal((await browser.post(`${server.url}${path}`, { confirm: 'yes' })).status, 403, 'no CSRF token');
      assert.equal((await server.storage.directory.listMemberships(bob.id)).length, 1);
      const removed = await browser.post(`${server.url}${path}`, { _csrf: csrf, confirm: 'yes' });
      assert.equal(removed.status, 303);
      assert.equal(removed.location, `/admin/users/${bob.id}?done=membership_removed`);
      assert.deepEqual(await server.storage.directory.listMemberships(bob.id), []);
      const [event] = await server.storage.audit.list({ types: ['directory.membership.removed'] });
      assert.match(event!.actor, ADMIN_ACTOR);
      assert.equal(event!.details?.user_id, bob.id);
      assert.match((await browser.get(`${server.url}${removed.location}`)).text, /The membership was removed\./);
      assert.equal((await browser.post(`${server.url}${path}`, { _csrf: csrf, confirm: 'yes' })).status, 404, 'gone');
    });
  });
}

reviewSuite('SQLite');
const skip = await postgresSkipReason();
reviewSuite('PostgreSQL', () => createTestPostgresStorage(), skip || undefined);
