import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { basic, confidentialAuth, obtainTokens, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { registerResourceServer } from '../clients/registration.ts';
import { fixture, rotationChain } from '../storage/contract/fixtures.ts';
import { REVOCATION_FEED_PAGE_SIZE } from './revocation-feed.ts';

describe('GET /oauth/revoked-access-tokens (the revocation feed for local validation, SPEC decision 7)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ accessTokenFormat: 'jwt' });
  });
  after(() => server.close());
  const resourceServerAuth = basic(seed.resourceServer.id, seed.resourceServer.secret);
  const feed = async (since: number | string, authorization = resourceServerAuth) => {
    const response = await fetch(`${server.url}/oauth/revoked-access-tokens?since=${since}`, { headers: { authorization } });
    return { status: response.status, headers: response.headers, json: await response.json() };
  };

  it('lists superseded and revoked access tokens by jti, and not live ones', async () => {
    const since = server.clock.nowSeconds();
    const { tokens } = await obtainTokens(server);
    // Another company, so this grant does not supersede the first one (SPEC decision 11).
    const live = await obtainTokens(server, { subject: `urn:gatehouse:company:${seed.companies[1].id}` });
    server.clock.advanceSeconds(1);
    const rotated = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
    server.clock.advanceSeconds(1);
    await postForm(`${server.url}/oauth/revoke`, { token: rotated.json.access_token }, { authorization: confidentialAuth() });
    const response = await feed(since);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const jtis = response.json.revoked.map((entry: { jti: string }) => entry.jti);
    assert.deepEqual(jtis, [decodeJwt(tokens.access_token).jti, decodeJwt(rotated.json.access_token).jti]);
    assert.equal(jtis.includes(decodeJwt(live.tokens.access_token).jti), false);
    assert.equal(response.json.revoked[0].exp, decodeJwt(tokens.access_token).exp);
    assert.equal(response.json.next_since, since + 2);
    assert.equal(response.json.server_time, server.clock.nowSeconds());
    const later = await feed(response.json.next_since);
    assert.deepEqual(later.json.revoked.map((entry: { jti: string }) => entry.jti), [decodeJwt(rotated.json.access_token).jti]);
  });

  it('leaves out revoked tokens expired for more than the grace minute', async () => {
    const since = server.clock.nowSeconds();
    const { tokens } = await obtainTokens(server);
    await postForm(`${server.url}/oauth/revoke`, { token: tokens.access_token }, { authorization: confidentialAuth() });
    assert.ok((await feed(since)).json.revoked.some((entry: { jti: string }) => entry.jti === decodeJwt(tokens.access_token).jti));
    server.clock.advanceSeconds(900 + 30);
    assert.ok((await feed(since)).json.revoked.some((entry: { jti: string }) => entry.jti === decodeJwt(tokens.access_token).jti), 'kept within the grace past exp (clock skew)');
    server.clock.advanceSeconds(31);
    assert.equal((await feed(since)).json.revoked.some((entry: { jti: string }) => entry.jti === decodeJwt(tokens.access_token).jti), false);
  });

  it('answers only the resource server of the audience', async () => {
    const client = await feed(0, confidentialAuth());
    assert.equal(client.status, 400);
    assert.equal(client.json.error, 'unauthorized_client');
    const { client: otherApi, clientSecret } = await registerResourceServer(
      { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
      { name: 'Other API', audience: 'https://other-api.example' },
    );
    assert.equal((await feed(0, basic(otherApi.clientId, clientSecret))).json.error, 'unauthorized_client');
    const anonymous = await fetch(`${server.url}/oauth/revoked-access-tokens?since=0`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic/);
    assert.equal((await feed(0, basic(seed.resourceServer.id, 'wrong'))).status, 401);
  });

  it('refuses a malformed since with invalid_request', async () => {
    for (const since of ['yesterday', '-5', '1.5']) assert.equal((await feed(since)).json.error, 'invalid_request');
  });

  it('reads through a second with more revocations than a page: a full page names next_after, and after= continues past it', async () => {
    server.clock.advanceSeconds(10);
    const second = server.clock.nowSeconds();
    // 1,205 rotations of one grant in one second: each revokes the access token it supersedes (SPEC §3).
    const chain = await rotationChain(server.storage, await fixture(server.storage), Array.from({ length: 1206 }, () => second));
    const superseded = chain.pairs.slice(0, -1).map(([access]) => access.tokenId).sort();
    server.clock.advanceSeconds(1);

    const first = await feed(second);
    assert.equal(first.json.revoked.length, REVOCATION_FEED_PAGE_SIZE);
    assert.equal(first.json.next_since, second);
    const lastOfFirst = first.json.revoked.at(-1).jti;
    assert.equal(first.json.next_after, lastOfFirst);
    // Without after, the same second is read from its start again: the page a client would loop on.
    assert.deepEqual((await feed(first.json.next_since)).json.revoked, first.json.revoked);

    const seen: string[] = first.json.revoked.map((entry: { jti: string }) => entry.jti);
    const rest = await feed(`${first.json.next_since}&after=${first.json.next_after}`);
    assert.equal(rest.status, 200);
    assert.equal(rest.json.revoked.length, superseded.length - REVOCATION_FEED_PAGE_SIZE);
    assert.equal(rest.json.next_after, undefined, 'not full: nothing more');
    assert.equal(rest.json.next_since, second);
    seen.push(...rest.json.revoked.map((entry: { jti: string }) => entry.jti));
    assert.deepEqual(seen, superseded, 'every superseded access token once, by jti within the second');
  });

  it('refuses an after that is not a jti with invalid_request, before reading anything', async () => {
    for (const after of ['x', '1', 'A0000000-0000-4000-8000-000000000000', '00000000000040008000000000000000']) {
      const response = await feed(`0&after=${encodeURIComponent(after)}`);
      assert.equal(response.status, 400);
      assert.equal(response.json.error, 'invalid_request');
      assert.equal(response.json.revoked, undefined);
    }
    assert.equal((await feed('0&after=00000000-0000-4000-8000-000000000000&after=00000000-0000-4000-8000-000000000001')).json.error, 'invalid_request', 'repeated');
  });
});
