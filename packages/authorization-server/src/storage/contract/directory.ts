/**
 * The directory part of the storage contract suite (storage.ts `DirectoryStore`), run by
 * contract/index.ts on every backend. Records are built by hand; times are passed in explicitly.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DirectoryImportRecord, DirectorySubjectRecord, DirectoryUserRecord, Storage, TokenRecord } from '../storage.ts';
import { type ContractBackend, NOW, bareClientRecord, codeRecord, digest, fixture, grantRecord, mintedPair, tokenPair } from './fixtures.ts';

const user = (overrides: Partial<DirectoryUserRecord> = {}): DirectoryUserRecord => {
  const userId = randomUUID();
  return { userId, email: `user-${userId}@example.com`, name: 'Alice Admin', locale: 'da-DK', createdAt: NOW, updatedAt: NOW, ...overrides };
};
const company = (overrides: Partial<DirectorySubjectRecord> = {}): DirectorySubjectRecord =>
  ({ subjectType: 'company', subjectId: randomUUID(), name: 'Nordlys Danmark ApS', organizationId: null, createdAt: NOW, updatedAt: NOW, ...overrides });
const organization = (overrides: Partial<DirectorySubjectRecord> = {}): DirectorySubjectRecord =>
  company({ subjectType: 'organization', name: 'Nordlys Group', ...overrides });

/** A client, and for (user, subject): a redeemed code with its grant and tokens, plus one unredeemed code. */
async function connect(storage: Storage, userId: string, subject: DirectorySubjectRecord) {
  const registered = bareClientRecord();
  await storage.clients.create(registered);
  const code = (codeDigest: string) => ({
    codeDigest, clientId: registered.clientId, userId, redirectUri: 'https://ledgerly.example/cb', scope: ['users:read'],
    subjectType: subject.subjectType, subjectId: subject.subjectId, codeChallenge: null, issuedAt: NOW, expiresAt: NOW + 60,
  });
  const redeemed = code(digest());
  await storage.authorizationCodes.create(redeemed);
  assert.equal((await storage.authorizationCodes.consume(redeemed.codeDigest, NOW)).outcome, 'consumed');
  const grant = {
    grantId: randomUUID(), clientId: registered.clientId, userId, subjectType: subject.subjectType, subjectId: subject.subjectId,
    scope: ['users:read'], createdAt: NOW, revokedAt: null, revocationReason: null,
  };
  const base = { grantId: grant.grantId, clientId: registered.clientId, scope: ['users:read'], issuedAt: NOW, rotatedAt: null, revokedAt: null };
  const access: TokenRecord = { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'access', expiresAt: NOW + 900 };
  const refresh: TokenRecord = { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'refresh', expiresAt: NOW + 86_400 };
  assert.equal(await storage.grants.issueForCode(redeemed.codeDigest, grant, [access, refresh]), 'issued');
  const unredeemed = code(digest());
  await storage.authorizationCodes.create(unredeemed);
  return { grant, access, refresh, unredeemed };
}

/** Alice, administrator of two companies (acme and other), each connected once and holding an unredeemed code. */
async function administratorOfTwo(storage: Storage) {
  const alice = user();
  const acme = company();
  const other = company();
  await storage.directory.createUser(alice);
  await storage.directory.createSubject(acme);
  await storage.directory.createSubject(other);
  await storage.directory.putMembership(alice.userId, acme);
  await storage.directory.putMembership(alice.userId, other);
  return { alice, acme, other, onAcme: await connect(storage, alice.userId, acme), onOther: await connect(storage, alice.userId, other) };
}

/** The directory contract, inside the caller's describe; `withStorage` gives each test a fresh storage. */
export function directoryContract({ withStorage }: ContractBackend): void {
  describe('directory', () => {
    it('creates a user without a password and finds it; a duplicate id or e-mail (any case) is refused', withStorage(async (storage) => {
      const alice = user({ email: 'Alice@Example.com' });
      assert.equal(await storage.directory.createUser(alice), 'created');
      assert.deepEqual(await storage.directory.findUser(alice.userId), alice);
      assert.equal((await storage.users.find(alice.userId))?.passwordHash, null);
      assert.equal(await storage.directory.createUser(user({ userId: alice.userId })), 'duplicate_id');
      assert.equal(await storage.directory.createUser(user({ email: 'ALICE@example.COM' })), 'duplicate_email');
      assert.equal(await storage.directory.findUser(randomUUID()), undefined);
      assert.equal(await storage.users.setPasswordHash(alice.userId, '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA'), true);
      assert.equal((await storage.users.findByEmail('alice@example.COM'))?.passwordHash, '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA');
      assert.equal(await storage.users.setPasswordHash(randomUUID(), null), false);
      // Non-ASCII letters fold too (migration 43), on create, change and the list's filter alike.
      const emile = user({ email: 'Émile@example.com' });
      assert.equal(await storage.directory.createUser(emile), 'created');
      assert.equal(await storage.directory.createUser(user({ email: 'émile@example.com' })), 'duplicate_email');
      assert.deepEqual((await storage.directory.listUsers({ email: 'ÉMILE@EXAMPLE.COM' }, { limit: 10 })).map((found) => found.userId), [emile.userId]);
      assert.equal(await storage.directory.updateUser(alice.userId, { email: 'émile@EXAMPLE.com' }, NOW + 1), 'duplicate_email');
    }));

    it('lists users by id with cursor pagination and a case-insensitive e-mail filter', withStorage(async (storage) => {
      const users = Array.from({ length: 5 }, () => user());
      for (const record of users) await storage.directory.createUser(record);
      const sorted = users.map((record) => record.userId).sort();
      const first = await storage.directory.listUsers({}, { limit: 2 });
      assert.deepEqual(first.map((record) => record.userId), sorted.slice(0, 2));
      const second = await storage.directory.listUsers({}, { limit: 2, afterId: first[1]!.userId });
      assert.deepEqual(second.map((record) => record.userId), sorted.slice(2, 4));
      const last = await storage.directory.listUsers({}, { limit: 2, afterId: second[1]!.userId });
      assert.deepEqual(last.map((record) => record.userId), sorted.slice(4));
      const byEmail = await storage.directory.listUsers({ email: users[3]!.email.toUpperCase() }, { limit: 10 });
      assert.deepEqual(byEmail, [users[3]]);
    }));

    it('updates a user: updatedAt moves only when something changed; a taken e-mail is refused', withStorage(async (storage) => {
      const alice = user();
      const bob = user();
      await storage.directory.createUser(alice);
      await storage.directory.createUser(bob);
      assert.deepEqual(await storage.directory.updateUser(alice.userId, { name: 'Alice Admin' }, NOW + 5), alice);
      assert.deepEqual(await storage.directory.updateUser(alice.userId, { name: 'Alice A.', locale: null }, NOW + 5), { ...alice, name: 'Alice A.', locale: null, updatedAt: NOW + 5 });
      assert.equal(await storage.directory.updateUser(alice.userId, { email: bob.email.toUpperCase() }, NOW + 6), 'duplicate_email');
      assert.equal(await storage.directory.updateUser(randomUUID(), { name: 'x' }, NOW + 6), 'not_found');
      assert.equal((await storage.directory.findUser(alice.userId))?.email, alice.email);
    }));

    it('deleting a user ends their login sessions, memberships and developer role, voids their codes, and keeps their grants', withStorage(async (storage) => {
      const alice = user();
      const acme = company();
      await storage.directory.createUser(alice);
      await storage.directory.createSubject(acme);
      assert.equal(await storage.directory.putMembership(alice.userId, acme), 'added');
      await storage.developers.add(alice.userId);
      const session = { sessionDigest: digest(), userId: alice.userId, createdAt: NOW, expiresAt: NOW + 3600 };
      await storage.loginSessions.create(session);
      const pending = { pendingDigest: digest(), userId: alice.userId, step: 'verify' as const, returnTo: '/account', createdAt: NOW, expiresAt: NOW + 600, failures: 0 };
      await storage.localAccounts.createPendingLogin(pending);
      const { grant, unredeemed } = await connect(storage, alice.userId, acme);

      assert.deepEqual(await storage.directory.deleteUser(alice.userId, NOW + 10), { loginSessionsEnded: 1, membershipsRemoved: 1 });
      assert.equal(await storage.loginSessions.findActive(session.sessionDigest, NOW + 11), undefined);
      assert.equal(await storage.localAccounts.findPendingLogin(pending.pendingDigest, NOW + 11), undefined, 'a two-step sign-in under way ends too');
      assert.deepEqual(await storage.subjects.listAdministeredBy(alice.userId, 'company'), []);
      assert.equal(await storage.developers.isDeveloper(alice.userId), false);
      assert.equal(await storage.directory.findUser(alice.userId), undefined);
      assert.equal(await storage.users.findByEmail(alice.email), undefined, 'a deleted user cannot log in');
      const row = await storage.users.find(alice.userId);
      assert.equal(row?.name, alice.name, 'the row stays for the grants that name the user');
      assert.equal(row?.email, `${alice.userId}@deleted.invalid`, 'the address is not kept');
      assert.equal(row?.passwordHash, null);
      // The grant belongs to the subject: it stays active.
      assert.equal((await storage.grants.find(grant.grantId))?.revokedAt, null);
      // A code the user obtained but did not redeem is void.
      assert.equal((await storage.authorizationCodes.consume(unredeemed.codeDigest, NOW + 12)).outcome, 'replayed');
      assert.equal(await storage.directory.deleteUser(alice.userId, NOW + 13), undefined);
      // The id is never reused; the e-mail is free again.
      assert.equal(await storage.directory.createUser(user({ userId: alice.userId })), 'duplicate_id');
      assert.equal(await storage.directory.createUser(user({ email: alice.email })), 'created');
    }));

    it('creates companies inside an organization, refuses an unknown organization, lists by organization with pagination', withStorage(async (storage) => {
      const group = organization();
      assert.equal(await storage.directory.createSubject(group), 'created');
      assert.equal(await storage.directory.createSubject(group), 'duplicate_id');
      assert.equal(await storage.directory.createSubject(company({ organizationId: randomUUID() })), 'unknown_organization');
      const inside = [company({ organizationId: group.subjectId }), company({ organizationId: group.subjectId }), company({ organizationId: group.subjectId })];
      for (const record of [...inside, company()]) assert.equal(await storage.directory.createSubject(record), 'created');
      assert.deepEqual(await storage.directory.findSubject('company', inside[0]!.subjectId), inside[0]);
      assert.equal(await storage.directory.findSubject('organization', inside[0]!.subjectId), undefined);
      const ids = inside.map((record) => record.subjectId).sort();
      const page = await storage.directory.listSubjects('company', { organizationId: group.subjectId }, { limit: 2 });
      assert.deepEqual(page.map((record) => record.subjectId), ids.slice(0, 2));
      const rest = await storage.directory.listSubjects('company', { organizationId: group.subjectId }, { limit: 2, afterId: page[1]!.subjectId });
      assert.deepEqual(rest.map((record) => record.subjectId), ids.slice(2));
      assert.equal((await storage.directory.listSubjects('company', {}, { limit: 10 })).length, 4);
      assert.deepEqual(await storage.directory.listSubjects('organization', {}, { limit: 10 }), [group]);
    }));

    it('updates a subject (moving a company between organizations) and refuses an unknown organization', withStorage(async (storage) => {
      const group = organization();
      const acme = company();
      await storage.directory.createSubject(group);
      await storage.directory.createSubject(acme);
      assert.deepEqual(await storage.directory.updateSubject('company', acme.subjectId, { organizationId: group.subjectId }, NOW + 5),
        { ...acme, organizationId: group.subjectId, updatedAt: NOW + 5 });
      assert.deepEqual(await storage.directory.updateSubject('company', acme.subjectId, { name: acme.name }, NOW + 9), { ...acme, organizationId: group.subjectId, updatedAt: NOW + 5 });
      assert.equal(await storage.directory.updateSubject('company', acme.subjectId, { organizationId: randomUUID() }, NOW + 6), 'unknown_organization');
      assert.equal(await storage.directory.updateSubject('company', randomUUID(), { name: 'x' }, NOW + 6), 'not_found');
    }));

    it('deleting a company revokes every grant on it with its tokens, removes its memberships and voids its codes', withStorage(async (storage) => {
      const { alice, acme, other, onAcme, onOther } = await administratorOfTwo(storage);
      const apiKey = (subjectId: string, keyType: 'standalone' | 'integrated') => ({
        keyId: randomUUID(), keyDigest: digest(), displayPrefix: 'gak_abcdef', keyType, name: 'Export', clientId: keyType === 'integrated' ? onAcme.grant.clientId : null,
        subjectType: 'company' as const, subjectId, scopes: ['users:read'], createdByUserId: alice.userId, createdAt: NOW, expiresAt: null, lastUsedAt: null,
        revokedAt: null, revocationReason: null,
      });
      const acmeKeys = [apiKey(acme.subjectId, 'standalone'), apiKey(acme.subjectId, 'integrated')];
      const otherKey = apiKey(other.subjectId, 'standalone');
      for (const key of [...acmeKeys, otherKey]) await storage.apiKeys.create(key);

      assert.deepEqual(await storage.directory.deleteSubject('company', acme.subjectId, NOW + 10, 'subject_deleted'), { outcome: 'deleted', grantsRevoked: 1, apiKeysRevoked: 2 });
      // Issue 16: its API keys end with it (a key would otherwise follow the id, were it created again).
      for (const key of acmeKeys) {
        const stored = await storage.apiKeys.find(key.keyId);
        assert.equal(stored?.revokedAt, NOW + 10, key.keyType);
        assert.equal(stored?.revocationReason, 'revoked');
      }
      assert.equal((await storage.apiKeys.find(otherKey.keyId))?.revokedAt, null, 'another company\'s key is untouched');
      const revoked = await storage.grants.find(onAcme.grant.grantId);
      assert.equal(revoked?.revokedAt, NOW + 10);
      assert.equal(revoked?.revocationReason, 'subject_deleted');
      assert.equal((await storage.tokens.findByDigest(onAcme.access.tokenDigest))?.token.revokedAt, NOW + 10);
      assert.equal((await storage.tokens.findByDigest(onAcme.refresh.tokenDigest))?.token.revokedAt, NOW + 10);
      assert.equal((await storage.authorizationCodes.consume(onAcme.unredeemed.codeDigest, NOW + 11)).outcome, 'replayed');
      assert.deepEqual((await storage.subjects.listAdministeredBy(alice.userId, 'company')).map((subject) => subject.subjectId), [other.subjectId]);
      assert.equal(await storage.directory.findSubject('company', acme.subjectId), undefined);
      // Nothing else changed.
      assert.equal((await storage.grants.find(onOther.grant.grantId))?.revokedAt, null);
      assert.equal((await storage.authorizationCodes.consume(onOther.unredeemed.codeDigest, NOW + 11)).outcome, 'consumed');
      assert.deepEqual(await storage.directory.deleteSubject('company', acme.subjectId, NOW + 12, 'subject_deleted'), { outcome: 'not_found' });
    }));

    // PostgreSQL's interleavings made on purpose: postgres/company-deletion-locks.test.ts. Here both backends, at once.
    for (const redemption of ['exchangeCode', 'exchangeReadyCode'] as const) {
      for (const first of ['deletion', 'redemption'] as const) {
        it(`a company deleted while one of its codes is redeemed (${redemption}, ${first} called first) leaves no live grant or token of it`, withStorage(async (storage) => {
          const f = await fixture(storage);
          const code = codeRecord(f, { issuedAt: NOW, expiresAt: NOW + 60 });
          await storage.authorizationCodes.create(code);
          const grant = grantRecord(f, { createdAt: NOW + 1, scope: code.scope });
          const tokens = redemption === 'exchangeCode' ? tokenPair(grant, NOW + 1) : mintedPair(NOW + 1);
          const redeem = () => (redemption === 'exchangeCode'
            ? storage.grants.exchangeCode(code.codeDigest, f.client.clientId, NOW + 1, grant, tokens as ReturnType<typeof tokenPair>)
            : storage.grants.exchangeReadyCode(code.codeDigest, f.client.clientId, NOW + 1,
              { redirectUri: code.redirectUri, codeChallenge: code.codeChallenge, dpopJkt: null, defaultResourceScopes: code.scope }, grant.grantId, tokens));
          const remove = () => storage.directory.deleteSubject('company', f.company.subjectId, NOW + 1, 'subject_deleted');
          const [redeemed, deleted] = first === 'redemption' ? await Promise.all([redeem(), remove()]) : (await Promise.all([remove(), redeem()])).reverse() as [Awaited<ReturnType<typeof redeem>>, Awaited<ReturnType<typeof remove>>];
          assert.equal(deleted.outcome, 'deleted');
          const stored = await storage.grants.find(grant.grantId);
          if (redeemed.outcome === 'issued') {
            // Redeemed before the deletion: revoked by it, with its tokens.
            assert.equal(stored?.revokedAt, NOW + 1);
            assert.equal(stored?.revocationReason, 'subject_deleted');
            assert.equal(deleted.outcome === 'deleted' && deleted.grantsRevoked, 1);
            for (const token of tokens) assert.equal((await storage.tokens.findByDigest(token.tokenDigest))?.token.revokedAt, NOW + 1, token.kind);
          } else {
            // After it: the code was voided (used and replayed), nothing redeemed. exchangeReadyCode that reads it voided
            // finds it not ready (used); one that read it before the void committed (PostgreSQL) finds it replayed under its lock.
            assert.ok(redeemed.outcome === 'replayed' || (redemption === 'exchangeReadyCode' && redeemed.outcome === 'not_ready' && redeemed.found?.used === true), redeemed.outcome);
            assert.equal(stored, undefined, 'no grant written');
            for (const token of tokens) assert.equal(await storage.tokens.findByDigest(token.tokenDigest), undefined, token.kind);
          }
          assert.equal(await storage.grants.findActive(f.client.clientId, 'company', f.company.subjectId), undefined);
        }));
      }
    }

    it('refuses to delete an organization that still groups companies; deletes it once they are moved out, revoking its grants', withStorage(async (storage) => {
      const group = organization();
      const acme = company({ organizationId: group.subjectId });
      const alice = user();
      await storage.directory.createSubject(group);
      await storage.directory.createSubject(acme);
      await storage.directory.createUser(alice);
      const { grant } = await connect(storage, alice.userId, group);
      assert.deepEqual(await storage.directory.deleteSubject('organization', group.subjectId, NOW + 10, 'subject_deleted'), { outcome: 'has_companies' });
      assert.ok(await storage.directory.findSubject('organization', group.subjectId));
      assert.equal((await storage.grants.find(grant.grantId))?.revokedAt, null);
      await storage.directory.updateSubject('company', acme.subjectId, { organizationId: null }, NOW + 11);
      assert.deepEqual(await storage.directory.deleteSubject('organization', group.subjectId, NOW + 12, 'subject_deleted'), { outcome: 'deleted', grantsRevoked: 1, apiKeysRevoked: 0 });
      assert.equal((await storage.grants.find(grant.grantId))?.revokedAt, NOW + 12);
    }));

    it('puts memberships idempotently, refuses unknown users and subjects, and deletes them (the consent page reads them live)', withStorage(async (storage) => {
      const alice = user();
      const acme = company();
      const group = organization();
      await storage.directory.createUser(alice);
      await storage.directory.createSubject(acme);
      await storage.directory.createSubject(group);
      assert.equal(await storage.directory.putMembership(alice.userId, acme), 'added');
      assert.equal(await storage.directory.putMembership(alice.userId, acme), 'unchanged');
      assert.equal(await storage.directory.putMembership(alice.userId, group), 'added');
      assert.equal(await storage.directory.putMembership(randomUUID(), acme), 'unknown_user');
      assert.equal(await storage.directory.putMembership(alice.userId, company()), 'unknown_subject');
      assert.deepEqual(await storage.directory.listMemberships(alice.userId), [
        { subjectType: 'company', subjectId: acme.subjectId }, { subjectType: 'organization', subjectId: group.subjectId },
      ]);
      assert.equal(await storage.directory.deleteMembership(alice.userId, acme, NOW), true);
      assert.equal(await storage.directory.deleteMembership(alice.userId, acme, NOW), false);
      assert.deepEqual(await storage.subjects.listAdministeredBy(alice.userId, 'company'), []);
    }));

    it('removing a membership voids the codes the user obtained for that subject and did not redeem; grants and other codes stay', withStorage(async (storage) => {
      const { alice, acme, other, onAcme, onOther } = await administratorOfTwo(storage);
      assert.equal(await storage.directory.deleteMembership(alice.userId, acme, NOW + 10), true);
      assert.equal((await storage.authorizationCodes.consume(onAcme.unredeemed.codeDigest, NOW + 11)).outcome, 'replayed', 'void');
      assert.equal((await storage.grants.find(onAcme.grant.grantId))?.revokedAt, null, 'the grant belongs to the subject: it stays');
      assert.equal((await storage.authorizationCodes.consume(onOther.unredeemed.codeDigest, NOW + 11)).outcome, 'consumed', 'another subject\'s code is untouched');

      // An import that leaves a membership out removes it the same way.
      await storage.directory.putMembership(alice.userId, acme);
      const again = await connect(storage, alice.userId, acme);
      const imported = await storage.directory.importBatch([{ kind: 'user', user: alice, administers: [{ subjectType: 'company', subjectId: other.subjectId }] }], NOW + 20, 'admin:test');
      assert.deepEqual(imported.map((result) => result.outcome), ['updated']);
      assert.equal((await storage.authorizationCodes.consume(again.unredeemed.codeDigest, NOW + 21)).outcome, 'replayed', 'void after the import');
    }));

    it('removes a partner developer', withStorage(async (storage) => {
      const dana = user();
      await storage.directory.createUser(dana);
      await storage.developers.add(dana.userId);
      assert.equal(await storage.developers.remove(dana.userId), true);
      assert.equal(await storage.developers.isDeveloper(dana.userId), false);
      assert.equal(await storage.developers.remove(dana.userId), false);
    }));

    it('imports idempotently: a second run changes nothing (updatedAt included); a changed record is updated; memberships follow the record', withStorage(async (storage) => {
      const group = organization();
      const acme = company({ organizationId: group.subjectId });
      const alice = user();
      const aliceRecord = { kind: 'user' as const, user: { userId: alice.userId, email: alice.email, name: alice.name, locale: null }, administers: [{ subjectType: 'company' as const, subjectId: acme.subjectId }] };
      const records: DirectoryImportRecord[] = [
        { kind: 'subject', subject: { subjectType: 'organization', subjectId: group.subjectId, name: group.name, organizationId: null } },
        { kind: 'subject', subject: { subjectType: 'company', subjectId: acme.subjectId, name: acme.name, organizationId: group.subjectId } },
        aliceRecord,
      ];
      assert.deepEqual((await storage.directory.importBatch(records, NOW, 'admin:test')).map((result) => result.outcome), ['created', 'created', 'created']);
      assert.deepEqual((await storage.directory.importBatch(records, NOW + 100, 'admin:test')).map((result) => result.outcome), ['unchanged', 'unchanged', 'unchanged']);
      assert.equal((await storage.directory.findUser(alice.userId))?.updatedAt, NOW);
      assert.equal((await storage.directory.findSubject('company', acme.subjectId))?.updatedAt, NOW);
      assert.deepEqual((await storage.subjects.listAdministeredBy(alice.userId, 'company')).map((subject) => subject.subjectId), [acme.subjectId]);

      const changed: DirectoryImportRecord[] = [records[0]!, records[1]!, { ...aliceRecord, user: { ...aliceRecord.user, name: 'Alice A.' }, administers: [{ subjectType: 'organization', subjectId: group.subjectId }] }];
      assert.deepEqual((await storage.directory.importBatch(changed, NOW + 200, 'admin:test')).map((result) => result.outcome), ['unchanged', 'unchanged', 'updated']);
      assert.equal((await storage.directory.findUser(alice.userId))?.updatedAt, NOW + 200);
      assert.deepEqual(await storage.directory.listMemberships(alice.userId), [{ subjectType: 'organization', subjectId: group.subjectId }]);
      const types = (await storage.audit.list()).map((event) => event.type);
      assert.equal(types.filter((type) => type === 'directory.user.created').length, 1);
      assert.equal(types.filter((type) => type === 'directory.user.updated').length, 1);
      assert.equal(types.filter((type) => type === 'directory.company.created').length, 1);
    }));

    it('refuses a bad import record whole (no half-applied user or membership) and applies the others', withStorage(async (storage) => {
      const acme = company();
      await storage.directory.createSubject(acme);
      const taken = user();
      await storage.directory.createUser(taken);
      const deleted = user();
      await storage.directory.createUser(deleted);
      await storage.directory.deleteUser(deleted.userId, NOW);
      const good = user();
      const halfBad = user();
      const outcomes = await storage.directory.importBatch([
        { kind: 'user', user: { userId: halfBad.userId, email: halfBad.email, name: halfBad.name, locale: null },
          administers: [{ subjectType: 'company', subjectId: acme.subjectId }, { subjectType: 'company', subjectId: randomUUID() }] },
        { kind: 'user', user: { userId: randomUUID(), email: taken.email.toUpperCase(), name: 'Clash', locale: null } },
        { kind: 'user', user: { userId: deleted.userId, email: deleted.email, name: deleted.name, locale: null } },
        { kind: 'subject', subject: { subjectType: 'company', subjectId: randomUUID(), name: 'Lost', organizationId: randomUUID() } },
        { kind: 'user', user: { userId: good.userId, email: good.email, name: good.name, locale: 'en' }, administers: [{ subjectType: 'company', subjectId: acme.subjectId }] },
      ], NOW + 1, 'admin:test');
      assert.deepEqual(outcomes.map((result) => result.outcome === 'refused' ? result.field : result.outcome), ['administers', 'email', 'id', 'organization_id', 'created']);
      assert.equal(await storage.directory.findUser(halfBad.userId), undefined);
      assert.deepEqual(await storage.subjects.listAdministeredBy(halfBad.userId, 'company'), []);
      assert.ok(await storage.directory.findUser(good.userId));
      assert.deepEqual((await storage.subjects.listAdministeredBy(good.userId, 'company')).map((subject) => subject.subjectId), [acme.subjectId]);
      assert.equal((await storage.audit.list()).filter((event) => event.type === 'directory.user.created').length, 1);
    }));
  });
}
