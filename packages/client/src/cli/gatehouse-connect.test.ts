/**
 * `gatehouse-connect` as a partner runs it: a separate process against a running Gatehouse and the
 * sample platform API; the user's side of login and consent is driven over HTTP.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { introspect, seed, type TestServer } from '../../../authorization-server/src/testing/harness.ts';
import { createTokenCipher, formatEncryptionKeys, generateEncryptionKey } from '../encryption.ts';
import { createSqliteTokenStore } from '../stores/sqlite.ts';
import { startGatehouse, type GatehouseFixture } from '../testing/gatehouse-fixture.ts';
import { completeAuthorizationAsUser } from '../testing/gatehouse-flow.ts';
import { main } from './gatehouse-connect.ts';

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
