/**
 * Connected apps, the marketplace, session handover redirects, the admin API's grant operations, and the
 * login page's return_to for these paths: black-box over HTTP against a real listening server.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createAdminToken } from '../admin/admin-credentials.ts';
import { registerClient } from '../clients/registration.ts';
import { Browser, confidentialAuth, inputValue, introspect, languageSwitchForm, obtainTokens, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { RETURN_TO } from './login.ts';

const danish = seed.companies[0];
const swedish = seed.companies[1];
const clientId = seed.confidentialClient.id;
const urn = (company: { id: string }) => `urn:gatehouse:company:${company.id}`;

async function signIn(server: TestServer, path: string, user: { email: string; password: string } = seed.users.alice): Promise<Browser> {
  const browser = new Browser();
  const login = await browser.get(`${server.url}${path}`);
  assert.equal(login.status, 200);
  assert.equal(inputValue(login.text, 'return_to'), path);
  const answer = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: path, email: user.email, password: user.password });
  assert.equal(answer.status, 303);
  assert.equal(answer.location, path);
  return browser;
}

/** The form of one connected app on the page (by grant), with its CSRF token. */
function grantSection(page: string, grantId: string): string | undefined {
  return new RegExp(`<section class="connected-app" data-grant-id="${grantId}">([\\s\\S]*?)</section>`).exec(page)?.[1];
}

describe('connected apps, marketplace and session handover', () => {
  let server: TestServer;
  let adminToken: string;
  before(async () => {
    server = await startTestServer();
    await server.storage.clients.update(clientId, {
      initiationUri: 'https://ledgerly.example/start?from=gatehouse', settingsUri: 'https://ledgerly.example/settings',
      tosUri: 'https://ledgerly.example/terms', policyUri: 'https://ledgerly.example/privacy', clientUri: 'https://ledgerly.example',
    });
    ({ token: adminToken } = await createAdminToken(server.storage, 'ops', server.clock.nowSeconds()));
  });
  after(() => server.close());
  beforeEach(async () => {
    await server.storage.grants.revokeAllOfClient(clientId, server.clock.nowSeconds(), 'test_reset');
  });

  it('login continues at /account/... and /marketplace paths only, never elsewhere (no open redirect)', () => {
    for (const good of [
      '/account/connected-apps', '/account', '/admin', '/admin/clients/abc', '/marketplace', '/portal', '/portal/clients/abc', '/oauth/authorize?client_id=x',
      '/marketplace?q=night+shift&category=accounting', '/marketplace?q=l%C3%B8n', '/marketplace?q=a*b',
      `/marketplace?${new URLSearchParams({ q: 'é'.repeat(100), category: 'accounting' })}`,
    ]) assert.ok(RETURN_TO.test(good), good);
    for (const bad of [
      '//evil.example', '/admin/../x', '/administrator', '/portal.evil.example', '/account/../x', '/marketplace/x.y', 'https://evil.example/marketplace', '/\\evil.example',
      '/accounts/x', '/account//evil.example', '/marketplace?', '/marketplace?x=//evil.example', '/marketplace?q=<b>', '/account?x=1', `/marketplace?q=${'a'.repeat(1301)}`,
    ]) {
      assert.ok(!RETURN_TO.test(bad), bad);
    }
  });

  it('a shared marketplace search survives the login step: the login continues at the search, with its results', async () => {
    const browser = await signIn(server, '/marketplace?q=ledgerly&category=accounting');
    const results = await browser.get(`${server.url}/marketplace?q=ledgerly&category=accounting`);
    assert.match(results.text, /value="ledgerly"/, 'the search box keeps the search');
  });

  it('lists a connected app with logo, subject, scopes in words, connected since, last token use and who connected it', async () => {
    await obtainTokens(server, { subject: urn(swedish), scope: 'users:read vendors:read' });
    const grant = (await server.storage.grants.listActive({ clientId }))[0]!;
    const browser = await signIn(server, '/account/connected-apps');
    const page = await browser.get(`${server.url}/account/connected-apps`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    const section = grantSection(page.text, grant.grantId);
    assert.ok(section, 'the grant is listed');
    assert.match(section, /Ledgerly Sync/);
    assert.match(section, new RegExp(swedish.name));
    assert.match(section, /See users and employees/);
    assert.match(section, /See vendors/);
    assert.match(section, /Connected since \d{4}-\d\d-\d\d \d\d:\d\d UTC by you/);
    assert.match(section, /Last token use: \d{4}-/);
    assert.match(section, /action="\/account\/connected-apps\/[^"]+\/disconnect"/);
    assert.match(section, />Settings</);
  });

  it('Disconnect (CSRF-checked) revokes the grant at once: refresh is invalid_grant, access token inactive, audit grant.revoked by the user', async () => {
    const { tokens } = await obtainTokens(server, { subject: urn(danish) });
    const grant = (await server.storage.grants.listActive({ clientId }))[0]!;
    const browser = await signIn(server, '/account/connected-apps');
    const page = await browser.get(`${server.url}/account/connected-apps`);
    const action = `${server.url}/account/connected-apps/${grant.grantId}/disconnect`;
    const forged = await browser.post(action, {});
    assert.equal(forged.status, 403, 'no CSRF token, no disconnect');
    assert.equal((await server.storage.grants.find(grant.grantId))?.revokedAt, null);

    const done = await browser.post(action, { _csrf: inputValue(page.text, '_csrf')!, confirm: 'yes' });
    assert.equal(done.status, 303);
    assert.equal(done.location, `/account/connected-apps?disconnected=${grant.grantId}`);
    assert.equal((await server.storage.grants.find(grant.grantId))?.revocationReason, 'user_disconnected');
    assert.deepEqual(await introspect(server, tokens.access_token), { active: false });
    const refreshed = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
    assert.equal(refreshed.json.error, 'invalid_grant');
    const events = await server.storage.audit.list({ limit: 20 });
    const event = events.find((candidate) => candidate.type === 'grant.revoked' && candidate.grantId === grant.grantId);
    assert.equal(event?.actor, `user:${seed.users.alice.id}`);
    const after = await browser.get(`${server.url}${done.location}`);
    assert.equal(grantSection(after.text, grant.grantId), undefined);
    assert.match(after.text, new RegExp(`<p class="notice" role="status">Ledgerly Sync was disconnected from ${danish.name}\\.`), 'the notice names the app and the company');
  });

  it('shows a grant read-only to someone who may see but not administer it, and refuses their Disconnect (403); others get 404', async () => {
    // Dave connected the app for the Swedish company, which he does not (or no longer) administer.
    const dave = { userId: randomUUID(), email: `dave-${randomUUID()}@example.com`, name: 'Dave Former', password: 'dave-demo-password' };
    const { hashPassword } = await import('../users/password.ts');
    await server.storage.users.create({ userId: dave.userId, email: dave.email, name: dave.name, passwordHash: await hashPassword(dave.password) });
    const now = server.clock.nowSeconds();
    const codeDigest = `test-${randomUUID()}`;
    await server.storage.authorizationCodes.create({
      codeDigest, clientId, userId: dave.userId, redirectUri: seed.confidentialClient.redirectUri, scope: ['users:read'], subjectType: 'company',
      subjectId: swedish.id, codeChallenge: null, issuedAt: now, expiresAt: now + 60,
    });
    await server.storage.authorizationCodes.consume(codeDigest, now);
    const grantId = randomUUID();
    assert.equal(await server.storage.grants.issueForCode(codeDigest, {
      grantId, clientId, userId: dave.userId, subjectType: 'company', subjectId: swedish.id, scope: ['users:read'], createdAt: now, revokedAt: null, revocationReason: null,
    }, []), 'issued');

    const browser = await signIn(server, '/account/connected-apps', dave);
    const page = await browser.get(`${server.url}/account/connected-apps`);
    const section = grantSection(page.text, grantId);
    assert.ok(section);
    assert.doesNotMatch(section, /disconnect"/);
    assert.match(section, /Only an administrator of Nordlys Sverige AB can disconnect it/);
    const refused = await browser.post(`${server.url}/account/connected-apps/${grantId}/disconnect`, { _csrf: inputValue(page.text, '_csrf')! });
    assert.equal(refused.status, 403);
    assert.equal((await server.storage.grants.find(grantId))?.revokedAt, null);

    // Bob administers only the Danish company: the Swedish grant does not exist for him.
    const bob = await signIn(server, '/account/connected-apps', seed.users.bob);
    const bobPage = await bob.get(`${server.url}/account/connected-apps`);
    assert.equal(grantSection(bobPage.text, grantId), undefined);
    // His page has no form (nothing he may change): take a CSRF token from the marketplace's.
    const bobCsrf = inputValue((await bob.get(`${server.url}/marketplace`)).text, '_csrf')!;
    const bobRefused = await bob.post(`${server.url}/account/connected-apps/${grantId}/disconnect`, { _csrf: bobCsrf });
    assert.equal(bobRefused.status, 404);
    assert.equal((await server.storage.grants.find(grantId))?.revokedAt, null);
  });

  it('Settings sends the user to the settings URI with a handover for the grant\'s company, recording its jti (never the token)', async () => {
    await obtainTokens(server, { subject: urn(swedish) });
    const grant = (await server.storage.grants.listActive({ clientId }))[0]!;
    const browser = await signIn(server, '/account/connected-apps');
    const page = await browser.get(`${server.url}/account/connected-apps`);
    const answer = await browser.post(`${server.url}/account/connected-apps/${grant.grantId}/settings`, { _csrf: inputValue(page.text, '_csrf')! });
    assert.equal(answer.status, 303);
    const target = new URL(answer.location!);
    assert.equal(`${target.origin}${target.pathname}`, 'https://ledgerly.example/settings');
    const token = target.searchParams.get('gatehouse_id_token')!;
    const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`)), {
      issuer: server.issuer, audience: clientId, typ: 'gatehouse_id+jwt', currentDate: new Date(server.clock.nowSeconds() * 1000),
    });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.sub, seed.users.alice.id);
    assert.equal(payload.company_id, swedish.id);
    assert.equal(payload['urn:gatehouse:params:oauth:subject_urn'], urn(swedish));
    assert.equal(payload.locale, 'en');
    assert.equal(payload.exp! - payload.iat!, 120);
    const events = await server.storage.audit.list({ limit: 10 });
    const issued = events.find((event) => event.type === 'session_handover.issued' && event.details?.jti === payload.jti);
    assert.equal(issued?.details?.purpose, 'settings');
    assert.ok(!JSON.stringify(events).includes(token), 'the token itself is never stored');
  });

  it('the marketplace lists active, branding-verified apps with an initiation URI only, and Connect hands over for the company picked', async () => {
    const register = async (name: string, initiationUri: string | null) => (await registerClient(
      { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
      { clientName: name, clientType: 'confidential', redirectUris: ['https://fjord.example/callback'], scopes: ['users:read'], initiationUri },
    )).client;
    const pending = await register('Pending Books', 'https://pending.example/start');
    await server.storage.clients.update(pending.clientId, { status: 'pending' });
    const suspended = await register('Suspended Books', 'https://suspended.example/start');
    await server.storage.clients.update(suspended.clientId, { status: 'suspended' });
    await register('No Initiation Books', null);
    // Renamed after approval: its branding waits for review again, so it is not listed.
    const unverified = await register('Unverified Books', 'https://unverified.example/start');
    await server.storage.clients.update(unverified.clientId, { brandingVerified: false });

    const browser = await signIn(server, '/marketplace');
    const page = await browser.get(`${server.url}/marketplace`);
    assert.equal(page.status, 200);
    assert.match(page.text, /Ledgerly Sync/);
    assert.match(page.text, /https:\/\/ledgerly\.example\/terms/);
    assert.match(page.text, /https:\/\/ledgerly\.example\/privacy/);
    assert.match(page.text, /See users and employees/);
    for (const hidden of ['Pending Books', 'Suspended Books', 'No Initiation Books', 'Unverified Books', 'Ledgerly Mobile']) assert.doesNotMatch(page.text, new RegExp(hidden));
    assert.match(page.text, new RegExp(`<option value="${urn(swedish)}">`));

    const csrf = inputValue(page.text, '_csrf')!;
    const action = `${server.url}/marketplace/${clientId}/connect`;
    assert.equal((await browser.post(action, { subject: urn(swedish) })).status, 403, 'CSRF');
    const answer = await browser.post(action, { _csrf: csrf, subject: urn(swedish) });
    assert.equal(answer.status, 303);
    const target = new URL(answer.location!);
    assert.equal(target.searchParams.get('from'), 'gatehouse', 'the initiation URI keeps its own query');
    assert.equal(`${target.origin}${target.pathname}`, 'https://ledgerly.example/start');
    assert.ok(target.searchParams.get('gatehouse_id_token'));

    assert.equal((await browser.post(`${server.url}/marketplace/${pending.clientId}/connect`, { _csrf: csrf, subject: urn(swedish) })).status, 404);
    const bob = await signIn(server, '/marketplace', seed.users.bob);
    const bobPage = await bob.get(`${server.url}/marketplace`);
    const bobRefused = await bob.post(action, { _csrf: inputValue(bobPage.text, '_csrf')!, subject: urn(swedish) });
    assert.equal(bobRefused.status, 403, 'Bob does not administer the Swedish company');
  });

  it('admin API: GET /admin/v1/grants by user or client, DELETE /admin/v1/grants/:grant_id (audit by admin:<name>)', async () => {
    const { tokens } = await obtainTokens(server, { subject: urn(danish) });
    const auth = { authorization: `Bearer ${adminToken}` };
    const byUser = await (await fetch(`${server.url}/admin/v1/grants?user_id=${seed.users.alice.id}`, { headers: auth })).json() as Record<string, unknown>[];
    const listed = byUser.find((grant) => grant.client_id === clientId)!;
    assert.equal(listed.subject_urn, urn(danish));
    assert.equal(listed.scope, 'users:read vendors:read');
    assert.equal(typeof listed.last_token_used_at, 'number');
    const byClient = await (await fetch(`${server.url}/admin/v1/grants?client_id=${clientId}`, { headers: auth })).json() as Record<string, unknown>[];
    assert.deepEqual(byClient.map((grant) => grant.grant_id), [listed.grant_id]);
    assert.equal((await fetch(`${server.url}/admin/v1/grants`, { headers: auth })).status, 400);
    assert.equal((await fetch(`${server.url}/admin/v1/grants?client_id=x&user_id=y`, { headers: auth })).status, 400);
    // A malformed id is a mistake, not an empty list.
    for (const query of ['user_id=x', 'client_id=not-a-uuid']) {
      const refused = await fetch(`${server.url}/admin/v1/grants?${query}`, { headers: auth });
      assert.equal(refused.status, 400, query);
      const body = await refused.json() as { error: string; field: string };
      assert.deepEqual([body.error, body.field], ['invalid_request', query.split('=')[0]]);
    }
    const upper = await (await fetch(`${server.url}/admin/v1/grants?user_id=${seed.users.alice.id.toUpperCase()}`, { headers: auth })).json() as unknown[];
    assert.equal(upper.length, byUser.length, 'an uppercase UUID names the same user');
    assert.equal((await fetch(`${server.url}/admin/v1/grants?client_id=${clientId}`)).status, 401);

    const revoked = await fetch(`${server.url}/admin/v1/grants/${listed.grant_id}`, { method: 'DELETE', headers: auth });
    assert.equal(revoked.status, 200);
    assert.equal((await revoked.json() as { revoked_at: number }).revoked_at, server.clock.nowSeconds());
    assert.deepEqual(await introspect(server, tokens.access_token), { active: false });
    assert.equal((await fetch(`${server.url}/admin/v1/grants/${listed.grant_id}`, { method: 'DELETE', headers: auth })).status, 409);
    assert.equal((await fetch(`${server.url}/admin/v1/grants/${randomUUID()}`, { method: 'DELETE', headers: auth })).status, 404);
    const event = (await server.storage.audit.list({ limit: 10 })).find((candidate) => candidate.type === 'grant.revoked' && candidate.grantId === listed.grant_id);
    assert.equal(event?.actor, 'admin:ops');
    const openapi = await (await fetch(`${server.url}/admin/v1/openapi.json`)).json() as { paths: Record<string, Record<string, unknown>> };
    assert.ok(openapi.paths['/admin/v1/grants']?.get);
    assert.ok(openapi.paths['/admin/v1/grants/{grant_id}']?.delete);
  });

  describe('pages users see (issue 13)', () => {
    it('connected apps names the company and scopes in words, never a subject URN', async () => {
      await obtainTokens(server, { subject: urn(swedish), scope: 'users:read' });
      const browser = await signIn(server, '/account/connected-apps');
      const page = await browser.get(`${server.url}/account/connected-apps`);
      assert.match(page.text, new RegExp(`for <strong>${swedish.name}</strong>`));
      assert.match(page.text, /<li>See users and employees<\/li>/);
      assert.doesNotMatch(page.text, /urn:gatehouse:/, 'no URN on the page');
      assert.doesNotMatch(page.text, /<code class="muted">users:read<\/code>/, 'no scope identifiers');
    });

    it('Disconnect first asks for confirmation naming the app and the company; nothing is revoked until confirmed', async () => {
      await obtainTokens(server, { subject: urn(danish), scope: 'users:read' });
      const grant = (await server.storage.grants.listActive({ clientId })).find((candidate) => candidate.subjectId === danish.id)!;
      const browser = await signIn(server, '/account/connected-apps');
      const page = await browser.get(`${server.url}/account/connected-apps`);
      const confirmation = await browser.post(`${server.url}/account/connected-apps/${grant.grantId}/disconnect`, { _csrf: inputValue(page.text, '_csrf')! });
      assert.equal(confirmation.status, 200);
      assert.match(confirmation.text, new RegExp(`<h1>Disconnect Ledgerly Sync from ${danish.name}\\?</h1>`));
      assert.match(confirmation.text, /<li>See users and employees<\/li>/);
      assert.match(confirmation.text, /<input type="hidden" name="confirm" value="yes">/);
      assert.equal((await server.storage.grants.find(grant.grantId))?.revokedAt, null, 'not revoked before the confirmation');
      assert.ok(!(await server.storage.audit.list({ limit: 50 })).some((event) => event.type === 'grant.revoked' && event.grantId === grant.grantId));
    });

    it("the disconnect confirmation's language switch shows it again in French with the app still connected; a confirm=yes form carrying locale disconnects nothing", async () => {
      const { tokens } = await obtainTokens(server, { subject: urn(danish), scope: 'users:read' });
      const grant = (await server.storage.grants.listActive({ clientId })).find((candidate) => candidate.subjectId === danish.id)!;
      const browser = await signIn(server, '/account/connected-apps');
      const page = await browser.get(`${server.url}/account/connected-apps`);
      const action = `/account/connected-apps/${grant.grantId}/disconnect`;
      const confirmation = await browser.post(`${server.url}${action}`, { _csrf: inputValue(page.text, '_csrf')! });
      assert.doesNotMatch(confirmation.text, /href="\/language\?/, 'no link away from the pending confirmation');
      const toFrench = languageSwitchForm(confirmation.text, 'fr');
      assert.equal(toFrench.action, action);
      assert.equal(toFrench.body.get('confirm'), null, 'the switch does not confirm');
      const french = await browser.post(`${server.url}${toFrench.action}`, Object.fromEntries(toFrench.body));
      assert.equal(french.status, 200);
      assert.match(french.text, /<html lang="fr"/);
      assert.ok(french.text.includes(`<h1>Déconnecter Ledgerly Sync de ${danish.name} ?</h1>`), 'the same confirmation, in French');
      assert.ok(french.text.includes(`<form method="post" action="${action}">`));
      assert.match(french.text, /<input type="hidden" name="confirm" value="yes">/);
      const stillConnected = async (why: string) => {
        assert.equal((await server.storage.grants.find(grant.grantId))?.revokedAt, null, why);
        assert.ok(!(await server.storage.audit.list({ limit: 50 })).some((event) => event.type === 'grant.revoked' && event.grantId === grant.grantId), why);
        assert.equal((await introspect(server, tokens.access_token)).active, true, why);
      };
      await stillConnected('the switch disconnects nothing');
      // A hand-made form that says both confirm=yes and locale is a switch: it shows the confirmation, and acts on nothing.
      const both = await browser.post(`${server.url}${action}`, { ...Object.fromEntries(toFrench.body), confirm: 'yes' });
      assert.equal(both.status, 200);
      assert.ok(both.text.includes(`<h1>Déconnecter Ledgerly Sync de ${danish.name} ?</h1>`));
      await stillConnected('confirm=yes with locale disconnects nothing');
      // The choice is remembered, and the French confirmation's own button disconnects.
      assert.match((await browser.get(`${server.url}/account/connected-apps`)).text, /<html lang="fr"/);
      const done = await browser.post(`${server.url}${action}`, { _csrf: inputValue(french.text, '_csrf')!, confirm: 'yes' });
      assert.equal(done.status, 303);
      assert.equal((await server.storage.grants.find(grant.grantId))?.revocationReason, 'user_disconnected');
    });

    it('the notice after a disconnect names nothing for a grant the user does not administer (no lookup of others\' grants)', async () => {
      await obtainTokens(server, { subject: urn(swedish), scope: 'users:read' });
      const grant = (await server.storage.grants.listActive({ clientId })).find((candidate) => candidate.subjectId === swedish.id)!;
      await server.storage.grants.revoke(grant.grantId, Math.floor(Date.now() / 1000), 'admin_revoked');
      const bob = await signIn(server, '/account/connected-apps', seed.users.bob);
      const page = await bob.get(`${server.url}/account/connected-apps?disconnected=${grant.grantId}`);
      assert.equal(page.status, 200);
      assert.doesNotMatch(page.text, /was disconnected from/);
    });

    it('GET / is a home page for a signed-in user with links onward; signed out it is the login page returning to /', async () => {
      const anonymous = await fetch(`${server.url}/`);
      assert.equal(anonymous.status, 200);
      assert.match(await anonymous.text(), /name="return_to" value="\/"/);
      const browser = await signIn(server, '/account/connected-apps');
      const home = await browser.get(`${server.url}/`);
      assert.equal(home.status, 200);
      for (const link of ['/account/connected-apps', '/marketplace', '/account/sessions', '/account']) assert.match(home.text, new RegExp(`href="${link}"`));
      assert.doesNotMatch(home.text, /href="\/portal"/, 'the portal link is for partner developers');
      const developerBrowser = await signIn(server, '/account/connected-apps', seed.developer);
      assert.match((await developerBrowser.get(`${server.url}/`)).text, /href="\/portal">Developer portal/);
    });

    it('every page of the account has the same navigation, and two-step verification is reachable from /account', async () => {
      const browser = await signIn(server, '/account/connected-apps');
      const account = await browser.get(`${server.url}/account`);
      assert.match(account.text, /<a href="\/account\/security">Two-step verification<\/a>/);
      for (const path of ['/account', '/account/connected-apps', '/account/sessions', '/account/security', '/account/api-keys', '/marketplace']) {
        const page = await browser.get(`${server.url}${path}`);
        assert.equal(page.status, 200, path);
        const nav = /<nav class="muted" aria-label="Account">(.*?)<\/nav>/s.exec(page.text)?.[1];
        assert.ok(nav, `${path} has the labelled account navigation`);
        for (const link of ['/', '/account/connected-apps', '/marketplace', '/account']) assert.match(nav, new RegExp(`href="${link}"`), `${path}: ${link}`);
      }
      // The sessions table's last column is named for screen readers (axe empty-table-header).
      assert.match((await browser.get(`${server.url}/account/sessions`)).text, /<th><span class="visually-hidden">Actions<\/span><\/th>/);
    });

    it('GET /account shows who is signed in and what they administer (by name)', async () => {
      const browser = await signIn(server, '/account/connected-apps');
      const page = await browser.get(`${server.url}/account`);
      assert.equal(page.status, 200);
      assert.match(page.text, new RegExp(seed.users.alice.email.replace('.', '\\.')));
      assert.match(page.text, new RegExp(`${danish.name}`));
      assert.match(page.text, new RegExp(`${swedish.name}`));
      assert.doesNotMatch(page.text, /urn:gatehouse:/);
      const anonymous = await fetch(`${server.url}/account`);
      assert.match(await anonymous.text(), /name="password"/, 'signed out: the login page');
    });
  });
});
