/**
 * PostgreSQL's lock order between a client's change and the requests in flight (storage.ts AuthenticatedClient;
 * SPEC decisions 10 and 13; found by a concurrency review, where 1 in 18 to 8 in 36 raced exchanges kept a grant
 * or token that a suspension, a deletion or a secret rotation with revoke_grants had not revoked). A second
 * connection plays the other side, holding its locks in an open transaction, so each interleaving is made on
 * purpose, not by chance: the storage operation is seen waiting on it (pg_blocking_pids), then it commits.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ClientStatusChange, ClientStatusChangeOutcome, Storage } from '../storage.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../../testing/postgres.ts';
import { holdLocks, type LockHolder } from './lock-holder.ts';
import { codeRecord, digest, type Fixture, fixture, grantRecord, issueGrant, mintedPair, NOW, tokenPair } from '../contract/fixtures.ts';

const skip = await postgresSkipReason();

describe('PostgreSQL: client changes and the exchanges and rotations in flight (AuthenticatedClient)', { skip }, () => {
  let storage: Storage & { schema: string };
  before(async () => {
    storage = await createTestPostgresStorage();
  });
  after(async () => {
    await storage?.close();
  });

  /** A suspension or deletion as client-management.ts asks for it (its effects are contract/client-status.ts's). */
  const change = (status: 'suspended' | 'deleted', now: number): ClientStatusChange =>
    ({ status, now, auditEvent: () => ({ type: `client.${status}`, at: now, actor: 'admin:ops', details: {} }) });
  const revocationCount = (outcome: ClientStatusChangeOutcome) => (outcome.outcome === 'changed' ? outcome.accessTokensRevoked : -1);

  /** A connection of its own with an open transaction (lock-holder.ts). */
  const otherSide = () => holdLocks(storage.schema);
  /** What an exchange in flight has written and not committed: a new grant of the client, with its access token. */
  const exchangeInFlight = async (side: LockHolder, f: Fixture) => {
    const company = randomUUID();
    await side.query("INSERT INTO subjects (subject_type, subject_id, name) VALUES ('company', $1, 'In Flight ApS')", [company]);
    const grantId = randomUUID();
    await side.query('SELECT 1 FROM clients WHERE client_id = $1 FOR SHARE', [f.client.clientId]);
    await side.query(
      "INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at) VALUES ($1, $2, $3, 'company', $4, 'users:read', $5)",
      [grantId, f.client.clientId, f.user.userId, company, NOW + 5],
    );
    const accessDigest = digest();
    await side.query(
      "INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at) VALUES ($1, $2, 'access', $3, $4, 'users:read', $5, $6)",
      [accessDigest, randomUUID(), grantId, f.client.clientId, NOW + 5, NOW + 905],
    );
    return { grantId, accessDigest };
  };

  /** An issued grant whose row the other side holds, and a ready rotation of its refresh token waiting for it. */
  const readyRotationWaiting = async () => {
    const f = await fixture(storage);
    const { grant, refresh } = await issueGrant(storage, f);
    const side = await otherSide();
    await side.query('SELECT 1 FROM grants WHERE grant_id = $1 FOR UPDATE', [grant.grantId]);
    const rotation = storage.tokens.rotateReadyRefreshToken(refresh.tokenDigest, NOW + 10, {
      clientId: f.client.clientId, defaultResourceScopes: grant.scope, clientSecretDigest: f.client.secretDigest,
    }, mintedPair(NOW + 10));
    await side.waitingOn(rotation);
    return { f, grant, refresh, side, rotation };
  };

  it('an exchange waits for a suspension being committed, then reads it and refuses (client_changed): the code stays unused', async () => {
    const f = await fixture(storage);
    const code = codeRecord(f, { issuedAt: NOW, expiresAt: NOW + 60 });
    await storage.authorizationCodes.create(code);
    const side = await otherSide();
    await side.query("UPDATE clients SET status = 'suspended' WHERE client_id = $1", [f.client.clientId]);
    await side.query('SELECT 1 FROM clients WHERE client_id = $1 FOR UPDATE', [f.client.clientId]);
    const exchange = storage.grants.exchangeReadyCode(code.codeDigest, f.client.clientId, NOW + 1, {
      redirectUri: code.redirectUri, codeChallenge: code.codeChallenge, dpopJkt: null, defaultResourceScopes: code.scope, clientSecretDigest: f.client.secretDigest,
    }, randomUUID(), mintedPair(NOW + 1));
    await side.waitingOn(exchange);
    await side.end();
    assert.deepEqual(await exchange, { outcome: 'client_changed' });
    assert.equal((await storage.authorizationCodes.find(code.codeDigest, f.client.clientId))?.used, false);
  });

  it("a suspension waits for an exchange in flight and revokes the access token it issued", async () => {
    const f = await fixture(storage);
    const side = await otherSide();
    const { accessDigest } = await exchangeInFlight(side, f);
    const revocation = storage.clients.changeStatus(f.client.clientId, change('suspended', NOW + 6));
    await side.waitingOn(revocation);
    await side.end();
    assert.equal(revocationCount(await revocation), 1);
    assert.equal((await storage.tokens.findByDigest(accessDigest))?.token.revokedAt, NOW + 6);
  });

  it("a suspension waits for a rotation in flight (its grant's lock) and revokes the access token it issued", async () => {
    const f = await fixture(storage);
    const { grant } = await issueGrant(storage, f);
    const side = await otherSide();
    await side.query('SELECT 1 FROM grants WHERE grant_id = $1 FOR NO KEY UPDATE', [grant.grantId]);
    const accessDigest = digest();
    await side.query(
      "INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at) VALUES ($1, $2, 'access', $3, $4, 'users:read', $5, $6)",
      [accessDigest, randomUUID(), grant.grantId, f.client.clientId, NOW + 5, NOW + 905],
    );
    const revocation = storage.clients.changeStatus(f.client.clientId, change('suspended', NOW + 6));
    await side.waitingOn(revocation);
    await side.end();
    assert.equal(revocationCount(await revocation), 2, "the issued grant's first access token and the one of the rotation");
    assert.equal((await storage.tokens.findByDigest(accessDigest))?.token.revokedAt, NOW + 6);
  });

  it('revokeAllOfClient (a rotation with revoke_grants) waits for an exchange in flight and revokes the grant it created', async () => {
    const f = await fixture(storage);
    const side = await otherSide();
    const { grantId } = await exchangeInFlight(side, f);
    const revocation = storage.grants.revokeAllOfClient(f.client.clientId, NOW + 6, 'client_secret_rotated');
    await side.waitingOn(revocation);
    await side.end();
    assert.equal(await revocation, 1);
    assert.equal((await storage.grants.find(grantId))?.revokedAt, NOW + 6);
  });

  it('a deletion waits for an exchange in flight and revokes the grant it created, with its access token', async () => {
    const f = await fixture(storage);
    const side = await otherSide();
    const { grantId, accessDigest } = await exchangeInFlight(side, f);
    const deletion = storage.clients.changeStatus(f.client.clientId, change('deleted', NOW + 6));
    await side.waitingOn(deletion);
    await side.end();
    const deleted = await deletion;
    assert.equal(deleted.outcome === 'changed' && deleted.grantsRevoked, 1);
    assert.equal((await storage.grants.find(grantId))?.revocationReason, 'client_deleted');
    assert.equal((await storage.tokens.findByDigest(accessDigest))?.token.revokedAt, NOW + 6);
  });

  it('a rotation of the other path (JWTs, a scope…) that waited for its grant says client_changed itself, even when the client is back by the time it answers (never a lost race, which revokes)', async () => {
    const f = await fixture(storage);
    const { grant, refresh } = await issueGrant(storage, f);
    const side = await otherSide();
    await side.query('SELECT 1 FROM grants WHERE grant_id = $1 FOR UPDATE', [grant.grantId]);
    const rotation = storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, tokenPair(grant, NOW + 10), undefined, undefined, {
      clientId: f.client.clientId, secretDigest: f.client.secretDigest,
    });
    await side.waitingOn(rotation);
    await storage.clients.update(f.client.clientId, { status: 'suspended' });
    await side.end();
    const outcome = await rotation;
    await storage.clients.update(f.client.clientId, { status: 'active' }); // reactivated: the answer was decided under the lock
    assert.equal(outcome, 'client_changed');
    assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))?.token.rotatedAt, null);
  });

  it('a rotation whose grant a deletion revoked while it waited says client_changed (the refresh is answered invalid_client, not as reuse)', async () => {
    const { f, grant, side, rotation } = await readyRotationWaiting();
    await storage.clients.update(f.client.clientId, { status: 'deleted' });
    await side.query("UPDATE grants SET revoked_at = $2, revocation_reason = 'client_deleted' WHERE grant_id = $1", [grant.grantId, NOW + 9]);
    await side.end();
    assert.deepEqual(await rotation, { outcome: 'client_changed' });
  });

  it('a rotation that waited for its grant reads the client again: a suspension committed meanwhile refuses it (client_changed), nothing revoked', async () => {
    const { f, refresh, side, rotation } = await readyRotationWaiting();
    await storage.clients.update(f.client.clientId, { status: 'suspended' });
    await side.end();
    assert.deepEqual(await rotation, { outcome: 'client_changed' });
    const stored = await storage.tokens.findByDigest(refresh.tokenDigest);
    assert.equal(stored?.token.rotatedAt, null);
    assert.equal(stored?.grant.revokedAt, null);
  });
  // A narrowing of the client's registered scopes (stores/client-scopes.ts) holds the client's unredeemed codes, then
  // the client row, then its grants, and rewrites their scope; the other side plays it, having taken the lock the
  // request in flight then waits for. What the request writes after it must not name the removed scope: the grant
  // and the refresh token are "narrowed either way" (README "Registering clients").
  it('an exchange (the read path: JWTs, a resource) that waited for a narrowing holding its code stores nothing and says what the narrowing left (scope_narrowed), not the scope it read before', async () => {
    const f = await fixture(storage);
    const code = codeRecord(f, { issuedAt: NOW, expiresAt: NOW + 60 });
    await storage.authorizationCodes.create(code);
    const side = await otherSide();
    await side.query('SELECT 1 FROM authorization_codes WHERE code_digest = $1 FOR UPDATE', [code.codeDigest]);
    // As the token endpoint read them before the narrowing committed: the code's scope, the client's scopes.
    const grant = grantRecord(f, { createdAt: NOW + 1, scope: code.scope });
    const exchange = storage.grants.exchangeCode(code.codeDigest, f.client.clientId, NOW + 1, grant, tokenPair(grant, NOW + 1), undefined, {
      clientId: f.client.clientId, secretDigest: f.client.secretDigest,
    });
    await side.waitingOn(exchange);
    await side.query("UPDATE authorization_codes SET scope = 'users:read' WHERE code_digest = $1", [code.codeDigest]);
    await side.query("UPDATE clients SET scopes = 'users:read' WHERE client_id = $1", [f.client.clientId]);
    await side.end();
    // Its tokens were minted with the scope it read (a JWT access token is signed with it): nothing is written, and the
    // token endpoint builds the grant again with what is left (grants/authorization-code.ts).
    assert.deepEqual(await exchange, { outcome: 'scope_narrowed', scope: ['users:read'] }, 'the grant with vendors:write, which the client lost before it was written, is stored');
    assert.equal(await storage.grants.find(grant.grantId), undefined);
    assert.equal((await storage.authorizationCodes.find(code.codeDigest, f.client.clientId))?.used, false, 'the code stays unused');
  });

  it('a ready exchange (opaque access tokens, no resource) that waited for a narrowing holding its code grants what the narrowing left, not the code it read before the lock', async () => {
    const f = await fixture(storage);
    const code = codeRecord(f, { issuedAt: NOW, expiresAt: NOW + 60 });
    await storage.authorizationCodes.create(code);
    const side = await otherSide();
    await side.query('SELECT 1 FROM authorization_codes WHERE code_digest = $1 FOR UPDATE', [code.codeDigest]);
    const exchange = storage.grants.exchangeReadyCode(code.codeDigest, f.client.clientId, NOW + 1, {
      // The authorization_code grant filters these by the client's scopes, read (cached) before the narrowing committed.
      redirectUri: code.redirectUri, codeChallenge: code.codeChallenge, dpopJkt: null, defaultResourceScopes: code.scope, clientSecretDigest: f.client.secretDigest,
    }, randomUUID(), mintedPair(NOW + 1));
    await side.waitingOn(exchange);
    await side.query("UPDATE authorization_codes SET scope = 'users:read' WHERE code_digest = $1", [code.codeDigest]);
    await side.query("UPDATE clients SET scopes = 'users:read' WHERE client_id = $1", [f.client.clientId]);
    await side.end();
    const exchanged = await exchange;
    assert.equal(exchanged.outcome, 'issued');
    assert.ok(exchanged.outcome === 'issued');
    assert.deepEqual(exchanged.grant.scope, ['users:read'], 'the grant holds vendors:write, which the client lost before it was written');
    assert.deepEqual(exchanged.tokens.map((token) => token.scope), [['users:read'], ['users:read']]);
    assert.deepEqual((await storage.grants.find(exchanged.grant.grantId))?.scope, ['users:read'], 'as stored');
    assert.deepEqual((await storage.tokens.findByDigest(exchanged.tokens[1]!.tokenDigest))?.token.scope, ['users:read'], 'as stored');
  });

  it('a rotation of the other path (JWTs, a scope…) that waited for a narrowing holding its grant stores nothing and says what the narrowing left (scope_narrowed): its tokens were minted with the scope read before', async () => {
    const f = await fixture(storage);
    const { grant, refresh } = await issueGrant(storage, f);
    const side = await otherSide();
    await side.query('SELECT 1 FROM grants WHERE grant_id = $1 FOR UPDATE', [grant.grantId]);
    const next = tokenPair(grant, NOW + 10);
    const rotation = storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, next, undefined, undefined, {
      clientId: f.client.clientId, secretDigest: f.client.secretDigest,
    });
    await side.waitingOn(rotation);
    await side.query("UPDATE clients SET scopes = 'users:read' WHERE client_id = $1", [f.client.clientId]);
    await side.query("UPDATE grants SET scope = 'users:read' WHERE grant_id = $1", [grant.grantId]);
    await side.query("UPDATE tokens SET scope = 'users:read' WHERE token_digest = $1", [refresh.tokenDigest]);
    await side.end();
    assert.deepEqual(await rotation, { outcome: 'scope_narrowed', scope: ['users:read'] }, 'the new pair names vendors:write, which the client lost before it was written');
    assert.equal(await storage.tokens.findByDigest(next[1].tokenDigest), undefined);
    assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))?.token.rotatedAt, null, 'the token stays current');
  });

  it('a ready rotation that waited for a narrowing holding its grant writes the narrowed scope, not the one it read before the lock', async () => {
    const f = await fixture(storage);
    const { grant, access, refresh } = await issueGrant(storage, f);
    const side = await otherSide();
    await side.query('SELECT 1 FROM grants WHERE grant_id = $1 FOR UPDATE', [grant.grantId]);
    const rotation = storage.tokens.rotateReadyRefreshToken(refresh.tokenDigest, NOW + 10, {
      // The refresh grant filters these by the client's scopes, read (cached) before the narrowing committed.
      clientId: f.client.clientId, defaultResourceScopes: grant.scope, clientSecretDigest: f.client.secretDigest,
    }, mintedPair(NOW + 10));
    await side.waitingOn(rotation);
    await side.query("UPDATE clients SET scopes = 'users:read' WHERE client_id = $1", [f.client.clientId]);
    await side.query("UPDATE grants SET scope = 'users:read' WHERE grant_id = $1", [grant.grantId]);
    await side.query("UPDATE tokens SET scope = 'users:read' WHERE token_digest = $1", [refresh.tokenDigest]);
    await side.query('UPDATE tokens SET revoked_at = $2 WHERE token_digest = $1', [access.tokenDigest, NOW + 9]);
    await side.end();
    const rotated = await rotation;
    assert.equal(rotated.outcome, 'rotated');
    assert.ok(rotated.outcome === 'rotated');
    assert.deepEqual(rotated.tokens.map((token) => token.scope), [['users:read'], ['users:read']], 'the new pair names vendors:write, which the client lost before it was written');
    assert.deepEqual(rotated.scope, ['users:read'], 'the scope answered (RFC 6749 §6)');
    assert.deepEqual((await storage.tokens.findByDigest(rotated.tokens[1]!.tokenDigest))?.token.scope, ['users:read'], 'as stored');
  });
});
