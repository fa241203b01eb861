/**
 * The administrators' console at /admin (issue 13): black-box over HTTP against a real listening server,
 * on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registerClient } from '../clients/registration.ts';
import type { Storage } from '../storage/storage.ts';
import { Browser, inputValue, languageSwitchForm, obtainTokens, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';

const alice = seed.users.alice;

/** A browser signed in through the shared login page (the console's login page continues at /). */
async function signIn(server: TestServer, user: { email: string; password: string } = alice): Promise<Browser> {
  const browser = new Browser();
  const login = await browser.get(`${server.url}/admin`);
  assert.equal(login.status, 200);
  assert.match(login.text, /name="password"/);
  const answer = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: inputValue(login.text, 'return_to')!, email: user.email, password: user.password });
  assert.equal(answer.status, 303);
  return browser;
}

async function pendingClient(server: TestServer, clientName: string) {
  const { client } = await registerClient({ storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds(), requireApproval: true },
    { clientName, clientType: 'confidential', redirectUris: ['http://localhost:8080/callback'], scopes: ['users:read'] }, {}, { actor: 'user:someone', ownerUserId: seed.developer.id });
  return client;
}

function consoleSuite(backend: 'SQLite' | 'PostgreSQL', createStorage?: () => Promise<Storage>, skip?: string) {
  describe(`administrators' console /admin on ${backend}`, { skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(createStorage ? { storage: await createStorage() } : {});
      assert.equal(await server.storage.consoleAdministrators.grant(alice.id, server.clock.nowSeconds()), true);
    });
    after(() => server?.close());

    it('keeps a deep link through sign-in: signed out at /admin/audit, signed in lands on /admin/audit (never elsewhere)', async () => {
      const browser = new Browser();
      const login = await browser.get(`${server.url}/admin/audit?type=x`);
      assert.equal(login.status, 200);
      assert.equal(inputValue(login.text, 'return_to'), '/admin/audit');
      const answer = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: '/admin/audit', email: alice.email, password: alice.password });
      assert.equal(answer.status, 303);
      assert.equal(answer.headers.get('location'), '/admin/audit');
      const elsewhere = await new Browser().get(`${server.url}/admin/users/..%2F..%2Fevil`);
      assert.equal(inputValue(elsewhere.text, 'return_to'), '/admin');
    });

    it('a console form sent after the session ended changes nothing, says so, and returns to the page it was sent from after sign-in', async () => {
      const client = await pendingClient(server, 'Session Ended Sync');
      const browser = await signIn(server);
      const csrf = inputValue((await browser.get(`${server.url}/admin/clients?q=${client.clientId}`)).text, '_csrf')!;
      browser.cookies.delete('gatehouse_session'); // signed out in another tab
      const sent = await browser.request(`${server.url}/admin/clients/${client.clientId}/approve`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', referer: `${server.url}/admin/clients?q=x` }, body: new URLSearchParams({ _csrf: csrf, confirm: 'yes' }),
      });
      assert.equal(sent.status, 200);
      assert.match(sent.text, /You were signed out, so your change was not saved/);
      assert.equal(inputValue(sent.text, 'return_to'), '/admin/clients', 'the page it was sent from (its path)');
      assert.equal((await server.storage.clients.find(client.clientId))?.status, 'pending', 'not approved');
    });

    it('answers the login page when signed out and 403 to a signed-in user without the platform-administrator role', async () => {
      const anonymous = await fetch(`${server.url}/admin`);
      assert.match(await anonymous.text(), /name="password"/);
      const bob = await signIn(server, seed.users.bob);
      for (const path of ['/admin', '/admin/clients', '/admin/grants', '/admin/audit', '/admin/audit/export?format=csv', '/admin/users', '/admin/organizations']) {
        const response = await bob.get(`${server.url}${path}`);
        assert.equal(response.status, 403, path);
        assert.doesNotMatch(response.text, /Review queue<\/h1>|<table/);
        // No console navigation (each of its links is this 403): the way onward is the user's home and account.
        assert.doesNotMatch(response.text, /href="\/admin/, path);
        assert.match(response.text, /<a href="\/">Home<\/a>/, path);
        assert.match(response.text, /<a href="\/account">Your account<\/a>/, path);
      }
    });

    it('review queue → approve: a confirmation names what happens, then the client is active and audited with the administrator\'s name', async () => {
      const client = await pendingClient(server, 'Fjord Review');
      const browser = await signIn(server);
      const queue = await browser.get(`${server.url}/admin`);
      assert.equal(queue.status, 200);
      assert.match(queue.text, /Fjord Review/);
      const csrf = inputValue(queue.text, '_csrf')!;
      const confirmation = await browser.post(`${server.url}/admin/clients/${client.clientId}/approve`, { _csrf: csrf });
      assert.equal(confirmation.status, 200);
      assert.match(confirmation.text, /<h1>Approve Fjord Review\?<\/h1>/);
      assert.equal((await server.storage.clients.find(client.clientId))!.status, 'pending', 'nothing changes before the confirmation');
      const approved = await browser.post(`${server.url}/admin/clients/${client.clientId}/approve`, { _csrf: inputValue(confirmation.text, '_csrf')!, confirm: 'yes' });
      assert.equal(approved.status, 303);
      assert.equal(approved.location, '/admin?done=approve');
      assert.equal((await server.storage.clients.find(client.clientId))!.status, 'active');
      const [event] = await server.storage.audit.list({ clientId: client.clientId, types: ['client.approved'] });
      assert.ok(event?.actor.startsWith('admin:'), event?.actor);
      assert.match(event!.actor, new RegExp(`\\(user:${alice.id}\\)$`));
      const name = (await server.storage.users.find(alice.id))!.name;
      assert.ok(event!.actor.includes(name), 'the administrator\'s name');
      assert.doesNotMatch((await browser.get(`${server.url}/admin`)).text, /Fjord Review/, 'no longer in the queue');
    });

    it('refuses a console form without its CSRF token or from another origin (403) and changes nothing', async () => {
      const client = await pendingClient(server, 'Fjord Forged');
      const browser = await signIn(server);
      const csrf = inputValue((await browser.get(`${server.url}/admin`)).text, '_csrf')!;
      const noToken = await browser.post(`${server.url}/admin/clients/${client.clientId}/delete`, { confirm: 'yes' });
      assert.equal(noToken.status, 403);
      const crossSite = await browser.request(`${server.url}/admin/clients/${client.clientId}/delete`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' }, body: new URLSearchParams({ _csrf: csrf, confirm: 'yes' }),
      });
      assert.equal(crossSite.status, 403);
      assert.equal((await server.storage.clients.find(client.clientId))!.status, 'pending');
    });

    it('client search finds by name or ID; an action the status does not allow is refused (409)', async () => {
      const client = await pendingClient(server, 'Searchable Sync');
      const browser = await signIn(server);
      const byName = await browser.get(`${server.url}/admin/clients?q=searchable`);
      assert.match(byName.text, /Searchable Sync/);
      assert.doesNotMatch(byName.text, /Ledgerly Sync/);
      assert.match((await browser.get(`${server.url}/admin/clients?q=${client.clientId}`)).text, /Searchable Sync/);
      const csrf = inputValue(byName.text, '_csrf')!;
      const refused = await browser.post(`${server.url}/admin/clients/${client.clientId}/reactivate`, { _csrf: csrf, confirm: 'yes' });
      assert.equal(refused.status, 409);
      assert.equal((await server.storage.clients.find(client.clientId))!.status, 'pending');
      assert.match(refused.text, /This client is pending\./);
      // The refusal in the page's language.
      browser.cookies.set('gatehouse_locale', 'de');
      const inGerman = await browser.post(`${server.url}/admin/clients/${client.clientId}/reactivate`, { _csrf: csrf, confirm: 'yes' });
      assert.equal(inGerman.status, 409);
      assert.match(inGerman.text, /<html lang="de">/);
      assert.doesNotMatch(inGerman.text, /This client is pending/);
      browser.cookies.delete('gatehouse_locale');
    });

    it('an action taken in the client search asks with a way back to it and returns there with a notice; one taken in the review queue returns to the queue', async () => {
      const client = await pendingClient(server, 'Returning Sync');
      const browser = await signIn(server);
      const search = await browser.get(`${server.url}/admin/clients?q=${client.clientId}`);
      const csrf = inputValue(search.text, '_csrf')!;
      const post = (form: Record<string, string>, referer: string) => browser.request(`${server.url}/admin/clients/${client.clientId}/suspend`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', referer: `${server.url}${referer}` }, body: new URLSearchParams(form),
      });
      const confirmation = await post({ _csrf: csrf }, `/admin/clients?q=${client.clientId}`);
      assert.equal(confirmation.status, 200);
      assert.match(confirmation.text, new RegExp(`href="/admin/clients\\?q=${client.clientId}"`), 'Cancel leads back to the client');
      assert.equal(inputValue(confirmation.text, 'from'), 'search');
      // The confirmation's own POST (its Referer is that page, which no GET serves) carries where it came from.
      const suspended = await post({ _csrf: csrf, confirm: 'yes', from: 'search' }, `/admin/clients/${client.clientId}/suspend`);
      assert.equal(suspended.status, 303);
      assert.equal(suspended.location, `/admin/clients?q=${client.clientId}&done=suspend`);
      const back = await browser.get(`${server.url}${suspended.location}`);
      assert.match(back.text, /<p class="notice" role="status">/);
      assert.match(back.text, /Returning Sync/);

      const queued = await pendingClient(server, 'Queued Sync');
      const fromQueue = await browser.request(`${server.url}/admin/clients/${queued.clientId}/suspend`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', referer: `${server.url}/admin` }, body: new URLSearchParams({ _csrf: csrf }),
      });
      assert.match(fromQueue.text, /<a class="button secondary" href="\/admin">/, 'Cancel leads back to the queue');
      assert.equal(inputValue(fromQueue.text, 'from'), undefined);
      const done = await browser.post(`${server.url}/admin/clients/${queued.clientId}/suspend`, { _csrf: csrf, confirm: 'yes' });
      assert.equal(done.location, '/admin?done=suspend');
      assert.doesNotMatch((await browser.get(`${server.url}/admin/clients?done=constructor`)).text, /class="notice"/, 'only an action\'s own name makes a notice');
    });

    it('grants search by user, company or client, and Revoke (confirmed) revokes the grant, audited by the administrator', async () => {
      await obtainTokens(server, { subject: `urn:gatehouse:company:${seed.companies[0].id}`, scope: 'users:read', extra: { prompt: 'consent' } });
      const grant = (await server.storage.grants.listActive({ clientId: seed.confidentialClient.id }))[0]!;
      const browser = await signIn(server);
      for (const query of [`user=${alice.email}`, `company=${seed.companies[0].id}`, `client=${seed.confidentialClient.id}`]) {
        const found = await browser.get(`${server.url}/admin/grants?${query}`);
        assert.match(found.text, new RegExp(`/admin/grants/${grant.grantId}/revoke`), query);
        assert.match(found.text, new RegExp(seed.companies[0].name));
      }
      const page = await browser.get(`${server.url}/admin/grants?client=${seed.confidentialClient.id}`);
      const confirmation = await browser.post(`${server.url}/admin/grants/${grant.grantId}/revoke`, { _csrf: inputValue(page.text, '_csrf')! });
      assert.match(confirmation.text, new RegExp(`Revoke Ledgerly Sync for ${seed.companies[0].name}\\?`));
      assert.equal((await server.storage.grants.find(grant.grantId))!.revokedAt, null);
      const revoked = await browser.post(`${server.url}/admin/grants/${grant.grantId}/revoke`, { _csrf: inputValue(confirmation.text, '_csrf')!, confirm: 'yes' });
      assert.equal(revoked.status, 303);
      assert.equal((await server.storage.grants.find(grant.grantId))!.revocationReason, 'admin_revoked');
      const event = (await server.storage.audit.list({ types: ['grant.revoked'], limit: 10 })).find((candidate) => candidate.grantId === grant.grantId);
      assert.match(event!.actor, new RegExp(`^admin:.+ \\(user:${alice.id}\\)$`));
    });

    it('Revoke taken on a user\'s page or in a grant search asks with a way back there and returns there with a notice (it went to the client\'s grant list)', async () => {
      const browser = await signIn(server);
      const hidden = (page: string, name: string) => new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`).exec(page)?.[1]?.replaceAll('&amp;', '&');
      for (const from of [`/admin/users/${alice.id}`, `/admin/grants?user=${encodeURIComponent(alice.email)}`]) {
        await obtainTokens(server, { subject: `urn:gatehouse:company:${seed.companies[0].id}`, scope: 'users:read', extra: { prompt: 'consent' } });
        const grant = (await server.storage.grants.listActive({ clientId: seed.confidentialClient.id }))[0]!;
        const page = await browser.get(`${server.url}${from}`);
        assert.match(page.text, new RegExp(`/admin/grants/${grant.grantId}/revoke`), from);
        const form = new RegExp(`<form class="inline" method="post" action="/admin/grants/${grant.grantId}/revoke">.*?</form>`).exec(page.text)![0];
        const confirmation = await browser.post(`${server.url}/admin/grants/${grant.grantId}/revoke`, { _csrf: inputValue(page.text, '_csrf')!, return_to: hidden(form, 'return_to') ?? '' });
        assert.equal(confirmation.status, 200);
        const cancel = /<a class="button secondary" href="([^"]*)">Cancel<\/a>/.exec(confirmation.text)?.[1]?.replaceAll('&amp;', '&');
        assert.equal(cancel, from, 'Cancel goes back where Revoke was taken');
        const revoked = await browser.post(`${server.url}/admin/grants/${grant.grantId}/revoke`, {
          _csrf: inputValue(confirmation.text, '_csrf')!, confirm: 'yes', return_to: hidden(confirmation.text, 'return_to') ?? '',
        });
        assert.equal(revoked.status, 303);
        assert.equal(revoked.location, `${from}${from.includes('?') ? '&' : '?'}done=grant_revoked`);
        const back = await browser.get(`${server.url}${revoked.location}`);
        assert.match(back.text, /<p class="notice" role="status">The grant was revoked\.<\/p>/, from);
        assert.doesNotMatch(back.text, new RegExp(`/admin/grants/${grant.grantId}/revoke`), 'no longer listed');
      }
      // Never elsewhere: a return path outside the grant lists and users' pages is the client's grant list.
      await obtainTokens(server, { subject: `urn:gatehouse:company:${seed.companies[0].id}`, scope: 'users:read', extra: { prompt: 'consent' } });
      const grant = (await server.storage.grants.listActive({ clientId: seed.confidentialClient.id }))[0]!;
      const page = await browser.get(`${server.url}/admin/grants?client=${seed.confidentialClient.id}`);
      const revoked = await browser.post(`${server.url}/admin/grants/${grant.grantId}/revoke`, { _csrf: inputValue(page.text, '_csrf')!, confirm: 'yes', return_to: '//evil.example/admin/grants' });
      assert.equal(revoked.location, `/admin/grants?client=${seed.confidentialClient.id}&done=grant_revoked`);
    });

    it("a confirmation's language switch (revoking a grant, removing a membership, deleting a client) shows it again in French with where it came from kept, and does nothing, confirm=yes or not", async () => {
      const browser = await signIn(server);
      const csrf = inputValue((await browser.get(`${server.url}/admin`)).text, '_csrf')!;
      const post = (path: string, form: URLSearchParams | Record<string, string>) => browser.post(`${server.url}${path}`, form instanceof URLSearchParams ? Object.fromEntries(form) : form);
      /** The confirmation answered to `first`, switched to French (and that switch again with confirm=yes added): the same confirmation each time. */
      const switchToFrench = async (path: string, first: Record<string, string>, heading: string) => {
        const confirmation = await post(path, first);
        assert.equal(confirmation.status, 200);
        assert.doesNotMatch(confirmation.text, /href="\/language\?/, 'no link away from the pending confirmation');
        const toFrench = languageSwitchForm(confirmation.text, 'fr');
        assert.equal(toFrench.action, path);
        assert.equal(toFrench.body.get('confirm'), null, 'the switch does not confirm');
        for (const form of [toFrench.body, new URLSearchParams({ ...Object.fromEntries(toFrench.body), confirm: 'yes' })]) {
          const french = await post(path, form);
          assert.equal(french.status, 200, 'a form with locale shows the confirmation, confirm=yes or not');
          assert.match(french.text, /<html lang="fr"/);
          assert.ok(french.text.includes(`<h1>${heading}</h1>`), `the same confirmation in French: ${heading}`);
        }
        return post(path, toFrench.body);
      };

      await obtainTokens(server, { subject: `urn:gatehouse:company:${seed.companies[0].id}`, scope: 'users:read', extra: { prompt: 'consent' } });
      const grant = (await server.storage.grants.listActive({ clientId: seed.confidentialClient.id }))[0]!;
      const revoking = await switchToFrench(`/admin/grants/${grant.grantId}/revoke`, { _csrf: csrf, return_to: `/admin/users/${alice.id}` },
        `Révoquer Ledgerly Sync pour ${seed.companies[0].name} ?`);
      assert.match(revoking.text, new RegExp(`<a class="button secondary" href="/admin/users/${alice.id}">`), 'Cancel still goes back where Revoke was taken');
      assert.equal((await server.storage.grants.find(grant.grantId))!.revokedAt, null, 'the grant is not revoked');

      const bob = seed.users.bob;
      const membership = `/admin/users/${bob.id}/memberships/company/${seed.companies[0].id}/remove`;
      const memberships = await server.storage.directory.listMemberships(bob.id);
      assert.ok(memberships.length > 0);
      await switchToFrench(membership, { _csrf: csrf }, `Retirer à ${bob.name} l’administration de ${seed.companies[0].name} ?`);
      assert.deepEqual(await server.storage.directory.listMemberships(bob.id), memberships, 'the directory is unchanged');

      const client = await pendingClient(server, 'Switching Sync');
      const deleting = await switchToFrench(`/admin/clients/${client.clientId}/delete`, { _csrf: csrf, from: 'search' }, 'Supprimer Switching Sync ?');
      assert.equal(inputValue(deleting.text, 'from'), 'search', 'where it came from is kept');
      assert.equal((await server.storage.clients.find(client.clientId))?.status, 'pending', 'the client is not deleted');
      assert.ok(!(await server.storage.audit.list({ limit: 200 })).some((event) => event.clientId === client.clientId && event.type === 'client.deleted'));
    });

    it('the audit log filters by type and client, and exports CSV (formulas neutralised) and JSON Lines', async () => {
      const client = await pendingClient(server, '=HYPERLINK("x")');
      const browser = await signIn(server);
      const filtered = await browser.get(`${server.url}/admin/audit?type=client.registered&client=${client.clientId}`);
      assert.equal(filtered.status, 200);
      assert.match(filtered.text, /client\.registered/);
      assert.doesNotMatch(filtered.text, /token\.issued/);
      // The client by its name (escaped), with the id the event recorded beside it.
      assert.match(filtered.text, new RegExp(`<td>=HYPERLINK\\(&quot;x&quot;\\) <code class="muted">${client.clientId}</code></td>`));
      // A user who acted is shown by name, with the actor the event recorded; one no longer known, as recorded.
      await server.storage.audit.record({ type: 'client.updated', at: server.clock.nowSeconds(), actor: `user:${seed.users.alice.id}`, clientId: client.clientId });
      const updates = await browser.get(`${server.url}/admin/audit?type=client.updated`);
      assert.match(updates.text, new RegExp(`<td>Alice Admin <code class="muted">user:${seed.users.alice.id}</code></td>`), 'actors by name where one is known');
      const exported = (await browser.get(`${server.url}/admin/audit/export?type=client.updated&format=csv`)).text.trimEnd().split('\r\n');
      assert.match(exported[1]!, new RegExp(`,client\\.updated,user:${seed.users.alice.id},`));
      assert.doesNotMatch(exported[1]!, /Alice Admin/, 'the export keeps the recorded values only');
      const csv = await browser.get(`${server.url}/admin/audit/export?type=client.registered&client=${client.clientId}&format=csv`);
      assert.equal(csv.status, 200);
      assert.match(csv.headers.get('content-type')!, /^text\/csv/);
      assert.match(csv.headers.get('content-disposition')!, /attachment; filename="audit-events\.csv"/);
      const lines = csv.text.trimEnd().split('\r\n');
      assert.equal(lines[0], 'eventId,at,type,actor,clientId,grantId,details');
      assert.equal(lines.length, 2);
      assert.match(lines[1]!, /client\.registered/);
      assert.doesNotMatch(lines[1]!, /,=HYPERLINK/, 'no cell starts with a formula');
      const jsonl = await browser.get(`${server.url}/admin/audit/export?type=client.registered&client=${client.clientId}&format=jsonl`);
      const events = jsonl.text.trim().split('\n').map((line) => JSON.parse(line));
      assert.equal(events.length, 1);
      assert.equal(events[0].clientId, client.clientId);
      assert.equal(events[0].details.client_name, '=HYPERLINK("x")');
      assert.equal((await browser.get(`${server.url}/admin/audit/export?format=xml`)).status, 400);
    });

    it('an audit filter that cannot match (a malformed client ID or event type) is a field error that keeps the value, never the whole log', async () => {
      const browser = await signIn(server);
      const badClient = await browser.get(`${server.url}/admin/audit?client=zzz`);
      assert.equal(badClient.status, 400);
      assert.match(badClient.text, /<input id="client" name="client" type="text" value="zzz" aria-describedby="client-error" aria-invalid="true">/);
      assert.match(badClient.text, /<p class="field-error" id="client-error">A client ID is a UUID\.<\/p>/);
      assert.doesNotMatch(badClient.text, /<table/, 'no events listed');
      const badType = await browser.get(`${server.url}/admin/audit?type=${encodeURIComponent('<b>x')}`);
      assert.equal(badType.status, 400);
      assert.match(badType.text, /value="&lt;b&gt;x"/);
      assert.match(badType.text, /id="type-error">An event type is lower-case letters/);
      assert.doesNotMatch(badType.text, /<b>x/);
      const badExport = await browser.get(`${server.url}/admin/audit/export?client=zzz&format=csv`);
      assert.equal(badExport.status, 400);
      assert.doesNotMatch(badExport.headers.get('content-type') ?? '', /csv/, 'no export of everything');
    });
  });
}

consoleSuite('SQLite');
const skip = await postgresSkipReason();
consoleSuite('PostgreSQL', () => createTestPostgresStorage(), skip || undefined);
