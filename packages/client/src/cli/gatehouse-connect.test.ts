/**
 * `gatehouse-connect` as a partner runs it: a separate process against a running Gatehouse and the
 * sample platform API; the user's side of login and consent is driven over HTTP.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { introspect, seed, type TestServer } from '../../../authorization-server/src/testing/harness.ts';
import { createTokenCipher, formatEncryptionKeys, generateEncryptionKey } from '../encryption.ts';
import { createSqliteTokenStore } from '../stores/sqlite.ts';
import type { StoredConnection } from '../token-store.ts';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from '../testing/fake-authorization-server.ts';
import { connectThroughFake } from '../testing/fake-connection.ts';
import { startGatehouse, type GatehouseFixture } from '../testing/gatehouse-fixture.ts';
import { completeAuthorizationAsUser } from '../testing/gatehouse-flow.ts';
import { main } from './gatehouse-connect.ts';
import { writeProfile } from './settings.ts';

const CLI = fileURLToPath(new URL('./gatehouse-connect.ts', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('gatehouse-connect', () => {
  let gatehouse: GatehouseFixture;
  let server: TestServer;
  let api: GatehouseFixture['api'];
  let directory: string;
  let environment: NodeJS.ProcessEnv;
  let clientId: string;
  const keys = [generateEncryptionKey('cli')];
  const transcript: string[] = [];
  const seenTokens = new Set<string>();

  before(async () => {
    // The CLI runs as its own process on the machine's clock, and sends DPoP proofs by default (RFC 9449 §4.3
    // iat): Gatehouse and the API run on that clock too.
    gatehouse = await startGatehouse({ clientName: 'Acme CLI', introspectionCacheTtlSeconds: 0, realClock: true });
    ({ server, api, clientId } = gatehouse);
    directory = mkdtempSync(join(tmpdir(), 'gatehouse-connect-'));
    const { GATEHOUSE_ENV: _ignored, ...inherited } = process.env;
    environment = {
      ...inherited,
      GATEHOUSE_ISSUER: server.issuer, GATEHOUSE_CLIENT_ID: clientId, GATEHOUSE_CLIENT_SECRET: gatehouse.clientSecret,
      GATEHOUSE_REDIRECT_URI: gatehouse.redirectUri, GATEHOUSE_SCOPE: 'users:read vendors:read', GATEHOUSE_API_URL: api.url,
      GATEHOUSE_CONNECT_DIR: directory, GATEHOUSE_CONNECT_ENCRYPTION_KEYS: formatEncryptionKeys(keys),
    };
  });

  after(async () => {
    await gatehouse?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  function start(args: string[], extra: NodeJS.ProcessEnv = {}): { child: ChildProcessWithoutNullStreams; done: Promise<Run> } {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...environment, ...extra } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const done = new Promise<Run>((resolve) => child.on('close', (code) => {
      transcript.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    }));
    return { child, done };
  }

  const run = (args: string[], extra: NodeJS.ProcessEnv = {}) => start(args, extra).done;

  /** `main` in this process: for commands that need no separate process (faster than spawning). */
  async function runHere(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Run> {
    let stdout = '';
    let stderr = '';
    const code = await main(args, { ...environment, ...extra }, { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text) });
    transcript.push(stdout, stderr);
    return { code, stdout, stderr };
  }

  /** The authorization URL `login` prints. */
  function printedUrl(child: ChildProcessWithoutNullStreams): Promise<URL> {
    return new Promise((resolve, reject) => {
      let seen = '';
      child.stdout.on('data', (chunk: string) => {
        seen += chunk;
        const match = /^ {2}(https?:\/\/\S+)$/m.exec(seen);
        if (match) resolve(new URL(match[1]!));
      });
      child.on('close', () => reject(new Error(`login printed no URL: ${seen}`)));
    });
  }

  /** The stored row and its access token, opened with the test's own copy of the key. */
  async function storedConnection(connection: string) {
    const store = createSqliteTokenStore({ path: join(directory, 'connections.sqlite') });
    const row = await store.get(connection);
    await store.close();
    assert.ok(row?.accessTokenCiphertext);
    return { row, accessToken: createTokenCipher(keys).open(row.accessTokenCiphertext, { connectionId: connection, field: 'access_token' }) };
  }

  /** Reads the stored tokens (with the test's own copy of the key) to check that no output shows them. */
  async function rememberStoredTokens(connection = 'default'): Promise<void> {
    const store = createSqliteTokenStore({ path: join(directory, 'connections.sqlite') });
    const row = await store.get(connection);
    await store.close();
    const cipher = createTokenCipher(keys);
    if (row?.accessTokenCiphertext) seenTokens.add(cipher.open(row.accessTokenCiphertext, { connectionId: connection, field: 'access_token' }));
    if (row?.refreshTokenCiphertext) seenTokens.add(cipher.open(row.refreshTokenCiphertext, { connectionId: connection, field: 'refresh_token' }));
  }

  it('login prints the authorization URL, receives the callback on the loopback redirect URI and stores the connection', async () => {
    const { child, done } = start(['login', '--no-open']);
    const url = await printedUrl(child);
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(url.searchParams.get('redirect_uri'), environment.GATEHOUSE_REDIRECT_URI);
    const callback = await completeAuthorizationAsUser(url, { subject: `urn:gatehouse:company:${seed.companies[0].id}` });
    const page = await fetch(callback);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Connected/);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`Connected "default" to urn:gatehouse:company:${seed.companies[0].id}`));
    assert.match(result.stderr, /Waiting for the authorization server to redirect/);
    await rememberStoredTokens();
    for (const file of ['connections.sqlite', 'profiles.json', 'gatehouse-connect.log']) {
      assert.equal(statSync(join(directory, file)).mode & 0o777, 0o600, file);
    }
    assert.ok(!readFileSync(join(directory, 'profiles.json'), 'utf8').includes(environment.GATEHOUSE_CLIENT_SECRET!), 'the secret is never saved');
  });

  it('status shows the connection without any network call', async () => {
    const result = await runHere(['status']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /status {6}active/);
    assert.match(result.stdout, new RegExp(`subject {5}urn:gatehouse:company:${seed.companies[0].id}`));
    const json = JSON.parse((await runHere(['status', '--json'])).stdout);
    assert.equal(json.status, 'active');
    assert.deepEqual(json.scope, ['users:read', 'vendors:read']);
  });

  it('call GET /v1/... prints the API response', async () => {
    const result = await run(['call', 'GET', '/v1/introspect']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /^HTTP 200/);
    assert.equal(JSON.parse(result.stdout).data.clientId, clientId);
    const forbidden = await run(['call', '/v1/accounts']);
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /^HTTP 403/);
  });

  it('binds the tokens to a DPoP key by default, stored encrypted with them, so each run uses the same key (RFC 9449)', async () => {
    const { row, accessToken } = await storedConnection('default');
    assert.match(row.dpopKeyCiphertext ?? '', /^v1\.cli\./, 'the key is sealed like the tokens');
    const introspected = await introspect(server, accessToken);
    assert.equal(introspected.token_type, 'DPoP');
    const jkt = (introspected.cnf as { jkt?: string } | undefined)?.jkt;
    assert.ok(jkt);
    // The token without the key is useless to whoever copies it (RFC 9449 §7.1).
    assert.equal((await fetch(`${api.url}/v1/introspect`, { headers: { authorization: `DPoP ${accessToken}` } })).status, 401);
    assert.equal((await fetch(`${api.url}/v1/introspect`, { headers: { authorization: `Bearer ${accessToken}` } })).status, 401);
    // Another run refreshes with the stored key: the new token is bound to the same key, and the next run calls with it.
    assert.equal((await run(['refresh'])).code, 0);
    const refreshed = await storedConnection('default');
    assert.notEqual(refreshed.accessToken, accessToken);
    assert.equal(((await introspect(server, refreshed.accessToken)).cnf as { jkt?: string } | undefined)?.jkt, jkt);
    const call = await run(['call', '/v1/introspect']);
    assert.equal(call.code, 0, call.stderr);
    await rememberStoredTokens();
  });

  it('refresh rotates both tokens; the old access token stops working', async () => {
    const before = [...seenTokens];
    const result = await run(['refresh', '--verbose']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Refreshed "default": both tokens rotated/);
    assert.match(result.stderr, /refresh_attempt .*reason=requested/);
    assert.match(result.stderr, /refresh_outcome .*outcome=succeeded/);
    await rememberStoredTokens();
    assert.equal(seenTokens.size, before.length + 2);
    const old = await fetch(`${api.url}/v1/introspect`, { headers: { authorization: `Bearer ${before[0]}` } });
    assert.equal(old.status, 401);
    assert.equal((await run(['call', '/v1/introspect'])).code, 0);
  });

  it('revoke revokes the grant at Gatehouse and deletes the connection', async () => {
    const result = await run(['revoke']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Revoked "default"/);
    assert.equal(await server.storage.grants.findActive(clientId, 'company', seed.companies[0].id), undefined);
    const status = await runHere(['status']);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /No connection "default". Run: gatehouse-connect login/);
  });

  it("login reports the user's denial clearly, in the terminal and in the browser", async () => {
    const { child, done } = start(['login', '--no-open', '--connection', 'denied']);
    const callback = await completeAuthorizationAsUser(await printedUrl(child), { decision: 'deny' });
    const page = await fetch(callback);
    assert.equal(page.status, 400);
    assert.match(await page.text(), /access_denied/);
    const result = await done;
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Access was not granted \(access_denied: the user denied the request\)/);
  });

  it('login ignores a callback with a foreign state and keeps waiting', async () => {
    const { child, done } = start(['login', '--no-open', '--connection', 'stale']);
    const url = await printedUrl(child);
    const stale = new URL(environment.GATEHOUSE_REDIRECT_URI!);
    stale.search = '?code=x&state=not-this-one';
    assert.equal((await fetch(stale)).status, 400);
    stale.search = '?code=x';
    assert.equal((await fetch(stale)).status, 400, 'no state at all');
    stale.search = '?code=x&state=';
    assert.equal((await fetch(stale)).status, 400, 'an empty state');
    assert.equal((await fetch(await completeAuthorizationAsUser(url))).status, 200);
    assert.equal((await done).code, 0);
    await rememberStoredTokens('stale');
    assert.equal((await run(['revoke', '--connection', 'stale'])).code, 0);
  });

  it('login --no-dpop stores Bearer tokens and no key', async () => {
    const { child, done } = start(['login', '--no-open', '--no-dpop', '--connection', 'bearer']);
    assert.equal((await fetch(await completeAuthorizationAsUser(await printedUrl(child)))).status, 200);
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    const { row, accessToken } = await storedConnection('bearer');
    assert.equal(row.dpopKeyCiphertext, null);
    assert.equal((await introspect(server, accessToken)).token_type, 'Bearer');
    assert.equal((await fetch(`${api.url}/v1/introspect`, { headers: { authorization: `Bearer ${accessToken}` } })).status, 200);
    await rememberStoredTokens('bearer');
    // Later runs keep the connection Bearer (the choice is saved with its profile): a refresh adds no key.
    assert.equal((await run(['refresh', '--connection', 'bearer'])).code, 0);
    const refreshed = await storedConnection('bearer');
    assert.equal(refreshed.row.dpopKeyCiphertext, null);
    assert.equal((await introspect(server, refreshed.accessToken)).token_type, 'Bearer');
    await rememberStoredTokens('bearer');
    assert.equal((await run(['revoke', '--connection', 'bearer'])).code, 0);
  });

  it('says clearly what is wrong: port in use, no connection, no client ID, unknown command, unreachable server', async () => {
    const blocker = createServer();
    const port = Number(new URL(environment.GATEHOUSE_REDIRECT_URI!).port);
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const busy = await runHere(['login', '--no-open']);
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, new RegExp(`Cannot listen on 127.0.0.1:${port}: the port is in use`));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
    const missing = await runHere(['call', '/v1/users', '--connection', 'nothing']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No connection "nothing". Run: gatehouse-connect login --connection nothing/);
    const noClient = await runHere(['login', '--no-open'], { GATEHOUSE_CLIENT_ID: '' });
    assert.equal(noClient.code, 2);
    assert.match(noClient.stderr, /no client ID: pass --client-id or set GATEHOUSE_CLIENT_ID/);
    const unknown = await runHere(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"[\s\S]*Usage: gatehouse-connect/);
    const badFlag = await runHere(['status', '--colour']);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /Unknown option '--colour'/);
    const insecure = await runHere(['login', '--no-open', '--issuer', 'http://auth.example']);
    assert.equal(insecure.code, 2);
    assert.match(insecure.stderr, /must be https/);
    const unreachable = await runHere(['login', '--no-open', '--issuer', 'http://127.0.0.1:1']);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /Cannot reach http:\/\/127\.0\.0\.1:1/);
  });

  it('login --issuer X with no API URL stores the connection, then call refuses (exit 2) instead of sending the token to a default API (issue 15 part 6)', async () => {
    const noApi = { GATEHOUSE_API_URL: '' };
    const { child, done } = start(['login', '--no-open', '--connection', 'no-api', '--issuer', server.issuer], noApi);
    assert.equal((await fetch(await completeAuthorizationAsUser(await printedUrl(child)))).status, 200);
    const login = await done;
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stderr, /No API URL is configured: `call` needs --api-url or GATEHOUSE_API_URL/);
    await rememberStoredTokens('no-api');
    assert.equal(JSON.parse(readFileSync(join(directory, 'profiles.json'), 'utf8'))['no-api'].apiUrl, undefined, 'no API URL saved');
    const before = gatehouse.tokenRequests();
    // Later, with nothing but the saved profile (no --issuer, no variables): the profile's issuer, and no API.
    const refused = await runHere(['call', '/v1/introspect', '--connection', 'no-api'], { ...noApi, GATEHOUSE_ISSUER: '' });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /no API URL for "no-api": pass --api-url https:\/\/… or set GATEHOUSE_API_URL/);
    assert.equal(refused.stdout, '');
    assert.equal(gatehouse.tokenRequests(), before, 'not even a refresh was attempted');
    const named = await run(['call', '/v1/introspect', '--connection', 'no-api', '--api-url', api.url], { ...noApi, GATEHOUSE_ISSUER: '' });
    assert.equal(named.code, 0, named.stderr);
    assert.equal((await run(['revoke', '--connection', 'no-api'], { ...noApi, GATEHOUSE_ISSUER: '' })).code, 0);
  });

  it('login stops at once, naming the redirect URI, when the authorization server refuses the request (an unregistered redirect URI never redirects)', async () => {
    const unregistered = `http://127.0.0.1:${await freeLoopbackPort()}/not-registered`;
    const result = await runHere(['login', '--no-open', '--connection', 'wrong-uri', '--redirect-uri', unregistered]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /refused the authorization request before any login \(HTTP 400: "The redirect_uri is not registered for this app\."\)/);
    assert.ok(result.stderr.includes(`Check that ${unregistered} is among the redirect URIs registered for client ${clientId}`), result.stderr);
    assert.doesNotMatch(result.stdout, /Open this URL/, 'the user is not sent to a page that cannot come back');
    assert.equal((await runHere(['status', '--connection', 'wrong-uri'])).code, 1, 'nothing stored');
  });

  it('never prints or logs a token (fingerprints at most)', () => {
    assert.ok(seenTokens.size >= 4);
    const everything = transcript.join('\n') + readFileSync(join(directory, 'gatehouse-connect.log'), 'utf8');
    assert.match(everything, /sha256:[0-9a-f]{8}/);
    for (const token of seenTokens) assert.ok(!everything.includes(token), 'a token was printed or logged');
  });
});

/** A port nothing listens on right now. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('gatehouse-connect: configuration mistakes are refused before anything is sent (exit 2)', () => {
  let issuerA: FakeAuthorizationServer;
  let issuerB: FakeAuthorizationServer;
  let api: Server;
  /** Requests the stub API received: method, path, body. */
  const apiRequests: string[] = [];
  let directory: string;
  const keys = [generateEncryptionKey('cli-config')];
  const CLIENT_ID = '7af385a0-284d-48c5-b225-362862085551';
  let environment: NodeJS.ProcessEnv;

  before(async () => {
    api = createHttpServer(async (request, response) => {
      let body = '';
      for await (const chunk of request) body += chunk;
      apiRequests.push(`${request.method} ${request.url} ${body}`.trim());
      response.writeHead(request.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' }).end('{"data":{}}');
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await new Promise((resolve) => api.close(resolve));
  });

  beforeEach(async () => {
    issuerA = await startFakeAuthorizationServer();
    issuerB = await startFakeAuthorizationServer();
    apiRequests.length = 0;
    directory = mkdtempSync(join(tmpdir(), 'gatehouse-connect-config-'));
    environment = {
      GATEHOUSE_ISSUER: issuerA.issuer, GATEHOUSE_CLIENT_ID: CLIENT_ID, GATEHOUSE_CLIENT_SECRET: 'fake-client-secret',
      GATEHOUSE_SCOPE: 'users:read', GATEHOUSE_API_URL: `http://127.0.0.1:${(api.address() as AddressInfo).port}`,
      GATEHOUSE_CONNECT_DIR: directory, GATEHOUSE_CONNECT_ENCRYPTION_KEYS: formatEncryptionKeys(keys),
    };
    // What `login` against issuer A leaves behind: the "default" connection (Bearer: the fake offers no DPoP) and its profile.
    const store = createSqliteTokenStore({ path: join(directory, 'connections.sqlite') });
    await connectThroughFake(issuerA, { store, encryptionKeys: keys, clientId: CLIENT_ID }, { connectionId: 'default' });
    await store.close();
    writeProfile(directory, 'default', {
      issuer: issuerA.issuer, clientId: CLIENT_ID, clientType: 'confidential', redirectUri: 'http://127.0.0.1:9/callback',
      scope: 'users:read', apiUrl: environment.GATEHOUSE_API_URL,
    });
  });
  afterEach(async () => {
    await issuerA.close();
    await issuerB.close();
    rmSync(directory, { recursive: true, force: true });
  });

  async function runHere(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Run> {
    let stdout = '';
    let stderr = '';
    const code = await main(args, { ...environment, ...extra }, { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text) });
    return { code, stdout, stderr };
  }

  async function storedRow(): Promise<StoredConnection | undefined> {
    const store = createSqliteTokenStore({ path: join(directory, 'connections.sqlite') });
    const row = await store.get('default');
    await store.close();
    return row;
  }

  const tokenOrRevocationRequests = () => [...issuerA.requests, ...issuerB.requests]
    .filter((request) => request.path === '/oauth/token' || request.path === '/oauth/revoke')
    .map((request) => `${request.path} ${request.form.get('grant_type') ?? ''}`.trim());

  it('refresh, call, revoke and login with another issuer or client ID than the connection was made with: exit 2, nothing sent, the connection unchanged (RFC 6749 §10.4)', async () => {
    const before = await storedRow();
    assert.equal(before?.status, 'active');
    const cases: Array<[string[], NodeJS.ProcessEnv]> = [
      [['refresh'], { GATEHOUSE_ISSUER: issuerB.issuer }],
      [['call', '/v1/users'], { GATEHOUSE_ISSUER: issuerB.issuer }],
      [['revoke'], { GATEHOUSE_ISSUER: issuerB.issuer }],
      [['refresh'], { GATEHOUSE_CLIENT_ID: '0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f' }],
      [['revoke', '--client-id', '0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f'], {}],
    ];
    for (const [args, extra] of cases) {
      const result = await runHere(args, extra);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.ok(result.stderr.includes(`Connection "default" was made by client ${CLIENT_ID} at ${issuerA.issuer}`), result.stderr);
      assert.match(result.stderr, /nothing was sent and the connection is unchanged/);
      assert.ok(result.stderr.includes(`Use --issuer ${issuerA.issuer} and --client-id ${CLIENT_ID}`), result.stderr);
      assert.match(result.stderr, /gatehouse-connect login --connection default/);
      assert.equal(result.stdout, '');
    }
    // login under the connection's name with another client ID: refused before the browser is sent anywhere (the callback
    // would not be allowed to replace the other client's connection).
    const login = await runHere(['login', '--no-open', '--timeout-seconds', '5', '--redirect-uri', 'http://127.0.0.1:4137/callback'], { GATEHOUSE_CLIENT_ID: '0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f' });
    assert.equal(login.code, 2, login.stderr);
    assert.ok(login.stderr.includes(`Connection "default" was made by client ${CLIENT_ID} at ${issuerA.issuer}`), login.stderr);
    assert.ok(login.stderr.includes(`first revoke it with the settings it was made with: gatehouse-connect revoke --connection default --issuer ${issuerA.issuer} --client-id ${CLIENT_ID}`), login.stderr);
    assert.doesNotMatch(login.stdout, /Open this URL/);
    assert.deepEqual(tokenOrRevocationRequests(), ['/oauth/token authorization_code'], 'only the original code exchange, at A');
    assert.deepEqual(issuerB.requests, [], 'issuer B received nothing at all');
    assert.deepEqual(apiRequests, [], 'the API received nothing');
    assert.deepEqual(await storedRow(), before, 'still active, same version, same tokens');
    assert.ok(readFileSync(join(directory, 'profiles.json'), 'utf8').includes(issuerA.issuer), 'the profile is kept');
    // With the settings it was made with, the connection still works.
    assert.equal((await runHere(['refresh'])).code, 0);
  });

  it('call: a METHOD that is not an HTTP token, or --data with GET or HEAD, is a usage error before any request; --data without METHOD sends a POST', async () => {
    const badMethod = await runHere(['call', 'FOO BAR', '/v1/users']);
    assert.equal(badMethod.code, 2);
    assert.match(badMethod.stderr, /^"FOO BAR" is not an HTTP method: METHOD is one word .*\(RFC 9110 §9\.1\)/);
    assert.doesNotMatch(badMethod.stderr, /Cannot reach/);
    for (const method of ['GET', 'head']) {
      const withBody = await runHere(['call', method, '/v1/vendors', '--data', '{"name":"x"}']);
      assert.equal(withBody.code, 2);
      assert.match(withBody.stderr, new RegExp(`^a ${method.toUpperCase()} request cannot carry --data: name another METHOD .* leave METHOD out and --data sends a POST`));
    }
    const badHeader = await runHere(['call', '/v1/users', '--header', 'Bad Name: x']);
    assert.equal(badHeader.code, 2);
    assert.match(badHeader.stderr, /--header must be "Name: value" with a valid header name and value \(got the name "Bad Name", value not shown\)/);
    // A malformed header whose value is a credential: the value is never echoed.
    const credential = 'Bearer gat_0123456789abcdefghijklmnopqrstuv';
    for (const header of [`Authorization: ${credential}\nX-Injected: 1`, credential]) {
      const refused = await runHere(['call', '/v1/users', '--header', header]);
      assert.equal(refused.code, 2);
      assert.ok(!refused.stderr.includes('gat_0123456789'), refused.stderr);
    }
    assert.deepEqual(apiRequests, [], 'nothing reached the API');
    assert.deepEqual(tokenOrRevocationRequests(), ['/oauth/token authorization_code']);

    const posted = await runHere(['call', '/v1/vendors', '--data', '{"name":"x"}']);
    assert.equal(posted.code, 0, posted.stderr);
    assert.match(posted.stderr, /^HTTP 201/);
    assert.deepEqual(apiRequests, ['POST /v1/vendors {"name":"x"}']);
    const explicit = await runHere(['call', 'put', '/v1/vendors/1', '--data', '{}']);
    assert.equal(explicit.code, 0, explicit.stderr);
    assert.deepEqual(apiRequests.at(-1), 'PUT /v1/vendors/1 {}');
  });

  it('an unreadable or empty --client-secret-file: exit 2 naming the file, before anything is sent', async () => {
    const missing = join(directory, 'no-such-secret');
    for (const command of [['login', '--no-open'], ['refresh']]) {
      const result = await runHere([...command, '--client-secret-file', missing]);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stderr, `gatehouse-connect: --client-secret-file ${missing} cannot be read (no such file). Name the file holding the client secret, or set GATEHOUSE_CLIENT_SECRET\n`);
    }
    const empty = join(directory, 'empty-secret');
    writeFileSync(empty, '\n');
    const result = await runHere(['refresh', '--client-secret-file', empty]);
    assert.equal(result.code, 2);
    assert.ok(result.stderr.includes(`--client-secret-file ${empty} is empty`), result.stderr);
    assert.deepEqual(tokenOrRevocationRequests(), ['/oauth/token authorization_code']);
  });

  it('a corrupt profiles.json: exit 2 naming the file and what is wrong; status still shows the connection, with a warning', async () => {
    const file = join(directory, 'profiles.json');
    writeFileSync(file, '{bad');
    for (const command of [['refresh'], ['call', '/v1/users'], ['revoke'], ['login', '--no-open']]) {
      const result = await runHere(command);
      assert.equal(result.code, 2, `${command[0]}: ${result.stderr}`);
      assert.ok(result.stderr.startsWith(`gatehouse-connect: ${file} is not valid JSON (`), result.stderr);
      assert.match(result.stderr, /fix it, or delete it/);
      assert.doesNotMatch(result.stderr, /Unexpected error/);
    }
    writeFileSync(file, '[]');
    assert.match((await runHere(['refresh'])).stderr, /profiles\.json is not a JSON object of connection names/);
    writeFileSync(file, '{bad');
    const status = await runHere(['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /status {6}active/);
    assert.ok(status.stderr.startsWith(`Warning: ${file} is not valid JSON`), status.stderr);
    assert.deepEqual(tokenOrRevocationRequests(), ['/oauth/token authorization_code']);
    assert.deepEqual(apiRequests, []);
    assert.equal((await storedRow())?.status, 'active', 'nothing changed');
  });

  it('revoke of a connection that holds no tokens (reauthorization_required) forgets it without asking for the secret, sending nothing', async () => {
    const store = createSqliteTokenStore({ path: join(directory, 'connections.sqlite') });
    const row = (await store.get('default'))!;
    await store.markReauthorizationRequired('default', row, 'invalid_grant: revoked', row.updatedAt);
    await store.close();
    const requestsBefore = issuerA.requests.length;
    const result = await runHere(['revoke'], { GATEHOUSE_CLIENT_SECRET: '' });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `Forgot "default": it held no tokens (reauthorization_required), so nothing was sent to ${issuerA.issuer}.\n`);
    assert.equal(issuerA.requests.length, requestsBefore, 'no request at all, not even discovery');
    assert.equal(await storedRow(), undefined);
    assert.equal(JSON.parse(readFileSync(join(directory, 'profiles.json'), 'utf8')).default, undefined);
  });

  it('login again with nothing but the saved profile (the command a connection needing re-authorization is told to run) reconnects with its issuer, client, scope, redirect URI and API URL', async () => {
    const redirectUri = `http://127.0.0.1:${await freeLoopbackPort()}/callback`;
    // Made with --no-dpop (Bearer tokens): a login building on the profile keeps that choice too.
    writeProfile(directory, 'again', {
      issuer: issuerA.issuer, clientId: CLIENT_ID, clientType: 'confidential', redirectUri, scope: 'users:read', apiUrl: environment.GATEHOUSE_API_URL, dpop: false,
    });
    // The secret (never saved) and the store only: no issuer, client ID, scope, redirect URI or API URL but the profile's.
    const only: NodeJS.ProcessEnv = {
      GATEHOUSE_CLIENT_SECRET: 'fake-client-secret', GATEHOUSE_CONNECT_DIR: directory, GATEHOUSE_CONNECT_ENCRYPTION_KEYS: environment.GATEHOUSE_CONNECT_ENCRYPTION_KEYS,
    };
    let stdout = '';
    let stderr = '';
    let printed!: (url: URL) => void;
    const urlPrinted = new Promise<URL>((resolve) => {
      printed = resolve;
    });
    const login = main(['login', '--no-open', '--connection', 'again'], only, {
      stdout: (text) => {
        stdout += text;
        const match = /^ {2}(https?:\/\/\S+)$/m.exec(stdout);
        if (match) printed(new URL(match[1]!));
      },
      stderr: (text) => void (stderr += text),
    });
    const url = await Promise.race([urlPrinted, login.then((code) => assert.fail(`login ended (exit ${code}) without printing a URL: ${stderr}`))]);
    assert.equal(url.origin, issuerA.issuer);
    assert.equal(url.searchParams.get('client_id'), CLIENT_ID);
    assert.equal(url.searchParams.get('redirect_uri'), redirectUri);
    assert.equal(url.searchParams.get('scope'), 'users:read');
    const callback = new URL(redirectUri);
    callback.searchParams.set('code', issuerA.issueCode());
    callback.searchParams.set('state', url.searchParams.get('state')!);
    callback.searchParams.set('iss', issuerA.issuer);
    assert.equal((await fetch(callback)).status, 200);
    assert.equal(await login, 0, stderr);
    assert.match(stdout, /Connected "again" to urn:gatehouse:company:/);
    assert.equal(JSON.parse(readFileSync(join(directory, 'profiles.json'), 'utf8')).again.apiUrl, environment.GATEHOUSE_API_URL, 'the API URL is kept');
    assert.equal(JSON.parse(readFileSync(join(directory, 'profiles.json'), 'utf8')).again.dpop, false, 'still a Bearer connection (--no-dpop is kept)');
    const quiet = { stdout: () => {}, stderr: () => {} };
    assert.equal(await main(['call', '/v1/users', '--connection', 'again'], only, quiet), 0);
    assert.deepEqual(apiRequests, ['GET /v1/users']);

    // Another issuer is another registration: the profile's settings (its API URL above all) do not carry over to it.
    let refused = '';
    assert.equal(await main(['login', '--no-open', '--connection', 'again', '--issuer', issuerB.issuer], only, { stdout: () => {}, stderr: (text) => void (refused += text) }), 2);
    assert.match(refused, /no client ID/);
    assert.deepEqual(issuerB.requests, []);
  });

  it('login naming another environment (--environment, GATEHOUSE_ENV) does not inherit a profile made at another issuer: the preset\'s issuer is another registration', async () => {
    writeProfile(directory, 'again', {
      issuer: issuerA.issuer, clientId: CLIENT_ID, clientType: 'confidential', redirectUri: `http://127.0.0.1:${await freeLoopbackPort()}/callback`,
      scope: 'users:read', apiUrl: environment.GATEHOUSE_API_URL,
    });
    const only: NodeJS.ProcessEnv = {
      GATEHOUSE_CLIENT_SECRET: 'fake-client-secret', GATEHOUSE_CONNECT_DIR: directory, GATEHOUSE_CONNECT_ENCRYPTION_KEYS: environment.GATEHOUSE_CONNECT_ENCRYPTION_KEYS,
    };
    const requestsAtA = issuerA.requests.length;
    // --timeout-seconds bounds a login that wrongly went ahead at issuer A (nothing answers its redirect URI).
    for (const [args, variables] of [[['--environment', 'development'], {}], [[], { GATEHOUSE_ENV: 'development' }]] as const) {
      let stdout = '';
      let stderr = '';
      const code = await main(['login', '--no-open', '--timeout-seconds', '1', '--connection', 'again', ...args], { ...only, ...variables }, {
        stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text),
      });
      assert.doesNotMatch(stdout, new RegExp(issuerA.issuer.replace(/[.:/]/g, '\\$&')), `${args.join(' ')}${JSON.stringify(variables)}: not the profile's issuer`);
      assert.equal(code, 2, stderr);
      assert.match(stderr, /no client ID/);
    }
    assert.equal(issuerA.requests.length, requestsAtA, 'nothing was sent to the profile\'s issuer');
  });

  it('revoke of a connection that holds tokens still needs the secret of its confidential client', async () => {
    const result = await runHere(['revoke'], { GATEHOUSE_CLIENT_SECRET: '' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /this connection was made by a confidential client: set GATEHOUSE_CLIENT_SECRET/);
    assert.equal((await storedRow())?.status, 'active');
  });
});
