/**
 * `clients.update` with a `scopes` change (storage.ts `ScopeNarrowing`, stores/client-scopes.ts), run by
 * contract/index.ts on every backend: a scope the client is no longer registered for leaves its grants, refresh
 * tokens, access tokens and unredeemed codes in the same transaction as the change.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { AuditEvent, ScopeNarrowing, ScopeNarrowingDone, Storage } from '../storage.ts';
import { type ContractBackend, type Fixture, NOW, codeRecord, createCompany, fixture, grantRecord, issueGrant, mintedPair, tokenPair } from './fixtures.ts';

const narrowing = (f: Fixture, now: number): ScopeNarrowing => ({
  now,
  grantRevoked: (grant) => ({
    deliveryId: `msg_${grant.grantId}`, clientId: f.client.clientId, eventType: 'grant.revoked', payload: JSON.stringify({ grant_id: grant.grantId }),
    createdAt: now, attempts: 0, nextAttemptAt: now, lastAttemptAt: null, lastStatus: null, deliveredAt: null,
  }),
  auditEvent: (done: ScopeNarrowingDone): AuditEvent => ({ type: 'client.updated', at: now, actor: 'admin:ops', clientId: f.client.clientId, details: { ...done } }),
});

export function clientScopesContract({ withStorage }: ContractBackend): void {
  describe('clients.update narrowing the registered scopes narrows what the client was granted, in one transaction', () => {
    const tokenOf = async (storage: Storage, tokenDigest: string) => (await storage.tokens.findByDigest(tokenDigest))?.token;

    it('narrows the grant and its current refresh token, revokes its access tokens holding a removed scope, and leaves rotated-out tokens as they were', withStorage(async (storage) => {
      const f = await fixture(storage);
      const issued = await issueGrant(storage, f, NOW);
      const next = tokenPair(issued.grant, NOW + 5);
      assert.equal(await storage.tokens.rotateRefreshToken(issued.refresh.tokenDigest, NOW + 5, next), 'rotated');
      const changed = await storage.clients.update(f.client.clientId, { scopes: ['users:read'] }, narrowing(f, NOW + 10));
      assert.deepEqual(changed?.scopes, ['users:read']);
      assert.deepEqual((await storage.grants.find(issued.grant.grantId))?.scope, ['users:read']);
      assert.deepEqual((await tokenOf(storage, next[1].tokenDigest))?.scope, ['users:read'], 'the current refresh token');
      assert.equal((await tokenOf(storage, next[1].tokenDigest))?.revokedAt, null);
      assert.equal((await tokenOf(storage, next[0].tokenDigest))?.revokedAt, NOW + 10, 'the live access token held vendors:write');
      assert.deepEqual((await tokenOf(storage, issued.refresh.tokenDigest))?.scope, ['users:read', 'vendors:write'], 'a rotated-out token is not rewritten');
      assert.deepEqual((await storage.audit.list({ clientId: f.client.clientId })).filter((e) => e.type === 'client.updated').map((e) => e.details),
        [{ grantsNarrowed: 1, grantsRevoked: 0, accessTokensRevoked: 1 }]);
      // The next rotation keeps the narrowed scope (RFC 6749 §6: the new refresh token's scope is the old one's).
      const ready = await storage.tokens.rotateReadyRefreshToken(next[1].tokenDigest, NOW + 20,
        { clientId: f.client.clientId, defaultResourceScopes: ['users:read', 'vendors:write'] }, mintedPair(NOW + 20));
      assert.equal(ready.outcome, 'rotated');
      assert.ok(ready.outcome === 'rotated');
      assert.deepEqual(ready.presented.scope, ['users:read']);
      assert.deepEqual(ready.tokens.map((token) => token.scope), [['users:read'], ['users:read']]);
    }));

    it('revokes a grant left with no scope, with its tokens and its webhook; another grant with a scope left stays', withStorage(async (storage) => {
      const f = await fixture(storage);
      await storage.webhooks.setEndpoint({ clientId: f.client.clientId, url: 'https://ledgerly.example/hooks', secretCiphertext: 'v1.x', createdAt: NOW });
      const onlyVendors = await issueGrant(storage, f, NOW, { scope: ['vendors:write'] });
      const company = await createCompany(storage);
      await storage.subjects.addAdministrator(f.user.userId, company.subjectType, company.subjectId);
      const both = await issueGrant(storage, f, NOW, { subjectId: company.subjectId });
      await storage.clients.update(f.client.clientId, { scopes: ['users:read'], clientName: 'Ledgerly Read' }, narrowing(f, NOW + 10));
      const revoked = await storage.grants.find(onlyVendors.grant.grantId);
      assert.equal(revoked?.revokedAt, NOW + 10);
      assert.equal(revoked?.revocationReason, 'client_scopes_narrowed');
      assert.equal((await tokenOf(storage, onlyVendors.refresh.tokenDigest))?.revokedAt, NOW + 10);
      assert.equal((await storage.grants.find(both.grant.grantId))?.revokedAt, null);
      assert.deepEqual((await storage.webhooks.list(f.client.clientId, 10)).map((d) => d.payload), [JSON.stringify({ grant_id: onlyVendors.grant.grantId })]);
      assert.equal((await storage.clients.find(f.client.clientId))?.clientName, 'Ledgerly Read', 'the rest of the patch commits with it');
    }));

    it('narrows an unredeemed code, and voids one left with no scope; a redeemed or expired code is left alone', withStorage(async (storage) => {
      const f = await fixture(storage);
      const both = codeRecord(f);
      const onlyVendors = codeRecord(f, { scope: ['vendors:write'] });
      const expired = codeRecord(f, { expiresAt: NOW + 5 });
      for (const code of [both, onlyVendors, expired]) await storage.authorizationCodes.create(code);
      await storage.clients.update(f.client.clientId, { scopes: ['users:read'] }, narrowing(f, NOW + 10));
      assert.deepEqual((await storage.authorizationCodes.find(both.codeDigest, f.client.clientId))?.code.scope, ['users:read']);
      assert.equal((await storage.authorizationCodes.find(onlyVendors.codeDigest, f.client.clientId))?.used, true, 'voided');
      assert.deepEqual((await storage.authorizationCodes.find(expired.codeDigest, f.client.clientId))?.code.scope, ['users:read', 'vendors:write']);
    }));

    // README "Registering clients": what a request in flight when the change committed wrote after it (a code, a
    // grant and its tokens) still names the removed scope, and the token endpoint's conditions come from the client
    // as it read it (cached) before: the storage grants what the client is registered for as it reads it in the write.
    it('exchangeReadyCode of a code written after the change, under conditions read before it, grants and answers what is left', withStorage(async (storage) => {
      const f = await fixture(storage);
      await storage.clients.update(f.client.clientId, { scopes: ['users:read'] }, narrowing(f, NOW));
      const code = codeRecord(f, { issuedAt: NOW + 1, expiresAt: NOW + 60 });
      await storage.authorizationCodes.create(code);
      const exchanged = await storage.grants.exchangeReadyCode(code.codeDigest, f.client.clientId, NOW + 2, {
        redirectUri: code.redirectUri, codeChallenge: code.codeChallenge, dpopJkt: null, defaultResourceScopes: ['users:read', 'vendors:write'],
      }, randomUUID(), mintedPair(NOW + 2), { type: 'token.issued', at: NOW + 2, actor: 'client:ledgerly', details: {} });
      assert.equal(exchanged.outcome, 'issued');
      assert.ok(exchanged.outcome === 'issued');
      assert.deepEqual(exchanged.grant.scope, ['users:read']);
      assert.deepEqual(exchanged.tokens.map((token) => token.scope), [['users:read'], ['users:read']]);
      assert.equal(exchanged.auditEvent?.details?.scope, 'users:read');
      assert.deepEqual((await storage.grants.find(exchanged.grant.grantId))?.scope, ['users:read'], 'as stored');
      assert.deepEqual((await tokenOf(storage, exchanged.tokens[0]!.tokenDigest))?.scope, ['users:read'], 'as stored');
    }));

    it('rotateReadyRefreshToken of a grant written after the change, under conditions read before it, writes and answers what is left', withStorage(async (storage) => {
      const f = await fixture(storage);
      await storage.clients.update(f.client.clientId, { scopes: ['users:read'] }, narrowing(f, NOW));
      const { refresh } = await issueGrant(storage, f, NOW + 1);
      const rotated = await storage.tokens.rotateReadyRefreshToken(refresh.tokenDigest, NOW + 2,
        { clientId: f.client.clientId, defaultResourceScopes: ['users:read', 'vendors:write'] }, mintedPair(NOW + 2));
      assert.equal(rotated.outcome, 'rotated');
      assert.ok(rotated.outcome === 'rotated');
      assert.deepEqual(rotated.scope, ['users:read']);
      assert.deepEqual(rotated.tokens.map((token) => token.scope), [['users:read'], ['users:read']]);
      assert.deepEqual((await tokenOf(storage, rotated.tokens[1]!.tokenDigest))?.scope, ['users:read'], 'as stored');
    }));

    it('rotateRefreshToken of a token written after the change, with new tokens minted under the client read before it, stores nothing and says what is left (scope_narrowed); then rotates what is left', withStorage(async (storage) => {
      const f = await fixture(storage);
      await storage.clients.update(f.client.clientId, { scopes: ['users:read'] }, narrowing(f, NOW));
      const { grant, refresh } = await issueGrant(storage, f, NOW + 1);
      const wide = tokenPair(grant, NOW + 2);
      assert.deepEqual(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 2, wide), { outcome: 'scope_narrowed', scope: ['users:read'] });
      assert.equal(await tokenOf(storage, wide[1].tokenDigest), undefined);
      assert.equal((await tokenOf(storage, refresh.tokenDigest))?.rotatedAt, null, 'the token stays current');
      const left = tokenPair({ ...grant, scope: ['users:read'] }, NOW + 3);
      assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 3, left), 'rotated');
      assert.deepEqual((await tokenOf(storage, left[1].tokenDigest))?.scope, ['users:read']);
      assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 4, tokenPair(grant, NOW + 4)), 'not_current', 'a rotated-out token is not_current, whatever its new tokens name');
    }));

    it('exchangeCode of a grant naming a scope the client no longer has stores nothing and says what is left (scope_narrowed); then issues what is left', withStorage(async (storage) => {
      const f = await fixture(storage);
      const code = codeRecord(f, { issuedAt: NOW, expiresAt: NOW + 60, scope: ['users:read'] });
      await storage.authorizationCodes.create(code);
      await storage.clients.update(f.client.clientId, { scopes: ['users:read'] }, narrowing(f, NOW + 1));
      const wide = grantRecord(f, { createdAt: NOW + 2 });
      const refused = await storage.grants.exchangeCode(code.codeDigest, f.client.clientId, NOW + 2, wide, tokenPair(wide, NOW + 2));
      assert.deepEqual(refused, { outcome: 'scope_narrowed', scope: ['users:read'] });
      assert.equal(await storage.grants.find(wide.grantId), undefined);
      assert.equal((await storage.authorizationCodes.find(code.codeDigest, f.client.clientId))?.used, false);
      const left = grantRecord(f, { createdAt: NOW + 3, scope: ['users:read'] });
      assert.deepEqual(await storage.grants.exchangeCode(code.codeDigest, f.client.clientId, NOW + 3, left, tokenPair(left, NOW + 3)), { outcome: 'issued' });
      assert.deepEqual((await storage.grants.find(left.grantId))?.scope, ['users:read']);
    }));

    it('widening, or a patch without scopes, changes no grant and records no narrowing; scopes without a narrowing is refused', withStorage(async (storage) => {
      const f = await fixture(storage);
      const issued = await issueGrant(storage, f, NOW);
      await storage.clients.update(f.client.clientId, { scopes: ['users:read', 'vendors:write', 'accounts:read'] }, narrowing(f, NOW + 10));
      await storage.clients.update(f.client.clientId, { clientName: 'Renamed' });
      assert.deepEqual((await storage.grants.find(issued.grant.grantId))?.scope, ['users:read', 'vendors:write']);
      assert.equal((await tokenOf(storage, issued.access.tokenDigest))?.revokedAt, null);
      assert.deepEqual((await storage.audit.list({ clientId: f.client.clientId })).filter((e) => e.type === 'client.updated').map((e) => e.details),
        [{ grantsNarrowed: 0, grantsRevoked: 0, accessTokensRevoked: 0 }]);
      await assert.rejects(storage.clients.update(f.client.clientId, { scopes: ['users:read'] }), /needs a ScopeNarrowing/);
      assert.deepEqual((await storage.clients.find(f.client.clientId))?.scopes, ['users:read', 'vendors:write', 'accounts:read']);
      assert.equal(await storage.clients.update('00000000-0000-4000-8000-000000000000', { scopes: ['users:read'] }, narrowing(f, NOW)), undefined);
    }));
  });
}
