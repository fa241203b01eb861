/**
 * Issue 13 "Partner teams": an owner invites a teammate by e-mail (a new directory user gets a set-password
 * link); nothing changes until the invitee signs in as the invited account and accepts (then they manage the
 * team's clients); the invitation's answer never tells whether the address has an account; declined, expired,
 * withdrawn and other accounts' invitations are refused with a page and a way onward; members cannot invite or
 * remove, removal and withdrawal ask for confirmation, the last owner is never removed; every form is
 * CSRF-checked and every change audited. Each refusal is checked for what did NOT happen. On both backends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../users/password.ts';
import { registerClient as registerLegacyClient } from '../clients/registration.ts';
import { createDirectoryUser, removeDeveloper } from '../directory/directory.ts';
import { Browser, inputValue, languageSwitchForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { linkInMail, mailText, startMailCatcher, type CaughtMail, type MailCatcher } from '../testing/mail-catcher.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';
import { inviteUser } from '../users/password-links.ts';
import { TEAM_INVITATION_LIFETIME_SECONDS } from './portal-team.ts';
import { translator } from '../i18n/i18n.ts';

const postgresSkip = await postgresSkipReason();

const developer = seed.developer;

async function signIn(server: TestServer, user: { email: string; password: string }, path = '/portal', browser = new Browser()): Promise<Browser> {
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

/** A directory user with a password who is no partner developer. */
async function newUserWithPassword(server: TestServer, email: string, name: string): Promise<{ id: string; email: string; password: string }> {
  const id = crypto.randomUUID();
  const password = `${name.toLowerCase()}-demo-password`;
  await server.storage.users.create({ userId: id, email, name, passwordHash: await hashPassword(password) });
  return { id, email, password };
}

/** The next message to `to` (messages to others before it are passed over). */
async function lastMail(mail: MailCatcher, to: string): Promise<CaughtMail> {
  for (;;) {
    const message = await mail.next();
    if (message.to.includes(to)) return message;
  }
}

const invitedEvents = (server: TestServer) => server.storage.audit.list({ types: ['partner_team.member_invited'] });
const removedEvents = (server: TestServer) => server.storage.audit.list({ types: ['partner_team.member_removed'] });
const answerEvents = (server: TestServer) => server.storage.audit.list({ types: ['partner_team.invitation_accepted', 'partner_team.invitation_declined', 'partner_team.invitation_revoked'] });

/** The invitation page an invitation e-mail links to. */
function invitationLinkInMail(server: TestServer, mail: CaughtMail): string {
  const match = new RegExp(`${server.url}/portal/invitations/[0-9a-f-]{36}`).exec(mail.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '='));
  assert.ok(match, 'an invitation link in the message');
  return match[0];
}

/** Sends the invitation form as the signed-in owner. */
async function invite(server: TestServer, owner: Browser, fields: { name: string; email: string; role: string }) {
  const team = await owner.get(`${server.url}/portal/team`);
  return owner.post(`${server.url}/portal/team/invitations`, { _csrf: inputValue(team.text, '_csrf')!, ...fields });
}

/** Posts a form of the page at `path` (its CSRF token) to `action`. */
async function postFrom(server: TestServer, browser: Browser, path: string, action: string, fields: Record<string, string> = {}) {
  const page = await browser.get(`${server.url}${path}`);
  return browser.post(`${server.url}${action}`, { _csrf: inputValue(page.text, '_csrf')!, ...fields });
}

const postBody = (browser: Browser, url: string, body: URLSearchParams) =>
  browser.request(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

for (const backend of ['sqlite', 'postgres'] as const) describe(`partner teams in the developer portal (issue 13): ${backend}`, { skip: backend === 'postgres' ? postgresSkip : false }, () => {
  let server: TestServer;
  let mail: MailCatcher;
  before(async () => {
    mail = await startMailCatcher();
    server = await startTestServer({ localAccounts: { smtpUrl: mail.url, mailFrom: 'Gatehouse <no-reply@gatehouse.test>' },
      ...(backend === 'postgres' ? { storage: await createTestPostgresStorage() } : {}) });
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
    const [pending] = await server.storage.partnerTeamInvitations.listPendingOfUser(maja.userId, server.clock.nowSeconds());
    assert.ok(pending);
    assert.equal(invited.location, `/portal/team?invited=${pending.invitationId}`);
    // Nothing changes until she accepts: no membership, no developer access.
    assert.equal(await server.storage.partnerTeams.findMembership(maja.userId), undefined);
    assert.equal(await server.storage.developers.isDeveloper(maja.userId), false);
    const notice = await owner.get(`${server.url}${invited.location}`);
    assert.match(notice.text, /Invitation sent to maja@fjord\.example\. They join the team once they sign in and accept it\./);
    const [membersPart, pendingPart] = notice.text.split('<h2>Pending invitations</h2>');
    assert.doesNotMatch(membersPart!, /maja@fjord\.example<\/td>/, 'not listed as a member');
    assert.match(pendingPart!, /<td>Maja Mikkelsen<\/td><td>maja@fjord\.example<\/td><td>Member<\/td><td>[^<]+ UTC<\/td>/);

    const message = await mail.next();
    assert.deepEqual(message.to, ['maja@fjord.example']);
    assert.match(message.raw, /Dana Developer invited you to a partner team at Gatehouse/);
    assert.match(message.raw.replace(/=\r?\n/g, ''), /Nothing changes until you accept/);
    const link = linkInMail(message);
    const invitationLink = invitationLinkInMail(server, message);
    assert.equal(invitationLink, `${server.url}/portal/invitations/${pending.invitationId}`);
    const [event] = await invitedEvents(server);
    assert.equal(event?.actor, `user:${developer.id}`);
    assert.equal(event?.details?.user_id, maja.userId);
    assert.equal(event?.details?.invitation_id, pending.invitationId);
    assert.equal(event?.details?.role, 'member');
    assert.ok(!JSON.stringify(event).includes(link.split('token=')[1]!), 'the audit event never holds the link');

    // The teammate chooses a password through the link, opens the invitation (signing in on the way) and accepts.
    const teammate = new Browser();
    const form = await teammate.get(link);
    assert.equal(form.status, 200);
    const set = await teammate.post(`${server.url}/account/set-password`, { _csrf: inputValue(form.text, '_csrf')!, token: inputValue(form.text, 'token')!, password: 'fjord-maja-long-passphrase', password_confirmation: 'fjord-maja-long-passphrase' });
    assert.equal(set.status, 200);
    const majaBrowser = await signIn(server, { email: 'maja@fjord.example', password: 'fjord-maja-long-passphrase' }, new URL(invitationLink).pathname);
    const invitationPage = await majaBrowser.get(invitationLink);
    assert.equal(invitationPage.status, 200);
    assert.match(invitationPage.text, /Dana Developer invites you to a partner team at Gatehouse/);
    assert.match(invitationPage.text, /<dt>Team<\/dt><dd>The partner team of Dana Developer<\/dd>/);
    assert.match(invitationPage.text, /<dt>Clients the team manages<\/dt><dd>Fjord Books<\/dd>/);
    assert.match(invitationPage.text, /<dt>Invited by<\/dt><dd>Dana Developer \(dev@partner\.example\)<\/dd>/);
    assert.match(invitationPage.text, /<dt>Role<\/dt><dd>Member: sees and manages the team’s clients<\/dd>/);
    assert.match(invitationPage.text, new RegExp(`action="/portal/invitations/${pending.invitationId}/accept"><input type="hidden" name="_csrf"`));
    assert.match(invitationPage.text, new RegExp(`action="/portal/invitations/${pending.invitationId}/decline"><input type="hidden" name="_csrf"`));
    assert.equal(await server.storage.partnerTeams.findMembership(maja.userId), undefined, 'opening the invitation changes nothing');
    // Without the CSRF token: refused, nothing changes (SPEC decision 18).
    assert.equal((await majaBrowser.post(`${server.url}/portal/invitations/${pending.invitationId}/accept`, {})).status, 403);
    assert.equal(await server.storage.partnerTeams.findMembership(maja.userId), undefined);
    const accepted = await majaBrowser.post(`${server.url}/portal/invitations/${pending.invitationId}/accept`, { _csrf: inputValue(invitationPage.text, '_csrf')! });
    assert.equal(accepted.status, 303);
    assert.equal(accepted.location, '/portal/team?joined=1');
    assert.equal((await server.storage.partnerTeams.findMembership(maja.userId))?.role, 'member');
    assert.equal(await server.storage.developers.isDeveloper(maja.userId), true);
    const joined = await majaBrowser.get(`${server.url}${accepted.location}`);
    assert.match(joined.text, /You joined the team: you now see and manage its clients\./);
    assert.match(joined.text, /<td>Maja Mikkelsen <span class="muted">\(you\)<\/span><\/td><td>maja@fjord\.example<\/td><td>Member<\/td>/);
    const [acceptance] = await answerEvents(server);
    assert.equal(acceptance?.type, 'partner_team.invitation_accepted');
    assert.equal(acceptance?.actor, `user:${maja.userId}`);
    assert.equal(acceptance?.details?.invitation_id, pending.invitationId);
    assert.equal(acceptance?.details?.developer_access_granted, true);
    // Accepted once: a second acceptance is told so, with the way to the team.
    const again = await majaBrowser.post(`${server.url}/portal/invitations/${pending.invitationId}/accept`, { _csrf: inputValue(invitationPage.text, '_csrf')! });
    assert.equal(again.status, 410);
    assert.match(again.text, /You accepted this invitation before and are in the team/);
    assert.match(again.text, /<a href="\/portal\/team">Go to your team<\/a>/);

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
    // Someone already in the team (the page lists them, so saying so reveals nothing): refused beside the e-mail field (409).
    const inTeam = await owner.post(`${server.url}/portal/team/invitations`, { _csrf: inputValue(refused.text, '_csrf')!, name: 'Dana', email: 'DEV@partner.example', role: 'member' });
    assert.equal(inTeam.status, 409);
    assert.match(inTeam.text, /This person is already in your team/);
    assert.match(inTeam.text, /value="dev@partner\.example"/);
    assert.equal((await invitedEvents(server)).length, before.events);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(mail.messages.length, before.mails, 'no e-mail sent');
  });

  it('bounds the invitations of a team (teamInvitationsPerHour): over it the form answers 429 with Retry-After and the limit beside the address, keeps what was typed, and creates, stores and e-mails nothing; another team and the next window invite again', async () => {
    const limited = await startTestServer({ teamInvitationsPerHour: 2, localAccounts: { smtpUrl: mail.url, mailFrom: 'Gatehouse <no-reply@gatehouse.test>' },
      ...(backend === 'postgres' ? { storage: await createTestPostgresStorage() } : {}) });
    try {
      const owner = await signIn(limited, developer);
      for (const email of ['one@limit.example', 'two@limit.example']) assert.equal((await invite(limited, owner, { name: 'Within', email, role: 'member' })).status, 303, email);
      const teamId = (await limited.storage.partnerTeams.findMembership(developer.id))!.teamId;
      const pending = async () => (await limited.storage.partnerTeamInvitations.listPendingOfTeam(teamId, limited.clock.nowSeconds())).length;
      assert.equal(await pending(), 2);

      // The third in the hour: refused beside the address, everything typed kept; no user, no invitation, no audit event.
      const refused = await invite(limited, owner, { name: 'Third Person', email: 'Three@Limit.example', role: 'owner' });
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('retry-after'), '3600', 'until the window that began with the first invitation ends');
      assert.equal(refused.headers.get('cache-control'), 'no-store');
      assert.match(refused.text, /<p class="field-error" id="email-error">[^<]*Your team can send at most 2 invitations an hour and has reached that limit\. Nothing was sent: you can invite again in 60 minutes\./);
      assert.match(refused.text, /id="email"[^>]*aria-describedby="email-hint email-error" aria-invalid="true"/);
      assert.match(refused.text, /id="name"[^>]*value="Third Person"/);
      assert.match(refused.text, /id="email"[^>]*value="three@limit\.example"/);
      assert.match(refused.text, /<option value="owner" selected>/);
      assert.equal(await limited.storage.users.findByEmail('three@limit.example'), undefined, 'no directory user created');
      assert.equal(await pending(), 2, 'no invitation stored');
      assert.equal((await invitedEvents(limited)).length, 2, 'nothing audited');
      // Refused again later in the same window (an existing account too): still nothing, and less to wait.
      limited.clock.advanceSeconds(1800);
      const stina = await newUserWithPassword(limited, 'stina@limit.example', 'Stina');
      const again = await invite(limited, owner, { name: 'Stina', email: stina.email, role: 'member' });
      assert.equal(again.status, 429);
      assert.equal(again.headers.get('retry-after'), '1800');
      assert.match(again.text, /you can invite again in 30 minutes/);
      assert.deepEqual(await limited.storage.partnerTeamInvitations.listPendingOfUser(stina.id, limited.clock.nowSeconds()), []);

      // The limit is the team's: another team invites.
      const other = await newDeveloper(limited, 'other@team.example', 'Other');
      assert.equal((await invite(limited, await signIn(limited, other), { name: 'Elsewhere', email: 'elsewhere@limit.example', role: 'member' })).status, 303);

      // The next window: the same invitation goes through, and only it is e-mailed.
      limited.clock.advanceSeconds(1800);
      const later = await invite(limited, owner, { name: 'Third Person', email: 'three@limit.example', role: 'owner' });
      assert.equal(later.status, 303);
      await lastMail(mail, 'three@limit.example');
      assert.equal(mail.messages.filter((message) => message.to.includes('three@limit.example')).length, 1, 'the refused invitation sent no e-mail');
      assert.equal(mail.messages.filter((message) => message.to.includes(stina.email)).length, 0, 'nor did the second refusal');
      assert.equal(await pending(), 3);
    } finally {
      await limited.close();
    }
  });

  it('an invitation never hands the team the clients a developer registered before teams existed (accepting is refused: 409, nothing moves)', async () => {
    // A developer whose clients were registered before partner teams existed, who has not opened the portal since:
    // no membership yet, their clients the team's through `ownerUserId` once they have one (storage.ts PartnerTeamStore).
    const vera = await newDeveloper(server, 'vera@ledger.example', 'Vera');
    const { client } = await registerLegacyClient({ storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() }, {
      clientName: 'Vera Books', clientType: 'confidential', redirectUris: ['http://localhost:8080/callback'], scopes: ['users:read'],
    }, {}, { actor: `user:${vera.id}`, ownerUserId: vera.id });
    assert.equal(await server.storage.partnerTeams.findMembership(vera.id), undefined);
    const owner = await signIn(server, developer);
    const invited = await invite(server, owner, { name: 'Vera', email: vera.email, role: 'member' });
    assert.equal(invited.status, 303, 'answered as any invitation: whether she has an account or a team is not told');
    const link = invitationLinkInMail(server, await lastMail(mail, vera.email));
    const veraBrowser = await signIn(server, vera, new URL(link).pathname);
    const refused = await postFrom(server, veraBrowser, new URL(link).pathname, `${new URL(link).pathname}/accept`);
    assert.equal(refused.status, 409);
    assert.match(refused.text, /<h1>You are already in a partner team<\/h1>/);
    assert.match(refused.text, /have clients of your own that are in no team yet/);
    assert.match(refused.text, /<a href="\/portal\/invitations">See your invitations<\/a>/);
    assert.equal(await server.storage.partnerTeams.findMembership(vera.id), undefined);
    assert.equal((await owner.get(`${server.url}/portal/clients/${client.clientId}`)).status, 404, 'the inviting team does not get her client');
    assert.equal(await server.storage.partnerTeams.teamOfClient(client.clientId), undefined);
    // Her client stays hers: on her next visit she owns the team that has it.
    assert.equal((await veraBrowser.get(`${server.url}/portal/clients/${client.clientId}`)).status, 200);
    assert.equal((await server.storage.partnerTeams.findMembership(vera.id))?.role, 'owner');
  });

  it('answers an invitation to an existing account exactly as one to an unknown address, never showing the directory name; an account\'s own set-password link stays valid', async () => {
    // Stina: an account with another team and a directory name the inviting owner never learns. Rolf: an account
    // without a password yet, whose administrator's set-password link is pending.
    const stina = await newDeveloper(server, 'stina@elsewhere.example', 'Stina');
    assert.equal((await (await signIn(server, stina)).get(`${server.url}/portal`)).status, 200, 'Stina founds her own team');
    const rolf = crypto.randomUUID();
    await server.storage.users.create({ userId: rolf, email: 'rolf@elsewhere.example', name: 'Rolf Directory-Name', passwordHash: null });
    const adminLink = await inviteUser({ storage: server.storage, environment: 'development', now: server.clock.nowSeconds(), actor: 'admin:test' }, server.url, rolf);

    const owner = await signIn(server, developer);
    const answers = [];
    for (const email of ['stina@elsewhere.example', 'rolf@elsewhere.example', 'nobody-yet@elsewhere.example']) {
      const invited = await invite(server, owner, { name: 'Typed Name', email, role: 'owner' });
      const page = await owner.get(`${server.url}${invited.location}`);
      answers.push({
        status: invited.status, location: invited.location?.replace(/[0-9a-f-]{36}/, 'ID'),
        page: page.text.replace(/[0-9a-f-]{36}/g, 'ID').replace(/value="[^"]{20,}"/g, 'value="TOKEN"').replaceAll(email, 'EMAIL'),
      });
      assert.match(page.text, new RegExp(`<p class="notice" role="status">Invitation sent to ${email.replace('.', '\\.')}\\.`));
    }
    // Each page lists the earlier invitations too: compare the answers without the pending lists.
    const withoutList = (text: string) => text.replace(/<h2>Pending invitations<\/h2>[\s\S]*?<\/table><\/div>/, '');
    assert.deepEqual(answers.map((answer) => ({ ...answer, page: withoutList(answer.page) })), Array(3).fill({ ...answers[0]!, page: withoutList(answers[0]!.page) }));
    const last = answers[2]!.page;
    assert.doesNotMatch(last, /Stina Storm|Rolf Directory-Name|Stina<\/td>/, 'no directory name is shown');
    assert.match(last, /<td>Typed Name<\/td><td>stina@elsewhere\.example<\/td><td>Owner<\/td>/);
    // Nothing changed for the existing accounts; Rolf's pending link from his administrator still works.
    assert.notEqual((await server.storage.partnerTeams.findMembership(stina.id))?.teamId, (await server.storage.partnerTeams.findMembership(developer.id))?.teamId);
    assert.equal(await server.storage.partnerTeams.findMembership(rolf), undefined);
    assert.equal(await server.storage.developers.isDeveloper(rolf), false);
    assert.equal((await new Browser().get(adminLink.url)).status, 200, 'the administrator\'s set-password link was not voided');
    // Each got an e-mail with the invitation; only the address new to the directory a set-password link.
    const rolfsMail = await lastMail(mail, 'rolf@elsewhere.example');
    assert.throws(() => linkInMail(rolfsMail));
    invitationLinkInMail(server, rolfsMail);
    const newMail = await lastMail(mail, 'nobody-yet@elsewhere.example');
    linkInMail(newMail);
    invitationLinkInMail(server, newMail);
  });

  it('tells an invitee whose account has no password how to sign in, in their language ("Forgot password?" on the sign-in page, and "Sign in with …" where an identity provider signs people in); an account with a password gets no such hint, and the owner sees the same answer', async () => {
    const owner = await signIn(server, developer);
    // Pia: no password yet, German in the directory, her administrator's set-password link pending. Ola: a password.
    const directory = { storage: server.storage, environment: 'development' as const, now: server.clock.nowSeconds(), actor: 'admin:test' };
    const pia = await createDirectoryUser(directory, { email: 'pia@nopassword.example', name: 'Pia', locale: 'de' });
    const adminLink = await inviteUser(directory, server.url, pia.userId);
    const ola = await newUserWithPassword(server, 'ola@withpassword.example', 'Ola');
    const answers = [];
    for (const email of [pia.email, ola.email]) {
      const invited = await invite(server, owner, { name: 'Typed', email, role: 'member' });
      answers.push([invited.status, invited.location?.replace(/[0-9a-f-]{36}/, 'ID')]);
    }
    assert.deepEqual(answers, [[303, '/portal/team?invited=ID'], [303, '/portal/team?invited=ID']], 'the owner is told nothing of either account');

    const piasMail = await lastMail(mail, pia.email);
    const piasText = mailText(piasMail);
    const de = translator('de');
    assert.ok(piasText.includes(de.t('mail.teamInviteSignInForgot', { brand: 'Gatehouse', forgot: de.t('login.forgot') })), piasText);
    assert.match(piasText, /Melden Sie sich wie gewohnt an\. Wenn Sie für Gatehouse noch nie ein Passwort gewählt haben, wählen Sie auf der Anmeldeseite „Passwort vergessen\?“/);
    invitationLinkInMail(server, piasMail);
    assert.throws(() => linkInMail(piasMail), 'no set-password link of the invitation\'s own');
    assert.equal((await new Browser().get(adminLink.url)).status, 200, 'the administrator\'s link stays valid');
    // The hint is for the account without a password only.
    const olasText = mailText(await lastMail(mail, ola.email));
    assert.match(olasText, /Sign in to accept or decline the invitation/);
    assert.doesNotMatch(olasText, /Forgot password|never set a password/);

    // Where people also sign in through the platform's identity provider, the hint names its button first.
    const withProvider = await startTestServer({
      localAccounts: { smtpUrl: mail.url, mailFrom: 'Gatehouse <no-reply@gatehouse.test>' },
      upstreamIdentityProvider: { issuer: 'https://id.platform.example', clientId: 'gatehouse', clientSecret: 'not-used-here', name: 'Platform ID' },
      ...(backend === 'postgres' ? { storage: await createTestPostgresStorage() } : {}),
    });
    try {
      const sso = crypto.randomUUID();
      await withProvider.storage.users.create({ userId: sso, email: 'sso@platform.example', name: 'Sso', passwordHash: null });
      assert.equal((await invite(withProvider, await signIn(withProvider, developer), { name: 'Sso', email: 'sso@platform.example', role: 'member' })).status, 303);
      const ssoText = mailText(await lastMail(mail, 'sso@platform.example'));
      assert.ok(ssoText.includes('Sign in as you usually do, for example with "Sign in with Platform ID". If you have never set a password for Gatehouse and want one, choose "Forgot password?" on the sign-in page and enter this address: you will be e-mailed a link to set one.'), ssoText);
      assert.throws(() => linkInMail({ to: [], raw: ssoText }));
    } finally {
      await withProvider.close();
    }
  });

  it('an invitation is answered only by the invited account: another signed-in user, a declined, withdrawn or expired invitation is refused with a page and a way onward', async () => {
    const owner = await signIn(server, developer);
    const kari = await newUserWithPassword(server, 'kari@fjord.example', 'Kari');
    const olga = await newUserWithPassword(server, 'olga@fjord.example', 'Olga');
    const toKari = async () => {
      assert.equal((await invite(server, owner, { name: 'Kari', email: kari.email, role: 'member' })).status, 303);
      return new URL(invitationLinkInMail(server, await lastMail(mail, kari.email))).pathname;
    };
    const nothingChanged = async () => {
      assert.equal(await server.storage.partnerTeams.findMembership(kari.id), undefined);
      assert.equal(await server.storage.partnerTeams.findMembership(olga.id), undefined);
      assert.equal(await server.storage.developers.isDeveloper(kari.id), false);
      assert.equal(await server.storage.developers.isDeveloper(olga.id), false);
    };

    // Another signed-in user: the invitation is none of theirs (404), whether they open it or post to it.
    const first = await toKari();
    const olgaBrowser = await signIn(server, olga, first);
    const seen = await olgaBrowser.get(`${server.url}${first}`);
    assert.equal(seen.status, 404);
    assert.match(seen.text, /<h1>No invitation for this account<\/h1>/);
    assert.match(seen.text, /You are signed in as olga@fjord\.example\. Only the account of the address an invitation was sent to can answer it/);
    assert.match(seen.text, /<a href="\/portal\/invitations">See your invitations<\/a>/);
    assert.doesNotMatch(seen.text, /Kari|Dana Developer/, 'nothing about the invitation is shown');
    for (const action of ['accept', 'decline']) {
      const refused = await olgaBrowser.post(`${server.url}${first}/${action}`, { _csrf: inputValue(seen.text, '_csrf')!, confirm: 'yes' });
      assert.equal(refused.status, 404, action);
    }
    await nothingChanged();
    const olgasList = await olgaBrowser.get(`${server.url}/portal/invitations`);
    assert.match(olgasList.text, /You have no pending invitations to a partner team/);

    // Declining: a confirmation first (nothing changes), then declined; accepting it afterwards is refused.
    const kariBrowser = await signIn(server, kari, first);
    const confirmation = await postFrom(server, kariBrowser, first, `${first}/decline`);
    assert.equal(confirmation.status, 200);
    assert.match(confirmation.text, /<h1>Decline the invitation from Dana Developer\?<\/h1>/);
    assert.match(confirmation.text, new RegExp(`<a class="button secondary" href="${first}">Cancel</a>`));
    assert.equal((await server.storage.partnerTeamInvitations.find(first.split('/').at(-1)!))?.status, 'pending');
    const declined = await kariBrowser.post(`${server.url}${first}/decline`, { _csrf: inputValue(confirmation.text, '_csrf')!, confirm: 'yes' });
    assert.equal(declined.status, 303);
    assert.equal(declined.location, '/portal/invitations?declined=1');
    assert.match((await kariBrowser.get(`${server.url}${declined.location}`)).text, /You declined the invitation\. Nothing was changed in your account\./);
    const afterDecline = await postFrom(server, kariBrowser, '/portal/invitations', `${first}/accept`);
    assert.equal(afterDecline.status, 410);
    assert.match(afterDecline.text, /<h1>This invitation was declined<\/h1>/);
    assert.match(afterDecline.text, /ask one of its owners to invite you again/);
    assert.match(afterDecline.text, /<a href="\/portal\/invitations">See your invitations<\/a>/);
    await nothingChanged();

    // Withdrawn by an owner (after a confirmation naming the address): refused.
    const second = await toKari();
    const id = second.split('/').at(-1)!;
    const revokeConfirmation = await postFrom(server, owner, '/portal/team', `/portal/team/invitations/${id}/revoke`);
    assert.equal(revokeConfirmation.status, 200);
    assert.match(revokeConfirmation.text, /<h1>Withdraw the invitation to kari@fjord\.example\?<\/h1>/);
    assert.equal((await server.storage.partnerTeamInvitations.find(id))?.status, 'pending', 'not withdrawn before the confirmation');
    const revoked = await owner.post(`${server.url}/portal/team/invitations/${id}/revoke`, { _csrf: inputValue(revokeConfirmation.text, '_csrf')!, confirm: 'yes' });
    assert.equal(revoked.status, 303);
    assert.equal(revoked.location, '/portal/team?revoked=1');
    assert.match((await owner.get(`${server.url}${revoked.location}`)).text, /The invitation was withdrawn\./);
    const withdrawn = await kariBrowser.get(`${server.url}${second}`);
    assert.equal(withdrawn.status, 410);
    assert.match(withdrawn.text, /<h1>This invitation was withdrawn<\/h1>/);
    assert.equal((await postFrom(server, kariBrowser, '/portal/invitations', `${second}/accept`)).status, 410);
    await nothingChanged();

    // Expired (7 days): refused; nothing changes.
    const third = await toKari();
    server.clock.advanceSeconds(TEAM_INVITATION_LIFETIME_SECONDS);
    const freshKari = await signIn(server, kari, third);
    const expired = await freshKari.get(`${server.url}${third}`);
    assert.equal(expired.status, 410);
    assert.match(expired.text, /<h1>This invitation has expired<\/h1>/);
    assert.match(expired.text, /<a href="\/portal\/invitations">See your invitations<\/a>/);
    assert.equal((await postFrom(server, freshKari, '/portal/invitations', `${third}/accept`)).status, 410);
    await nothingChanged();

    const events = (await answerEvents(server)).filter((event) => event.details?.user_id === kari.id);
    assert.deepEqual(events.map((event) => [event.type, event.actor]).sort(), [
      ['partner_team.invitation_declined', `user:${kari.id}`], ['partner_team.invitation_revoked', `user:${developer.id}`]].sort());
  });

  it("the withdrawal and decline confirmations' language switch shows them again in the language chosen, and withdraws or declines nothing, even with confirm=yes", async () => {
    const owner = await signIn(server, developer);
    const liv = await newUserWithPassword(server, 'liv@fjord.example', 'Liv');
    assert.equal((await invite(server, owner, { name: 'Liv', email: liv.email, role: 'member' })).status, 303);
    const path = new URL(invitationLinkInMail(server, await lastMail(mail, liv.email))).pathname;
    const id = path.split('/').at(-1)!;
    const invitationEvents = async () => (await answerEvents(server)).filter((event) => event.details?.invitation_id === id);

    // The owner's withdrawal: switched to German, the same confirmation again, nothing withdrawn.
    const revokePath = `/portal/team/invitations/${id}/revoke`;
    const revokeConfirmation = await postFrom(server, owner, '/portal/team', revokePath);
    assert.equal(revokeConfirmation.status, 200);
    assert.match(revokeConfirmation.text, /<h1>Withdraw the invitation to liv@fjord\.example\?<\/h1>/);
    const toGerman = languageSwitchForm(revokeConfirmation.text, 'de');
    assert.equal(toGerman.action, revokePath);
    assert.equal(toGerman.body.get('confirm'), null, 'the switch does not confirm');
    const german = await postBody(owner, `${server.url}${toGerman.action}`, toGerman.body);
    assert.equal(german.status, 200);
    assert.match(german.text, /<html lang="de"/);
    assert.ok(german.text.includes(`<h1>${translator('de').t('team.revokeTitle', { email: liv.email })}</h1>`), 'the withdrawal, in German');
    assert.ok(german.text.includes(`<form method="post" action="${revokePath}">`), 'the confirmation again');
    assert.ok(german.text.includes('<input type="hidden" name="confirm" value="yes">'));
    assert.ok(german.text.includes(`<a class="button secondary" href="/portal/team">${translator('de').t('portal.cancel')}</a>`), 'Cancel returns to the team page');
    assert.ok(german.text.includes('<a href="/portal/team">'), 'in the portal\'s frame');
    assert.equal((await server.storage.partnerTeamInvitations.find(id))?.status, 'pending', 'nothing withdrawn');
    // Even a switch that also says confirm=yes (a hand-made form) withdraws nothing.
    const both = new URLSearchParams(toGerman.body);
    both.set('confirm', 'yes');
    const handMade = await postBody(owner, `${server.url}${revokePath}`, both);
    assert.equal(handMade.status, 200);
    assert.match(handMade.text, /<html lang="de"/);
    assert.equal((await server.storage.partnerTeamInvitations.find(id))?.status, 'pending', 'still nothing withdrawn');
    // The choice sticks: the team page is German too.
    assert.match((await owner.get(`${server.url}/portal/team`)).text, /<html lang="de"/);

    // The invitee's decline: switched to French, the same confirmation again in the invitee's frame, nothing declined.
    const livBrowser = await signIn(server, liv, path);
    const declinePath = `${path}/decline`;
    const declineConfirmation = await postFrom(server, livBrowser, path, declinePath);
    assert.equal(declineConfirmation.status, 200);
    assert.match(declineConfirmation.text, /<h1>Decline the invitation from Dana Developer\?<\/h1>/);
    const toFrench = languageSwitchForm(declineConfirmation.text, 'fr');
    assert.equal(toFrench.action, declinePath);
    assert.equal(toFrench.body.get('confirm'), null, 'the switch does not confirm');
    const french = await postBody(livBrowser, `${server.url}${toFrench.action}`, toFrench.body);
    assert.equal(french.status, 200);
    assert.match(french.text, /<html lang="fr"/);
    assert.ok(french.text.includes(`<h1>${translator('fr').t('invitation.declineTitle', { inviter: 'Dana Developer' })}</h1>`), 'the decline, in French');
    assert.ok(french.text.includes(`<form method="post" action="${declinePath}">`), 'the confirmation again');
    assert.ok(french.text.includes('<input type="hidden" name="confirm" value="yes">'));
    assert.ok(french.text.includes(`<a class="button secondary" href="${path}">${translator('fr').t('portal.cancel')}</a>`), 'Cancel returns to the invitation');
    assert.ok(!french.text.includes('<a href="/portal/team">'), 'the invitee\'s frame, without the portal\'s navigation');
    assert.equal((await server.storage.partnerTeamInvitations.find(id))?.status, 'pending', 'nothing declined');
    const bothDecline = new URLSearchParams(toFrench.body);
    bothDecline.set('confirm', 'yes');
    const handMadeDecline = await postBody(livBrowser, `${server.url}${declinePath}`, bothDecline);
    assert.equal(handMadeDecline.status, 200);
    assert.match(handMadeDecline.text, /<html lang="fr"/);
    assert.equal((await server.storage.partnerTeamInvitations.find(id))?.status, 'pending', 'still nothing declined');
    assert.deepEqual(await invitationEvents(), [], 'nothing audited: nothing was answered');
    assert.equal(await server.storage.partnerTeams.findMembership(liv.id), undefined);
    // Cleaned up for the other cases: the owner's pages in English again.
    await owner.get(`${server.url}/language?locale=en&return_to=/portal`);
  });

  it("the removal confirmation's language switch shows it again in the language chosen and removes nothing, even with confirm=yes", async () => {
    const owner = await signIn(server, developer);
    const nils = await newUserWithPassword(server, 'nils@fjord.example', 'Nils');
    assert.equal((await invite(server, owner, { name: 'Nils', email: nils.email, role: 'member' })).status, 303);
    const [invitation] = await server.storage.partnerTeamInvitations.listPendingOfUser(nils.id, server.clock.nowSeconds());
    assert.equal((await server.storage.partnerTeamInvitations.accept(invitation!.invitationId, nils.id, server.clock.nowSeconds())).outcome, 'accepted');
    const stillMember = async () => assert.equal((await server.storage.partnerTeams.findMembership(nils.id))?.role, 'member', 'not removed');

    const removePath = `/portal/team/members/${nils.id}/remove`;
    const confirmation = await postFrom(server, owner, '/portal/team', removePath);
    assert.equal(confirmation.status, 200);
    assert.match(confirmation.text, /<h1>Remove Nils from the team\?<\/h1>/);
    const toSwedish = languageSwitchForm(confirmation.text, 'sv');
    assert.equal(toSwedish.action, removePath);
    assert.equal(toSwedish.body.get('confirm'), null, 'the switch does not confirm');
    const swedish = await postBody(owner, `${server.url}${toSwedish.action}`, toSwedish.body);
    assert.equal(swedish.status, 200);
    assert.match(swedish.text, /<html lang="sv"/);
    assert.ok(swedish.text.includes(`<h1>${translator('sv').t('team.removeTitle', { name: 'Nils' })}</h1>`), 'the removal, in Swedish');
    assert.ok(swedish.text.includes(`<form method="post" action="${removePath}">`), 'the confirmation again');
    assert.ok(swedish.text.includes('<input type="hidden" name="confirm" value="yes">'));
    assert.ok(swedish.text.includes(`<a class="button secondary" href="/portal/team">${translator('sv').t('portal.cancel')}</a>`), 'Cancel returns to the team page');
    await stillMember();
    const both = new URLSearchParams(toSwedish.body);
    both.set('confirm', 'yes');
    assert.equal((await postBody(owner, `${server.url}${removePath}`, both)).status, 200);
    await stillMember();
    assert.deepEqual((await removedEvents(server)).filter((event) => event.details?.user_id === nils.id), [], 'nothing audited: nothing was removed');
    await owner.get(`${server.url}/language?locale=en&return_to=/portal`);
  });

  it('a developer an administrator removed (DELETE /developers/{id}) regains nothing through an invitation until they accept it themselves', async () => {
    const rune = await newDeveloper(server, 'rune@fjord.example', 'Rune');
    await removeDeveloper({ storage: server.storage, environment: 'development', now: server.clock.nowSeconds(), actor: 'admin:ops' }, rune.id);
    const owner = await signIn(server, developer);
    assert.equal((await invite(server, owner, { name: 'Rune', email: rune.email, role: 'member' })).status, 303);
    const link = new URL(invitationLinkInMail(server, await lastMail(mail, rune.email))).pathname;
    assert.equal(await server.storage.developers.isDeveloper(rune.id), false, 'the administrator\'s removal holds');
    assert.equal(await server.storage.partnerTeams.findMembership(rune.id), undefined);
    // The portal still refuses him, and shows him the way to the invitation.
    const runeBrowser = await signIn(server, rune);
    const portal = await runeBrowser.get(`${server.url}/portal`);
    assert.equal(portal.status, 403);
    assert.match(portal.text, /<a href="\/portal\/invitations">See your invitations<\/a>/);
    assert.equal((await runeBrowser.get(`${server.url}/portal/team`)).status, 403);
    const list = await runeBrowser.get(`${server.url}/portal/invitations`);
    assert.match(list.text, /Dana Developer invites you to a partner team at Gatehouse/);
    assert.match(list.text, /<dt>Role<\/dt><dd>Member: sees and manages the team’s clients<\/dd>/);
    const accepted = await runeBrowser.post(`${server.url}${link}/accept`, { _csrf: inputValue(list.text, '_csrf')! });
    assert.equal(accepted.status, 303);
    assert.equal(await server.storage.developers.isDeveloper(rune.id), true);
    assert.equal((await server.storage.partnerTeams.findMembership(rune.id))?.role, 'member');
    const [event] = (await answerEvents(server)).filter((candidate) => candidate.details?.user_id === rune.id);
    assert.equal(event?.type, 'partner_team.invitation_accepted');
    assert.equal(event?.details?.developer_access_granted, true, 'the audit shows the acceptance gave developer access again');
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
