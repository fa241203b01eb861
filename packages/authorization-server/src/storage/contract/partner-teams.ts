/**
 * The partner-team part of the storage contract suite (storage.ts `PartnerTeamStore`, issue 13), run by
 * contract/index.ts on every backend (SQLite and PostgreSQL). Times are passed in explicitly.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Storage } from '../storage.ts';
import { type ContractBackend, NOW, bareClientRecord } from './fixtures.ts';

async function newUser(storage: Storage, name: string): Promise<string> {
  const userId = randomUUID();
  await storage.users.create({ userId, email: `${name.toLowerCase()}-${userId}@partner.example`, name, passwordHash: null });
  return userId;
}

async function newClient(storage: Storage, ownerUserId: string | null, clientName: string, createdAt = NOW): Promise<string> {
  const client = bareClientRecord({ clientName, redirectUris: ['https://fjord.example/cb'], subjectType: 'company', createdAt, ownerUserId });
  await storage.clients.create(client);
  return client.clientId;
}

/** The partner-team contract, inside the caller's describe; `withStorage` gives each test a fresh storage. */
export function partnerTeamsContract({ withStorage }: ContractBackend): void {
  describe('partnerTeams (issue 13: partner teams share their clients)', () => {
    it('ensureMembership makes a first-time developer the owner of a new team that takes the clients they registered, once', withStorage(async (storage) => {
      const olav = await newUser(storage, 'Olav');
      const older = await newClient(storage, olav, 'Fjord Books', NOW);
      const newer = await newClient(storage, olav, 'Fjord Payroll', NOW + 1);
      await newClient(storage, null, 'Administrators\' client');
      const offeredTeamIds: string[] = [randomUUID(), randomUUID()];
      const [first, second] = await Promise.all(offeredTeamIds.map((offered) => storage.partnerTeams.ensureMembership(olav, offered, NOW)));
      // Either concurrent call may win (on PostgreSQL they run on two connections); exactly one team is made.
      const teamId = first.teamId;
      assert.ok(offeredTeamIds.includes(teamId), 'the team is one of the two offered');
      assert.deepEqual(first, { teamId, userId: olav, role: 'owner', addedAt: NOW });
      assert.deepEqual(second, first, 'a second call (even concurrent) finds the one membership');
      const otherTeamId = offeredTeamIds.find((offered) => offered !== teamId) as string;
      assert.deepEqual(await storage.partnerTeams.listClients(otherTeamId), [], 'the losing call made no team with the clients');
      assert.deepEqual(await storage.partnerTeams.findMembership(olav), first);
      assert.deepEqual((await storage.partnerTeams.listClients(teamId)).map((client) => client.clientId), [older, newer]);
      assert.equal(await storage.partnerTeams.teamOfClient(older), teamId);
    }));

    it('members share the team\'s clients; another team sees none of them', withStorage(async (storage) => {
      const olav = await newUser(storage, 'Olav');
      const maja = await newUser(storage, 'Maja');
      const stranger = await newUser(storage, 'Stina');
      const team = (await storage.partnerTeams.ensureMembership(olav, randomUUID(), NOW)).teamId;
      const otherTeam = (await storage.partnerTeams.ensureMembership(stranger, randomUUID(), NOW)).teamId;
      assert.equal(await storage.partnerTeams.addMember({ teamId: team, userId: maja, role: 'member', addedAt: NOW + 5 }), 'added');
      assert.equal(await storage.partnerTeams.addMember({ teamId: team, userId: maja, role: 'owner', addedAt: NOW + 6 }), 'already_member');
      assert.equal(await storage.partnerTeams.addMember({ teamId: otherTeam, userId: maja, role: 'member', addedAt: NOW + 6 }), 'member_of_another_team');
      assert.deepEqual(await storage.partnerTeams.findMembership(maja), { teamId: team, userId: maja, role: 'member', addedAt: NOW + 5 }, 'nothing moved');
      // A client Maja registers: linked to the team; one registered without a link yet still counts through her membership.
      const linked = await newClient(storage, maja, 'Linked');
      await storage.partnerTeams.addClient(team, linked);
      await storage.partnerTeams.addClient(otherTeam, linked);
      const unlinked = await newClient(storage, maja, 'Unlinked');
      assert.equal(await storage.partnerTeams.teamOfClient(linked), team, 'an existing link is kept');
      assert.equal(await storage.partnerTeams.teamOfClient(unlinked), team);
      assert.deepEqual((await storage.partnerTeams.listClients(team)).map((client) => client.clientName).sort(), ['Linked', 'Unlinked']);
      assert.deepEqual(await storage.partnerTeams.listClients(otherTeam), []);
      assert.equal(await storage.partnerTeams.teamOfClient(randomUUID()), undefined);
      const members = await storage.partnerTeams.listMembers(team);
      assert.deepEqual(members.map((member) => [member.name, member.role]), [['Olav', 'owner'], ['Maja', 'member']], 'owners first');
      assert.match(members[1]!.email, /^maja-/);
    }));

    it('removeMember never removes the last owner; a removed member\'s clients stay the team\'s', withStorage(async (storage) => {
      const olav = await newUser(storage, 'Olav');
      const maja = await newUser(storage, 'Maja');
      const team = (await storage.partnerTeams.ensureMembership(olav, randomUUID(), NOW)).teamId;
      await storage.partnerTeams.addMember({ teamId: team, userId: maja, role: 'member', addedAt: NOW });
      const majas = await newClient(storage, maja, 'Maja\'s client');
      assert.equal(await storage.partnerTeams.removeMember(team, olav), 'last_owner');
      assert.equal((await storage.partnerTeams.findMembership(olav))?.role, 'owner', 'nothing changed');
      assert.equal(await storage.partnerTeams.removeMember(team, maja), 'removed');
      assert.equal(await storage.partnerTeams.removeMember(team, maja), 'not_member');
      assert.equal(await storage.partnerTeams.findMembership(maja), undefined);
      assert.equal(await storage.partnerTeams.teamOfClient(majas), team, 'the client stays with the team');
      assert.deepEqual((await storage.partnerTeams.listClients(team)).map((client) => client.clientId), [majas]);
    }));

    it('of two owners removed at once, exactly one goes (the team keeps an owner)', withStorage(async (storage) => {
      const olav = await newUser(storage, 'Olav');
      const maja = await newUser(storage, 'Maja');
      const team = (await storage.partnerTeams.ensureMembership(olav, randomUUID(), NOW)).teamId;
      await storage.partnerTeams.addMember({ teamId: team, userId: maja, role: 'owner', addedAt: NOW });
      const outcomes = await Promise.all([storage.partnerTeams.removeMember(team, olav), storage.partnerTeams.removeMember(team, maja)]);
      assert.deepEqual(outcomes.sort(), ['last_owner', 'removed']);
      assert.equal((await storage.partnerTeams.listMembers(team)).filter((member) => member.role === 'owner').length, 1);
    }));

    it('a deleted user is no member: not listed, not counted as an owner', withStorage(async (storage) => {
      const olav = await newUser(storage, 'Olav');
      const maja = await newUser(storage, 'Maja');
      const team = (await storage.partnerTeams.ensureMembership(olav, randomUUID(), NOW)).teamId;
      await storage.partnerTeams.addMember({ teamId: team, userId: maja, role: 'owner', addedAt: NOW });
      await storage.directory.deleteUser(olav, NOW + 1);
      assert.deepEqual((await storage.partnerTeams.listMembers(team)).map((member) => member.name), ['Maja']);
      assert.equal(await storage.partnerTeams.findMembership(olav), undefined);
      assert.equal(await storage.partnerTeams.removeMember(team, maja), 'last_owner', 'the deleted owner does not count');
    }));
  });
}
