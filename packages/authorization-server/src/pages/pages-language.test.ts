/**
 * Issue 13 "Languages": every translated page, rendered in German, carries no English of its own. The
 * visible text and the accessible names (aria-label, alt, placeholder) are checked against a sample of
 * English words; the fixtures use names that are no English words, so whatever English is found came from
 * a template. The developer portal is not translated yet and is not checked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { translator } from '../i18n/i18n.ts';
import type { ClientRecord } from '../storage/storage.ts';
import { accountMessagePage, accountPage, connectedAppsPage, disconnectConfirmationPage, homePage, marketplacePage } from './account-pages.ts';
import { consentPage } from './consent-page.ts';
import { auditLogPage, clientSearchPage, consoleConfirmationPage, grantSearchPage, reviewQueuePage } from './console-pages.ts';
import { errorPage } from './error-page.ts';
import { enrolmentPage, forgotPasswordPage, passwordSetPage, recoveryCodesPage, secondFactorPage, securityPage, setPasswordPage } from './local-account-pages.ts';
import { loginPage, upstreamSignInErrorPage } from './login-page.ts';
import { noSubjectPage } from './no-subject-page.ts';
import { confirmEndSessionsPage, sessionsPage, signedOutPage } from './session-pages.ts';

const ENGLISH_WORDS = ['the', 'your', 'you', 'and', 'with', 'this', 'will', 'not', 'can', 'Sign', 'Log', 'Cancel', 'Continue', 'Connect', 'Connected',
  'Password', 'Session', 'Sessions', 'Language', 'Home', 'Account', 'Allow', 'Deny', 'Settings', 'Disconnect', 'Marketplace', 'Search',
  'Revoke', 'Approve', 'Delete', 'Review', 'Company', 'Organization', 'Email', 'Recovery', 'code', 'Security', 'never', 'Reference', 'logo'];

/** The words a reader (or a screen reader) meets: text outside tags, plus aria-label, alt and placeholder values. */
function readableWords(page: string): string[] {
  const names = [...page.matchAll(/(?:aria-label|alt|placeholder)="([^"]*)"/g)].map((match) => match[1]);
  const text = page.replace(/<style[\s\S]*?<\/style>|<code[\s\S]*?<\/code>|<option[^>]*>/g, ' ').replace(/<[^>]*>/g, ' ');
  return `${text} ${names.join(' ')}`.replace(/&[a-z#0-9]+;/g, ' ').split(/[^A-Za-zÀ-ÿ]+/).filter(Boolean);
}

const t = translator('de', '/somewhere');
const brandName = 'Gatehouse';
const signedIn = { userName: 'Ylva Øst', csrfToken: 'csrf' };
const frame = { brandName, csrfToken: 'csrf', userName: 'Ylva Øst', t };
const at = Date.UTC(2027, 0, 15, 8, 0) / 1000;
const client = {
  clientId: '7af385a0-284d-48c5-b225-362862085551', clientName: 'Kvist Bogføring', status: 'pending', brandingVerified: false,
  redirectUris: ['https://kvist.example/cb'], createdAt: at,
} as unknown as ClientRecord;

const pages: Record<string, string> = {
  consent: consentPage({
    t, brandName, csrfToken: 'csrf', userName: 'Ylva Øst', interactionId: 'i', redirectHost: 'kvist.example', subjectType: 'company',
    client: { clientName: 'Kvist', logoUri: '/logos/x', clientUri: 'https://kvist.example', tosUri: 'https://kvist.example/t', policyUri: 'https://kvist.example/p', brandingVerified: false },
    scopes: [{ name: 'users:read', description: t.scope('users:read') }], subjects: [{ urn: 'urn:x', name: 'Nordlys', selected: true }],
  }),
  login: loginPage({ t, brandName, csrfToken: 'csrf', returnTo: '/portal', clientName: 'Kvist', error: t.t('login.incorrect'), upstreamName: 'Fjell ID' }),
  upstreamError: upstreamSignInErrorPage(brandName, t.t('upstream.expiredTitle'), t.t('upstream.expired'), '/login/upstream', t),
  upstreamErrorNoRestart: upstreamSignInErrorPage(brandName, t.t('upstream.expiredTitle'), t.t('upstream.expired'), undefined, t),
  error: errorPage(brandName, t.t('error.cannotConnect'), t.t('error.unknownClient'), { t, reference: 'req-1', detail: { label: t.t('error.redirectUriLabel'), value: 'https://x.example' } }),
  noSubject: noSubjectPage({ t, brandName, csrfToken: 'csrf', userName: 'Ylva', userEmail: 'ylva@kvist.example', clientName: 'Kvist', subjectType: 'organization', backToAppUrl: 'https://kvist.example' }),
  signedOut: signedOutPage(brandName, t),
  sessions: sessionsPage({ ...frame, notice: t.t('sessions.ended'), sessions: [
    { sessionId: 'a', device: '', createdAt: at, lastSeenAt: at, current: true }, { sessionId: 'b', device: 'Firefox', createdAt: at, lastSeenAt: at, current: false }] }),
  endOne: confirmEndSessionsPage({ ...frame, target: { sessionId: 'b', device: '', createdAt: at, lastSeenAt: at, current: false } }),
  endOthers: confirmEndSessionsPage({ ...frame, target: { others: 2 } }),
  connectedApps: connectedAppsPage({ ...frame, disconnected: { clientName: 'Kvist', subjectName: 'Nordlys' }, apps: [
    { grantId: 'g', clientName: 'Kvist', logoUri: '/logos/x', subjectName: 'Nordlys', subjectUrn: 'urn:x', scopes: [{ name: 'users:read', description: t.scope('users:read') }],
      connectedAt: at, lastUsedAt: null, connectedBy: t.t('account.you'), mayDisconnect: true, hasSettings: true },
    { grantId: 'h', clientName: 'Kvist', logoUri: null, subjectName: 'Nordlys', subjectUrn: 'urn:x', scopes: [], connectedAt: at, lastUsedAt: at, connectedBy: 'Åse', mayDisconnect: false, hasSettings: false }] }),
  noConnectedApps: connectedAppsPage({ ...frame, apps: [] }),
  marketplace: marketplacePage({ ...frame, apps: [
    { clientId: 'c', clientName: 'Kvist', logoUri: '/logos/x', clientUri: 'https://kvist.example', tosUri: 'https://kvist.example/t', policyUri: 'https://kvist.example/p',
      scopes: [{ name: 'users:read', description: t.scope('users:read') }], subjectType: 'company', subjects: [{ urn: 'urn:x', name: 'Nordlys' }] },
    { clientId: 'd', clientName: 'Kvist', logoUri: null, clientUri: null, tosUri: null, policyUri: null, scopes: [], subjectType: 'organization', subjects: [] }] }),
  emptyMarketplace: marketplacePage({ ...frame, apps: [] }),
  accountMessage: accountMessagePage(frame, t.t('account.noSuchAppTitle'), t.t('account.noSuchApp')),
  disconnect: disconnectConfirmationPage({ ...frame, grantId: 'g', clientName: 'Kvist', subjectName: 'Nordlys', scopes: [t.scope('users:read')] }),
  home: homePage({ ...frame, isDeveloper: true }),
  account: accountPage({ ...frame, email: 'ylva@kvist.example', administered: [{ name: 'Nordlys', kind: 'company' }, { name: 'Fjell', kind: 'organization' }], isDeveloper: true }),
  accountNothing: accountPage({ ...frame, email: 'ylva@kvist.example', administered: [], isDeveloper: false }),
  setPassword: setPasswordPage({ t, brandName, csrfToken: 'csrf', token: 'tok', email: 'ylva@kvist.example', passwordError: t.t('local.passwordCommon'), confirmationError: t.t('local.passwordsDiffer') }),
  passwordSet: passwordSetPage(brandName, t),
  forgot: forgotPasswordPage({ t, brandName, csrfToken: 'csrf', sent: true, error: t.t('local.typeEmail') }),
  secondFactor: secondFactorPage({ t, brandName, csrfToken: 'csrf', error: t.t('local.codeWrong') }),
  enrolment: enrolmentPage({ t, brandName, csrfToken: 'csrf', action: '/x', otpauthUri: 'otpauth://totp/x', groupedSecret: 'ABCD EFGH', reason: t.t('local.mandatory'), signedIn }),
  recoveryCodes: recoveryCodesPage(brandName, ['abcd-efgh'], '/x', signedIn, t),
  securityOn: securityPage({ t, brandName, csrfToken: 'csrf', enrolled: true, recoveryCodesLeft: 3, notice: t.t('local.turnedOff'), signedIn }),
  securityOff: securityPage({ t, brandName, csrfToken: 'csrf', enrolled: false, recoveryCodesLeft: 0, signedIn }),
  reviewQueue: reviewQueuePage({ ...frame, clients: [client], notice: t.t('console.done', { action: 'approve' }) }),
  clientSearch: clientSearchPage({ ...frame, query: 'kvist', clients: [client] }),
  grants: grantSearchPage({ ...frame, user: '', company: '', client: '', error: t.t('console.clientIdUuid'),
    grants: [{ grantId: 'g', clientName: 'Kvist', subjectName: 'Nordlys', userName: 'Åse', scopes: ['users:read'], createdAt: '2027-01-15T08:00:00.000Z' }] }),
  noGrants: grantSearchPage({ ...frame, user: '', company: '', client: '', grants: undefined }),
  consoleConfirm: consoleConfirmationPage({ ...frame, title: t.t('console.revokeTitle', { client: 'Kvist', subject: 'Nordlys' }),
    consequences: [t.t('console.revokeRestore')], action: '/x', confirmLabel: t.t('console.revoke'), cancelHref: '/admin' }),
  audit: auditLogPage({ ...frame, type: '', client: '', rows: [], olderUrl: '/admin/audit?before=1', exportQuery: '' }),
};

describe('translated pages in German keep no English of their own (issue 13)', () => {
  for (const [name, page] of Object.entries(pages)) {
    it(`${name}`, () => {
      assert.match(page, /<html lang="de">/);
      const words = new Set(readableWords(page));
      assert.deepEqual(ENGLISH_WORDS.filter((word) => words.has(word)), [], `${name}: English words on the German page`);
    });
  }
});
