/**
 * The storage contract suite (STYLE.md, after lucia v3: one shared suite every database adapter must pass),
 * one suite per store in this folder (issue 12). A backend's test file calls
 * `runStorageContract('<name>', () => create<Backend>Storage(...))`; each test gets a fresh, empty storage
 * and closes it. A store's suite runs on its own too: `clientsContract(contractBackend('sqlite', create))`.
 */
import { describe } from 'node:test';
import { adminCredentialsContract } from './admin-credentials.ts';
import { apiKeysContract } from './api-keys.ts';
import { auditContract } from './audit.ts';
import { authenticatedClientContract } from './authenticated-client.ts';
import { clientStatusContract } from './client-status.ts';
import { clientScopesContract } from './client-scopes.ts';
import { authorizationCodesContract } from './authorization-codes.ts';
import { brandingReviewsContract } from './branding-reviews.ts';
import { cleanupContract } from './cleanup.ts';
import { clientLogosContract } from './client-logos.ts';
import { clientsContract } from './clients.ts';
import { consoleAdministratorsContract } from './console-administrators.ts';
import { developersContract } from './developers.ts';
import { directoryContract } from './directory.ts';
import { dpopContract } from './dpop.ts';
import { type ContractBackend, contractBackend, type StorageFactory } from './fixtures.ts';
import { grantsContract } from './grants.ts';
import { interactionsContract } from './interactions.ts';
import { knownDevicesContract } from './known-devices.ts';
import { localAccountsContract } from './local-accounts.ts';
import { loginSessionsContract } from './login-sessions.ts';
import { loginThrottleContract } from './login-throttle.ts';
import { marketplaceContract } from './marketplace.ts';
import { partnerTeamInvitationsContract } from './partner-team-invitations.ts';
import { partnerTeamsContract } from './partner-teams.ts';
import { pushedRequestsContract } from './pushed-requests.ts';
import { rateLimitsContract } from './rate-limits.ts';
import { readinessContract } from './readiness.ts';
import { resourcesContract } from './resources.ts';
import { settingsContract } from './settings.ts';
import { subjectsContract } from './subjects.ts';
import { tokensContract } from './tokens.ts';
import { userIdentitiesContract } from './user-identities.ts';
import { usersContract } from './users.ts';
import { webhooksContract } from './webhooks.ts';

export { type ContractBackend, contractBackend, type RateLimitCounterPlace, type StorageFactory } from './fixtures.ts';

/** Every store's suite, in the order the report lists them. */
export const storeContracts: readonly ((backend: ContractBackend) => void)[] = [
  clientsContract,
  clientLogosContract,
  adminCredentialsContract,
  developersContract,
  consoleAdministratorsContract,
  marketplaceContract, // issue 13
  usersContract,
  subjectsContract,
  loginSessionsContract,
  knownDevicesContract,
  authorizationCodesContract,
  grantsContract,
  tokensContract,
  authenticatedClientContract, // SPEC decisions 10 and 13: both stores' exchanges and rotations
  clientStatusContract, // SPEC decision 13: suspension and deletion in one transaction
  clientScopesContract, // a client's narrowed scopes leave its grants, tokens and codes
  dpopContract,
  loginThrottleContract,
  rateLimitsContract,
  cleanupContract,
  auditContract,
  directoryContract,
  localAccountsContract,
  userIdentitiesContract,
  partnerTeamsContract,
  partnerTeamInvitationsContract, // issue 13: invitations pending until accepted
  brandingReviewsContract,
  webhooksContract,
  resourcesContract,
  apiKeysContract,
  settingsContract,
  interactionsContract,
  pushedRequestsContract,
  readinessContract,
];

/**
 * Runs every store's suite on one backend, inside one `storage contract: <backendName>` suite.
 * @param createStorage makes a fresh, empty storage; each test closes the one it got.
 * @param options.skip a reason to skip the whole suite (e.g. the database is unreachable), shown in the report.
 * @param options.rateLimitCounters where the storage keeps its rate-limit counters (default `database`;
 *   `shared`: the suite flushes them).
 */
export function runStorageContract(backendName: string, createStorage: StorageFactory, options: { skip?: string | false; rateLimitCounters?: ContractBackend['rateLimitCounters'] } = {}): void {
  const backend = contractBackend(backendName, createStorage, { rateLimitCounters: options.rateLimitCounters });
  describe(`storage contract: ${backendName}`, { skip: options.skip ?? false }, () => {
    for (const suite of storeContracts) suite(backend);
  });
}
