/**
 * The partner app's pages: server-rendered HTML, every dynamic value escaped. No script runs in them;
 * the only state in the browser is the session cookie.
 */
import escapeHtml from 'escape-html';

export interface Company {
  id: string;
  name: string;
  countryCode: string;
  currency: string;
}

export interface User {
  name: string;
  email: string;
  role: string;
}

export interface Vendor {
  name: string;
  countryCode: string;
}

export function layout(appName: string, title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · ${escapeHtml(appName)}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d2433; }
header { display: flex; justify-content: space-between; align-items: baseline; border-bottom: 1px solid #d8dce6; margin-bottom: 1.5rem; }
button { font: inherit; padding: .5rem 1rem; border-radius: .4rem; border: 1px solid #1d4ed8; background: #1d4ed8; color: white; cursor: pointer; }
button.secondary { background: white; color: #1d4ed8; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eceff5; }
.notice { padding: .75rem 1rem; border-radius: .4rem; background: #fff7e6; border: 1px solid #f5c46b; }
code { font-size: .9em; }
</style>
</head>
<body>
<header><h1>${escapeHtml(appName)}</h1><span>partner app example</span></header>
<main>
${body}
</main>
</body>
</html>`;
}

function form(action: string, csrfToken: string, label: string, secondary = false): string {
  return `<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}"><button type="submit"${secondary ? ' class="secondary"' : ''}>${escapeHtml(label)}</button></form>`;
}

/**
 * The button that leads to the confirmation before Disconnect or Forget (`disconnectConfirmationPage`): a GET, which
 * changes nothing; the confirmation's own button posts to /disconnect.
 */
function confirmFirst(forget: boolean, label: string): string {
  return `<form method="get" action="/disconnect">${forget ? '<input type="hidden" name="forget" value="yes">' : ''}<button type="submit" class="secondary">${escapeHtml(label)}</button></form>`;
}

export function connectPage(appName: string, csrfToken: string, notice?: string): string {
  return layout(appName, 'Connect', `${notice ? `<p class="notice">${escapeHtml(notice)}</p>` : ''}
<p>Connect ${escapeHtml(appName)} to your Gatehouse company to sync its users and vendors.</p>
${form('/connect', csrfToken, 'Connect with Gatehouse')}`);
}

/** The connection has ended or cannot be used: Reconnect, or Forget it (after a confirmation). No raw subject URN: the user's words only. */
export function reconnectPage(appName: string, csrfToken: string, reason: string | null): string {
  return layout(appName, 'Reconnect', `<p class="notice">The connection to your Gatehouse company has ended${reason ? ` (${escapeHtml(reason)})` : ''}. Connect again to keep syncing.</p>
${form('/connect', csrfToken, 'Reconnect with Gatehouse')}
${confirmFirst(true, 'Forget this connection…')}`);
}

/**
 * The confirmation before Disconnect (the dashboard) or Forget this connection (the Reconnect page): says what will
 * happen; its button posts to /disconnect, Cancel goes back home.
 */
export function disconnectConfirmationPage(appName: string, csrfToken: string, forget: boolean): string {
  const title = forget ? 'Forget this connection?' : 'Disconnect from Gatehouse?';
  const consequence = forget
    ? `${appName} deletes the connection it keeps to your Gatehouse company and stops syncing. It revokes its access at Gatehouse if it still can; if not, the next page says where to end it at Gatehouse.`
    : `${appName} revokes its access at Gatehouse, stops syncing your company's data and forgets the connection.`;
  return layout(appName, title, `<h2>${escapeHtml(title)}</h2>
<p>${escapeHtml(consequence)} You can connect again at any time.</p>
${form('/disconnect', csrfToken, forget ? 'Forget this connection' : 'Disconnect')}
<p><a href="/">Cancel</a></p>`);
}

/**
 * After "Forget this connection" for a connection whose stored tokens could not be decrypted: it is forgotten here,
 * but nothing could be sent to revoke its grant, so the user is told where to end it at Gatehouse.
 */
export function forgottenNotRevokedPage(appName: string, csrfToken: string, connectedAppsUrl: string): string {
  return layout(appName, 'Connection forgotten', `<h2>Connection forgotten</h2>
<p>${escapeHtml(appName)} no longer keeps the connection to your Gatehouse company. Its stored tokens could no longer be read here,
so ${escapeHtml(appName)} could not revoke its access at Gatehouse: Gatehouse may still show ${escapeHtml(appName)} as connected.</p>
<p>To end that access, sign in to Gatehouse and disconnect ${escapeHtml(appName)} on <a href="${escapeHtml(connectedAppsUrl)}">your connected apps page</a>.</p>
${form('/connect', csrfToken, 'Connect with Gatehouse')}`);
}

export interface DashboardData {
  subjectUrn: string;
  scope: readonly string[];
  companies: Company[];
  users: User[] | undefined;
  vendors: Vendor[] | undefined;
}

export function dashboardPage(appName: string, data: DashboardData): string {
  const company = data.companies[0];
  const table = <Row>(caption: string, rows: Row[] | undefined, columns: [string, (row: Row) => string][]) => rows === undefined ? '' : `
<h3>${escapeHtml(caption)}</h3>
<table><thead><tr>${columns.map(([name]) => `<th>${escapeHtml(name)}</th>`).join('')}</tr></thead>
<tbody>${rows.map((row) => `<tr>${columns.map(([, value]) => `<td>${escapeHtml(value(row))}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  return layout(appName, 'Connected', `<h2>Connected to <span data-testid="company-name">${escapeHtml(company?.name ?? data.subjectUrn)}</span></h2>
<p>Subject <code data-testid="subject-urn">${escapeHtml(data.subjectUrn)}</code>${company ? ` · ${escapeHtml(company.countryCode)} · ${escapeHtml(company.currency)}` : ''}</p>
<p>Granted scopes: <code data-testid="scope">${escapeHtml(data.scope.join(' '))}</code></p>
${data.companies.length > 1 ? table('Companies', data.companies, [['Name', (row) => row.name], ['Country', (row) => row.countryCode]]) : ''}
${table('Users', data.users, [['Name', (row) => row.name], ['E-mail', (row) => row.email], ['Role', (row) => row.role]])}
${table('Vendors', data.vendors, [['Name', (row) => row.name], ['Country', (row) => row.countryCode]])}
${confirmFirst(false, 'Disconnect…')}`);
}

/** Where an error page leads besides its default (`errorPage`). */
export interface ErrorPageOnward {
  /** A form posted with the session's CSRF token instead of Connect (e.g. Disconnect again). */
  retry?: { action: string; label: string };
  /** A link beside it (e.g. Gatehouse's connected apps page). */
  link?: { href: string; label: string };
}

/**
 * An error with a way onward: with `csrfToken`, a button (Connect, or `onward.retry`) and a link home; without, a link
 * home. `onward.link` adds a link (a page at Gatehouse where the user can finish what this app could not).
 */
export function errorPage(appName: string, title: string, message: string, csrfToken?: string, onward: ErrorPageOnward = {}): string {
  const button = csrfToken ? form(onward.retry?.action ?? '/connect', csrfToken, onward.retry?.label ?? 'Try again') : '';
  const link = onward.link ? `<p><a href="${escapeHtml(onward.link.href)}">${escapeHtml(onward.link.label)}</a></p>` : '';
  return layout(appName, title, `<h2>${escapeHtml(title)}</h2><p>${escapeHtml(message)}</p>${link}${button}${csrfToken && !onward.retry ? '' : '<p><a href="/">Back</a></p>'}`);
}
