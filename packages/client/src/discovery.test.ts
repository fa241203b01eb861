import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { generateEncryptionKey } from './encryption.ts';
import { ConfigurationError, InvalidResponseError, TransportError } from './errors.ts';
import { createGatehouseClient } from './gatehouse-client.ts';
import { silentLogger } from './logging.ts';
import { createMemoryTokenStore } from './stores/memory.ts';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from './testing/fake-authorization-server.ts';

describe('metadata discovery (RFC 8414) refuses servers that cannot be used safely', () => {
  let fake: FakeAuthorizationServer;
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
  });
  afterEach(async () => {
    await fake.close();
  });
  const client = (issuer = fake.issuer, clientType: 'confidential' | 'public' = 'confidential') => createGatehouseClient({
    issuer, clientId: 'client', ...(clientType === 'public' ? {} : { clientSecret: 'secret' }), redirectUri: 'http://127.0.0.1:9/callback', scope: 'users:read',
    store: createMemoryTokenStore(), encryptionKeys: [generateEncryptionKey('k')], logger: silentLogger,
  });

  it('accepts Gatehouse-like metadata', async () => {
    assert.equal((await client().discover()).issuer, fake.issuer);
  });

  it('refuses a server without PKCE S256 (seeds: "Only the S256 code challenge method is supported")', async () => {
    fake.metadataOverrides.code_challenge_methods_supported = ['plain'];
    await assert.rejects(client().discover(), (error: unknown) => error instanceof ConfigurationError && /S256/.test(error.message));
  });

  it('refuses a server that does not put iss in authorization responses (RFC 9207)', async () => {
    fake.metadataOverrides.authorization_response_iss_parameter_supported = undefined;
    await assert.rejects(client().discover(), /RFC 9207/);
  });

  it("refuses a server that does not accept this client's authentication method", async () => {
    fake.metadataOverrides.token_endpoint_auth_methods_supported = ['client_secret_basic'];
    await assert.rejects(client(fake.issuer, 'public').discover(), /none/);
    fake.metadataOverrides.token_endpoint_auth_methods_supported = undefined;
    assert.ok(await client().discover(), 'absent means client_secret_basic (RFC 8414 §2)');
  });

  it('refuses an endpoint that is plain http to a non-loopback host', async () => {
    fake.metadataOverrides.token_endpoint = 'http://tokens.example/oauth/token';
    await assert.rejects(client().discover(), /token_endpoint must be https/);
  });

  it('refuses metadata naming another issuer, and reports an unreachable server as TransportError (not cached)', async () => {
    fake.metadataOverrides.issuer = 'http://127.0.0.1:1';
    await assert.rejects(client().discover(), InvalidResponseError);
    const unreachable = client('http://127.0.0.1:1');
    await assert.rejects(unreachable.discover(), (error: unknown) => error instanceof TransportError && error.reason === 'network');
    await assert.rejects(unreachable.discover(), TransportError);
  });
});
