/**
 * The partner-team invitation part of the storage contract suite (storage.ts `PartnerTeamInvitationStore`,
 * issue 13), run by contract/index.ts on every backend (SQLite and PostgreSQL). Times are passed in explicitly.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PARTNER_TEAM_INVITATION_RETENTION_SECONDS, type PartnerTeamInvitationRecord, type PartnerTeamRole, type Storage } from '../storage.ts';
import { type ContractBackend, NOW, bareClientRecord } from './fixtures.ts';

const WEEK = 7 * 24 * 3600;

async function newUser(storage: Storage, name: string): Promise<string> {
  const userId = randomUUID();
  await storage.users.create({ userId, email: `${name.toLowerCase()}-${userId}@partner.example`, name, passwordHash: null });
  return userId;
}

async function invite(storage: Storage, teamId: string, invitedBy: string, userId: string, role: PartnerTeamRole = 'member', createdAt = NOW): Promise<PartnerTeamInvitationRecord> {
  const invitation: PartnerTeamInvitationRecord = {
    invitationId: randomUUID(), teamId, userId, email: 'typed@partner.example', name: 'Typed Name', role, invitedBy,
    createdAt, expiresAt: createdAt + WEEK, status: 'pending', resolvedAt: null,
  };
  await storage.partnerTeamInvitations.create(invitation);
  return invitation;
}

/** The invitation contract, inside the caller's describe; `withStorage` gives each test a fresh storage. */
export function partnerTeamInvitationsContract({ withStorage }: ContractBackend): void {
  describe('partnerTeamInvitations (issue 13: nobody joins a team without accepting)', () => {
    it('an invitation changes nothing until the invitee accepts; accepting creates the membership and the developer, once', withStorage(async (storage) => {
      const olav = await newUser(storage, 'Olav');
      const maja = await newUser(storage, 'Maja');
      const team = (await storage.partnerTeams.ensureMembership(olav, randomUUID(), NOW)).teamId;
      const invitation = await invite(storage, team, olav, maja, 'owner');
      assert.deepEqual(await storage.partnerTeamInvitations.find(invitation.invitationId), invitation);
      assert.equal(await storage.partnerTeams.findMembership(maja), undefined, 'no membership before acceptance');
      assert.equal(await storage.developers.isDeveloper(maja), false);
      assert.deepEqual(await storage.partnerTeamInvitations.listPendingOfTeam(team, NOW + 1), [invitation]);
      const [view] = await storage.partnerTeamInvitations.listPendingOfUser(maja, NOW + 1);
      assert.deepEqual(view, { ...invitation, inviterName: 'Olav', inviterEmail: `olav-${olav}@partner.example` });
      assert.deepEqual(await storage.partnerTeamInvitations.findOfUser(invitation.invitationId, maja), view);
      assert.equal(await storage.partnerTeamInvitations.findOfUser(invitation.invitationId, olav), undefined, 'another user\'s invitation is none');

      assert.deepEqual(await storage.partnerTeamInvitations.accept(invitation.invitationId, olav, NOW + 2), { outcome: 'unknown' }, 'only the invitee accepts');
      assert.equal(await storage.partnerTeams.findMembership(maja), undefined);
      const accepted = await storage.partnerTeamInvitations.accept(invitation.invitationId, maja, NOW + 2);
      assert.deepEqual(accepted, { outcome: 'accepted', invitation: { ...invitation, status: 'accepted', resolvedAt: NOW + 2 }, becameDeveloper: true });
      assert.deepEqual(await storage.partnerTeams.findMembership(maja), { teamId: team, userId: maja, role: 'owner', addedAt: NOW + 2 });
      assert.equal(await storage.developers.isDeveloper(maja), true);
      const again = await storage.partnerTeamInvitations.accept(invitation.invitationId, maja, NOW + 3);
      assert.equal(again.outcome, 'no_longer_pending');
      assert.deepEqual(await storage.partnerTeamInvitations.listPendingOfTeam(team, NOW + 3), []);
      assert.deepEqual(await storage.partnerTeamInvitations.listPendingOfUser(maja, NOW + 3), []);
    }));

    it('declined, revoked and expired invitations cannot be accepted; nothing changes', withStorage(async (storage) => {
      const olav = await newUser(storage, 'Olav');
      const maja = await newUser(storage, 'Maja');
      const team = (await storage.partnerTeams.ensureMembership(olav, randomUUID(), NOW)).teamId;
      const declined = await invite(storage, team, olav, maja);
      assert.deepEqual(await storage.partnerTeamInvitations.decline(declined.invitationId, olav, NOW + 1), { outcome: 'unknown' });
      assert.deepEqual(await storage.partnerTeamInvitations.decline(declined.invitationId, maja, NOW + 1),
        { outcome: 'declined', invitation: { ...declined, status: 'declined', resolvedAt: NOW + 1 } });
      const afterDecline = await storage.partnerTeamInvitations.accept(declined.invitationId, maja, NOW + 2);
      assert.deepEqual(afterDecline, { outcome: 'no_longer_pending', invitation: { ...declined, status: 'declined', resolvedAt: NOW + 1 } });

      const revoked = await invite(storage, team, olav, maja, 'member', NOW + 3);
      assert.equal(await storage.partnerTeamInvitations.revoke(revoked.invitationId, randomUUID(), NOW + 4, `user:${olav}`), 'unknown', 'another team cannot revoke it');
      assert.equal(await storage.partnerTeamInvitations.revoke(revoked.invitationId, team, NOW + 4, `user:${olav}`), 'revoked');
      assert.equal(await storage.partnerTeamInvitations.revoke(revoked.invitationId, team, NOW + 5, `user:${olav}`), 'no_longer_pending');
      const afterRevoke = await storage.partnerTeamInvitations.accept(revoked.invitationId, maja, NOW + 5);
      assert.equal(afterRevoke.outcome !== 'unknown' && afterRevoke.invitation.status, 'revoked');

      const expiring = await invite(storage, team, olav, maja, 'member', NOW + 10);
      assert.deepEqual(await storage.partnerTeamInvitations.listPendingOfUser(maja, expiring.expiresAt), [], 'an expired invitation is not listed');
      assert.deepEqual(await storage.partnerTeamInvitations.listPendingOfTeam(team, expiring.expiresAt), []);
      assert.equal((await storage.partnerTeamInvitations.accept(expiring.invitationId, maja, expiring.expiresAt)).outcome, 'expired');
      assert.equal((await storage.partnerTeamInvitations.decline(expiring.invitationId, maja, expiring.expiresAt)).outcome, 'expired');
      assert.equal(await storage.partnerTeams.findMembership(maja), undefined);
      assert.equal(await storage.developers.isDeveloper(maja), false);
    }));

    it('each answer records its audit event exactly once, in its transaction (SPEC decision 19); refusals record none', withStorage(async (storage) => {
      const events = () => storage.audit.list({ types: ['partner_team.invitation_accepted', 'partner_team.invitation_declined', 'partner_team.invitation_revoked'] });
      const olav = await newUser(storage, 'Olav');
      const [maja, ivar, siri] = [await newUser(storage, 'Maja'), await newUser(storage, 'Ivar'), await newUser(storage, 'Siri')];
      const team = (await storage.partnerTeams.ensureMembership(olav, randomUUID(), NOW)).teamId;
      const toMaja = await invite(storage, team, olav, maja, 'owner');
      const toIvar = await invite(storage, team, olav, ivar);
      const toSiri = await invite(storage, team, olav, siri);
      const expired = await invite(storage, team, olav, await newUser(storage, 'Vera'), 'member', NOW - WEEK);
      // Refusals: not the invitee's, expired, another team's revocation.
      assert.equal((await storage.partnerTeamInvitations.accept(toMaja.invitationId, olav, NOW + 1)).outcome, 'unknown');
      assert.equal((await storage.partnerTeamInvitations.accept(expired.invitationId, expired.userId, NOW + 1)).outcome, 'expired');
      assert.equal((await storage.partnerTeamInvitations.decline(expired.invitationId, expired.userId, NOW + 1)).outcome, 'expired');
      assert.equal(await storage.partnerTeamInvitations.revoke(toSiri.invitationId, randomUUID(), NOW + 1, `user:${olav}`), 'unknown');
      assert.deepEqual(await events(), [], 'no refusal is audited');

      assert.equal((await storage.partnerTeamInvitations.accept(toMaja.invitationId, maja, NOW + 2)).outcome, 'accepted');
      assert.equal((await storage.partnerTeamInvitations.decline(toIvar.invitationId, ivar, NOW + 3)).outcome, 'declined');
      assert.equal(await storage.partnerTeamInvitations.revoke(toSiri.invitationId, team, NOW + 4, `user:${maja}`), 'revoked');
      // Answered again: refused, and nothing more recorded.
      assert.equal((await storage.partnerTeamInvitations.accept(toMaja.invitationId, maja, NOW + 5)).outcome, 'no_longer_pending');
      assert.equal((await storage.partnerTeamInvitations.decline(toIvar.invitationId, ivar, NOW + 5)).outcome, 'no_longer_pending');
      assert.equal(await storage.partnerTeamInvitations.revoke(toSiri.invitationId, team, NOW + 5, `user:${maja}`), 'no_longer_pending');
      const recorded = (await events()).map(({ type, at, actor, clientId, grantId, details }) => ({ type, at, actor, clientId, grantId, details }));
      assert.deepEqual(recorded.sort((a, b) => a.at - b.at), [
        { type: 'partner_team.invitation_accepted', at: NOW + 2, actor: `user:${maja}`, clientId: null, grantId: null,
          details: { team_id: team, invitation_id: toMaja.invitationId, user_id: maja, role: 'owner', invited_by: olav, developer_access_granted: true } },
        { type: 'partner_team.invitation_declined', at: NOW + 3, actor: `user:${ivar}`, clientId: null, grantId: null,
          details: { team_id: team, invitation_id: toIvar.invitationId, user_id: ivar, invited_by: olav } },
        { type: 'partner_team.invitation_revoked', at: NOW + 4, actor: `user:${maja}`, clientId: null, grantId: null,
          details: { team_id: team, invitation_id: toSiri.invitationId, user_id: siri, role: 'member' } },
      ]);
    }));

    it('a newer invitation to the same person replaces the pending one', withStorage(async (storage) => {
      const olav = await newUser(storage, 'Olav');
      const maja = await newUser(storage, 'Maja');
      const team = (await storage.partnerTeams.ensureMembership(olav, randomUUID(), NOW)).teamId;
      const first = await invite(storage, team, olav, maja, 'owner');
      const second = await invite(storage, team, olav, maja, 'member', NOW + 1);
      assert.equal((await storage.partnerTeamInvitations.find(first.invitationId))?.status, 'revoked');
      assert.deepEqual((await storage.partnerTeamInvitations.listPendingOfTeam(team, NOW + 2)).map((pending) => pending.invitationId), [second.invitationId]);
      assert.equal((await storage.partnerTeamInvitations.accept(first.invitationId, maja, NOW + 2)).outcome, 'no_longer_pending');
      assert.equal((await storage.partnerTeamInvitations.accept(second.invitationId, maja, NOW + 2)).outcome, 'accepted');
      assert.equal((await storage.partnerTeams.findMembership(maja))?.role, 'member');
    }));

    it('refuses a user in another team, or with clients of their own outside any team; the invitation stays pending', withStorage(async (storage) => {
      const olav = await newUser(storage, 'Olav');
      const stina = await newUser(storage, 'Stina');
      const vera = await newUser(storage, 'Vera');
      const team = (await storage.partnerTeams.ensureMembership(olav, randomUUID(), NOW)).teamId;
      const stinasTeam = (await storage.partnerTeams.ensureMembership(stina, randomUUID(), NOW)).teamId;
      const toStina = await invite(storage, team, olav, stina);
      assert.equal((await storage.partnerTeamInvitations.accept(toStina.invitationId, stina, NOW + 1)).outcome, 'in_another_team');
      assert.equal((await storage.partnerTeams.findMembership(stina))?.teamId, stinasTeam, 'nothing moved');
      const client = bareClientRecord({ clientName: 'Vera Books', redirectUris: ['https://vera.example/cb'], subjectType: 'company', createdAt: NOW, ownerUserId: vera });
      await storage.clients.create(client);
      const toVera = await invite(storage, team, olav, vera);
      assert.equal((await storage.partnerTeamInvitations.accept(toVera.invitationId, vera, NOW + 1)).outcome, 'in_another_team');
      assert.equal(await storage.partnerTeams.findMembership(vera), undefined);
      assert.equal(await storage.partnerTeams.teamOfClient(client.clientId), undefined, 'her client stays out of the team');
      assert.deepEqual((await storage.partnerTeamInvitations.listPendingOfTeam(team, NOW + 1)).map((pending) => pending.userId).sort(), [stina, vera].sort());
    }));

    it('of two invitations accepted at once, one team wins; an invitation to a team without a live owner lapses', withStorage(async (storage) => {
      const olav = await newUser(storage, 'Olav');
      const kari = await newUser(storage, 'Kari');
      const maja = await newUser(storage, 'Maja');
      const first = (await storage.partnerTeams.ensureMembership(olav, randomUUID(), NOW)).teamId;
      const second = (await storage.partnerTeams.ensureMembership(kari, randomUUID(), NOW)).teamId;
      const [a, b] = [await invite(storage, first, olav, maja), await invite(storage, second, kari, maja)];
      const outcomes = await Promise.all([storage.partnerTeamInvitations.accept(a.invitationId, maja, NOW + 1), storage.partnerTeamInvitations.accept(b.invitationId, maja, NOW + 1)]);
      assert.deepEqual(outcomes.map((outcome) => outcome.outcome).sort(), ['accepted', 'in_another_team']);
      const won = outcomes.find((outcome) => outcome.outcome === 'accepted');
      assert.equal((await storage.partnerTeams.findMembership(maja))?.teamId, won?.outcome === 'accepted' ? won.invitation.teamId : undefined);

      const ivar = await newUser(storage, 'Ivar');
      const orphan = await invite(storage, second, kari, ivar);
      await storage.directory.deleteUser(kari, NOW + 2);
      assert.deepEqual(await storage.partnerTeamInvitations.listPendingOfUser(ivar, NOW + 3).then((list) => list.length), 1);
      const lapsed = await storage.partnerTeamInvitations.accept(orphan.invitationId, ivar, NOW + 3);
      assert.equal(lapsed.outcome !== 'unknown' && lapsed.invitation.status, 'revoked');
      assert.equal(await storage.partnerTeams.findMembership(ivar), undefined);
    }));

    it('cleanup deletes invitations, answered or not, once PARTNER_TEAM_INVITATION_RETENTION_SECONDS have passed since they expired', withStorage(async (storage) => {
      const olav = await newUser(storage, 'Olav');
      const team = (await storage.partnerTeams.ensureMembership(olav, randomUUID(), NOW)).teamId;
      const [maja, ivar, siri] = [await newUser(storage, 'Maja'), await newUser(storage, 'Ivar'), await newUser(storage, 'Siri')];
      const accepted = await invite(storage, team, olav, maja);
      assert.equal((await storage.partnerTeamInvitations.accept(accepted.invitationId, maja, NOW + 1)).outcome, 'accepted');
      const unanswered = await invite(storage, team, olav, ivar);
      const later = await invite(storage, team, olav, siri, 'member', NOW + 1);
      const due = NOW + WEEK + PARTNER_TEAM_INVITATION_RETENTION_SECONDS; // the first two are due, the third a second later
      assert.equal((await storage.cleanup.deleteExpired(due - 1, 10)).partnerTeamInvitations, 0, 'kept until retention has passed');
      assert.equal((await storage.cleanup.deleteExpired(due, 10)).partnerTeamInvitations, 2);
      assert.equal(await storage.partnerTeamInvitations.find(accepted.invitationId), undefined);
      assert.equal(await storage.partnerTeamInvitations.find(unanswered.invitationId), undefined);
      assert.equal((await storage.partnerTeamInvitations.find(later.invitationId))?.status, 'pending');
      assert.deepEqual(await storage.partnerTeams.findMembership(maja), { teamId: team, userId: maja, role: 'member', addedAt: NOW + 1 }, 'the membership stays');
    }));
  });
}
