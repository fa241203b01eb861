/**
 * Partner teams (stores/partner-teams.ts, issue 13) on both backends, beyond the storage contract: the
 * "never remove the last owner" guarantee under more contention than the contract's two removals — which
 * on PostgreSQL rests on the `FOR UPDATE` lock of the team's membership rows (issue 12).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTestPostgresStorage, postgresSkipReason } from '../../testing/postgres.ts';
import { createSqliteStorage } from '../sqlite/sqlite-storage.ts';
import type { Storage } from '../storage.ts';

const NOW = 1_800_000_000;
const postgresSkip = await postgresSkipReason();

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`partnerTeams on ${backend} (issue 12: one store for both databases)`, { skip: backend === 'postgres' ? postgresSkip : false }, () => {
    let storage: Storage;
    before(async () => {
      storage = backend === 'postgres' ? await createTestPostgresStorage() : createSqliteStorage(':memory:');
    });
    after(() => storage.close());

    const newUser = async (name: string) => {
      const userId = randomUUID();
      await storage.users.create({ userId, email: `${name.toLowerCase()}-${userId}@partner.example`, name, passwordHash: null });
      return userId;
    };
    /** A team of three owners. */
    const teamOfThreeOwners = async () => {
      const owners = [await newUser('Olav'), await newUser('Maja'), await newUser('Stina')];
      const teamId = (await storage.partnerTeams.ensureMembership(owners[0]!, randomUUID(), NOW)).teamId;
      for (const userId of owners.slice(1)) assert.equal(await storage.partnerTeams.addMember({ teamId, userId, role: 'owner', addedAt: NOW }), 'added');
      return { teamId, owners };
    };

    it('of three owners removed at once, exactly two go, on each of five teams at once (the team keeps one owner)', async () => {
      const teams = await Promise.all(Array.from({ length: 5 }, teamOfThreeOwners));
      const outcomes = await Promise.all(teams.map(({ teamId, owners }) => Promise.all(owners.map((userId) => storage.partnerTeams.removeMember(teamId, userId)))));
      for (const [index, { teamId, owners }] of teams.entries()) {
        assert.deepEqual([...outcomes[index]!].sort(), ['last_owner', 'removed', 'removed']);
        const left = await storage.partnerTeams.listMembers(teamId);
        assert.deepEqual(left.map((member) => member.role), ['owner'], 'exactly one owner left');
        assert.equal(left[0]!.userId, owners[outcomes[index]!.indexOf('last_owner')], 'the one refused is the one left');
      }
    });

    it('a member removed while an owner is removed at once goes, and the team keeps its other owner', async () => {
      const { teamId, owners } = await teamOfThreeOwners();
      const member = await newUser('Nils');
      await storage.partnerTeams.addMember({ teamId, userId: member, role: 'member', addedAt: NOW });
      const outcomes = await Promise.all([
        storage.partnerTeams.removeMember(teamId, member),
        storage.partnerTeams.removeMember(teamId, owners[0]!),
        storage.partnerTeams.removeMember(teamId, owners[1]!),
      ]);
      assert.deepEqual(outcomes.slice(0, 1), ['removed']);
      assert.deepEqual([...outcomes.slice(1)].sort(), ['removed', 'removed'], 'two of three owners may go');
      assert.deepEqual((await storage.partnerTeams.listMembers(teamId)).map((row) => row.userId), [owners[2]]);
    });
  });
}
