/**
 * Sign-out and session pages (issue 10 §4): the "You are signed out" page, the account page listing the
 * user's active sessions (device, created, last seen; this one marked) with "End session" and "Sign out
 * everywhere else", and the confirmation asked before either. Every form carries the CSRF token (SPEC
 * decision 18); every value is escaped by `html`.
 */
import { html } from './html.ts';
import { layout, type SignedInHeader } from './layout.ts';

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
}

/** ISO 8601 UTC, to the minute: unambiguous whatever the reader's locale. */
const when = (seconds: number) => `${new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

const deviceName = (session: Pick<SessionView, 'device'>) => session.device || 'Unknown device';

export function signedOutPage(brandName: string): string {
  return layout(brandName, 'Signed out', html`<h1>You are signed out</h1>
<p>Your session on this browser has ended. Nobody using this computer can act as you or connect apps in your name.</p>
<div class="actions"><a class="button" href="/account/connected-apps">Sign in again</a></div>`);
}

export function sessionsPage(model: SessionsFrame & { sessions: SessionView[]; notice?: string }): string {
  const others = model.sessions.filter((session) => !session.current);
  return layout(model.brandName, 'Your sessions', html`<nav class="muted"><a href="/account/connected-apps">Connected apps</a> · <a href="/marketplace">Marketplace</a> · Sessions</nav>
<h1>Where you are signed in</h1>
${model.notice ? html`<p class="notice" role="status">${model.notice}</p>` : ''}
<table class="sessions">
<thead><tr><th>Device</th><th>Signed in</th><th>Last seen</th><th></th></tr></thead>
<tbody>
${model.sessions.map((session) => html`<tr data-session-id="${session.sessionId}">
  <td>${deviceName(session)}${session.current ? html` <strong class="current">(this device)</strong>` : ''}</td>
  <td>${when(session.createdAt)}</td>
  <td>${when(session.lastSeenAt)}</td>
  <td>${session.current
    ? html`<span class="muted">Use Sign out</span>`
    : html`<form class="inline" method="post" action="/account/sessions/${session.sessionId}/end"><input type="hidden" name="_csrf" value="${model.csrfToken}"><button type="submit">End session</button></form>`}</td>
</tr>
`)}
</tbody>
</table>
${others.length > 0
    ? html`<form method="post" action="/account/sessions/end-others"><input type="hidden" name="_csrf" value="${model.csrfToken}">
<div class="actions"><button class="primary" type="submit">Sign out everywhere else</button></div></form>`
    : html`<p class="muted">You are signed in on this device only.</p>`}`, model);
}

/**
 * The confirmation asked before ending sessions (no script runs on these pages: CSP `default-src 'none'`).
 * @param target one session of the user, or `'others'` for every session but this one.
 */
export function confirmEndSessionsPage(model: SessionsFrame & { target: SessionView | { others: number } }): string {
  const { target } = model;
  const one = 'sessionId' in target;
  const action = one ? `/account/sessions/${target.sessionId}/end` : '/account/sessions/end-others';
  return layout(model.brandName, 'End session', html`<h1>${one ? 'End this session?' : 'Sign out everywhere else?'}</h1>
<p>${one
    ? html`<strong>${deviceName(target)}</strong>, signed in ${when(target.createdAt)}, last seen ${when(target.lastSeenAt)}, will be signed out at once.`
    : html`${target.others} other ${target.others === 1 ? 'session' : 'sessions'} will be signed out at once. This device stays signed in.`}</p>
<form method="post" action="${action}">
  <input type="hidden" name="_csrf" value="${model.csrfToken}">
  <input type="hidden" name="confirm" value="yes">
  <div class="actions"><a href="/account/sessions">Cancel</a><button class="primary" type="submit">${one ? 'End session' : 'Sign out everywhere else'}</button></div>
</form>`, model);
}
