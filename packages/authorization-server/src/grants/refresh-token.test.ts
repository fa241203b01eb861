import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { basic, confidentialAuth, introspect, obtainTokens, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { registerClient } from '../clients/registration.ts';

describe('refresh_token grant with rotation (RFC 6749 §6, RFC 9700 §4.14.2; SPEC decision 8)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const refresh = (refreshToken: string, extra: Record<string, string> = {}, authorization = confidentialAuth()) =>
    postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }, { authorization });
  const connect = (scope = 'users:read vendors:read') => obtainTokens(server, { scope, extra: { prompt: 'consent' } }).then((result) => result.tokens);

  it('rotates both tokens; the old refresh and access tokens stop working at once', async () => {
    const first = await connect();
    const rotated = await refresh(first.refresh_token);
    assert.equal(rotated.status, 200);
    assert.equal(rotated.headers.get('cache-control'), 'no-store');
    assert.notEqual(rotated.json.access_token, first.access_token);
    assert.notEqual(rotated.json.refresh_token, first.refresh_token);
    assert.equal(rotated.json.expires_in, 900);
    assert.equal(rotated.json['urn:gatehouse:params:oauth:subject_urn'], first['urn:gatehouse:params:oauth:subject_urn']);
    assert.equal((await introspect(server, first.access_token)).active, false, 'superseded access token');
    assert.equal((await introspect(server, rotated.json.access_token)).active, true);
  });

  it('revokes the whole grant when a rotated-out refresh token is replayed', async () => {
    const first = await connect();
    const second = (await refresh(first.refresh_token)).json;
    const replay = await refresh(first.refresh_token);
    assert.equal(replay.status, 400);
    assert.equal(replay.json.error, 'invalid_grant');
    assert.equal(replay.json.access_token, undefined);
    assert.equal((await introspect(server, second.access_token)).active, false, 'newest access token revoked');
    assert.equal((await refresh(second.refresh_token)).json.error, 'invalid_grant', 'newest refresh token revoked');
    const events = await server.storage.audit.list();
    assert.ok(events.some((event) => event.type === 'refresh_token.reuse_detected' && event.details?.reason === 'refresh_token_reuse'));
  });

  it('revokes the grant when an expired refresh token is used (60-day lifetime, injected clock)', async () => {
    const local = await startTestServer();
    try {
      const { tokens } = await obtainTokens(local);
      local.clock.advanceSeconds(60 * 24 * 60 * 60 - 1);
      const stillValid = await postForm(`${local.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
      assert.equal(stillValid.status, 200, 'valid until 60 days have passed');
      local.clock.advanceSeconds(60 * 24 * 60 * 60);
      const expired = await postForm(`${local.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: stillValid.json.refresh_token }, { authorization: confidentialAuth() });
      assert.equal(expired.json.error, 'invalid_grant');
      const events = await local.storage.audit.list();
      assert.ok(events.some((event) => event.type === 'refresh_token.reuse_detected' && event.details?.reason === 'refresh_token_expired'));
      const grant = (await local.storage.grants.find(events.find((event) => event.type === 'refresh_token.reuse_detected')!.grantId!))!;
      assert.equal(grant.revocationReason, 'refresh_token_expired');
    } finally {
      await local.close();
    }
  });

  it('lets exactly one of 20 concurrent uses of one refresh token succeed', async () => {
    const { refresh_token } = await connect();
    const responses = await Promise.all(Array.from({ length: 20 }, () => refresh(refresh_token)));
    const succeeded = responses.filter((response) => response.status === 200);
    assert.equal(succeeded.length, 1);
    for (const response of responses.filter((response) => response.status !== 200)) assert.equal(response.json.error, 'invalid_grant');
    // The losers are replays of a rotated-out token: the grant is revoked (grace window 0 s).
    assert.equal((await introspect(server, succeeded[0]!.json.access_token)).active, false);
  });

  it('narrows the access token scope on request; the refresh token keeps the grant scope', async () => {
    const first = await connect('users:read vendors:read');
    const narrowed = await refresh(first.refresh_token, { scope: 'users:read' });
    assert.equal(narrowed.status, 200);
    assert.equal(narrowed.json.scope, 'users:read');
    assert.equal((await introspect(server, narrowed.json.access_token)).scope, 'users:read');
    const full = await refresh(narrowed.json.refresh_token);
    assert.equal(full.json.scope, 'users:read vendors:read');
  });

  it('refuses a wider scope with invalid_scope and rotates nothing', async () => {
    const first = await connect('users:read');
    const widened = await refresh(first.refresh_token, { scope: 'users:read users:write' });
    assert.equal(widened.status, 400);
    assert.equal(widened.json.error, 'invalid_scope');
    assert.equal(widened.json.access_token, undefined);
    assert.equal((await introspect(server, first.access_token)).active, true, 'nothing rotated');
    assert.equal((await refresh(first.refresh_token)).status, 200, 'the refresh token is still current');
  });

  it("refuses another client's refresh token without revoking the grant", async () => {
    const first = await connect();
    const { client: other, clientSecret } = await registerClient(
      { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
      { clientName: 'Thief App', clientType: 'confidential', redirectUris: ['https://thief.example/cb'], scopes: ['users:read'] },
    );
    const stolen = await refresh(first.refresh_token, {}, basic(other.clientId, clientSecret!));
    assert.equal(stolen.json.error, 'invalid_grant');
    assert.equal((await refresh(first.refresh_token)).status, 200);
  });

  it('refuses an access token presented as a refresh token', async () => {
    const first = await connect();
    assert.equal((await refresh(first.access_token)).json.error, 'invalid_grant');
  });

  it('refuses a missing refresh_token with invalid_request', async () => {
    const response = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token' }, { authorization: confidentialAuth() });
    assert.equal(response.json.error, 'invalid_request');
  });

  it('records rotation in the audit log without token values', async () => {
    const first = await connect();
    const rotated = (await refresh(first.refresh_token)).json;
    const events = JSON.stringify(await server.storage.audit.list({ limit: 1000 }));
    for (const value of [first.access_token, first.refresh_token, rotated.access_token, rotated.refresh_token]) {
      assert.equal(events.includes(value), false);
      assert.equal(events.includes(value.split('.')[1]!), false);
    }
    assert.match(events, /refresh_token\.rotated/);
  });
});
