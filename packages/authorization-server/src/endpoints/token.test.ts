import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authorize, basic, confidentialAuth, introspect, obtainTokens, pkcePair, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { registerClient } from '../clients/registration.ts';
import type { Storage } from '../storage/storage.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';

const client = seed.confidentialClient;

describe('POST /oauth/token', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const token = (form: Record<string, string>, headers: Record<string, string> = {}) => postForm(`${server.url}/oauth/token`, form, headers);
  /** A fresh code with its verifier. */
  const freshCode = async (options: Parameters<typeof authorize>[1] = {}) => {
    const { redirect, codeVerifier } = await authorize(server, { extra: { prompt: 'consent' }, ...options });
    return { code: redirect.searchParams.get('code')!, codeVerifier };
  };
  const exchange = (code: string, codeVerifier: string | undefined, headers = { authorization: confidentialAuth() }, extra: Record<string, string> = {}) =>
    token({ grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, ...(codeVerifier ? { code_verifier: codeVerifier } : {}), ...extra }, headers);
  const tokensIssued = async () => (await server.storage.audit.list({ limit: 1000 })).filter((event) => event.type === 'token.issued').length;

  describe('audit of refusals (issue 13: the portal\'s integration activity; SPEC decision 19)', () => {
    it('records token.refused with the client, grant type, error code and description for invalid_grant, never the token value', async () => {
      const refreshToken = `grt_${'A'.repeat(43)}`;
      const response = await token({ grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization: confidentialAuth() });
      assert.equal(response.status, 400);
      assert.equal(response.json.error, 'invalid_grant');
      const [event] = await server.storage.audit.list({ clientId: client.id, types: ['token.refused'], limit: 1 });
      assert.ok(event, 'a token.refused event was recorded');
      assert.equal(event.actor, `client:${client.id}`);
      assert.deepEqual(event.details, { grant_type: 'refresh_token', error: 'invalid_grant', error_description: response.json.error_description });
      assert.ok(!JSON.stringify(event).includes(refreshToken), 'the presented token is not in the audit log');
    });

    it('records token.refused for invalid_scope (a refresh that widens scope) and issues nothing', async () => {
      const { tokens } = await obtainTokens(server, { scope: 'users:read', extra: { prompt: 'consent' } });
      const issuedBefore = await tokensIssued();
      const response = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, scope: 'users:read vendors:write' }, { authorization: confidentialAuth() });
      assert.equal(response.json.error, 'invalid_scope');
      assert.equal(await tokensIssued(), issuedBefore, 'no token issued');
      const [event] = await server.storage.audit.list({ clientId: client.id, types: ['token.refused'], limit: 1 });
      assert.equal(event?.details?.error, 'invalid_scope');
      assert.ok(!JSON.stringify(event).includes(tokens.refresh_token), 'no token value in the audit log');
    });

    it('does not record token.refused for a failed client authentication (no client to attribute it to)', async () => {
      const before = (await server.storage.audit.list({ types: ['token.refused'], limit: 1000 })).length;
      const response = await token({ grant_type: 'refresh_token', refresh_token: 'x' }, { authorization: basic(client.id, 'wrong-secret') });
      assert.equal(response.status, 401);
      assert.equal((await server.storage.audit.list({ types: ['token.refused'], limit: 1000 })).length, before);
    });
  });

  describe('responses', () => {
    it('issues Bearer tokens with scope, expires_in and the subject URN, with no-store headers (RFC 6749 §5.1)', async () => {
      const { code, codeVerifier } = await freshCode({ scope: 'users:read vendors:read' });
      const response = await exchange(code, codeVerifier);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.equal(response.headers.get('pragma'), 'no-cache');
      assert.equal(response.json.token_type, 'Bearer');
      assert.equal(response.json.expires_in, 900);
      assert.equal(response.json.scope, 'users:read vendors:read');
      assert.match(response.json.access_token, /^gat_/);
      assert.match(response.json.refresh_token, /^grt_/);
      assert.equal(response.json['urn:gatehouse:params:oauth:subject_urn'], `urn:gatehouse:company:${seed.companies[0].id}`);
    });

    it('sends no-store on errors too', async () => {
      const response = await token({ grant_type: 'authorization_code', code: 'nope', redirect_uri: client.redirectUri }, { authorization: confidentialAuth() });
      assert.equal(response.status, 400);
      assert.equal(response.headers.get('cache-control'), 'no-store');
    });

    it('refuses an unknown grant_type with unsupported_grant_type', async () => {
      const response = await token({ grant_type: 'password', username: 'a', password: 'b' }, { authorization: confidentialAuth() });
      assert.equal(response.status, 400);
      assert.equal(response.json.error, 'unsupported_grant_type');
    });

    it('refuses a repeated parameter with invalid_request (RFC 6749 §3.2)', async () => {
      const response = await fetch(`${server.url}/oauth/token`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: confidentialAuth() },
        body: 'grant_type=refresh_token&refresh_token=a&refresh_token=b',
      });
      assert.equal(response.status, 400);
      assert.equal((await response.json()).error, 'invalid_request');
    });

    it('refuses a JSON body with 415 invalid_request before reading it (RFC 6749 §3.2; http/media-types.ts)', async () => {
      const response = await fetch(`${server.url}/oauth/token`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: confidentialAuth() }, body: '{"grant_type":"refresh_token"}',
      });
      assert.equal(response.status, 415);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.equal((await response.json()).error, 'invalid_request');
    });
  });

  describe('client authentication (SPEC decision 1)', () => {
    const expectInvalidClient = async (response: Awaited<ReturnType<typeof token>>, description: RegExp) => {
      assert.equal(response.status, 401);
      assert.equal(response.json.error, 'invalid_client');
      assert.match(response.json.error_description, description);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Basic /);
      assert.equal(response.json.access_token, undefined);
    };

    it('refuses a secret in the body (client_secret_post) and does not consume the code', async () => {
      const { code, codeVerifier } = await freshCode();
      await expectInvalidClient(await exchange(code, codeVerifier, {} as any, { client_id: client.id, client_secret: client.secret }), /HTTP Basic/);
      assert.equal((await exchange(code, codeVerifier)).status, 200, 'the code still works with Basic');
    });

    it('refuses Basic plus a secret in the body', async () => {
      const { code, codeVerifier } = await freshCode();
      await expectInvalidClient(await exchange(code, codeVerifier, { authorization: confidentialAuth() }, { client_secret: client.secret }), /exactly one/);
    });

    it('refuses a wrong secret with 401 and WWW-Authenticate: Basic', async () => {
      const { code, codeVerifier } = await freshCode();
      await expectInvalidClient(await exchange(code, codeVerifier, { authorization: basic(client.id, 'wrong-secret') }), /authentication failed/);
    });

    it('refuses an unknown client', async () => {
      await expectInvalidClient(await token({ grant_type: 'refresh_token', refresh_token: 'x' }, { authorization: basic('00000000-0000-4000-8000-000000000000', 'x') }), /authentication failed/);
    });

    it('refuses client_secret in the body with advice for either kind of client', async () => {
      await expectInvalidClient(await token({ grant_type: 'refresh_token', refresh_token: 'x', client_id: seed.publicClient.id, client_secret: 'abc' }),
        /a confidential client authenticates with HTTP Basic \(client_secret_basic\), a public client sends only client_id/);
    });

    it('refuses a public client sending a secret', async () => {
      await expectInvalidClient(await token({ grant_type: 'refresh_token', refresh_token: 'x' }, { authorization: basic(seed.publicClient.id, 'anything') }), /public client/);
    });

    it('refuses a confidential client authenticating with client_id alone', async () => {
      await expectInvalidClient(await token({ grant_type: 'refresh_token', refresh_token: 'x', client_id: client.id }), /HTTP Basic/);
    });

    it('refuses a request with no client authentication at all', async () => {
      await expectInvalidClient(await token({ grant_type: 'refresh_token', refresh_token: 'x' }), /required/);
    });

    it('refuses a Bearer authorization header', async () => {
      await expectInvalidClient(await token({ grant_type: 'refresh_token', refresh_token: 'x' }, { authorization: 'Bearer abc' }), /Basic scheme/);
    });

    it('accepts percent-encoded and raw Basic credentials alike (RFC 6749 §2.3.1)', async () => {
      // The client_id (a UUID) contains "-", which some clients percent-encode as %2D and others send raw.
      assert.match(client.id, /-/);
      const encodedAll = `Basic ${Buffer.from(`${client.id.replace(/-/g, '%2D')}:${client.secret.replace(/-/g, '%2D').replace(/_/g, '%5F')}`).toString('base64')}`;
      // RFC 7235 §2.1: one or more spaces after the scheme, the scheme in any case.
      const spaced = basic(client.id, client.secret).replace(/^Basic /, 'basic   ');
      for (const authorization of [basic(client.id, client.secret, false), basic(client.id, client.secret, true), encodedAll, spaced]) {
        const { code, codeVerifier } = await freshCode();
        assert.equal((await exchange(code, codeVerifier, { authorization })).status, 200);
      }
    });

    it('refuses a resource server credential at the token endpoint', async () => {
      const response = await token({ grant_type: 'refresh_token', refresh_token: 'x' }, { authorization: basic(seed.resourceServer.id, seed.resourceServer.secret) });
      assert.equal(response.json.error, 'unauthorized_client');
    });

    it('refuses a suspended client (SPEC decision 13)', async () => {
      const { client: pending, clientSecret } = await registerClient(
        { storage: server.storage, environment: 'production', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
        { clientName: 'Waiting App', clientType: 'confidential', redirectUris: ['https://waiting.example/cb'], scopes: ['users:read'] },
      );
      await expectInvalidClient(await token({ grant_type: 'refresh_token', refresh_token: 'x' }, { authorization: basic(pending.clientId, clientSecret!) }), /pending/);
    });

    it('lets a public client authenticate with client_id only (method none)', async () => {
      const { code, codeVerifier } = await freshCode({ clientId: seed.publicClient.id, redirectUri: seed.publicClient.redirectUri });
      const response = await token({ grant_type: 'authorization_code', code, redirect_uri: seed.publicClient.redirectUri, code_verifier: codeVerifier, client_id: seed.publicClient.id });
      assert.equal(response.status, 200);
      assert.match(response.json.refresh_token, /^grt_/);
    });
  });

  describe('authorization codes (RFC 6749 §4.1.2, §4.1.3; SPEC decision 6)', () => {
    it('refuses a reused code with invalid_grant and revokes the tokens from its first use', async () => {
      const { code, codeVerifier } = await freshCode();
      const first = await exchange(code, codeVerifier);
      assert.equal(first.status, 200);
      assert.equal((await introspect(server, first.json.access_token)).active, true);
      const second = await exchange(code, codeVerifier);
      assert.equal(second.status, 400);
      assert.equal(second.json.error, 'invalid_grant');
      assert.equal(second.json.access_token, undefined);
      assert.equal((await introspect(server, first.json.access_token)).active, false, 'access token from the first use revoked');
      const refresh = await token({ grant_type: 'refresh_token', refresh_token: first.json.refresh_token }, { authorization: confidentialAuth() });
      assert.equal(refresh.json.error, 'invalid_grant', 'refresh token from the first use revoked');
      const events = await server.storage.audit.list();
      assert.ok(events.some((event) => event.type === 'authorization_code.replay_detected'));
    });

    it('refuses an expired code (injected clock)', async () => {
      const { code, codeVerifier } = await freshCode();
      server.clock.advanceSeconds(61);
      const before = await tokensIssued();
      const response = await exchange(code, codeVerifier);
      assert.equal(response.status, 400);
      assert.equal(response.json.error, 'invalid_grant');
      assert.match(response.json.error_description, /expired/);
      assert.equal(await tokensIssued(), before);
    });

    it('accepts a code just before its 60-second lifetime ends', async () => {
      const { code, codeVerifier } = await freshCode();
      server.clock.advanceSeconds(59);
      assert.equal((await exchange(code, codeVerifier)).status, 200);
    });

    it("refuses another client's code", async () => {
      const { client: other, clientSecret } = await registerClient(
        { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
        { clientName: 'Other App', clientType: 'confidential', redirectUris: [client.redirectUri], scopes: ['users:read'] },
      );
      const { code, codeVerifier } = await freshCode();
      const before = await tokensIssued();
      const response = await exchange(code, codeVerifier, { authorization: basic(other.clientId, clientSecret!) });
      assert.equal(response.status, 400);
      assert.equal(response.json.error, 'invalid_grant');
      assert.equal(await tokensIssued(), before);
    });

    it('refuses a different redirect_uri, and a missing one', async () => {
      const { code, codeVerifier } = await freshCode();
      const different = await exchange(code, codeVerifier, { authorization: confidentialAuth() }, { redirect_uri: 'http://localhost:8080/other' });
      assert.equal(different.json.error, 'invalid_grant');
      const { code: code2, codeVerifier: verifier2 } = await freshCode();
      const missing = await token({ grant_type: 'authorization_code', code: code2, code_verifier: verifier2 }, { authorization: confidentialAuth() });
      assert.equal(missing.json.error, 'invalid_request');
    });

    it('refuses a forged code without touching storage', async () => {
      const forged = `gac_${'A'.repeat(43)}.${'B'.repeat(43)}`;
      const response = await exchange(forged, pkcePair().codeVerifier);
      assert.equal(response.json.error, 'invalid_grant');
    });
  });

  describe('PKCE at the token endpoint (RFC 7636 §4.6; SPEC decision 2)', () => {
    it('refuses a wrong verifier with invalid_grant and issues nothing', async () => {
      const { code } = await freshCode();
      const before = await tokensIssued();
      const response = await exchange(code, pkcePair().codeVerifier);
      assert.equal(response.json.error, 'invalid_grant');
      assert.equal(await tokensIssued(), before);
    });

    it('a refused exchange (wrong verifier, missing verifier, wrong redirect_uri) changes nothing: the right request still redeems the code (issue 12)', async () => {
      const { code, codeVerifier } = await freshCode();
      const before = await tokensIssued();
      assert.equal((await exchange(code, pkcePair().codeVerifier)).json.error, 'invalid_grant');
      assert.equal((await exchange(code, undefined)).json.error, 'invalid_grant');
      const elsewhere = await exchange(code, codeVerifier, { authorization: confidentialAuth() }, { redirect_uri: 'http://localhost:8080/other' });
      assert.equal(elsewhere.json.error, 'invalid_grant');
      assert.equal(await tokensIssued(), before);
      const redeemed = await exchange(code, codeVerifier);
      assert.equal(redeemed.status, 200, redeemed.text);
      assert.equal((await exchange(code, codeVerifier)).json.error, 'invalid_grant', 'then single use (RFC 6749 §4.1.2)');
    });

    it('of two concurrent redemptions of one code at most one gets tokens, the other invalid_grant, and the tokens issued are revoked (RFC 6749 §4.1.2)', async () => {
      const { code, codeVerifier } = await freshCode();
      const answers = await Promise.all([exchange(code, codeVerifier), exchange(code, codeVerifier)]);
      const issued = answers.filter((answer) => answer.status === 200);
      assert.ok(issued.length <= 1, answers.map((answer) => answer.text).join('\n'));
      for (const answer of answers) if (answer.status !== 200) assert.equal(answer.json.error, 'invalid_grant');
      for (const answer of issued) assert.equal((await introspect(server, answer.json.access_token)).active, false, 'the replay revoked them');
    });

    it('refuses a missing verifier when the code has a challenge', async () => {
      const { code } = await freshCode();
      assert.equal((await exchange(code, undefined)).json.error, 'invalid_grant');
    });

    for (const [label, verifier] of [['too short (42)', 'a'.repeat(42)], ['too long (129)', 'a'.repeat(129)], ['bad characters', `${'a'.repeat(42)}+/`]] as const) {
      it(`refuses a verifier ${label} with invalid_request and keeps the code usable`, async () => {
        const { code, codeVerifier } = await freshCode();
        const response = await exchange(code, verifier);
        assert.equal(response.status, 400);
        assert.equal(response.json.error, 'invalid_request');
        assert.equal((await exchange(code, codeVerifier)).status, 200);
      });
    }

    it('refuses a verifier for a code issued without a challenge (downgrade, RFC 9700 §2.1.1)', async () => {
      const { client: exempt, clientSecret } = await registerClient(
        { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
        { clientName: 'Legacy App', clientType: 'confidential', redirectUris: ['https://legacy.example/cb'], scopes: ['users:read'], pkceRequired: false },
      );
      const auth = { authorization: basic(exempt.clientId, clientSecret!) };
      const { redirect } = await authorize(server, { clientId: exempt.clientId, redirectUri: 'https://legacy.example/cb', scope: 'users:read', codeChallenge: null, extra: { prompt: 'consent' } });
      const code = redirect.searchParams.get('code')!;
      const before = await tokensIssued();
      const downgraded = await token({ grant_type: 'authorization_code', code, redirect_uri: 'https://legacy.example/cb', code_verifier: pkcePair().codeVerifier }, auth);
      assert.equal(downgraded.json.error, 'invalid_grant');
      assert.equal(await tokensIssued(), before);
      // Without a challenge the exempt client may still redeem a fresh code without a verifier.
      const { redirect: again } = await authorize(server, { clientId: exempt.clientId, redirectUri: 'https://legacy.example/cb', scope: 'users:read', codeChallenge: null, extra: { prompt: 'consent' } });
      const ok = await token({ grant_type: 'authorization_code', code: again.searchParams.get('code')!, redirect_uri: 'https://legacy.example/cb' }, auth);
      assert.equal(ok.status, 200);
    });
  });

  describe('one active grant per client and subject (SPEC decision 11)', () => {
    it('a new authorization supersedes and revokes the previous grant', async () => {
      const first = await obtainTokens(server, { extra: { prompt: 'consent' } });
      const second = await obtainTokens(server, { extra: { prompt: 'consent' } });
      assert.equal((await introspect(server, first.tokens.access_token)).active, false);
      assert.equal((await introspect(server, second.tokens.access_token)).active, true);
    });
  });
});

describe('code replay by another client (review fix)', () => {
  it("does not let another client revoke a grant by replaying its used code, but the code's own client replaying it does", async () => {
    const server = await startTestServer();
    try {
      const { redirect, codeVerifier } = await authorize(server);
      const code = redirect.searchParams.get('code')!;
      const form = { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: codeVerifier };
      const first = await postForm(`${server.url}/oauth/token`, form, { authorization: confidentialAuth() });
      assert.equal(first.status, 200);
      // A public client (no secret needed) replays the victim's used code.
      const foreign = await postForm(`${server.url}/oauth/token`, { ...form, client_id: seed.publicClient.id });
      assert.equal(foreign.json.error, 'invalid_grant');
      assert.equal((await introspect(server, first.json.access_token)).active, true, 'the victim keeps its grant');
      const own = await postForm(`${server.url}/oauth/token`, form, { authorization: confidentialAuth() });
      assert.equal(own.json.error, 'invalid_grant');
      assert.equal((await introspect(server, first.json.access_token)).active, false, 'a replay by the same client revokes (RFC 6749 §4.1.2)');
    } finally {
      await server.close();
    }
  });
});

/** The storage-touching rules below run on both backends (issue 11: "each item has a test on both backends"). */
const backends: { name: string; skip: string | false; options: () => Promise<{ storage?: Storage }> }[] = [
  { name: 'SQLite', skip: false, options: async () => ({}) },
  { name: 'PostgreSQL', skip: await postgresSkipReason(), options: async () => ({ storage: await createTestPostgresStorage() }) },
];

for (const backend of backends) {
  describe(`codes redeem only if nothing newer happened to their client and subject (issue 11 item 7, SPEC decision 6) on ${backend.name}`, { skip: backend.skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(await backend.options());
    });
    after(() => server.close());

    const company = seed.companies[0].id;
    const freshCode = async () => {
      const { redirect, codeVerifier } = await authorize(server, { extra: { prompt: 'consent' }, subject: `urn:gatehouse:company:${company}` });
      return { code: redirect.searchParams.get('code')!, codeVerifier };
    };
    const exchange = (code: string, codeVerifier: string) => postForm(`${server.url}/oauth/token`, {
      grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: codeVerifier,
    }, { authorization: confidentialAuth() });
    const tokensIssued = async () => (await server.storage.audit.list({ limit: 1000 })).filter((event) => event.type === 'token.issued').length;

    it('refuses a code issued before the grant was revoked (an administrator, a disconnect) and creates no grant', async () => {
      const connected = await freshCode();
      assert.equal((await exchange(connected.code, connected.codeVerifier)).status, 200);
      const pending = await freshCode();
      server.clock.advanceSeconds(1);
      const grant = await server.storage.grants.findActive(client.id, 'company', company);
      assert.ok(grant && (await server.storage.grants.revoke(grant.grantId, server.clock.nowSeconds(), 'user_revoked')));
      const before = await tokensIssued();
      const late = await exchange(pending.code, pending.codeVerifier);
      assert.equal(late.status, 400);
      assert.equal(late.json.error, 'invalid_grant');
      assert.equal(late.json.access_token, undefined);
      assert.equal(await tokensIssued(), before);
      assert.equal(await server.storage.grants.findActive(client.id, 'company', company), undefined, 'no new active grant');
      // A code issued after the revocation redeems.
      server.clock.advanceSeconds(1);
      const after = await freshCode();
      assert.equal((await exchange(after.code, after.codeVerifier)).status, 200);
    });

    it('refuses an older code redeemed after a newer one, and the newer grant stays active', async () => {
      const older = await freshCode();
      server.clock.advanceSeconds(1);
      const newer = await freshCode();
      server.clock.advanceSeconds(1);
      const newerTokens = await exchange(newer.code, newer.codeVerifier);
      assert.equal(newerTokens.status, 200);
      const before = await tokensIssued();
      const stale = await exchange(older.code, older.codeVerifier);
      assert.equal(stale.status, 400);
      assert.equal(stale.json.error, 'invalid_grant');
      assert.equal(await tokensIssued(), before);
      assert.equal((await introspect(server, newerTokens.json.access_token)).active, true, 'not superseded');
      const refresh = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: newerTokens.json.refresh_token }, { authorization: confidentialAuth() });
      assert.equal(refresh.status, 200, 'the integration in use keeps working');
    });
  });

  describe(`the code's checks before it is redeemed in one storage operation (issue 12: grants.exchangeReadyCode) on ${backend.name}`, { skip: backend.skip }, () => {
    it('each refusal has its own description, issues nothing and leaves the code; the right request then gets the code\'s scope and subject', async () => {
      const server = await startTestServer(await backend.options());
      try {
        const { redirect, codeVerifier } = await authorize(server, { extra: { prompt: 'consent' }, scope: 'users:read' });
        const code = redirect.searchParams.get('code')!;
        const form = { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: codeVerifier };
        const issued = async () => (await server.storage.audit.list({ limit: 1000 })).filter((event) => event.type === 'token.issued');
        const before = (await issued()).length;
        const refusals: Array<[Record<string, string>, string]> = [
          [{ ...form, redirect_uri: 'http://localhost:8080/other' }, 'redirect_uri does not match the authorization request'],
          [{ ...form, code_verifier: pkcePair().codeVerifier }, 'code_verifier does not match the code_challenge'],
          [{ grant_type: 'authorization_code', code, redirect_uri: client.redirectUri }, 'code_verifier is required: the authorization request had a code_challenge'],
        ];
        for (const [refused, description] of refusals) {
          const response = await postForm(`${server.url}/oauth/token`, refused, { authorization: confidentialAuth() });
          assert.equal(response.status, 400);
          assert.equal(response.json.error, 'invalid_grant');
          assert.equal(response.json.error_description, description);
          assert.equal(response.json.access_token, undefined);
        }
        assert.equal((await issued()).length, before);
        const redeemed = await postForm(`${server.url}/oauth/token`, form, { authorization: confidentialAuth() });
        assert.equal(redeemed.status, 200, redeemed.text);
        assert.equal(redeemed.json.scope, 'users:read');
        assert.equal(redeemed.json.token_type, 'Bearer');
        const introspection = await introspect(server, redeemed.json.access_token);
        assert.equal(introspection.active, true);
        assert.equal(introspection.scope, 'users:read');
        const events = await issued();
        assert.equal(events.length, before + 1);
        assert.equal(events.at(-1)!.details?.scope, 'users:read', 'the audit event names the code\'s scope');
        assert.equal(events.at(-1)!.details?.grant_type, 'authorization_code');
      } finally {
        await server.close();
      }
    });
  });

  describe(`replay revocation only after proof of the client (issue 11 item 8, SPEC decision 6) on ${backend.name}`, { skip: backend.skip }, () => {
    it('a replayed public-client code with a wrong verifier, a wrong redirect_uri or no verifier changes nothing; with both right it revokes', async () => {
      const server = await startTestServer(await backend.options());
      try {
        const publicClient = seed.publicClient;
        const { redirect, codeVerifier } = await authorize(server, { clientId: publicClient.id, redirectUri: publicClient.redirectUri, scope: 'users:read' });
        const code = redirect.searchParams.get('code')!;
        const form = { grant_type: 'authorization_code', code, redirect_uri: publicClient.redirectUri, code_verifier: codeVerifier, client_id: publicClient.id };
        const first = await postForm(`${server.url}/oauth/token`, form);
        assert.equal(first.status, 200);
        const unproven: Record<string, string>[] = [
          { ...form, code_verifier: pkcePair().codeVerifier },
          { ...form, redirect_uri: 'http://localhost:8080/other' },
          { grant_type: 'authorization_code', code, redirect_uri: publicClient.redirectUri, client_id: publicClient.id },
        ];
        for (const replay of unproven) {
          const response = await postForm(`${server.url}/oauth/token`, replay);
          assert.equal(response.status, 400);
          // Answered as an unknown code: the answer does not confirm that the code is real.
          assert.deepEqual([response.json.error, response.json.error_description], ['invalid_grant', 'authorization code is invalid or expired']);
          assert.equal((await introspect(server, first.json.access_token)).active, true, 'the grant is not revoked');
        }
        const events = await server.storage.audit.list({ limit: 1000 });
        assert.equal(events.some((event) => event.type === 'authorization_code.replay_detected'), false);
        const proven = await postForm(`${server.url}/oauth/token`, form);
        assert.deepEqual([proven.json.error, proven.json.error_description], ['invalid_grant', 'authorization code was already used']);
        assert.equal((await introspect(server, first.json.access_token)).active, false, 'a proven replay revokes (RFC 6749 §4.1.2)');
      } finally {
        await server.close();
      }
    });
  });

  describe(`one answer for an unknown, expired or another client's code, which stays unconsumed (issue 11 item 19) on ${backend.name}`, { skip: backend.skip }, () => {
    it('answers the same invalid_grant body, and the legitimate client still redeems the code another client presented', async () => {
      const server = await startTestServer(await backend.options());
      try {
        const { client: other, clientSecret } = await registerClient(
          { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
          { clientName: 'Other App', clientType: 'confidential', redirectUris: [client.redirectUri], scopes: ['users:read'] },
        );
        const codeOf = async () => {
          const { redirect, codeVerifier } = await authorize(server, { extra: { prompt: 'consent' } });
          return { code: redirect.searchParams.get('code')!, codeVerifier };
        };
        const exchange = (code: string, codeVerifier: string, authorization = confidentialAuth()) => postForm(`${server.url}/oauth/token`, {
          grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: codeVerifier,
        }, { authorization });
        const expected = { error: 'invalid_grant', error_description: 'authorization code is invalid or expired' };
        // Issue 14: each answer carries its own request_id; everything else is the same.
        const withoutRequestId = ({ request_id: _requestId, ...body }: Record<string, unknown>) => body;

        const expiring = await codeOf();
        const presented = await codeOf();
        const foreign = await exchange(presented.code, presented.codeVerifier, basic(other.clientId, clientSecret!));
        assert.equal(foreign.status, 400);
        assert.deepEqual(withoutRequestId(foreign.json), expected);
        assert.equal((await exchange(presented.code, presented.codeVerifier)).status, 200, 'not consumed by the other client');

        server.clock.advanceSeconds(61);
        const expired = await exchange(expiring.code, expiring.codeVerifier);
        assert.deepEqual(withoutRequestId(expired.json), expected);

        // Unknown: a well-formed code of this server whose row is gone (expired past retention and cleaned up).
        const gone = await codeOf();
        server.clock.advanceSeconds(86_400 + 61);
        await server.storage.cleanup.deleteExpired(server.clock.nowSeconds(), 100);
        const unknown = await exchange(gone.code, gone.codeVerifier);
        assert.deepEqual(withoutRequestId(unknown.json), expected);
        const forged = await exchange(`gac_${'A'.repeat(43)}.${'B'.repeat(43)}`, gone.codeVerifier);
        assert.deepEqual(withoutRequestId(forged.json), expected);
      } finally {
        await server.close();
      }
    });
  });
}
