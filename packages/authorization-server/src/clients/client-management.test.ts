import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OAuthError } from '../errors.ts';
import type { Environment } from '../options.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage, TokenRecord } from '../storage/storage.ts';
import { jpegImage, pngImage, svgImage, webpImage } from '../testing/images.ts';
import { authenticateClient } from './client-authentication.ts';
import {
  approveClient, ClientManagementError, deleteClient, inspectLogo, reactivateClient, rejectBrandingChange, rotateClientSecret, setClientLogo, setPkceException,
  suspendClient, updateClient, type ManagementContext,
} from './client-management.ts';
import { registerClient, RegistrationError, type ClientRegistration } from './registration.ts';

const NOW = 1_800_000_000;
const ISSUER = 'https://auth.example';

const registration: ClientRegistration = {
  clientName: 'Ledgerly Sync', clientType: 'confidential', redirectUris: ['https://ledgerly.example/oauth/callback'],
  scopes: ['users:read', 'vendors:write'], clientUri: 'https://ledgerly.example', tosUri: 'https://ledgerly.example/terms',
  policyUri: 'https://ledgerly.example/privacy', initiationUri: 'https://ledgerly.example/connect', settingsUri: 'https://ledgerly.example/settings',
  contacts: ['dev@ledgerly.example'],
};

function withStorage(body: (storage: Storage) => Promise<void>) {
  return async () => {
    const storage = createSqliteStorage(':memory:');
    try {
      await body(storage);
    } finally {
      await storage.close();
    }
  };
}

const admin = (storage: Storage, environment: Environment = 'staging', now = NOW): ManagementContext =>
  ({ storage, environment, brandName: 'Gatehouse', now, actor: 'admin:ops' });

async function register(storage: Storage, environment: Environment = 'staging', extra: Partial<ClientRegistration> = {}, ownerUserId: string | null = null) {
  if (ownerUserId) await storage.users.create({ userId: ownerUserId, email: `${ownerUserId}@partner.example`, name: 'Dev', passwordHash: 'x' });
  return registerClient({ storage, environment, brandName: 'Gatehouse', now: NOW }, { ...registration, ...extra }, {},
    ownerUserId ? { actor: `user:${ownerUserId}`, ownerUserId } : { actor: 'admin:ops' });
}

async function refused(promise: Promise<unknown>, field: string): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof RegistrationError, String(error));
    assert.equal(error.field, field);
    assert.ok(error.message.startsWith(`${field}: `), error.message);
    return true;
  });
}

/** A grant with one access and one refresh token for the client, as the token endpoint stores them. */
async function grantFor(storage: Storage, clientId: string) {
  const userId = crypto.randomUUID();
  const subjectId = crypto.randomUUID();
  await storage.users.create({ userId, email: `${userId}@example.com`, name: 'Alice', passwordHash: 'x' });
  await storage.subjects.create({ subjectType: 'company', subjectId, name: 'Nordlys', organizationId: null });
  const codeDigest = crypto.randomUUID();
  await storage.authorizationCodes.create({ codeDigest, clientId, userId, redirectUri: registration.redirectUris[0]!, scope: ['users:read'], subjectType: 'company', subjectId, codeChallenge: null, issuedAt: NOW, expiresAt: NOW + 60 });
  await storage.authorizationCodes.consume(codeDigest, NOW);
  const grant = { grantId: crypto.randomUUID(), clientId, userId, subjectType: 'company' as const, subjectId, scope: ['users:read'], createdAt: NOW, revokedAt: null, revocationReason: null };
  const token = (kind: 'access' | 'refresh'): TokenRecord => ({ tokenDigest: crypto.randomUUID(), tokenId: crypto.randomUUID(), kind, grantId: grant.grantId, clientId, scope: ['users:read'], issuedAt: NOW, expiresAt: NOW + 900, rotatedAt: null, revokedAt: null });
  const [access, refresh] = [token('access'), token('refresh')];
  await storage.grants.issueForCode(codeDigest, grant, [access, refresh]);
  return { grant, access, refresh };
}

const basicAuth = (clientId: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;

describe('client metadata rules (seed "OAuth 2.0 Client Registration"): each refusal names its field', () => {
  for (const [field, value] of [
    ['client_uri', 'http://ledgerly.example'], ['tos_uri', 'ftp://ledgerly.example/terms'], ['policy_uri', 'privacy'],
    ['initiation_uri', 'https://user:pw@ledgerly.example/connect'], ['settings_uri', 'http://intranet.example/settings'],
  ] as const) {
    it(`refuses a ${field} that is not absolute https (http only for localhost outside production)`, withStorage(async (storage) => {
      const key = ({ client_uri: 'clientUri', tos_uri: 'tosUri', policy_uri: 'policyUri', initiation_uri: 'initiationUri', settings_uri: 'settingsUri' } as const)[field];
      await refused(register(storage, 'staging', { [key]: value }), field);
    }));
  }

  it('allows http://localhost page URIs in staging and refuses them in production', withStorage(async (storage) => {
    const { client } = await register(storage, 'staging', { clientUri: 'http://localhost:8080/' });
    assert.equal(client.clientUri, 'http://localhost:8080/');
    await refused(register(storage, 'production', { clientUri: 'http://localhost:8080/' }), 'client_uri');
  }));

  it('refuses a fragment in initiation_uri and settings_uri (the platform appends the handover token)', withStorage(async (storage) => {
    await refused(register(storage, 'staging', { initiationUri: 'https://ledgerly.example/connect#x' }), 'initiation_uri');
    await refused(register(storage, 'staging', { settingsUri: 'https://ledgerly.example/settings#x' }), 'settings_uri');
  }));

  it('refuses contacts that are not e-mail addresses, and more than 10', withStorage(async (storage) => {
    await refused(register(storage, 'staging', { contacts: ['not an address'] }), 'contacts');
    await refused(register(storage, 'staging', { contacts: ['dev@ledgerly'] }), 'contacts');
    await refused(register(storage, 'staging', { contacts: ['<dev@ledgerly.example>'] }), 'contacts');
    await refused(register(storage, 'staging', { contacts: Array.from({ length: 11 }, (_, i) => `dev${i}@ledgerly.example`) }), 'contacts');
    const { client } = await register(storage, 'staging', { contacts: [' dev@ledgerly.example ', 'dev@ledgerly.example', 'ops@ledgerly.example'] });
    assert.deepEqual(client.contacts, ['dev@ledgerly.example', 'ops@ledgerly.example']);
  }));

  it('stores every registered field and the issued ones; partner clients start unverified outside development', withStorage(async (storage) => {
    const { client, clientSecret } = await register(storage, 'staging', {}, crypto.randomUUID());
    assert.match(clientSecret!, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(client.status, 'pending');
    assert.equal(client.brandingVerified, false);
    assert.equal(client.initiationUri, registration.initiationUri);
    assert.equal(client.settingsUri, registration.settingsUri);
    assert.deepEqual(client.contacts, registration.contacts);
    assert.deepEqual(await storage.clients.find(client.clientId), client);
    const development = await register(storage, 'development', {}, crypto.randomUUID());
    assert.equal(development.client.brandingVerified, true);
    assert.equal(development.client.status, 'active');
  }));
});

describe('client management', () => {
  it('update validates the merged metadata with the registration rules and records which fields changed (never values of secrets)', withStorage(async (storage) => {
    const { client } = await register(storage);
    await refused(updateClient(admin(storage), client.clientId, { clientName: 'GATE house Sync' }), 'client_name');
    await refused(updateClient(admin(storage), client.clientId, { redirectUris: ['https://ledgerly.example/*'] }), 'redirect_uris');
    await refused(updateClient(admin(storage), client.clientId, { redirectUris: [] }), 'redirect_uris');
    await refused(updateClient(admin(storage), client.clientId, { scopes: ['admin:everything'] }), 'scope');
    await refused(updateClient(admin(storage), client.clientId, { tosUri: 'http://ledgerly.example/terms' }), 'tos_uri');
    const updated = await updateClient(admin(storage), client.clientId, { clientName: 'Ledgerly Books', scopes: ['accounts:read'], tosUri: null });
    assert.equal(updated.clientName, 'Ledgerly Books');
    assert.deepEqual(updated.scopes, ['accounts:read']);
    assert.equal(updated.tosUri, null);
    const [event] = await storage.audit.list({ limit: 1 });
    assert.equal(event?.type, 'client.updated');
    assert.equal(event?.actor, 'admin:ops');
    assert.equal(event?.at, NOW);
    assert.equal(event?.details?.fields, 'client_name scope tos_uri');
  }));

  it('a partner\'s change of name makes the branding unverified until an administrator approves it again', withStorage(async (storage) => {
    const owner = crypto.randomUUID();
    const { client } = await register(storage, 'staging', {}, owner);
    await approveClient(admin(storage), client.clientId);
    assert.equal((await storage.clients.find(client.clientId))?.brandingVerified, true);
    const partner = { ...admin(storage), actor: `user:${owner}` };
    assert.equal((await updateClient(partner, client.clientId, { contacts: ['ops@ledgerly.example'] })).brandingVerified, true);
    assert.equal((await updateClient(partner, client.clientId, { clientName: 'Ledgerly Two' })).brandingVerified, false);
    assert.equal((await approveClient(admin(storage), client.clientId)).brandingVerified, true);
  }));

  it('a partner\'s change of another field leaves the branding reviewed when a stored page URI is only re-encoded (RFC 3986 §2.1)', withStorage(async (storage) => {
    const owner = crypto.randomUUID();
    const { client } = await register(storage, 'staging', {}, owner);
    await approveClient(admin(storage), client.clientId);
    // Stored before page URIs were percent-encoded (402e1a0): the same logo, the same page.
    await storage.clients.update(client.clientId, { logoUri: 'https://ledgerly.example/l\u00F8go.png', tosUri: 'https://ledgerly.example/vilk\u00E5r' });
    const partner = { ...admin(storage), actor: `user:${owner}` };
    const updated = await updateClient(partner, client.clientId, { contacts: ['ops@ledgerly.example'] });
    assert.equal(updated.logoUri, 'https://ledgerly.example/l%C3%B8go.png');
    assert.equal(updated.brandingVerified, true, 'the reviewed logo and terms, written as a browser sends them');
    assert.equal(await storage.brandingReviews.find(client.clientId), undefined);
    assert.equal((await updateClient(partner, client.clientId, { logoUri: 'https://ledgerly.example/other.png' })).brandingVerified, false);
  }));

  it('a page URI is at most 2000 characters as stored, percent-encoded (RFC 3986 §2.1): one accepted still saves the client\'s other changes', withStorage(async (storage) => {
    const long = `https://ledgerly.example/${'\u00E9'.repeat(400)}`; // 425 characters as typed, 2425 encoded
    await refused(register(storage, 'staging', { tosUri: long }), 'tos_uri');
    const { client } = await register(storage);
    await refused(updateClient(admin(storage), client.clientId, { tosUri: long }), 'tos_uri');
    const fits = `https://ledgerly.example/${'\u00E9'.repeat(320)}`;
    assert.equal((await updateClient(admin(storage), client.clientId, { tosUri: fits })).tosUri?.length, 25 + 320 * 6);
    assert.equal((await updateClient(admin(storage), client.clientId, { clientName: 'Ledgerly Two' })).clientName, 'Ledgerly Two');
  }));

  it('a partner\'s new marketplace description is reviewed again before it is listed; a category change is not (issue 13)', withStorage(async (storage) => {
    const owner = crypto.randomUUID();
    const { client } = await register(storage, 'staging', { description: 'Books', category: 'accounting' }, owner);
    await approveClient(admin(storage), client.clientId);
    const partner = { ...admin(storage), actor: `user:${owner}` };
    assert.equal((await updateClient(partner, client.clientId, { category: 'reporting' })).brandingVerified, true);
    const changed = await updateClient(partner, client.clientId, { description: 'Free money, click here' });
    assert.equal(changed.brandingVerified, false, 'unlisted until an administrator approves it again');
    assert.equal(changed.description, 'Free money, click here');
    assert.equal((await updateClient(admin(storage), client.clientId, { description: 'Books' })).brandingVerified, false, 'an administrator\'s edit does not approve by itself');
    await assert.rejects(updateClient(partner, client.clientId, { category: 'games' as never }), (error: unknown) => error instanceof RegistrationError && error.field === 'category');
  }));

  it('rejecting a partner\'s new marketplace description restores the reviewed one (issue 13)', withStorage(async (storage) => {
    const owner = crypto.randomUUID();
    const { client } = await register(storage, 'staging', { description: 'Books' }, owner);
    await approveClient(admin(storage), client.clientId);
    const partner = { ...admin(storage), actor: `user:${owner}` };
    await updateClient(partner, client.clientId, { description: 'Free money, click here' });
    const restored = await rejectBrandingChange(admin(storage), client.clientId);
    assert.equal(restored.description, 'Books');
    assert.equal(restored.brandingVerified, true);
    const [event] = await storage.audit.list({ clientId: client.clientId, types: ['client.branding_rejected'] });
    assert.deepEqual(event?.details, { fields: 'description' });
  }));

  it('approve, suspend, reactivate and delete follow the lifecycle (SPEC decision 13) and each is audited', withStorage(async (storage) => {
    const { client } = await register(storage);
    assert.equal(client.status, 'pending');
    assert.equal((await approveClient(admin(storage), client.clientId)).status, 'active');
    assert.equal((await suspendClient(admin(storage), client.clientId)).status, 'suspended');
    await assert.rejects(approveClient(admin(storage), client.clientId), ClientManagementError);
    assert.equal((await reactivateClient(admin(storage), client.clientId)).status, 'active');
    await assert.rejects(reactivateClient(admin(storage), client.clientId), (error) => error instanceof ClientManagementError && error.reason === 'conflict');
    assert.equal((await deleteClient(admin(storage), client.clientId)).client.status, 'deleted');
    await assert.rejects(suspendClient(admin(storage), client.clientId), (error) => error instanceof ClientManagementError && error.reason === 'not_found');
    const types = (await storage.audit.list()).map((event) => event.type).reverse();
    assert.deepEqual(types, ['client.registered', 'client.approved', 'client.suspended', 'client.reactivated', 'client.deleted']);
  }));

  it('suspension revokes the client\'s access tokens (the revocation feed lists them) and keeps its grants; deletion revokes its grants', withStorage(async (storage) => {
    const { client } = await register(storage, 'development');
    const { grant, access, refresh } = await grantFor(storage, client.clientId);
    await suspendClient(admin(storage, 'development', NOW + 10), client.clientId);
    assert.equal((await storage.tokens.findByDigest(access.tokenDigest))?.token.revokedAt, NOW + 10);
    assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))?.token.revokedAt, null);
    assert.deepEqual((await storage.tokens.listRevokedAccessTokens({ sinceSeconds: NOW }, NOW + 10, 10)).map((entry) => entry.tokenId), [access.tokenId]);
    await reactivateClient(admin(storage, 'development', NOW + 20), client.clientId);
    assert.equal((await storage.grants.find(grant.grantId))?.revokedAt, null);
    const deleted = await deleteClient(admin(storage, 'development', NOW + 30), client.clientId);
    assert.equal(deleted.grantsRevoked, 1);
    const revoked = await storage.grants.find(grant.grantId);
    assert.equal(revoked?.revokedAt, NOW + 30);
    assert.equal(revoked?.revocationReason, 'client_deleted');
    assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))?.token.revokedAt, NOW + 30);
  }));

  it('suspending or deleting again completes a revocation an older version left undone after the status committed (two commits then), and records only a repair that did something', withStorage(async (storage) => {
    const { client } = await register(storage, 'development');
    const { grant, access, refresh } = await grantFor(storage, client.clientId);
    // The status committed and the revocation never ran (a statement timeout, a failover, a crash).
    await storage.clients.update(client.clientId, { status: 'suspended' });
    const events = async () => (await storage.audit.list({ clientId: client.clientId })).map((event) => event.type);
    const before = (await events()).length;
    await suspendClient(admin(storage, 'development', NOW + 10), client.clientId);
    assert.equal((await storage.tokens.findByDigest(access.tokenDigest))?.token.revokedAt, NOW + 10, 'revoked by suspending again');
    assert.equal((await events()).length, before + 1, 'the repair is recorded');
    await suspendClient(admin(storage, 'development', NOW + 11), client.clientId);
    assert.equal((await events()).length, before + 1, 'a suspension with nothing left to revoke records nothing');
    await storage.clients.update(client.clientId, { status: 'deleted' });
    const notFound = (error: unknown) => error instanceof ClientManagementError && error.reason === 'not_found';
    await assert.rejects(deleteClient(admin(storage, 'development', NOW + 20), client.clientId), notFound, 'a deleted client is still not found');
    assert.equal((await storage.grants.find(grant.grantId))?.revocationReason, 'client_deleted', 'deleting again revoked the grants the first deletion left');
    assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))?.token.revokedAt, NOW + 20);
    assert.deepEqual((await events()).filter((type) => type === 'client.deleted').length, 1, 'the repair is recorded');
    await assert.rejects(deleteClient(admin(storage, 'development', NOW + 21), client.clientId), notFound);
    assert.deepEqual((await events()).filter((type) => type === 'client.deleted').length, 1, 'nothing left to revoke: nothing recorded');
  }));

  it('a PKCE exception is for confidential clients only, and only an administrator grants it (SPEC decision 2)', withStorage(async (storage) => {
    const { client } = await register(storage);
    assert.equal((await setPkceException(admin(storage), client.clientId, true)).pkceRequired, false);
    assert.equal((await setPkceException(admin(storage), client.clientId, false)).pkceRequired, true);
    await assert.rejects(setPkceException({ ...admin(storage), actor: 'user:someone' }, client.clientId, true), ClientManagementError);
    const mobile = await register(storage, 'staging', { clientName: 'Ledgerly Mobile', clientType: 'public', redirectUris: ['com.ledgerly.mobile:/cb'] });
    await refused(setPkceException(admin(storage), mobile.client.clientId, true), 'pkce_required');
    await refused(register(storage, 'staging', { clientType: 'public', redirectUris: ['com.ledgerly.mobile:/cb'], pkceRequired: false }), 'pkce_required');
  }));

  it('rotation: the new secret works at once, the old one during the overlap and not from its end (SPEC decision 10)', withStorage(async (storage) => {
    const { client, clientSecret: oldSecret } = await register(storage, 'development');
    const rotated = await rotateClientSecret(admin(storage, 'development'), client.clientId, { overlapSeconds: 300 });
    assert.notEqual(rotated.clientSecret, oldSecret);
    const authenticate = (secret: string, now: number) => authenticateClient(storage, basicAuth(client.clientId, secret), {}, { allowPublicClients: false }, now);
    assert.equal((await authenticate(rotated.clientSecret, NOW)).clientId, client.clientId);
    assert.equal((await authenticate(oldSecret!, NOW)).clientId, client.clientId);
    assert.equal((await authenticate(oldSecret!, NOW + 299)).clientId, client.clientId);
    await assert.rejects(authenticate(oldSecret!, NOW + 300), (error) => error instanceof OAuthError && error.code === 'invalid_client');
    assert.equal((await authenticate(rotated.clientSecret, NOW + 300)).clientId, client.clientId);
    const [event] = await storage.audit.list({ limit: 1 });
    assert.equal(event?.type, 'client.secret_rotated');
    assert.equal(event?.details?.overlap_seconds, 300);
    assert.ok(!JSON.stringify(await storage.audit.list()).includes(rotated.clientSecret));
  }));

  it('rotation without overlap refuses the old secret at once; revoke_grants revokes every grant; public clients have no secret to rotate', withStorage(async (storage) => {
    const { client, clientSecret: oldSecret } = await register(storage, 'development');
    const { grant } = await grantFor(storage, client.clientId);
    const rotated = await rotateClientSecret(admin(storage, 'development'), client.clientId, { revokeGrants: true });
    assert.equal(rotated.grantsRevoked, 1);
    assert.equal((await storage.grants.find(grant.grantId))?.revocationReason, 'client_secret_rotated');
    await assert.rejects(authenticateClient(storage, basicAuth(client.clientId, oldSecret!), {}, { allowPublicClients: false }, NOW), OAuthError);
    await refused(rotateClientSecret(admin(storage), client.clientId, { overlapSeconds: -1 }), 'overlap_seconds');
    const mobile = await register(storage, 'development', { clientName: 'Ledgerly Mobile', clientType: 'public', redirectUris: ['com.ledgerly.mobile:/cb'] });
    await assert.rejects(rotateClientSecret(admin(storage), mobile.client.clientId), ClientManagementError);
  }));
});

describe('logos (seed: "Square (1:1), high-resolution logo")', () => {
  it('accepts square PNG, JPEG and WebP images of at least 256×256, typed by their content', () => {
    assert.equal(inspectLogo(pngImage(256, 256)).contentType, 'image/png');
    assert.equal(inspectLogo(jpegImage(512, 512)).contentType, 'image/jpeg');
    assert.equal(inspectLogo(webpImage(1024, 1024)).contentType, 'image/webp');
  });

  it('refuses SVG (script risk), non-square, small, oversized and unreadable images, naming the logo field', () => {
    for (const bytes of [svgImage(512, 512), pngImage(300, 256), pngImage(255, 255), pngImage(256, 256, 1024 * 1024), Buffer.from('not an image'), Buffer.alloc(0)]) {
      assert.throws(() => inspectLogo(bytes), (error) => error instanceof RegistrationError && error.field === 'logo');
    }
  });

  it('setClientLogo stores the bytes and points logo_uri at the server with a content hash', withStorage(async (storage) => {
    const { client } = await register(storage);
    const bytes = pngImage(256, 256);
    const updated = await setClientLogo(admin(storage), ISSUER, client.clientId, bytes);
    assert.match(updated.logoUri!, new RegExp(`^${ISSUER}/logos/${client.clientId}\\?v=[A-Za-z0-9_-]{16}$`));
    const logo = await storage.clientLogos.get(client.clientId);
    assert.ok(logo?.bytes.equals(bytes));
    assert.equal(logo?.contentType, 'image/png');
  }));

  it('a partner\'s branding change keeps the reviewed name, URIs and logo; rejecting restores them byte for byte, approving drops them (issue 13)', withStorage(async (storage) => {
    const owner = crypto.randomUUID();
    const { client } = await register(storage, 'staging', {}, owner);
    const reviewedLogo = pngImage(256, 256);
    await setClientLogo(admin(storage), ISSUER, client.clientId, reviewedLogo);
    const reviewed = await approveClient(admin(storage), client.clientId);
    const partner = { ...admin(storage), actor: `user:${owner}` };
    await updateClient(partner, client.clientId, { clientName: 'Ledgerly Two', tosUri: 'https://ledgerly.example/new-terms' });
    await setClientLogo(partner, ISSUER, client.clientId, pngImage(300, 300));
    await updateClient(partner, client.clientId, { clientName: 'Ledgerly Three' });
    const kept = await storage.brandingReviews.find(client.clientId);
    assert.deepEqual(kept?.reviewed, { clientName: 'Ledgerly Sync', clientUri: reviewed.clientUri, logoUri: reviewed.logoUri, tosUri: 'https://ledgerly.example/terms', policyUri: reviewed.policyUri, description: null },
      'the first reviewed values are kept, not an intermediate change');
    assert.ok(kept?.logo?.bytes.equals(reviewedLogo));
    await assert.rejects(rejectBrandingChange(partner, client.clientId), ClientManagementError, 'a partner cannot reject');
    const restored = await rejectBrandingChange(admin(storage), client.clientId);
    assert.equal(restored.clientName, 'Ledgerly Sync');
    assert.equal(restored.tosUri, 'https://ledgerly.example/terms');
    assert.equal(restored.logoUri, reviewed.logoUri);
    assert.equal(restored.brandingVerified, true);
    assert.ok((await storage.clientLogos.get(client.clientId))?.bytes.equals(reviewedLogo));
    assert.equal(await storage.brandingReviews.find(client.clientId), undefined);
    const [event] = await storage.audit.list({ clientId: client.clientId, types: ['client.branding_rejected'] });
    assert.equal(event?.actor, 'admin:ops');
    assert.deepEqual(event?.details, { fields: 'client_name logo_uri tos_uri' });
    await assert.rejects(rejectBrandingChange(admin(storage), client.clientId), (error) => error instanceof ClientManagementError && error.reason === 'conflict');

    await updateClient(partner, client.clientId, { policyUri: 'https://ledgerly.example/new-privacy' });
    assert.ok(await storage.brandingReviews.find(client.clientId));
    const approved = await approveClient(admin(storage), client.clientId);
    assert.equal(approved.policyUri, 'https://ledgerly.example/new-privacy');
    assert.equal(await storage.brandingReviews.find(client.clientId), undefined);
  }));
});
