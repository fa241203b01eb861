import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { suspendClient } from '@gatehouse/authorization-server';
import { createManualClock } from '@gatehouse/resource-server/testing';
import type { ManualClock } from '@gatehouse/resource-server/testing';
import {
  API_AUDIENCE,
  confidentialAuth,
  obtainTokens,
  postForm,
  seed,
  startTestServer,
} from '../../../packages/authorization-server/src/testing/harness.ts';
import type { TestServer } from '../../../packages/authorization-server/src/testing/harness.ts';
import { fixture, issueGrant, tokenPair } from '../../../packages/authorization-server/src/storage/contract/fixtures.ts';
import { startPlatformApi } from './platform-api.ts';
import type { RunningPlatformApi } from './platform-api.ts';

/**
 * Local mode against the real authorization server (`accessTokenFormat: 'jwt'`): its RFC 9068
 * tokens, its JWKS and its revocation feed, through the real platform API. Both share one clock
 * (the server's test clock in seconds, the API's manual clock in milliseconds, moved together).
 */
describe('local mode against the real authorization server', () => {
  let server: TestServer;
  let api: RunningPlatformApi;
  let apiClock: ManualClock;

  before(async () => {
    server = await startTestServer({ accessTokenFormat: 'jwt' });
    apiClock = createManualClock(server.clock.nowSeconds() * 1000);
    api = await startPlatformApi({
      validationMode: 'local',
      issuer: server.issuer,
      audience: API_AUDIENCE,
      introspectionClientId: seed.resourceServer.id,
      introspectionClientSecret: seed.resourceServer.secret,
      port: 0,
      host: '127.0.0.1',
      now: apiClock.now,
      scheduleTimer: apiClock.scheduleTimer,
    });
  });

  after(async () => {
    await api?.close();
    await server?.close();
  });

  async function advanceSeconds(seconds: number): Promise<void> {
    server.clock.advanceSeconds(seconds);
    await apiClock.advance(seconds * 1000);
  }

  function callApi(accessToken: string, path = '/v1/introspect'): Promise<Response> {
    return fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${accessToken}` } });
  }

  test('a token works; after a refresh the superseded one is refused once the feed has been polled', async () => {
    const { tokens } = await obtainTokens(server, { scope: 'users:read vendors:read' });
    const current = await callApi(tokens.access_token);
    assert.equal(current.status, 200);
    assert.deepEqual((await current.json()).data, {
      authMethod: 'OAUTH2',
      clientId: seed.confidentialClient.id,
      scope: 'users:read vendors:read',
      applicationName: 'Ledgerly Sync',
      subjectURN: tokens['urn:gatehouse:params:oauth:subject_urn'],
    });
    assert.equal((await callApi(tokens.access_token, '/v1/users')).status, 200);

    const refreshed = await postForm(
      `${server.url}/oauth/token`,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
      { authorization: confidentialAuth() },
    );
    assert.equal(refreshed.status, 200);
    // The API has not polled since the refresh: the superseded token still passes (the documented bound).
    assert.equal((await callApi(tokens.access_token)).status, 200, 'not before the next poll');
    await advanceSeconds(2);
    const superseded = await callApi(tokens.access_token);
    assert.equal(superseded.status, 401);
    assert.match(superseded.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.equal((await callApi(refreshed.json.access_token)).status, 200);

    // RFC 7009 revocation of the new access token reaches the API through the feed as well.
    const revocation = await postForm(`${server.url}/oauth/revoke`, { token: refreshed.json.access_token }, { authorization: confidentialAuth() });
    assert.equal(revocation.status, 200);
    await advanceSeconds(2);
    assert.equal((await callApi(refreshed.json.access_token)).status, 401);
  });

  test('a second with more revocations than a feed page: the API reads through it, refuses the last one and keeps serving', async () => {
    const { tokens } = await obtainTokens(server, { scope: 'users:read' });
    const second = server.clock.nowSeconds();
    // 1,205 access tokens of another client superseded in this second, with jtis that sort before any
    // the server mints (the feed orders a second's entries by jti): the refresh below lands on page 2.
    const f = await fixture(server.storage);
    const { grant, refresh } = await issueGrant(server.storage, f, second);
    let presented = refresh.tokenDigest;
    for (let index = 0; index < 1205; index += 1) {
      const pair = tokenPair(grant, second);
      pair[0].tokenId = `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
      assert.equal(await server.storage.tokens.rotateRefreshToken(presented, second, pair), 'rotated');
      presented = pair[1].tokenDigest;
    }
    const refreshed = await postForm(
      `${server.url}/oauth/token`,
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
      { authorization: confidentialAuth() },
    );
    assert.equal(refreshed.status, 200);
    assert.equal(server.clock.nowSeconds(), second, 'all in one second');
    await advanceSeconds(2);
    // Before the feed's after= cursor, the poll stopped at a full page that did not advance next_since:
    // the superseded token passed until the feed went stale, and then every token was refused with 503.
    const superseded = await callApi(tokens.access_token);
    assert.equal(superseded.status, 401);
    assert.match(superseded.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.equal((await callApi(refreshed.json.access_token)).status, 200);
    await advanceSeconds(10);
    assert.equal((await callApi(refreshed.json.access_token)).status, 200, 'the feed stays fresh');
  });

  test("a suspended client's access token is refused once the feed has been polled", async () => {
    const { tokens } = await obtainTokens(server, { scope: 'users:read' });
    assert.equal((await callApi(tokens.access_token)).status, 200);
    await suspendClient(
      { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds(), actor: 'admin:test' },
      seed.confidentialClient.id,
    );
    await advanceSeconds(2);
    assert.equal((await callApi(tokens.access_token)).status, 401);
  });
});
