/**
 * Sign-out and session pages (issue 10 §4): the "You are signed out" page, the account page listing the
 * user's active sessions (device, created, last seen; this one marked) with "End session" and "Sign out
 * everywhere else", and the confirmation asked before either. Every form carries the CSRF token (SPEC
 * decision 18); every value is escaped by `html`.
 */
import { ENGLISH, type Translator } from '../i18n/i18n.ts';
import { html } from './html.ts';
import { accountNavigation } from './account-pages.ts';
import { confirmationForms } from './confirmation.ts';
import { layout, type SignedInHeader } from './layout.ts';
import { deviceParts } from '../sessions/device-summary.ts';

export interface SessionView {
  /** sessions/login-session.ts `sessionPublicId`: never the cookie or its digest. */
  sessionId: string;
  /** A short User-Agent summary; '' when unknown. */
  device: string;
  /** Seconds since the epoch. */
  createdAt: number;
  lastSeenAt: number;
  /** The session of the browser looking at the page. */
  current: boolean;
}

export interface SessionsFrame extends SignedInHeader {
  brandName: string;
  /** The page's language (issue 13); English when absent. */
  t?: Translator;
}

/** The stored summary in the page's language ("Chrome sous Linux"); browser and system names are names. */
const deviceName = (session: Pick<SessionView, 'device'>, t: Translator) => {
  if (!session.device) return t.t('sessions.unknownDevice');
  const parts = deviceParts(session.device);
  return parts ? t.t('sessions.deviceOn', parts) : session.device;
};

/** @param signInAgain where "Sign in again" goes: the page signed out from, when a login continues there (logout.ts). */
export function signedOutPage(brandName: string, t: Translator = ENGLISH, signInAgain = '/account/connected-apps'): string {
  return layout(brandName, t.t('sessions.signedOutTitle'), html`<h1>${t.t('sessions.signedOutHeading')}</h1>
<p>${t.t('sessions.signedOutText')}</p>
<div class="actions"><a class="button" href="${signInAgain}">${t.t('sessions.signInAgain')}</a></div>`, undefined, t);
}

export function sessionsPage(model: SessionsFrame & { sessions: SessionView[]; notice?: string }): string {
  const t = model.t ?? ENGLISH;
  // Dates in the page's language, UTC, to the minute (English: ISO 8601, "2027-01-15 08:00 UTC").
  const when = (seconds: number) => t.dateTime(seconds);
  const others = model.sessions.filter((session) => !session.current);
  return layout(model.brandName, t.t('sessions.title'), html`${accountNavigation(t)}
<h1>${t.t('sessions.heading')}</h1>
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
<div class="table-scroll" tabindex="0" role="region" aria-label="${t.t('sessions.heading')}"><table class="sessions">
<thead><tr><th>${t.t('sessions.device')}</th><th>${t.t('sessions.signedIn')}</th><th>${t.t('sessions.lastSeen')}</th><th><span class="visually-hidden">${t.t('sessions.actions')}</span></th></tr></thead>
<tbody>
${model.sessions.map((session) => html`<tr data-session-id="${session.sessionId}">
  <td>${deviceName(session, t)}${session.current ? html` <strong class="current">${t.t('sessions.thisDevice')}</strong>` : ''}</td>
  <td>${when(session.createdAt)}</td>
  <td>${when(session.lastSeenAt)}</td>
  <td>${session.current
    ? html`<span class="muted">${t.t('sessions.useSignOut')}</span>`
    : html`<form class="inline" method="post" action="/account/sessions/${session.sessionId}/end"><input type="hidden" name="_csrf" value="${model.csrfToken}"><button type="submit">${t.t('sessions.end')}</button></form>`}</td>
</tr>
`)}
</tbody>
</table></div>
${others.length > 0
    ? html`<form method="post" action="/account/sessions/end-others"><input type="hidden" name="_csrf" value="${model.csrfToken}">
<div class="actions"><button class="primary" type="submit">${t.t('sessions.endOthers')}</button></div></form>`
    : html`<p class="muted">${t.t('sessions.onlyThisDevice')}</p>`}`, model, t);
}

/**
 * The confirmation asked before ending sessions (no script runs on these pages: CSP `default-src 'none'`). Its language
 * switch shows it again in the language chosen (pages/confirmation.ts: buttons of a form, no script), nothing ended.
 * @param target one session of the user, or `'others'` for every session but this one.
 */
export function confirmEndSessionsPage(model: SessionsFrame & { target: SessionView | { others: number } }): string {
  const { target } = model;
  const one = 'sessionId' in target;
  const action = one ? `/account/sessions/${target.sessionId}/end` : '/account/sessions/end-others';
  const t = model.t ?? ENGLISH;
  const heading = one ? t.t('sessions.confirmOneHeading') : t.t('sessions.confirmOthersHeading');
  const { forms, languageForm } = confirmationForms({
    csrfToken: model.csrfToken, action, confirmLabel: one ? t.t('sessions.end') : t.t('sessions.endOthers'), confirmStyle: 'primary',
    cancelHref: '/account/sessions', cancelLabel: t.t('sessions.cancel'),
  });
  return layout(model.brandName, heading, html`<h1>${heading}</h1>
<p>${one
    ? t.html('sessions.confirmOne', { device: deviceName(target, t), signedIn: t.dateTime(target.createdAt), lastSeen: t.dateTime(target.lastSeenAt) })
    : t.t('sessions.confirmOthers', { count: target.others })}</p>
${forms}`, model, t, languageForm);
}

/** The answer when the session to end is not one of the user's (ended meanwhile, or never theirs): 404 in the account's frame, back to the list. */
export function noSuchSessionPage(model: SessionsFrame): string {
  const t = model.t ?? ENGLISH;
  return layout(model.brandName, t.t('sessions.noSuchTitle'), html`<h1>${t.t('sessions.noSuchTitle')}</h1>
<p class="error" role="alert">${t.t('sessions.noSuch')}</p>
<p class="onward"><a href="/account/sessions">${t.t('account.yourSessions')}</a></p>`, model, t);
}
