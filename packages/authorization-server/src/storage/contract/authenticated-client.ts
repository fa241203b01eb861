/**
 * A code exchange or a refresh re-checks its client inside its own transaction (storage.ts AuthenticatedClient;
 * SPEC decisions 10 and 13): one whose client was suspended, deleted or given a new secret after the request
 * authenticated stores nothing and answers `client_changed` — never a grant or token the change did not revoke,
 * never a lost race (which the refresh grant answers by revoking the grant). The same four operations, every backend.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuthenticatedClient, ClientPatch, ReadyCodeConditions, Storage } from '../storage.ts';
import { type ContractBackend, type Fixture, NOW, codeRecord, digest, fixture, grantRecord, issueGrant, mintedPair, tokenPair } from './fixtures.ts';

/** What happens to the client between its authentication and the operation, and what the operation was told. */
const CHANGES: Array<[name: string, change: (f: Fixture) => ClientPatch]> = [
  ['suspended', () => ({ status: 'suspended' })],
  ['deleted', () => ({ status: 'deleted' })],
  ['given a new secret (rotation without overlap)', () => ({ secretDigest: digest() })],
  ['still pending approval', () => ({ status: 'pending' })],
];

export function authenticatedClientContract({ withStorage }: ContractBackend): void {
  describe('AuthenticatedClient: exchanges and rotations re-check their client (SPEC decisions 10 and 13)', () => {
    const authenticated = (f: Fixture): AuthenticatedClient => ({ clientId: f.client.clientId, secretDigest: f.client.secretDigest });
    const readyConditions = (f: Fixture): ReadyCodeConditions => ({
      redirectUri: f.client.redirectUris[0]!, codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', dpopJkt: null,
      defaultResourceScopes: ['users:read', 'vendors:write'], clientSecretDigest: f.client.secretDigest,
    });
    /** Nothing of the exchange was stored, and the code is still unused (a retry that authenticates again redeems it). */
    const nothingExchanged = async (storage: Storage, f: Fixture, codeDigest: string, grantId: string) => {
      assert.equal(await storage.grants.find(grantId), undefined);
      assert.equal(await storage.grants.findActive(f.client.clientId, f.company.subjectType, f.company.subjectId), undefined);
      assert.equal((await storage.authorizationCodes.find(codeDigest, f.client.clientId))?.used, false);
    };

    for (const [name, change] of CHANGES) {
      it(`exchangeCode and exchangeReadyCode: a client ${name} since its authentication gets client_changed, and nothing is stored`, withStorage(async (storage) => {
        const f = await fixture(storage);
        const code = codeRecord(f, { issuedAt: NOW, expiresAt: NOW + 60 });
        await storage.authorizationCodes.create(code);
        await storage.clients.update(f.client.clientId, change(f));
        const grant = grantRecord(f, { createdAt: NOW + 1 });
        assert.deepEqual(await storage.grants.exchangeCode(code.codeDigest, f.client.clientId, NOW + 1, grant, tokenPair(grant, NOW + 1), undefined, authenticated(f)), { outcome: 'client_changed' });
        await nothingExchanged(storage, f, code.codeDigest, grant.grantId);
        const grantId = randomUUID();
        assert.deepEqual(await storage.grants.exchangeReadyCode(code.codeDigest, f.client.clientId, NOW + 1, readyConditions(f), grantId, mintedPair(NOW + 1)), { outcome: 'client_changed' });
        await nothingExchanged(storage, f, code.codeDigest, grantId);
      }));
    }

    it('exchangeCode and exchangeReadyCode: an unchanged client is issued (public: no secret); a rotation with overlap is no change, one without is', withStorage(async (storage) => {
      const f = await fixture(storage);
      const first = codeRecord(f, { issuedAt: NOW, expiresAt: NOW + 60 });
      await storage.authorizationCodes.create(first);
      assert.equal((await storage.grants.exchangeReadyCode(first.codeDigest, f.client.clientId, NOW + 1, readyConditions(f), randomUUID(), mintedPair(NOW + 1))).outcome, 'issued');
      // SPEC decision 10: the secret the request authenticated with is now the previous one, still valid in the
      // overlap: the request in flight goes on (a rotation with overlap must not cost a running integration a code).
      const second = codeRecord(f, { issuedAt: NOW + 2, expiresAt: NOW + 60 });
      await storage.authorizationCodes.create(second);
      await storage.clients.update(f.client.clientId, { secretDigest: digest(), previousSecretDigest: f.client.secretDigest, previousSecretExpiresAt: NOW + 600 });
      const grant = grantRecord(f, { createdAt: NOW + 3 });
      assert.equal((await storage.grants.exchangeCode(second.codeDigest, f.client.clientId, NOW + 3, grant, tokenPair(grant, NOW + 3), undefined, authenticated(f))).outcome, 'issued');
      // Past the overlap's end it is a change.
      const third = codeRecord(f, { issuedAt: NOW + 4, expiresAt: NOW + 700 });
      await storage.authorizationCodes.create(third);
      const late = grantRecord(f, { createdAt: NOW + 600 });
      assert.deepEqual(await storage.grants.exchangeCode(third.codeDigest, f.client.clientId, NOW + 600, late, tokenPair(late, NOW + 600), undefined, authenticated(f)), { outcome: 'client_changed' });
      assert.equal((await storage.authorizationCodes.find(third.codeDigest, f.client.clientId))?.used, false);
      // A public client has no secret: null is its unchanged credential.
      await storage.clients.update(f.client.clientId, { clientType: 'public', secretDigest: null, previousSecretDigest: null, previousSecretExpiresAt: null });
      const fourth = codeRecord(f, { issuedAt: NOW + 5, expiresAt: NOW + 60 });
      await storage.authorizationCodes.create(fourth);
      assert.equal((await storage.grants.exchangeReadyCode(fourth.codeDigest, f.client.clientId, NOW + 6, { ...readyConditions(f), clientSecretDigest: null }, randomUUID(), mintedPair(NOW + 6))).outcome, 'issued');
    }));

    it('a request that presented the previous secret (within the overlap) is refused by a later rotation, whatever its overlap: that secret no longer authenticates', withStorage(async (storage) => {
      const f = await fixture(storage);
      const previous = f.client.secretDigest!;
      const current = digest();
      await storage.clients.update(f.client.clientId, { secretDigest: current, previousSecretDigest: previous, previousSecretExpiresAt: NOW + 600 });
      const presentedPrevious: AuthenticatedClient = { clientId: f.client.clientId, secretDigest: previous };
      const first = codeRecord(f, { issuedAt: NOW, expiresAt: NOW + 60 });
      await storage.authorizationCodes.create(first);
      assert.equal((await storage.grants.exchangeReadyCode(first.codeDigest, f.client.clientId, NOW + 1, { ...readyConditions(f), clientSecretDigest: previous }, randomUUID(), mintedPair(NOW + 1))).outcome, 'issued', 'within the overlap');
      // A second rotation with overlap (and, say, revoke_grants): the current secret becomes the previous one.
      await storage.clients.update(f.client.clientId, { secretDigest: digest(), previousSecretDigest: current, previousSecretExpiresAt: NOW + 600 });
      const second = codeRecord(f, { issuedAt: NOW + 2, expiresAt: NOW + 60 });
      await storage.authorizationCodes.create(second);
      const grant = grantRecord(f, { createdAt: NOW + 3 });
      assert.deepEqual(await storage.grants.exchangeCode(second.codeDigest, f.client.clientId, NOW + 3, grant, tokenPair(grant, NOW + 3), undefined, presentedPrevious), { outcome: 'client_changed' });
    }));

    it('rotateReadyRefreshToken: a token that is no longer current, of a client whose secret was rotated without overlap, is client_changed (not the reuse path)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant, refresh } = await issueGrant(storage, f);
      assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 5, tokenPair(grant, NOW + 5)), 'rotated');
      await storage.clients.update(f.client.clientId, { secretDigest: digest(), previousSecretDigest: null, previousSecretExpiresAt: null });
      const ready = await storage.tokens.rotateReadyRefreshToken(
        refresh.tokenDigest, NOW + 10, { clientId: f.client.clientId, defaultResourceScopes: ['users:read', 'vendors:write'], clientSecretDigest: f.client.secretDigest }, mintedPair(NOW + 10),
      );
      assert.deepEqual(ready, { outcome: 'client_changed' });
      assert.equal((await storage.grants.find(grant.grantId))?.revokedAt, null, 'nothing revoked');
    }));

    for (const [name, change] of CHANGES) {
      it(`rotateRefreshToken and rotateReadyRefreshToken: a client ${name} since its authentication gets client_changed; the token stays current and the grant unrevoked`, withStorage(async (storage) => {
        const f = await fixture(storage);
        const { grant, refresh } = await issueGrant(storage, f);
        await storage.clients.update(f.client.clientId, change(f));
        assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, tokenPair(grant, NOW + 10), undefined, undefined, authenticated(f)), 'client_changed');
        const ready = await storage.tokens.rotateReadyRefreshToken(
          refresh.tokenDigest, NOW + 10, { clientId: f.client.clientId, defaultResourceScopes: ['users:read', 'vendors:write'], clientSecretDigest: f.client.secretDigest }, mintedPair(NOW + 10),
        );
        assert.deepEqual(ready, { outcome: 'client_changed' });
        const stored = await storage.tokens.findByDigest(refresh.tokenDigest);
        assert.equal(stored?.token.rotatedAt, null, 'not rotated');
        assert.equal(stored?.grant.revokedAt, null, 'no reuse detection: the grant stays for a reactivation');
        // Back as it was: the same token rotates.
        await storage.clients.update(f.client.clientId, { status: 'active', secretDigest: f.client.secretDigest });
        assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 11, tokenPair(grant, NOW + 11), undefined, undefined, authenticated(f)), 'rotated');
      }));
    }

    it('rotateRefreshToken: a lost race of an unchanged client is still not_current (the refresh grant\'s reuse detection)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const { grant, refresh } = await issueGrant(storage, f);
      assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, tokenPair(grant, NOW + 10), undefined, undefined, authenticated(f)), 'rotated');
      assert.equal(await storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 11, tokenPair(grant, NOW + 11), undefined, undefined, authenticated(f)), 'not_current');
    }));
  });
}
