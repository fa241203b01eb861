/**
 * What every suite of the storage contract shares (issue 12, "Split storage-contract.ts"): the backend a
 * suite runs on, and the records it builds by hand.
 *
 * Records are built with `randomUUID()` identifiers and random digests, so the suites depend on nothing but
 * `storage.ts`. Times are whole seconds passed in explicitly (no clock, no sleeps): `NOW` and offsets from it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import type { AuthorizationCodeRecord, ClientRecord, GrantRecord, Storage, SubjectRecord, TokenForCode, TokenRecord, UserRecord } from '../storage.ts';

/** Makes a fresh, empty storage (a new in-memory database, a new PostgreSQL schema). */
export type StorageFactory = () => Promise<Storage> | Storage;

/** The backend a suite runs on. Each suite is a function of it: `clientsContract(backend)`. */
export interface ContractBackend {
  /** The backend's name as the report shows it: `sqlite`, `postgres`. */
  name: string;
  createStorage: StorageFactory;
  /** Wraps one test body: it runs on a fresh storage from `createStorage`, which is always closed afterwards. */
  withStorage(body: (storage: Storage) => Promise<void>): () => Promise<void>;
  /**
   * Where its `rateLimits` counters live: `memory` (SQLite's default: no rows, so none for cleanup),
   * `database` (a write per hit), or `shared` (PostgreSQL's default: counted in memory, written by
   * `rateLimits.flush()`, which the suite calls instead of waiting for the timer).
   */
  rateLimitCounters: RateLimitCounterPlace;
}

export type RateLimitCounterPlace = 'memory' | 'database' | 'shared';

export function contractBackend(name: string, createStorage: StorageFactory, options: { rateLimitCounters?: RateLimitCounterPlace } = {}): ContractBackend {
  return {
    name,
    createStorage,
    rateLimitCounters: options.rateLimitCounters ?? 'database',
    withStorage: (body) => async () => {
      const storage = await createStorage();
      try {
        await body(storage);
      } finally {
        await storage.close();
      }
    },
  };
}

/** Seconds since the epoch (2027-01-15): every suite's "now". */
export const NOW = 1_800_000_000;
export const DAY_SECONDS = 86_400;

/** A stand-in for an HMAC-SHA-256 tag or SHA-256 digest (base64url, 43 characters). */
export const digest = (): string => randomBytes(32).toString('base64url');

/** How many of `values` equal `value` (outcomes of concurrent calls). */
export const count = <T>(values: T[], value: T): number => values.filter((v) => v === value).length;

/** A confidential client with every registration field set (RFC 7591 §2 metadata). */
export function clientRecord(overrides: Partial<ClientRecord> = {}): ClientRecord {
  return {
    clientId: randomUUID(), kind: 'client', clientName: 'Ledgerly Sync', clientType: 'confidential', secretDigest: digest(),
    redirectUris: ['https://ledgerly.example/oauth/callback', 'http://localhost:8080/callback'],
    scopes: ['users:read', 'vendors:write'], subjectType: 'company', pkceRequired: true, status: 'active',
    clientUri: 'https://ledgerly.example', logoUri: 'https://ledgerly.example/logo.png', tosUri: 'https://ledgerly.example/terms',
    policyUri: 'https://ledgerly.example/privacy', audience: null, createdAt: NOW,
    initiationUri: 'https://ledgerly.example/connect', settingsUri: 'https://ledgerly.example/settings',
    contacts: ['dev@ledgerly.example', 'support@ledgerly.example'], ownerUserId: null, previousSecretDigest: null,
    previousSecretExpiresAt: null, brandingVerified: true,
    ...overrides,
  };
}

/** A confidential client with one redirect URI, one scope and none of the optional registration fields. */
export function bareClientRecord(overrides: Partial<ClientRecord> = {}): ClientRecord {
  return clientRecord({
    redirectUris: ['https://ledgerly.example/cb'], scopes: ['users:read'], subjectType: null, clientUri: null, logoUri: null, tosUri: null,
    policyUri: null, initiationUri: null, settingsUri: null, contacts: [],
    ...overrides,
  });
}

export function userRecord(overrides: Partial<UserRecord> = {}): UserRecord {
  const userId = randomUUID();
  return { userId, email: `user-${userId}@example.com`, name: 'Alice Admin', passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA', ...overrides };
}

export function companyRecord(overrides: Partial<SubjectRecord> = {}): SubjectRecord {
  return { subjectType: 'company', subjectId: randomUUID(), name: 'Nordlys Danmark ApS', organizationId: null, ...overrides };
}

/** What every code and grant refers to: a client, a user and a company the user administers. */
export interface Fixture {
  client: ClientRecord;
  user: UserRecord;
  company: SubjectRecord;
}

/** Another company the fixture's user may connect (a distinct subject, so a distinct active grant). */
export async function createCompany(storage: Storage): Promise<SubjectRecord> {
  const company = companyRecord();
  await storage.subjects.create(company);
  return company;
}

/** Stores a client, a user and a company the user administers. */
export async function fixture(storage: Storage): Promise<Fixture> {
  const client = clientRecord();
  const user = userRecord();
  const company = companyRecord();
  await storage.clients.create(client);
  await storage.users.create(user);
  await storage.subjects.create(company);
  await storage.subjects.addAdministrator(user.userId, company.subjectType, company.subjectId);
  return { client, user, company };
}

/** An authorization code for the fixture's client, user and company, with a PKCE challenge, valid 60 s. */
export function codeRecord(f: Fixture, overrides: Partial<AuthorizationCodeRecord> = {}): AuthorizationCodeRecord {
  return {
    codeDigest: digest(), clientId: f.client.clientId, userId: f.user.userId, redirectUri: f.client.redirectUris[0]!,
    scope: ['users:read', 'vendors:write'], subjectType: f.company.subjectType, subjectId: f.company.subjectId,
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', issuedAt: NOW, expiresAt: NOW + 60,
    ...overrides,
  };
}

export function grantRecord(f: Fixture, overrides: Partial<GrantRecord> = {}): GrantRecord {
  return {
    grantId: randomUUID(), clientId: f.client.clientId, userId: f.user.userId, subjectType: f.company.subjectType,
    subjectId: f.company.subjectId, scope: ['users:read', 'vendors:write'], createdAt: NOW, revokedAt: null, revocationReason: null,
    ...overrides,
  };
}

/** An access token (15 min) and a refresh token (60 days) for a grant, as the token endpoint mints them. */
export function tokenPair(grant: GrantRecord, now: number): [access: TokenRecord, refresh: TokenRecord] {
  const base = { grantId: grant.grantId, clientId: grant.clientId, scope: grant.scope, issuedAt: now, rotatedAt: null, revokedAt: null };
  return [
    { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'access', expiresAt: now + 900 },
    { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'refresh', expiresAt: now + 60 * DAY_SECONDS },
  ];
}

/** A pair as the token endpoint mints it before its grant is read (`exchangeReadyCode`, `rotateReadyRefreshToken`). */
export function mintedPair(now: number): [access: TokenForCode, refresh: TokenForCode] {
  return [
    { tokenDigest: digest(), tokenId: randomUUID(), kind: 'access', expiresAt: now + 900 },
    { tokenDigest: digest(), tokenId: randomUUID(), kind: 'refresh', expiresAt: now + 60 * DAY_SECONDS },
  ];
}

/** Stores a code, consumes it and issues a grant for it, as the authorization_code grant does. */
export async function issueGrant(storage: Storage, f: Fixture, now = NOW, grantOverrides: Partial<GrantRecord> = {}) {
  const code = codeRecord(f, { issuedAt: now, expiresAt: now + 60, subjectType: grantOverrides.subjectType ?? f.company.subjectType, subjectId: grantOverrides.subjectId ?? f.company.subjectId });
  await storage.authorizationCodes.create(code);
  assert.equal((await storage.authorizationCodes.consume(code.codeDigest, now)).outcome, 'consumed');
  const grant = grantRecord(f, { createdAt: now, ...grantOverrides });
  const [access, refresh] = tokenPair(grant, now);
  assert.equal(await storage.grants.issueForCode(code.codeDigest, grant, [access, refresh]), 'issued');
  return { code, grant, access, refresh };
}

/** Issues a grant at `times[0]` and rotates its refresh token at each later time; returns every pair, oldest first. */
export async function rotationChain(storage: Storage, f: Fixture, times: number[], grantOverrides: Partial<GrantRecord> = {}) {
  const first = await issueGrant(storage, f, times[0], grantOverrides);
  const pairs: [TokenRecord, TokenRecord][] = [[first.access, first.refresh]];
  for (const time of times.slice(1)) {
    const pair = tokenPair(first.grant, time);
    assert.equal(await storage.tokens.rotateRefreshToken(pairs.at(-1)![1].tokenDigest, time, pair), 'rotated');
    pairs.push(pair);
  }
  return { grant: first.grant, code: first.code, pairs };
}
