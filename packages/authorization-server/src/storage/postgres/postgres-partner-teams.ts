/**
 * Partner teams (storage.ts `PartnerTeamStore`, issue 13) on PostgreSQL. Removing a member locks the
 * team's membership rows (`FOR UPDATE`) before counting its owners, so two concurrent removals on any
 * instances can never leave a team without an owner.
 */
import type { PoolClient, QueryResultRow } from 'pg';
import type { ClientRecord, PartnerTeamMemberRecord, PartnerTeamMemberView, PartnerTeamRole, PartnerTeamStore } from '../storage.ts';

type Row = QueryResultRow;

/** What the PostgreSQL storage shares with this store. */
export interface PostgresPartnerTeamDriver {
  query(text: string, params?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
  transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T>;
  toClient(row: Row): ClientRecord;
}

/** Links the clients $2 registered that belong to no team yet to team $1. */
const PIN_CLIENTS = `INSERT INTO partner_team_clients (client_id, team_id)
  SELECT c.client_id, $1 FROM clients c WHERE c.owner_user_id = $2 AND c.kind = 'client'
  ON CONFLICT (client_id) DO NOTHING`;

const MEMBERSHIP = `SELECT m.* FROM partner_team_members m JOIN users u ON u.user_id = m.user_id WHERE m.user_id = $1 AND u.deleted_at IS NULL`;

export function createPostgresPartnerTeams(db: PostgresPartnerTeamDriver): PartnerTeamStore {
  const { query, transaction, toClient } = db;
  return {
    async ensureMembership(userId, newTeamId, now) {
      return transaction(async (client) => {
        // Of two first visits at once, one inserts; both then read the one membership.
        const inserted = await client.query(`INSERT INTO partner_team_members (user_id, team_id, role, added_at) VALUES ($1, $2, 'owner', $3)
          ON CONFLICT (user_id) DO NOTHING`, [userId, newTeamId, now]);
        if ((inserted.rowCount ?? 0) > 0) await client.query(PIN_CLIENTS, [newTeamId, userId]);
        const { rows } = await client.query(MEMBERSHIP, [userId]);
        return toMember(rows[0]!);
      });
    },
    async findMembership(userId) {
      const { rows } = await query(MEMBERSHIP, [userId]);
      return rows[0] && toMember(rows[0]);
    },
    async listMembers(teamId) {
      const { rows } = await query(`SELECT m.*, u.name, u.email FROM partner_team_members m JOIN users u ON u.user_id = m.user_id
        WHERE m.team_id = $1 AND u.deleted_at IS NULL ORDER BY CASE m.role WHEN 'owner' THEN 0 ELSE 1 END, u.name, u.email`, [teamId]);
      return rows.map(toMemberView);
    },
    async addMember(member) {
      return transaction(async (client) => {
        const inserted = await client.query(`INSERT INTO partner_team_members (user_id, team_id, role, added_at) VALUES ($1, $2, $3, $4)
          ON CONFLICT (user_id) DO NOTHING`, [member.userId, member.teamId, member.role, member.addedAt]);
        if ((inserted.rowCount ?? 0) > 0) return 'added' as const;
        const { rows } = await client.query('SELECT team_id FROM partner_team_members WHERE user_id = $1', [member.userId]);
        return rows[0]?.team_id === member.teamId ? 'already_member' as const : 'member_of_another_team' as const;
      });
    },
    async removeMember(teamId, userId) {
      return transaction(async (client) => {
        const { rows } = await client.query(`SELECT m.user_id, m.role, u.deleted_at FROM partner_team_members m JOIN users u ON u.user_id = m.user_id
          WHERE m.team_id = $1 ORDER BY m.user_id FOR UPDATE OF m`, [teamId]);
        const target = rows.find((row) => row.user_id === userId);
        if (!target) return 'not_member' as const;
        const liveOwners = rows.filter((row) => row.role === 'owner' && row.deleted_at === null).length;
        if (target.role === 'owner' && liveOwners <= 1) return 'last_owner' as const;
        // The clients they registered stay the team's: pinned before the membership that implied it goes.
        await client.query(PIN_CLIENTS, [teamId, userId]);
        await client.query('DELETE FROM partner_team_members WHERE team_id = $1 AND user_id = $2', [teamId, userId]);
        return 'removed' as const;
      });
    },
    async addClient(teamId, clientId) {
      await query('INSERT INTO partner_team_clients (client_id, team_id) VALUES ($1, $2) ON CONFLICT (client_id) DO NOTHING', [clientId, teamId]);
    },
    async teamOfClient(clientId) {
      const { rows } = await query(`SELECT team_id FROM partner_team_clients WHERE client_id = $1
        UNION ALL SELECT m.team_id FROM clients c JOIN partner_team_members m ON m.user_id = c.owner_user_id
          WHERE c.client_id = $1 AND NOT EXISTS (SELECT 1 FROM partner_team_clients l WHERE l.client_id = c.client_id)`, [clientId]);
      return rows[0] ? String(rows[0].team_id) : undefined;
    },
    async listClients(teamId) {
      const { rows } = await query(`SELECT c.* FROM clients c WHERE c.kind = 'client' AND (
          c.client_id IN (SELECT client_id FROM partner_team_clients WHERE team_id = $1)
          OR (c.owner_user_id IN (SELECT user_id FROM partner_team_members WHERE team_id = $1)
              AND NOT EXISTS (SELECT 1 FROM partner_team_clients l WHERE l.client_id = c.client_id)))
        ORDER BY c.created_at, c.client_name`, [teamId]);
      return rows.map(toClient);
    },
  };
}

function toMember(row: Row): PartnerTeamMemberRecord {
  return { teamId: String(row.team_id), userId: String(row.user_id), role: String(row.role) as PartnerTeamRole, addedAt: Number(row.added_at) };
}

function toMemberView(row: Row): PartnerTeamMemberView {
  return { ...toMember(row), name: String(row.name), email: String(row.email) };
}
