/**
 * The storage contract suite (STYLE.md, after lucia v3: one shared suite every database adapter must pass).
 * A backend's test file calls `runStorageContract('<name>', () => create<Backend>Storage(...))`; each test
 * gets a fresh, empty storage and closes it.
 *
 * Records are built by hand with `randomUUID()` identifiers and random digests, so the suite depends on
 * nothing but `storage.ts`. Times are whole seconds passed in explicitly (no clock, no sleeps).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AUTHORIZATION_CODE_RETENTION_SECONDS } from './storage.ts';
import { directoryContract } from './directory-contract.ts';
import { localAccountsContract } from './local-accounts-contract.ts';
import { webhooksContract } from './webhooks-contract.ts';
import { brandingReviewsContract } from './branding-reviews-contract.ts';
import { resourcesContract } from './resources-contract.ts';
import { apiKeysContract } from './api-keys-contract.ts';
import { userIdentityContract } from './user-identity-contract.ts';
import { dpopContract } from './dpop-contract.ts';
import { partnerTeamsContract } from './partner-teams-contract.ts';
import { marketplaceContract } from './marketplace-contract.ts';
import type {
  AuthorizationCodeRecord,
  ClientRecord,
  GraceSuccessor,
  GrantRecord,
  InteractionRecord,
  PushedRequestRecord,
  Storage,
  SubjectRecord,
  CleanupResult,
  TokenRecord,
  UserRecord,
} from './storage.ts';

const NOW = 1_800_000_000;
const DAY_SECONDS = 86_400;

/** A stand-in for an HMAC-SHA-256 tag or SHA-256 digest (base64url, 43 characters). */
const digest = () => randomBytes(32).toString('base64url');

function clientRecord(overrides: Partial<ClientRecord> = {}): ClientRecord {
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

function userRecord(overrides: Partial<UserRecord> = {}): UserRecord {
  const userId = randomUUID();
  return { userId, email: `user-${userId}@example.com`, name: 'Alice Admin', passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA', ...overrides };
}

function companyRecord(overrides: Partial<SubjectRecord> = {}): SubjectRecord {
  return { subjectType: 'company', subjectId: randomUUID(), name: 'Nordlys Danmark ApS', organizationId: null, ...overrides };
}

interface Fixture {
  client: ClientRecord;
  user: UserRecord;
  company: SubjectRecord;
}

/** Another company the fixture's user may connect (a distinct subject, so a distinct active grant). */
async function createCompany(storage: Storage): Promise<SubjectRecord> {
  const company = companyRecord();
  await storage.subjects.create(company);
  return company;
}

/** A client, a user and a company the user administers: what every code and grant refers to. */
async function fixture(storage: Storage): Promise<Fixture> {
  const client = clientRecord();
  const user = userRecord();
  const company = companyRecord();
  await storage.clients.create(client);
  await storage.users.create(user);
  await storage.subjects.create(company);
  await storage.subjects.addAdministrator(user.userId, company.subjectType, company.subjectId);
  return { client, user, company };
}

function codeRecord(f: Fixture, overrides: Partial<AuthorizationCodeRecord> = {}): AuthorizationCodeRecord {
  return {
    codeDigest: digest(), clientId: f.client.clientId, userId: f.user.userId, redirectUri: f.client.redirectUris[0]!,
    scope: ['users:read', 'vendors:write'], subjectType: f.company.subjectType, subjectId: f.company.subjectId,
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', issuedAt: NOW, expiresAt: NOW + 60,
    ...overrides,
  };
}

function grantRecord(f: Fixture, overrides: Partial<GrantRecord> = {}): GrantRecord {
  return {
    grantId: randomUUID(), clientId: f.client.clientId, userId: f.user.userId, subjectType: f.company.subjectType,
    subjectId: f.company.subjectId, scope: ['users:read', 'vendors:write'], createdAt: NOW, revokedAt: null, revocationReason: null,
    ...overrides,
  };
}

/** An access token and a refresh token for a grant, as the token endpoint mints them. */
function tokenPair(grant: GrantRecord, now: number): [access: TokenRecord, refresh: TokenRecord] {
  const base = { grantId: grant.grantId, clientId: grant.clientId, scope: grant.scope, issuedAt: now, rotatedAt: null, revokedAt: null };
  return [
    { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'access', expiresAt: now + 900 },
    { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'refresh', expiresAt: now + 60 * DAY_SECONDS },
  ];
}

/** Stores a code, consumes it and issues a grant for it, as the authorization_code grant does. */
async function issueGrant(storage: Storage, f: Fixture, now = NOW, grantOverrides: Partial<GrantRecord> = {}) {
  const code = codeRecord(f, { issuedAt: now, expiresAt: now + 60, subjectType: grantOverrides.subjectType ?? f.company.subjectType, subjectId: grantOverrides.subjectId ?? f.company.subjectId });
  await storage.authorizationCodes.create(code);
  assert.equal((await storage.authorizationCodes.consume(code.codeDigest, now)).outcome, 'consumed');
  const grant = grantRecord(f, { createdAt: now, ...grantOverrides });
  const [access, refresh] = tokenPair(grant, now);
  assert.equal(await storage.grants.issueForCode(code.codeDigest, grant, [access, refresh]), 'issued');
  return { code, grant, access, refresh };
}

const count = <T>(values: T[], value: T) => values.filter((v) => v === value).length;

/** Issues a grant at `times[0]` and rotates its refresh token at each later time; returns every pair, oldest first. */
async function rotationChain(storage: Storage, f: Fixture, times: number[], grantOverrides: Partial<GrantRecord> = {}) {
  const first = await issueGrant(storage, f, times[0], grantOverrides);
  const pairs: [TokenRecord, TokenRecord][] = [[first.access, first.refresh]];
  for (const time of times.slice(1)) {
    const pair = tokenPair(first.grant, time);
    assert.equal(await storage.tokens.rotateRefreshToken(pairs.at(-1)![1].tokenDigest, time, pair), 'rotated');
    pairs.push(pair);
  }
  return { grant: first.grant, code: first.code, pairs };
}

/**
 * @param options.skip a reason to skip the whole suite (e.g. the database is unreachable), shown in the report.
 */
export function runStorageContract(backendName: string, createStorage: () => Promise<Storage> | Storage, options: { skip?: string | false } = {}): void {
  /** Runs one test body on a fresh storage and always closes it. */
  const withStorage = (body: (storage: Storage) => Promise<void>) => async () => {
    const storage = await createStorage();
    try {
      await body(storage);
    } finally {
      await storage.close();
    }
  };

  describe(`storage contract: ${backendName}`, { skip: options.skip ?? false }, () => {
    describe('clients', () => {
      it('stores a client and finds it by client_id with every field intact (RFC 7591 §2 metadata)', withStorage(async (storage) => {
        const confidential = clientRecord();
        const publicClient = clientRecord({
          clientType: 'public', secretDigest: null, subjectType: null, clientUri: null, logoUri: null, tosUri: null, policyUri: null,
          redirectUris: ['com.example.app:/cb'], scopes: ['test:test'], createdAt: NOW + 1,
        });
        const exception = clientRecord({ pkceRequired: false, status: 'pending', subjectType: 'organization', createdAt: NOW + 2 });
        const resourceServer = clientRecord({
          kind: 'resource_server', redirectUris: [], scopes: [], subjectType: null, audience: 'http://localhost:3001', createdAt: NOW + 3,
        });
        for (const client of [confidential, publicClient, exception, resourceServer]) await storage.clients.create(client);
        assert.deepEqual(await storage.clients.find(confidential.clientId), confidential);
        assert.deepEqual(await storage.clients.find(publicClient.clientId), publicClient);
        assert.deepEqual(await storage.clients.find(exception.clientId), exception);
        assert.deepEqual(await storage.clients.find(resourceServer.clientId), resourceServer);
      }));

      it('finds no client for an unknown client_id', withStorage(async (storage) => {
        await storage.clients.create(clientRecord());
        assert.equal(await storage.clients.find(randomUUID()), undefined);
      }));

      it('refuses a second client with the same client_id (the client identifier is unique, RFC 6749 §2.2)', withStorage(async (storage) => {
        const client = clientRecord();
        await storage.clients.create(client);
        await assert.rejects(storage.clients.create(clientRecord({ clientId: client.clientId, clientName: 'Impostor' })));
        assert.equal((await storage.clients.find(client.clientId))?.clientName, client.clientName);
      }));

      it('lists every client, and none in an empty store', withStorage(async (storage) => {
        assert.deepEqual(await storage.clients.list(), []);
        const first = clientRecord({ clientName: 'First', createdAt: NOW });
        const second = clientRecord({ clientName: 'Second', clientType: 'public', secretDigest: null, createdAt: NOW + 10 });
        await storage.clients.create(first);
        await storage.clients.create(second);
        const listed = await storage.clients.list();
        assert.equal(listed.length, 2);
        assert.deepEqual(listed.find((c) => c.clientId === first.clientId), first);
        assert.deepEqual(listed.find((c) => c.clientId === second.clientId), second);
      }));
    });

    describe('client management (registration fields, rotation overlap, logos, developers, admin credentials)', () => {
      it('stores the registration fields of the seed (initiation and settings URIs, contacts, owner) and the review flag', withStorage(async (storage) => {
        const owner = userRecord();
        await storage.users.create(owner);
        const client = clientRecord({ ownerUserId: owner.userId, brandingVerified: false, previousSecretDigest: digest(), previousSecretExpiresAt: NOW + 600 });
        await storage.clients.create(client);
        assert.deepEqual(await storage.clients.find(client.clientId), client);
      }));

      it('update changes only the given fields, clears with null, and answers undefined for an unknown client_id', withStorage(async (storage) => {
        const client = clientRecord();
        await storage.clients.create(client);
        const previous = client.secretDigest;
        const changed = await storage.clients.update(client.clientId, {
          clientName: 'Ledgerly Sync 2', redirectUris: ['https://ledgerly.example/cb2'], scopes: ['accounts:read'], contacts: ['ops@ledgerly.example'],
          logoUri: null, pkceRequired: false, status: 'suspended', brandingVerified: false, secretDigest: digest(),
          previousSecretDigest: previous, previousSecretExpiresAt: NOW + 60, subjectType: null,
        });
        assert.ok(changed);
        assert.deepEqual(await storage.clients.find(client.clientId), changed);
        assert.equal(changed.clientName, 'Ledgerly Sync 2');
        assert.deepEqual(changed.redirectUris, ['https://ledgerly.example/cb2']);
        assert.deepEqual(changed.scopes, ['accounts:read']);
        assert.deepEqual(changed.contacts, ['ops@ledgerly.example']);
        assert.equal(changed.logoUri, null);
        assert.equal(changed.pkceRequired, false);
        assert.equal(changed.status, 'suspended');
        assert.equal(changed.brandingVerified, false);
        assert.equal(changed.previousSecretDigest, previous);
        assert.equal(changed.previousSecretExpiresAt, NOW + 60);
        assert.equal(changed.subjectType, null);
        // Untouched fields stay.
        assert.equal(changed.tosUri, client.tosUri);
        assert.equal(changed.initiationUri, client.initiationUri);
        assert.equal(changed.createdAt, client.createdAt);
        assert.deepEqual(await storage.clients.update(client.clientId, {}), changed);
        assert.equal(await storage.clients.update(randomUUID(), { clientName: 'Nobody' }), undefined);
      }));

      it('listByOwner lists only the clients one partner developer registered', withStorage(async (storage) => {
        const [alice, bob] = [userRecord(), userRecord()];
        for (const user of [alice, bob]) await storage.users.create(user);
        const first = clientRecord({ ownerUserId: alice.userId, createdAt: NOW });
        const second = clientRecord({ ownerUserId: alice.userId, createdAt: NOW + 1 });
        const other = clientRecord({ ownerUserId: bob.userId });
        const adminClient = clientRecord();
        for (const client of [first, second, other, adminClient]) await storage.clients.create(client);
        assert.deepEqual((await storage.clients.listByOwner(alice.userId)).map((c) => c.clientId), [first.clientId, second.clientId]);
        assert.deepEqual((await storage.clients.listByOwner(bob.userId)).map((c) => c.clientId), [other.clientId]);
        assert.deepEqual(await storage.clients.listByOwner(randomUUID()), []);
      }));

      it('clientLogos stores one logo per client byte for byte, and a new upload replaces it', withStorage(async (storage) => {
        const client = clientRecord();
        await storage.clients.create(client);
        assert.equal(await storage.clientLogos.get(client.clientId), undefined);
        const bytes = randomBytes(2048);
        await storage.clientLogos.put({ clientId: client.clientId, contentType: 'image/png', bytes, sha256: digest(), updatedAt: NOW });
        const stored = await storage.clientLogos.get(client.clientId);
        assert.equal(stored?.contentType, 'image/png');
        assert.ok(stored?.bytes.equals(bytes));
        const replacement = { clientId: client.clientId, contentType: 'image/webp', bytes: randomBytes(100), sha256: digest(), updatedAt: NOW + 5 };
        await storage.clientLogos.put(replacement);
        const replaced = await storage.clientLogos.get(client.clientId);
        assert.equal(replaced?.contentType, 'image/webp');
        assert.ok(replaced?.bytes.equals(replacement.bytes));
        assert.equal(replaced?.sha256, replacement.sha256);
        assert.equal(replaced?.updatedAt, NOW + 5);
      }));

      it('adminCredentials finds a credential by its token digest only, and refuses a second one with the same name', withStorage(async (storage) => {
        const credential = { name: 'ops-alice', tokenDigest: digest(), createdAt: NOW };
        await storage.adminCredentials.create(credential);
        assert.deepEqual(await storage.adminCredentials.findByDigest(credential.tokenDigest), credential);
        assert.equal(await storage.adminCredentials.findByDigest(digest()), undefined);
        await assert.rejects(storage.adminCredentials.create({ name: 'ops-alice', tokenDigest: digest(), createdAt: NOW }));
      }));

      it('developers marks partner developers idempotently', withStorage(async (storage) => {
        const [developer, user] = [userRecord(), userRecord()];
        for (const u of [developer, user]) await storage.users.create(u);
        await storage.developers.add(developer.userId);
        await storage.developers.add(developer.userId);
        assert.equal(await storage.developers.isDeveloper(developer.userId), true);
        assert.equal(await storage.developers.isDeveloper(user.userId), false);
      }));

      it('consoleAdministrators grants the platform-administrator role idempotently, only to existing users, and revokes it (issue 13)', withStorage(async (storage) => {
        const [administrator, user] = [userRecord(), userRecord()];
        for (const u of [administrator, user]) await storage.users.create(u);
        assert.equal(await storage.consoleAdministrators.grant(administrator.userId, NOW), true);
        assert.equal(await storage.consoleAdministrators.grant(administrator.userId, NOW + 1), true);
        assert.equal(await storage.consoleAdministrators.isConsoleAdministrator(administrator.userId), true);
        assert.equal(await storage.consoleAdministrators.isConsoleAdministrator(user.userId), false);
        assert.equal(await storage.consoleAdministrators.grant(randomUUID(), NOW), false, 'an unknown user');
        assert.equal(await storage.consoleAdministrators.revoke(administrator.userId), true);
        assert.equal(await storage.consoleAdministrators.revoke(administrator.userId), false);
        assert.equal(await storage.consoleAdministrators.isConsoleAdministrator(administrator.userId), false);
      }));

      it('listActive lists active grants by client, by user or by subject, newest first, with when a token was last issued', withStorage(async (storage) => {
        const f = await fixture(storage);
        const other = clientRecord();
        await storage.clients.create(other);
        const first = await issueGrant(storage, f);
        const secondCompany = await createCompany(storage);
        const second = await issueGrant(storage, f, NOW + 10, { subjectId: secondCompany.subjectId });
        const others = await issueGrant(storage, { ...f, client: other }, NOW + 20);
        const ids = (listings: { grantId: string }[]) => listings.map((listing) => listing.grantId);
        assert.deepEqual(ids(await storage.grants.listActive({ clientId: f.client.clientId })), [second.grant.grantId, first.grant.grantId]);
        assert.deepEqual(ids(await storage.grants.listActive({ userId: f.user.userId })), [others.grant.grantId, second.grant.grantId, first.grant.grantId]);
        const bySubject = await storage.grants.listActive({ subjectType: 'company', subjectId: secondCompany.subjectId });
        assert.deepEqual(ids(bySubject), [second.grant.grantId]);
        assert.equal(bySubject[0]!.lastUsedAt, NOW + 10, 'a token issued is a use');
        assert.equal(bySubject[0]!.clientId, f.client.clientId);
        await storage.grants.revoke(first.grant.grantId, NOW + 30, 'user_disconnected');
        assert.deepEqual(ids(await storage.grants.listActive({ clientId: f.client.clientId })), [second.grant.grantId]);
      }));

      it('rotateRefreshToken and issueForCode record their audit event in the same commit, and only when they happen', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, refresh } = await issueGrant(storage, f);
        const event = (type: string) => ({ type, at: NOW + 1, actor: `client:${f.client.clientId}`, clientId: f.client.clientId, grantId: grant.grantId, details: { note: 'x' } });
        const types = async () => (await storage.audit.list({ limit: 100 })).map((stored) => stored.type);
        const next = tokenPair(grant, NOW + 1);
        assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 1, next, event('refresh_token.rotated')), 'rotated');
        assert.equal((await types()).filter((type) => type === 'refresh_token.rotated').length, 1);
        const again = tokenPair(grant, NOW + 2);
        assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 2, again, event('refresh_token.rotated')), 'not_current');
        assert.equal((await types()).filter((type) => type === 'refresh_token.rotated').length, 1, 'no event for a rotation that did not happen');
        const stored = (await storage.audit.list({ limit: 100 })).find((e) => e.type === 'refresh_token.rotated')!;
        assert.deepEqual(stored.details, { note: 'x' });
        assert.equal(stored.grantId, grant.grantId);
      }));

      it('recordUse moves lastUsedAt forward at most once per interval', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant } = await issueGrant(storage, f);
        const lastUsed = async () => (await storage.grants.listActive({ clientId: f.client.clientId }))[0]!.lastUsedAt;
        assert.equal(await lastUsed(), NOW, 'the first tokens');
        await storage.grants.recordUse(grant.grantId, NOW + 100, 60);
        assert.equal(await lastUsed(), NOW + 100);
        await storage.grants.recordUse(grant.grantId, NOW + 130, 60);
        assert.equal(await lastUsed(), NOW + 100, 'within the interval: no write');
        await storage.grants.recordUse(grant.grantId, NOW + 160, 60);
        assert.equal(await lastUsed(), NOW + 160);
      }));

      it('revokeAllOfClient revokes every active grant of that client with its tokens, and no other client\'s (client deletion, SPEC decision 13)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const other = clientRecord();
        await storage.clients.create(other);
        const first = await issueGrant(storage, f);
        const secondCompany = await createCompany(storage);
        const second = await issueGrant(storage, f, NOW, { subjectId: secondCompany.subjectId });
        const others = await issueGrant(storage, { ...f, client: other });
        assert.equal(await storage.grants.revokeAllOfClient(f.client.clientId, NOW + 5, 'client_deleted'), 2);
        for (const issued of [first, second]) {
          const grant = await storage.grants.find(issued.grant.grantId);
          assert.equal(grant?.revokedAt, NOW + 5);
          assert.equal(grant?.revocationReason, 'client_deleted');
          for (const token of [issued.access, issued.refresh]) assert.equal((await storage.tokens.findByDigest(token.tokenDigest))?.token.revokedAt, NOW + 5);
        }
        assert.equal((await storage.grants.find(others.grant.grantId))?.revokedAt, null);
        assert.equal((await storage.tokens.findByDigest(others.access.tokenDigest))?.token.revokedAt, null);
        assert.equal(await storage.grants.revokeAllOfClient(f.client.clientId, NOW + 6, 'client_deleted'), 0);
      }));

      it('revokeAccessTokensOfClient revokes that client\'s access tokens only (not its refresh tokens or grants), and the revocation feed lists them', withStorage(async (storage) => {
        const f = await fixture(storage);
        const other = clientRecord();
        await storage.clients.create(other);
        const mine = await issueGrant(storage, f);
        const others = await issueGrant(storage, { ...f, client: other });
        assert.equal(await storage.tokens.revokeAccessTokensOfClient(f.client.clientId, NOW + 3), 1);
        assert.equal((await storage.tokens.findByDigest(mine.access.tokenDigest))?.token.revokedAt, NOW + 3);
        assert.equal((await storage.tokens.findByDigest(mine.refresh.tokenDigest))?.token.revokedAt, null);
        assert.equal((await storage.grants.find(mine.grant.grantId))?.revokedAt, null);
        assert.equal((await storage.tokens.findByDigest(others.access.tokenDigest))?.token.revokedAt, null);
        const feed = await storage.tokens.listRevokedAccessTokens(NOW, NOW + 3, 10);
        assert.deepEqual(feed.map((entry) => entry.tokenId), [mine.access.tokenId]);
        assert.equal(await storage.tokens.revokeAccessTokensOfClient(f.client.clientId, NOW + 4), 0);
      }));
    });

    describe('users', () => {
      it('stores a user and finds it by id', withStorage(async (storage) => {
        const user = userRecord();
        await storage.users.create(user);
        assert.deepEqual(await storage.users.find(user.userId), user);
        assert.equal(await storage.users.find(randomUUID()), undefined);
      }));

      it('finds a user by e-mail case-insensitively', withStorage(async (storage) => {
        const user = userRecord({ email: 'Alice.Admin@Example.COM' });
        await storage.users.create(user);
        assert.deepEqual(await storage.users.findByEmail('alice.admin@example.com'), user);
        assert.deepEqual(await storage.users.findByEmail('ALICE.ADMIN@EXAMPLE.COM'), user);
        assert.deepEqual(await storage.users.findByEmail('Alice.Admin@Example.COM'), user);
        assert.equal(await storage.users.findByEmail('bob@example.com'), undefined);
      }));

      it('refuses a second user whose e-mail differs only in case (so findByEmail is unambiguous)', withStorage(async (storage) => {
        await storage.users.create(userRecord({ email: 'alice@example.com' }));
        await assert.rejects(storage.users.create(userRecord({ email: 'ALICE@example.com' })));
      }));
    });

    describe('subjects', () => {
      it('stores companies and organizations and finds them by type and id', withStorage(async (storage) => {
        const organization: SubjectRecord = { subjectType: 'organization', subjectId: randomUUID(), name: 'Nordlys Group', organizationId: null };
        const company = companyRecord({ organizationId: organization.subjectId });
        await storage.subjects.create(organization);
        await storage.subjects.create(company);
        assert.deepEqual(await storage.subjects.find('organization', organization.subjectId), organization);
        assert.deepEqual(await storage.subjects.find('company', company.subjectId), company);
        // A subject is identified by its type and id together (urn:<ns>:<type>:<uuid>).
        assert.equal(await storage.subjects.find('organization', company.subjectId), undefined);
        assert.equal(await storage.subjects.find('company', randomUUID()), undefined);
      }));

      it('addAdministrator is idempotent', withStorage(async (storage) => {
        const user = userRecord();
        const company = companyRecord();
        await storage.users.create(user);
        await storage.subjects.create(company);
        await storage.subjects.addAdministrator(user.userId, 'company', company.subjectId);
        await storage.subjects.addAdministrator(user.userId, 'company', company.subjectId);
        assert.deepEqual(await storage.subjects.listAdministeredBy(user.userId, 'company'), [company]);
      }));

      it('lists the subjects of one type a user administers, sorted by name (SPEC decision 11 subject picker)', withStorage(async (storage) => {
        const alice = userRecord();
        const bob = userRecord();
        await storage.users.create(alice);
        await storage.users.create(bob);
        const organization: SubjectRecord = { subjectType: 'organization', subjectId: randomUUID(), name: 'Nordlys Group', organizationId: null };
        const sverige = companyRecord({ name: 'Nordlys Sverige AB', organizationId: organization.subjectId });
        const danmark = companyRecord({ name: 'Nordlys Danmark ApS', organizationId: organization.subjectId });
        const acme = companyRecord({ name: 'Acme Norge AS' });
        const notAdministered = companyRecord({ name: 'Bob Only ApS' });
        for (const subject of [organization, sverige, danmark, acme, notAdministered]) await storage.subjects.create(subject);
        for (const subject of [sverige, organization, acme, danmark]) {
          await storage.subjects.addAdministrator(alice.userId, subject.subjectType, subject.subjectId);
        }
        await storage.subjects.addAdministrator(bob.userId, 'company', notAdministered.subjectId);

        assert.deepEqual(await storage.subjects.listAdministeredBy(alice.userId, 'company'), [acme, danmark, sverige]);
        assert.deepEqual(await storage.subjects.listAdministeredBy(alice.userId, 'organization'), [organization]);
        assert.deepEqual(await storage.subjects.listAdministeredBy(bob.userId, 'company'), [notAdministered]);
        assert.deepEqual(await storage.subjects.listAdministeredBy(bob.userId, 'organization'), []);
        assert.deepEqual(await storage.subjects.listAdministeredBy(randomUUID(), 'company'), []);
      }));
    });

    describe('loginSessions', () => {
      it('finds a session while now < expiresAt, and not from expiresAt on', withStorage(async (storage) => {
        const user = userRecord();
        await storage.users.create(user);
        const session = { sessionDigest: digest(), userId: user.userId, createdAt: NOW, expiresAt: NOW + 3600 };
        await storage.loginSessions.create(session);
        assert.deepEqual(await storage.loginSessions.findActive(session.sessionDigest, NOW), session);
        assert.deepEqual(await storage.loginSessions.findActive(session.sessionDigest, NOW + 3599), session);
        assert.equal(await storage.loginSessions.findActive(session.sessionDigest, NOW + 3600), undefined);
        assert.equal(await storage.loginSessions.findActive(session.sessionDigest, NOW + 7200), undefined);
        assert.equal(await storage.loginSessions.findActive(digest(), NOW), undefined);
      }));

      it('deletes a session (logout) and leaves the others', withStorage(async (storage) => {
        const user = userRecord();
        await storage.users.create(user);
        const kept = { sessionDigest: digest(), userId: user.userId, createdAt: NOW, expiresAt: NOW + 3600 };
        const deleted = { sessionDigest: digest(), userId: user.userId, createdAt: NOW, expiresAt: NOW + 3600 };
        await storage.loginSessions.create(kept);
        await storage.loginSessions.create(deleted);
        await storage.loginSessions.delete(deleted.sessionDigest);
        assert.equal(await storage.loginSessions.findActive(deleted.sessionDigest, NOW), undefined);
        assert.deepEqual(await storage.loginSessions.findActive(kept.sessionDigest, NOW), kept);
        await storage.loginSessions.delete(digest()); // unknown: no error
      }));

      it('records the device and last use of a session; touch moves lastSeenAt forward at most once per interval (issue 10 §4)', withStorage(async (storage) => {
        const user = userRecord();
        await storage.users.create(user);
        const session = { sessionDigest: digest(), userId: user.userId, createdAt: NOW, expiresAt: NOW + 3600 };
        await storage.loginSessions.createWithDevice({ ...session, device: 'Firefox on Linux' });
        assert.deepEqual(await storage.loginSessions.findActive(session.sessionDigest, NOW), session);
        assert.deepEqual(await storage.loginSessions.listActiveOfUser(user.userId, NOW), [{ ...session, device: 'Firefox on Linux', lastSeenAt: NOW }]);
        await storage.loginSessions.touch(session.sessionDigest, NOW + 59, 60);
        assert.equal((await storage.loginSessions.listActiveOfUser(user.userId, NOW + 59))[0]!.lastSeenAt, NOW, 'not yet a minute');
        await storage.loginSessions.touch(session.sessionDigest, NOW + 60, 60);
        assert.equal((await storage.loginSessions.listActiveOfUser(user.userId, NOW + 60))[0]!.lastSeenAt, NOW + 60);
        await storage.loginSessions.touch(session.sessionDigest, NOW + 100, 60);
        assert.equal((await storage.loginSessions.listActiveOfUser(user.userId, NOW + 100))[0]!.lastSeenAt, NOW + 60);
        await storage.loginSessions.touch(digest(), NOW + 100, 60); // unknown: no error
      }));

      it('lists only the user\'s unexpired sessions, most recently seen first; a session made by create has no device and was last seen when created', withStorage(async (storage) => {
        const [alice, bob] = [userRecord(), userRecord()];
        await storage.users.create(alice);
        await storage.users.create(bob);
        const old = { sessionDigest: digest(), userId: alice.userId, createdAt: NOW - 100, expiresAt: NOW + 3600 };
        const recent = { sessionDigest: digest(), userId: alice.userId, createdAt: NOW - 50, expiresAt: NOW + 3600 };
        const expired = { sessionDigest: digest(), userId: alice.userId, createdAt: NOW - 7200, expiresAt: NOW };
        await storage.loginSessions.create(old);
        await storage.loginSessions.createWithDevice({ ...recent, device: 'Safari on iOS' });
        await storage.loginSessions.createWithDevice({ ...expired, device: 'Edge on Windows' });
        await storage.loginSessions.createWithDevice({ sessionDigest: digest(), userId: bob.userId, createdAt: NOW, expiresAt: NOW + 3600, device: 'Chrome on Android' });
        assert.deepEqual(await storage.loginSessions.listActiveOfUser(alice.userId, NOW), [
          { ...recent, device: 'Safari on iOS', lastSeenAt: NOW - 50 },
          { ...old, device: '', lastSeenAt: NOW - 100 },
        ]);
        await storage.loginSessions.touch(old.sessionDigest, NOW, 60);
        assert.deepEqual((await storage.loginSessions.listActiveOfUser(alice.userId, NOW)).map((s) => s.sessionDigest), [old.sessionDigest, recent.sessionDigest]);
        assert.deepEqual(await storage.loginSessions.listActiveOfUser(randomUUID(), NOW), []);
      }));

      it('deleteOthersOfUser ends every other session of that user at once, and no one else\'s', withStorage(async (storage) => {
        const [alice, bob] = [userRecord(), userRecord()];
        await storage.users.create(alice);
        await storage.users.create(bob);
        const session = (userId: string) => ({ sessionDigest: digest(), userId, createdAt: NOW, expiresAt: NOW + 3600, device: '' });
        const [kept, other1, other2, bobs] = [session(alice.userId), session(alice.userId), session(alice.userId), session(bob.userId)];
        for (const s of [kept, other1, other2, bobs]) await storage.loginSessions.createWithDevice(s);
        assert.equal(await storage.loginSessions.deleteOthersOfUser(alice.userId, kept.sessionDigest), 2);
        assert.deepEqual((await storage.loginSessions.listActiveOfUser(alice.userId, NOW)).map((s) => s.sessionDigest), [kept.sessionDigest]);
        assert.equal(await storage.loginSessions.findActive(other1.sessionDigest, NOW), undefined);
        assert.ok(await storage.loginSessions.findActive(bobs.sessionDigest, NOW), 'another user\'s session stays');
        assert.equal(await storage.loginSessions.deleteOthersOfUser(alice.userId, kept.sessionDigest), 0);
      }));
    });

    describe('knownDevices (issue 10 §3: a known device is never blocked by another person\'s failures)', () => {
      it('knows a device for the user it signed in, until it expires; remember extends, never shortens', withStorage(async (storage) => {
        const [alice, bob] = [userRecord(), userRecord()];
        await storage.users.create(alice);
        await storage.users.create(bob);
        const device = digest();
        assert.equal(await storage.knownDevices.isKnown(device, alice.userId, NOW), false);
        await storage.knownDevices.remember(device, alice.userId, NOW, NOW + 1000);
        assert.equal(await storage.knownDevices.isKnown(device, alice.userId, NOW + 999), true);
        assert.equal(await storage.knownDevices.isKnown(device, alice.userId, NOW + 1000), false, 'expired');
        assert.equal(await storage.knownDevices.isKnown(device, bob.userId, NOW), false, 'known for alice only');
        assert.equal(await storage.knownDevices.isKnown(digest(), alice.userId, NOW), false);
        await storage.knownDevices.remember(device, alice.userId, NOW + 500, NOW + 2000);
        await storage.knownDevices.remember(device, alice.userId, NOW + 600, NOW + 1500);
        assert.equal(await storage.knownDevices.isKnown(device, alice.userId, NOW + 1999), true);
        // One browser may be known for several users (a shared office computer).
        await storage.knownDevices.remember(device, bob.userId, NOW, NOW + 1000);
        assert.equal(await storage.knownDevices.isKnown(device, bob.userId, NOW), true);
        assert.equal(await storage.knownDevices.isKnown(device, alice.userId, NOW), true);
      }));
    });

    describe('authorizationCodes', () => {
      it('consumes a code once with its bindings intact, then reports it replayed (RFC 6749 §4.1.2 single use)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const code = codeRecord(f);
        await storage.authorizationCodes.create(code);
        assert.deepEqual(await storage.authorizationCodes.consume(code.codeDigest, NOW + 1), { outcome: 'consumed', code });
        assert.deepEqual(await storage.authorizationCodes.consume(code.codeDigest, NOW + 2), { outcome: 'replayed', code, grantId: null });
        assert.deepEqual(await storage.authorizationCodes.consume(code.codeDigest, NOW + 3), { outcome: 'replayed', code, grantId: null });
      }));

      it('keeps a code without a PKCE challenge as null (SPEC decision 2 exception)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const code = codeRecord(f, { codeChallenge: null, scope: ['test:test'] });
        await storage.authorizationCodes.create(code);
        assert.deepEqual(await storage.authorizationCodes.consume(code.codeDigest, NOW), { outcome: 'consumed', code });
      }));

      it('reports a replay with the grant the first use produced, so its tokens can be revoked (RFC 6749 §4.1.2)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { code, grant } = await issueGrant(storage, f);
        const replay = await storage.authorizationCodes.consume(code.codeDigest, NOW + 5);
        assert.equal(replay.outcome, 'replayed');
        assert.equal(replay.outcome === 'replayed' && replay.grantId, grant.grantId);
      }));

      it('reports an unknown digest as unknown', withStorage(async (storage) => {
        const f = await fixture(storage);
        await storage.authorizationCodes.create(codeRecord(f));
        assert.deepEqual(await storage.authorizationCodes.consume(digest(), NOW), { outcome: 'unknown' });
      }));

      it('of 20 concurrent redemptions of one code exactly one consumes it (RFC 6749 §4.1.2, atomic)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const code = codeRecord(f);
        await storage.authorizationCodes.create(code);
        const results = await Promise.all(Array.from({ length: 20 }, () => storage.authorizationCodes.consume(code.codeDigest, NOW)));
        const outcomes = results.map((result) => result.outcome);
        assert.equal(count(outcomes, 'consumed'), 1);
        assert.equal(count(outcomes, 'replayed'), 19);
      }));
    });

    describe('grants', () => {
      it('issueForCode stores the grant and its tokens and links the code to the grant', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { code, grant, access, refresh } = await issueGrant(storage, f);
        assert.deepEqual(await storage.grants.find(grant.grantId), grant);
        assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), grant);
        assert.deepEqual((await storage.tokens.findByDigest(access.tokenDigest))?.token, access);
        assert.deepEqual((await storage.tokens.findByDigest(refresh.tokenDigest))?.token, refresh);
        const replay = await storage.authorizationCodes.consume(code.codeDigest, NOW + 1);
        assert.equal(replay.outcome === 'replayed' ? replay.grantId : replay.outcome, grant.grantId);
      }));

      it('issueForCode refuses with code_replayed and stores nothing when the code was replayed meanwhile (RFC 6749 §4.1.2)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const previous = await issueGrant(storage, f, NOW - 100);
        const code = codeRecord(f);
        await storage.authorizationCodes.create(code);
        assert.equal((await storage.authorizationCodes.consume(code.codeDigest, NOW)).outcome, 'consumed');
        assert.equal((await storage.authorizationCodes.consume(code.codeDigest, NOW)).outcome, 'replayed');

        const grant = grantRecord(f);
        const [access, refresh] = tokenPair(grant, NOW);
        assert.equal(await storage.grants.issueForCode(code.codeDigest, grant, [access, refresh]), 'code_replayed');
        assert.equal(await storage.grants.find(grant.grantId), undefined);
        assert.equal(await storage.tokens.findByDigest(access.tokenDigest), undefined);
        assert.equal(await storage.tokens.findByDigest(refresh.tokenDigest), undefined);
        // Nothing includes the supersession: the client's earlier grant is untouched.
        assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), previous.grant);
        assert.equal((await storage.tokens.findByDigest(previous.refresh.tokenDigest))?.token.revokedAt, null);
        // The replay still reports no grant for that code.
        const again = await storage.authorizationCodes.consume(code.codeDigest, NOW);
        assert.deepEqual(again.outcome === 'replayed' && again.grantId, null);
      }));

      it('issueForCode refuses a second grant for the same code and stores nothing (RFC 6749 §4.1.2)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { code, grant: first } = await issueGrant(storage, f);
        const second = grantRecord(f, { createdAt: NOW + 1 });
        const [access, refresh] = tokenPair(second, NOW + 1);
        assert.equal(await storage.grants.issueForCode(code.codeDigest, second, [access, refresh]), 'code_replayed');
        assert.equal(await storage.grants.find(second.grantId), undefined);
        assert.equal(await storage.tokens.findByDigest(access.tokenDigest), undefined);
        assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), first);
      }));

      it('issueForCode supersedes the previous active grant of the same client and subject, with its tokens (SPEC decision 11)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const old = await issueGrant(storage, f, NOW);
        // Same user and client, another company: a different (client, subject) pair, left alone.
        const otherCompany = companyRecord({ name: 'Nordlys Sverige AB' });
        await storage.subjects.create(otherCompany);
        const other = await issueGrant(storage, f, NOW + 10, { subjectId: otherCompany.subjectId });
        // Another client for the same company: also left alone.
        const otherClient = clientRecord({ clientName: 'Other Partner' });
        await storage.clients.create(otherClient);
        const otherClientGrant = await issueGrant(storage, { ...f, client: otherClient }, NOW + 20);

        const renewed = await issueGrant(storage, f, NOW + 100);
        const superseded = await storage.grants.find(old.grant.grantId);
        assert.equal(superseded?.revokedAt, NOW + 100);
        assert.equal(superseded?.revocationReason, 'superseded');
        assert.equal((await storage.tokens.findByDigest(old.access.tokenDigest))?.token.revokedAt, NOW + 100);
        assert.equal((await storage.tokens.findByDigest(old.refresh.tokenDigest))?.token.revokedAt, NOW + 100);
        assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), renewed.grant);

        for (const untouched of [other, otherClientGrant]) {
          assert.deepEqual(await storage.grants.find(untouched.grant.grantId), untouched.grant);
          assert.equal((await storage.tokens.findByDigest(untouched.refresh.tokenDigest))?.token.revokedAt, null);
        }
        assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', otherCompany.subjectId), other.grant);
        assert.deepEqual(await storage.grants.findActive(otherClient.clientId, 'company', f.company.subjectId), otherClientGrant.grant);
      }));

      it('findActive returns nothing for a (client, subject) without an active grant', withStorage(async (storage) => {
        const f = await fixture(storage);
        assert.equal(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), undefined);
        const { grant } = await issueGrant(storage, f);
        assert.equal(await storage.grants.findActive(f.client.clientId, 'organization', f.company.subjectId), undefined);
        await storage.grants.revoke(grant.grantId, NOW + 1, 'user_revoked');
        assert.equal(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), undefined);
        assert.equal(await storage.grants.find(randomUUID()), undefined);
      }));

      it('revoke revokes the grant and every token of it, and returns false the second time (RFC 7009 §2.1, SPEC decision 15)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, access, refresh } = await issueGrant(storage, f);
        // A rotated refresh token and its successors are tokens of the grant too.
        const [access2, refresh2] = tokenPair(grant, NOW + 10);
        assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, [access2, refresh2]), 'rotated');

        assert.equal(await storage.grants.revoke(grant.grantId, NOW + 20, 'user_revoked'), true);
        const revoked = await storage.grants.find(grant.grantId);
        assert.equal(revoked?.revokedAt, NOW + 20);
        assert.equal(revoked?.revocationReason, 'user_revoked');
        for (const token of [access2, refresh2]) {
          assert.equal((await storage.tokens.findByDigest(token.tokenDigest))?.token.revokedAt, NOW + 20);
        }
        // Already revoked by the rotation (access) or only rotated (refresh): revoked now either way.
        assert.notEqual((await storage.tokens.findByDigest(access.tokenDigest))?.token.revokedAt, null);
        assert.notEqual((await storage.tokens.findByDigest(refresh.tokenDigest))?.token.revokedAt, null);

        assert.equal(await storage.grants.revoke(grant.grantId, NOW + 30, 'admin_revoked'), false);
        const still = await storage.grants.find(grant.grantId);
        assert.equal(still?.revokedAt, NOW + 20);
        assert.equal(still?.revocationReason, 'user_revoked');
        assert.equal(await storage.grants.revoke(randomUUID(), NOW, 'user_revoked'), false);
      }));
    });

    describe('tokens', () => {
      it('findByDigest returns the token with its grant and client (RFC 7662 §2.2 needs all three)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, access, refresh } = await issueGrant(storage, f);
        assert.deepEqual(await storage.tokens.findByDigest(access.tokenDigest), { token: access, grant, client: f.client });
        assert.deepEqual(await storage.tokens.findByDigest(refresh.tokenDigest), { token: refresh, grant, client: f.client });
        assert.equal(await storage.tokens.findByDigest(digest()), undefined);
      }));

      it('rotateRefreshToken rotates the refresh token, revokes the grant\'s access tokens and stores the new pair (SPEC decision 8)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, access, refresh } = await issueGrant(storage, f);
        const [newAccess, newRefresh] = tokenPair(grant, NOW + 600);
        assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 600, [newAccess, newRefresh]), 'rotated');

        const old = await storage.tokens.findByDigest(refresh.tokenDigest);
        assert.equal(old?.token.rotatedAt, NOW + 600);
        // Platform docs: "all previous tokens are invalidated immediately".
        assert.equal((await storage.tokens.findByDigest(access.tokenDigest))?.token.revokedAt, NOW + 600);
        assert.deepEqual(await storage.tokens.findByDigest(newAccess.tokenDigest), { token: newAccess, grant, client: f.client });
        assert.deepEqual(await storage.tokens.findByDigest(newRefresh.tokenDigest), { token: newRefresh, grant, client: f.client });
        assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), grant);

        // The new refresh token is current in turn.
        const [thirdAccess, thirdRefresh] = tokenPair(grant, NOW + 1200);
        assert.equal(await storage.tokens.rotateRefreshToken(newRefresh.tokenDigest, NOW + 1200, [thirdAccess, thirdRefresh]), 'rotated');
        assert.equal((await storage.tokens.findByDigest(newAccess.tokenDigest))?.token.revokedAt, NOW + 1200);
      }));

      it('rotateRefreshToken answers not_current for a rotated-out token and stores nothing (RFC 9700 §4.14.2)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, refresh } = await issueGrant(storage, f);
        const winner = tokenPair(grant, NOW + 10);
        assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, winner), 'rotated');
        const loser = tokenPair(grant, NOW + 20);
        assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 20, loser), 'not_current');
        for (const token of loser) assert.equal(await storage.tokens.findByDigest(token.tokenDigest), undefined);
        // The winner's tokens are untouched by the failed attempt.
        for (const token of winner) assert.equal((await storage.tokens.findByDigest(token.tokenDigest))?.token.revokedAt, null);
        assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))?.token.rotatedAt, NOW + 10);
      }));

      it('rotateRefreshToken answers not_current for a token of a revoked grant and stores nothing (SPEC decision 15)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, refresh } = await issueGrant(storage, f);
        await storage.grants.revoke(grant.grantId, NOW + 5, 'user_revoked');
        const attempt = tokenPair(grant, NOW + 10);
        assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, attempt), 'not_current');
        for (const token of attempt) assert.equal(await storage.tokens.findByDigest(token.tokenDigest), undefined);
        assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))?.token.rotatedAt, null);
      }));

      it('rotateRefreshToken answers not_current for an access token or an unknown digest (RFC 6749 §6 needs a refresh token)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, access } = await issueGrant(storage, f);
        const attempt = tokenPair(grant, NOW + 10);
        assert.equal(await storage.tokens.rotateRefreshToken(access.tokenDigest, NOW + 10, attempt), 'not_current');
        assert.equal(await storage.tokens.rotateRefreshToken(digest(), NOW + 10, attempt), 'not_current');
        for (const token of attempt) assert.equal(await storage.tokens.findByDigest(token.tokenDigest), undefined);
        assert.equal((await storage.tokens.findByDigest(access.tokenDigest))?.token.revokedAt, null);
      }));

      it('of 20 concurrent rotations of one refresh token exactly one succeeds and one new pair is stored (SPEC decision 8, atomic)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, refresh } = await issueGrant(storage, f);
        const attempts = Array.from({ length: 20 }, () => tokenPair(grant, NOW + 10));
        const results = await Promise.all(attempts.map((pair) => storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, pair)));
        assert.equal(count(results, 'rotated'), 1);
        assert.equal(count(results, 'not_current'), 19);
        const winner = attempts[results.indexOf('rotated')]!;
        for (const pair of attempts) {
          for (const token of pair) {
            const found = await storage.tokens.findByDigest(token.tokenDigest);
            if (pair === winner) assert.deepEqual(found?.token, token);
            else assert.equal(found, undefined);
          }
        }
      }));

      it('revokeAccessToken revokes that access token only (RFC 7009 §2.1)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, access, refresh } = await issueGrant(storage, f);
        await storage.tokens.revokeAccessToken(access.tokenDigest, NOW + 30);
        assert.equal((await storage.tokens.findByDigest(access.tokenDigest))?.token.revokedAt, NOW + 30);
        assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))?.token.revokedAt, null);
        assert.equal((await storage.grants.find(grant.grantId))?.revokedAt, null);
        // A second revocation keeps the first time; an unknown digest is no error (RFC 7009 §2.2).
        await storage.tokens.revokeAccessToken(access.tokenDigest, NOW + 40);
        assert.equal((await storage.tokens.findByDigest(access.tokenDigest))?.token.revokedAt, NOW + 30);
        await storage.tokens.revokeAccessToken(digest(), NOW + 40);
      }));

      it('revokeAccessToken does not revoke a refresh token (revoking one revokes its grant instead, SPEC decision 15)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { refresh } = await issueGrant(storage, f);
        await storage.tokens.revokeAccessToken(refresh.tokenDigest, NOW + 30);
        assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))?.token.revokedAt, null);
      }));

      it('findByTokenId finds a token by its jti with its grant and client, like findByDigest', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, access, refresh } = await issueGrant(storage, f);
        assert.deepEqual(await storage.tokens.findByTokenId(access.tokenId), { token: access, grant, client: f.client });
        assert.deepEqual(await storage.tokens.findByTokenId(refresh.tokenId), { token: refresh, grant, client: f.client });
        assert.equal(await storage.tokens.findByTokenId(randomUUID()), undefined);
        // A digest is not a token id.
        assert.equal(await storage.tokens.findByTokenId(access.tokenDigest), undefined);
        // State changes show through it too.
        await storage.grants.revoke(grant.grantId, NOW + 5, 'user_revoked');
        const revoked = await storage.tokens.findByTokenId(access.tokenId);
        assert.equal(revoked?.token.revokedAt, NOW + 5);
        assert.equal(revoked?.grant.revokedAt, NOW + 5);
      }));

      it('listRevokedAccessTokens lists unexpired revoked access tokens since a time, by revokedAt then tokenId (the revocation feed)', withStorage(async (storage) => {
        const f = await fixture(storage);
        // Rotation revokes the superseded access tokens (SPEC §3), revokeAccessToken one (RFC 7009), grant revocation all.
        const rotated = await rotationChain(storage, f, [NOW, NOW + 10, NOW + 20]);
        const [a0, a1, a2] = rotated.pairs.map(([access]) => access);
        await storage.tokens.revokeAccessToken(a2!.tokenDigest, NOW + 30);
        const otherCompany = companyRecord();
        await storage.subjects.create(otherCompany);
        const revokedGrant = await issueGrant(storage, f, NOW + 1, { subjectId: otherCompany.subjectId });
        await storage.grants.revoke(revokedGrant.grant.grantId, NOW + 30, 'user_revoked');
        // Revoked, but expired by the time of the query: no longer needed in the feed.
        const thirdCompany = companyRecord();
        await storage.subjects.create(thirdCompany);
        const expired = await issueGrant(storage, f, NOW - 1000, { subjectId: thirdCompany.subjectId });
        await storage.tokens.revokeAccessToken(expired.access.tokenDigest, NOW - 500);
        // Not revoked: never listed. Refresh tokens: never listed.
        const active = await issueGrant(storage, f, NOW, { subjectId: (await createCompany(storage)).subjectId });

        const now = NOW + 40;
        const at30 = [
          { tokenId: a2!.tokenId, expiresAt: a2!.expiresAt, revokedAt: NOW + 30 },
          { tokenId: revokedGrant.access.tokenId, expiresAt: revokedGrant.access.expiresAt, revokedAt: NOW + 30 },
        ].sort((x, y) => (x.tokenId < y.tokenId ? -1 : 1));
        const all = [
          { tokenId: a0!.tokenId, expiresAt: a0!.expiresAt, revokedAt: NOW + 10 },
          { tokenId: a1!.tokenId, expiresAt: a1!.expiresAt, revokedAt: NOW + 20 },
          ...at30,
        ];
        assert.deepEqual(await storage.tokens.listRevokedAccessTokens(0, now, 100), all);
        assert.deepEqual(await storage.tokens.listRevokedAccessTokens(NOW + 20, now, 100), all.slice(1), 'since is inclusive');
        assert.deepEqual(await storage.tokens.listRevokedAccessTokens(NOW + 21, now, 100), at30);
        assert.deepEqual(await storage.tokens.listRevokedAccessTokens(NOW + 31, now, 100), []);
        assert.deepEqual(await storage.tokens.listRevokedAccessTokens(0, now, 2), all.slice(0, 2), 'at most limit');
        // expiresAt > now: a token is dropped from the feed at the second it expires.
        assert.deepEqual(await storage.tokens.listRevokedAccessTokens(0, a0!.expiresAt, 100), all.filter((entry) => entry.expiresAt > a0!.expiresAt));
        // Earlier, the expired one was still in the feed; an access token never revoked never is.
        const earlier = (await storage.tokens.listRevokedAccessTokens(0, NOW - 600, 100)).map((entry) => entry.tokenId);
        assert.ok(earlier.includes(expired.access.tokenId));
        assert.ok(!earlier.includes(active.access.tokenId) && !earlier.includes(active.refresh.tokenId));
      }));
    });

    describe('refresh-token grace successors (SPEC decision 8: the reuse grace window)', () => {
      const grace = (grant: GrantRecord, previous: TokenRecord, graceExpiresAt: number): GraceSuccessor => ({
        grantId: grant.grantId, previousDigest: previous.tokenDigest, sealedSuccessor: `sealed-${randomUUID()}`, graceExpiresAt,
      });

      it('rotateRefreshToken keeps the grace successor with the rotation; findGraceSuccessor finds it by the replaced digest only', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, access, refresh } = await issueGrant(storage, f);
        const kept = grace(grant, refresh, NOW + 40);
        assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, tokenPair(grant, NOW + 10), undefined, kept), 'rotated');
        assert.deepEqual(await storage.tokens.findGraceSuccessor(refresh.tokenDigest), kept);
        assert.equal(await storage.tokens.findGraceSuccessor(access.tokenDigest), undefined);
        assert.equal(await storage.tokens.findGraceSuccessor(digest()), undefined);
      }));

      it("the grant's next rotation replaces its grace record: the used successor's predecessor finds none; a rotation without one deletes it", withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, refresh } = await issueGrant(storage, f);
        const second = tokenPair(grant, NOW + 10);
        await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, second, undefined, grace(grant, refresh, NOW + 40));
        const third = tokenPair(grant, NOW + 20);
        const keptForSecond = grace(grant, second[1], NOW + 50);
        assert.equal(await storage.tokens.rotateRefreshToken(second[1].tokenDigest, NOW + 20, third, undefined, keptForSecond), 'rotated');
        assert.equal(await storage.tokens.findGraceSuccessor(refresh.tokenDigest), undefined, 'its successor was used: no grace any more');
        assert.deepEqual(await storage.tokens.findGraceSuccessor(second[1].tokenDigest), keptForSecond);
        // Window 0: a rotation without a grace successor leaves none behind.
        assert.equal(await storage.tokens.rotateRefreshToken(third[1].tokenDigest, NOW + 30, tokenPair(grant, NOW + 30)), 'rotated');
        assert.equal(await storage.tokens.findGraceSuccessor(second[1].tokenDigest), undefined);
        assert.equal(await storage.tokens.findGraceSuccessor(third[1].tokenDigest), undefined);
      }));

      it('cleanup deletes grace records whose window ended (graceExpiresAt <= now), keeps open ones, and the rotated-out token stays a replay', withStorage(async (storage) => {
        const f = await fixture(storage);
        const chains = [];
        for (const graceExpiresAt of [NOW + 30, NOW + 40, NOW + 41, NOW + 100]) {
          const { grant, refresh } = await issueGrant(storage, f, NOW, { subjectId: (await createCompany(storage)).subjectId });
          const kept = grace(grant, refresh, graceExpiresAt);
          assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, tokenPair(grant, NOW + 10), undefined, kept), 'rotated');
          chains.push({ grant, refresh, kept });
        }
        // Batches of 1, so the run goes on past a full batch.
        const result = await storage.cleanup.deleteExpired(NOW + 40, 1);
        assert.equal(result.refreshTokenGrace, 2);
        assert.equal(result.deleted, 2);
        assert.equal(await storage.tokens.findGraceSuccessor(chains[0]!.refresh.tokenDigest), undefined);
        assert.equal(await storage.tokens.findGraceSuccessor(chains[1]!.refresh.tokenDigest), undefined);
        assert.deepEqual(await storage.tokens.findGraceSuccessor(chains[2]!.refresh.tokenDigest), chains[2]!.kept, 'the window is open until graceExpiresAt');
        assert.deepEqual(await storage.tokens.findGraceSuccessor(chains[3]!.refresh.tokenDigest), chains[3]!.kept);
        // The rotated-out refresh token itself stays: presenting it is still recognised as reuse (not current).
        assert.equal((await storage.tokens.findByDigest(chains[0]!.refresh.tokenDigest))?.token.rotatedAt, NOW + 10);
        assert.equal(await storage.tokens.rotateRefreshToken(chains[0]!.refresh.tokenDigest, NOW + 41, tokenPair(chains[0]!.grant, NOW + 41)), 'not_current');
        // A second run finds nothing more until the next window ends.
        assert.equal((await storage.cleanup.deleteExpired(NOW + 40, 1)).refreshTokenGrace, 0);
        assert.equal((await storage.cleanup.deleteExpired(NOW + 100, 10)).refreshTokenGrace, 2);
      }));

      it('a rotation that does not happen (not_current) keeps no grace record and leaves the current one as it was', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, refresh } = await issueGrant(storage, f);
        const kept = grace(grant, refresh, NOW + 40);
        await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, tokenPair(grant, NOW + 10), undefined, kept);
        assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 11, tokenPair(grant, NOW + 11), undefined, grace(grant, refresh, NOW + 41)), 'not_current');
        assert.deepEqual(await storage.tokens.findGraceSuccessor(refresh.tokenDigest), kept, 'the loser overwrote nothing');
        assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 12, tokenPair(grant, NOW + 12)), 'not_current');
        assert.deepEqual(await storage.tokens.findGraceSuccessor(refresh.tokenDigest), kept, 'nor deleted it');
      }));

      it('of 20 concurrent rotations with grace successors, the one that rotated is the one kept (same commit)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, refresh } = await issueGrant(storage, f);
        const attempts = Array.from({ length: 20 }, () => ({ pair: tokenPair(grant, NOW + 10), kept: grace(grant, refresh, NOW + 40) }));
        const results = await Promise.all(attempts.map(({ pair, kept }) => storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, pair, undefined, kept)));
        assert.equal(count(results, 'rotated'), 1);
        assert.deepEqual(await storage.tokens.findGraceSuccessor(refresh.tokenDigest), attempts[results.indexOf('rotated')]!.kept);
      }));

      it("a revoked grant's grace record is never returned (SPEC decision 15)", withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, refresh } = await issueGrant(storage, f);
        await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, tokenPair(grant, NOW + 10), undefined, grace(grant, refresh, NOW + 40));
        assert.equal(await storage.grants.revoke(grant.grantId, NOW + 11, 'user_revoked'), true);
        assert.equal(await storage.tokens.findGraceSuccessor(refresh.tokenDigest), undefined);
      }));
    });

    describe('loginThrottle (SPEC decision 18: failed logins per account and address, shared by every instance)', () => {
      const A = 'account:alice';
      const B = 'address:192.0.2.7';
      const limit = (maxFailures: number, windowSeconds: number) => ({ maxFailures, windowSeconds });

      it('counts failures until maxFailures fall in one window, then refuses without counting', withStorage(async (storage) => {
        const throttle = storage.loginThrottle;
        assert.deepEqual(await throttle.recordFailure([A, B], NOW, limit(3, 900)), { retryAfterSeconds: 0, failures: [1, 1] });
        assert.deepEqual(await throttle.recordFailure([A, B], NOW + 10, limit(3, 900)), { retryAfterSeconds: 0, failures: [2, 2] });
        assert.deepEqual(await throttle.recordFailure([A, B], NOW + 20, limit(3, 900)), { retryAfterSeconds: 0, failures: [3, 3] });
        assert.deepEqual(await throttle.recordFailure([A, B], NOW + 20, limit(3, 900)), { retryAfterSeconds: 880, failures: [3, 3] });
        assert.deepEqual(await throttle.recordFailure([A, B], NOW + 899, limit(3, 900)), { retryAfterSeconds: 1, failures: [3, 3] });
      }));

      it('uses a fixed window from the first failure: refused attempts do not extend it, and it reopens exactly at its end', withStorage(async (storage) => {
        const throttle = storage.loginThrottle;
        await throttle.recordFailure([A], NOW, limit(2, 100));
        await throttle.recordFailure([A], NOW + 90, limit(2, 100));
        assert.equal((await throttle.recordFailure([A], NOW + 95, limit(2, 100))).retryAfterSeconds, 5);
        assert.equal((await throttle.recordFailure([A], NOW + 99, limit(2, 100))).retryAfterSeconds, 1);
        // At the window's end a new failure opens a fresh window with a count of one.
        assert.deepEqual(await throttle.recordFailure([A], NOW + 100, limit(2, 100)), { retryAfterSeconds: 0, failures: [1] });
        assert.deepEqual(await throttle.recordFailure([A], NOW + 150, limit(2, 100)), { retryAfterSeconds: 0, failures: [2] });
        assert.equal((await throttle.recordFailure([A], NOW + 150, limit(2, 100))).retryAfterSeconds, 50);
      }));

      it('refuses when any one key is over its limit, answers the longest wait, and then counts on no key', withStorage(async (storage) => {
        const throttle = storage.loginThrottle;
        // One address trying many accounts.
        await throttle.recordFailure(['account:a', B], NOW, limit(2, 100));
        await throttle.recordFailure(['account:b', B], NOW + 30, limit(2, 100));
        assert.deepEqual(await throttle.recordFailure(['account:c', B], NOW + 30, limit(2, 100)), { retryAfterSeconds: 70, failures: [0, 2] });
        // account:c was not counted by the refused attempt.
        assert.deepEqual(await throttle.recordFailure(['account:c', 'address:198.51.100.1'], NOW + 30, limit(2, 100)), { retryAfterSeconds: 0, failures: [1, 1] });
        // Many addresses trying one account; both keys over: the longer wait wins.
        await throttle.recordFailure([A, 'address:198.51.100.2'], NOW + 40, limit(2, 100));
        await throttle.recordFailure([A, 'address:198.51.100.3'], NOW + 60, limit(2, 100));
        assert.equal((await throttle.recordFailure([A, 'address:198.51.100.4'], NOW + 60, limit(2, 100))).retryAfterSeconds, 80);
        assert.equal((await throttle.recordFailure([A, B], NOW + 60, limit(2, 100))).retryAfterSeconds, 80);
      }));

      it('survives concurrent logins from one address: recordFailure and retract on shared keys in any order never fail (no deadlock)', withStorage(async (storage) => {
        const throttle = storage.loginThrottle;
        const attempts = Array.from({ length: 30 }, async (_, index) => {
          const account = `account:user-${index % 3}`;
          await throttle.recordFailure([account, B], NOW, limit(1_000, 900));
          await throttle.retract([B, account], NOW);
        });
        await Promise.all(attempts);
        assert.deepEqual(await throttle.recordFailure([B], NOW, limit(1_000, 900)), { retryAfterSeconds: 0, failures: [1] });
      }));

      it('retract takes back one failure in the current window (never below zero); reset forgets one key only', withStorage(async (storage) => {
        const throttle = storage.loginThrottle;
        await throttle.recordFailure([A, B], NOW, limit(2, 100));
        await throttle.recordFailure([A, B], NOW + 1, limit(2, 100));
        await throttle.retract([A, B], NOW + 2);
        assert.deepEqual(await throttle.recordFailure([A, B], NOW + 3, limit(2, 100)), { retryAfterSeconds: 0, failures: [2, 2] });
        await throttle.reset(A);
        assert.deepEqual(await throttle.recordFailure([A], NOW + 4, limit(2, 100)), { retryAfterSeconds: 0, failures: [1] });
        assert.equal((await throttle.recordFailure([B], NOW + 4, limit(2, 100))).retryAfterSeconds, 96);
        await throttle.reset('account:unknown');
        // Never below zero, and an ended window is not touched (a new failure starts over at one).
        const C = 'account:carol';
        await throttle.recordFailure([C], NOW, limit(5, 100));
        await throttle.retract([C], NOW + 1);
        await throttle.retract([C], NOW + 1);
        assert.deepEqual(await throttle.recordFailure([C], NOW + 2, limit(5, 100)), { retryAfterSeconds: 0, failures: [1] });
        await throttle.retract([C], NOW + 100);
        assert.deepEqual(await throttle.recordFailure([C], NOW + 100, limit(5, 100)), { retryAfterSeconds: 0, failures: [1] });
        await throttle.retract(['account:unknown'], NOW);
      }));

      it('of 20 concurrent attempts against a limit of 3, exactly 3 are counted (atomic check and count)', withStorage(async (storage) => {
        const results = await Promise.all(Array.from({ length: 20 }, () => storage.loginThrottle.recordFailure([A, B], NOW, limit(3, 900))));
        const counted = results.filter((result) => result.retryAfterSeconds === 0);
        assert.equal(counted.length, 3);
        assert.deepEqual(counted.map((result) => result.failures[0]).sort(), [1, 2, 3]);
        for (const refused of results.filter((result) => result.retryAfterSeconds > 0)) assert.deepEqual(refused, { retryAfterSeconds: 900, failures: [3, 3] });
      }));
    });

    describe('rateLimits (SPEC decision 18: requests per client and address at the OAuth endpoints, shared by every instance)', () => {
      const A = 'token:client:7af385a0-284d-48c5-b225-362862085551';
      const B = 'token:address:127.0.0.1';

      it('counts hits per key in a fixed window that starts at the first hit; the hit at its end starts a new one', withStorage(async (storage) => {
        assert.deepEqual(await storage.rateLimits.hit([A, B], 10, NOW), [{ hits: 1, windowEndsAt: NOW + 10 }, { hits: 1, windowEndsAt: NOW + 10 }]);
        assert.deepEqual(await storage.rateLimits.hit([A], 10, NOW + 4), [{ hits: 2, windowEndsAt: NOW + 10 }]);
        assert.deepEqual(await storage.rateLimits.hit([A, B], 10, NOW + 9), [{ hits: 3, windowEndsAt: NOW + 10 }, { hits: 2, windowEndsAt: NOW + 10 }]);
        // The window is current while now < windowEndsAt: at NOW + 10 both start over.
        assert.deepEqual(await storage.rateLimits.hit([B, A], 10, NOW + 10), [{ hits: 1, windowEndsAt: NOW + 20 }, { hits: 1, windowEndsAt: NOW + 20 }]);
        // A window's length is fixed when it starts; a longer one asked later applies from the next window.
        assert.deepEqual(await storage.rateLimits.hit([A], 60, NOW + 11), [{ hits: 2, windowEndsAt: NOW + 20 }]);
        assert.deepEqual(await storage.rateLimits.hit([A], 60, NOW + 25), [{ hits: 1, windowEndsAt: NOW + 85 }]);
      }));

      it('keys are independent, and a key repeated in one call is counted once', withStorage(async (storage) => {
        await storage.rateLimits.hit([A], 10, NOW);
        await storage.rateLimits.hit([A], 10, NOW);
        assert.deepEqual(await storage.rateLimits.hit(['revoke:client:other', A, A], 10, NOW + 1), [
          { hits: 1, windowEndsAt: NOW + 11 }, { hits: 3, windowEndsAt: NOW + 10 }, { hits: 3, windowEndsAt: NOW + 10 },
        ]);
        assert.deepEqual(await storage.rateLimits.hit([], 10, NOW), []);
      }));

      it('concurrent hits are each counted exactly once (atomic per key)', withStorage(async (storage) => {
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => storage.rateLimits.hit(i % 2 ? [A, B] : [B, A], 10, NOW)));
        const countsOf = (key: string) => results.map((result, i) => result[(i % 2 ? [A, B] : [B, A]).indexOf(key)]!.hits).sort((x, y) => x - y);
        assert.deepEqual(countsOf(A), Array.from({ length: 20 }, (_, i) => i + 1));
        assert.deepEqual(countsOf(B), Array.from({ length: 20 }, (_, i) => i + 1));
      }));

      it('cleanup deletes ended windows only', withStorage(async (storage) => {
        await storage.rateLimits.hit([A], 10, NOW);
        await storage.rateLimits.hit([B], 10, NOW + 5);
        const result = await storage.cleanup.deleteExpired(NOW + 10, 1);
        assert.equal(result.rateLimitWindows, 1);
        assert.equal(result.deleted, 1);
        assert.deepEqual(await storage.rateLimits.hit([B, A], 10, NOW + 10), [{ hits: 2, windowEndsAt: NOW + 15 }, { hits: 1, windowEndsAt: NOW + 20 }]);
      }));

      it('refuses a window shorter than one second', withStorage(async (storage) => {
        await assert.rejects(storage.rateLimits.hit([A], 0, NOW), RangeError);
      }));
    });

    describe('loginThrottle.attempt (issue 10 §3: growing delays per key instead of a hard lockout)', () => {
      const PAIR = 'pair:alice:192.0.2.7';
      const ACCOUNT = 'account:alice';
      const ADDRESS = 'address:192.0.2.7';
      const rule = (freeFailures: number, baseDelaySeconds = 1, maxDelaySeconds = 900, forgetAfterSeconds = 3600) =>
        ({ freeFailures, baseDelaySeconds, maxDelaySeconds, forgetAfterSeconds });

      it('counts the first freeFailures failures without a wait, then each further attempt waits base × 2^(n − free) after the latest failure', withStorage(async (storage) => {
        const at = (now: number) => storage.loginThrottle.attempt([{ key: PAIR, rule: rule(3) }], now);
        assert.deepEqual(await at(NOW), { retryAfterSeconds: 0, failures: [1] });
        assert.deepEqual(await at(NOW), { retryAfterSeconds: 0, failures: [2] });
        assert.deepEqual(await at(NOW), { retryAfterSeconds: 0, failures: [3] });
        assert.deepEqual(await at(NOW), { retryAfterSeconds: 1, failures: [3] }, '3 failures: wait 1 s, not counted');
        assert.deepEqual(await at(NOW + 1), { retryAfterSeconds: 0, failures: [4] });
        assert.deepEqual(await at(NOW + 2), { retryAfterSeconds: 1, failures: [4] }, '4 failures: wait 2 s after the latest');
        assert.deepEqual(await at(NOW + 3), { retryAfterSeconds: 0, failures: [5] });
        assert.deepEqual(await at(NOW + 3), { retryAfterSeconds: 4, failures: [5] });
        assert.deepEqual(await at(NOW + 7), { retryAfterSeconds: 0, failures: [6] });
        assert.deepEqual(await at(NOW + 7), { retryAfterSeconds: 8, failures: [6] });
      }));

      it('caps the delay at maxDelaySeconds and forgets a key forgetAfterSeconds after its latest failure', withStorage(async (storage) => {
        const capped = rule(0, 10, 30, 100);
        const at = (now: number) => storage.loginThrottle.attempt([{ key: PAIR, rule: capped }], now);
        assert.deepEqual(await at(NOW), { retryAfterSeconds: 0, failures: [1] });
        assert.equal((await at(NOW)).retryAfterSeconds, 20, '1 failure: 10 × 2^1');
        assert.deepEqual(await at(NOW + 20), { retryAfterSeconds: 0, failures: [2] });
        assert.equal((await at(NOW + 20)).retryAfterSeconds, 30, 'capped at 30 s');
        assert.deepEqual(await at(NOW + 50), { retryAfterSeconds: 0, failures: [3] });
        assert.equal((await at(NOW + 149)).retryAfterSeconds, 0, 'past the cap');
        // The attempt at NOW + 149 counted (4 failures, latest NOW + 149): forgotten at NOW + 249.
        assert.deepEqual(await at(NOW + 249), { retryAfterSeconds: 0, failures: [1] });
      }));

      it('refuses when any key must wait, answers the longest wait, and counts on no key', withStorage(async (storage) => {
        const throttle = storage.loginThrottle;
        const counters = (pair: string) => [{ key: pair, rule: rule(5) }, { key: ACCOUNT, rule: rule(2, 60) }, { key: ADDRESS, rule: rule(100) }];
        assert.deepEqual(await throttle.attempt(counters('pair:alice:a'), NOW), { retryAfterSeconds: 0, failures: [1, 1, 1] });
        assert.deepEqual(await throttle.attempt(counters('pair:alice:b'), NOW + 5), { retryAfterSeconds: 0, failures: [1, 2, 2] });
        assert.deepEqual(await throttle.attempt(counters('pair:alice:c'), NOW + 10), { retryAfterSeconds: 55, failures: [0, 2, 2] }, 'the account waits 60 s');
        assert.deepEqual(await throttle.attempt([{ key: ADDRESS, rule: rule(100) }], NOW + 10), { retryAfterSeconds: 0, failures: [3] }, 'the refused attempt counted nowhere');
        assert.deepEqual(await throttle.attempt([{ key: 'pair:alice:c', rule: rule(5) }], NOW + 10), { retryAfterSeconds: 0, failures: [1] });
      }));

      it('a success resets or retracts like recordFailure\'s windows; a key repeated uses its first rule', withStorage(async (storage) => {
        const throttle = storage.loginThrottle;
        await throttle.attempt([{ key: PAIR, rule: rule(1) }, { key: ADDRESS, rule: rule(1) }], NOW);
        await throttle.reset(PAIR);
        await throttle.retract([ADDRESS], NOW);
        assert.deepEqual(await throttle.attempt([{ key: PAIR, rule: rule(1) }, { key: ADDRESS, rule: rule(1) }], NOW), { retryAfterSeconds: 0, failures: [1, 1] });
        assert.deepEqual(await throttle.attempt([{ key: ACCOUNT, rule: rule(5) }, { key: ACCOUNT, rule: rule(0) }], NOW), { retryAfterSeconds: 0, failures: [1, 1] });
      }));

      it('of 20 concurrent attempts with 3 free failures, exactly 3 are counted (atomic check and count)', withStorage(async (storage) => {
        const counters = [{ key: PAIR, rule: rule(3) }, { key: ADDRESS, rule: rule(100) }];
        const results = await Promise.all(Array.from({ length: 20 }, () => storage.loginThrottle.attempt(counters, NOW)));
        const counted = results.filter((result) => result.retryAfterSeconds === 0);
        assert.equal(counted.length, 3);
        assert.deepEqual(counted.map((result) => result.failures[0]).sort(), [1, 2, 3]);
        for (const refused of results.filter((result) => result.retryAfterSeconds > 0)) assert.deepEqual(refused, { retryAfterSeconds: 1, failures: [3, 3] });
      }));
    });

    describe('cleanup (expired codes, tokens, sessions and superseded grants; never audit events)', () => {
      it('deletes exactly what expired, keeps refresh-token families until their own expiry, and only then their revoked grants', withStorage(async (storage) => {
        const f = await fixture(storage);
        const D = DAY_SECONDS;
        const C = NOW + 200 * D; // the time of the cleanup run
        const subject = async () => ({ subjectId: (await createCompany(storage)).subjectId });

        // Login sessions: expired ones (expiresAt <= now) go; a live one stays.
        const sessions = [-5, -4, -3, -2, -1, 0, 1].map((offset) => ({ sessionDigest: digest(), userId: f.user.userId, createdAt: C - 3600, expiresAt: C + offset }));
        for (const session of sessions) await storage.loginSessions.create(session);

        // An active grant refreshed over 70 days: its rotated-out refresh tokens have expired one by one,
        // but the family lives on (R2 valid until C + 60 d), so all of them stay recognisable as replays.
        const live = await rotationChain(storage, f, [C - 70 * D, C - 65 * D, C - 600], await subject());
        // An active grant nobody refreshed for 61 days: the whole family expired. The grant stays (active consent).
        const dormant = await rotationChain(storage, f, [C - 130 * D, C - 61 * D], await subject());
        // Revoked yesterday (a replay): its family is still within its expiry, so its refresh tokens stay.
        const revokedRecently = await rotationChain(storage, f, [C - 20 * D, C - 2 * D], await subject());
        await storage.grants.revoke(revokedRecently.grant.grantId, C - D, 'refresh_token_reuse');
        // Revoked long ago with a long-expired family: everything goes, the grant too.
        const revokedLongAgo = await rotationChain(storage, f, [C - 150 * D, C - 100 * D], await subject());
        await storage.grants.revoke(revokedLongAgo.grant.grantId, C - 99 * D, 'user_revoked');
        // Superseded (SPEC decision 11) by a new consent three days ago: the old grant goes with its tokens.
        const company = await subject();
        const superseded = await rotationChain(storage, f, [C - 120 * D], company);
        const successor = await rotationChain(storage, f, [C - 3 * D], company);
        assert.equal((await storage.grants.find(superseded.grant.grantId))?.revocationReason, 'superseded');
        // A revoked grant with an expired family whose code is still kept for replay detection: the code
        // refers to the grant, so the grant stays until the code goes.
        const heldSubject = await subject();
        const heldCode = codeRecord(f, { ...heldSubject, issuedAt: C - AUTHORIZATION_CODE_RETENTION_SECONDS - 59, expiresAt: C - AUTHORIZATION_CODE_RETENTION_SECONDS + 1 });
        await storage.authorizationCodes.create(heldCode);
        await storage.authorizationCodes.consume(heldCode.codeDigest, heldCode.issuedAt);
        const heldGrant = grantRecord(f, { ...heldSubject, createdAt: C - 61 * D });
        const heldTokens = tokenPair(heldGrant, C - 61 * D);
        assert.equal(await storage.grants.issueForCode(heldCode.codeDigest, heldGrant, heldTokens), 'issued');
        await storage.grants.revoke(heldGrant.grantId, C - 2 * D, 'user_revoked');

        // Unredeemed codes around the retention boundary (expiresAt + retention <= now goes).
        const codeAt = (expiresAt: number) => codeRecord(f, { issuedAt: expiresAt - 60, expiresAt });
        const codeTooOld = codeAt(C - AUTHORIZATION_CODE_RETENTION_SECONDS - 1);
        const codeAtBoundary = codeAt(C - AUTHORIZATION_CODE_RETENTION_SECONDS);
        const codeRetained = codeAt(C - AUTHORIZATION_CODE_RETENTION_SECONDS + 1);
        const codeLive = codeAt(C + 30);
        for (const code of [codeTooOld, codeAtBoundary, codeRetained, codeLive]) await storage.authorizationCodes.create(code);

        // Login-throttle windows: one ended (C - 100), one current (until C + 890).
        await storage.loginThrottle.recordFailure(['account:ended'], C - 1000, { maxFailures: 10, windowSeconds: 900 });
        await storage.loginThrottle.recordFailure(['address:current'], C - 10, { maxFailures: 10, windowSeconds: 900 });

        // Known devices: one expired (at C), one still known.
        const [deviceGone, deviceKept] = [digest(), digest()];
        await storage.knownDevices.remember(deviceGone, f.user.userId, C - 180 * D, C);
        await storage.knownDevices.remember(deviceKept, f.user.userId, C - 10, C + 180 * D);

        for (let i = 0; i < 3; i++) await storage.audit.record({ type: `event.${i}`, at: C - 200 * D + i, actor: 'system' });

        const result = await storage.cleanup.deleteExpired(C, 2);
        assert.deepEqual(result, {
          deleted: 35, loginSessions: 6, authorizationCodes: 8, accessTokens: 11, refreshTokens: 6, grants: 2, loginThrottleWindows: 1, interactions: 0, rateLimitWindows: 0, knownDevices: 1, pushedRequests: 0,
          refreshTokenGrace: 0,
        });
        assert.equal(await storage.knownDevices.isKnown(deviceKept, f.user.userId, C), true, 'a device still known stays');

        const exists = async (token: TokenRecord) => (await storage.tokens.findByDigest(token.tokenDigest)) !== undefined;
        const [l0, l1, l2] = live.pairs;
        assert.deepEqual(await Promise.all([l0![0], l1![0], l2![0]].map(exists)), [false, false, true], 'live grant: expired access tokens go');
        assert.deepEqual(await Promise.all([l0![1], l1![1], l2![1]].map(exists)), [true, true, true], 'live grant: the refresh family stays whole');
        // ...so presenting the oldest one is still recognised as a replay (rotated, not unknown).
        assert.equal((await storage.tokens.findByDigest(l0![1].tokenDigest))?.token.rotatedAt, C - 65 * D);
        assert.ok(await storage.grants.find(live.grant.grantId));

        for (const pair of dormant.pairs) for (const token of pair) assert.equal(await exists(token), false, 'dormant: expired family');
        assert.deepEqual(await storage.grants.find(dormant.grant.grantId), dormant.grant, 'an active grant is the record of consent: kept');

        assert.deepEqual(await Promise.all(revokedRecently.pairs.flat().map(exists)), [false, true, false, true], 'recently revoked: refresh family kept');
        assert.ok(await storage.grants.find(revokedRecently.grant.grantId));

        for (const token of revokedLongAgo.pairs.flat()) assert.equal(await exists(token), false);
        assert.equal(await storage.grants.find(revokedLongAgo.grant.grantId), undefined, 'revoked, no tokens, no code: deleted');

        for (const token of superseded.pairs.flat()) assert.equal(await exists(token), false);
        assert.equal(await storage.grants.find(superseded.grant.grantId), undefined, 'superseded, no tokens: deleted');
        assert.deepEqual(await Promise.all(successor.pairs.flat().map(exists)), [false, true]);
        assert.deepEqual(await storage.grants.find(successor.grant.grantId), successor.grant);

        for (const token of heldTokens) assert.equal(await exists(token), false);
        assert.ok(await storage.grants.find(heldGrant.grantId), 'its retained code still refers to it');

        assert.deepEqual(await storage.loginSessions.findActive(sessions.at(-1)!.sessionDigest, C), sessions.at(-1));
        assert.equal((await storage.loginThrottle.recordFailure(['address:current'], C, { maxFailures: 10, windowSeconds: 900 })).failures[0], 2, 'current window kept');
        assert.equal((await storage.loginThrottle.recordFailure(['account:ended'], C, { maxFailures: 10, windowSeconds: 900 })).failures[0], 1);
        assert.equal((await storage.audit.list()).length, 3, 'audit events are never deleted (SPEC decision 19)');

        // Codes: the retained ones still answer replays (RFC 6749 §4.1.2); the deleted ones are unknown.
        const replay = await storage.authorizationCodes.consume(heldCode.codeDigest, C);
        assert.deepEqual(replay.outcome === 'replayed' && replay.grantId, heldGrant.grantId);
        assert.equal((await storage.authorizationCodes.consume(codeRetained.codeDigest, C)).outcome, 'consumed');
        assert.equal((await storage.authorizationCodes.consume(codeLive.codeDigest, C)).outcome, 'consumed');
        for (const code of [codeTooOld, codeAtBoundary, live.code, superseded.code]) {
          assert.equal((await storage.authorizationCodes.consume(code.codeDigest, C)).outcome, 'unknown');
        }

        // Nothing more to do at the same time.
        assert.equal((await storage.cleanup.deleteExpired(C, 2)).deleted, 0);
        // Once the retained code ages out, its revoked grant goes in the same run.
        const later = await storage.cleanup.deleteExpired(C + 2, 100);
        assert.equal(later.authorizationCodes, 2); // heldCode and codeRetained
        assert.equal(later.grants, 1);
        assert.equal(await storage.grants.find(heldGrant.grantId), undefined);

        // The live family moves on: a rotation 30 days later extends it to C + 90 d. After R2's own expiry
        // (C + 60 d) every rotated-out token still stays; once the family has expired, all of it goes.
        const [a3, r3] = tokenPair(live.grant, C + 30 * D);
        assert.equal(await storage.tokens.rotateRefreshToken(l2![1].tokenDigest, C + 30 * D, [a3, r3]), 'rotated');
        await storage.cleanup.deleteExpired(C + 61 * D, 2); // other families (revokedRecently, successor) end here
        for (const token of [l0![1], l1![1], l2![1], r3]) assert.equal(await exists(token), true, 'the family lives until C + 90 d');
        assert.equal((await storage.cleanup.deleteExpired(C + 90 * D, 2)).refreshTokens, 4, 'the live family, and nothing else was left');
        for (const token of [l0![1], l1![1], l2![1], r3]) assert.equal(await exists(token), false);
        assert.ok(await storage.grants.find(live.grant.grantId), 'an active grant stays, tokens or not');
      }));

      it('concurrent cleanup runs delete every row once between them (safe on every instance at once)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const C = NOW + 100 * DAY_SECONDS;
        for (let i = 0; i < 25; i++) {
          await storage.loginSessions.create({ sessionDigest: digest(), userId: f.user.userId, createdAt: NOW, expiresAt: C - 1 - i });
        }
        for (let i = 0; i < 6; i++) {
          const { grant } = await rotationChain(storage, f, [NOW, NOW + 10], { subjectId: (await createCompany(storage)).subjectId });
          await storage.grants.revoke(grant.grantId, NOW + 20, 'user_revoked');
        }
        const runs = await Promise.all(Array.from({ length: 4 }, () => storage.cleanup.deleteExpired(C, 3)));
        const total = (kind: keyof CleanupResult) => runs.reduce((sum, run) => sum + run[kind], 0);
        assert.equal(total('loginSessions'), 25);
        assert.equal(total('accessTokens'), 12);
        assert.equal(total('refreshTokens'), 12);
        assert.equal(total('authorizationCodes'), 6);
        // A run may finish its grant pass before another run deletes the last tokens: one more run completes it.
        const after = await storage.cleanup.deleteExpired(C, 3);
        assert.equal(total('grants') + after.grants, 6);
        assert.equal(after.deleted - after.grants, 0);
      }));

      it('refuses a batch size below 1', withStorage(async (storage) => {
        await assert.rejects(storage.cleanup.deleteExpired(NOW, 0), RangeError);
      }));
    });

    describe('audit', () => {
      it('records events and lists them newest first with details intact (SPEC decision 19)', withStorage(async (storage) => {
        assert.deepEqual(await storage.audit.list(), []);
        const clientId = randomUUID();
        const grantId = randomUUID();
        await storage.audit.record({ type: 'client.registered', at: NOW, actor: 'admin:cli', clientId, details: { client_name: 'Ledgerly', status: 'active' } });
        await storage.audit.record({ type: 'token.issued', at: NOW + 1, actor: `client:${clientId}`, clientId, grantId, details: { scope: 'users:read', count: 2, first: true, previous: null } });
        await storage.audit.record({ type: 'system.started', at: NOW + 1, actor: 'system' });

        const events = await storage.audit.list();
        assert.deepEqual(events.map((event) => event.type), ['system.started', 'token.issued', 'client.registered']);
        assert.ok(events[0]!.eventId > events[1]!.eventId && events[1]!.eventId > events[2]!.eventId, 'event ids increase with time');
        const { eventId: _eventId, ...issued } = events[1]!;
        assert.deepEqual(issued, { type: 'token.issued', at: NOW + 1, actor: `client:${clientId}`, clientId, grantId, details: { scope: 'users:read', count: 2, first: true, previous: null } });
        assert.equal(events[2]!.grantId ?? null, null);
        assert.equal(events[0]!.clientId ?? null, null);
        assert.deepEqual(events[0]!.details ?? {}, {});
      }));

      it('lists at most `limit` events, the newest', withStorage(async (storage) => {
        for (let i = 0; i < 5; i++) await storage.audit.record({ type: `event.${i}`, at: NOW + i, actor: 'system' });
        assert.deepEqual((await storage.audit.list({ limit: 2 })).map((event) => event.type), ['event.4', 'event.3']);
        assert.equal((await storage.audit.list()).length, 5);
      }));

      it('listSince pages through the events at or after a time, oldest first (gatehouse audit export)', withStorage(async (storage) => {
        for (let i = 0; i < 5; i++) await storage.audit.record({ type: `event.${i}`, at: NOW + i * 10, actor: 'system', details: { n: i } });
        const firstPage = await storage.audit.listSince(NOW + 10, 0, 2);
        assert.deepEqual(firstPage.map((event) => event.type), ['event.1', 'event.2']);
        assert.deepEqual(firstPage[0]!.details, { n: 1 });
        const secondPage = await storage.audit.listSince(NOW + 10, firstPage[1]!.eventId, 10);
        assert.deepEqual(secondPage.map((event) => event.type), ['event.3', 'event.4']);
        assert.deepEqual(await storage.audit.listSince(NOW + 1000, 0, 10), []);
      }));

      it('deleteOlderThan deletes only events older than the retention cutoff, in batches (issue 14, audit retention)', withStorage(async (storage) => {
        for (const at of [NOW - 300, NOW - 200, NOW - 100, NOW]) await storage.audit.record({ type: `at.${at - NOW}`, at, actor: 'system' });
        assert.equal(await storage.audit.deleteOlderThan(NOW - 50, NOW, 2), 2);
        assert.equal(await storage.audit.deleteOlderThan(NOW - 50, NOW, 2), 1);
        assert.equal(await storage.audit.deleteOlderThan(NOW - 50, NOW, 2), 0);
        assert.deepEqual((await storage.audit.list()).map((event) => event.type), ['at.0']);
      }));

      it('filters by client and type and pages with a cursor (the portal\'s integration activity)', withStorage(async (storage) => {
        const mine = randomUUID();
        const theirs = randomUUID();
        for (let i = 0; i < 5; i++) await storage.audit.record({ type: i % 2 === 0 ? 'token.refused' : 'consent.granted', at: NOW + i, actor: 'system', clientId: mine });
        await storage.audit.record({ type: 'token.refused', at: NOW + 9, actor: 'system', clientId: theirs });
        const firstPage = await storage.audit.list({ clientId: mine, limit: 2 });
        assert.deepEqual(firstPage.map((event) => event.at), [NOW + 4, NOW + 3]);
        const secondPage = await storage.audit.list({ clientId: mine, limit: 2, beforeEventId: firstPage.at(-1)!.eventId });
        assert.deepEqual(secondPage.map((event) => event.at), [NOW + 2, NOW + 1]);
        const refused = await storage.audit.list({ clientId: mine, types: ['token.refused'] });
        assert.deepEqual(refused.map((event) => event.at), [NOW + 4, NOW + 2, NOW]);
        assert.ok(refused.every((event) => event.clientId === mine), 'another client\'s events never appear');
        assert.deepEqual(await storage.audit.list({ clientId: mine, types: [] }), [], 'an empty type list keeps nothing');
        assert.equal((await storage.audit.list({ types: ['token.refused', 'consent.granted'] })).length, 6);
      }));
    });

    directoryContract(withStorage);
    localAccountsContract(withStorage);
    webhooksContract(withStorage);
    resourcesContract(withStorage);
    apiKeysContract(withStorage);
    userIdentityContract(withStorage);
    dpopContract(withStorage, { fixture, issueGrant, tokenPair });
    brandingReviewsContract(withStorage);
    partnerTeamsContract(withStorage);
    marketplaceContract(withStorage, fixture); // issue 13

    describe('settings', () => {
      it('getOrCreate creates a value once and returns the same value afterwards', withStorage(async (storage) => {
        let calls = 0;
        const create = () => {
          calls += 1;
          return randomBytes(32).toString('base64url');
        };
        const first = await storage.settings.getOrCreate('token_key', create);
        const second = await storage.settings.getOrCreate('token_key', create);
        assert.equal(second, first);
        assert.equal(calls, 1);
        const other = await storage.settings.getOrCreate('other_key', () => 'other');
        assert.equal(other, 'other');
        assert.equal(await storage.settings.getOrCreate('token_key', () => 'never'), first);
      }));

      it('of concurrent getOrCreate calls for one name all see one value', withStorage(async (storage) => {
        const values = await Promise.all(Array.from({ length: 10 }, (_, i) => storage.settings.getOrCreate('token_key', () => `value-${i}`)));
        assert.equal(new Set(values).size, 1);
      }));

      it('list(prefix) returns exactly the settings whose name starts with the prefix, ordered by name (key rings)', withStorage(async (storage) => {
        await storage.settings.getOrCreate('token_hmac_key.k2', () => 'two');
        await storage.settings.getOrCreate('token_hmac_key.k1', () => 'one');
        await storage.settings.getOrCreate('token_hmac_keyX', () => 'not in the ring');
        await storage.settings.getOrCreate('token_hmac_key', () => 'shorter than the prefix');
        await storage.settings.getOrCreate('other', () => 'other');
        assert.deepEqual(await storage.settings.list('token_hmac_key.'), [
          { name: 'token_hmac_key.k1', value: 'one' }, { name: 'token_hmac_key.k2', value: 'two' },
        ]);
        assert.deepEqual(await storage.settings.list('nothing.'), []);
        // LIKE wildcards in a prefix are plain characters.
        await storage.settings.getOrCreate('a_b', () => 'underscore');
        await storage.settings.getOrCreate('axb', () => 'x');
        assert.deepEqual(await storage.settings.list('a_'), [{ name: 'a_b', value: 'underscore' }]);
      }));
    });

    describe('interactions (SPEC decision 11: the consent request kept server-side, bound to a session, single use)', () => {
      const interactionRecord = (f: Fixture, overrides: Partial<InteractionRecord> = {}): InteractionRecord => ({
        interactionDigest: digest(), sessionDigest: digest(), clientId: f.client.clientId,
        requestParameters: { response_type: 'code', client_id: f.client.clientId, redirect_uri: f.client.redirectUris[0]!, scope: 'users:read', state: 'a b&c=d"é' },
        createdAt: NOW, expiresAt: NOW + 600, ...overrides,
      });

      it('consume returns the stored request once, for its own session, then nothing', withStorage(async (storage) => {
        const f = await fixture(storage);
        const interaction = interactionRecord(f);
        await storage.interactions.create(interaction);
        assert.deepEqual(await storage.interactions.consume(interaction.interactionDigest, interaction.sessionDigest, NOW + 1), interaction);
        assert.equal(await storage.interactions.consume(interaction.interactionDigest, interaction.sessionDigest, NOW + 2), undefined);
      }));

      it("consume by another session gets nothing and leaves it for its own session", withStorage(async (storage) => {
        const f = await fixture(storage);
        const interaction = interactionRecord(f);
        await storage.interactions.create(interaction);
        assert.equal(await storage.interactions.consume(interaction.interactionDigest, digest(), NOW + 1), undefined);
        assert.deepEqual(await storage.interactions.consume(interaction.interactionDigest, interaction.sessionDigest, NOW + 1), interaction);
      }));

      it('consume at or after expiresAt gets nothing; an unknown digest gets nothing', withStorage(async (storage) => {
        const f = await fixture(storage);
        const interaction = interactionRecord(f);
        await storage.interactions.create(interaction);
        assert.equal(await storage.interactions.consume(interaction.interactionDigest, interaction.sessionDigest, NOW + 600), undefined);
        assert.equal(await storage.interactions.consume(digest(), interaction.sessionDigest, NOW), undefined);
      }));

      it('of 20 concurrent consumes of one interaction exactly one wins (atomic)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const interaction = interactionRecord(f);
        await storage.interactions.create(interaction);
        const results = await Promise.all(Array.from({ length: 20 }, () => storage.interactions.consume(interaction.interactionDigest, interaction.sessionDigest, NOW + 1)));
        assert.equal(results.filter((result) => result !== undefined).length, 1);
      }));

      it('cleanup deletes expired interactions, used or not, and keeps live ones', withStorage(async (storage) => {
        const f = await fixture(storage);
        const expired = interactionRecord(f, { expiresAt: NOW - 1 });
        const atBoundary = interactionRecord(f, { expiresAt: NOW });
        const usedExpired = interactionRecord(f, { createdAt: NOW - 700, expiresAt: NOW - 100 });
        const live = interactionRecord(f, { expiresAt: NOW + 1 });
        for (const interaction of [expired, atBoundary, usedExpired, live]) await storage.interactions.create(interaction);
        assert.ok(await storage.interactions.consume(usedExpired.interactionDigest, usedExpired.sessionDigest, NOW - 200));
        const result = await storage.cleanup.deleteExpired(NOW, 2);
        assert.equal(result.interactions, 3);
        assert.deepEqual(await storage.interactions.consume(live.interactionDigest, live.sessionDigest, NOW), live);
      }));
    });

    describe('pushedRequests (RFC 9126: a pushed authorization request, bound to its client, single use)', () => {
      const pushedRecord = (f: Fixture, overrides: Partial<PushedRequestRecord> = {}): PushedRequestRecord => ({
        requestUriDigest: digest(), clientId: f.client.clientId,
        requestParameters: { response_type: 'code', client_id: f.client.clientId, redirect_uri: f.client.redirectUris[0]!, scope: 'users:read', state: 'a b&c=d"é' },
        createdAt: NOW, expiresAt: NOW + 60, ...overrides,
      });

      it('consume returns the pushed request once, to its own client, then nothing (RFC 9126 §4: single use)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const pushed = pushedRecord(f);
        await storage.pushedRequests.create(pushed);
        assert.deepEqual(await storage.pushedRequests.consume(pushed.requestUriDigest, f.client.clientId, NOW + 1), pushed);
        assert.equal(await storage.pushedRequests.consume(pushed.requestUriDigest, f.client.clientId, NOW + 2), undefined);
      }));

      it('consume by another client gets nothing and leaves it for its own client', withStorage(async (storage) => {
        const f = await fixture(storage);
        const pushed = pushedRecord(f);
        await storage.pushedRequests.create(pushed);
        assert.equal(await storage.pushedRequests.consume(pushed.requestUriDigest, randomUUID(), NOW + 1), undefined);
        assert.deepEqual(await storage.pushedRequests.consume(pushed.requestUriDigest, f.client.clientId, NOW + 1), pushed);
      }));

      it('consume at or after expiresAt gets nothing; an unknown digest gets nothing', withStorage(async (storage) => {
        const f = await fixture(storage);
        const pushed = pushedRecord(f);
        await storage.pushedRequests.create(pushed);
        assert.equal(await storage.pushedRequests.consume(pushed.requestUriDigest, f.client.clientId, NOW + 60), undefined);
        assert.equal(await storage.pushedRequests.consume(digest(), f.client.clientId, NOW), undefined);
      }));

      it('of 20 concurrent consumes of one pushed request exactly one wins (atomic)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const pushed = pushedRecord(f);
        await storage.pushedRequests.create(pushed);
        const results = await Promise.all(Array.from({ length: 20 }, () => storage.pushedRequests.consume(pushed.requestUriDigest, f.client.clientId, NOW + 1)));
        assert.equal(results.filter((result) => result !== undefined).length, 1);
      }));

      it('cleanup deletes expired pushed requests, used or not, and keeps live ones', withStorage(async (storage) => {
        const f = await fixture(storage);
        const expired = pushedRecord(f, { expiresAt: NOW - 1 });
        const atBoundary = pushedRecord(f, { expiresAt: NOW });
        const usedExpired = pushedRecord(f, { createdAt: NOW - 100, expiresAt: NOW - 40 });
        const live = pushedRecord(f, { expiresAt: NOW + 1 });
        for (const pushed of [expired, atBoundary, usedExpired, live]) await storage.pushedRequests.create(pushed);
        assert.ok(await storage.pushedRequests.consume(usedExpired.requestUriDigest, f.client.clientId, NOW - 50));
        const result = await storage.cleanup.deleteExpired(NOW, 2);
        assert.equal(result.pushedRequests, 3);
        assert.deepEqual(await storage.pushedRequests.consume(live.requestUriDigest, f.client.clientId, NOW), live);
      }));

      it('stores and updates a client\'s require_pushed_authorization_requests (RFC 9126 §6)', withStorage(async (storage) => {
        const client = clientRecord({ requirePushedAuthorizationRequests: true });
        await storage.clients.create(client);
        assert.deepEqual(await storage.clients.find(client.clientId), client);
        const changed = await storage.clients.update(client.clientId, { requirePushedAuthorizationRequests: false });
        assert.equal(changed?.requirePushedAuthorizationRequests ?? false, false);
        assert.equal((await storage.clients.find(client.clientId))?.requirePushedAuthorizationRequests ?? false, false);
      }));
    });

    describe('codes bound to their client and to what happened since (issue 11 items 7, 19; SPEC decision 6)', () => {
      it("consume by another client reports unknown and leaves the code for its own client (RFC 6749 §4.1.3)", withStorage(async (storage) => {
        const f = await fixture(storage);
        const code = codeRecord(f);
        await storage.authorizationCodes.create(code);
        assert.deepEqual(await storage.authorizationCodes.consume(code.codeDigest, NOW, randomUUID()), { outcome: 'unknown' });
        assert.deepEqual(await storage.authorizationCodes.consume(code.codeDigest, NOW, f.client.clientId), { outcome: 'consumed', code });
        // A used code presented by another client is unknown too: no replay is recorded for it.
        assert.deepEqual(await storage.authorizationCodes.consume(code.codeDigest, NOW, randomUUID()), { outcome: 'unknown' });
      }));

      /** Consumes a code issued at `issuedAt` and tries to issue a grant for it at `now`. */
      const redeem = async (storage: Storage, f: Fixture, issuedAt: number, now: number) => {
        const code = codeRecord(f, { issuedAt, expiresAt: issuedAt + 60 });
        await storage.authorizationCodes.create(code);
        assert.equal((await storage.authorizationCodes.consume(code.codeDigest, now, f.client.clientId)).outcome, 'consumed');
        const grant = grantRecord(f, { createdAt: now });
        const tokens = tokenPair(grant, now);
        return { outcome: await storage.grants.issueForCode(code.codeDigest, grant, tokens), grant, tokens };
      };

      it('issueForCode refuses a code issued before the grant was revoked (code_outdated) and creates nothing', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant: revoked } = await issueGrant(storage, f, NOW - 100);
        await storage.grants.revoke(revoked.grantId, NOW + 5, 'user_revoked');
        const late = await redeem(storage, f, NOW, NOW + 10);
        assert.equal(late.outcome, 'code_outdated');
        assert.equal(await storage.grants.find(late.grant.grantId), undefined);
        assert.equal(await storage.tokens.findByDigest(late.tokens[1].tokenDigest), undefined);
        assert.equal(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), undefined);
      }));

      it('issueForCode refuses an older code after a newer redemption and leaves the newer grant active', withStorage(async (storage) => {
        const f = await fixture(storage);
        const newer = await redeem(storage, f, NOW + 5, NOW + 6);
        assert.equal(newer.outcome, 'issued');
        const older = await redeem(storage, f, NOW, NOW + 10);
        assert.equal(older.outcome, 'code_outdated');
        assert.equal(await storage.grants.find(older.grant.grantId), undefined);
        assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), newer.grant);
        assert.equal((await storage.tokens.findByDigest(newer.tokens[1].tokenDigest))?.token.revokedAt, null);
      }));

      it('issueForCode still supersedes a grant that was created and revoked before the code was issued', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant: old } = await issueGrant(storage, f, NOW - 100);
        await storage.grants.revoke(old.grantId, NOW - 50, 'user_revoked');
        const { grant: current } = await issueGrant(storage, f, NOW - 40);
        const fresh = await redeem(storage, f, NOW, NOW + 10);
        assert.equal(fresh.outcome, 'issued');
        assert.equal((await storage.grants.find(current.grantId))?.revocationReason, 'superseded');
      }));

      it('issueForCode: an event in the same second as the code was issued does not count as newer (whole seconds)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant } = await issueGrant(storage, f, NOW);
        const same = await redeem(storage, f, NOW, NOW);
        assert.equal(same.outcome, 'issued');
        assert.equal((await storage.grants.find(grant.grantId))?.revocationReason, 'superseded');
      }));
    });

    describe('exchangeCode (issue 12: the code exchange is one atomic operation)', () => {
      const audited = async (storage: Storage, grantId: string) =>
        (await storage.audit.list({ limit: 1000 })).filter((event) => event.grantId === grantId && event.type === 'token.issued').length;
      /** A stored, unused code and what its exchange would store. */
      const prepared = async (storage: Storage, f: Fixture, issuedAt = NOW, now = NOW + 1) => {
        const code = codeRecord(f, { issuedAt, expiresAt: issuedAt + 60 });
        await storage.authorizationCodes.create(code);
        const grant = grantRecord(f, { createdAt: now });
        const tokens = tokenPair(grant, now);
        const event = { type: 'token.issued', at: now, actor: `client:${f.client.clientId}`, clientId: f.client.clientId, grantId: grant.grantId, details: { grant_type: 'authorization_code' } };
        const exchange = () => storage.grants.exchangeCode(code.codeDigest, f.client.clientId, now, grant, tokens, event);
        return { code, grant, tokens, now, exchange };
      };

      it('issueForCode for a code that is not stored answers code_replayed and stores nothing', withStorage(async (storage) => {
        const f = await fixture(storage);
        const grant = grantRecord(f);
        assert.equal(await storage.grants.issueForCode(digest(), grant, tokenPair(grant, NOW)), 'code_replayed');
        assert.equal(await storage.grants.find(grant.grantId), undefined);
      }));

      it('find reads a code of its client without changing it; another client\'s or an unknown code is undefined (RFC 6749 §4.1.3)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { code } = await prepared(storage, f);
        assert.deepEqual(await storage.authorizationCodes.find(code.codeDigest, f.client.clientId), { code, used: false });
        assert.deepEqual(await storage.authorizationCodes.find(code.codeDigest, f.client.clientId), { code, used: false });
        assert.equal(await storage.authorizationCodes.find(code.codeDigest, randomUUID()), undefined);
        assert.equal(await storage.authorizationCodes.find(digest(), f.client.clientId), undefined);
        assert.equal((await storage.authorizationCodes.consume(code.codeDigest, NOW, f.client.clientId)).outcome, 'consumed');
        assert.deepEqual(await storage.authorizationCodes.find(code.codeDigest, f.client.clientId), { code, used: true });
      }));

      it('issued: consumes the code and stores the grant, its tokens, the code\'s link and the audit event, all at once', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { code, grant, tokens, exchange } = await prepared(storage, f);
        assert.deepEqual(await exchange(), { outcome: 'issued' });
        assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), grant);
        for (const token of tokens) assert.deepEqual((await storage.tokens.findByDigest(token.tokenDigest))?.token, token);
        assert.equal(await audited(storage, grant.grantId), 1);
        assert.equal((await storage.authorizationCodes.find(code.codeDigest, f.client.clientId))?.used, true);
        // RFC 6749 §4.1.2: the next use is a replay that names the grant the first one produced.
        const replay = await storage.authorizationCodes.consume(code.codeDigest, NOW + 2, f.client.clientId);
        assert.equal(replay.outcome === 'replayed' && replay.grantId, grant.grantId);
      }));

      it('replayed: a used code is marked replayed, answers the first grant, and stores nothing else (RFC 6749 §4.1.2)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const first = await prepared(storage, f);
        assert.deepEqual(await first.exchange(), { outcome: 'issued' });
        const second = grantRecord(f, { createdAt: NOW + 2 });
        const tokens = tokenPair(second, NOW + 2);
        assert.deepEqual(await storage.grants.exchangeCode(first.code.codeDigest, f.client.clientId, NOW + 2, second, tokens), { outcome: 'replayed', grantId: first.grant.grantId });
        assert.equal(await storage.grants.find(second.grantId), undefined);
        for (const token of tokens) assert.equal(await storage.tokens.findByDigest(token.tokenDigest), undefined);
        // Revoking is the caller's decision (SPEC decision 6): the first grant is untouched.
        assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), first.grant);
        assert.equal(await audited(storage, second.grantId), 0);
      }));

      it('unknown: another client\'s code, or no such code, changes nothing and leaves the code for its own client', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { code, grant, tokens, exchange } = await prepared(storage, f);
        assert.deepEqual(await storage.grants.exchangeCode(code.codeDigest, randomUUID(), NOW + 1, grant, tokens), { outcome: 'unknown' });
        assert.deepEqual(await storage.grants.exchangeCode(digest(), f.client.clientId, NOW + 1, grant, tokens), { outcome: 'unknown' });
        assert.equal(await storage.grants.find(grant.grantId), undefined);
        assert.equal((await storage.authorizationCodes.find(code.codeDigest, f.client.clientId))?.used, false);
        assert.deepEqual(await exchange(), { outcome: 'issued' });
      }));

      it('code_outdated: a code issued before the grant was revoked consumes the code and creates nothing (SPEC decision 6)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant: revoked } = await issueGrant(storage, f, NOW - 100);
        await storage.grants.revoke(revoked.grantId, NOW + 5, 'user_revoked');
        const late = await prepared(storage, f, NOW, NOW + 10);
        assert.deepEqual(await late.exchange(), { outcome: 'code_outdated' });
        assert.equal(await storage.grants.find(late.grant.grantId), undefined);
        assert.equal(await storage.tokens.findByDigest(late.tokens[1].tokenDigest), undefined);
        assert.equal(await audited(storage, late.grant.grantId), 0);
        assert.equal((await storage.authorizationCodes.find(late.code.codeDigest, f.client.clientId))?.used, true);
      }));

      it('supersedes the previous active grant of the client and subject with its tokens (SPEC decision 11)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const old = await issueGrant(storage, f, NOW - 100);
        const fresh = await prepared(storage, f, NOW, NOW + 10);
        assert.deepEqual(await fresh.exchange(), { outcome: 'issued' });
        const superseded = await storage.grants.find(old.grant.grantId);
        assert.equal(superseded?.revokedAt, NOW + 10);
        assert.equal(superseded?.revocationReason, 'superseded');
        for (const token of [old.access, old.refresh]) assert.equal((await storage.tokens.findByDigest(token.tokenDigest))?.token.revokedAt, NOW + 10);
        assert.deepEqual(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), fresh.grant);
      }));

      it('of concurrent exchanges of one code exactly one issues, the others are replays, and one grant exists', withStorage(async (storage) => {
        const f = await fixture(storage);
        const code = codeRecord(f);
        await storage.authorizationCodes.create(code);
        const attempts = Array.from({ length: 12 }, () => {
          const grant = grantRecord(f, { createdAt: NOW + 1 });
          return { grant, tokens: tokenPair(grant, NOW + 1) };
        });
        const results = await Promise.all(attempts.map(({ grant, tokens }) => storage.grants.exchangeCode(code.codeDigest, f.client.clientId, NOW + 1, grant, tokens)));
        const winners = attempts.filter((_, i) => results[i]!.outcome === 'issued');
        assert.equal(winners.length, 1);
        for (const result of results) if (result.outcome !== 'issued') assert.deepEqual(result, { outcome: 'replayed', grantId: winners[0]!.grant.grantId });
        const stored = await Promise.all(attempts.map(({ grant }) => storage.grants.find(grant.grantId)));
        assert.equal(stored.filter(Boolean).length, 1);
      }));

      it('concurrent exchanges of different codes for one client and subject leave exactly one active grant (SPEC decision 11)', withStorage(async (storage) => {
        const f = await fixture(storage);
        const exchanges = await Promise.all(Array.from({ length: 8 }, () => prepared(storage, f, NOW, NOW)));
        const results = await Promise.all(exchanges.map(({ exchange }) => exchange()));
        // Same second as the codes' issue: no redemption is "newer" (whole seconds), each supersedes the one before.
        assert.ok(results.every((result) => result.outcome === 'issued'), JSON.stringify(results));
        const active = await storage.grants.listActive({ clientId: f.client.clientId });
        assert.equal(active.length, 1);
        // Every superseded grant's tokens are revoked; only the active grant's are live.
        for (const { grant, tokens } of exchanges) {
          for (const token of tokens) {
            const live = (await storage.tokens.findByDigest(token.tokenDigest))?.token.revokedAt === null;
            assert.equal(live, grant.grantId === active[0]!.grantId);
          }
        }
      }));
    });

    describe('readiness', () => {
      it('checkReady resolves on a reachable, fully migrated storage (/health/ready)', withStorage(async (storage) => {
        await storage.checkReady();
      }));
    });
  });
}
