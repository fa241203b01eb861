/**
 * End to end (issue 13 "Partner teams" and "Languages"), in Chromium: a partner developer's client page
 * and team page in German; the owner invites a teammate by e-mail, the teammate chooses a password through
 * the e-mailed link, signs in at the invitation, accepts it and sees the team's client, the owner withdraws
 * another invitation and removes the teammate, each after a confirmation; the withdrawal and decline confirmations'
 * language switches show them again in the language chosen and act on nothing; an invitation over the team's hourly
 * limit is refused beside the address.
 * Every portal page met on the way is axe-clean (WCAG 2.x A/AA) at 1280 px and 390 px, with no sideways
 * scrolling at 390 px.
 *
 * The browser contexts bypass the pages' CSP only so that axe's script can be injected.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { registerClient } from '../../packages/authorization-server/src/clients/registration.ts';
import { seed, startTestServer, type TestServer } from '../../packages/authorization-server/src/testing/harness.ts';
import { linkInMail, startMailCatcher, type MailCatcher } from '../../packages/authorization-server/src/testing/mail-catcher.ts';
import { issuePasswordLink } from '../../packages/authorization-server/src/users/password-links.ts';
import { assertAccessible } from './axe.ts';
import { chromiumSkipReason, launchChromium, logIn } from './chromium.ts';




describe('end to end: partner teams and the portal in German (Chromium, axe)', { skip: chromiumSkipReason }, () => {
  let server: TestServer;
  let browser: Browser;
  let mail: MailCatcher;
  let clientId: string;
  const contexts: BrowserContext[] = [];
  const newPage = async () => {
    const context = await browser.newContext({ bypassCSP: true });
    contexts.push(context);
    return context.newPage();
  };

  before(async () => {
    mail = await startMailCatcher();
    // Three invitations a team an hour: the cases below send three, and the last case meets the limit with a fourth.
    server = await startTestServer({ localAccounts: { smtpUrl: mail.url, mailFrom: 'Gatehouse <no-reply@gatehouse.test>' }, teamInvitationsPerHour: 3 });
    browser = await launchChromium();
    // Registered before the developer's first visit: their team, founded then, takes it.
    const { client } = await registerClient({ storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds(), requireApproval: false },
      { clientName: 'Fjord Books', clientType: 'confidential', redirectUris: ['http://localhost:8080/callback'], scopes: ['users:read'] }, {}, { actor: 'user:x', ownerUserId: seed.developer.id });
    clientId = client.clientId;
  });

  after(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
    await mail?.close();
  });

  it('shows the client page and the team page in German, axe-clean at 1280 and 390 px', async () => {
    const page = await newPage();
    await page.goto(`${server.url}/portal/clients/${clientId}`);
    await logIn(page, seed.developer);
    assert.equal(new URL(page.url()).pathname, `/portal/clients/${clientId}`, 'the deep link survived sign-in');
    await page.getByRole('link', { name: 'Deutsch' }).click();
    await page.waitForLoadState();
    assert.equal(await page.getAttribute('html', 'lang'), 'de');
    assert.equal(await page.getByRole('heading', { level: 2, name: 'Zugangsdaten' }).count(), 1);
    assert.equal(await page.getByRole('button', { name: 'Client löschen …' }).count(), 1);
    await assertAccessible(page, 'client page (de)');
    await page.getByRole('link', { name: 'Team', exact: true }).click();
    await page.waitForLoadState();
    assert.equal(await page.getAttribute('html', 'lang'), 'de');
    assert.match(await page.locator('h1').innerText(), /Ihr Partnerteam/);
    assert.match(await page.locator('main').innerText(), /Alle im Team sehen und verwalten den 1 Client des Teams/);
    await assertAccessible(page, 'team page (de)');
  });

  it('an owner invites a teammate, the teammate signs in and sees the client, the owner removes them', async () => {
    const owner = await newPage();
    await owner.goto(`${server.url}/portal/team`);
    await logIn(owner, seed.developer);
    await owner.getByRole('link', { name: 'English' }).click();
    await owner.waitForLoadState();
    await assertAccessible(owner, 'team page');
    // A refused invitation keeps what was typed, marks the field, and is axe-clean too.
    await owner.getByLabel('Name').fill('Maja Mikkelsen');
    await owner.getByLabel('E-mail address').fill('maja-at-fjord');
    await owner.getByRole('button', { name: 'Send invitation' }).click();
    await owner.waitForLoadState();
    assert.equal(await owner.getAttribute('#email', 'aria-invalid'), 'true');
    assert.equal(await owner.inputValue('#name'), 'Maja Mikkelsen');
    await assertAccessible(owner, 'refused invitation');
    await owner.getByLabel('E-mail address').fill('maja@fjord.example');
    await owner.getByRole('button', { name: 'Send invitation' }).click();
    await owner.waitForLoadState();
    assert.match(await owner.getByRole('status').innerText(), /Invitation sent to maja@fjord\.example/);
    await assertAccessible(owner, 'team page with a pending invitation');

    // The teammate: the e-mailed links, a password, sign-in at the invitation, Accept, the team's client.
    const message = await mail.next();
    const link = linkInMail(message);
    const invitation = /http:\/\/[^\s]+\/portal\/invitations\/[0-9a-f-]{36}/.exec(message.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '='))![0];
    const teammate = await newPage();
    await teammate.goto(link);
    await teammate.getByLabel('New password', { exact: true }).fill('fjord-maja-long-passphrase');
    await teammate.getByLabel('Repeat the new password').fill('fjord-maja-long-passphrase');
    await teammate.getByRole('button', { name: 'Set password' }).click();
    await teammate.waitForLoadState();
    await teammate.goto(invitation);
    await logIn(teammate, { email: 'maja@fjord.example', password: 'fjord-maja-long-passphrase' });
    assert.equal(new URL(teammate.url()).pathname, new URL(invitation).pathname, 'sign-in continued at the invitation');
    assert.match(await teammate.locator('h2').innerText(), /Dana Developer invites you to a partner team at Gatehouse/);
    await assertAccessible(teammate, 'invitation page', { restoreWidth: 1280 });
    await teammate.getByRole('button', { name: 'Accept and join' }).click();
    await teammate.waitForLoadState();
    assert.match(await teammate.getByRole('status').innerText(), /You joined the team/);
    await teammate.getByRole('link', { name: 'Developer portal', exact: true }).click();
    await teammate.waitForLoadState();
    await teammate.getByRole('link', { name: 'Fjord Books' }).click();
    await teammate.waitForLoadState();
    assert.equal(new URL(teammate.url()).pathname, `/portal/clients/${clientId}`);
    assert.equal((await teammate.textContent('#client_id'))?.trim(), clientId);

    // Another invitation, withdrawn after a confirmation naming the address.
    await owner.goto(`${server.url}/portal/team`);
    await owner.getByLabel('Name').fill('Ivar');
    await owner.getByLabel('E-mail address').fill('ivar@fjord.example');
    await owner.getByRole('button', { name: 'Send invitation' }).click();
    await owner.waitForLoadState();
    await owner.getByRole('button', { name: 'Withdraw the invitation to ivar@fjord.example' }).click();
    await owner.waitForLoadState();
    assert.match(await owner.locator('h1').innerText(), /Withdraw the invitation to ivar@fjord\.example\?/);
    await assertAccessible(owner, 'withdrawal confirmation', { restoreWidth: 1280 });
    // Its language switch (buttons of a form of the page) shows the same confirmation again in German; nothing is withdrawn.
    await owner.getByRole('button', { name: 'Deutsch' }).click();
    await owner.waitForLoadState();
    assert.equal(await owner.getAttribute('html', 'lang'), 'de');
    assert.match(await owner.locator('h1').innerText(), /Einladung an ivar@fjord\.example zurückziehen\?/);
    const ivar = await server.storage.users.findByEmail('ivar@fjord.example');
    assert.equal((await server.storage.partnerTeamInvitations.listPendingOfUser(ivar!.userId, server.clock.nowSeconds())).length, 1, 'not withdrawn by the switch');
    await assertAccessible(owner, 'withdrawal confirmation (de, after the switch)', { restoreWidth: 1280 });
    await owner.getByRole('button', { name: 'English' }).click();
    await owner.waitForLoadState();
    assert.match(await owner.locator('h1').innerText(), /Withdraw the invitation to ivar@fjord\.example\?/);
    await owner.getByRole('button', { name: 'Withdraw the invitation' }).click();
    await owner.waitForLoadState();
    assert.match(await owner.getByRole('status').innerText(), /The invitation was withdrawn/);

    // The owner removes her, after a confirmation that names what will happen.
    await owner.goto(`${server.url}/portal/team`);
    await owner.getByRole('button', { name: 'Remove Maja Mikkelsen from the team' }).click();
    await owner.waitForLoadState();
    assert.match(await owner.locator('h1').innerText(), /Remove Maja Mikkelsen from the team\?/);
    await assertAccessible(owner, 'removal confirmation');
    await owner.getByRole('button', { name: 'Remove from the team' }).click();
    await owner.waitForLoadState();
    assert.match(await owner.getByRole('status').innerText(), /The teammate was removed/);
    assert.equal(await owner.getByRole('cell', { name: 'Maja Mikkelsen' }).count(), 0);

    const after = await teammate.goto(`${server.url}/portal/clients/${clientId}`);
    assert.equal(after?.status(), 403, 'the removed teammate no longer reaches the client');
  });
  it("the invitee's decline confirmation and its language switch, and the team's invitation limit, are axe-clean at 1280 and 390 px; the switch declines nothing", async () => {
    const owner = await newPage();
    await owner.goto(`${server.url}/portal/team`);
    await logIn(owner, seed.developer);
    await owner.getByLabel('Name').fill('Kari');
    await owner.getByLabel('E-mail address').fill('kari@fjord.example');
    await owner.getByRole('button', { name: 'Send invitation' }).click();
    await owner.waitForLoadState();
    assert.match(await owner.getByRole('status').innerText(), /Invitation sent to kari@fjord\.example/);
    // The fourth invitation of the hour: refused beside the address, what was typed kept.
    await owner.getByLabel('Name').fill('Lena');
    await owner.getByLabel('E-mail address').fill('lena@fjord.example');
    await owner.getByRole('button', { name: 'Send invitation' }).click();
    await owner.waitForLoadState();
    assert.match(await owner.locator('#email-error').innerText(), /Your team can send at most 3 invitations an hour and has reached that limit/);
    assert.equal(await owner.inputValue('#email'), 'lena@fjord.example');
    assert.equal(await owner.getAttribute('#email', 'aria-invalid'), 'true');
    assert.equal(await server.storage.users.findByEmail('lena@fjord.example'), undefined);
    await assertAccessible(owner, 'team page refusing an invitation over the limit', { restoreWidth: 1280 });

    // Kari opens her invitation, asks to decline, and switches the confirmation to French.
    // She is new to the directory: her password is set through a link, as the invitation e-mail's.
    const karisUser = (await server.storage.users.findByEmail('kari@fjord.example'))!;
    const [pending] = await server.storage.partnerTeamInvitations.listPendingOfUser(karisUser.userId, server.clock.nowSeconds());
    assert.ok(pending);
    const link = await issuePasswordLink(server.storage, server.url, karisUser.userId, 'reset', server.clock.nowSeconds());
    const invitee = await newPage();
    await invitee.goto(link.url);
    await invitee.getByLabel('New password', { exact: true }).fill('fjord-kari-long-passphrase');
    await invitee.getByLabel('Repeat the new password').fill('fjord-kari-long-passphrase');
    await invitee.getByRole('button', { name: 'Set password' }).click();
    await invitee.waitForLoadState();
    await invitee.goto(`${server.url}/portal/invitations/${pending.invitationId}`);
    await logIn(invitee, { email: 'kari@fjord.example', password: 'fjord-kari-long-passphrase' });
    await invitee.getByRole('button', { name: 'Decline…' }).click();
    await invitee.waitForLoadState();
    assert.match(await invitee.locator('h1').innerText(), /Decline the invitation from Dana Developer\?/);
    await assertAccessible(invitee, 'decline confirmation', { restoreWidth: 1280 });
    await invitee.getByRole('button', { name: 'Français' }).click();
    await invitee.waitForLoadState();
    assert.equal(await invitee.getAttribute('html', 'lang'), 'fr');
    assert.match(await invitee.locator('h1').innerText(), /Refuser l’invitation de Dana Developer/);
    assert.equal((await server.storage.partnerTeamInvitations.find(pending.invitationId))?.status, 'pending', 'not declined by the switch');
    await assertAccessible(invitee, 'decline confirmation (fr, after the switch)', { restoreWidth: 1280 });
    // Cancel goes back to the invitation, still open.
    await invitee.getByRole('link', { name: 'Annuler' }).click();
    await invitee.waitForLoadState();
    assert.equal(new URL(invitee.url()).pathname, `/portal/invitations/${pending.invitationId}`);
    assert.equal((await server.storage.partnerTeamInvitations.find(pending.invitationId))?.status, 'pending');
  });
});
