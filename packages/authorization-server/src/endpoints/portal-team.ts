/**
 * Partner teams in the developer portal (issue 13 "Partner teams"): several developers share a partner's
 * clients. The developer who first opens the portal founds the team and is its owner; owners invite
 * teammates by e-mail and remove them. Every member sees and manages every client of the team.
 *
 * - `GET /portal/team`: the members with their role; the invitation form for owners.
 * - `POST /portal/team/invitations` (`name`, `email`, `role`): owners only (403 otherwise, nothing
 *   changes). Records a pending invitation (7 days) and nothing else: nobody joins a team without accepting
 *   (endpoints/portal-invitations.ts). The address is looked up in the directory; someone new gets a directory
 *   user (no password) and a one-time set-password link (users/password-links.ts, 72 h); an existing account
 *   keeps its own links. The invitee is e-mailed (mail/mailer.ts) a link to the invitation; an account without a
 *   password and without a new link is also told how to sign in (`signInWithoutPassword`). The answer is the
 *   same whether or not the address belongs to an account, and never shows the directory's name: "Invitation
 *   sent to EMAIL". Refusals (bad name or address, already in this team: the page lists its members) are shown
 *   beside the field with everything typed kept. Audited `partner_team.member_invited` (never a link).
 *   At most `teamInvitationsPerHour` invitations a team (options.ts, default 20; storage `rateLimits`): over it the
 *   form answers 429 with `Retry-After` and the limit beside the address, everything typed kept, and nothing is
 *   created, stored or e-mailed.
 * - `POST /portal/team/invitations/:invitation_id/revoke`: owners only; a confirmation page, then (with
 *   `confirm=yes`) the invitation can no longer be accepted. Audited `partner_team.invitation_revoked`. The
 *   confirmation's language switch posts here with `locale` (pages/portal-pages.ts `portalConfirmationPage`): it is
 *   remembered and the confirmation shown again in it; nothing is withdrawn.
 * - `POST /portal/team/members/:user_id/remove`: owners only; first a confirmation page naming what will
 *   happen, then (with `confirm=yes`) the removal, checked and done atomically by storage: the team's
 *   last owner is never removed (409). The removed developer stops being a partner developer (their
 *   clients stay the team's). Audited `partner_team.member_removed`. Someone outside the team: 404. The
 *   confirmation's language switch posts here with `locale`: remembered, the confirmation shown again in it, nothing removed.
 *
 * Forms are CSRF- and Origin-checked before these handlers run (routes.ts, SPEC decision 18).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isUuid } from '@gatehouse/protocol';
import { createDirectoryUser, DirectoryError, readEmail, readName } from '../directory/directory.ts';
import { matchLocale, translator, type Translator } from '../i18n/i18n.ts';
import { EMPTY_INVITATION, removeMemberConfirmationPage, revokeInvitationConfirmationPage, teamPage, type InvitationFormValues } from '../pages/portal-team-pages.ts';
import { portalMessagePage, type FieldErrors } from '../pages/portal-pages.ts';
import type { ServerContext } from '../server-context.ts';
import type { PartnerTeamInvitationRecord, UserRecord } from '../storage/storage.ts';
import { issuePasswordLink } from '../users/password-links.ts';
import { localPasswordsEnabled, upstreamProvider } from '../sessions/upstream-identity.ts';
import { mailerOf } from './password-reset.ts';
import { developer, page, type SignedInDeveloper } from './portal.ts';
import { rememberSwitchedLocale, switchingLanguage } from './confirmation.ts';

type Body = Record<string, unknown>;

/** How long an invitation may be accepted. */
export const TEAM_INVITATION_LIFETIME_SECONDS = 7 * 24 * 3600;

/** The page the invitation e-mail links to (endpoints/portal-invitations.ts). */
export const invitationPath = (invitationId: string) => `/portal/invitations/${invitationId}`;

async function renderTeam(context: ServerContext, reply: FastifyReply, signedIn: SignedInDeveloper, status: number,
  extra: { values?: InvitationFormValues; errors?: FieldErrors; notice?: string } = {}): Promise<void> {
  const members = await context.storage.partnerTeams.listMembers(signedIn.team.teamId);
  const clientCount = (await context.storage.partnerTeams.listClients(signedIn.team.teamId)).filter((client) => client.status !== 'deleted').length;
  const invitations = await context.storage.partnerTeamInvitations.listPendingOfTeam(signedIn.team.teamId, context.clock.nowSeconds());
  page(reply, status, teamPage({
    ...signedIn.frame, members, invitations, currentUserId: signedIn.user.userId, isOwner: signedIn.team.role === 'owner', clientCount,
    values: extra.values ?? EMPTY_INVITATION, ...(extra.errors ? { errors: extra.errors } : {}), ...(extra.notice ? { notice: extra.notice } : {}),
  }));
}

/** Answers 403 (nothing changes) unless the signed-in developer is an owner of their team. */
function ownerOnly(reply: FastifyReply, signedIn: SignedInDeveloper): boolean {
  if (signedIn.team.role === 'owner') return true;
  const t = signedIn.frame.t!;
  page(reply, 403, portalMessagePage(signedIn.frame, t.t('team.ownersOnlyTitle'), t.t('team.ownersOnly'), { href: '/portal/team', label: t.t('team.backToTeam') }));
  return false;
}

/** GET /portal/team (`?invited=<invitation id>`, `?revoked=1`, `?removed=1` or `?joined=1`: the notice after a change). */
export async function portalTeam(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const signedIn = await developer(context, request, reply);
  if (!signedIn) return;
  const t = signedIn.frame.t!;
  const query = request.query as Record<string, unknown>;
  let notice: string | undefined;
  if (typeof query.invited === 'string' && isUuid(query.invited)) {
    // Only this team's invitation is named, by the address as typed (any other id names nobody).
    const invitation = await context.storage.partnerTeamInvitations.find(query.invited);
    if (invitation?.teamId === signedIn.team.teamId) notice = t.t('team.invited', { email: invitation.email });
  } else if (query.revoked === '1') notice = t.t('team.invitationRevoked');
  else if (query.removed === '1') notice = t.t('team.removed');
  else if (query.joined === '1') notice = t.t('team.joined');
  await renderTeam(context, reply, signedIn, 200, notice ? { notice } : {});
}

/** POST /portal/team/invitations */
export async function portalInviteTeammate(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const signedIn = await developer(context, request, reply);
  if (!signedIn || !ownerOnly(reply, signedIn)) return;
  const t = signedIn.frame.t!;
  const body = (request.body ?? {}) as Body;
  const text = (name: string) => (typeof body[name] === 'string' ? (body[name] as string).trim() : '');
  const values: InvitationFormValues = { name: text('name'), email: text('email').toLowerCase(), role: text('role') === 'owner' ? 'owner' : 'member' };
  const errors: FieldErrors = {};
  try {
    readName(values.name);
  } catch {
    errors.name = t.t('team.nameRequired');
  }
  try {
    readEmail(values.email);
  } catch {
    errors.email = t.t('team.emailInvalid');
  }
  if (text('role') !== 'owner' && text('role') !== 'member') errors.role = t.t('team.roleRequired');
  if (Object.keys(errors).length > 0) return renderTeam(context, reply, signedIn, 400, { values, errors });

  const now = context.clock.nowSeconds();
  const actor = `user:${signedIn.user.userId}`;
  let invitee: UserRecord | undefined = await context.storage.users.findByEmail(values.email);
  // Someone already in this team: the team page lists them, so saying so reveals nothing. Whether the address has an
  // account, whose it is, or whether they are in another team is never told (the same answer for all, below).
  if (invitee && (await context.storage.partnerTeams.findMembership(invitee.userId))?.teamId === signedIn.team.teamId) {
    errors.email = t.t('team.alreadyMember');
    return renderTeam(context, reply, signedIn, 409, { values, errors });
  }
  // Each invitation may create a directory user and e-mails any address: at most `teamInvitationsPerHour` a team. Counted
  // here, after the checks that send nothing and before anything is created, refused attempts included (they end with the window).
  const retryAfterSeconds = await invitationLimitReached(context, signedIn.team.teamId, now);
  if (retryAfterSeconds !== undefined) {
    // RFC 6585 §4: 429, with Retry-After in seconds (RFC 9110 §10.2.3); the form keeps what was typed. No address is logged.
    request.log.warn({ event: 'partner_team.invitation_limit', team_id: signedIn.team.teamId, retryAfterSeconds }, 'a team reached its invitation limit');
    reply.header('retry-after', String(retryAfterSeconds));
    errors.email = t.t('team.inviteLimit', { limit: context.options.teamInvitationsPerHour, minutes: Math.ceil(retryAfterSeconds / 60) });
    return renderTeam(context, reply, signedIn, 429, { values, errors });
  }
  let created = false;
  if (!invitee) {
    try {
      const user = await createDirectoryUser({ storage: context.storage, environment: context.options.environment, now, actor }, { email: values.email, name: values.name });
      invitee = { userId: user.userId, email: user.email, name: user.name, passwordHash: null };
      created = true;
    } catch (error) {
      if (!(error instanceof DirectoryError)) throw error;
      // A race with another registration of the address: that account is invited.
      invitee = await context.storage.users.findByEmail(values.email);
      if (!invitee) throw error;
    }
  }
  const invitation: PartnerTeamInvitationRecord = {
    invitationId: randomUUID(), teamId: signedIn.team.teamId, userId: invitee.userId, email: values.email, name: values.name, role: values.role,
    invitedBy: signedIn.user.userId, createdAt: now, expiresAt: now + TEAM_INVITATION_LIFETIME_SECONDS, status: 'pending', resolvedAt: null,
  };
  await context.storage.partnerTeamInvitations.create(invitation);
  // Only an account this invitation created gets a set-password link: an existing account's pending link (an
  // administrator's invitation) stays valid (a new link would void it). Never logged or stored.
  const link = created && localPasswordsEnabled(context) ? await issuePasswordLink(context.storage, context.options.issuer, invitee.userId, 'invitation', now) : undefined;
  await context.storage.audit.record({
    type: 'partner_team.member_invited', at: now, actor,
    details: { team_id: invitation.teamId, invitation_id: invitation.invitationId, user_id: invitee.userId, role: values.role, expires_at: invitation.expiresAt, password_link_sent: link !== undefined },
  });
  sendInvitation(context, request, t, {
    to: values.email, userId: invitee.userId, inviter: signedIn.user.name, role: values.role, invitationId: invitation.invitationId, setPasswordUrl: link?.url,
    hasPassword: invitee.passwordHash !== null,
  });
  reply.redirect(`/portal/team?${new URLSearchParams({ invited: invitation.invitationId })}`, 303);
}

/** The invitation limit's window (options.ts `teamInvitationsPerHour`). */
const INVITATION_WINDOW_SECONDS = 3600;

/**
 * Counts one invitation of `teamId` in its current window (storage `rateLimits`, the counters the password-reset
 * and OAuth endpoint limits use: a fixed window from the first hit in it, shared by every instance on one database,
 * PostgreSQL's default `shared` counters seeing other instances' hits up to one flush interval late).
 * @param now seconds since the epoch.
 * @returns undefined while the team is within `teamInvitationsPerHour`; else the seconds until its window ends (≥ 1).
 */
async function invitationLimitReached(context: ServerContext, teamId: string, now: number): Promise<number | undefined> {
  const [window] = await context.storage.rateLimits.hit([`team-invitation:team:${teamId}`], INVITATION_WINDOW_SECONDS, now);
  if (window!.hits <= context.options.teamInvitationsPerHour) return undefined;
  return Math.max(1, window!.windowEndsAt - now);
}

/** POST /portal/team/invitations/:invitation_id/revoke (`confirm=yes` after the confirmation page). */
export async function portalRevokeInvitation(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  rememberSwitchedLocale(context, request, reply);
  const signedIn = await developer(context, request, reply);
  if (!signedIn) return;
  const t = signedIn.frame.t!;
  const invitationId = (request.params as { invitation_id: string }).invitation_id;
  const now = context.clock.nowSeconds();
  const invitation = isUuid(invitationId) ? await context.storage.partnerTeamInvitations.find(invitationId) : undefined;
  if (!invitation || invitation.teamId !== signedIn.team.teamId || invitation.status !== 'pending' || invitation.expiresAt <= now) {
    page(reply, 404, portalMessagePage(signedIn.frame, t.t('team.noSuchInvitationTitle'), t.t('team.noSuchInvitation'), { href: '/portal/team', label: t.t('team.backToTeam') }));
    return;
  }
  if (!ownerOnly(reply, signedIn)) return;
  const body = (request.body ?? {}) as Body;
  // The confirmation's language switch only shows it again, in the language chosen: it never withdraws, even with confirm=yes.
  if (body.confirm !== 'yes' || switchingLanguage(body)) {
    page(reply, 200, revokeInvitationConfirmationPage({ ...signedIn.frame, invitation }));
    return;
  }
  // Audited (partner_team.invitation_revoked) by the store, in the revocation's transaction.
  await context.storage.partnerTeamInvitations.revoke(invitation.invitationId, signedIn.team.teamId, now, `user:${signedIn.user.userId}`);
  reply.redirect('/portal/team?revoked=1', 303);
}

/**
 * E-mails the invitation after the response (in the invitee's directory language, else the inviter's page language).
 * Three bodies: with the set-password link (an account this invitation created, local passwords on); for an account
 * without a password and no link (one that signs in through the upstream provider, one whose administrator's
 * set-password link is pending, one created where only the upstream provider signs in) how to sign in
 * (`signInWithoutPassword`); else "sign in". Only the invitee reads which: the owner's answer is the same for all.
 * @param invitation.hasPassword whether the account has a local password (never the hash itself).
 */
function sendInvitation(context: ServerContext, request: FastifyRequest, t: Translator,
  invitation: { to: string; userId: string; inviter: string; role: string; invitationId: string; setPasswordUrl: string | undefined; hasPassword: boolean }): void {
  const brand = context.options.brand.name;
  const accept = `${context.options.issuer}${invitationPath(invitation.invitationId)}`;
  setImmediate(() => {
    void (async () => {
      const mailT = translator(matchLocale((await context.storage.directory.findUser(invitation.userId))?.locale) ?? t.locale);
      const values = { brand, inviter: invitation.inviter, role: invitation.role, invitation: accept };
      await mailerOf(context, request).send({
        to: invitation.to,
        subject: mailT.t('mail.teamInviteSubject', { brand, inviter: invitation.inviter }),
        text: invitation.setPasswordUrl ? mailT.t('mail.teamInviteNewBody', { ...values, link: invitation.setPasswordUrl })
          : invitation.hasPassword ? mailT.t('mail.teamInviteBody', values)
            : mailT.t('mail.teamInviteNoPasswordBody', { ...values, signIn: signInWithoutPassword(context, mailT) }),
      });
    })().catch((error: unknown) =>
      request.log.error({ event: 'mail.failed', reason: error instanceof Error ? error.message : String(error) }, 'a team invitation e-mail could not be sent'));
  });
}

/**
 * How an account without a local password signs in, in words for its invitation e-mail, naming the sign-in page's own
 * buttons: the upstream provider's "Sign in with …" where there is one, and "Forgot password?" (which e-mails any
 * account a set-password link, endpoints/password-reset.ts) where local passwords are on. It tells the ways this
 * deployment offers, nothing about the account.
 */
function signInWithoutPassword(context: ServerContext, t: Translator): string {
  const brand = context.options.brand.name;
  const forgot = t.t('login.forgot');
  const upstream = upstreamProvider(context);
  if (!upstream) return t.t('mail.teamInviteSignInForgot', { brand, forgot });
  const signInWith = t.t('login.signInWith', { provider: upstream.name });
  return localPasswordsEnabled(context) ? t.t('mail.teamInviteSignInUpstreamOrForgot', { brand, forgot, signInWith }) : t.t('mail.teamInviteSignInUpstream', { signInWith });
}

/** POST /portal/team/members/:user_id/remove (`confirm=yes` after the confirmation page). */
export async function portalRemoveTeammate(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  rememberSwitchedLocale(context, request, reply);
  const signedIn = await developer(context, request, reply);
  if (!signedIn) return;
  const t = signedIn.frame.t!;
  const userId = (request.params as { user_id: string }).user_id;
  const members = await context.storage.partnerTeams.listMembers(signedIn.team.teamId);
  const member = isUuid(userId) ? members.find((candidate) => candidate.userId === userId) : undefined;
  if (!member) {
    page(reply, 404, portalMessagePage(signedIn.frame, t.t('team.noSuchMemberTitle'), t.t('team.noSuchMember'), { href: '/portal/team', label: t.t('team.backToTeam') }));
    return;
  }
  if (!ownerOnly(reply, signedIn)) return;
  const self = member.userId === signedIn.user.userId;
  const body = (request.body ?? {}) as Body;
  // The confirmation's language switch only shows it again, in the language chosen: it never removes, even with confirm=yes.
  if (body.confirm !== 'yes' || switchingLanguage(body)) {
    page(reply, 200, removeMemberConfirmationPage({ ...signedIn.frame, member, self }));
    return;
  }
  const outcome = await context.storage.partnerTeams.removeMember(signedIn.team.teamId, member.userId);
  if (outcome === 'last_owner') {
    page(reply, 409, portalMessagePage(signedIn.frame, t.t('team.lastOwnerTitle'), t.t('team.lastOwner', { name: member.name }), { href: '/portal/team', label: t.t('team.backToTeam') }));
    return;
  }
  if (outcome === 'removed') {
    await context.storage.developers.remove(member.userId);
    await context.storage.audit.record({
      type: 'partner_team.member_removed', at: context.clock.nowSeconds(), actor: `user:${signedIn.user.userId}`,
      details: { team_id: signedIn.team.teamId, user_id: member.userId, role: member.role },
    });
  }
  reply.redirect(self ? '/' : '/portal/team?removed=1', 303);
}

