/**
 * The invitee's side of partner-team invitations (issue 13 "Partner teams"): nobody joins a team, nor
 * becomes a partner developer through one, without signing in as the invited account and accepting.
 *
 * - `GET /portal/invitations`: the signed-in account's pending invitations (`?declined=1`: the notice after
 *   declining), each with the team (its owners and clients), who invited them, the role and the expiry,
 *   and Accept / Decline. Any signed-in user may open it (an invitee is usually no partner developer yet).
 * - `GET /portal/invitations/:invitation_id`: the one invitation the e-mail links to. Signed out: the login
 *   page, which continues here. Another account's invitation is indistinguishable from none (404, naming
 *   the account signed in, with a way onward); an accepted, declined, withdrawn or expired one says so (410).
 * - `POST …/:invitation_id/accept`: checked and done atomically by storage (stores/partner-team-invitations.ts):
 *   the membership with the invitation's role, and partner-developer access. An administrator's `DELETE
 *   /developers/{id}` holds until then: the invitation alone changes nothing, and the user's own acceptance is
 *   what gives access again (audited with `developer_access_granted`). Audited `partner_team.invitation_accepted`.
 * - `POST …/:invitation_id/decline`: a confirmation page, then (with `confirm=yes`) the invitation can no
 *   longer be accepted. Audited `partner_team.invitation_declined`. The confirmation's language switch posts here
 *   with `locale` (pages/portal-pages.ts `portalConfirmationPage`): it is remembered and the confirmation shown again
 *   in it; nothing is declined.
 *
 * Forms are CSRF- and Origin-checked before these handlers run (routes.ts, SPEC decision 18).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isUuid } from '@gatehouse/protocol';
import { translator } from '../i18n/i18n.ts';
import { requestLocale } from '../i18n/request-language.ts';
import { formPage } from '../http/form-page.ts';
import {
  declineInvitationConfirmationPage, invitationMessagePage, invitationsPage, type InvitationDetails, type InviteeFrame,
} from '../pages/portal-team-pages.ts';
import type { ServerContext } from '../server-context.ts';
import { sessionUser } from '../sessions/login-session.ts';
import { sendLoginStep } from '../sessions/login-step.ts';
import type { PartnerTeamInvitationRecord, PartnerTeamInvitationRefusal, PartnerTeamInvitationView, UserRecord } from '../storage/storage.ts';
import { RETURN_TO } from './login.ts';
import { page } from './portal.ts';
import { rememberSwitchedLocale, switchingLanguage } from './confirmation.ts';

const INVITATIONS = '/portal/invitations';

interface SignedInInvitee {
  user: UserRecord;
  frame: InviteeFrame;
}

/** The signed-in account, or undefined after answering with the login page (which continues at the invitation). */
async function invitee(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<SignedInInvitee | undefined> {
  const user = await sessionUser(context, request);
  const path = request.method === 'GET' ? request.url.split('?')[0]! : formPage(request, context.options.issuer, INVITATIONS);
  if (!user) {
    sendLoginStep(context, reply, { returnTo: RETURN_TO.test(path) && path.startsWith(INVITATIONS) ? path : INVITATIONS });
    return undefined;
  }
  const t = translator(requestLocale(request), request.method === 'GET' ? request.url : path);
  return { user, frame: { brandName: context.options.brand.name, csrfToken: reply.generateCsrf(), userName: user.name, t } };
}

/** The team as its invitee sees it before joining: its owners' names and its clients' names. */
async function details(context: ServerContext, invitation: PartnerTeamInvitationView): Promise<InvitationDetails> {
  const members = await context.storage.partnerTeams.listMembers(invitation.teamId);
  const clients = (await context.storage.partnerTeams.listClients(invitation.teamId)).filter((client) => client.status !== 'deleted');
  return { invitation, owners: members.filter((member) => member.role === 'owner').map((member) => member.name), clients: clients.map((client) => client.clientName) };
}

/** GET /portal/invitations */
export async function portalInvitations(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const signedIn = await invitee(context, request, reply);
  if (!signedIn) return;
  const pending = await context.storage.partnerTeamInvitations.listPendingOfUser(signedIn.user.userId, context.clock.nowSeconds());
  const declined = (request.query as Record<string, unknown>).declined === '1';
  page(reply, 200, invitationsPage({
    ...signedIn.frame, email: signedIn.user.email, invitations: await Promise.all(pending.map((invitation) => details(context, invitation))),
    ...(declined ? { notice: signedIn.frame.t!.t('invitation.declined') } : {}),
  }));
}

/** GET /portal/invitations/:invitation_id */
export async function portalInvitation(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const signedIn = await invitee(context, request, reply);
  if (!signedIn) return;
  const invitation = await ownInvitation(context, request, signedIn);
  if (!invitation) return unknownInvitation(reply, signedIn);
  if (invitation.status !== 'pending' || invitation.expiresAt <= context.clock.nowSeconds()) {
    return answerRefused(reply, signedIn, invitation.status !== 'pending' ? 'no_longer_pending' : 'expired', invitation);
  }
  page(reply, 200, invitationsPage({ ...signedIn.frame, email: signedIn.user.email, invitations: [await details(context, invitation)] }));
}

/** POST /portal/invitations/:invitation_id/accept */
export async function portalAcceptInvitation(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const signedIn = await invitee(context, request, reply);
  if (!signedIn) return;
  const invitationId = (request.params as { invitation_id: string }).invitation_id;
  const now = context.clock.nowSeconds();
  const answer = isUuid(invitationId) ? await context.storage.partnerTeamInvitations.accept(invitationId, signedIn.user.userId, now) : { outcome: 'unknown' as const };
  // Audited by the store, in the acceptance's transaction.
  if (answer.outcome !== 'accepted') return refused(reply, signedIn, answer);
  reply.redirect('/portal/team?joined=1', 303);
}

/** POST /portal/invitations/:invitation_id/decline (`confirm=yes` after the confirmation page). */
export async function portalDeclineInvitation(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  rememberSwitchedLocale(context, request, reply);
  const signedIn = await invitee(context, request, reply);
  if (!signedIn) return;
  const now = context.clock.nowSeconds();
  const body = (request.body ?? {}) as Record<string, unknown>;
  // The confirmation's language switch only shows it again, in the language chosen: it never declines, even with confirm=yes.
  if (body.confirm !== 'yes' || switchingLanguage(body)) {
    const invitation = await ownInvitation(context, request, signedIn);
    if (!invitation) return unknownInvitation(reply, signedIn);
    if (invitation.status !== 'pending' || invitation.expiresAt <= now) {
      return answerRefused(reply, signedIn, invitation.status !== 'pending' ? 'no_longer_pending' : 'expired', invitation);
    }
    page(reply, 200, declineInvitationConfirmationPage({ ...signedIn.frame, invitation }));
    return;
  }
  const invitationId = (request.params as { invitation_id: string }).invitation_id;
  const answer = isUuid(invitationId) ? await context.storage.partnerTeamInvitations.decline(invitationId, signedIn.user.userId, now) : { outcome: 'unknown' as const };
  // Audited by the store, in the decline's transaction.
  if (answer.outcome !== 'declined') return refused(reply, signedIn, answer);
  reply.redirect(`${INVITATIONS}?declined=1`, 303);
}

async function ownInvitation(context: ServerContext, request: FastifyRequest, signedIn: SignedInInvitee): Promise<PartnerTeamInvitationView | undefined> {
  const invitationId = (request.params as { invitation_id: string }).invitation_id;
  return isUuid(invitationId) ? context.storage.partnerTeamInvitations.findOfUser(invitationId, signedIn.user.userId) : undefined;
}

/** No such invitation for this account (another account's is told apart from none by nobody): 404, and what to do. */
function unknownInvitation(reply: FastifyReply, signedIn: SignedInInvitee): void {
  const t = signedIn.frame.t!;
  page(reply, 404, invitationMessagePage(signedIn.frame, t.t('invitation.unknownTitle'), t.t('invitation.unknown'),
    t.t('invitation.forThisAccount', { email: signedIn.user.email }), { href: INVITATIONS, label: t.t('invitation.yourInvitations') }));
}

function refused(reply: FastifyReply, signedIn: SignedInInvitee, answer: PartnerTeamInvitationRefusal): void {
  if (answer.outcome === 'unknown') unknownInvitation(reply, signedIn);
  else answerRefused(reply, signedIn, answer.outcome, answer.invitation);
}

/** An invitation that can no longer be answered, or not by this account now: which, and a way onward. */
function answerRefused(reply: FastifyReply, signedIn: SignedInInvitee, outcome: 'expired' | 'no_longer_pending' | 'in_another_team', invitation: PartnerTeamInvitationRecord): void {
  const t = signedIn.frame.t!;
  const onward = { href: INVITATIONS, label: t.t('invitation.yourInvitations') };
  if (outcome === 'in_another_team') {
    page(reply, 409, invitationMessagePage(signedIn.frame, t.t('invitation.inAnotherTeamTitle'), t.t('invitation.inAnotherTeam'), t.t('invitation.stillPending'), onward));
    return;
  }
  if (outcome === 'no_longer_pending' && invitation.status === 'accepted') {
    page(reply, 410, invitationMessagePage(signedIn.frame, t.t('invitation.acceptedBeforeTitle'), t.t('invitation.acceptedBefore'), undefined,
      { href: '/portal/team', label: t.t('invitation.goToTeam') }));
    return;
  }
  const state = outcome === 'expired' ? 'expired' : invitation.status;
  page(reply, 410, invitationMessagePage(signedIn.frame, t.t('invitation.closedTitle', { state }), t.t('invitation.closed', { state }), t.t('invitation.askAgain'), onward));
}
