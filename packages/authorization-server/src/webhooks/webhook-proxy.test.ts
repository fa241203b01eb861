/**
 * Webhook deliveries and Node's environment proxy (Node 24: `NODE_USE_ENV_PROXY=1` or `--use-env-proxy`, with
 * `HTTP_PROXY`/`HTTPS_PROXY`; nodejs.org/api/http.html "Built-in Proxy Support"). A proxy resolves the host itself,
 * so a delivery sent through one would skip the connection-time address check (clients/public-address.ts) and reach
 * a private address for the partner: an SSRF. Each case runs the real worker in a child process started with the
 * proxy settings, against a fake proxy that counts what reaches it; a control request through Node's global agent
 * in the same child proves the proxy really was in force there.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';

/** The fake proxy: counts absolute-form requests and CONNECT tunnels (refused), and every TCP connection. */
interface Counter { server: Server; port: number; connections: number; requests: string[] }
async function listen(onRequest: (counter: Counter) => Parameters<typeof createServer>[1]): Promise<Counter> {
  const counter = { port: 0, connections: 0, requests: [] } as unknown as Counter;
  counter.server = createServer(onRequest(counter));
  counter.server.on('connection', () => counter.connections++);
  counter.server.on('connect', (request, socket) => {
    counter.requests.push(`CONNECT ${request.url}`);
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  await new Promise<void>((resolve) => counter.server.listen(0, '127.0.0.1', resolve));
  counter.port = (counter.server.address() as AddressInfo).port;
  return counter;
}
const close = (counter: Counter) => new Promise((resolve) => counter.server.close(resolve));

const module = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);

/** The child: a staging worker (opt-in per argument) delivering to each URL, then one request through the global agent. */
const CHILD = `
import { request } from 'node:http';
import { createTestClock } from ${module('../clock.ts')};
import { DEVELOPMENT_SEED, seedDevelopmentData } from ${module('../seed/development-seed.ts')};
import { createSqliteStorage } from ${module('../storage/sqlite/sqlite-storage.ts')};
import { deliverDueWebhooks } from ${module('./webhook-worker.ts')};
import { encryptWebhookSecret, newWebhookSecret, webhookSecretKey } from ${module('./webhook-secret.ts')};
const { urls, allowPrivateAddresses, control } = JSON.parse(process.env.CASE);
const storage = createSqliteStorage(':memory:');
const clock = createTestClock();
await seedDevelopmentData(storage, { brandName: 'Gatehouse', now: clock.nowSeconds(), apiAudience: 'http://localhost:3001' });
const key = webhookSecretKey(Buffer.alloc(32, 7));
const clients = [DEVELOPMENT_SEED.confidentialClient.id, DEVELOPMENT_SEED.publicClient.id, DEVELOPMENT_SEED.resourceServer.id];
const failures = [];
const results = [];
for (const url of urls) {
  const clientId = clients[0];
  await storage.webhooks.setEndpoint({ clientId, url, secretCiphertext: encryptWebhookSecret(key, clientId, newWebhookSecret()), createdAt: clock.nowSeconds() });
  const deliveryId = 'msg_' + results.length;
  await storage.webhooks.enqueue({ deliveryId, clientId, eventType: 'client.suspended', payload: '{"type":"client.suspended"}',
    createdAt: clock.nowSeconds(), attempts: 0, nextAttemptAt: clock.nowSeconds(), lastAttemptAt: null, lastStatus: null, deliveredAt: null });
  const run = await deliverDueWebhooks({ storage, clock, secretKey: key, environment: 'staging', allowPrivateAddresses, timeoutSeconds: 5,
    onAttemptFailed: (failure) => failures.push(failure.reason) });
  const logged = (await storage.webhooks.list(clientId, 10)).find((delivery) => delivery.deliveryId === deliveryId);
  results.push({ url, run, attempts: logged.attempts, lastStatus: logged.lastStatus, delivered: logged.deliveredAt !== null, retried: logged.nextAttemptAt !== null, reason: failures.at(-1) ?? null });
  failures.length = 0;
}
// Node's global agent in this same process: the proxy settings were in force.
const controlStatus = await new Promise((resolve) => {
  const outgoing = request(control, (response) => { resolve(response.statusCode); response.resume(); });
  outgoing.on('error', (error) => resolve(error.code));
  outgoing.end();
});
await storage.close();
process.stdout.write(JSON.stringify({ results, controlStatus }));
`;

interface ChildResult {
  results: { url: string; run: { attempted: number; delivered: number }; attempts: number; lastStatus: number; delivered: boolean; retried: boolean; reason: string | null }[];
  controlStatus: number | string;
}

async function runChild(flags: string[], proxyEnv: Record<string, string>, testCase: unknown): Promise<ChildResult> {
  const env: Record<string, string | undefined> = { ...process.env, ...proxyEnv, CASE: JSON.stringify(testCase) };
  // Nothing may be exempted from the proxy by the machine's own settings.
  for (const name of ['NO_PROXY', 'no_proxy', 'NODE_OPTIONS', 'NODE_TEST_CONTEXT']) delete env[name];
  const child = spawn(process.execPath, [...flags, '--input-type=module', '-e', CHILD], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout) as ChildResult;
}

describe('webhook deliveries never go through an environment proxy (Node 24 NODE_USE_ENV_PROXY / --use-env-proxy)', () => {
  let proxy: Counter;
  let target: Counter;

  before(async () => {
    proxy = await listen((counter) => (request, response) => {
      counter.requests.push(`${request.method} ${request.url}`);
      response.end('proxied');
    });
    target = await listen((counter) => (request, response) => {
      counter.requests.push(`${request.method} ${request.url}`);
      response.end();
    });
  });
  after(async () => {
    await close(proxy);
    await close(target);
  });

  const launches: [string, string[], (proxyUrl: string) => Record<string, string>][] = [
    ['NODE_USE_ENV_PROXY=1 with HTTP_PROXY and HTTPS_PROXY', [], (url) => ({ NODE_USE_ENV_PROXY: '1', HTTP_PROXY: url, HTTPS_PROXY: url })],
    ['--use-env-proxy with http_proxy and https_proxy', ['--use-env-proxy'], (url) => ({ http_proxy: url, https_proxy: url })],
  ];

  for (const [name, flags, proxyEnv] of launches) {
    it(`${name}, staging: a delivery to a private address reaches neither the proxy nor the address; it fails (status 0, ENOTPUBLIC) and is retried`, async () => {
      proxy.connections = 0;
      proxy.requests = [];
      target.connections = 0;
      target.requests = [];
      const urls = [`http://localhost:${target.port}/hooks`, `https://localhost:${target.port}/hooks`, `http://127.0.0.1:${target.port}/hooks`, 'http://10.0.0.5/hooks', 'https://169.254.169.254/latest/meta-data/'];
      const { results, controlStatus } = await runChild(flags, proxyEnv(`http://127.0.0.1:${proxy.port}`), {
        urls, allowPrivateAddresses: false, control: `http://localhost:${target.port}/control`,
      });
      assert.equal(controlStatus, 200, 'the global agent went through the proxy: the proxy settings were in force');
      assert.deepEqual(proxy.requests, [`GET http://localhost:${target.port}/control`], 'only the control request reached the proxy');
      assert.equal(proxy.connections, 1);
      assert.equal(target.connections, 0, 'no connection reached the private address');
      for (const result of results) {
        assert.deepEqual({ ...result, url: undefined }, {
          url: undefined, run: { attempted: 1, delivered: 0 }, attempts: 1, lastStatus: 0, delivered: false, retried: true, reason: 'ENOTPUBLIC',
        }, result.url);
      }
    });
  }

  it('--use-env-proxy, staging with GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES: the delivery goes straight to the address, not through the proxy', async () => {
    proxy.connections = 0;
    proxy.requests = [];
    target.connections = 0;
    target.requests = [];
    const { results, controlStatus } = await runChild(['--use-env-proxy'], { HTTP_PROXY: `http://127.0.0.1:${proxy.port}` }, {
      urls: [`http://localhost:${target.port}/hooks`], allowPrivateAddresses: true, control: `http://localhost:${target.port}/control`,
    });
    assert.equal(controlStatus, 200);
    assert.deepEqual(proxy.requests, [`GET http://localhost:${target.port}/control`]);
    assert.deepEqual(target.requests, ['POST /hooks'], 'delivered directly');
    assert.deepEqual(results.map((result) => [result.delivered, result.lastStatus]), [[true, 200]]);
  });
});
