/**
 * Partner teams in the developer portal (issue 13 "Partner teams"): several developers share a partner's
 * clients. The developer who first opens the portal founds the team and is its owner; owners invite
 * teammates by e-mail and remove them. Every member sees and manages every client of the team.
 *
 * - `GET /portal/team`: the members with their role; the invitation form for owners.
 * - `POST /portal/team/invitations` (`name`, `email`, `role`): owners only (403 otherwise, nothing
 *   changes). The address is looked up in the directory; someone new gets a directory user (no password)
 *   and a one-time set-password link (users/password-links.ts, 72 h). The teammate becomes a partner
 *   developer and a member, and is e-mailed (mail/mailer.ts) a link to the portal, where signing in lands
 *   on the team's clients. Refusals (bad name or address, already in this or another team) are shown
 *   beside the field with everything typed kept. Audited `partner_team.member_invited` (never the link).
 * - `POST /portal/team/members/:user_id/remove`: owners only; first a confirmation page naming what will
 *   happen, then (with `confirm=yes`) the removal, checked and done atomically by storage: the team's
 *   last owner is never removed (409). The removed developer stops being a partner developer (their
 *   clients stay the team's). Audited `partner_team.member_removed`. Someone outside the team: 404.
 *
 * Forms are CSRF- and Origin-checked before these handlers run (routes.ts, SPEC decision 18).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isUuid } from '@gatehouse/protocol';
import { createDirectoryUser, DirectoryError, readEmail, readName } from '../directory/directory.ts';
import { matchLocale, translator, type Translator } from '../i18n/i18n.ts';
import { EMPTY_INVITATION, removeMemberConfirmationPage, teamPage, type InvitationFormValues } from '../pages/portal-team-pages.ts';
import { portalMessagePage, type FieldErrors } from '../pages/portal-pages.ts';
import type { ServerContext } from '../server-context.ts';
import { issuePasswordLink } from '../users/password-links.ts';
import { localPasswordsEnabled } from '../sessions/upstream-identity.ts';
import { mailerOf } from './password-reset.ts';
import { developer, page, type SignedInDeveloper } from './portal.ts';

type Body = Record<string, unknown>;

async function renderTeam(context: ServerContext, reply: FastifyReply, signedIn: SignedInDeveloper, status: number,
  extra: { values?: InvitationFormValues; errors?: FieldErrors; notice?: string } = {}): Promise<void> {
  const members = await context.storage.partnerTeams.listMembers(signedIn.team.teamId);
  const clientCount = (await context.storage.partnerTeams.listClients(signedIn.team.teamId)).filter((client) => client.status !== 'deleted').length;
  page(reply, status, teamPage({
    ...signedIn.frame, members, currentUserId: signedIn.user.userId, isOwner: signedIn.team.role === 'owner', clientCount,
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

/** GET /portal/team (`?invited=<user id>` or `?removed=1`: the notice after a change). */
export async function portalTeam(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const signedIn = await developer(context, request, reply);
  if (!signedIn) return;
  const t = signedIn.frame.t!;
  const query = request.query as Record<string, unknown>;
  let notice: string | undefined;
  if (typeof query.invited === 'string') {
    // Only a member of this team is named (any other id names nobody).
    const invited = (await context.storage.partnerTeams.listMembers(signedIn.team.teamId)).find((member) => member.userId === query.invited);
    if (invited) notice = t.t('team.invited', { name: invited.name, email: invited.email });
  } else if (query.removed === '1') notice = t.t('team.removed');
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
  let invitee = await context.storage.users.findByEmail(values.email);
  if (invitee) {
    const membership = await context.storage.partnerTeams.findMembership(invitee.userId);
    if (membership) {
      errors.email = membership.teamId === signedIn.team.teamId ? t.t('team.alreadyMember') : t.t('team.inAnotherTeam');
      return renderTeam(context, reply, signedIn, 409, { values, errors });
    }
    // Clients a developer registered before partner teams existed belong to no team until their first visit founds
    // theirs (storage.ts PartnerTeamStore: "else its registering developer's team"): a membership added here would
    // hand them to this team, whose owner could then rotate their secrets. Another partner's clients stay out of
    // reach (issue 13: others' clients answer 404), so such a developer is refused as one already in a team.
    for (const owned of await context.storage.clients.listByOwner(invitee.userId)) {
      if ((await context.storage.partnerTeams.teamOfClient(owned.clientId)) === undefined) {
        errors.email = t.t('team.inAnotherTeam');
        return renderTeam(context, reply, signedIn, 409, { values, errors });
      }
    }
  } else {
    try {
      const created = await createDirectoryUser({ storage: context.storage, environment: context.options.environment, now, actor }, { email: values.email, name: values.name });
      invitee = { userId: created.userId, email: created.email, name: created.name, passwordHash: null };
    } catch (error) {
      if (!(error instanceof DirectoryError)) throw error;
      // A race with another registration of the address: answered in the page like the checks above.
      errors.email = t.t('team.inAnotherTeam');
      return renderTeam(context, reply, signedIn, 409, { values, errors });
    }
  }
  const outcome = await context.storage.partnerTeams.addMember({ teamId: signedIn.team.teamId, userId: invitee.userId, role: values.role, addedAt: now });
  if (outcome !== 'added') {
    errors.email = outcome === 'already_member' ? t.t('team.alreadyMember') : t.t('team.inAnotherTeam');
    return renderTeam(context, reply, signedIn, 409, { values, errors });
  }
  await context.storage.developers.add(invitee.userId);
  // A new account (no password, no upstream identity yet) gets a one-time set-password link; never logged or stored.
  const link = invitee.passwordHash === null && localPasswordsEnabled(context) && (await context.storage.userIdentities.listOfUser(invitee.userId)).length === 0
    ? await issuePasswordLink(context.storage, context.options.issuer, invitee.userId, 'invitation', now) : undefined;
  await context.storage.audit.record({
    type: 'partner_team.member_invited', at: now, actor,
    details: { team_id: signedIn.team.teamId, user_id: invitee.userId, role: values.role, password_link_sent: link !== undefined },
  });
  sendInvitation(context, request, t, { to: invitee.email, userId: invitee.userId, inviter: signedIn.user.name, setPasswordUrl: link?.url });
  reply.redirect(`/portal/team?${new URLSearchParams({ invited: invitee.userId })}`, 303);
}

/** E-mails the invitation after the response (in the invitee's directory language, else the inviter's page language). */
function sendInvitation(context: ServerContext, request: FastifyRequest, t: Translator,
  invitation: { to: string; userId: string; inviter: string; setPasswordUrl: string | undefined }): void {
  const brand = context.options.brand.name;
  const portal = `${context.options.issuer}/portal`;
  setImmediate(() => {
    void (async () => {
      const mailT = translator(matchLocale((await context.storage.directory.findUser(invitation.userId))?.locale) ?? t.locale);
      await mailerOf(context, request).send({
        to: invitation.to,
        subject: mailT.t('mail.teamInviteSubject', { brand }),
        text: invitation.setPasswordUrl
          ? mailT.t('mail.teamInviteNewBody', { brand, inviter: invitation.inviter, link: invitation.setPasswordUrl, portal })
          : mailT.t('mail.teamInviteBody', { brand, inviter: invitation.inviter, portal }),
      });
    })().catch((error: unknown) =>
      request.log.error({ event: 'mail.failed', reason: error instanceof Error ? error.message : String(error) }, 'a team invitation e-mail could not be sent'));
  });
}

/** POST /portal/team/members/:user_id/remove (`confirm=yes` after the confirmation page). */
export async function portalRemoveTeammate(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
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
  if ((request.body as Body | undefined)?.confirm !== 'yes') {
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

