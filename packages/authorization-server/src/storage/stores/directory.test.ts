/**
 * The directory store (stores/directory.ts, issue 12) on both backends: the behaviours the storage
 * contract's directory suite does not cover — an import's dry run, the webhook deliveries a subject's
 * deletion queues in its transaction, and concurrent writers racing for one id or e-mail.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { createTestPostgresStorage, postgresSkipReason } from '../../testing/postgres.ts';
import { createSqliteStorage } from '../sqlite/sqlite-storage.ts';
import type { ClientRecord, DirectoryImportRecord, DirectorySubjectRecord, DirectoryUserRecord, GrantRecord, Storage, TokenRecord, WebhookDeliveryRecord } from '../storage.ts';

const NOW = 1_800_000_000;
const digest = () => randomBytes(32).toString('base64url');

const user = (overrides: Partial<DirectoryUserRecord> = {}): DirectoryUserRecord => {
  const userId = randomUUID();
  return { userId, email: `user-${userId}@example.com`, name: 'Alice Admin', locale: 'da-DK', createdAt: NOW, updatedAt: NOW, ...overrides };
};
const company = (overrides: Partial<DirectorySubjectRecord> = {}): DirectorySubjectRecord =>
  ({ subjectType: 'company', subjectId: randomUUID(), name: 'Nordlys Danmark ApS', organizationId: null, createdAt: NOW, updatedAt: NOW, ...overrides });

function client(): ClientRecord {
  return {
    clientId: randomUUID(), kind: 'client', clientName: 'Ledgerly Sync', clientType: 'confidential', secretDigest: digest(),
    redirectUris: ['https://ledgerly.example/cb'], scopes: ['users:read'], subjectType: null, pkceRequired: true, status: 'active',
    clientUri: null, logoUri: null, tosUri: null, policyUri: null, audience: null, createdAt: NOW, initiationUri: null, settingsUri: null,
    contacts: [], ownerUserId: null, previousSecretDigest: null, previousSecretExpiresAt: null, brandingVerified: true,
  };
}

/** A new client with a grant (and a token pair) for (user, subject). */
async function grantOn(storage: Storage, userId: string, subject: DirectorySubjectRecord): Promise<GrantRecord> {
  const registered = client();
  await storage.clients.create(registered);
  const codeDigest = digest();
  await storage.authorizationCodes.create({
    codeDigest, clientId: registered.clientId, userId, redirectUri: 'https://ledgerly.example/cb', scope: ['users:read'],
    subjectType: subject.subjectType, subjectId: subject.subjectId, codeChallenge: null, issuedAt: NOW, expiresAt: NOW + 60,
  });
  assert.equal((await storage.authorizationCodes.consume(codeDigest, NOW)).outcome, 'consumed');
  const grant: GrantRecord = {
    grantId: randomUUID(), clientId: registered.clientId, userId, subjectType: subject.subjectType, subjectId: subject.subjectId,
    scope: ['users:read'], createdAt: NOW, revokedAt: null, revocationReason: null,
  };
  const base = { grantId: grant.grantId, clientId: registered.clientId, scope: ['users:read'], issuedAt: NOW, rotatedAt: null, revokedAt: null };
  const tokens: TokenRecord[] = [
    { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'access', expiresAt: NOW + 900 },
    { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'refresh', expiresAt: NOW + 86_400 },
  ];
  assert.equal(await storage.grants.issueForCode(codeDigest, grant, tokens), 'issued');
  return grant;
}

/** The partner webhook a revocation queues (issue 15 §5); the payload names the grant as the transaction saw it. */
const revokedDelivery = (grant: GrantRecord): WebhookDeliveryRecord => ({
  deliveryId: `msg_${grant.grantId}`, clientId: grant.clientId, eventType: 'grant.revoked',
  payload: JSON.stringify({ grant_id: grant.grantId, revoked_at: grant.revokedAt, reason: grant.revocationReason }),
  createdAt: NOW, attempts: 0, nextAttemptAt: NOW, lastAttemptAt: null, lastStatus: null, deliveredAt: null,
});

const skipPostgres = await postgresSkipReason();
const backends: { name: string; open: () => Promise<Storage>; skip: string | false }[] = [
  { name: 'SQLite', open: async () => createSqliteStorage(':memory:'), skip: false },
  { name: 'PostgreSQL', open: () => createTestPostgresStorage(), skip: skipPostgres },
];

for (const backend of backends) {
  describe(`directory store on ${backend.name}`, { skip: backend.skip }, () => {
    const withStorage = (body: (storage: Storage) => Promise<void>) => async () => {
      const storage = await backend.open();
      try {
        await body(storage);
      } finally {
        await storage.close();
      }
    };

    it('a dry-run import answers what the real import then does, and stores nothing: no rows, no memberships, no audit events', withStorage(async (storage) => {
      const acme = company();
      const kept = user({ name: 'Old Name' });
      const taken = user();
      await storage.directory.createSubject(acme);
      await storage.directory.createUser(kept);
      await storage.directory.createUser(taken);
      const group = randomUUID();
      const newcomer = user();
      const records: DirectoryImportRecord[] = [
        { kind: 'subject', subject: { subjectType: 'organization', subjectId: group, name: 'Nordlys Group', organizationId: null } },
        // Sees the organization created by the record before it, as a real run would.
        { kind: 'subject', subject: { subjectType: 'company', subjectId: acme.subjectId, name: acme.name, organizationId: group } },
        { kind: 'user', user: { userId: kept.userId, email: kept.email, name: 'New Name', locale: kept.locale } },
        { kind: 'user', user: { userId: randomUUID(), email: taken.email.toUpperCase(), name: 'Clash', locale: null } },
        { kind: 'user', user: { userId: newcomer.userId, email: newcomer.email, name: newcomer.name, locale: null }, administers: [{ subjectType: 'company', subjectId: acme.subjectId }] },
      ];
      const auditBefore = (await storage.audit.list()).length;

      const dryRun = await storage.directory.importBatch(records, NOW + 1, 'admin:test', { dryRun: true });
      assert.deepEqual(dryRun.map((result) => result.outcome === 'refused' ? `refused:${result.field}` : result.outcome), ['created', 'updated', 'updated', 'refused:email', 'created']);
      assert.equal(await storage.directory.findSubject('organization', group), undefined);
      assert.equal((await storage.directory.findSubject('company', acme.subjectId))?.organizationId, null);
      assert.deepEqual(await storage.directory.findUser(kept.userId), kept);
      assert.equal(await storage.directory.findUser(newcomer.userId), undefined);
      assert.deepEqual(await storage.directory.listMemberships(newcomer.userId), []);
      assert.equal((await storage.audit.list()).length, auditBefore);

      assert.deepEqual(await storage.directory.importBatch(records, NOW + 1, 'admin:test'), dryRun);
      assert.ok(await storage.directory.findSubject('organization', group));
      assert.equal((await storage.directory.findUser(kept.userId))?.name, 'New Name');
      assert.deepEqual(await storage.directory.listMemberships(newcomer.userId), [{ subjectType: 'company', subjectId: acme.subjectId }]);
      assert.equal((await storage.audit.list()).length, auditBefore + 4);
    }));

    it('deleting a subject queues a webhook delivery in its transaction for each grant it revoked, only where the client\'s endpoint subscribes', withStorage(async (storage) => {
      const alice = user();
      const acme = company();
      await storage.directory.createUser(alice);
      await storage.directory.createSubject(acme);
      const subscribed = await grantOn(storage, alice.userId, acme);
      const otherEvents = await grantOn(storage, alice.userId, acme);
      const noEndpoint = await grantOn(storage, alice.userId, acme);
      const revokedBefore = await grantOn(storage, alice.userId, acme);
      const endpoint = (clientId: string, eventTypes: string[] | null) => ({ clientId, url: 'https://ledgerly.example/hooks', secretCiphertext: 'x', createdAt: NOW, eventTypes });
      await storage.webhooks.setEndpoint(endpoint(subscribed.clientId, null));
      await storage.webhooks.setEndpoint(endpoint(otherEvents.clientId, ['client.suspended']));
      await storage.webhooks.setEndpoint(endpoint(revokedBefore.clientId, ['grant.revoked']));
      assert.equal(await storage.grants.revoke(revokedBefore.grantId, NOW + 5, 'user_revoked'), true);

      assert.deepEqual(await storage.directory.deleteSubject('company', acme.subjectId, NOW + 10, 'subject_deleted', { webhookDelivery: revokedDelivery }),
        { outcome: 'deleted', grantsRevoked: 3, apiKeysRevoked: 0 });
      const queued = await storage.webhooks.list(subscribed.clientId, 10);
      assert.deepEqual(queued.map((delivery) => ({ ...delivery, payload: JSON.parse(delivery.payload) })), [{
        ...revokedDelivery(subscribed), payload: { grant_id: subscribed.grantId, revoked_at: NOW + 10, reason: 'subject_deleted' },
      }]);
      assert.deepEqual(await storage.webhooks.list(otherEvents.clientId, 10), []);
      assert.deepEqual(await storage.webhooks.list(noEndpoint.clientId, 10), []);
      // Already revoked before: not revoked again, so nothing queued and its reason kept.
      assert.deepEqual(await storage.webhooks.list(revokedBefore.clientId, 10), []);
      assert.equal((await storage.grants.find(revokedBefore.grantId))?.revocationReason, 'user_revoked');
      assert.equal((await storage.grants.find(noEndpoint.grantId))?.revokedAt, NOW + 10);
    }));

    it('concurrent writers racing for one e-mail or id: exactly one wins, the others get duplicate_* or a refusal, never an error', withStorage(async (storage) => {
      const email = `race-${randomUUID()}@example.com`;
      const created = await Promise.all(Array.from({ length: 8 }, (_, i) => storage.directory.createUser(user({ email: i % 2 ? email.toUpperCase() : email }))));
      assert.deepEqual(created.toSorted(), ['created', ...Array(7).fill('duplicate_email')]);

      const acme = company();
      const subjects = await Promise.all(Array.from({ length: 8 }, () => storage.directory.createSubject(acme)));
      assert.deepEqual(subjects.toSorted(), ['created', ...Array(7).fill('duplicate_id')]);

      const newcomer = user();
      const record: DirectoryImportRecord = { kind: 'user', user: { userId: newcomer.userId, email: newcomer.email, name: newcomer.name, locale: null } };
      const imports = (await Promise.all(Array.from({ length: 8 }, () => storage.directory.importBatch([record], NOW + 1, 'admin:test')))).flat();
      assert.equal(imports.filter((result) => result.outcome === 'created').length, 1);
      // Later ones see the user (unchanged); one that lost the race to the insert is refused, its savepoint rolled back.
      assert.ok(imports.every((result) => result.outcome === 'created' || result.outcome === 'unchanged' || result.outcome === 'refused'), JSON.stringify(imports));
      assert.equal((await storage.audit.list()).filter((event) => event.type === 'directory.user.created').length, 1);
    }));
  });
}
