/**
 * Partner teams (storage.ts `PartnerTeamStore`, issue 13), written once for both databases over the SQL
 * driver (issue 12).
 *
 * "Never remove the last owner" is checked and done in one transaction: on SQLite `BEGIN IMMEDIATE`
 * (one writer at a time across processes); on PostgreSQL the team's membership rows are locked
 * (`FOR UPDATE`) before its owners are counted, so two concurrent removals on any instances can never
 * leave a team without an owner.
 */
import type { SqlDriver, SqlRow } from '../sql/driver.ts';
import type { PartnerTeamMemberRecord, PartnerTeamMemberView, PartnerTeamRole, PartnerTeamStore } from '../storage.ts';
import { toClient } from '../rows.ts';

/** Links the clients user `?2` registered that belong to no team yet to team `?1`. */
const PIN_CLIENTS = `INSERT INTO partner_team_clients (client_id, team_id)
  SELECT c.client_id, ? FROM clients c WHERE c.owner_user_id = ? AND c.kind = 'client'
  ON CONFLICT (client_id) DO NOTHING`;

const MEMBERSHIP = 'SELECT m.* FROM partner_team_members m JOIN users u ON u.user_id = m.user_id WHERE m.user_id = ? AND u.deleted_at IS NULL';

export function createPartnerTeamStore(db: SqlDriver): PartnerTeamStore {
  return {
    async ensureMembership(userId, newTeamId, now) {
      return db.transaction(function* (tx) {
        // Of two first visits at once, one inserts; both then read the one membership.
        const inserted = yield* tx.run(`INSERT INTO partner_team_members (user_id, team_id, role, added_at) VALUES (?, ?, 'owner', ?)
          ON CONFLICT (user_id) DO NOTHING`, [userId, newTeamId, now]);
        if (inserted.changes > 0) yield* tx.run(PIN_CLIENTS, [newTeamId, userId]);
        return toMember((yield* tx.get(MEMBERSHIP, [userId]))!);
      });
    },
    async findMembership(userId) {
      const row = await db.get(MEMBERSHIP, [userId]);
      return row && toMember(row);
    },
    async listMembers(teamId) {
      const rows = await db.all(`SELECT m.*, u.name, u.email FROM partner_team_members m JOIN users u ON u.user_id = m.user_id
        WHERE m.team_id = ? AND u.deleted_at IS NULL ORDER BY CASE m.role WHEN 'owner' THEN 0 ELSE 1 END, u.name, u.email`, [teamId]);
      return rows.map(toMemberView);
    },
    async addMember(member) {
      return db.transaction(function* (tx) {
        const inserted = yield* tx.run(`INSERT INTO partner_team_members (user_id, team_id, role, added_at) VALUES (?, ?, ?, ?)
          ON CONFLICT (user_id) DO NOTHING`, [member.userId, member.teamId, member.role, member.addedAt]);
        if (inserted.changes > 0) return 'added' as const;
        const existing = yield* tx.get('SELECT team_id FROM partner_team_members WHERE user_id = ?', [member.userId]);
        return String(existing?.team_id) === member.teamId ? 'already_member' as const : 'member_of_another_team' as const;
      });
    },
    async removeMember(teamId, userId) {
      return db.transaction(function* (tx) {
        // PostgreSQL: lock every membership row of the team (in one order, no deadlock between removals)
        // before counting its owners; SQLite's BEGIN IMMEDIATE already excludes every other writer.
        const rows = yield* tx.all(`SELECT m.user_id, m.role, u.deleted_at FROM partner_team_members m JOIN users u ON u.user_id = m.user_id
          WHERE m.team_id = ? ORDER BY m.user_id${tx.dialect === 'postgres' ? ' FOR UPDATE OF m' : ''}`, [teamId]);
        const target = rows.find((row) => row.user_id === userId);
        if (!target) return 'not_member' as const;
        const liveOwners = rows.filter((row) => row.role === 'owner' && row.deleted_at === null).length;
        if (target.role === 'owner' && liveOwners <= 1) return 'last_owner' as const;
        // The clients they registered stay the team's: pinned before the membership that implied it goes.
        yield* tx.run(PIN_CLIENTS, [teamId, userId]);
        yield* tx.run('DELETE FROM partner_team_members WHERE team_id = ? AND user_id = ?', [teamId, userId]);
        return 'removed' as const;
      });
    },
    async addClient(teamId, clientId) {
      await db.run('INSERT INTO partner_team_clients (client_id, team_id) VALUES (?, ?) ON CONFLICT (client_id) DO NOTHING', [clientId, teamId]);
    },
    async teamOfClient(clientId) {
      const row = await db.get(`SELECT team_id FROM partner_team_clients WHERE client_id = ?
        UNION ALL SELECT m.team_id FROM clients c JOIN partner_team_members m ON m.user_id = c.owner_user_id
          WHERE c.client_id = ? AND NOT EXISTS (SELECT 1 FROM partner_team_clients l WHERE l.client_id = c.client_id)`, [clientId, clientId]);
      return row ? String(row.team_id) : undefined;
    },
    async listClients(teamId) {
      const rows = await db.all(`SELECT c.* FROM clients c WHERE c.kind = 'client' AND (
          c.client_id IN (SELECT client_id FROM partner_team_clients WHERE team_id = ?)
          OR (c.owner_user_id IN (SELECT user_id FROM partner_team_members WHERE team_id = ?)
              AND NOT EXISTS (SELECT 1 FROM partner_team_clients l WHERE l.client_id = c.client_id)))
        ORDER BY c.created_at, c.client_name`, [teamId, teamId]);
      return rows.map(toClient);
    },
  };
}

function toMember(row: SqlRow): PartnerTeamMemberRecord {
  return { teamId: String(row.team_id), userId: String(row.user_id), role: String(row.role) as PartnerTeamRole, addedAt: Number(row.added_at) };
}

function toMemberView(row: SqlRow): PartnerTeamMemberView {
  return { ...toMember(row), name: String(row.name), email: String(row.email) };
}
