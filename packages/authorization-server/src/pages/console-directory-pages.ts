/**
 * The administrators' console's directory views (issue 13): users, companies and organizations with
 * search and paging, and a page per user with what they administer and the grants they made. Names come
 * first; ids appear small and muted, for support. Read-only but for removing a membership (confirmed).
 */
import { ENGLISH } from '../i18n/i18n.ts';
import type { DirectorySubjectRecord, DirectoryUserRecord, SubjectType } from '../storage/storage.ts';
import { consoleFrame, type ConsoleFrame, type GrantView, grantTable } from './console-pages.ts';
import { html } from './html.ts';

const tOf = (model: ConsoleFrame) => model.t ?? ENGLISH;

/** GET /admin/users?q=&after= */
export function userListPage(model: ConsoleFrame & { query: string; users: DirectoryUserRecord[]; nextUrl?: string }): string {
  const t = tOf(model);
  return consoleFrame(model, t.t('console.users'), html`<h1>${t.t('console.users')}</h1>
<form method="get" action="/admin/users" class="filter" role="search">
  <label for="q">${t.t('console.nameOrEmail')}</label><input id="q" name="q" type="text" value="${model.query}">
  <button type="submit">${t.t('console.search')}</button>
</form>
${model.users.length === 0 ? html`<p>${t.t('console.noUserMatches')}</p>` : html`<div class="table-scroll" tabindex="0" role="region" aria-label="${t.t('console.users')}"><table class="sessions">
<thead><tr><th scope="col">${t.t('console.name')}</th><th scope="col">${t.t('console.email')}</th></tr></thead>
<tbody>${model.users.map((user) => html`<tr><td><a href="/admin/users/${user.userId}">${user.name}</a><br><code class="muted small">${user.userId}</code></td><td>${user.email}</td></tr>`)}</tbody></table></div>`}
${model.nextUrl ? html`<p><a href="${model.nextUrl}">${t.t('console.nextPage')}</a></p>` : ''}`);
}

/** GET /admin/companies and /admin/organizations (?q=&after=) */
/** `activeGrants`: an organization's number of active grants, by its id (companies link to the grant search instead). */
export function subjectListPage(model: ConsoleFrame & {
  subjectType: SubjectType; query: string; subjects: DirectorySubjectRecord[]; organizationNames: Map<string, string>; activeGrants?: Map<string, number>; nextUrl?: string;
}): string {
  const t = tOf(model);
  const title = model.subjectType === 'company' ? t.t('console.companies') : t.t('console.organizations');
  const path = model.subjectType === 'company' ? '/admin/companies' : '/admin/organizations';
  return consoleFrame(model, title, html`<h1>${title}</h1>
<form method="get" action="${path}" class="filter" role="search">
  <label for="q">${t.t('console.name')}</label><input id="q" name="q" type="text" value="${model.query}">
  <button type="submit">${t.t('console.search')}</button>
</form>
${model.subjects.length === 0 ? html`<p>${t.t('console.noSubjectMatches')}</p>` : html`<div class="table-scroll" tabindex="0" role="region" aria-label="${title}"><table class="sessions">
<thead><tr><th scope="col">${t.t('console.name')}</th>${model.subjectType === 'company' ? html`<th scope="col">${t.t('console.organization')}</th>` : ''}<th scope="col">${t.t('console.grants')}</th></tr></thead>
<tbody>${model.subjects.map((subject) => html`<tr><td>${subject.name}<br><code class="muted small">${subject.subjectId}</code></td>${model.subjectType === 'company' ? html`<td>${subject.organizationId ? model.organizationNames.get(subject.organizationId) ?? subject.organizationId : html`<span class="muted">${t.t('console.noneFeminine')}</span>`}</td>` : ''}<td>${model.subjectType === 'company' ? html`<a href="/admin/grants?company=${subject.subjectId}" aria-label="${t.t('console.grantsOf', { subject: subject.name })}">${t.t('console.grants')}</a>` : t.t('console.activeGrantCount', { count: model.activeGrants?.get(subject.subjectId) ?? 0 })}</td></tr>`)}</tbody></table></div>`}
${model.nextUrl ? html`<p><a href="${model.nextUrl}">${t.t('console.nextPage')}</a></p>` : ''}`);
}

export interface MembershipView {
  subjectType: SubjectType;
  subjectId: string;
  subjectName: string;
}

/** GET /admin/users/:user_id */
export function userDetailPage(model: ConsoleFrame & { user: DirectoryUserRecord; memberships: MembershipView[]; grants: GrantView[]; notice?: string }): string {
  const t = tOf(model);
  const { user } = model;
  return consoleFrame(model, user.name, html`<h1>${user.name}</h1>
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
<dl class="details"><dt>${t.t('console.email')}</dt><dd>${user.email}</dd><dt>${t.t('console.language')}</dt><dd>${user.locale ?? t.t('console.noneFeminine')}</dd><dt>ID</dt><dd><code class="muted small">${user.userId}</code></dd></dl>
<h2>${t.t('console.memberships')}</h2>
${model.memberships.length === 0 ? html`<p>${t.t('console.noMemberships')}</p>` : html`<ul class="memberships">${model.memberships.map((membership) => html`<li>${membership.subjectName} <span class="muted">(${t.t('console.subjectKind', { type: membership.subjectType })})</span>
<form class="inline" method="post" action="/admin/users/${user.userId}/memberships/${membership.subjectType}/${membership.subjectId}/remove"><input type="hidden" name="_csrf" value="${model.csrfToken}"><button type="submit" aria-label="${t.t('console.removeMembershipLabel', { user: user.name, subject: membership.subjectName })}">${t.t('console.removeMembership')}</button></form></li>`)}</ul>`}
<h2>${t.t('console.activeGrants')}</h2>
${model.grants.length === 0 ? html`<p>${t.t('console.noGrantMatches')}</p>` : grantTable(model, model.grants, `/admin/users/${user.userId}`)}`);
}
