/**
 * Partner-team invitation answers (stores/partner-team-invitations.ts) on both backends, beyond the storage
 * contract: an answer and its audit event commit together (SPEC decision 19), so a write that fails at the event
 * leaves neither the answer nor the event. The failure is forced where each database allows it: SQLite's statement
 * fails as a failing disk would (testing/sqlite-faults.ts); PostgreSQL's through a trigger on audit_events.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { failSqliteStatements } from '../../testing/sqlite-faults.ts';
import { storeBackends, type TestStore } from '../../testing/store-backends.ts';
import type { PartnerTeamInvitationRecord, Storage } from '../storage.ts';

const NOW = 1_800_000_000;
const TYPES = ['partner_team.invitation_accepted', 'partner_team.invitation_declined', 'partner_team.invitation_revoked'];

async function newUser(storage: Storage, name: string): Promise<string> {
  const userId = randomUUID();
  await storage.users.create({ userId, email: `${name.toLowerCase()}-${userId}@partner.example`, name, passwordHash: null });
  return userId;
}

async function invite(storage: Storage, teamId: string, invitedBy: string, userId: string): Promise<PartnerTeamInvitationRecord> {
  const invitation: PartnerTeamInvitationRecord = {
    invitationId: randomUUID(), teamId, userId, email: 'typed@partner.example', name: 'Typed Name', role: 'member', invitedBy,
    createdAt: NOW, expiresAt: NOW + 86_400, status: 'pending', resolvedAt: null,
  };
  await storage.partnerTeamInvitations.create(invitation);
  return invitation;
}

for (const backend of await storeBackends()) {
  /** Makes every insert into audit_events fail until the returned function is called. */
  const failAuditInserts = async (store: TestStore): Promise<() => Promise<void>> => {
    if (backend.name === 'sqlite') {
      const fault = failSqliteStatements(/INSERT INTO audit_events/);
      return async () => {
        fault.restore();
        assert.ok(fault.failures() > 0, 'the forced failure was reached');
      };
    }
    await store.rows(`CREATE FUNCTION gh_test_fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'forced failure'; END $$`);
    await store.rows('CREATE TRIGGER gh_test_fail_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION gh_test_fail_audit()');
    return async () => {
      await store.rows('DROP TRIGGER gh_test_fail_audit ON audit_events');
    };
  };

  describe(`partner-team invitation answers and their audit events on ${backend.name}`, { skip: backend.skip }, () => {
    it('an accept, a decline and a revocation whose audit event fails change nothing; once it succeeds, each commits with exactly one event', backend.with(async (store) => {
      const { storage } = store;
      const olav = await newUser(storage, 'Olav');
      const [maja, ivar, siri] = [await newUser(storage, 'Maja'), await newUser(storage, 'Ivar'), await newUser(storage, 'Siri')];
      const team = (await storage.partnerTeams.ensureMembership(olav, randomUUID(), NOW)).teamId;
      const [toMaja, toIvar, toSiri] = [await invite(storage, team, olav, maja), await invite(storage, team, olav, ivar), await invite(storage, team, olav, siri)];

      const restore = await failAuditInserts(store);
      try {
        await assert.rejects(storage.partnerTeamInvitations.accept(toMaja.invitationId, maja, NOW + 1));
        await assert.rejects(storage.partnerTeamInvitations.decline(toIvar.invitationId, ivar, NOW + 1));
        await assert.rejects(storage.partnerTeamInvitations.revoke(toSiri.invitationId, team, NOW + 1, `user:${olav}`));
      } finally {
        await restore();
      }
      for (const invitation of [toMaja, toIvar, toSiri]) {
        assert.deepEqual(await storage.partnerTeamInvitations.find(invitation.invitationId), invitation, 'still pending, unanswered');
      }
      assert.equal(await storage.partnerTeams.findMembership(maja), undefined, 'no membership without its event');
      assert.equal(await storage.developers.isDeveloper(maja), false, 'no developer role without its event');
      assert.deepEqual(await storage.audit.list({ types: TYPES }), [], 'no event');

      assert.equal((await storage.partnerTeamInvitations.accept(toMaja.invitationId, maja, NOW + 2)).outcome, 'accepted');
      assert.equal((await storage.partnerTeamInvitations.decline(toIvar.invitationId, ivar, NOW + 2)).outcome, 'declined');
      assert.equal(await storage.partnerTeamInvitations.revoke(toSiri.invitationId, team, NOW + 2, `user:${olav}`), 'revoked');
      assert.equal((await storage.partnerTeams.findMembership(maja))?.teamId, team);
      const rows = await store.rows("SELECT type, actor FROM audit_events WHERE type LIKE 'partner_team.invitation_%' ORDER BY type");
      assert.deepEqual(rows.map((row) => ({ type: row.type, actor: row.actor })), [
        { type: 'partner_team.invitation_accepted', actor: `user:${maja}` },
        { type: 'partner_team.invitation_declined', actor: `user:${ivar}` },
        { type: 'partner_team.invitation_revoked', actor: `user:${olav}` },
      ]);
    }));
  });
}
