import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { confidentialAuth, introspect, obtainTokens, postForm, seed, startTestServer, API_AUDIENCE, type TestServer } from '../testing/harness.ts';

describe('JWT access tokens (RFC 9068), accessTokenFormat "jwt"', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ accessTokenFormat: 'jwt' });
  });
  after(() => server.close());

  it('issues an ES256 at+jwt that verifies against the published JWKS with the RFC 9068 claims', async () => {
    const beforeMilliseconds = Date.now();
    const { tokens } = await obtainTokens(server, { scope: 'users:read' });
    const header = decodeProtectedHeader(tokens.access_token);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'ES256');
    const metadata = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json();
    assert.equal(metadata.jwks_uri, `${server.issuer}/.well-known/jwks.json`);
    const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
    const { payload } = await jwtVerify(tokens.access_token, jwks, {
      issuer: server.issuer, audience: API_AUDIENCE, typ: 'at+jwt', algorithms: ['ES256'], currentDate: new Date(server.clock.nowSeconds() * 1000),
    });
    assert.equal(payload.client_id, seed.confidentialClient.id);
    assert.equal(payload.sub, seed.users.alice.id);
    assert.equal(payload.scope, 'users:read');
    assert.equal(payload.exp, server.clock.nowSeconds() + 900);
    assert.equal(payload['urn:gatehouse:params:oauth:subject_urn'], `urn:gatehouse:company:${seed.companies[0].id}`);
    // A UUIDv7 (RFC 9562 §5.7: version 7, variant 10), its 48-bit milliseconds the mint time (issue 12: the
    // revocation feed's index takes time-ordered ids on its last pages).
    assert.match(String(payload.jti), /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const mintedAtMilliseconds = Number.parseInt(String(payload.jti).replace(/-/g, '').slice(0, 12), 16);
    assert.ok(mintedAtMilliseconds > beforeMilliseconds - 1 && mintedAtMilliseconds <= Date.now(), `minted at ${mintedAtMilliseconds}`);
    // The JWKS publishes no private part.
    const { keys } = await (await fetch(metadata.jwks_uri)).json();
    // Two keys: access tokens and session handover tokens, each its own kid (tokens/session-handover.ts).
    assert.equal(keys.length, 2);
    assert.notEqual(keys[0].kid, keys[1].kid);
    assert.equal(keys[0].kid, header.kid);
    for (const key of keys) assert.equal(key.d, undefined);
  });

  it('introspects, supersedes and revokes JWT access tokens like opaque ones', async () => {
    const { tokens } = await obtainTokens(server);
    const active = await introspect(server, tokens.access_token);
    assert.equal(active.active, true);
    const rotated = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
    assert.equal(rotated.status, 200);
    assert.deepEqual(await introspect(server, tokens.access_token), { active: false }, 'superseded');
    await postForm(`${server.url}/oauth/revoke`, { token: rotated.json.access_token }, { authorization: confidentialAuth() });
    assert.deepEqual(await introspect(server, rotated.json.access_token), { active: false }, 'revoked');
  });

  it('treats a JWT signed by another key, or tampered, as inactive', async () => {
    const { tokens } = await obtainTokens(server);
    const [head, body, signature] = tokens.access_token.split('.');
    const tampered = `${head}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), scope: 'users:write' })).toString('base64url')}.${signature}`;
    assert.deepEqual(await introspect(server, tampered), { active: false });
    const other = await startTestServer({ accessTokenFormat: 'jwt' });
    try {
      const { tokens: foreign } = await obtainTokens(other);
      assert.deepEqual(await introspect(server, foreign.access_token), { active: false });
    } finally {
      await other.close();
    }
  });

  it('keeps one signing key across restarts on the same storage (shared by every instance)', async () => {
    const { createSqliteStorage } = await import('../storage/sqlite/sqlite-storage.ts');
    const { loadSigningKey } = await import('./signing-key.ts');
    const storage = createSqliteStorage(':memory:');
    try {
      const first = await loadSigningKey(storage);
      const second = await loadSigningKey(storage);
      assert.equal(first.kid, second.kid);
      assert.deepEqual(first.publicJwk, second.publicJwk);
    } finally {
      await storage.close();
    }
  });
});
