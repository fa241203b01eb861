/**
 * Invitations to partner teams (storage.ts `PartnerTeamInvitationStore`, issue 13), written once for both
 * databases over the SQL driver (issue 12).
 *
 * An answer is decided in one transaction: on SQLite `BEGIN IMMEDIATE` (one writer at a time across
 * processes); on PostgreSQL the invitation row is locked (`FOR UPDATE`) before it is judged, so an accept
 * and a revocation (or a second accept) of one invitation take turns, and the membership insert's
 * `ON CONFLICT (user_id)` settles two invitations of one user accepted at once: one team wins.
 * An answer's audit event (SPEC decision 19) is written in the same transaction, as the grant and client stores
 * write theirs: the event and the change commit together, or neither does.
 */
import type { SqlDriver, SqlRow, SqlStep, SqlTransaction } from '../sql/driver.ts';
import { insertAuditEventSteps } from './audit.ts';
import type {
  PartnerTeamInvitationRecord, PartnerTeamInvitationRefusal, PartnerTeamInvitationStatus, PartnerTeamInvitationStore, PartnerTeamInvitationView,
  PartnerTeamRole,
} from '../storage.ts';

const WITH_INVITER = `SELECT i.*, v.name AS inviter_name, v.email AS inviter_email
  FROM partner_team_invitations i JOIN users v ON v.user_id = i.invited_by`;

/** The invitation if it is `userId`'s, locked for the rest of the transaction on PostgreSQL. */
function* lockedOfUser(tx: SqlTransaction, invitationId: string, userId: string) {
  const row = yield* tx.get(`SELECT * FROM partner_team_invitations WHERE invitation_id = ? AND user_id = ?${tx.dialect === 'postgres' ? ' FOR UPDATE' : ''}`,
    [invitationId, userId]);
  return row && toInvitation(row);
}

function* resolve(tx: SqlTransaction, invitation: PartnerTeamInvitationRecord, status: PartnerTeamInvitationStatus, now: number) {
  yield* tx.run("UPDATE partner_team_invitations SET status = ?, resolved_at = ? WHERE invitation_id = ? AND status = 'pending'", [status, now, invitation.invitationId]);
  return { ...invitation, status, resolvedAt: now };
}

export function createPartnerTeamInvitationStore(db: SqlDriver): PartnerTeamInvitationStore {
  return {
    async create(invitation) {
      await db.transaction(function* (tx) {
        // A newer invitation of the team to the same person replaces the pending one (one answer, one role).
        yield* tx.run("UPDATE partner_team_invitations SET status = 'revoked', resolved_at = ? WHERE team_id = ? AND user_id = ? AND status = 'pending'",
          [invitation.createdAt, invitation.teamId, invitation.userId]);
        yield* tx.run(`INSERT INTO partner_team_invitations (invitation_id, team_id, user_id, email, name, role, invited_by, created_at, expires_at, status, resolved_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', NULL)`, [invitation.invitationId, invitation.teamId, invitation.userId, invitation.email, invitation.name,
          invitation.role, invitation.invitedBy, invitation.createdAt, invitation.expiresAt]);
      });
    },
    async find(invitationId) {
      const row = await db.get('SELECT * FROM partner_team_invitations WHERE invitation_id = ?', [invitationId]);
      return row && toInvitation(row);
    },
    async listPendingOfTeam(teamId, now) {
      const rows = await db.all(`SELECT i.* FROM partner_team_invitations i JOIN users u ON u.user_id = i.user_id
        WHERE i.team_id = ? AND i.status = 'pending' AND i.expires_at > ? AND u.deleted_at IS NULL ORDER BY i.created_at DESC, i.email`, [teamId, now]);
      return rows.map(toInvitation);
    },
    async listPendingOfUser(userId, now) {
      const rows = await db.all(`${WITH_INVITER} WHERE i.user_id = ? AND i.status = 'pending' AND i.expires_at > ? ORDER BY i.created_at DESC, i.invitation_id`, [userId, now]);
      return rows.map(toView);
    },
    async findOfUser(invitationId, userId) {
      const row = await db.get(`${WITH_INVITER} WHERE i.invitation_id = ? AND i.user_id = ?`, [invitationId, userId]);
      return row && toView(row);
    },
    async accept(invitationId, userId, now) {
      return db.transaction(function* (tx): SqlStep<{ outcome: 'accepted'; invitation: PartnerTeamInvitationRecord; becameDeveloper: boolean } | PartnerTeamInvitationRefusal> {
        const invitation = yield* lockedOfUser(tx, invitationId, userId);
        if (!invitation) return { outcome: 'unknown' };
        if (invitation.status !== 'pending') return { outcome: 'no_longer_pending', invitation };
        if (invitation.expiresAt <= now) return { outcome: 'expired', invitation };
        // A team is its members: one left without a live owner has nobody to answer for it, and its invitations lapse.
        const owner = yield* tx.get(`SELECT 1 AS found FROM partner_team_members m JOIN users u ON u.user_id = m.user_id
          WHERE m.team_id = ? AND m.role = 'owner' AND u.deleted_at IS NULL`, [invitation.teamId]);
        if (!owner) return { outcome: 'no_longer_pending', invitation: yield* resolve(tx, invitation, 'revoked', now) };
        let membership = yield* tx.get('SELECT team_id FROM partner_team_members WHERE user_id = ?', [userId]);
        if (!membership) {
          // Clients the user registered before partner teams existed belong to no team until their first visit founds
          // theirs (stores/partner-teams.ts): a membership here would hand them to this team. They stay the user's.
          const unlinked = yield* tx.get(`SELECT 1 AS found FROM clients c WHERE c.owner_user_id = ? AND c.kind = 'client'
            AND NOT EXISTS (SELECT 1 FROM partner_team_clients l WHERE l.client_id = c.client_id)`, [userId]);
          if (unlinked) return { outcome: 'in_another_team', invitation };
          const inserted = yield* tx.run(`INSERT INTO partner_team_members (user_id, team_id, role, added_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (user_id) DO NOTHING`, [userId, invitation.teamId, invitation.role, now]);
          // Another invitation of the user's accepted meanwhile (PostgreSQL): its team won.
          if (inserted.changes === 0) membership = yield* tx.get('SELECT team_id FROM partner_team_members WHERE user_id = ?', [userId]);
        }
        if (membership && String(membership.team_id) !== invitation.teamId) return { outcome: 'in_another_team', invitation };
        const becameDeveloper = (yield* tx.run('INSERT INTO partner_developers (user_id) VALUES (?) ON CONFLICT DO NOTHING', [userId])).changes > 0;
        yield* insertAuditEventSteps(tx, {
          type: 'partner_team.invitation_accepted', at: now, actor: `user:${userId}`,
          details: { team_id: invitation.teamId, invitation_id: invitation.invitationId, user_id: invitation.userId, role: invitation.role, invited_by: invitation.invitedBy,
            developer_access_granted: becameDeveloper },
        });
        return { outcome: 'accepted', invitation: yield* resolve(tx, invitation, 'accepted', now), becameDeveloper };
      });
    },
    async decline(invitationId, userId, now) {
      return db.transaction(function* (tx): SqlStep<{ outcome: 'declined'; invitation: PartnerTeamInvitationRecord } | PartnerTeamInvitationRefusal> {
        const invitation = yield* lockedOfUser(tx, invitationId, userId);
        if (!invitation) return { outcome: 'unknown' };
        if (invitation.status !== 'pending') return { outcome: 'no_longer_pending', invitation };
        if (invitation.expiresAt <= now) return { outcome: 'expired', invitation };
        yield* insertAuditEventSteps(tx, {
          type: 'partner_team.invitation_declined', at: now, actor: `user:${userId}`,
          details: { team_id: invitation.teamId, invitation_id: invitation.invitationId, user_id: invitation.userId, invited_by: invitation.invitedBy },
        });
        return { outcome: 'declined', invitation: yield* resolve(tx, invitation, 'declined', now) };
      });
    },
    async revoke(invitationId, teamId, now, actor) {
      return db.transaction(function* (tx): SqlStep<'revoked' | 'unknown' | 'no_longer_pending'> {
        const revoked = yield* tx.get(`UPDATE partner_team_invitations SET status = 'revoked', resolved_at = ?
          WHERE invitation_id = ? AND team_id = ? AND status = 'pending' RETURNING user_id, role`, [now, invitationId, teamId]);
        if (revoked) {
          yield* insertAuditEventSteps(tx, {
            type: 'partner_team.invitation_revoked', at: now, actor,
            details: { team_id: teamId, invitation_id: invitationId, user_id: String(revoked.user_id), role: String(revoked.role) },
          });
          return 'revoked';
        }
        return (yield* tx.get('SELECT 1 AS found FROM partner_team_invitations WHERE invitation_id = ? AND team_id = ?', [invitationId, teamId])) ? 'no_longer_pending' : 'unknown';
      });
    },
  };
}

function toInvitation(row: SqlRow): PartnerTeamInvitationRecord {
  return {
    invitationId: String(row.invitation_id), teamId: String(row.team_id), userId: String(row.user_id), email: String(row.email), name: String(row.name),
    role: String(row.role) as PartnerTeamRole, invitedBy: String(row.invited_by), createdAt: Number(row.created_at), expiresAt: Number(row.expires_at),
    status: String(row.status) as PartnerTeamInvitationStatus, resolvedAt: row.resolved_at === null || row.resolved_at === undefined ? null : Number(row.resolved_at),
  };
}

function toView(row: SqlRow): PartnerTeamInvitationView {
  return { ...toInvitation(row), inviterName: String(row.inviter_name), inviterEmail: String(row.inviter_email) };
}
