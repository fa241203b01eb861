/**
 * The stores written once for both databases (issue 12), composed once: both storages spread this into
 * their `Storage` beside their own: clients and the resource catalogue (each wrapped in its cache, kept
 * fresh per backend) and the rate-limit counters (SQLite may keep them in memory).
 */
import type { SqlDriver } from '../sql/driver.ts';
import type { Storage } from '../storage.ts';
import { createAdminCredentialStore } from './admin-credentials.ts';
import { createApiKeyStore } from './api-keys.ts';
import { createAuditStore } from './audit.ts';
import { createAuthorizationCodeStore } from './authorization-codes.ts';
import { createBrandingReviewStore } from './branding-reviews.ts';
import { createCleanupStore } from './cleanup.ts';
import { createClientLogoStore } from './client-logos.ts';
import { createConsoleAdministratorStore } from './console-administrators.ts';
import { createDeveloperStore } from './developers.ts';
import { createDirectoryStore } from './directory.ts';
import { createDpopProofStore } from './dpop-proofs.ts';
import { createGrantStore } from './grants.ts';
import { createKnownDeviceStore } from './known-devices.ts';
import { createLocalAccountStore } from './local-accounts.ts';
import { createLoginSessionStore } from './login-sessions.ts';
import { createLoginThrottleStore } from './login-throttle.ts';
import { createPartnerTeamInvitationStore } from './partner-team-invitations.ts';
import { createPartnerTeamStore } from './partner-teams.ts';
import { createSettingStore } from './settings.ts';
import { createInteractionStore, createPushedRequestStore } from './single-use.ts';
import { createSubjectStore } from './subjects.ts';
import { createTokenStore, type TokenStoreDependencies } from './tokens.ts';
import { createUserIdentityStore } from './user-identities.ts';
import { createUserStore } from './users.ts';
import { createWebhookStore } from './webhooks.ts';

export type SharedStores = Pick<Storage,
  | 'clientLogos' | 'adminCredentials' | 'developers' | 'users' | 'subjects' | 'loginSessions' | 'knownDevices' | 'audit'
  | 'interactions' | 'pushedRequests' | 'directory' | 'localAccounts' | 'apiKeys' | 'partnerTeams' | 'partnerTeamInvitations' | 'settings'
  | 'userIdentities' | 'webhooks' | 'brandingReviews' | 'consoleAdministrators' | 'dpopProofs' | 'loginThrottle'
  | 'authorizationCodes' | 'grants' | 'tokens' | 'cleanup'>;

/** What the shared stores take from the backend's own stores: the cached client lookup (tokens.ts). */
export type SharedStoreDependencies = TokenStoreDependencies;

export function createSharedStores(driver: SqlDriver, dependencies: SharedStoreDependencies): SharedStores {
  return {
    clientLogos: createClientLogoStore(driver),
    adminCredentials: createAdminCredentialStore(driver),
    developers: createDeveloperStore(driver),
    users: createUserStore(driver),
    subjects: createSubjectStore(driver),
    loginSessions: createLoginSessionStore(driver),
    knownDevices: createKnownDeviceStore(driver),
    audit: createAuditStore(driver),
    interactions: createInteractionStore(driver),
    pushedRequests: createPushedRequestStore(driver),
    directory: createDirectoryStore(driver),
    localAccounts: createLocalAccountStore(driver),
    apiKeys: createApiKeyStore(driver),
    partnerTeams: createPartnerTeamStore(driver),
    partnerTeamInvitations: createPartnerTeamInvitationStore(driver),
    settings: createSettingStore(driver),
    userIdentities: createUserIdentityStore(driver),
    webhooks: createWebhookStore(driver),
    brandingReviews: createBrandingReviewStore(driver),
    consoleAdministrators: createConsoleAdministratorStore(driver),
    dpopProofs: createDpopProofStore(driver),
    loginThrottle: createLoginThrottleStore(driver),
    authorizationCodes: createAuthorizationCodeStore(driver),
    grants: createGrantStore(driver),
    tokens: createTokenStore(driver, dependencies),
    cleanup: createCleanupStore(driver),
  };
}
