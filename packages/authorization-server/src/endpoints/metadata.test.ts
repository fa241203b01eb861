import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestServer, type TestServer } from '../testing/harness.ts';
import { createAuthorizationServer } from '../authorization-server.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';

describe('GET /.well-known/oauth-authorization-server (RFC 8414; SPEC decision 16)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('advertises exactly what is supported', async () => {
    const response = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
    assert.equal(response.status, 200);
    const metadata = await response.json();
    assert.equal(metadata.issuer, server.issuer);
    assert.equal(metadata.authorization_endpoint, `${server.issuer}/oauth/authorize`);
    assert.equal(metadata.token_endpoint, `${server.issuer}/oauth/token`);
    assert.equal(metadata.introspection_endpoint, `${server.issuer}/oauth/token/introspect`);
    assert.equal(metadata.revocation_endpoint, `${server.issuer}/oauth/revoke`);
    assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(metadata.token_endpoint_auth_methods_supported, ['client_secret_basic', 'none']);
    assert.deepEqual(metadata.response_types_supported, ['code']);
    assert.deepEqual(metadata.grant_types_supported, ['authorization_code', 'refresh_token']);
    assert.equal(metadata.authorization_response_iss_parameter_supported, true);
    assert.ok(metadata.scopes_supported.includes('users:read'));
  });

  it('answers GET /health', async () => {
    const response = await fetch(`${server.url}/health`);
    assert.deepEqual(await response.json(), { status: 'ok' });
  });
});

describe('transport outside development (SPEC decision 17)', () => {
  it('refuses an https-less issuer in production', async () => {
    await assert.rejects(
      createAuthorizationServer({ issuer: 'http://auth.example', environment: 'production', storage: createSqliteStorage(':memory:'), accessTokenAudience: 'https://api.example', tokenHmacKey: randomBytes(32), logger: false }),
      /https/,
    );
  });

  it('refuses requests that did not arrive over TLS, and sends HSTS on those that did (via a trusted proxy)', async () => {
    const storage = createSqliteStorage(':memory:');
    const app = await createAuthorizationServer({
      issuer: 'https://auth.example', environment: 'production', storage, accessTokenAudience: 'https://api.example',
      tokenHmacKey: randomBytes(32), logger: false, trustProxy: '127.0.0.1',
    });
    try {
      const plain = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server', remoteAddress: '127.0.0.1' });
      assert.equal(plain.statusCode, 403);
      assert.equal(plain.json().error, 'invalid_request');
      const viaProxy = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-proto': 'https' } });
      assert.equal(viaProxy.statusCode, 200);
      assert.match(String(viaProxy.headers['strict-transport-security']), /max-age=31536000/);
      const spoofed = await app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server', remoteAddress: '10.0.0.9', headers: { 'x-forwarded-proto': 'https' } });
      assert.equal(spoofed.statusCode, 403, 'X-Forwarded-Proto from an untrusted address is ignored');
    } finally {
      await app.close();
      await storage.close();
    }
  });
});
