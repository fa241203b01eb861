import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { basic, confidentialAuth, introspect, obtainTokens, postForm, startTestServer, type TestServer } from '../testing/harness.ts';
import { registerClient } from '../clients/registration.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';

const postgresSkip = await postgresSkipReason();

describe('refresh_token grant with rotation (RFC 6749 §6, RFC 9700 §4.14.2; SPEC decision 8), grace window 0', () => {
  let server: TestServer;
  before(async () => {
    // Window 0 (SPEC decision 8: "0 turns it off"): every presentation of a rotated-out token is reuse, as
    // before the window existed. The window itself is tested below, on both backends.
    server = await startTestServer({ refreshTokenReuseGraceSeconds: 0 });
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

  it('window 0: revokes the whole grant when a rotated-out refresh token is replayed, even at once', async () => {
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
    const local = await startTestServer({ refreshTokenReuseGraceSeconds: 0 });
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

  it('window 0: lets exactly one of 20 concurrent uses of one refresh token succeed', async () => {
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
    // Answered as an unknown token: the answer does not confirm to the other client that the token is real.
    const unknown = await refresh('not-a-refresh-token', {}, basic(other.clientId, clientSecret!));
    assert.deepEqual([stolen.status, stolen.json.error, stolen.json.error_description], [400, 'invalid_grant', 'refresh token is invalid']);
    assert.deepEqual([unknown.status, unknown.json.error, unknown.json.error_description], [400, 'invalid_grant', 'refresh token is invalid']);
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

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`refresh-token reuse grace window, default 30 s (SPEC decision 8) on ${backend}`, { skip: backend === 'postgres' ? postgresSkip : false }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(backend === 'postgres' ? { storage: await createTestPostgresStorage() } : {});
    });
    after(() => server.close());

    const refresh = (refreshToken: string, authorization = confidentialAuth()) =>
      postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization });
    const connect = () => obtainTokens(server, { extra: { prompt: 'consent' } }).then((result) => result.tokens);
    const thiefClient = async () => {
      const { client, clientSecret } = await registerClient(
        { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
        { clientName: 'Thief App', clientType: 'confidential', redirectUris: ['https://thief.example/cb'], scopes: ['users:read'] },
      );
      return basic(client.clientId, clientSecret!);
    };

    it('answers a retry of the just-rotated refresh token within the window with the byte-identical successor pair and the remaining expires_in', async () => {
      const first = await connect();
      const rotated = await refresh(first.refresh_token);
      assert.equal(rotated.status, 200);
      server.clock.advanceSeconds(10);
      const retry = await refresh(first.refresh_token);
      assert.equal(retry.status, 200, retry.text);
      assert.equal(retry.headers.get('cache-control'), 'no-store');
      assert.equal(retry.json.access_token, rotated.json.access_token, 'same access token');
      assert.equal(retry.json.refresh_token, rotated.json.refresh_token, 'same refresh token (never a second branch)');
      assert.equal(retry.json.expires_in, 890, 'what remains of the access token lifetime');
      assert.deepEqual({ ...retry.json, expires_in: 900 }, rotated.json, 'otherwise the same response');
      // Nothing was revoked: the successor pair works.
      assert.equal((await introspect(server, retry.json.access_token)).active, true);
      const events = await server.storage.audit.list({ limit: 1000 });
      const grace = events.filter((event) => event.type === 'refresh_token.reuse_within_grace');
      assert.equal(grace.length, 1);
      assert.equal(events.some((event) => event.type === 'refresh_token.reuse_detected'), false);
      const serialized = JSON.stringify(events);
      for (const value of [first.refresh_token, rotated.json.access_token, rotated.json.refresh_token]) assert.equal(serialized.includes(value), false, 'no token value in the audit log');
      const next = await refresh(rotated.json.refresh_token);
      assert.equal(next.status, 200, 'the successor still rotates');
    });

    it('answers 20 concurrent uses of one refresh token with one and the same pair: one rotation, no second branch, nothing revoked', async () => {
      const first = await connect();
      const responses = await Promise.all(Array.from({ length: 20 }, () => refresh(first.refresh_token)));
      for (const response of responses) assert.equal(response.status, 200, response.text);
      assert.equal(new Set(responses.map((response) => response.json.refresh_token)).size, 1, 'one successor refresh token');
      assert.equal(new Set(responses.map((response) => response.json.access_token)).size, 1, 'one successor access token');
      const { access_token: accessToken, refresh_token: refreshToken } = responses[0]!.json;
      assert.equal((await introspect(server, accessToken)).active, true);
      const grantId = (await server.storage.audit.list({ limit: 1000 })).find((event) => event.type === 'refresh_token.reuse_within_grace')?.grantId;
      assert.ok(grantId, 'the retries were answered within the grace window');
      const rotations = (await server.storage.audit.list({ limit: 1000 })).filter((event) => event.type === 'refresh_token.rotated' && event.grantId === grantId);
      assert.equal(rotations.length, 1, 'exactly one rotation happened');
      assert.equal((await refresh(refreshToken)).status, 200);
    });

    it('answers concurrent retries of the just-rotated token with the same pair', async () => {
      const first = await connect();
      const rotated = (await refresh(first.refresh_token)).json;
      const retries = await Promise.all(Array.from({ length: 10 }, () => refresh(first.refresh_token)));
      for (const retry of retries) {
        assert.equal(retry.status, 200, retry.text);
        assert.equal(retry.json.access_token, rotated.access_token);
        assert.equal(retry.json.refresh_token, rotated.refresh_token);
      }
    });

    it('revokes the grant when the just-rotated token comes back after the window (injected clock)', async () => {
      const first = await connect();
      const rotated = (await refresh(first.refresh_token)).json;
      server.clock.advanceSeconds(30);
      const late = await refresh(first.refresh_token);
      assert.equal(late.status, 400);
      assert.equal(late.json.error, 'invalid_grant');
      assert.equal(late.json.access_token, undefined, 'no token issued');
      assert.equal((await introspect(server, rotated.access_token)).active, false, 'the successor access token is revoked');
      assert.equal((await refresh(rotated.refresh_token)).json.error, 'invalid_grant', 'the successor refresh token is revoked');
      const events = await server.storage.audit.list({ limit: 1000 });
      assert.ok(events.some((event) => event.type === 'refresh_token.reuse_detected' && event.details?.reason === 'refresh_token_reuse'));
    });

    it('revokes the grant when a thief presents the old token after the real client used the successor, even within the window', async () => {
      const first = await connect();
      const second = (await refresh(first.refresh_token)).json;
      server.clock.advanceSeconds(1);
      const third = await refresh(second.refresh_token);
      assert.equal(third.status, 200, 'the real client used the successor');
      server.clock.advanceSeconds(1);
      const thief = await refresh(first.refresh_token);
      assert.equal(thief.status, 400);
      assert.equal(thief.json.error, 'invalid_grant');
      assert.equal(thief.json.access_token, undefined, 'no token issued, not even the rotated-out pair');
      assert.equal((await introspect(server, third.json.access_token)).active, false, 'the newest access token is revoked');
      assert.equal((await refresh(third.json.refresh_token)).json.error, 'invalid_grant', 'the newest refresh token is revoked');
    });

    it('refuses the just-rotated token from another client with invalid_grant, serves nothing and revokes nothing (RFC 6749 §6: only the client it was issued to)', async () => {
      const first = await connect();
      const rotated = (await refresh(first.refresh_token)).json;
      const stolen = await refresh(first.refresh_token, await thiefClient());
      assert.equal(stolen.status, 400);
      assert.deepEqual([stolen.json.error, stolen.json.error_description], ['invalid_grant', 'refresh token is invalid']);
      assert.equal(stolen.json.access_token, undefined);
      assert.equal(stolen.json.refresh_token, undefined);
      // As for a replayed code (SPEC decision 6), only a presentation that proves the client revokes.
      assert.equal((await introspect(server, rotated.access_token)).active, true, 'the grant is not revoked');
      const retry = await refresh(first.refresh_token);
      assert.equal(retry.json.refresh_token, rotated.refresh_token, 'the real client can still retry');
    });

    it('serves nothing once the grant is revoked (RFC 7009 revocation of the successor), even within the window', async () => {
      const first = await connect();
      const rotated = (await refresh(first.refresh_token)).json;
      const revocation = await postForm(`${server.url}/oauth/revoke`, { token: rotated.refresh_token, token_type_hint: 'refresh_token' }, { authorization: confidentialAuth() });
      assert.equal(revocation.status, 200);
      const retry = await refresh(first.refresh_token);
      assert.equal(retry.status, 400);
      assert.equal(retry.json.error, 'invalid_grant');
      assert.equal(retry.json.access_token, undefined, 'the revoked pair is not handed out again');
    });

    it("serves or treats as reuse, never both: a retry racing the successor's first use (10 rounds)", async () => {
      for (let round = 0; round < 10; round++) {
        const first = await connect();
        const second = (await refresh(first.refresh_token)).json;
        const [retry, next] = await Promise.all([refresh(first.refresh_token), refresh(second.refresh_token)]);
        if (retry.status === 200) {
          // Ordered before the successor's rotation: the same pair, and the grant lives on.
          assert.equal(retry.json.refresh_token, second.refresh_token, `round ${round}`);
          assert.equal(next.status, 200, `round ${round}: ${next.text}`);
          assert.equal((await introspect(server, next.json.access_token)).active, true, `round ${round}: grant alive`);
        } else {
          // Ordered after it: reuse, and nothing of the grant works any more.
          assert.equal(retry.json.error, 'invalid_grant', `round ${round}`);
          if (next.status === 200) assert.equal((await introspect(server, next.json.access_token)).active, false, `round ${round}: grant revoked`);
          assert.equal((await refresh(next.status === 200 ? next.json.refresh_token : second.refresh_token)).json.error, 'invalid_grant', `round ${round}`);
        }
      }
    });
  });
}
