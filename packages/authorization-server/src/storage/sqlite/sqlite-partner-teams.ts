/**
 * Partner teams (storage.ts `PartnerTeamStore`, issue 13) on SQLite. Every multi-statement step is one
 * `BEGIN IMMEDIATE` transaction (one writer at a time across processes), so "never remove the last owner"
 * is checked and done together.
 */
import type { SQLInputValue } from 'node:sqlite';
import type { ClientRecord, PartnerTeamMemberRecord, PartnerTeamMemberView, PartnerTeamRole, PartnerTeamStore } from '../storage.ts';

type Row = Record<string, SQLInputValue>;

/** What the SQLite storage shares with this store. */
export interface SqlitePartnerTeamDriver {
  get(text: string, ...params: SQLInputValue[]): Row | undefined;
  all(text: string, ...params: SQLInputValue[]): Row[];
  run(text: string, ...params: SQLInputValue[]): { changes: number | bigint };
  transaction<T>(work: () => T): T;
  toClient(row: Row): ClientRecord;
}

/** Links the clients `userId` registered that belong to no team yet to `teamId`. */
const PIN_CLIENTS = `INSERT OR IGNORE INTO partner_team_clients (client_id, team_id)
  SELECT c.client_id, ? FROM clients c WHERE c.owner_user_id = ? AND c.kind = 'client'
    AND NOT EXISTS (SELECT 1 FROM partner_team_clients l WHERE l.client_id = c.client_id)`;

export function createSqlitePartnerTeams(db: SqlitePartnerTeamDriver): PartnerTeamStore {
  const { get, all, run, transaction, toClient } = db;
  const membership = (userId: string) => {
    const row = get('SELECT m.* FROM partner_team_members m JOIN users u ON u.user_id = m.user_id WHERE m.user_id = ? AND u.deleted_at IS NULL', userId);
    return row && toMember(row);
  };
  return {
    async ensureMembership(userId, newTeamId, now) {
      return transaction(() => {
        const existing = membership(userId);
        if (existing) return existing;
        run('INSERT INTO partner_team_members (user_id, team_id, role, added_at) VALUES (?, ?, ?, ?)', userId, newTeamId, 'owner', now);
        run(PIN_CLIENTS, newTeamId, userId);
        return { teamId: newTeamId, userId, role: 'owner' as const, addedAt: now };
      });
    },
    async findMembership(userId) {
      return membership(userId);
    },
    async listMembers(teamId) {
      return all(`SELECT m.*, u.name, u.email FROM partner_team_members m JOIN users u ON u.user_id = m.user_id
        WHERE m.team_id = ? AND u.deleted_at IS NULL ORDER BY CASE m.role WHEN 'owner' THEN 0 ELSE 1 END, u.name, u.email`, teamId).map(toMemberView);
    },
    async addMember(member) {
      return transaction(() => {
        const existing = get('SELECT team_id FROM partner_team_members WHERE user_id = ?', member.userId);
        if (existing) return String(existing.team_id) === member.teamId ? 'already_member' : 'member_of_another_team';
        run('INSERT INTO partner_team_members (user_id, team_id, role, added_at) VALUES (?, ?, ?, ?)', member.userId, member.teamId, member.role, member.addedAt);
        return 'added';
      });
    },
    async removeMember(teamId, userId) {
      return transaction(() => {
        const row = get('SELECT role FROM partner_team_members WHERE team_id = ? AND user_id = ?', teamId, userId);
        if (!row) return 'not_member';
        if (row.role === 'owner') {
          const owners = Number(get(`SELECT count(*) AS n FROM partner_team_members m JOIN users u ON u.user_id = m.user_id
            WHERE m.team_id = ? AND m.role = 'owner' AND u.deleted_at IS NULL`, teamId)!.n);
          if (owners <= 1) return 'last_owner';
        }
        // The clients they registered stay the team's: pinned before the membership that implied it goes.
        run(PIN_CLIENTS, teamId, userId);
        run('DELETE FROM partner_team_members WHERE team_id = ? AND user_id = ?', teamId, userId);
        return 'removed';
      });
    },
    async addClient(teamId, clientId) {
      run('INSERT OR IGNORE INTO partner_team_clients (client_id, team_id) VALUES (?, ?)', clientId, teamId);
    },
    async teamOfClient(clientId) {
      const row = get(`SELECT team_id FROM partner_team_clients WHERE client_id = ?
        UNION ALL SELECT m.team_id FROM clients c JOIN partner_team_members m ON m.user_id = c.owner_user_id
          WHERE c.client_id = ? AND NOT EXISTS (SELECT 1 FROM partner_team_clients l WHERE l.client_id = c.client_id)`, clientId, clientId);
      return row ? String(row.team_id) : undefined;
    },
    async listClients(teamId) {
      return all(`SELECT c.* FROM clients c WHERE c.kind = 'client' AND (
          c.client_id IN (SELECT client_id FROM partner_team_clients WHERE team_id = ?)
          OR (c.owner_user_id IN (SELECT user_id FROM partner_team_members WHERE team_id = ?)
              AND NOT EXISTS (SELECT 1 FROM partner_team_clients l WHERE l.client_id = c.client_id)))
        ORDER BY c.created_at, c.client_name`, teamId, teamId).map(toClient);
    },
  };
}

function toMember(row: Row): PartnerTeamMemberRecord {
  return { teamId: String(row.team_id), userId: String(row.user_id), role: String(row.role) as PartnerTeamRole, addedAt: Number(row.added_at) };
}

function toMemberView(row: Row): PartnerTeamMemberView {
  return { ...toMember(row), name: String(row.name), email: String(row.email) };
}
