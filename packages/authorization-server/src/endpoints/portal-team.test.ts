/**
 * Issue 13 "Partner teams": an owner invites a teammate by e-mail (a new directory user gets a set-password
 * link), the teammate signs in and manages the team's clients, members cannot invite or remove, removal
 * asks for confirmation and never removes the last owner; every form is CSRF-checked and every change
 * audited. Each refusal is checked for what did NOT happen.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../users/password.ts';
import { registerClient as registerLegacyClient } from '../clients/registration.ts';
import { Browser, inputValue, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { linkInMail, startMailCatcher, type MailCatcher } from '../testing/mail-catcher.ts';

const developer = seed.developer;

async function signIn(server: TestServer, user: { email: string; password: string }, path = '/portal'): Promise<Browser> {
  const browser = new Browser();
  const login = await browser.get(`${server.url}${path}`);
  const answer = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: inputValue(login.text, 'return_to')!, email: user.email, password: user.password });
  assert.equal(answer.status, 303);
  assert.equal(answer.location, path);
  return browser;
}

async function registerClient(server: TestServer, browser: Browser, clientName: string): Promise<string> {
  const form = await browser.get(`${server.url}/portal/clients/new`);
  const body = new FormData();
  for (const [name, value] of Object.entries({ _csrf: inputValue(form.text, '_csrf')!, client_name: clientName, token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: 'http://localhost:8080/callback', scope: 'users:read' })) body.append(name, value);
  const created = await browser.request(`${server.url}/portal/clients`, { method: 'POST', body });
  assert.equal(created.status, 303, created.text.slice(0, 300));
  return created.location!.split('/').at(-1)!;
}

async function newDeveloper(server: TestServer, email: string, name: string): Promise<{ id: string; email: string; password: string }> {
  const id = crypto.randomUUID();
  const password = `${name.toLowerCase()}-demo-password`;
  await server.storage.users.create({ userId: id, email, name, passwordHash: await hashPassword(password) });
  await server.storage.developers.add(id);
  return { id, email, password };
}

const invitedEvents = (server: TestServer) => server.storage.audit.list({ types: ['partner_team.member_invited'] });
const removedEvents = (server: TestServer) => server.storage.audit.list({ types: ['partner_team.member_removed'] });

describe('partner teams in the developer portal (issue 13)', () => {
  let server: TestServer;
  let mail: MailCatcher;
  before(async () => {
    mail = await startMailCatcher();
    server = await startTestServer({ localAccounts: { smtpUrl: mail.url, mailFrom: 'Gatehouse <no-reply@gatehouse.test>' } });
  });
  after(async () => {
    await server.close();
    await mail.close();
  });

  it('an owner invites a new teammate by e-mail; the teammate sets a password, signs in and manages the team\'s client; removal asks first', async () => {
    const owner = await signIn(server, developer);
    const clientId = await registerClient(server, owner, 'Fjord Books');
    const team = await owner.get(`${server.url}/portal/team`);
    assert.equal(team.status, 200);
    assert.match(team.text, /<a href="\/portal\/team">Team<\/a>/);
    assert.match(team.text, /<td>Owner<\/td>/);
    assert.match(team.text, /sees and manages the team’s 1 client/);

    const invited = await owner.post(`${server.url}/portal/team/invitations`, { _csrf: inputValue(team.text, '_csrf')!, name: 'Maja Mikkelsen', email: 'Maja@Fjord.example', role: 'member' });
    assert.equal(invited.status, 303);
    const maja = await server.storage.users.findByEmail('maja@fjord.example');
    assert.ok(maja, 'a directory user was created');
    assert.equal(maja.passwordHash, null);
    assert.equal(invited.location, `/portal/team?invited=${maja.userId}`);
    assert.equal(await server.storage.developers.isDeveloper(maja.userId), true);
    const notice = await owner.get(`${server.url}${invited.location}`);
    assert.match(notice.text, /Maja Mikkelsen \(maja@fjord\.example\) is now in the team/);
    assert.match(notice.text, /<td>Maja Mikkelsen<\/td><td>maja@fjord\.example<\/td><td>Member<\/td>/);

    const message = await mail.next();
    assert.deepEqual(message.to, ['maja@fjord.example']);
    assert.match(message.raw, /added to a partner team at Gatehouse/);
    assert.match(message.raw.replace(/=\r?\n/g, ''), new RegExp(`${server.url}/portal\\s`));
    const link = linkInMail(message);
    const [event] = await invitedEvents(server);
    assert.equal(event?.actor, `user:${developer.id}`);
    assert.equal(event?.details?.user_id, maja.userId);
    assert.equal(event?.details?.role, 'member');
    assert.ok(!JSON.stringify(event).includes(link.split('token=')[1]!), 'the audit event never holds the link');

    // The teammate chooses a password through the link, signs in at /portal and lands on the team's clients.
    const teammate = new Browser();
    const form = await teammate.get(link);
    assert.equal(form.status, 200);
    const set = await teammate.post(`${server.url}/account/set-password`, { _csrf: inputValue(form.text, '_csrf')!, token: inputValue(form.text, 'token')!, password: 'fjord-maja-long-passphrase', password_confirmation: 'fjord-maja-long-passphrase' });
    assert.equal(set.status, 200);
    const majaBrowser = await signIn(server, { email: 'maja@fjord.example', password: 'fjord-maja-long-passphrase' });
    const home = await majaBrowser.get(`${server.url}/portal`);
    assert.match(home.text, new RegExp(`<a href="/portal/clients/${clientId}">Fjord Books</a>`));
    const clientPage = await majaBrowser.get(`${server.url}/portal/clients/${clientId}`);
    assert.equal(clientPage.status, 200);
    // A member manages the team's clients: an edit goes through.
    const edited = await majaBrowser.post(`${server.url}/portal/clients/${clientId}`, { _csrf: inputValue(clientPage.text, '_csrf')!, client_name: 'Fjord Books Pro', redirect_uris: 'http://localhost:8080/callback', scope: 'users:read' });
    assert.equal(edited.status, 303);
    assert.equal((await server.storage.clients.find(clientId))?.clientName, 'Fjord Books Pro');
    // A client the member registers is the team's: the owner sees it.
    const majasClient = await registerClient(server, majaBrowser, 'Fjord Payroll');
    assert.equal((await owner.get(`${server.url}/portal/clients/${majasClient}`)).status, 200);

    // A member can neither invite nor remove (403), and nothing changes.
    const majaTeam = await majaBrowser.get(`${server.url}/portal/team`);
    assert.doesNotMatch(majaTeam.text, /action="\/portal\/team\/invitations"/, 'no invitation form for a member');
    const refusedInvite = await majaBrowser.post(`${server.url}/portal/team/invitations`, { _csrf: inputValue(majaTeam.text, '_csrf')!, name: 'Olav', email: 'olav@fjord.example', role: 'owner' });
    assert.equal(refusedInvite.status, 403);
    assert.equal(await server.storage.users.findByEmail('olav@fjord.example'), undefined);
    const refusedRemove = await majaBrowser.post(`${server.url}/portal/team/members/${developer.id}/remove`, { _csrf: inputValue(majaTeam.text, '_csrf')!, confirm: 'yes' });
    assert.equal(refusedRemove.status, 403);
    assert.equal((await server.storage.partnerTeams.findMembership(developer.id))?.role, 'owner');
    assert.equal((await invitedEvents(server)).length, 1);

    // Removal: first a confirmation naming what will happen; nothing is removed until confirmed.
    const ownersTeam = await owner.get(`${server.url}/portal/team`);
    const confirmation = await owner.post(`${server.url}/portal/team/members/${maja.userId}/remove`, { _csrf: inputValue(ownersTeam.text, '_csrf')! });
    assert.equal(confirmation.status, 200);
    assert.match(confirmation.text, /<h1>Remove Maja Mikkelsen from the team\?<\/h1>/);
    assert.match(confirmation.text, /The clients stay with the team/);
    assert.match(confirmation.text, /<input type="hidden" name="confirm" value="yes">/);
    assert.ok(await server.storage.partnerTeams.findMembership(maja.userId), 'not removed yet');
    const removed = await owner.post(`${server.url}/portal/team/members/${maja.userId}/remove`, { _csrf: inputValue(confirmation.text, '_csrf')!, confirm: 'yes' });
    assert.equal(removed.status, 303);
    assert.equal(removed.location, '/portal/team?removed=1');
    assert.equal(await server.storage.partnerTeams.findMembership(maja.userId), undefined);
    assert.equal(await server.storage.developers.isDeveloper(maja.userId), false);
    const [removal] = await removedEvents(server);
    assert.equal(removal?.actor, `user:${developer.id}`);
    assert.equal(removal?.details?.user_id, maja.userId);
    assert.equal((await majaBrowser.get(`${server.url}/portal/clients/${clientId}`)).status, 403, 'the removed teammate is out');
    assert.equal((await owner.get(`${server.url}/portal/clients/${majasClient}`)).status, 200, 'her client stays with the team');
  });

  it('refuses bad invitation fields beside each field, keeping what was typed; creates, sends and records nothing', async () => {
    const owner = await signIn(server, developer);
    const team = await owner.get(`${server.url}/portal/team`);
    const before = { events: (await invitedEvents(server)).length, mails: mail.messages.length };
    const refused = await owner.post(`${server.url}/portal/team/invitations`, { _csrf: inputValue(team.text, '_csrf')!, name: '', email: 'not-an-address', role: 'member' });
    assert.equal(refused.status, 400);
    assert.match(refused.text, /id="name"[^>]*aria-describedby="name-error" aria-invalid="true"/);
    assert.match(refused.text, /id="email"[^>]*aria-describedby="email-hint email-error" aria-invalid="true"/);
    assert.match(refused.text, /value="not-an-address"/);
    assert.equal(await server.storage.users.findByEmail('not-an-address'), undefined);
    // Someone already in the team, or in another team: refused beside the e-mail field (409).
    const other = await newDeveloper(server, 'stina@elsewhere.example', 'Stina');
    assert.equal((await (await signIn(server, other)).get(`${server.url}/portal`)).status, 200, 'Stina founds her own team');
    const inOther = await owner.post(`${server.url}/portal/team/invitations`, { _csrf: inputValue(refused.text, '_csrf')!, name: 'Stina', email: other.email, role: 'member' });
    assert.equal(inOther.status, 409);
    assert.match(inOther.text, /already belongs to another partner team/);
    assert.notEqual((await server.storage.partnerTeams.findMembership(other.id))?.teamId, (await server.storage.partnerTeams.findMembership(developer.id))?.teamId);
    assert.equal((await invitedEvents(server)).length, before.events);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(mail.messages.length, before.mails, 'no e-mail sent');
  });

  it('an invitation never hands the team the clients a developer registered before teams existed (they stay theirs: 409, nothing moves)', async () => {
    // A developer whose clients were registered before partner teams existed, who has not opened the portal since:
    // no membership yet, their clients the team's through `ownerUserId` once they have one (storage.ts PartnerTeamStore).
    const vera = await newDeveloper(server, 'vera@ledger.example', 'Vera');
    const { client } = await registerLegacyClient({ storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() }, {
      clientName: 'Vera Books', clientType: 'confidential', redirectUris: ['http://localhost:8080/callback'], scopes: ['users:read'],
    }, {}, { actor: `user:${vera.id}`, ownerUserId: vera.id });
    assert.equal(await server.storage.partnerTeams.findMembership(vera.id), undefined);
    const owner = await signIn(server, developer);
    const team = await owner.get(`${server.url}/portal/team`);
    const before = (await invitedEvents(server)).length;
    const invited = await owner.post(`${server.url}/portal/team/invitations`, { _csrf: inputValue(team.text, '_csrf')!, name: 'Vera', email: vera.email, role: 'member' });
    assert.equal(invited.status, 409);
    assert.match(invited.text, /already belongs to another partner team/);
    assert.equal((await owner.get(`${server.url}/portal/clients/${client.clientId}`)).status, 404, 'the inviting team does not get her client');
    assert.notEqual(await server.storage.partnerTeams.teamOfClient(client.clientId), (await server.storage.partnerTeams.findMembership(developer.id))?.teamId);
    assert.equal((await invitedEvents(server)).length, before);
    // Her client stays hers: on her next visit she owns the team that has it.
    const veraBrowser = await signIn(server, vera);
    assert.equal((await veraBrowser.get(`${server.url}/portal/clients/${client.clientId}`)).status, 200);
    assert.equal((await server.storage.partnerTeams.findMembership(vera.id))?.role, 'owner');
  });

  it('refuses an invitation or a removal without its CSRF token (SPEC decision 18): nothing created or removed', async () => {
    const owner = await signIn(server, developer);
    const invite = await owner.post(`${server.url}/portal/team/invitations`, { name: 'Ivar', email: 'ivar@fjord.example', role: 'member' });
    assert.equal(invite.status, 403);
    assert.equal(await server.storage.users.findByEmail('ivar@fjord.example'), undefined);
    const remove = await owner.post(`${server.url}/portal/team/members/${developer.id}/remove`, { confirm: 'yes' });
    assert.equal(remove.status, 403);
    assert.equal((await server.storage.partnerTeams.findMembership(developer.id))?.role, 'owner');
  });

  it('never removes the last owner (409), and another team\'s developer or client is a 404', async () => {
    const owner = await signIn(server, developer);
    const team = await owner.get(`${server.url}/portal/team`);
    // The page offers no removal of the only owner, only what to do instead.
    assert.doesNotMatch(team.text, new RegExp(`action="/portal/team/members/${developer.id}/remove"`));
    assert.match(team.text, /The only owner: invite another owner first/);
    const lastOwner = await owner.post(`${server.url}/portal/team/members/${developer.id}/remove`, { _csrf: inputValue(team.text, '_csrf')!, confirm: 'yes' });
    assert.equal(lastOwner.status, 409);
    assert.match(lastOwner.text, /last owner and was not removed/);
    assert.match(lastOwner.text, /<a href="\/portal\/team">Back to your team<\/a>/);
    assert.equal((await server.storage.partnerTeams.findMembership(developer.id))?.role, 'owner');
    assert.equal(await server.storage.developers.isDeveloper(developer.id), true);

    const stranger = await newDeveloper(server, 'olga@other.example', 'Olga');
    const strangerBrowser = await signIn(server, stranger);
    const strangersClient = await registerClient(server, strangerBrowser, 'Other Books');
    const foreign = await owner.post(`${server.url}/portal/team/members/${stranger.id}/remove`, { _csrf: inputValue(team.text, '_csrf')!, confirm: 'yes' });
    assert.equal(foreign.status, 404);
    assert.ok(await server.storage.partnerTeams.findMembership(stranger.id), 'nothing removed');
    assert.equal((await owner.get(`${server.url}/portal/clients/${strangersClient}`)).status, 404);
    assert.equal((await owner.get(`${server.url}/portal/clients/${strangersClient}/activity`)).status, 404);
    const refused = await owner.post(`${server.url}/portal/clients/${strangersClient}/delete`, { _csrf: inputValue(team.text, '_csrf')!, confirm: 'yes' });
    assert.equal(refused.status, 404);
    assert.equal((await server.storage.clients.find(strangersClient))?.status, 'active');
  });
});
