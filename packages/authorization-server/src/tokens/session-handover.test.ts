/**
 * Session handover tokens at the authorization server: signed by their own key (own `kid` in the JWKS),
 * `typ` `gatehouse_id+jwt`, bounded lifetime; and never accepted as an access or refresh token by the
 * token, introspection or revocation endpoints (the issue: "It is never an access token").
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { basic, confidentialAuth, introspect, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { signSessionHandover, sessionHandoverType } from './session-handover.ts';
import { loadSigningKey, SESSION_HANDOVER_SIGNING_KEY_SETTING, type SigningKey } from './signing-key.ts';

describe('session handover tokens (authorization server side)', () => {
  let server: TestServer;
  let key: SigningKey;
  let token: string;

  before(async () => {
    server = await startTestServer({ accessTokenFormat: 'jwt' });
    key = await loadSigningKey(server.storage, SESSION_HANDOVER_SIGNING_KEY_SETTING);
    const now = server.clock.nowSeconds();
    token = await signSessionHandover(key, {
      issuer: server.issuer, urnNamespace: 'gatehouse', clientId: seed.confidentialClient.id, userId: seed.users.alice.id,
      subject: { subjectType: 'company', subjectId: seed.companies[0].id }, locale: 'en', tokenId: randomUUID(), issuedAt: now, expiresAt: now + 120,
    });
  });
  after(() => server.close());

  it('is signed with its own key, published in the JWKS with its own kid, typ gatehouse_id+jwt', async () => {
    const header = decodeProtectedHeader(token);
    assert.equal(header.typ, sessionHandoverType('gatehouse'));
    assert.equal(header.typ, 'gatehouse_id+jwt');
    const { keys } = await (await fetch(`${server.url}/.well-known/jwks.json`)).json() as { keys: { kid: string }[] };
    assert.ok(keys.some((published) => published.kid === header.kid));
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`)), {
      issuer: server.issuer, audience: seed.confidentialClient.id, typ: 'gatehouse_id+jwt', currentDate: new Date(server.clock.nowSeconds() * 1000),
    });
    assert.equal(payload.company_id, seed.companies[0].id);
    assert.equal(payload['urn:gatehouse:params:oauth:subject_urn'], `urn:gatehouse:company:${seed.companies[0].id}`);
  });

  it('refuses lifetimes above 300 s', async () => {
    const now = server.clock.nowSeconds();
    await assert.rejects(signSessionHandover(key, {
      issuer: server.issuer, urnNamespace: 'gatehouse', clientId: seed.confidentialClient.id, userId: seed.users.alice.id,
      subject: { subjectType: 'company', subjectId: seed.companies[0].id }, locale: 'en', tokenId: randomUUID(), issuedAt: now, expiresAt: now + 301,
    }), RangeError);
  });

  it('is inactive at introspection, for the resource server and for the client it names', async () => {
    assert.deepEqual(await introspect(server, token), { active: false });
    assert.deepEqual(await introspect(server, token, confidentialAuth()), { active: false });
  });

  it('is refused at the token endpoint as a refresh token (invalid_grant), and revoking it changes nothing', async () => {
    const refreshed = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: token }, { authorization: confidentialAuth() });
    assert.equal(refreshed.status, 400);
    assert.equal(refreshed.json.error, 'invalid_grant');
    const revoked = await postForm(`${server.url}/oauth/revoke`, { token }, { authorization: confidentialAuth() });
    assert.equal(revoked.status, 200, 'RFC 7009 §2.2: an unknown token answers 200');
    const code = await postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code: token, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: 'x'.repeat(43) }, {
      authorization: basic(seed.confidentialClient.id, seed.confidentialClient.secret),
    });
    assert.equal(code.json.error, 'invalid_grant');
  });
});
