import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Environment } from '../options.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { registerClient, RegistrationError, type ClientRegistration } from './registration.ts';

const NOW = 1_800_000_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const confidential: ClientRegistration = {
  clientName: 'Ledgerly Sync', clientType: 'confidential', redirectUris: ['https://ledgerly.example/oauth/callback'],
  scopes: ['users:read', 'vendors:write'], subjectType: 'company',
  clientUri: 'https://ledgerly.example', logoUri: 'https://ledgerly.example/logo.png',
  tosUri: 'https://ledgerly.example/terms', policyUri: 'https://ledgerly.example/privacy',
};
const publicClient: ClientRegistration = {
  clientName: 'Ledgerly Mobile', clientType: 'public', redirectUris: ['com.ledgerly.mobile:/oauth2redirect'], scopes: ['test:test'],
};

/** Runs `body` with a fresh in-memory storage and a registration context for `environment`. */
function withContext(environment: Environment, body: (context: { storage: Storage; environment: Environment; brandName: string; now: number }) => Promise<void>) {
  return async () => {
    const storage = createSqliteStorage(':memory:');
    try {
      await body({ storage, environment, brandName: 'Gatehouse', now: NOW });
    } finally {
      await storage.close();
    }
  };
}

async function refusal(promise: Promise<unknown>, field: string, error: RegistrationError['error'] = 'invalid_client_metadata'): Promise<RegistrationError> {
  let caught: unknown;
  await assert.rejects(promise, (thrown) => {
    caught = thrown;
    return thrown instanceof RegistrationError;
  });
  const refusedError = caught as RegistrationError;
  assert.equal(refusedError.field, field);
  assert.equal(refusedError.error, error);
  assert.ok(refusedError.message.startsWith(`${field}: `), refusedError.message);
  return refusedError;
}

describe('client registration', () => {
  it('activates a client at once in development (SPEC decision 13)', withContext('development', async (context) => {
    const { client } = await registerClient(context, confidential);
    assert.equal(client.status, 'active');
    assert.deepEqual(await context.storage.clients.find(client.clientId), client);
  }));

  for (const environment of ['staging', 'production'] as const) {
    it(`keeps a new client pending in ${environment} until an administrator approves it (SPEC decision 13)`, withContext(environment, async (context) => {
      const { client } = await registerClient(context, confidential);
      assert.equal(client.status, 'pending');
      assert.equal((await context.storage.clients.find(client.clientId))?.status, 'pending');
    }));
  }

  it('gives a confidential client a UUID and a 256-bit base64url secret, storing only its SHA-256 (SPEC decisions 1 and 9)', withContext('development', async (context) => {
    const { client, clientSecret } = await registerClient(context, confidential);
    assert.match(client.clientId, UUID);
    assert.match(clientSecret!, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(clientSecret!, 'base64url').length, 32);
    assert.equal(client.secretDigest, createHash('sha256').update(clientSecret!).digest('base64url'));
    const stored = await context.storage.clients.find(client.clientId);
    assert.equal(stored?.secretDigest, client.secretDigest);
    assert.ok(!JSON.stringify(stored).includes(clientSecret!), 'the secret itself is not in the stored record');
    assert.equal(client.clientType, 'confidential');
    assert.equal(client.kind, 'client');
    assert.equal(client.pkceRequired, true);
    assert.equal(client.createdAt, NOW);
    assert.deepEqual(
      { clientName: client.clientName, redirectUris: client.redirectUris, scopes: client.scopes, subjectType: client.subjectType, clientUri: client.clientUri, logoUri: client.logoUri, tosUri: client.tosUri, policyUri: client.policyUri },
      { clientName: 'Ledgerly Sync', redirectUris: confidential.redirectUris, scopes: confidential.scopes, subjectType: 'company', clientUri: confidential.clientUri, logoUri: confidential.logoUri, tosUri: confidential.tosUri, policyUri: confidential.policyUri },
    );
  }));

  it('issues a different secret to every confidential client', withContext('development', async (context) => {
    const first = await registerClient(context, confidential);
    const second = await registerClient(context, confidential);
    assert.notEqual(first.clientSecret, second.clientSecret);
    assert.notEqual(first.client.clientId, second.client.clientId);
  }));

  it('gives a public client no secret (SPEC decision 1: token_endpoint_auth_method none)', withContext('development', async (context) => {
    const { client, clientSecret } = await registerClient(context, publicClient);
    assert.equal(clientSecret, undefined);
    assert.equal(client.secretDigest, null);
    assert.equal(client.clientType, 'public');
    assert.equal(client.pkceRequired, true);
    assert.equal(client.subjectType, null); // SPEC decision 12: none means company
  }));

  it('trims the name and de-duplicates scopes', withContext('development', async (context) => {
    const { client } = await registerClient(context, { ...confidential, clientName: '  Ledgerly Sync  ', scopes: ['users:read', 'users:read'] });
    assert.equal(client.clientName, 'Ledgerly Sync');
    assert.deepEqual(client.scopes, ['users:read']);
  }));

  it('refuses an empty or blank client_name', withContext('development', async (context) => {
    await refusal(registerClient(context, { ...confidential, clientName: '' }), 'client_name');
    await refusal(registerClient(context, { ...confidential, clientName: '   ' }), 'client_name');
    await refusal(registerClient(context, { ...confidential, clientName: 'x'.repeat(101) }), 'client_name');
  }));

  it('refuses the brand in client_name in any case or spacing (seeds: "Do not use <brand> branding")', withContext('development', async (context) => {
    for (const clientName of ['Gatehouse Sync', 'GATEHOUSE', 'gatehouse', 'Sync for gate house', 'Gate-House Connector', 'gate.house', 'GateHouse_Sync', 'My gate\thouse app']) {
      await refusal(registerClient(context, { ...confidential, clientName }), 'client_name');
    }
    assert.deepEqual(await context.storage.clients.list(), []);
  }));

  it('refuses the brand hidden by invisible or full-width characters (seeds: "Do not use <brand> branding")', withContext('development', async (context) => {
    for (const clientName of ['Gate\u200Bhouse Sync', 'Gate\u00ADhouse Sync', 'Ｇａｔｅｈｏｕｓｅ Sync']) {
      await refusal(registerClient(context, { ...confidential, clientName }), 'client_name');
    }
  }));

  it('refuses the configured brand, not a fixed word', withContext('development', async (context) => {
    await refusal(registerClient({ ...context, brandName: 'Nordlys Pay' }, { ...confidential, clientName: 'nordlyspay sync' }), 'client_name');
    const { client } = await registerClient({ ...context, brandName: 'Nordlys Pay' }, { ...confidential, clientName: 'Gatehouse Sync' });
    assert.equal(client.clientName, 'Gatehouse Sync');
  }));

  it('refuses a registration without a redirect URI (seeds: redirect URIs are required)', withContext('development', async (context) => {
    await refusal(registerClient(context, { ...confidential, redirectUris: [] }), 'redirect_uris', 'invalid_redirect_uri');
  }));

  it('refuses a bad redirect URI with invalid_redirect_uri naming the URI (RFC 7591 §3.2.2, SPEC decision 4)', withContext('production', async (context) => {
    for (const uri of ['http://ledgerly.example/cb', 'https://ledgerly.example/cb#x', 'https://*.ledgerly.example/cb', '/cb', 'http://localhost:8080/cb', 'javascript:alert(1)']) {
      const refused = await refusal(
        registerClient(context, { ...confidential, redirectUris: ['https://ledgerly.example/ok', uri] }), 'redirect_uris', 'invalid_redirect_uri',
      );
      assert.ok(refused.message.includes(uri), refused.message);
    }
    // RFC 8252 §7.1: private-use schemes only for public clients.
    await refusal(registerClient(context, { ...confidential, redirectUris: ['com.ledgerly.mobile:/cb'] }), 'redirect_uris', 'invalid_redirect_uri');
    assert.deepEqual(await context.storage.clients.list(), []);
  }));

  it('refuses an unknown scope and a registration with no scope (SPEC §3 scope catalogue)', withContext('development', async (context) => {
    const refused = await refusal(registerClient(context, { ...confidential, scopes: ['users:read', 'payments:write'] }), 'scope');
    assert.match(refused.message, /payments:write/);
    await refusal(registerClient(context, { ...confidential, scopes: ['USERS:READ'] }), 'scope');
    await refusal(registerClient(context, { ...confidential, scopes: [] }), 'scope');
  }));

  it('refuses a PKCE exception for a public client (SPEC decision 2; seeds: PKCE required for public clients)', withContext('development', async (context) => {
    await refusal(registerClient(context, { ...publicClient, pkceRequired: false }), 'pkce_required');
    // An administrator may grant a confidential client the exception.
    const { client } = await registerClient(context, { ...confidential, pkceRequired: false });
    assert.equal(client.pkceRequired, false);
  }));

  it('refuses an unknown subject type or client type (SPEC decisions 1 and 12)', withContext('development', async (context) => {
    await refusal(registerClient(context, { ...confidential, subjectType: 'person' as never }), 'subject_type');
    await refusal(registerClient(context, { ...confidential, clientType: 'trusted' as never }), 'token_endpoint_auth_method');
  }));

  it('records client.registered in the audit log without the secret (SPEC decision 19)', withContext('staging', async (context) => {
    const { client, clientSecret } = await registerClient(context, confidential);
    const events = await context.storage.audit.list();
    assert.equal(events.length, 1);
    const [event] = events;
    assert.equal(event!.type, 'client.registered');
    assert.equal(event!.at, NOW);
    assert.equal(event!.clientId, client.clientId);
    assert.match(event!.actor, /^admin:/);
    assert.equal(event!.details?.client_name, 'Ledgerly Sync');
    assert.equal(event!.details?.status, 'pending');
    const serialized = JSON.stringify(events);
    assert.ok(!serialized.includes(clientSecret!), 'no secret in the audit log');
    assert.ok(!serialized.includes(client.secretDigest!), 'not even its digest');
  }));

  it('records nothing for a refused registration', withContext('development', async (context) => {
    await refusal(registerClient(context, { ...confidential, scopes: ['nope:nope'] }), 'scope');
    assert.deepEqual(await context.storage.audit.list(), []);
    assert.deepEqual(await context.storage.clients.list(), []);
  }));
});
