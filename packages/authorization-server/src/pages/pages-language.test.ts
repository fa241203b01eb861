/**
 * Issue 13 "Languages": every translated page, rendered in German, carries no English of its own. The
 * visible text and the accessible names (aria-label, alt, placeholder) are checked against a sample of
 * English words; the fixtures use names that are no English words, so whatever English is found came from
 * a template. The developer portal's pages (clients, registration, activity, webhooks, team) are checked too. Issue 13: the API-key pages
 * (user side and console) and the marketplace's search, categories and Connected state are checked too.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { translator } from '../i18n/i18n.ts';
import type { ClientRecord, PartnerTeamInvitationRecord } from '../storage/storage.ts';
import { accountMessagePage, accountPage, connectedAppsPage, disconnectConfirmationPage, homePage, marketplacePage } from './account-pages.ts';
import { consentPage } from './consent-page.ts';
import { auditLogPage, clientSearchPage, consoleConfirmationPage, consoleNotAdministratorPage, grantSearchPage, reviewQueuePage } from './console-pages.ts';
import { errorPage } from './error-page.ts';
import { enrolmentPage, forgotPasswordPage, passwordSetPage, recoveryCodesPage, secondFactorPage, securityPage, setPasswordPage } from './local-account-pages.ts';
import { loginPage, upstreamSignInErrorPage } from './login-page.ts';
import { noSubjectPage } from './no-subject-page.ts';
import { confirmEndSessionsPage, sessionsPage, signedOutPage } from './session-pages.ts';
import { activityPage, clientFormValues, clientPage, EMPTY_CLIENT_FORM, portalConfirmationPage, portalHomePage, portalMessagePage, registrationPage } from './portal-pages.ts';
import {
  declineInvitationConfirmationPage, invitationMessagePage, invitationsPage, removeMemberConfirmationPage, revokeInvitationConfirmationPage, teamPage,
} from './portal-team-pages.ts';
import { webhookConfirmationPage, webhookPage } from './webhook-pages.ts';
import { tryFlowPage, tryFlowResultPage } from './portal-try-flow-pages.ts';
import { refusalInWords } from '../i18n/registration-refusals.ts';
import {
  apiKeyConfirmationPage, apiKeyMessagePage, apiKeyShownPage, apiKeysPage, integratedKeysSection, integratedOnward, integrationsSection, newApiKeyPage,
  permissionsDialogPage, standaloneOnward,
} from './api-key-pages.ts';
import { consoleApiKeysPage } from './console-api-key-pages.ts';

const ENGLISH_WORDS = ['the', 'your', 'you', 'and', 'with', 'this', 'will', 'not', 'can', 'Sign', 'Log', 'Cancel', 'Continue', 'Connect', 'Connected',
  'Password', 'Session', 'Sessions', 'Language', 'Home', 'Account', 'Allow', 'Deny', 'Settings', 'Disconnect', 'Marketplace', 'Search',
  'Revoke', 'Approve', 'Delete', 'Review', 'Company', 'Organization', 'Email', 'Recovery', 'code', 'Security', 'never', 'Reference', 'logo',
  // Issue 13: words of the API-key pages and the marketplace's search.
  'key', 'keys', 'Key', 'Create', 'Copy', 'Copied', 'Expires', 'Expired', 'Permissions', 'access', 'Install', 'Integrations', 'Back', 'Category',
  'categories', 'Payroll', 'match', 'matches', 'Show', 'Manage', 'another', 'Created', 'used', 'Last', 'Actions', 'for', 'Standalone', 'Integrated'];

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

const portalClient = {
  ...client, status: 'active', clientType: 'confidential', secretDigest: 'd', pkceRequired: false, brandingVerified: false, logoUri: '/logos/x', scopes: ['users:read'],
  subjectType: 'company', clientUri: 'https://kvist.example', tosUri: null, policyUri: null, initiationUri: null, settingsUri: null, contacts: ['dev@kvist.example'],
} as unknown as ClientRecord;
const portalScopes = [{ name: 'users:read', description: 'See users and employees' }];
const endpoints = {
  issuer: 'https://kvist.example', metadataUrl: 'https://kvist.example/.well-known/oauth-authorization-server', authorizationEndpoint: 'https://kvist.example/oauth/authorize',
  tokenEndpoint: 'https://kvist.example/oauth/token', revocationEndpoint: 'https://kvist.example/oauth/revoke', introspectionEndpoint: 'https://kvist.example/oauth/token/introspect',
};

const invitation: PartnerTeamInvitationRecord = {
  invitationId: '5b0e7c6e-4f7e-4d7e-9d3e-2f0c1a9b8c7d', teamId: 't', userId: 'u3', email: 'jonas@kvist.example', name: 'Jonas', role: 'member', invitedBy: 'u1',
  createdAt: at, expiresAt: at + 7 * 86400, status: 'pending', resolvedAt: null,
};

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
  // Issue 13: description, category, search with its result count, Connected with "Connect another company", all connected.
  marketplaceSearched: marketplacePage({ ...frame, search: 'kvist', category: 'payroll', filtered: true, apps: [
    { clientId: 'c', clientName: 'Kvist', logoUri: null, clientUri: null, tosUri: null, policyUri: null, scopes: [], subjectType: 'company',
      description: 'Lønn til nordiske team', category: 'payroll', connectedTo: ['Nordlys'], subjects: [{ urn: 'urn:y', name: 'Fjell' }] },
    { clientId: 'd', clientName: 'Kvist', logoUri: null, clientUri: null, tosUri: null, policyUri: null, scopes: [], subjectType: 'organization',
      description: null, category: 'e-commerce', connectedTo: ['Nordlys', 'Fjell'], subjects: [] }],
  apiKeySection: integrationsSection({ t, csrfToken: 'csrf', integrations: [
    { clientId: 'e', clientName: 'Kvist', scopes: [t.scope('users:read')], companies: [{ urn: 'urn:x', name: 'Nordlys' }] },
    { clientId: 'f', clientName: 'Kvist', scopes: [], companies: [] }] }) }),
  marketplaceNoMatch: marketplacePage({ ...frame, search: 'zzz', category: '', filtered: true, apps: [] }),
  // Issue 13: the API-key pages (issue 16) in German.
  apiKeys: apiKeysPage({ ...frame, canCreate: true, deletedName: 'Skript', keys: [
    { keyId: 'k', name: 'Skript', displayPrefix: 'gh_ab', subjectName: 'Nordlys', subjectType: 'company', scopes: [t.scope('users:read')], createdAt: at,
      createdBy: t.t('account.you'), expiresAt: at, expired: false, lastUsedAt: null, mayDelete: true },
    { keyId: 'l', name: 'Skript', displayPrefix: 'gh_cd', subjectName: 'Fjell', subjectType: 'organization', scopes: [], createdAt: at,
      createdBy: 'Åse', expiresAt: at, expired: true, lastUsedAt: at, mayDelete: false },
    { keyId: 'm', name: 'Skript', displayPrefix: 'gh_ef', subjectName: 'Fjell', subjectType: 'organization', scopes: [], createdAt: at,
      createdBy: t.t('account.formerUser'), expiresAt: null, expired: false, lastUsedAt: at, mayDelete: false }] }),
  noApiKeys: apiKeysPage({ ...frame, canCreate: false, keys: [] }),
  newApiKey: newApiKeyPage({ ...frame, subjects: [{ urn: 'urn:x', name: 'Nordlys', subjectType: 'company' }, { urn: 'urn:y', name: 'Fjell', subjectType: 'organization' }],
    scopes: [{ name: 'users:read', description: t.scope('users:read') }], values: { name: '', subject: 'urn:x', expiration: '7776000', scope: [] },
    errors: { name: 'name_required', scopes: 'scopes_required', expiration: 'expiration_invalid', subject: 'subject_invalid' } }),
  apiKeyShown: apiKeyShownPage({ ...frame, title: t.t('apiKeys.shownTitle'), intro: 'Skript · Nordlys', value: 'gh_secretvalue', onward: standaloneOnward(t) }),
  integratedKeyShown: apiKeyShownPage({ ...frame, title: t.t('apiKeys.integratedShownTitle', { app: 'Kvist' }), intro: 'Nordlys', value: 'gh_secretvalue',
    onward: integratedOnward('Kvist', 'https://kvist.example', t) }),
  deleteApiKey: apiKeyConfirmationPage({ ...frame, title: t.t('apiKeys.deleteTitle', { name: 'Skript' }), warning: t.t('apiKeys.deleteWarning', { subject: 'Nordlys' }),
    action: '/x', confirmLabel: t.t('apiKeys.deleteConfirm'), cancelHref: '/account/api-keys' }),
  revokeIntegratedKey: apiKeyConfirmationPage({ ...frame, title: t.t('apiKeys.revokeTitle', { app: 'Kvist', subject: 'Nordlys' }),
    warning: t.t('apiKeys.revokeWarning', { app: 'Kvist', subject: 'Nordlys' }), action: '/x', confirmLabel: t.t('apiKeys.revokeConfirm'), cancelHref: '/account/connected-apps' }),
  permissionsDialog: permissionsDialogPage({ ...frame, clientId: 'e', clientName: 'Kvist', subjectUrn: 'urn:x', subjectName: 'Nordlys', scopes: [t.scope('users:read')], replaces: true }),
  apiKeyMessage: apiKeyMessagePage(frame, t.t('apiKeys.notFoundTitle'), t.t('apiKeys.notAllowed', { subject: 'Nordlys' }), { href: '/account/api-keys', label: t.t('apiKeys.backToKeys') }),
  connectedAppsWithKeys: connectedAppsPage({ ...frame, apps: [], apiKeySection: integratedKeysSection({ t, csrfToken: 'csrf', revoked: { clientName: 'Kvist', subjectName: 'Nordlys' }, keys: [
    { keyId: 'k', clientId: 'e', clientName: 'Kvist', subjectUrn: 'urn:x', subjectName: 'Nordlys', displayPrefix: 'gh_ab', scopes: [t.scope('users:read')], createdAt: at,
      createdBy: t.t('account.you'), lastUsedAt: null, mayChange: true },
    { keyId: 'l', clientId: 'e', clientName: 'Kvist', subjectUrn: 'urn:y', subjectName: 'Fjell', displayPrefix: 'gh_cd', scopes: [], createdAt: at,
      createdBy: 'Åse', lastUsedAt: at, mayChange: false }] }) }),
  consoleApiKeys: consoleApiKeysPage({ ...frame, revokedName: 'Skript', keys: [
    { keyId: 'k', name: 'Skript', kind: t.t('consoleApiKeys.integrated', { client: 'Kvist' }), displayPrefix: 'gh_ab', subjectName: 'Nordlys', scopes: t.scope('users:read'),
      createdAt: t.dateTime(at), expiresAt: null, lastUsedAt: null }] }),
  noConsoleApiKeys: consoleApiKeysPage({ ...frame, keys: [] }),
  consoleRevokeApiKey: consoleConfirmationPage({ ...frame, title: t.t('consoleApiKeys.revokeTitle', { name: 'Skript', subject: 'Nordlys' }),
    consequences: [t.t('consoleApiKeys.revokeRefused', { subject: 'Nordlys' }), t.t('consoleApiKeys.revokeRestore')], action: '/x', confirmLabel: t.t('apiKeys.revokeConfirm'), cancelHref: '/admin/api-keys' }),
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
  enrolmentFromAccount: enrolmentPage({ t, brandName, csrfToken: 'csrf', action: '/x', otpauthUri: 'otpauth://totp/x', groupedSecret: 'ABCD EFGH', signedIn, cancelHref: '/account/security' }),
  recoveryCodes: recoveryCodesPage(brandName, ['abcd-efgh'], '/x', signedIn, t),
  securityOn: securityPage({ t, brandName, csrfToken: 'csrf', enrolled: true, recoveryCodesLeft: 3, notice: t.t('local.turnedOff'), signedIn }),
  securityOff: securityPage({ t, brandName, csrfToken: 'csrf', enrolled: false, recoveryCodesLeft: 0, signedIn }),
  consoleNotAdministrator: consoleNotAdministratorPage(frame),
  reviewQueue: reviewQueuePage({ ...frame, clients: [client], notice: t.t('console.done', { action: 'approve' }) }),
  clientSearch: clientSearchPage({ ...frame, query: 'kvist', clients: [client] }),
  grants: grantSearchPage({ ...frame, user: '', company: '', client: '', error: t.t('console.clientIdUuid'),
    grants: [{ grantId: 'g', clientName: 'Kvist', subjectName: 'Nordlys', userName: 'Åse', scopes: ['users:read'], createdAt: '2027-01-15T08:00:00.000Z' }] }),
  noGrants: grantSearchPage({ ...frame, user: '', company: '', client: '', grants: undefined }),
  consoleConfirm: consoleConfirmationPage({ ...frame, title: t.t('console.revokeTitle', { client: 'Kvist', subject: 'Nordlys' }),
    consequences: [t.t('console.revokeRestore')], action: '/x', confirmLabel: t.t('console.revoke'), cancelHref: '/admin' }),
  audit: auditLogPage({ ...frame, type: '', client: '', rows: [], olderUrl: '/admin/audit?before=1', exportQuery: '' }),
  // The developer portal (issue 13).
  portalHome: portalHomePage({ ...frame, clients: [client], approvalRequired: true }),
  portalHomeEmpty: portalHomePage({ ...frame, clients: [], approvalRequired: false }),
  portalRegistration: registrationPage({ ...frame, values: { ...EMPTY_CLIENT_FORM, client_name: 'Kvist' }, scopes: portalScopes, errors: {
    client_name: refusalInWords(t, 'must not use Gatehouse branding'), redirect_uris: refusalInWords(t, 'http://kvist.example/cb must use https (http is allowed only for localhost, 127.0.0.1 or [::1])'),
    scope: refusalInWords(t, 'at least one scope is required'), contacts: refusalInWords(t, 'nej is not an e-mail address'), logo: t.t('portal.logoAgain'),
  } }),
  portalClient: clientPage({ ...frame, client: portalClient, values: clientFormValues(portalClient), scopes: portalScopes, endpoints, newSecret: 'x'.repeat(43),
    errors: { logo: refusalInWords(t, 'must be square (1:1), got 300×200') } }),
  portalPublicClient: clientPage({ ...frame, client: { ...portalClient, clientType: 'public', secretDigest: null, pkceRequired: true, logoUri: null }, values: clientFormValues(portalClient), scopes: portalScopes, endpoints,
    error: refusalInWords(t, 'a public client cannot have a PKCE exception') }),
  portalDeleteConfirm: portalConfirmationPage({ ...frame, cancelHref: `/portal/clients/${portalClient.clientId}`, title: t.t('portal.deleteTitle', { client: 'Kvist' }),
    consequences: [t.t('portal.deleteStops', { clientId: portalClient.clientId }), t.t('portal.deleteRevokes', { count: 2 }), t.t('portal.cannotUndo')],
    action: '/x', confirmLabel: t.t('portal.deleteConfirm'), hidden: {} }),
  portalRotateConfirm: portalConfirmationPage({ ...frame, cancelHref: `/portal/clients/${portalClient.clientId}`, title: t.t('portal.rotateTitle', { client: 'Kvist' }),
    consequences: [t.t('portal.rotateKeepsWorkingFor', { duration: t.t('portal.overlapHours', { count: 1 }) }), t.t('portal.rotateRevokes', { count: 1, client: 'Kvist' }), t.t('portal.rotateShownOnce')],
    action: '/x', confirmLabel: t.t('portal.rotateConfirm'), hidden: { revoke_grants: 'yes' } }),
  portalActivity: activityPage({ ...frame, client: portalClient, selected: '', olderUrl: '/x', filters: [{ value: '', label: t.t('activity.filterAll') }, { value: 'reuse', label: t.t('activity.filterReuse') }],
    entries: [{ eventId: 1, at: '2027-01-15T08:00:00.000Z', atSeconds: at, label: t.t('activity.reuseDetected'), details: [{ name: t.t('activity.detailReason'), value: t.t('activity.reasonSecretRotated') }] }] }),
  portalActivityEmpty: activityPage({ ...frame, client: portalClient, selected: '', filters: [], entries: [] }),
  portalMessage: portalMessagePage(frame, t.t('portal.noSuchClientTitle'), t.t('portal.noSuchClient')),
  webhook: webhookPage({ ...frame, client: portalClient, values: { url: 'https://kvist.example/hooks', eventTypes: ['grant.revoked'] }, newSecret: 'whsec_x',
    errors: { url: refusalInWords(t, 'url must use https (http only for localhost, 127.0.0.1 or [::1] on a development server)') }, notice: t.t('webhook.saved'),
    endpoint: { url: 'https://kvist.example/hooks', eventTypes: null, createdAt: at },
    deliveries: [{ deliveryId: 'msg_1', clientId: portalClient.clientId, eventType: 'grant.revoked', payload: '{}', createdAt: at, attempts: 2, nextAttemptAt: at, lastAttemptAt: at, lastStatus: 0, deliveredAt: null }] }),
  webhookEmpty: webhookPage({ ...frame, client: portalClient, values: { url: '', eventTypes: [] }, deliveries: [], error: t.t('webhook.notSet') }),
  webhookPrivateTargetsAllowed: webhookPage({ ...frame, client: portalClient, values: { url: '', eventTypes: [] }, deliveries: [], privateTargetsAllowed: true }),
  webhookRotate: webhookConfirmationPage({ ...frame, client: portalClient, kind: 'rotate' }),
  webhookRemove: webhookConfirmationPage({ ...frame, client: portalClient, kind: 'remove' }),
  team: teamPage({ ...frame, currentUserId: 'u1', isOwner: true, clientCount: 2, values: { name: 'Åse', email: 'nej', role: 'owner' }, notice: t.t('team.removed'),
    invitations: [invitation],
    errors: { email: t.t('team.emailInvalid') }, members: [
      { teamId: 't', userId: 'u1', role: 'owner', addedAt: at, name: 'Ylva Øst', email: 'ylva@kvist.example' },
      { teamId: 't', userId: 'u2', role: 'member', addedAt: at, name: 'Åse', email: 'aase@kvist.example' }] }),
  teamMember: teamPage({ ...frame, currentUserId: 'u2', isOwner: false, clientCount: 0, values: { name: '', email: '', role: 'member' }, invitations: [invitation],
    members: [{ teamId: 't', userId: 'u2', role: 'member', addedAt: at, name: 'Åse', email: 'aase@kvist.example' }] }),
  teamRevokeInvitation: revokeInvitationConfirmationPage({ ...frame, invitation }),
  invitations: invitationsPage({ ...frame, email: 'aase@kvist.example', notice: t.t('invitation.declined'),
    invitations: [{ invitation: { ...invitation, inviterName: 'Ylva Øst', inviterEmail: 'ylva@kvist.example' }, owners: ['Ylva Øst', 'Åse'], clients: [] }] }),
  invitationsNone: invitationsPage({ ...frame, email: 'aase@kvist.example', invitations: [] }),
  invitationDecline: declineInvitationConfirmationPage({ ...frame, invitation: { ...invitation, inviterName: 'Ylva Øst', inviterEmail: 'ylva@kvist.example' } }),
  invitationClosed: invitationMessagePage(frame, t.t('invitation.closedTitle', { state: 'expired' }), t.t('invitation.closed', { state: 'expired' }), t.t('invitation.askAgain'),
    { href: '/portal/invitations', label: t.t('invitation.yourInvitations') }),
  teamRemove: removeMemberConfirmationPage({ ...frame, self: false, member: { teamId: 't', userId: 'u2', role: 'member', addedAt: at, name: 'Åse', email: 'aase@kvist.example' } }),
  tryFlow: tryFlowPage({ ...frame, client: portalClient, redirectUri: 'https://kvist.example/cb', authorizationUrl: 'https://kvist.example/oauth/authorize?x=1', lifetimeMinutes: 10 }),
  tryFlowCode: tryFlowResultPage({ ...frame, client: portalClient, pasted: 'https://kvist.example/cb?code=x', lifetimeMinutes: 10, code: 'abc', state: 's', issuerChecked: true,
    exchange: { tokenEndpoint: 'https://kvist.example/oauth/token', redirectUri: 'https://kvist.example/cb', codeVerifier: 'v' } }),
  tryFlowError: tryFlowResultPage({ ...frame, client: portalClient, pasted: 'x', lifetimeMinutes: 10, error: 'access_denied', errorDescription: 'nej', state: 's' }),
  tryFlowRefused: tryFlowResultPage({ ...frame, client: portalClient, pasted: 'x', lifetimeMinutes: 10, problem: t.t('tryFlow.stateUnknown') }),
  teamRemoveSelf: removeMemberConfirmationPage({ ...frame, self: true, member: { teamId: 't', userId: 'u1', role: 'owner', addedAt: at, name: 'Ylva', email: 'ylva@kvist.example' } }),
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
