/**
 * `clients.changeStatus` (storage.ts; SPEC decision 13, issue 15 §5), run by contract/index.ts on every backend: a
 * suspension or a deletion, its revocation, its audit event and its webhook commit together or not at all.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEvent, ClientStatusChange, ClientStatusChangeDone, Storage, WebhookDeliveryRecord } from '../storage.ts';
import { type ContractBackend, type Fixture, NOW, fixture, issueGrant } from './fixtures.ts';

const clientEvent = (clientId: string, eventType: string, now: number): WebhookDeliveryRecord => ({
  deliveryId: `msg_${randomUUID()}`, clientId, eventType, payload: `{"type":"${eventType}"}`, createdAt: now,
  attempts: 0, nextAttemptAt: now, lastAttemptAt: null, lastStatus: null, deliveredAt: null,
});

const auditEventOf = (f: Fixture, type: string, now: number) => (done: ClientStatusChangeDone): AuditEvent => ({
  type, at: now, actor: 'admin:ops', clientId: f.client.clientId,
  details: { previous_status: done.previousStatus, grants_revoked: done.grantsRevoked, access_tokens_revoked: done.accessTokensRevoked },
});

const suspension = (f: Fixture, now: number): ClientStatusChange => ({
  status: 'suspended', now, auditEvent: auditEventOf(f, 'client.suspended', now), clientEvent: clientEvent(f.client.clientId, 'client.suspended', now),
});

const deletion = (f: Fixture, now: number): ClientStatusChange => ({
  status: 'deleted', now, auditEvent: auditEventOf(f, 'client.deleted', now), clientEvent: clientEvent(f.client.clientId, 'client.deleted', now),
  grantRevoked: (grant) => ({ ...clientEvent(f.client.clientId, 'grant.revoked', now), payload: JSON.stringify({ grant_id: grant.grantId }) }),
});

export function clientStatusContract({ withStorage }: ContractBackend): void {
  describe('clients.changeStatus: a suspension or deletion with its revocation, audit event and webhook in one transaction (SPEC decision 13)', () => {
    /** A client with a webhook endpoint for every event and two grants (two companies) with their tokens. */
    const twoGrants = async (storage: Storage) => {
      const f = await fixture(storage);
      await storage.webhooks.setEndpoint({ clientId: f.client.clientId, url: 'https://ledgerly.example/hooks', secretCiphertext: 'v1.x', createdAt: NOW });
      const first = await issueGrant(storage, f, NOW);
      const company = { subjectType: 'company' as const, subjectId: randomUUID(), name: 'Second ApS', organizationId: null };
      await storage.subjects.create(company);
      const second = await issueGrant(storage, f, NOW, { subjectId: company.subjectId });
      return { f, issued: [first, second] };
    };
    const tokenRevokedAt = async (storage: Storage, tokenDigest: string) => (await storage.tokens.findByDigest(tokenDigest))?.token.revokedAt;
    const eventTypes = async (storage: Storage, clientId: string) => (await storage.webhooks.list(clientId, 20)).map((d) => d.eventType).sort();

    it('suspended: the status, every access token revoked (refresh tokens and grants kept), the audit event and client.suspended', withStorage(async (storage) => {
      const { f, issued } = await twoGrants(storage);
      const changed = await storage.clients.changeStatus(f.client.clientId, suspension(f, NOW + 10));
      assert.equal(changed.outcome, 'changed');
      assert.ok(changed.outcome === 'changed');
      assert.equal(changed.client.status, 'suspended');
      assert.deepEqual([changed.previousStatus, changed.grantsRevoked, changed.accessTokensRevoked], ['active', 0, 2]);
      assert.equal((await storage.clients.find(f.client.clientId))?.status, 'suspended');
      for (const { grant, access, refresh } of issued) {
        assert.equal(await tokenRevokedAt(storage, access.tokenDigest), NOW + 10);
        assert.equal(await tokenRevokedAt(storage, refresh.tokenDigest), null);
        assert.equal((await storage.grants.find(grant.grantId))?.revokedAt, null);
      }
      const audit = await storage.audit.list({ clientId: f.client.clientId });
      assert.deepEqual(audit.map((event) => [event.type, event.details]), [['client.suspended', { previous_status: 'active', grants_revoked: 0, access_tokens_revoked: 2 }]]);
      assert.deepEqual(await eventTypes(storage, f.client.clientId), ['client.suspended']);
    }));

    it('deleted: the status and previous secret cleared, every grant revoked with its tokens and a grant.revoked each, the audit event and client.deleted', withStorage(async (storage) => {
      const { f, issued } = await twoGrants(storage);
      await storage.clients.update(f.client.clientId, { previousSecretDigest: 'old-digest', previousSecretExpiresAt: NOW + 3_600 });
      const changed = await storage.clients.changeStatus(f.client.clientId, deletion(f, NOW + 10));
      assert.ok(changed.outcome === 'changed');
      assert.deepEqual([changed.client.status, changed.client.previousSecretDigest, changed.previousStatus, changed.grantsRevoked], ['deleted', null, 'active', 2]);
      for (const { grant, access, refresh } of issued) {
        const stored = await storage.grants.find(grant.grantId);
        assert.deepEqual([stored?.revokedAt, stored?.revocationReason], [NOW + 10, 'client_deleted']);
        assert.equal(await tokenRevokedAt(storage, access.tokenDigest), NOW + 10);
        assert.equal(await tokenRevokedAt(storage, refresh.tokenDigest), NOW + 10);
      }
      assert.deepEqual((await storage.audit.list({ clientId: f.client.clientId })).map((event) => event.type), ['client.deleted']);
      assert.deepEqual(await eventTypes(storage, f.client.clientId), ['client.deleted', 'grant.revoked', 'grant.revoked']);
      assert.equal((await storage.clients.changeStatus(f.client.clientId, suspension(f, NOW + 11))).outcome, 'not_found', 'a deleted client is not suspended');
      assert.equal((await storage.clients.find(f.client.clientId))?.status, 'deleted');
    }));

    it('a failure inside the change (here: building its audit event) leaves everything as it was: status, tokens, grants, audit and webhooks', withStorage(async (storage) => {
      const { f, issued } = await twoGrants(storage);
      for (const change of [suspension(f, NOW + 10), deletion(f, NOW + 10)]) {
        await assert.rejects(storage.clients.changeStatus(f.client.clientId, { ...change, auditEvent: () => { throw new Error('crash after the revocation'); } }), /crash after/);
        assert.equal((await storage.clients.find(f.client.clientId))?.status, 'active', `${change.status}: the status did not change`);
        for (const { grant, access, refresh } of issued) {
          assert.equal(await tokenRevokedAt(storage, access.tokenDigest), null, `${change.status}: access token live`);
          assert.equal(await tokenRevokedAt(storage, refresh.tokenDigest), null);
          assert.equal((await storage.grants.find(grant.grantId))?.revokedAt, null);
        }
        assert.deepEqual(await storage.audit.list({ clientId: f.client.clientId }), []);
        assert.deepEqual(await eventTypes(storage, f.client.clientId), []);
      }
      // The same change again succeeds whole.
      assert.equal((await storage.clients.changeStatus(f.client.clientId, deletion(f, NOW + 20))).outcome, 'changed');
      assert.equal((await storage.grants.find(issued[0]!.grant.grantId))?.revokedAt, NOW + 20);
    }));

    it('a client already in that status (an older version\'s failed revocation): unchanged, the revocation completed, recorded only if it did something, no webhook', withStorage(async (storage) => {
      const { f, issued } = await twoGrants(storage);
      await storage.clients.update(f.client.clientId, { status: 'suspended' });
      const repaired = await storage.clients.changeStatus(f.client.clientId, suspension(f, NOW + 10));
      assert.ok(repaired.outcome === 'unchanged');
      assert.deepEqual([repaired.previousStatus, repaired.accessTokensRevoked], ['suspended', 2]);
      assert.equal(await tokenRevokedAt(storage, issued[0]!.access.tokenDigest), NOW + 10);
      const again = await storage.clients.changeStatus(f.client.clientId, suspension(f, NOW + 11));
      assert.ok(again.outcome === 'unchanged');
      assert.equal(again.accessTokensRevoked, 0);
      assert.deepEqual((await storage.audit.list({ clientId: f.client.clientId })).map((event) => event.type), ['client.suspended'], 'only the repair that revoked');
      assert.deepEqual(await eventTypes(storage, f.client.clientId), [], 'no webhook for an unchanged status');

      await storage.clients.update(f.client.clientId, { status: 'deleted' });
      const completed = await storage.clients.changeStatus(f.client.clientId, deletion(f, NOW + 20));
      assert.ok(completed.outcome === 'unchanged');
      assert.equal(completed.grantsRevoked, 2);
      assert.equal((await storage.grants.find(issued[1]!.grant.grantId))?.revocationReason, 'client_deleted');
      assert.deepEqual(await eventTypes(storage, f.client.clientId), ['grant.revoked', 'grant.revoked'], 'each revoked grant still tells the partner');
      assert.equal((await storage.clients.changeStatus(randomUUID(), deletion(f, NOW + 21))).outcome, 'not_found');
    }));
  });
}
