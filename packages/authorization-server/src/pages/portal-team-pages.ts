/**
 * The team page of the developer portal (issue 13 "Partner teams"): the partner's developers with their
 * role, the pending invitations (owners may withdraw them, after a confirmation), an invitation form
 * (owners), and a confirmation before removing a teammate. The invitee's side: the invitation page with
 * Accept and Decline, and a confirmation before declining. Every form carries the
 * CSRF token (SPEC decision 18); every value is escaped by `html`; every string is translated (`model.t`).
 */
import { ENGLISH } from '../i18n/i18n.ts';
import type { PartnerTeamInvitationRecord, PartnerTeamInvitationView, PartnerTeamMemberView, PartnerTeamRole } from '../storage/storage.ts';
import { errorSummary, fieldDescription, fieldError as messageBelow } from './field-errors.ts';
import { html } from './html.ts';
import { layout } from './layout.ts';
import { portalConfirmationPage, portalFrame, type FieldErrors, type PageFrame, type PortalFrame } from './portal-pages.ts';

/** The invitation form as typed (kept on a refusal). */
export interface InvitationFormValues {
  name: string;
  email: string;
  role: PartnerTeamRole;
}

export const EMPTY_INVITATION: InvitationFormValues = { name: '', email: '', role: 'member' };

export function teamPage(model: PortalFrame & {
  members: PartnerTeamMemberView[]; invitations: PartnerTeamInvitationRecord[]; currentUserId: string; isOwner: boolean; clientCount: number;
  values: InvitationFormValues; errors?: FieldErrors; notice?: string;
}): string {
  const t = model.t ?? ENGLISH;
  const errors = model.errors ?? {};
  const entries = Object.entries(errors).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
  const labels: Record<string, string> = { name: t.t('team.name'), email: t.t('team.email'), role: t.t('team.role') };
  const described = (name: string, hint: boolean) => fieldDescription(name, errors[name], hint);
  const fieldError = (name: string) => messageBelow(name, errors[name]);
  const owners = model.members.filter((member) => member.role === 'owner').length;
  return portalFrame(model, t.t('team.title'), html`<h1>${t.t('team.heading')}</h1>
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
${errorSummary(t.t('portal.correctFields'), entries.map(([name, message]) => ({ anchor: name, label: labels[name] ?? name, message })), t)}
<p>${t.t('team.intro', { count: model.clientCount })}</p>
<div class="table-scroll" tabindex="0" role="region" aria-label="${t.t('team.membersCaption')}"><table class="sessions">
<caption class="muted">${t.t('team.membersCaption')}</caption>
<thead><tr><th scope="col">${t.t('team.name')}</th><th scope="col">${t.t('team.email')}</th><th scope="col">${t.t('team.role')}</th>${model.isOwner ? html`<th scope="col">${t.t('team.actions')}</th>` : ''}</tr></thead>
<tbody>
${model.members.map((member) => html`<tr><td>${member.name}${member.userId === model.currentUserId ? html` <span class="muted">${t.t('team.you')}</span>` : ''}</td><td>${member.email}</td><td>${t.t('team.roleName', { role: member.role })}</td>${model.isOwner ? html`<td>${member.role === 'owner' && owners === 1
    // The team must keep an owner (the removal would be refused): no button that leads only to that refusal.
    ? html`<span class="muted">${t.t('team.onlyOwner')}</span>`
    : html`<form method="post" action="/portal/team/members/${member.userId}/remove">
<input type="hidden" name="_csrf" value="${model.csrfToken}"><button type="submit" aria-label="${t.t('team.removeNamed', { name: member.name })}">${t.t('team.remove')}</button></form>`}</td>` : ''}</tr>\n`)}
</tbody>
</table></div>
${model.invitations.length > 0 ? html`<h2>${t.t('team.pendingHeading')}</h2>
<p class="muted">${t.t('team.pendingIntro')}</p>
<div class="table-scroll" tabindex="0" role="region" aria-label="${t.t('team.pendingCaption')}"><table class="sessions">
<caption class="muted">${t.t('team.pendingCaption')}</caption>
<thead><tr><th scope="col">${t.t('team.name')}</th><th scope="col">${t.t('team.email')}</th><th scope="col">${t.t('team.role')}</th><th scope="col">${t.t('team.expires')}</th>${model.isOwner ? html`<th scope="col">${t.t('team.actions')}</th>` : ''}</tr></thead>
<tbody>
${model.invitations.map((invitation) => html`<tr><td>${invitation.name}</td><td>${invitation.email}</td><td>${t.t('team.roleName', { role: invitation.role })}</td><td>${t.dateTime(invitation.expiresAt)}</td>${model.isOwner ? html`<td><form method="post" action="/portal/team/invitations/${invitation.invitationId}/revoke">
<input type="hidden" name="_csrf" value="${model.csrfToken}"><button type="submit" aria-label="${t.t('team.revokeNamed', { email: invitation.email })}">${t.t('team.revoke')}</button></form></td>` : ''}</tr>
`)}
</tbody>
</table></div>` : ''}
${model.isOwner ? html`<h2>${t.t('team.inviteHeading')}</h2>
<form method="post" action="/portal/team/invitations" novalidate>
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <label for="name">${t.t('team.name')}</label>
  <input id="name" name="name" type="text" required maxlength="200" autocomplete="off" value="${model.values.name}"${described('name', false)}>
  ${fieldError('name')}
  <label for="email">${t.t('team.email')}</label>
  <input id="email" name="email" type="email" required autocomplete="off" value="${model.values.email}"${described('email', true)}>
  ${fieldError('email')}<div class="muted" id="email-hint">${t.t('team.emailHint', { brand: model.brandName })}</div>
  <label for="role">${t.t('team.role')}</label>
  <select id="role" name="role"${described('role', false)}>
    <option value="member"${model.values.role === 'member' ? html` selected` : ''}>${t.t('team.roleMember')}</option>
    <option value="owner"${model.values.role === 'owner' ? html` selected` : ''}>${t.t('team.roleOwner')}</option>
  </select>
  ${fieldError('role')}
  <div class="actions"><button class="primary" type="submit">${t.t('team.invite')}</button></div>
</form>` : html`<p class="muted">${t.t('team.onlyOwners')}</p>`}`);
}

/**
 * Before removing a teammate: names who loses what; Cancel returns to the team page. Drawn by `portalConfirmationPage`,
 * so its language switch shows it again in the language chosen (the handler never acts on a switch).
 */
export function removeMemberConfirmationPage(model: PortalFrame & { member: PartnerTeamMemberView; self: boolean }): string {
  const t = model.t ?? ENGLISH;
  const name = model.member.name;
  return portalConfirmationPage({
    ...model, title: t.t('team.removeTitle', { name }),
    consequences: [model.self ? t.t('team.removeSelf') : t.t('team.removeConsequence', { name }), t.t('team.removeClientsStay')],
    action: `/portal/team/members/${model.member.userId}/remove`, confirmLabel: t.t('team.removeConfirm'), hidden: {}, cancelHref: '/portal/team',
  });
}

/**
 * Before withdrawing an invitation: names whom it was sent to; Cancel returns to the team page. Drawn by
 * `portalConfirmationPage`, so its language switch shows it again in the language chosen (the handler never acts on a switch).
 */
export function revokeInvitationConfirmationPage(model: PortalFrame & { invitation: PartnerTeamInvitationRecord }): string {
  const t = model.t ?? ENGLISH;
  return portalConfirmationPage({
    ...model, title: t.t('team.revokeTitle', { email: model.invitation.email }),
    consequences: [t.t('team.revokeConsequence'), t.t('team.revokeAgain')],
    action: `/portal/team/invitations/${model.invitation.invitationId}/revoke`, confirmLabel: t.t('team.revokeConfirm'), hidden: {}, cancelHref: '/portal/team',
  });
}

/** The invitee's pages: the signed-in account (who may not be a partner developer yet), without the portal's menu. */
export type InviteeFrame = PortalFrame;

/** An invitation as its invitee decides on it: the team (its owners and clients), who invited them, the role. */
export interface InvitationDetails {
  invitation: PartnerTeamInvitationView;
  owners: string[];
  clients: string[];
}

/** The invitee's frame: the layout with who is signed in, without the portal's navigation (a `PageFrame`). */
const inviteeFrame: PageFrame = (model, title, body, languageForm) => layout(model.brandName, title, body, model, model.t ?? ENGLISH, languageForm);

/** `/portal/invitations` (every pending invitation of the account) and `/portal/invitations/{id}` (one). */
export function invitationsPage(model: InviteeFrame & { invitations: InvitationDetails[]; email: string; notice?: string }): string {
  const t = model.t ?? ENGLISH;
  const list = (names: string[]) => new Intl.ListFormat(t.locale, { type: 'conjunction' }).format(names);
  const title = t.t('invitation.title');
  return inviteeFrame(model, title, html`<h1>${title}</h1>
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
${model.invitations.length === 0 ? html`<p>${t.t('invitation.none')}</p>
<p class="muted">${t.t('invitation.forThisAccount', { email: model.email })}</p>
<p><a href="/">${t.t('portal.goHome')}</a></p>` : ''}
${model.invitations.map(({ invitation, owners, clients }) => html`<section aria-labelledby="invitation-${invitation.invitationId}">
<h2 id="invitation-${invitation.invitationId}">${t.t('invitation.heading', { inviter: invitation.inviterName, brand: model.brandName })}</h2>
<dl>
<dt>${t.t('invitation.team')}</dt><dd>${t.t('invitation.teamOf', { owners: list(owners) })}</dd>
<dt>${t.t('invitation.clients')}</dt><dd>${clients.length === 0 ? t.t('invitation.noClients') : list(clients)}</dd>
<dt>${t.t('invitation.invitedBy')}</dt><dd>${invitation.inviterName} (${invitation.inviterEmail})</dd>
<dt>${t.t('team.role')}</dt><dd>${invitation.role === 'owner' ? t.t('team.roleOwner') : t.t('team.roleMember')}</dd>
<dt>${t.t('invitation.expires')}</dt><dd>${t.dateTime(invitation.expiresAt)}</dd>
</dl>
<p class="muted">${t.t('invitation.whatAccepting')}</p>
<div class="actions">
<form method="post" action="/portal/invitations/${invitation.invitationId}/decline"><input type="hidden" name="_csrf" value="${model.csrfToken}"><button class="secondary" type="submit">${t.t('invitation.decline')}</button></form>
<form method="post" action="/portal/invitations/${invitation.invitationId}/accept"><input type="hidden" name="_csrf" value="${model.csrfToken}"><button class="primary" type="submit">${t.t('invitation.accept')}</button></form>
</div>
</section>`)}`);
}

/**
 * Before declining: it cannot be undone (an owner would have to invite again); Cancel returns to the invitation. Drawn by
 * `portalConfirmationPage` in the invitee's frame, so its language switch shows it again in the language chosen
 * (the handler never acts on a switch).
 */
export function declineInvitationConfirmationPage(model: InviteeFrame & { invitation: PartnerTeamInvitationView }): string {
  const t = model.t ?? ENGLISH;
  return portalConfirmationPage({
    ...model, frame: inviteeFrame, title: t.t('invitation.declineTitle', { inviter: model.invitation.inviterName }),
    consequences: [t.t('invitation.declineConsequence')],
    action: `/portal/invitations/${model.invitation.invitationId}/decline`, confirmLabel: t.t('invitation.declineConfirm'), hidden: {},
    cancelHref: `/portal/invitations/${model.invitation.invitationId}`,
  });
}

/** A refusal on the invitee's side: what happened, and a way onward. */
export function invitationMessagePage(model: InviteeFrame, title: string, message: string, hint: string | undefined, onward: { href: string; label: string }): string {
  return inviteeFrame(model, title, html`<h1>${title}</h1>
<p class="error" role="alert">${message}</p>
${hint ? html`<p class="muted">${hint}</p>` : ''}
<p><a href="${onward.href}">${onward.label}</a></p>`);
}
