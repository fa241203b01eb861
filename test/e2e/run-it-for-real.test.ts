/**
 * The README's "Run it for real", step by step, as a program: an empty PostgreSQL schema in production,
 * the `gatehouse` CLI and `npm start` (scripts/start.ts) as child processes with the README's variables,
 * behind a TLS-terminating proxy (`GATEHOUSE_TRUST_PROXY`), users signing in at an https OpenID Provider
 * (oidc-provider) whose certificate Gatehouse trusts through `NODE_EXTRA_CA_CERTS`; the admin API over
 * https with the administrator token; Chromium for the browser part; openid-client as the partner; the
 * platform API for the first call. Everything on 127.0.0.1.
 *
 * admin token → directory import → resource server → start → client registration + approval →
 * upstream sign-in → consent → token → platform API call.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { freePort } from '../../packages/authorization-server/src/testing/harness.ts';
import { dropTestSchema, newTestSchema, postgresSkipReason, TEST_DATABASE_URL } from '../../packages/authorization-server/src/testing/postgres.ts';
import { startUpstreamProvider, type TestUpstreamProvider } from '../../packages/authorization-server/src/testing/upstream-provider.ts';
import { chromiumSkipReason, launchChromium } from './chromium.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'packages/authorization-server/src/cli/gatehouse.ts');
const START = join(ROOT, 'scripts/start.ts');
const OPENSSL = '/usr/bin/openssl';
const API_AUDIENCE = 'https://api.example.com';
const PARTNER_CALLBACK = 'https://ledgerly.example/callback';
const ALICE = { id: 'a3e3fc33-5e1b-4cac-81ad-b7accdcd5313', email: 'alice@example.com' };
const COMPANY = 'd4290d20-6495-471e-bcac-5d9e0a4d844e';

const skip = chromiumSkipReason || (await postgresSkipReason()) || (existsSync(OPENSSL) ? false : `no ${OPENSSL} to make a test certificate`);

/** A fetch over node:https that trusts `ca` (the partner and the administrator trust the proxy's certificate). */
function fetchTrusting(ca: string): oidc.CustomFetch {
  return (url, options) => new Promise<Response>((resolve, reject) => {
    const target = new URL(url);
    const headers: Record<string, string> = {};
    new Headers(options.headers as HeadersInit).forEach((value, name) => {
      headers[name] = value;
    });
    const body = options.body === undefined || options.body === null ? undefined : typeof options.body === 'string' ? options.body : options.body instanceof URLSearchParams ? options.body.toString() : Buffer.from(options.body as Uint8Array);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const outgoing = send(target, { method: options.method, headers, ca }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(incoming.headers)) {
          for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) responseHeaders.append(name, one);
        }
        const status = incoming.statusCode ?? 500;
        resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers: responseHeaders }));
      });
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** Runs the gatehouse CLI with the README's variables; returns its parsed `--json` output. */
function gatehouse(env: NodeJS.ProcessEnv, ...args: string[]): Promise<any> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { env, cwd: ROOT }, (error, stdout, stderr) => {
      if (error) reject(new Error(`gatehouse ${args.join(' ')}: ${stderr || error.message}`));
      else resolve(args.includes('--json') ? JSON.parse(stdout) : stdout);
    });
  });
}

describe('Run it for real (README): empty PostgreSQL in production → a partner\'s first API call', { skip }, () => {
  let workDirectory: string;
  let schema: string;
  let upstream: TestUpstreamProvider;
  let proxy: Server;
  let gatehouseProcess: ChildProcess | undefined;
  let browser: Browser;
  let certificate: string;
  let env: NodeJS.ProcessEnv;
  let issuer: string;
  let apiUrl: string;

  before(async () => {
    workDirectory = mkdtempSync(join(tmpdir(), 'gatehouse-for-real-'));
    // One self-signed certificate for 127.0.0.1, for the proxy and the provider alike (a private CA of one).
    const certificatePath = join(workDirectory, 'ca.pem');
    const keyPath = join(workDirectory, 'key.pem');
    execFileSync(OPENSSL, [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyPath, '-out', certificatePath,
    ], { stdio: 'ignore' });
    certificate = readFileSync(certificatePath, 'utf8');
    const key = readFileSync(keyPath, 'utf8');

    upstream = await startUpstreamProvider({ tls: { cert: certificate, key } });
    upstream.accounts.set('alice-at-example-id', { email: ALICE.email, email_verified: true, name: 'Alice Admin' });

    // The TLS-terminating proxy in front of Gatehouse: https on proxyPort, plain HTTP to gatehousePort.
    const gatehousePort = await freePort();
    proxy = createHttpsServer({ cert: certificate, key }, (incoming, outgoing) => {
      const forwarded = httpRequest({
        host: '127.0.0.1', port: gatehousePort, method: incoming.method, path: incoming.url,
        headers: { ...incoming.headers, 'x-forwarded-proto': 'https', 'x-forwarded-for': incoming.socket.remoteAddress ?? '127.0.0.1' },
      }, (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      });
      forwarded.on('error', () => outgoing.writeHead(502).end());
      incoming.pipe(forwarded);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxyAddress = proxy.address();
    issuer = `https://127.0.0.1:${typeof proxyAddress === 'object' && proxyAddress ? proxyAddress.port : 0}`;
    const apiPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}`;
    schema = newTestSchema();

    // 0. The README's variables (loopback addresses and ports instead of the example hosts).
    env = {
      ...process.env,
      GATEHOUSE_ENV: 'production', DATABASE_URL: TEST_DATABASE_URL, GATEHOUSE_DATABASE_SCHEMA: schema,
      GATEHOUSE_ISSUER: issuer, GATEHOUSE_TRUST_PROXY: '127.0.0.1', GATEHOUSE_TOKEN_KEY: randomBytes(32).toString('base64url'),
      GATEHOUSE_API_AUDIENCE: API_AUDIENCE,
      GATEHOUSE_UPSTREAM_ISSUER: upstream.issuer, GATEHOUSE_UPSTREAM_CLIENT_ID: upstream.clientId,
      GATEHOUSE_UPSTREAM_CLIENT_SECRET: upstream.clientSecret, GATEHOUSE_UPSTREAM_NAME: 'Example ID', GATEHOUSE_LOCAL_PASSWORDS: 'off',
      NODE_EXTRA_CA_CERTS: certificatePath,
      PORT: String(gatehousePort), HOST: '127.0.0.1', PLATFORM_API_PORT: String(apiPort), PLATFORM_API_HOST: '127.0.0.1', GATEHOUSE_LOG: 'off',
      GATEHOUSE_CLEANUP_INTERVAL_SECONDS: '0',
    };
    await upstream.attach(`${issuer}/login/upstream/callback`);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    if (gatehouseProcess && gatehouseProcess.exitCode === null) {
      const exited = new Promise((resolve) => gatehouseProcess!.once('exit', resolve));
      gatehouseProcess.kill('SIGTERM');
      await exited;
    }
    proxy?.closeAllConnections();
    await new Promise((resolve) => proxy?.close(resolve));
    await upstream?.close();
    if (schema) await dropTestSchema(schema);
    if (workDirectory) rmSync(workDirectory, { recursive: true, force: true });
  });

  it('admin token → directory import → resource server → client registration and approval → upstream sign-in → consent → token → platform API', async () => {
    // 1. The schema and an administrator token.
    assert.equal((await gatehouse(env, 'migrate', '--json')).version >= 11, true);
    const token: string = (await gatehouse(env, 'admins', 'create-token', '--name', 'ops', '--json')).token;

    // 2. The directory import.
    const directoryFile = join(workDirectory, 'directory.json');
    writeFileSync(directoryFile, JSON.stringify({
      organizations: [{ id: 'a78f8460-ea41-4745-905b-660d706ebca4', name: 'Nordlys Group' }],
      companies: [{ id: COMPANY, name: 'Nordlys Danmark ApS', organization_id: 'a78f8460-ea41-4745-905b-660d706ebca4' }],
      users: [{ id: ALICE.id, email: ALICE.email, name: 'Alice Admin', administers: [{ type: 'company', id: COMPANY }] }],
    }));
    assert.deepEqual(await gatehouse(env, 'directory', 'import', directoryFile, '--json'), { created: 3, updated: 0, unchanged: 0, refused: [], dry_run: false });

    // 3. The platform API's credentials.
    const resourceServer = await gatehouse(env, 'resource-servers', 'create', '--audience', API_AUDIENCE, '--name', 'Platform API', '--json');
    assert.ok(resourceServer.client_id && resourceServer.client_secret);

    // 4. npm start (scripts/start.ts): the authorization server and the sample platform API.
    gatehouseProcess = spawn(process.execPath, [START], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env, PLATFORM_API_INTROSPECTION_CLIENT_ID: resourceServer.client_id, PLATFORM_API_INTROSPECTION_CLIENT_SECRET: resourceServer.client_secret },
    });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      gatehouseProcess!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Press Ctrl-C to stop.')) resolve();
      });
      gatehouseProcess!.stderr!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      gatehouseProcess!.once('exit', (code) => reject(new Error(`npm start exited with ${code}: ${output}`)));
    });

    // 5. The partner's client, registered and approved over the admin API (https, bearer token).
    const viaProxy = fetchTrusting(certificate);
    const admin = (method: string, path: string, body?: unknown) => viaProxy(`${issuer}/admin/v1${path}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined, redirect: 'manual',
    } as Parameters<oidc.CustomFetch>[1]);
    const registered = await admin('POST', '/clients', {
      client_name: 'Ledgerly Sync', redirect_uris: [PARTNER_CALLBACK], scope: 'users:read', token_endpoint_auth_method: 'client_secret_basic',
      client_uri: 'https://ledgerly.example',
    });
    assert.equal(registered.status, 201);
    const client = await registered.json() as { client_id: string; client_secret: string; status?: string };
    assert.equal((await admin('POST', `/clients/${client.client_id}/approve`)).status, 200);

    // 6. The partner (openid-client) builds the authorization request with PKCE S256 and state.
    const config = await oidc.discovery(new URL(issuer), client.client_id, undefined, oidc.ClientSecretBasic(client.client_secret), {
      algorithm: 'oauth2', [oidc.customFetch]: viaProxy,
    });
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const authorizationUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: PARTNER_CALLBACK, scope: 'users:read', state,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
    });

    // Alice, in Chromium: straight to Example ID (local passwords off), then Gatehouse's consent page.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const arrived = new Promise<string>((resolve) => {
      void page.route('https://ledgerly.example/**', async (route) => {
        resolve(route.request().url());
        await route.fulfill({ status: 200, contentType: 'text/plain', body: 'Connected.' });
      });
    });
    await page.goto(authorizationUrl.href);
    await page.waitForURL((url) => url.href.startsWith(upstream.issuer));
    await page.fill('input[name="login"]', 'alice-at-example-id');
    await page.fill('input[name="password"]', 'any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForSelector('select[name="subject"]');
    assert.match((await page.textContent('body')) ?? '', /Ledgerly Sync wants to access your Gatehouse account/);
    await page.selectOption('select[name="subject"]', `urn:gatehouse:company:${COMPANY}`);
    await page.getByRole('button', { name: 'Allow' }).click();
    const callbackWithCode = new URL(await arrived);
    await context.close();

    // 7. The code exchange (openid-client checks state and iss) and the first platform API call.
    const tokens = await oidc.authorizationCodeGrant(config, callbackWithCode, { pkceCodeVerifier: codeVerifier, expectedState: state });
    assert.equal(tokens['urn:gatehouse:params:oauth:subject_urn'], `urn:gatehouse:company:${COMPANY}`);
    const current = await fetch(`${apiUrl}/v1/introspect`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(current.status, 200);
    assert.deepEqual((await current.json()).data, {
      authMethod: 'OAUTH2', clientId: client.client_id, scope: 'users:read', applicationName: 'Ledgerly Sync', subjectURN: `urn:gatehouse:company:${COMPANY}`,
    });
    const introspection = await oidc.tokenIntrospection(config, tokens.access_token);
    assert.equal(introspection.sub, ALICE.id, "the token's sub is the directory user's id");
  });
});
