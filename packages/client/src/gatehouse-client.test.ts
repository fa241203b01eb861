/**
 * `GatehouseClient` against a real listening Gatehouse (in-memory SQLite, dev seed, injected clock) and
 * the real sample platform API: discovery, the authorization request, callback checks, code exchange,
 * refresh, API calls, revocation, re-authorization.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { RunningPlatformApi } from '@gatehouse/platform-api';
import { basic, introspect, postForm, seed, type TestServer } from '../../authorization-server/src/testing/harness.ts';
import { generateEncryptionKey } from './encryption.ts';
import { AuthorizationServerError, CallbackValidationError, ConfigurationError, ReauthorizationRequiredError } from './errors.ts';
import { createGatehouseClient, type GatehouseClientOptions } from './gatehouse-client.ts';
import type { LogEntry } from './logging.ts';
import { createMemoryTokenStore } from './stores/memory.ts';
import { startGatehouse, type GatehouseFixture } from './testing/gatehouse-fixture.ts';
import { completeAuthorizationAsUser } from './testing/gatehouse-flow.ts';

/** HTTP Basic credentials, form-urlencoded before base64 (RFC 6749 §2.3.1). */
function decodeBasic(header: string | null): string[] {
  assert.match(header ?? '', /^Basic [A-Za-z0-9+/=]+$/);
  return Buffer.from(header!.slice('Basic '.length), 'base64').toString('utf8').split(':').map((part) => decodeURIComponent(part.replace(/\+/g, ' ')));
}

interface RecordedRequest {
  url: string;
  method: string;
  headers: Headers;
  body: string;
}

describe('GatehouseClient against a running Gatehouse', () => {
  let gatehouse: GatehouseFixture;
  let server: TestServer;
  let api: RunningPlatformApi;
  let clientId: string;
  let clientSecret: string;
  let redirectUri: string;
  const tokenRequests = () => gatehouse.tokenRequests();
  const requests: RecordedRequest[] = [];
  const logs: LogEntry[] = [];
  const danish = `urn:gatehouse:company:${seed.companies[0].id}`;
  const swedish = `urn:gatehouse:company:${seed.companies[1].id}`;

  before(async () => {
    // Cache TTL 0: the API asks Gatehouse every time, so a revoked token is refused at once.
    gatehouse = await startGatehouse({ clientName: 'Acme Books', introspectionCacheTtlSeconds: 0 });
    ({ server, api, clientId, clientSecret, redirectUri } = gatehouse);
  });

  after(async () => {
    await gatehouse?.close();
  });

  const recordingFetch: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    requests.push({ url: request.url, method: request.method, headers: new Headers(request.headers), body: init?.body === undefined || init.body === null ? '' : String(init.body) });
    return fetch(input, init);
  };

  const newClient = (overrides: Partial<GatehouseClientOptions> = {}) => createGatehouseClient({
    issuer: server.issuer, clientId, clientSecret, redirectUri, scope: 'users:read vendors:read', apiUrl: api.url,
    store: createMemoryTokenStore(), encryptionKeys: [generateEncryptionKey('k1')], clock: server.clock,
    logger: (entry) => logs.push(entry), fetch: recordingFetch, ...overrides,
  });

  async function connect(client = newClient(), subject = swedish) {
    const { url, transaction } = await client.authorizationUrl();
    const callback = await completeAuthorizationAsUser(url, { subject });
    return { client, transaction, callback, ...(await client.handleCallback(callback, transaction)) };
  }

  it('sends an authorization request with PKCE S256, a random state and the exact redirect URI (RFC 7636 §4.3)', async () => {
    const { url, transaction } = await newClient().authorizationUrl({ subjectUrn: danish, prompt: 'consent' });
    assert.equal(url.origin + url.pathname, `${server.issuer}/oauth/authorize`);
    const parameters = Object.fromEntries(url.searchParams);
    assert.deepEqual(parameters, {
      response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: 'users:read vendors:read',
      state: transaction.state, code_challenge: createHash('sha256').update(transaction.codeVerifier).digest('base64url'),
      code_challenge_method: 'S256', urn_gatehouse_params_oauth_subject: danish, prompt: 'consent',
    });
    assert.match(transaction.state, /^[\w-]{43}$/);
    assert.match(transaction.codeVerifier, /^[\w-]{43}$/);
    assert.equal(transaction.redirectUri, redirectUri);
  });

  it('connects a confidential client: checks state and iss, exchanges the code with HTTP Basic and the verifier, returns subject, scopes and tokens', async () => {
    const { connection, tokens, callback } = await connect();
    assert.equal(callback.searchParams.get('iss'), server.issuer);
    assert.equal(connection.subjectUrn, swedish);
    assert.equal(connection.subjectType, 'company');
    assert.equal(connection.subjectId, seed.companies[1].id);
    assert.deepEqual(connection.scope, ['users:read', 'vendors:read']);
    assert.equal(connection.status, 'active');
    assert.equal(connection.accessTokenExpiresAt, server.clock.nowSeconds() + 900);
    assert.equal((await introspect(server, tokens.accessToken)).active, true);

    const exchange = requests.findLast((request) => request.url === `${server.issuer}/oauth/token`)!;
    assert.deepEqual(decodeBasic(exchange.headers.get('authorization')), [clientId, clientSecret]);
    const form = new URLSearchParams(exchange.body);
    assert.equal(form.get('grant_type'), 'authorization_code');
    assert.equal(form.get('redirect_uri'), redirectUri);
    assert.match(form.get('code_verifier') ?? '', /^[\w-]{43}$/);
    assert.equal(form.has('client_secret'), false, 'never client_secret_post (SPEC decision 1)');

    // The tokens print as fingerprints only.
    for (const printed of [inspect(tokens), JSON.stringify(tokens), String(tokens), JSON.stringify({ ...tokens })]) {
      assert.ok(!printed.includes(tokens.accessToken) && !printed.includes(tokens.refreshToken), printed);
    }
  });

  it('refuses a callback with a foreign state (CSRF, RFC 6749 §10.12) or iss (mix-up, RFC 9207) without redeeming its code', async () => {
    const client = newClient();
    const { url, transaction } = await client.authorizationUrl();
    const callback = await completeAuthorizationAsUser(url);
    const before = tokenRequests();
    const forgedState = new URL(callback);
    forgedState.searchParams.set('state', 'attacker-state');
    await assert.rejects(client.handleCallback(forgedState, transaction), CallbackValidationError);
    const forgedIssuer = new URL(callback);
    forgedIssuer.searchParams.set('iss', 'https://evil.example');
    await assert.rejects(client.handleCallback(forgedIssuer, transaction), CallbackValidationError);
    const noIssuer = new URL(callback);
    noIssuer.searchParams.delete('iss');
    await assert.rejects(client.handleCallback(noIssuer, transaction), CallbackValidationError);
    const elsewhere = new URL(callback);
    elsewhere.pathname = '/other';
    await assert.rejects(client.handleCallback(elsewhere, transaction), CallbackValidationError);
    assert.equal(tokenRequests(), before, 'nothing was sent to the token endpoint');
    const { connection } = await client.handleCallback(callback, transaction);
    assert.equal(connection.status, 'active');
  });

  it('refuses a transaction used before (a reloaded callback page) and a repeated parameter without sending the code, and the connection lives on', async () => {
    const { client, transaction, callback, connection, tokens } = await connect();
    const before = tokenRequests();
    await assert.rejects(client.handleCallback(callback, transaction), (error: unknown) => error instanceof CallbackValidationError && /already used/.test(error.message));
    assert.equal(tokenRequests(), before, 'the code was not sent again (the server would revoke its tokens, RFC 6749 §4.1.2)');
    assert.equal((await client.getConnection(connection.connectionId))?.status, 'active');
    assert.equal((await introspect(server, tokens.accessToken)).active, true);

    const fresh = newClient();
    const started = await fresh.authorizationUrl();
    const twice = await completeAuthorizationAsUser(started.url);
    twice.searchParams.append('code', 'abc');
    await assert.rejects(fresh.handleCallback(twice, started.transaction), (error: unknown) => error instanceof CallbackValidationError && /"code" more than once/.test(error.message));
    assert.equal(tokenRequests(), before);
  });

  it('refuses an expired transaction', async () => {
    const client = newClient({ transactionLifetimeSeconds: 30 });
    const { url, transaction } = await client.authorizationUrl();
    const callback = await completeAuthorizationAsUser(url);
    server.clock.advanceSeconds(31);
    await assert.rejects(client.handleCallback(callback, transaction), /longer than 30 s/);
  });

  it("reports the user's denial as AuthorizationServerError access_denied (RFC 6749 §4.1.2.1)", async () => {
    const client = newClient();
    const { url, transaction } = await client.authorizationUrl();
    const callback = await completeAuthorizationAsUser(url, { decision: 'deny' });
    await assert.rejects(client.handleCallback(callback, transaction), (error: unknown) =>
      error instanceof AuthorizationServerError && error.endpoint === 'authorization' && error.error === 'access_denied');
  });

  it('connects a public client with token_endpoint_auth_method none: client_id in the body, no secret, no Basic', async () => {
    const client = newClient({ clientId: seed.publicClient.id, clientSecret: undefined, redirectUri: seed.publicClient.redirectUri, scope: 'users:read' });
    const { connection } = await connect(client, danish);
    assert.equal(connection.subjectUrn, danish);
    const exchange = requests.findLast((request) => request.url === `${server.issuer}/oauth/token`)!;
    assert.equal(exchange.headers.get('authorization'), null);
    const form = new URLSearchParams(exchange.body);
    assert.equal(form.get('client_id'), seed.publicClient.id);
    assert.equal(form.has('client_secret'), false);
    assert.ok(form.has('code_verifier'));
  });

  it('with dpop: false calls the API with Authorization: Bearer only, and refreshes at Gatehouse (both tokens rotate) before expiry', async () => {
    const { client, connection, tokens } = await connect(newClient({ dpop: false }));
    const first = await client.fetch(connection.connectionId, '/v1/introspect');
    assert.equal(first.status, 200);
    assert.equal((await first.json()).data.subjectURN, swedish);

    const before = tokenRequests();
    server.clock.advanceSeconds(900 - 30);
    const users = await client.fetch(connection.connectionId, `${api.url}/v1/users?limit=2`);
    assert.equal(users.status, 200);
    assert.equal((await users.json()).data.length, 2);
    assert.equal(tokenRequests(), before + 1, 'one refresh');
    assert.equal((await introspect(server, tokens.accessToken)).active, false, 'the old access token is superseded');
    const refreshed = await client.getConnection(connection.connectionId);
    assert.equal(refreshed?.accessTokenExpiresAt, server.clock.nowSeconds() + 900);

    const apiCalls = requests.filter((request) => request.url.startsWith(api.url));
    assert.equal(apiCalls.length, 2);
    for (const call of apiCalls) {
      assert.match(call.headers.get('authorization') ?? '', /^Bearer \S+$/);
      const token = call.headers.get('authorization')!.slice('Bearer '.length);
      assert.ok(!call.url.includes(token) && !call.body.includes(token), 'the token is only in the header');
    }
  });

  it('by default binds the tokens to a key of the connection (RFC 9449): API calls carry Authorization: DPoP and a proof; the key is stored sealed, so a new process uses it without a refresh', async () => {
    const store = createMemoryTokenStore();
    const encryptionKeys = [generateEncryptionKey('k1')];
    const { client, connection, tokens } = await connect(newClient({ store, encryptionKeys }));
    const exchange = requests.findLast((request) => request.url === `${server.issuer}/oauth/token`)!;
    assert.equal(JSON.parse(Buffer.from(exchange.headers.get('dpop')!.split('.')[0]!, 'base64url').toString()).alg, 'ES256', 'ES256 preferred');
    const introspected = await introspect(server, tokens.accessToken);
    assert.equal(introspected.token_type, 'DPoP');
    assert.ok((introspected.cnf as { jkt?: string } | undefined)?.jkt);
    const response = await client.fetch(connection.connectionId, '/v1/introspect');
    assert.equal(response.status, 200);
    const call = requests.filter((request) => request.url === `${api.url}/v1/introspect`).at(-1)!;
    assert.equal(call.headers.get('authorization'), `DPoP ${tokens.accessToken}`);
    assert.match(call.headers.get('dpop') ?? '', /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
    // The same token without its proof is refused by the API (RFC 9449 §7.1).
    const asBearer = await fetch(`${api.url}/v1/introspect`, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
    assert.equal(asBearer.status, 401);
    // The key is stored in the connection's row, sealed like the tokens (no JWK member readable).
    const stored = (await store.get(connection.connectionId))!.dpopKeyCiphertext!;
    assert.match(stored, /^v1\.k1\./);
    assert.ok(!stored.includes('"d"') && !stored.includes('P-256'));
    // Another process with the same store and keys: the same key, so no refresh is needed.
    const before = tokenRequests();
    const restarted = newClient({ store, encryptionKeys });
    const again = await restarted.fetch(connection.connectionId, '/v1/introspect');
    assert.equal(again.status, 200);
    assert.equal(tokenRequests(), before, 'no refresh');
    const proofs = requests.filter((request) => request.url === `${api.url}/v1/introspect`).slice(-2).map((request) => request.headers.get('dpop')!);
    const jwkOf = (proof: string) => JSON.parse(Buffer.from(proof.split('.')[0]!, 'base64url').toString()).jwk;
    assert.deepEqual(jwkOf(proofs[1]!), jwkOf(proofs[0]!), 'the same key after the restart');
  });

  it('re-seals the stored DPoP key under the current encryption key at the next refresh, like the tokens (key rotation)', async () => {
    const store = createMemoryTokenStore();
    const [k1, k2] = [generateEncryptionKey('k1'), generateEncryptionKey('k2')];
    const { connection } = await connect(newClient({ store, encryptionKeys: [k1] }));
    const rotated = newClient({ store, encryptionKeys: [k2, k1] });
    await rotated.refresh(connection.connectionId);
    assert.match((await store.get(connection.connectionId))!.dpopKeyCiphertext!, /^v1\.k2\./);
    // The old encryption key can go: the connection still calls the API with its key.
    const withoutK1 = newClient({ store, encryptionKeys: [k2] });
    const before = tokenRequests();
    assert.equal((await withoutK1.fetch(connection.connectionId, '/v1/introspect')).status, 200);
    assert.equal(tokenRequests(), before);
  });

  it("restarts a public client whose refresh token is bound to the connection's stored key, and refreshes with it (RFC 9449 §5)", async () => {
    const store = createMemoryTokenStore();
    const encryptionKeys = [generateEncryptionKey('k1')];
    const publicOptions = { clientId: seed.publicClient.id, clientSecret: undefined, redirectUri: seed.publicClient.redirectUri, scope: 'users:read', store, encryptionKeys };
    const { connection, tokens } = await connect(newClient(publicOptions), danish);
    const jkt = ((await introspect(server, tokens.accessToken)).cnf as { jkt?: string } | undefined)?.jkt;
    assert.ok(jkt);
    // The refresh token is bound: without a proof Gatehouse refuses it (and changes nothing).
    const unproven = await postForm(`${server.issuer}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refreshToken, client_id: seed.publicClient.id });
    assert.equal(unproven.json.error, 'invalid_grant');

    server.clock.advanceSeconds(1000); // past expires_in
    const before = tokenRequests();
    const restarted = newClient(publicOptions);
    const response = await restarted.fetch(connection.connectionId, '/v1/introspect');
    assert.equal(response.status, 200);
    assert.equal(tokenRequests(), before + 1, 'one refresh, with the stored key');
    const current = await restarted.getAccessToken(connection.connectionId);
    assert.notEqual(current, tokens.accessToken);
    assert.equal(((await introspect(server, current)).cnf as { jkt?: string } | undefined)?.jkt, jkt, 'still bound to the same key');
    assert.equal((await restarted.getConnection(connection.connectionId))?.status, 'active');
  });

  it('refreshes once and repeats the request when the API answers 401 invalid_token (a revoked access token)', async () => {
    const { client, connection } = await connect();
    const revoked = await client.getAccessToken(connection.connectionId);
    const revocation = await postForm(`${server.issuer}/oauth/revoke`, { token: revoked, token_type_hint: 'access_token' }, { authorization: basic(clientId, clientSecret) });
    assert.equal(revocation.status, 200);
    const before = tokenRequests();
    const response = await client.fetch(connection.connectionId, '/v1/introspect');
    assert.equal(response.status, 200);
    assert.equal(tokenRequests(), before + 1);
    const authorizations = requests.filter((request) => request.url === `${api.url}/v1/introspect`).slice(-2).map((request) => request.headers.get('authorization'));
    assert.equal(authorizations[0], `DPoP ${revoked}`);
    assert.match(authorizations[1] ?? '', /^DPoP \S+$/);
    assert.notEqual(authorizations[1], `DPoP ${revoked}`);
  });

  it('returns other API errors as they are (403 insufficient_scope is not retried)', async () => {
    const { client, connection } = await connect(newClient({ scope: 'users:read' }));
    const before = tokenRequests();
    const response = await client.fetch(connection.connectionId, '/v1/vendors');
    assert.equal(response.status, 403);
    assert.match(response.headers.get('www-authenticate') ?? '', /insufficient_scope/);
    assert.equal(tokenRequests(), before);
  });

  it('sends tokens only to the API origin, never elsewhere, and refuses a caller-set Authorization header', async () => {
    const { client, connection } = await connect();
    const before = requests.length;
    await assert.rejects(client.fetch(connection.connectionId, 'https://attacker.example/v1/users'), ConfigurationError);
    await assert.rejects(client.fetch(connection.connectionId, `${server.issuer}/v1/users`), ConfigurationError);
    await assert.rejects(client.fetch(connection.connectionId, '/v1/users', { headers: { authorization: 'Bearer mine' } }), ConfigurationError);
    assert.equal(requests.length, before);
  });

  it('revoke calls /oauth/revoke, which revokes the grant at Gatehouse, and deletes the connection', async () => {
    const { client, connection, tokens } = await connect();
    const revokedEvents: string[] = [];
    client.events.on('revoked', (event) => revokedEvents.push(event.connectionId));
    await client.revoke(connection.connectionId);
    const revocation = requests.findLast((request) => request.url === `${server.issuer}/oauth/revoke`)!;
    assert.deepEqual(decodeBasic(revocation.headers.get('authorization')), [clientId, clientSecret]);
    assert.equal(new URLSearchParams(revocation.body).get('token_type_hint'), 'refresh_token');
    assert.equal(await server.storage.grants.findActive(clientId, 'company', seed.companies[1].id), undefined);
    assert.equal((await introspect(server, tokens.accessToken)).active, false);
    assert.equal(await client.getConnection(connection.connectionId), undefined);
    assert.deepEqual(revokedEvents, [connection.connectionId]);
  });

  it('a refresh whose response is lost in transit is retried and answered with the same pair: the connection stays active (SPEC decision 8 grace window)', async () => {
    let lose = true;
    let refreshRequests = 0;
    // The request reaches Gatehouse, which rotates; the answer is lost (a reset after the request was sent).
    const losingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (String(init?.body ?? '').includes('grant_type=refresh_token')) {
        refreshRequests += 1;
        if (lose) {
          lose = false;
          await response.arrayBuffer();
          throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
        }
      }
      return response;
    };
    const { client, connection, tokens } = await connect(newClient({ fetch: losingFetch, sleep: async () => {} }));
    await client.refresh(connection.connectionId);
    assert.equal(refreshRequests, 2, 'the lost refresh was retried once');
    const after = await client.getConnection(connection.connectionId);
    assert.equal(after?.status, 'active');
    const current = await client.getAccessToken(connection.connectionId);
    assert.notEqual(current, tokens.accessToken);
    assert.equal((await introspect(server, current)).active, true, 'the pair the retry got is the live one');
    assert.equal((await client.fetch(connection.connectionId, '/v1/introspect')).status, 200);
    const events = await server.storage.audit.list({ limit: 1000 });
    const served = events.filter((event) => event.type === 'refresh_token.reuse_within_grace');
    assert.ok(served.length >= 1);
    assert.equal(events.some((event) => event.type === 'refresh_token.reuse_detected' && event.grantId === served.at(-1)!.grantId), false, 'the grant was not revoked');
  });

  it('a grant revoked at Gatehouse (replayed refresh token) makes the connection reauthorization_required; reconnecting under its id restores it', async () => {
    const { client, connection, tokens } = await connect();
    await client.refresh(connection.connectionId);
    // Someone presents the rotated-out refresh token after the reuse grace window (30 s): Gatehouse revokes the grant (SPEC decision 8).
    server.clock.advanceSeconds(30);
    const replay = await postForm(`${server.issuer}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refreshToken }, { authorization: basic(clientId, clientSecret) });
    assert.equal(replay.json.error, 'invalid_grant');

    const events: string[] = [];
    client.events.on('reauthorization_required', (event) => events.push(event.reason));
    server.clock.advanceSeconds(1000);
    await assert.rejects(client.getAccessToken(connection.connectionId), ReauthorizationRequiredError);
    assert.equal(events.length, 1);
    assert.match(events[0]!, /^invalid_grant/);
    const marked = await client.getConnection(connection.connectionId);
    assert.equal(marked?.status, 'reauthorization_required');

    const { url, transaction } = await client.authorizationUrl({ connectionId: connection.connectionId, subjectUrn: marked!.subjectUrn });
    assert.equal(url.searchParams.get('urn_gatehouse_params_oauth_subject'), swedish);
    const reconnected = await client.handleCallback(await completeAuthorizationAsUser(url), transaction);
    assert.equal(reconnected.connection.connectionId, connection.connectionId);
    assert.equal(reconnected.connection.status, 'active');
    assert.equal((await client.fetch(connection.connectionId, '/v1/introspect')).status, 200);
  });

  it('never logs a token: every log line of these flows carries fingerprints at most', async () => {
    const { client, connection, tokens } = await connect();
    const seen = [tokens.accessToken, tokens.refreshToken];
    await client.refresh(connection.connectionId);
    seen.push(await client.getAccessToken(connection.connectionId));
    await client.revoke(connection.connectionId);
    const everything = JSON.stringify(logs);
    for (const token of seen) assert.ok(!everything.includes(token));
    assert.ok(logs.some((entry) => entry.event === 'connected' && /^sha256:[0-9a-f]{8}$/.test(entry.access_token_fingerprint ?? '')));
    assert.ok(logs.some((entry) => entry.event === 'revoked' && entry.outcome === 'succeeded'));
  });
});
