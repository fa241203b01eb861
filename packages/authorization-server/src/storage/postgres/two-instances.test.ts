/**
 * Two real authorization-server processes on one PostgreSQL database, as a deployment behind a load
 * balancer runs them: a request may land on either. Everything shared is in the database: login sessions,
 * codes, tokens, login rate-limit counters, the token HMAC key (GATEHOUSE_TOKEN_KEY here) and the JWT
 * signing key (`settings`). The browser stand-in keeps one cookie jar for both, as one site.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateTokenKey } from '../../configuration.ts';
import { seedDevelopmentData } from '../../seed/development-seed.ts';
import { API_AUDIENCE, authorize, Browser, confidentialAuth, freePort, inputValue, introspect, postForm, seed } from '../../testing/harness.ts';
import { startInstanceProcess, type InstanceProcess } from '../../testing/instance-process.ts';
import { dropTestSchema, newTestSchema, postgresSkipReason, queryTestSchema, TEST_DATABASE_URL } from '../../testing/postgres.ts';
import { createPostgresStorage } from './postgres-storage.ts';

const skip = await postgresSkipReason();
const EXPIRED_SESSIONS = 3_000;

describe('two authorization-server instances on one PostgreSQL database', { skip }, () => {
  const schema = newTestSchema();
  let a: InstanceProcess;
  let b: InstanceProcess;

  before(async () => {
    // Seed once, as an operator would, before the instances start.
    const storage = await createPostgresStorage(TEST_DATABASE_URL, { schema });
    const now = Math.floor(Date.now() / 1000);
    await seedDevelopmentData(storage, { brandName: 'Gatehouse', now, apiAudience: API_AUDIENCE });
    // Work for the cleanup job both instances run every second: expired login sessions of Bob.
    await queryTestSchema(schema,
      'INSERT INTO login_sessions (session_digest, user_id, created_at, expires_at) SELECT md5(i::text), $1, $2::bigint, $2::bigint + 60 FROM generate_series(1, $3) AS i',
      [seed.users.bob.id, now - 86_400, EXPIRED_SESSIONS]);
    await storage.close();

    const [portA, portB] = [await freePort(), await freePort()];
    const shared = {
      DATABASE_URL: TEST_DATABASE_URL, GATEHOUSE_DATABASE_SCHEMA: schema, GATEHOUSE_TOKEN_KEY: generateTokenKey(), GATEHOUSE_ENV: 'development',
      GATEHOUSE_ISSUER: `http://127.0.0.1:${portA}`, HOST: '127.0.0.1', GATEHOUSE_CLEANUP_INTERVAL_SECONDS: '1', GATEHOUSE_CLEANUP_BATCH_SIZE: '50',
      // The replay tests below prove reuse detection itself (SPEC decision 8 without its grace window);
      // the window is tested in grants/refresh-token.test.ts on both backends.
      GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS: '0',
    };
    // Both start at once: both run the (already applied) migrations and the signing-key getOrCreate together.
    const started = performance.now();
    [a, b] = await Promise.all([startInstanceProcess({ ...shared, PORT: String(portA) }), startInstanceProcess({ ...shared, PORT: String(portB) })]);
    startupMs = Math.round(performance.now() - started);
  });
  let startupMs = 0;

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await dropTestSchema(schema);
  });

  const refresh = (instance: InstanceProcess, refreshToken: string) =>
    postForm(`${instance.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization: confidentialAuth() });

  /** Consent (prompt=consent, so a new grant each time) on `consentAt` with the browser's session, and the code exchanged at `exchangeAt`. */
  async function connect(browser: Browser, consentAt: InstanceProcess, exchangeAt: InstanceProcess) {
    const { redirect, codeVerifier } = await authorize(consentAt, { browser, extra: { prompt: 'consent' } });
    const code = redirect.searchParams.get('code');
    assert.ok(code, redirect.href);
    // RFC 9207: both instances speak for the one issuer.
    assert.equal(redirect.searchParams.get('iss'), `http://127.0.0.1:${new URL(a.url).port}`);
    const exchanged = await postForm(`${exchangeAt.url}/oauth/token`, {
      grant_type: 'authorization_code', code, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier,
    }, { authorization: confidentialAuth() });
    assert.equal(exchanged.status, 200, exchanged.text);
    return exchanged.json as { access_token: string; refresh_token: string };
  }

  /** A browser logged in on instance A. */
  async function loggedInOnA(): Promise<Browser> {
    const browser = new Browser();
    await authorize(a, { browser }); // logs in and consents on A
    return browser;
  }

  it('both instances publish the same metadata and the same JWT signing key (kept in the database)', async (t) => {
    t.diagnostic(`two instance processes started together in ${startupMs} ms`);
    const [metaA, metaB, jwksA, jwksB] = await Promise.all([
      fetch(`${a.url}/.well-known/oauth-authorization-server`).then((r) => r.json()),
      fetch(`${b.url}/.well-known/oauth-authorization-server`).then((r) => r.json()),
      fetch(`${a.url}/.well-known/jwks.json`).then((r) => r.json()),
      fetch(`${b.url}/.well-known/jwks.json`).then((r) => r.json()),
    ]);
    assert.deepEqual(metaA, metaB);
    assert.deepEqual(jwksA, jwksB);
  });

  it('a login session created on instance A works on instance B, and a code issued by B is redeemed at A', async () => {
    const browser = await loggedInOnA();
    const page = await browser.get(new URL(`/oauth/authorize?${new URLSearchParams({
      response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri, scope: 'users:read',
      state: 'xyz', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', prompt: 'consent',
    })}`, b.url).href);
    assert.equal(page.status, 200);
    assert.ok(page.text.includes('action="/oauth/authorize/decision"'), 'B shows the consent page: the session from A is valid there');
    assert.ok(!/action="\/login[?"]/.test(page.text), 'no login page on B');
    const tokens = await connect(browser, b, a);
    assert.equal((await introspect(b, tokens.access_token)).active, true);
  });

  it('the same refresh token fired at both instances at once: exactly one 200, the other invalid_grant (10 rounds)', async (t) => {
    const browser = await loggedInOnA();
    const winners = { a: 0, b: 0 };
    for (let round = 0; round < 10; round++) {
      const first = await connect(browser, round % 2 ? a : b, round % 2 ? b : a);
      // Sent together; which one leaves first alternates, so each instance gets to win some races.
      const [atA, atB] = round % 2
        ? await Promise.all([refresh(a, first.refresh_token), refresh(b, first.refresh_token)])
        : (await Promise.all([refresh(b, first.refresh_token), refresh(a, first.refresh_token)])).reverse() as [Awaited<ReturnType<typeof refresh>>, Awaited<ReturnType<typeof refresh>>];
      assert.deepEqual([atA.status, atB.status].sort(), [200, 400], `round ${round}: ${atA.text} / ${atB.text}`);
      const [winner, loser] = atA.status === 200 ? [atA, atB] : [atB, atA];
      winners[atA.status === 200 ? 'a' : 'b'] += 1;
      assert.equal(loser.json.error, 'invalid_grant');
      // The loser presented a token that was rotated out meanwhile: reuse detection (grace window 0 s)
      // revoked the grant, so the winner's fresh pair is dead too, on both instances.
      for (const instance of [a, b]) assert.equal((await introspect(instance, winner.json.access_token)).active, false);
      assert.equal((await refresh(b, winner.json.refresh_token)).json.error, 'invalid_grant');
    }
    t.diagnostic(`refresh races won: instance A ${winners.a}, instance B ${winners.b}`);
  });

  it('replaying a rotated-out refresh token at the OTHER instance revokes the grant: the new tokens stop working on both (SPEC decision 8)', async () => {
    const browser = await loggedInOnA();
    for (const [rotateAt, replayAt] of [[a, b], [b, a]] as const) {
      const first = await connect(browser, a, b);
      const rotated = await refresh(rotateAt, first.refresh_token);
      assert.equal(rotated.status, 200, rotated.text);
      for (const instance of [a, b]) assert.equal((await introspect(instance, rotated.json.access_token)).active, true);

      const replay = await refresh(replayAt, first.refresh_token);
      assert.equal(replay.status, 400);
      assert.equal(replay.json.error, 'invalid_grant');
      for (const instance of [a, b]) {
        assert.equal((await introspect(instance, rotated.json.access_token)).active, false, 'the newest access token is revoked everywhere');
        assert.equal((await refresh(instance, rotated.json.refresh_token)).json.error, 'invalid_grant', 'the newest refresh token is revoked everywhere');
      }
    }
    const reuse = await queryTestSchema(schema, "SELECT count(*)::int AS n FROM audit_events WHERE type = 'refresh_token.reuse_detected'");
    assert.ok(reuse.rows[0]!.n >= 2);
  });

  it('a code replayed with a wrong redirect_uri or no verifier at the instance that wrote it (and remembers it unused) is a replay: the first redemption\'s tokens are revoked (SPEC decision 6, issue 12)', async () => {
    const browser = await loggedInOnA();
    for (const replayWith of [{ redirect_uri: 'https://elsewhere.example/cb' }, { code_verifier: undefined }]) {
      // A issued the code (it remembers it unused: postgres/written-rows.ts); B redeems it.
      const { redirect, codeVerifier } = await authorize(a, { browser, extra: { prompt: 'consent' } });
      const code = redirect.searchParams.get('code')!;
      const redemption = { grant_type: 'authorization_code', code, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier };
      const first = await postForm(`${b.url}/oauth/token`, redemption, { authorization: confidentialAuth() });
      assert.equal(first.status, 200, first.text);
      const replay = await postForm(`${a.url}/oauth/token`, Object.fromEntries(Object.entries({ ...redemption, ...replayWith }).filter(([, value]) => value !== undefined)) as Record<string, string>, { authorization: confidentialAuth() });
      assert.equal(replay.status, 400);
      assert.deepEqual([replay.json.error, replay.json.error_description], ['invalid_grant', 'authorization code was already used']);
      for (const instance of [a, b]) assert.equal((await introspect(instance, first.json.access_token)).active, false, 'what the first redemption issued is revoked');
    }
  });

  it('a rotated-out refresh token replayed with a wider scope at the instance that remembers writing it still revokes the grant (SPEC decision 8, issue 12)', async () => {
    const browser = await loggedInOnA();
    // B exchanged the code, so B remembers the refresh token as current (postgres/written-rows.ts); A rotates it.
    const first = await connect(browser, a, b);
    const rotated = await refresh(a, first.refresh_token);
    assert.equal(rotated.status, 200, rotated.text);
    const replay = await postForm(`${b.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: first.refresh_token, scope: 'users:read vendors:write' }, { authorization: confidentialAuth() });
    assert.equal(replay.status, 400);
    assert.equal(replay.json.error, 'invalid_grant', 'a refusal is decided on the stored row, not on what B remembers');
    for (const instance of [a, b]) {
      assert.equal((await introspect(instance, rotated.json.access_token)).active, false, 'the newest access token is revoked everywhere');
      assert.equal((await refresh(instance, rotated.json.refresh_token)).json.error, 'invalid_grant', 'the newest refresh token is revoked everywhere');
    }
  });

  it('the cleanup job runs on both instances at once and deletes every expired row exactly once', async (t) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const left = (await queryTestSchema(schema, 'SELECT count(*)::int AS n FROM login_sessions WHERE expires_at <= $1', [Math.floor(Date.now() / 1000)])).rows[0]!.n;
      if (left === 0) break;
      assert.ok(Date.now() < deadline, `${left} expired sessions left`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // Each instance logs what its runs deleted; between them, every row once.
    const deletedBy = (instance: InstanceProcess) => instance.stdout().split('\n').flatMap((line) => {
      try {
        const entry = JSON.parse(line) as { event?: string; loginSessions?: number; level?: number };
        assert.notEqual(entry.event, 'cleanup.failed', line);
        return entry.event === 'cleanup' ? [entry.loginSessions ?? 0] : [];
      } catch (error) {
        if (error instanceof SyntaxError) return [];
        throw error;
      }
    }).reduce((sum, n) => sum + n, 0);
    t.diagnostic(`expired sessions deleted by instance A: ${deletedBy(a)}, by instance B: ${deletedBy(b)}`);
    assert.equal(deletedBy(a) + deletedBy(b), EXPIRED_SESSIONS);
  });

  // Last: it leaves bob's account slowed from 127.0.0.1 for a while.
  it('failed logins on either instance count toward one shared delay (SPEC decision 18, issue 10 §3)', async () => {
    const attempt = async (instance: InstanceProcess) => {
      const browser = new Browser();
      const page = await browser.get(new URL(`/oauth/authorize?${new URLSearchParams({
        response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri, scope: 'users:read',
        state: 'xyz', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
      })}`, instance.url).href);
      return (await browser.post(`${instance.url}/login`, {
        _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!, email: seed.users.bob.email, password: 'wrong',
      })).status;
    };
    // Default: 5 free failures per account and address, then 1 s, 2 s, 4 s … between attempts. These
    // instances run on the real clock, so the first 429 comes once the doubling wait outlasts an attempt.
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push(await attempt(i % 2 ? b : a));
    assert.deepEqual(statuses, Array(5).fill(401));
    let failures = 5;
    while (failures < 12 && (await attempt(failures % 2 ? b : a)) === 401) failures++;
    assert.ok(failures < 12, 'a 429 came once the wait outlasted an attempt');
    // Both instances counted into one row per key; the refused attempt was counted nowhere.
    const counted = await queryTestSchema<{ failures: number }>(schema, "SELECT failures FROM login_throttle WHERE throttle_key LIKE 'pair:%'");
    assert.deepEqual(counted.rows.map((row) => row.failures), [failures]);
  });
});

describe('two development instances starting together on an empty PostgreSQL schema', { skip }, () => {
  it('both migrate and seed it once between them, and share the generated token key (a token from one works on the other)', async (t) => {
    const schema = newTestSchema();
    const [portA, portB] = [await freePort(), await freePort()];
    // No GATEHOUSE_TOKEN_KEY: in development the key is generated once and kept in the database.
    const shared = { DATABASE_URL: TEST_DATABASE_URL, GATEHOUSE_DATABASE_SCHEMA: schema, GATEHOUSE_ENV: 'development', HOST: '127.0.0.1', GATEHOUSE_LOG: 'off' };
    const started = performance.now();
    const instances = await Promise.allSettled([
      startInstanceProcess({ ...shared, PORT: String(portA), GATEHOUSE_ISSUER: `http://127.0.0.1:${portA}` }),
      startInstanceProcess({ ...shared, PORT: String(portB), GATEHOUSE_ISSUER: `http://127.0.0.1:${portA}` }),
    ]);
    try {
      const [first, second] = instances.map((outcome) => {
        if (outcome.status === 'rejected') throw outcome.reason;
        return outcome.value;
      }) as [InstanceProcess, InstanceProcess];
      t.diagnostic(`started, migrated and seeded in ${Math.round(performance.now() - started)} ms`);
      const migrated = await queryTestSchema(schema, 'SELECT count(*)::int AS n FROM schema_migrations');
      assert.equal(migrated.rows[0]!.n, (await import('./migrations.ts')).migrations.length);
      const users = await queryTestSchema(schema, 'SELECT count(*)::int AS n FROM users');
      assert.equal(users.rows[0]!.n, 3, 'the development users (Alice, Bob, the partner developer), once');
      const { redirect, codeVerifier } = await authorize(first);
      const exchanged = await postForm(`${second.url}/oauth/token`, {
        grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier,
      }, { authorization: confidentialAuth() });
      assert.equal(exchanged.status, 200, 'a code minted by one instance verifies on the other: one HMAC key');
      assert.equal((await introspect(first, exchanged.json.access_token)).active, true);
    } finally {
      await Promise.all(instances.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value.stop() : undefined)));
      await dropTestSchema(schema);
    }
  });
});
