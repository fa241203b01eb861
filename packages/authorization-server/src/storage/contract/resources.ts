/**
 * The resource-indicator part of the storage contract suite (RFC 8707, issue 15 §4), run by
 * contract/index.ts on every backend: registered resources, and the resources an authorization code and
 * a grant remember and the audience an access token carries, through issue, lookup and rotation.
 * Times are passed in explicitly.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GrantRecord, Storage, TokenRecord } from '../storage.ts';
import { type ContractBackend, NOW, bareClientRecord, digest } from './fixtures.ts';

const EXPORT_API = 'https://export.api.example';
const VENDOR_API = 'https://vendors.api.example/v2';

/** A client, a user and a company: what a code and a grant refer to. */
async function parties(storage: Storage) {
  const client = bareClientRecord({
    redirectUris: ['https://ledgerly.example/oauth/callback'], scopes: ['export-jobs:read', 'vendors:read'], subjectType: 'company', brandingVerified: false,
  });
  const userId = randomUUID();
  const company = { subjectType: 'company' as const, subjectId: randomUUID(), name: 'Nordlys ApS', organizationId: null };
  await storage.clients.create(client);
  await storage.users.create({ userId, email: `u-${userId}@example.com`, name: 'Alice', passwordHash: null });
  await storage.subjects.create(company);
  return { client, userId, company };
}

/** Stores a code naming `resources`, consumes it and issues a grant with an access token for `audience`. */
async function issue(storage: Storage, resources: string[] | undefined, audience: string | undefined) {
  const { client, userId, company } = await parties(storage);
  const code = {
    codeDigest: digest(), clientId: client.clientId, userId, redirectUri: client.redirectUris[0]!, scope: ['export-jobs:read', 'vendors:read'],
    subjectType: company.subjectType, subjectId: company.subjectId, codeChallenge: null, issuedAt: NOW, expiresAt: NOW + 60,
    ...(resources ? { resources } : {}),
  };
  await storage.authorizationCodes.create(code);
  const consumed = await storage.authorizationCodes.consume(code.codeDigest, NOW, client.clientId);
  assert.equal(consumed.outcome, 'consumed');
  assert.deepEqual(consumed.outcome === 'consumed' && consumed.code, code, 'the code gives back the resources it was created with');
  const grant: GrantRecord = {
    grantId: randomUUID(), clientId: client.clientId, userId, subjectType: company.subjectType, subjectId: company.subjectId,
    scope: code.scope, createdAt: NOW, revokedAt: null, revocationReason: null, ...(resources ? { resources } : {}),
  };
  const base = { grantId: grant.grantId, clientId: client.clientId, issuedAt: NOW, rotatedAt: null, revokedAt: null };
  const access: TokenRecord = { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'access', scope: ['export-jobs:read'], expiresAt: NOW + 900, ...(audience ? { audience } : {}) };
  const refresh: TokenRecord = { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'refresh', scope: grant.scope, expiresAt: NOW + 86_400 };
  assert.equal(await storage.grants.issueForCode(code.codeDigest, grant, [access, refresh]), 'issued');
  return { grant, access, refresh };
}

/** The resources contract, inside the caller's describe; `withStorage` gives each test a fresh storage. */
export function resourcesContract({ withStorage }: ContractBackend): void {
  describe('resources (RFC 8707 resource indicators, issue 15 §4)', () => {
    it('a resource is created once, found, listed oldest first and deleted', withStorage(async (storage) => {
      const exportApi = { resource: EXPORT_API, name: 'Export API', scopes: ['export-jobs:read', 'export-jobs:write'], createdAt: NOW + 1 };
      const vendorApi = { resource: VENDOR_API, name: 'Vendor API', scopes: ['vendors:read'], createdAt: NOW };
      assert.equal(await storage.resources.find(EXPORT_API), undefined);
      assert.equal(await storage.resources.create(exportApi), 'created');
      assert.equal(await storage.resources.create(vendorApi), 'created');
      assert.equal(await storage.resources.create({ ...exportApi, name: 'Other' }), 'duplicate');
      assert.deepEqual(await storage.resources.find(EXPORT_API), exportApi, 'the duplicate changed nothing');
      assert.deepEqual(await storage.resources.list(), [vendorApi, exportApi]);
      assert.equal(await storage.resources.find(`${EXPORT_API}/`), undefined, 'indicators are compared exactly');
      assert.equal(await storage.resources.delete(EXPORT_API), true);
      assert.equal(await storage.resources.delete(EXPORT_API), false);
      assert.deepEqual(await storage.resources.list(), [vendorApi]);
    }));

    it('a scope belongs to one resource: a creation claiming another resource\'s scope stores nothing (issue 15 §4)', withStorage(async (storage) => {
      const exportApi = { resource: EXPORT_API, name: 'Export API', scopes: ['export-jobs:read', 'export-jobs:write'], createdAt: NOW };
      assert.equal(await storage.resources.create(exportApi), 'created');
      const claiming = { resource: VENDOR_API, name: 'Vendor API', scopes: ['vendors:read', 'export-jobs:write'], createdAt: NOW };
      assert.deepEqual(await storage.resources.create(claiming), { outcome: 'scopes_claimed', scopes: ['export-jobs:write'] });
      assert.equal(await storage.resources.find(VENDOR_API), undefined);
      assert.deepEqual(await storage.resources.create({ ...exportApi, scopes: ['vendors:read'] }), 'duplicate', 'the indicator is checked first');
      assert.equal(await storage.resources.create({ ...claiming, scopes: ['vendors:read'] }), 'created');
    }));

    it('of concurrent creations claiming the same scope, exactly one is created and the others are refused naming it', withStorage(async (storage) => {
      // Several rounds, each started at once: on PostgreSQL each creation runs on its own pooled connection.
      for (let round = 0; round < 5; round++) {
        const scope = `export-jobs-${round}:read`;
        const candidates = [EXPORT_API, VENDOR_API, `${EXPORT_API}/v${round}`].map((resource, index) => (
          { resource: `${resource}?round=${round}`, name: 'API', scopes: [`own-${round}-${index}:read`, scope], createdAt: NOW }));
        const outcomes = await Promise.all(candidates.map((candidate) => storage.resources.create(candidate)));
        assert.equal(outcomes.filter((outcome) => outcome === 'created').length, 1, `round ${round}: ${JSON.stringify(outcomes)}`);
        assert.deepEqual(outcomes.filter((outcome) => outcome !== 'created'), [{ outcome: 'scopes_claimed', scopes: [scope] }, { outcome: 'scopes_claimed', scopes: [scope] }]);
        const holders = (await storage.resources.list()).filter((resource) => resource.scopes.includes(scope));
        assert.deepEqual(holders.map((resource) => resource.resource), [candidates[outcomes.indexOf('created')]!.resource], 'only the created one holds the scope');
      }
    }));

    it('of concurrent creations of the same indicator, exactly one is created and the others are duplicates', withStorage(async (storage) => {
      const outcomes = await Promise.all(['Export API', 'Export', 'Exports'].map((name) => storage.resources.create({ resource: EXPORT_API, name, scopes: [`export-jobs:${name.length}`], createdAt: NOW })));
      assert.deepEqual([...outcomes].sort(), ['created', 'duplicate', 'duplicate']);
      assert.equal((await storage.resources.list()).length, 1);
    }));

    it('a grant remembers its resources and an access token its audience, through lookup', withStorage(async (storage) => {
      const { grant, access, refresh } = await issue(storage, [EXPORT_API, VENDOR_API], EXPORT_API);
      const foundAccess = await storage.tokens.findByDigest(access.tokenDigest);
      assert.deepEqual(foundAccess?.token, access);
      assert.deepEqual(foundAccess?.grant, grant);
      assert.deepEqual((await storage.tokens.findByDigest(refresh.tokenDigest))?.token, refresh, 'a refresh token has no audience');
      assert.deepEqual((await storage.grants.find(grant.grantId))?.resources, [EXPORT_API, VENDOR_API]);
    }));

    it('without resources nothing is stored for them: the records come back without the members (the default resource)', withStorage(async (storage) => {
      const { grant, access } = await issue(storage, undefined, undefined);
      const found = await storage.tokens.findByDigest(access.tokenDigest);
      assert.equal('audience' in found!.token, false);
      assert.equal('resources' in found!.grant, false);
      assert.deepEqual(await storage.grants.find(grant.grantId), grant);
    }));

    it('a rotation stores the new access token with its audience (RFC 8707 §2.2: any one granted resource)', withStorage(async (storage) => {
      const { grant, refresh } = await issue(storage, [EXPORT_API, VENDOR_API], EXPORT_API);
      const base = { grantId: grant.grantId, clientId: grant.clientId, issuedAt: NOW + 10, rotatedAt: null, revokedAt: null };
      const access: TokenRecord = { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'access', scope: ['vendors:read'], expiresAt: NOW + 910, audience: VENDOR_API };
      const successor: TokenRecord = { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'refresh', scope: grant.scope, expiresAt: NOW + 86_410 };
      assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, [access, successor]), 'rotated');
      assert.deepEqual((await storage.tokens.findByDigest(access.tokenDigest))?.token, access);
      assert.deepEqual((await storage.tokens.findByDigest(successor.tokenDigest))?.token, successor);
    }));

    it('the revocation feed lists one audience\'s access tokens: a string is that audience, null the default resource', withStorage(async (storage) => {
      const forExport = await issue(storage, [EXPORT_API], EXPORT_API);
      const forDefault = await issue(storage, undefined, undefined);
      await storage.tokens.revokeAccessToken(forExport.access.tokenDigest, NOW + 5);
      await storage.tokens.revokeAccessToken(forDefault.access.tokenDigest, NOW + 6);
      const ids = async (audience?: string | null) => (await storage.tokens.listRevokedAccessTokens({ sinceSeconds: NOW }, NOW, 10, audience)).map((token) => token.tokenId);
      assert.deepEqual(await ids(EXPORT_API), [forExport.access.tokenId]);
      assert.deepEqual(await ids(null), [forDefault.access.tokenId]);
      assert.deepEqual(await ids(VENDOR_API), []);
      assert.deepEqual(await ids(), [forExport.access.tokenId, forDefault.access.tokenId], 'without audience: every access token, as before');
    }));
  });
}
