/**
 * The team page of the developer portal (issue 13 "Partner teams"): the partner's developers with their
 * role, an invitation form (owners), and a confirmation before removing a teammate. Every form carries the
 * CSRF token (SPEC decision 18); every value is escaped by `html`; every string is translated (`model.t`).
 */
import { ENGLISH } from '../i18n/i18n.ts';
import type { PartnerTeamMemberView, PartnerTeamRole } from '../storage/storage.ts';
import { errorSummary, fieldDescription, fieldError as messageBelow } from './field-errors.ts';
import { html } from './html.ts';
import { portalFrame, type FieldErrors, type PortalFrame } from './portal-pages.ts';

/** The invitation form as typed (kept on a refusal). */
export interface InvitationFormValues {
  name: string;
  email: string;
  role: PartnerTeamRole;
}

export const EMPTY_INVITATION: InvitationFormValues = { name: '', email: '', role: 'member' };

export function teamPage(model: PortalFrame & {
  members: PartnerTeamMemberView[]; currentUserId: string; isOwner: boolean; clientCount: number;
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

/** Before removing a teammate: names who loses what; Cancel returns to the team page. */
export function removeMemberConfirmationPage(model: PortalFrame & { member: PartnerTeamMemberView; self: boolean }): string {
  const t = model.t ?? ENGLISH;
  const name = model.member.name;
  const title = t.t('team.removeTitle', { name });
  return portalFrame(model, title, html`<h1>${title}</h1>
<div class="warning" role="region" aria-label="${t.t('portal.whatWillHappen')}"><ul>
<li>${model.self ? t.t('team.removeSelf') : t.t('team.removeConsequence', { name })}</li>
<li>${t.t('team.removeClientsStay')}</li>
</ul></div>
<form method="post" action="/portal/team/members/${model.member.userId}/remove">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <input type="hidden" name="confirm" value="yes">
  <div class="actions"><a class="button secondary" href="/portal/team">${t.t('portal.cancel')}</a><button class="danger" type="submit">${t.t('team.removeConfirm')}</button></div>
</form>`);
}
