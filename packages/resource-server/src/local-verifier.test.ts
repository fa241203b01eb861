import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { BearerTokenError, INVALID_TOKEN_DESCRIPTION } from './bearer-token-error.ts';
import { IntrospectionUnavailableError } from './introspection-unavailable-error.ts';
import { createTokenVerifier } from './token-verifier.ts';
import { AUDIENCE, createVerifierFixture, ISSUER, rejection, RESOURCE_SERVER_ID, RESOURCE_SERVER_SECRET } from './verifier-fixture.ts';
import type { FixtureOverrides, VerifierFixture } from './verifier-fixture.ts';

/** Local mode (RFC 9068 JWTs + revocation feed) beyond the refusals both modes share. */

const FEED = '/oauth/revoked-access-tokens';
const JWKS = '/.well-known/jwks.json';
const fixtures: VerifierFixture[] = [];
after(() => {
  for (const fixture of fixtures) fixture.verifier.close();
});

async function local(overrides: FixtureOverrides = {}, awaitReady = true): Promise<VerifierFixture> {
  const fixture = await createVerifierFixture('local', overrides, { awaitReady });
  fixtures.push(fixture);
  return fixture;
}

/** Refused with the one fixed description; `reason` (logged, never sent) names the cause. */
async function expectInvalidToken(fixture: VerifierFixture, token: string, reason: RegExp): Promise<void> {
  const error = await rejection(fixture.verify(token), BearerTokenError);
  assert.equal(error.bearerError, 'invalid_token');
  assert.equal(error.errorDescription, INVALID_TOKEN_DESCRIPTION);
  assert.match(error.reason ?? '', reason);
}

describe('local mode: JWT checks', () => {
  test('exp is compared with the injected clock within the configured skew', async () => {
    const fixture = await local();
    const token = await fixture.issue({ expiresInSeconds: 60 });
    await fixture.clock.advance(64_999);
    await fixture.verify(token);
    await fixture.clock.advance(1);
    await expectInvalidToken(fixture, token, /expired/);

    const strict = await local({ clockSkewSeconds: 0 });
    const atExp = await strict.issue({ expiresInSeconds: 1 });
    await strict.clock.advance(1_000);
    await expectInvalidToken(strict, atExp, /expired/);
  });

  test('a JWT that is not an access token (typ other than at+jwt) is refused (RFC 9068 §4)', async () => {
    const fixture = await local();
    for (const typ of ['JWT', 'id_token+jwt', 'jwt']) {
      await expectInvalidToken(fixture, await fixture.issue({ typ }), /not a JWT access token/);
    }
    // RFC 9068 §2.1 allows the media-type spelling.
    await fixture.verify(await fixture.issue({ typ: 'application/at+jwt' }));
  });

  test('an opaque token or garbage is refused as not a signed JWT', async () => {
    const fixture = await local();
    await expectInvalidToken(fixture, 'kwu9xRtq7VwqVnj9bije56BeiktkPPwLRCfD77hsDZQ', /not a well-formed signed JWT/);
    await expectInvalidToken(fixture, 'a.b.c', /not a well-formed signed JWT/);
  });

  test('claims RFC 9068 requires, and client_id, must be present', async () => {
    const fixture = await local();
    for (const claim of ['jti', 'sub', 'iat', 'exp', 'client_id']) {
      await expectInvalidToken(fixture, await fixture.issue({ claims: { [claim]: undefined } }), new RegExp(`has no ${claim} claim`));
    }
    await expectInvalidToken(fixture, await fixture.issue({ claims: { client_id: 42 } }), /names no client/);
  });

  test('a token living longer than maxAccessTokenLifetimeSeconds, or issued in the future, is refused', async () => {
    const fixture = await local();
    await expectInvalidToken(fixture, await fixture.issue({ expiresInSeconds: 901 }), /lives longer/);
    const nowSeconds = Math.floor(fixture.clock.now() / 1000);
    await expectInvalidToken(fixture, await fixture.issue({ claims: { iat: nowSeconds + 60 } }), /iat|future/);
  });

  test('aud may be an array containing this resource server', async () => {
    const fixture = await local();
    await fixture.verify(await fixture.issue({ claims: { aud: ['https://other.example', AUDIENCE] } }));
  });

  test('a cached verification still sees revocations and expiry', async () => {
    const fixture = await local();
    const token = await fixture.issue({ expiresInSeconds: 30 });
    await fixture.verify(token);
    await fixture.verify(token);
    fixture.stub.revoke(token);
    await fixture.clock.advance(2_000);
    await expectInvalidToken(fixture, token, /revoked/);
    const expiring = await fixture.issue({ expiresInSeconds: 10 });
    await fixture.verify(expiring);
    await fixture.clock.advance(15_000);
    await expectInvalidToken(fixture, expiring, /expired/);
  });
});

describe('local mode: JWKS', () => {
  test('is fetched once at start and not per token', async () => {
    const fixture = await local();
    for (let index = 0; index < 3; index += 1) {
      await fixture.verify(await fixture.issue());
    }
    assert.equal(fixture.requestsTo(JWKS), 1);
  });

  test('an unknown kid refetches the JWKS, so a key rotation at the authorization server is followed', async () => {
    const fixture = await local({ jwksCooldownSeconds: 0 });
    await fixture.verify(await fixture.issue());
    const before = fixture.requestsTo(JWKS);
    await fixture.stub.rotateSigningKey();
    const rotated = await fixture.issue();
    assert.equal((await fixture.verify(rotated)).clientId, '7af385a0-284d-48c5-b225-362862085551');
    assert.equal(fixture.requestsTo(JWKS), before + 1, 'one refetch for the new kid');
    await fixture.verify(await fixture.issue());
    assert.equal(fixture.requestsTo(JWKS), before + 1, 'the new key is cached');
  });

  test('within the cooldown an unknown kid does not refetch (a flood of forged kids costs nothing)', async () => {
    const fixture = await local({ jwksCooldownSeconds: 3_600 });
    const before = fixture.requestsTo(JWKS);
    for (let index = 0; index < 3; index += 1) {
      await expectInvalidToken(fixture, await fixture.issue({ forge: 'unpublished-key' }), /does not publish/);
    }
    await fixture.stub.rotateSigningKey();
    await expectInvalidToken(fixture, await fixture.issue(), /does not publish/);
    assert.equal(fixture.requestsTo(JWKS), before);
  });

  test('a JWKS that cannot be fetched is 503, not 401, and is fetched again once it answers', async () => {
    const fixture = await local({ jwksCooldownSeconds: 0 });
    fixture.stub.failures.jwks = 503;
    await fixture.stub.rotateSigningKey();
    const error = await rejection(fixture.verify(await fixture.issue()), IntrospectionUnavailableError);
    assert.equal(error.status, 503);
    assert.equal(error.reason, 'unexpected_response');
    assert.match(error.detail, /^JWKS: /);
    assert.equal(error.headers['www-authenticate'], undefined);
    fixture.stub.failures.jwks = undefined;
    await fixture.verify(await fixture.issue());
  });

  test('a JWKS unreachable at start is fetched on the first token', async () => {
    const fixture = await local({}, false);
    let jwksDown = true;
    const verifier = createTokenVerifier({
      mode: 'local',
      issuer: ISSUER,
      audience: AUDIENCE,
      introspectionClientId: RESOURCE_SERVER_ID,
      introspectionClientSecret: RESOURCE_SERVER_SECRET,
      now: fixture.clock.now,
      scheduleTimer: fixture.clock.scheduleTimer,
      fetch: (url, init) =>
        jwksDown && new URL(url).pathname === JWKS ? Promise.reject(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })) : fixture.stub.fetch(url, init),
    });
    try {
      await verifier.ready();
      const error = await rejection(verifier.verifyAccessToken(`Bearer ${await fixture.issue()}`, []), IntrospectionUnavailableError);
      assert.equal(error.reason, 'network_error');
      assert.match(error.detail, /ECONNREFUSED/);
      jwksDown = false;
      await verifier.verifyAccessToken(`Bearer ${await fixture.issue()}`, []);
    } finally {
      verifier.close();
    }
  });
});

describe('local mode: revocation feed', () => {
  test('requests since=now-maxAccessTokenLifetime-skew at start, then next_since less the lookback, with Basic resource-server credentials', async () => {
    const fixture = await local();
    const startSeconds = Math.floor(fixture.clock.now() / 1000);
    const feedRequests = () => fixture.stub.requests.filter((request) => request.path === FEED);
    assert.equal(feedRequests().length, 1);
    assert.equal(feedRequests()[0]?.query.get('since'), String(startSeconds - 900 - 5));
    assert.equal(feedRequests()[0]?.authenticated, true);
    await fixture.clock.advance(2_000);
    assert.equal(feedRequests()[1]?.query.get('since'), String(startSeconds - 905), 'an empty answer keeps since');
    const token = await fixture.issue();
    await fixture.clock.advance(100_000);
    fixture.stub.revoke(token);
    await fixture.clock.advance(2_000);
    await fixture.clock.advance(2_000);
    assert.equal(feedRequests().at(-1)?.query.get('since'), String(startSeconds + 104 - 10), 'next_since, but at least 10 s before the last server_time');
  });

  test('polls every revocationPollIntervalSeconds on the injected scheduler', async () => {
    const fixture = await local({ revocationPollIntervalSeconds: 1, maxRevocationStalenessSeconds: 3 });
    await fixture.clock.advance(10_000);
    assert.equal(fixture.requestsTo(FEED), 11);
    assert.equal(fixture.clock.pendingTimers, 1);
  });

  test('start-up catch-up: a token revoked before the verifier started is refused from the first request', async () => {
    const fixture = await local({}, false);
    // The verifier polled at creation; make a second verifier after the revocation instead.
    const token = await fixture.issue();
    fixture.stub.revoke(token);
    await fixture.clock.advance(600_000);
    const late = createTokenVerifier({
      mode: 'local',
      issuer: ISSUER,
      audience: AUDIENCE,
      introspectionClientId: RESOURCE_SERVER_ID,
      introspectionClientSecret: RESOURCE_SERVER_SECRET,
      now: fixture.clock.now,
      fetch: fixture.stub.fetch,
      scheduleTimer: fixture.clock.scheduleTimer,
    });
    try {
      // No await of ready(): the request itself waits for the catch-up poll in flight.
      const error = await rejection(late.verifyAccessToken(`Bearer ${token}`, []), BearerTokenError);
      assert.match(error.reason ?? '', /revoked/);
      assert.equal((await late.verifyAccessToken(`Bearer ${await fixture.issue()}`, [])).scope.length, 2);
    } finally {
      late.close();
    }
  });

  test('no token is accepted before the catch-up succeeded (503)', async () => {
    const fixture = await local({}, false);
    fixture.stub.failures.revocationFeed = 500;
    const failing = createTokenVerifier({
      mode: 'local',
      issuer: ISSUER,
      audience: AUDIENCE,
      introspectionClientId: RESOURCE_SERVER_ID,
      introspectionClientSecret: RESOURCE_SERVER_SECRET,
      now: fixture.clock.now,
      fetch: fixture.stub.fetch,
      scheduleTimer: fixture.clock.scheduleTimer,
    });
    try {
      const error = await rejection(failing.verifyAccessToken(`Bearer ${await fixture.issue()}`, []), IntrospectionUnavailableError);
      assert.equal(error.status, 503);
      assert.equal(error.reason, 'revocation_feed_stale');
      assert.match(error.detail, /has not been read yet.*HTTP 500/);
      fixture.stub.failures.revocationFeed = undefined;
      await fixture.clock.advance(2_000);
      await failing.ready();
      await failing.verifyAccessToken(`Bearer ${await fixture.issue()}`, []);
    } finally {
      failing.close();
    }
  });

  test('fail closed: when the feed is down longer than maxRevocationStalenessSeconds, every token gets 503', async () => {
    const fixture = await local();
    const token = await fixture.issue();
    await fixture.verify(token);
    fixture.stub.failures.revocationFeed = 500;
    // Polls at +2 s and +4 s fail; the last successful one was sent at +0 s.
    await fixture.clock.advance(5_000);
    await fixture.verify(token);
    await fixture.clock.advance(1);
    const error = await rejection(fixture.verify(token), IntrospectionUnavailableError);
    assert.equal(error.status, 503);
    assert.equal(error.error, 'temporarily_unavailable');
    assert.equal(error.reason, 'revocation_feed_stale');
    assert.equal(error.headers['retry-after'], '5');
    assert.equal(error.headers['www-authenticate'], undefined, 'not a token problem: clients keep their token');
    assert.match(error.detail, /last read 5\.0 s ago \(bound 5 s\); last failure: revocation feed answered HTTP 500/);
    // Back up: the next poll (at +6 s) succeeds and tokens pass again, revocations included.
    fixture.stub.failures.revocationFeed = undefined;
    const revoked = await fixture.issue();
    fixture.stub.revoke(revoked);
    await fixture.clock.advance(999);
    await fixture.verify(token);
    await expectInvalidToken(fixture, revoked, /revoked/);
  });

  test('rejected feed credentials are 503 (the catch-up never succeeds), never a client error', async () => {
    const fixture = await local({ introspectionClientSecret: 'wrong-secret' }, false);
    const error = await rejection(fixture.verify(await fixture.issue()), IntrospectionUnavailableError);
    assert.equal(error.reason, 'revocation_feed_stale');
    assert.match(error.detail, /HTTP 401/);
  });

  test('a feed answer that is not the contract is a failed poll', async () => {
    for (const body of [{ revoked: 'x', next_since: 1 }, { revoked: [{ jti: 'a', exp: 'soon', revoked_at: 1 }], next_since: 1 }, { revoked: [] }]) {
      const fixture = await local({}, false);
      const original = fixture.stub.handle;
      const verifier = createTokenVerifier({
        mode: 'local',
        issuer: ISSUER,
        audience: AUDIENCE,
        introspectionClientId: RESOURCE_SERVER_ID,
        introspectionClientSecret: RESOURCE_SERVER_SECRET,
        now: fixture.clock.now,
        scheduleTimer: fixture.clock.scheduleTimer,
        fetch: (url, init) => (new URL(url).pathname === FEED ? Promise.resolve(Response.json(body)) : original(new Request(url, init))),
      });
      try {
        const error = await rejection(verifier.verifyAccessToken(`Bearer ${await fixture.issue()}`, []), IntrospectionUnavailableError);
        assert.match(error.detail, /revocation feed (answer lacks|entry lacks)/);
      } finally {
        verifier.close();
      }
    }
  });

  test('close() stops polling', async () => {
    const fixture = await local();
    assert.equal(fixture.clock.pendingTimers, 1);
    fixture.verifier.close();
    assert.equal(fixture.clock.pendingTimers, 0);
    const polls = fixture.requestsTo(FEED);
    await fixture.clock.advance(10_000);
    assert.equal(fixture.requestsTo(FEED), polls);
  });
});

describe('local mode: options', () => {
  test('the poll interval must be below the staleness bound; URLs must be https off loopback', async () => {
    await assert.rejects(local({ revocationPollIntervalSeconds: 5 }), TypeError);
    await assert.rejects(local({ revocationPollIntervalSeconds: 0 }), TypeError);
    await assert.rejects(local({ jwksUri: 'http://as.example/jwks' }), TypeError);
    await assert.rejects(local({ revocationFeedEndpoint: 'http://as.example/feed' }), TypeError);
    await assert.rejects(local({ maxAccessTokenLifetimeSeconds: 0 }), TypeError);
    assert.throws(
      () => createTokenVerifier({ mode: 'jwt' as 'local', issuer: ISSUER, audience: AUDIENCE, introspectionClientId: 'id', introspectionClientSecret: 'secret' }),
      /mode must be 'introspection' or 'local'/,
    );
  });

  test('uses configured JWKS and feed URLs and an issuer path', async () => {
    const urls: string[] = [];
    const verifier = createTokenVerifier({
      mode: 'local',
      issuer: 'https://as.example/tenant-a',
      audience: AUDIENCE,
      introspectionClientId: RESOURCE_SERVER_ID,
      introspectionClientSecret: RESOURCE_SERVER_SECRET,
      scheduleTimer: () => ({ cancel: () => undefined }),
      fetch: async (url) => {
        urls.push(url.split('?')[0] ?? url);
        return new Response(null, { status: 500 });
      },
    });
    verifier.close();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(urls.sort(), ['https://as.example/tenant-a/.well-known/jwks.json', 'https://as.example/tenant-a/oauth/revoked-access-tokens']);
    assert.equal(verifier.mode, 'local');
    await assert.rejects(verifier.ready(), /stopped/);
  });
});
