/**
 * What a partner's receiver (or its DNS) can do to the delivery worker, outside development (staging, public
 * addresses only, webhook-secret.ts privateWebhookTargetsAllowed): other spellings of a private address, a name
 * resolving to several addresses of which one is private, a receiver or a resolver that never answers, an endless
 * body, oversized headers. Each case checks what did not happen (no connection to the private listener, no
 * run held past the timeout, no crash) and what the delivery log says (status 0, retried).
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, afterEach, before, describe, it, mock } from 'node:test';
import { createTestClock } from '../clock.ts';
import { DEVELOPMENT_SEED, seedDevelopmentData } from '../seed/development-seed.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { deliverDueWebhooks, startWebhookWorker, webhookBackoffSeconds, type WebhookDeliveryOptions } from './webhook-worker.ts';
import { encryptWebhookSecret, newWebhookSecret, webhookSecretKey } from './webhook-secret.ts';

const secretKey = webhookSecretKey(Buffer.alloc(32, 3));
const clientId = DEVELOPMENT_SEED.confidentialClient.id;

/** A listener on 127.0.0.1 that counts TCP connections and requests; `answer` decides what a request gets. */
interface Listener { server: Server; port: number; connections: number; requests: number; sockets: Set<Socket> }
async function listener(answer: (request: IncomingMessage, response: ServerResponse) => void = (_request, response) => response.end()): Promise<Listener> {
  const result = { port: 0, connections: 0, requests: 0, sockets: new Set<Socket>() } as unknown as Listener;
  result.server = createHttpServer((request, response) => {
    result.requests++;
    answer(request, response);
  });
  track(result);
  await new Promise<void>((resolve) => result.server.listen(0, '127.0.0.1', resolve));
  result.port = (result.server.address() as AddressInfo).port;
  return result;
}
/** A raw TCP listener: `onSocket` writes whatever bytes the case needs (a half answer, nothing at all). */
async function tcpListener(onSocket: (socket: Socket) => void): Promise<Listener> {
  const result = { port: 0, connections: 0, requests: 0, sockets: new Set<Socket>() } as unknown as Listener;
  result.server = createTcpServer((socket) => {
    socket.on('error', () => {});
    // Read (and drop) the request, so the worker's closing the connection is seen ('end', then 'close').
    socket.resume();
    onSocket(socket);
  });
  track(result);
  await new Promise<void>((resolve) => result.server.listen(0, '127.0.0.1', resolve));
  result.port = (result.server.address() as AddressInfo).port;
  return result;
}
function track(result: Listener) {
  result.server.on('connection', (socket: Socket) => {
    result.connections++;
    result.sockets.add(socket);
    socket.on('close', () => result.sockets.delete(socket));
  });
}
async function close(open: Listener) {
  for (const socket of open.sockets) socket.destroy();
  await new Promise((resolve) => open.server.close(resolve));
}

/** Replaces dns.lookup for public-address.ts's named import (a builtin's named exports follow syncBuiltinESMExports). */
function fakeDns(answer: (hostname: string, options: dns.LookupOptions, callback: (error: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void) => void) {
  mock.method(dns, 'lookup', (hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    answer(hostname, options, (error, addresses) => {
      if (error) return callback(error);
      // As dns.lookup answers: every address with all, else the first one.
      if (options.all) return callback(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  });
  syncBuiltinESMExports();
}

describe('webhook deliveries outside development: what a receiver or its DNS can do (staging, public addresses only)', () => {
  let storage: Storage;
  const clock = createTestClock();
  const failures: string[] = [];
  let counter = 0;

  before(async () => {
    storage = createSqliteStorage(':memory:');
    await seedDevelopmentData(storage, { brandName: 'Gatehouse', now: clock.nowSeconds(), apiAudience: 'http://localhost:3001' });
  });
  after(() => storage.close());
  afterEach(() => {
    mock.restoreAll();
    syncBuiltinESMExports();
    failures.length = 0;
  });

  /** Sets the client's webhook to `url` (as stored before a rule, or by a name later rebound) with one due delivery. */
  async function queue(url: string): Promise<string> {
    await storage.webhooks.setEndpoint({ clientId, url, secretCiphertext: encryptWebhookSecret(secretKey, clientId, newWebhookSecret()), createdAt: clock.nowSeconds() });
    const deliveryId = `msg_limits_${++counter}`;
    await storage.webhooks.enqueue({
      deliveryId, clientId, eventType: 'client.suspended', payload: '{"type":"client.suspended"}',
      createdAt: clock.nowSeconds(), attempts: 0, nextAttemptAt: clock.nowSeconds(), lastAttemptAt: null, lastStatus: null, deliveredAt: null,
    });
    return deliveryId;
  }
  const run = (overrides: Partial<WebhookDeliveryOptions> = {}) => deliverDueWebhooks({
    storage, clock, secretKey, environment: 'staging', timeoutSeconds: 1, onAttemptFailed: (failure) => failures.push(failure.reason), ...overrides,
  });
  const logged = async (deliveryId: string) => {
    const delivery = (await storage.webhooks.list(clientId, 100)).find((entry) => entry.deliveryId === deliveryId)!;
    return { attempts: delivery.attempts, lastStatus: delivery.lastStatus, delivered: delivery.deliveredAt !== null, nextAttemptAt: delivery.nextAttemptAt };
  };
  const failedOnce = { attempts: 1, lastStatus: 0, delivered: false, nextAttemptAt: clock.nowSeconds() + webhookBackoffSeconds(1) };

  it('decimal, octal, hex, short, IPv4-mapped and unspecified spellings of a loopback address get no connection (ENOTPUBLIC); with the staging opt-in they reach it', async () => {
    const receiver = await listener();
    try {
      const spellings = ['2130706433', '0177.0.0.1', '0x7f.1', '0x7f000001', '127.1', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '0.0.0.0', '0'];
      for (const host of spellings) {
        const deliveryId = await queue(`http://${host}:${receiver.port}/hooks`);
        assert.deepEqual(await run(), { attempted: 1, delivered: 0 }, host);
        assert.deepEqual(await logged(deliveryId), failedOnce, host);
      }
      assert.equal(receiver.connections, 0, 'no spelling reached the listener');
      assert.deepEqual(failures, spellings.map(() => 'ENOTPUBLIC'));
      // The spellings are live: where private targets are allowed, each reaches the listener (0.0.0.0 too, on Linux).
      for (const host of ['2130706433', '0177.0.0.1', '0x7f.1', '[::ffff:127.0.0.1]']) {
        await queue(`http://${host}:${receiver.port}/hooks`);
        assert.deepEqual(await run({ allowPrivateAddresses: true }), { attempted: 1, delivered: 1 }, host);
      }
      assert.equal(receiver.requests, 4);
    } finally {
      await close(receiver);
    }
  });

  it('a name that resolves to a public and a private address (in either order) gets no connection at all (ENOTPUBLIC), whichever address would be tried first', async () => {
    const receiver = await listener();
    try {
      for (const addresses of [[{ address: '93.184.215.14', family: 4 }, { address: '127.0.0.1', family: 4 }], [{ address: '127.0.0.1', family: 4 }, { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 }],
        [{ address: '93.184.215.14', family: 4 }, { address: '::1', family: 6 }], [{ address: '93.184.215.14', family: 4 }, { address: 'fd00:ec2::254', family: 6 }]]) {
        let asked = 0;
        fakeDns((_hostname, _options, callback) => {
          asked++;
          callback(null, addresses);
        });
        const deliveryId = await queue(`http://hooks.partner.example:${receiver.port}/hooks`);
        assert.deepEqual(await run(), { attempted: 1, delivered: 0 }, JSON.stringify(addresses));
        assert.equal(asked, 1, 'resolved once: the addresses checked are the ones that would be connected to');
        assert.deepEqual(await logged(deliveryId), failedOnce);
        mock.restoreAll();
        syncBuiltinESMExports();
      }
      assert.equal(receiver.connections, 0);
      assert.deepEqual(failures, ['ENOTPUBLIC', 'ENOTPUBLIC', 'ENOTPUBLIC', 'ENOTPUBLIC']);
    } finally {
      await close(receiver);
    }
  });

  it('a resolver that never answers holds the run no longer than the timeout: status 0 (ELOOKUPTIMEOUT), retried', async () => {
    // Answered only at the end: the process's one webhook lookup slot is freed when the lookup returns.
    let answer: (() => void) | undefined;
    fakeDns((_hostname, _options, callback) => (answer = () => callback(Object.assign(new Error('timed out'), { code: 'EAI_AGAIN' }), [])));
    const deliveryId = await queue('https://hooks.partner.example/hooks');
    const started = performance.now();
    assert.deepEqual(await run(), { attempted: 1, delivered: 0 });
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 900 && elapsed < 3000, `${elapsed} ms`);
    assert.deepEqual(await logged(deliveryId), failedOnce);
    assert.deepEqual(failures, ['ELOOKUPTIMEOUT']);
    answer?.();
  });

  it('a receiver that accepts the connection and never answers (over http, or never finishing the TLS handshake), or stops half-way through its headers, is given up after the timeout (status 0) and its connection closed', async () => {
    const silent = await tcpListener(() => {});
    const silentTls = await tcpListener(() => {});
    const halfHeaders = await tcpListener((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n'));
    try {
      for (const [scheme, receiver] of [['http', silent], ['https', silentTls], ['http', halfHeaders]] as const) {
        const deliveryId = await queue(`${scheme}://127.0.0.1:${receiver.port}/hooks`);
        const started = performance.now();
        assert.deepEqual(await run({ allowPrivateAddresses: true }), { attempted: 1, delivered: 0 });
        const elapsed = performance.now() - started;
        assert.ok(elapsed >= 900 && elapsed < 3000, `${elapsed} ms`);
        assert.deepEqual(await logged(deliveryId), failedOnce);
        assert.equal(receiver.connections, 1);
        await waitFor(() => receiver.sockets.size === 0, 'the worker closed its connection');
      }
      assert.deepEqual(failures, ['ABORT_ERR', 'ABORT_ERR', 'ABORT_ERR']);
    } finally {
      await close(silent);
      await close(silentTls);
      await close(halfHeaders);
    }
  });

  it('a 2xx followed by an endless body is delivered at once: the body is never read, the connection is closed', async () => {
    let written = 0;
    const receiver = await listener((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        while (!response.destroyed && written < 1024 ** 3) {
          written += chunk.length;
          if (!response.write(chunk)) return response.once('drain', pump);
        }
      };
      pump();
    });
    try {
      const deliveryId = await queue(`http://127.0.0.1:${receiver.port}/hooks`);
      const started = performance.now();
      assert.deepEqual(await run({ allowPrivateAddresses: true, timeoutSeconds: 10 }), { attempted: 1, delivered: 1 });
      assert.ok(performance.now() - started < 2000);
      assert.deepEqual((await logged(deliveryId)).delivered, true);
      await waitFor(() => receiver.sockets.size === 0, 'the worker closed its connection');
      assert.ok(written < 64 * 1024 ** 2, `${written} bytes were sent before the connection closed, not a gigabyte`);
    } finally {
      await close(receiver);
    }
  });

  it('a 101 upgrade answer, endless 1xx answers and a broken status line are each a failed attempt within the timeout, never a run that waits forever', async () => {
    const answers: [string, string, number][] = [
      // Node closes the socket of an upgrade nobody asked for and emitted nothing: the run waited forever (and every later one with it).
      ['HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', 'http_101', 101],
      ['HTTP/1.1 100 Continue\r\n\r\n'.repeat(500), 'ABORT_ERR', 0],
      ['HTTP/1.1 102 Processing\r\n\r\n', 'ABORT_ERR', 0],
      ['HTTP/1.1 0 Nothing\r\n\r\n', 'HPE_INVALID_STATUS', 0],
    ];
    for (const [answer, reason, status] of answers) {
      const receiver = await tcpListener((socket) => socket.write(answer));
      try {
        const deliveryId = await queue(`http://127.0.0.1:${receiver.port}/hooks`);
        let timer: NodeJS.Timeout | undefined;
        const finished = await Promise.race([run({ allowPrivateAddresses: true }), new Promise((resolve) => (timer = setTimeout(() => resolve('still waiting after 3 s'), 3000)))]);
        clearTimeout(timer);
        assert.deepEqual(finished, { attempted: 1, delivered: 0 }, reason);
        assert.deepEqual(await logged(deliveryId), { ...failedOnce, lastStatus: status }, reason);
        assert.deepEqual(failures.splice(0), [reason]);
      } finally {
        await close(receiver);
      }
    }
  });

  it('headers larger than Node\'s limit are a failed attempt (status 0, HPE_HEADER_OVERFLOW), not a crash', async () => {
    const receiver = await tcpListener((socket) => socket.write(`HTTP/1.1 200 OK\r\nx-padding: ${'a'.repeat(64 * 1024)}\r\n\r\n`));
    try {
      const deliveryId = await queue(`http://127.0.0.1:${receiver.port}/hooks`);
      assert.deepEqual(await run({ allowPrivateAddresses: true }), { attempted: 1, delivered: 0 });
      assert.deepEqual(await logged(deliveryId), failedOnce);
      assert.deepEqual(failures, ['HPE_HEADER_OVERFLOW']);
    } finally {
      await close(receiver);
    }
  });
});

async function waitFor(condition: () => boolean, what: string) {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 2000) assert.fail(`${what}: not within 2 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('webhook deliveries: a run and its lease (webhooks.claimDue)', () => {
  it('a run starts no delivery whose request could outlast its lease: another instance claiming meanwhile never gets one still being sent, and none is sent twice', async () => {
    const storage = createSqliteStorage(':memory:');
    const clock = createTestClock();
    await seedDevelopmentData(storage, { brandName: 'Gatehouse', now: clock.nowSeconds(), apiAudience: 'http://localhost:3001' });
    const served: string[] = [];
    const claimedElsewhere: string[] = [];
    // A slow receiver: each request takes the whole timeout (10 s on the injected clock); at its end another
    // instance's run claims what is due, as it would every 5 s.
    const receiver = await listener((request, response) => {
      served.push(String(request.headers['webhook-id']));
      clock.advanceSeconds(10);
      storage.webhooks.claimDue(clock.nowSeconds(), 50, 40).then((claimed) => {
        claimedElsewhere.push(...claimed.map((delivery) => delivery.deliveryId));
        response.end();
      }, () => response.end());
    });
    try {
      const start = clock.nowSeconds();
      await storage.webhooks.setEndpoint({ clientId, url: `http://127.0.0.1:${receiver.port}/hooks`, secretCiphertext: encryptWebhookSecret(secretKey, clientId, newWebhookSecret()), createdAt: start });
      const ids = [1, 2, 3, 4, 5].map((n) => `msg_lease_${n}`);
      for (const deliveryId of ids) {
        await storage.webhooks.enqueue({
          deliveryId, clientId, eventType: 'client.suspended', payload: '{"type":"client.suspended"}',
          createdAt: start, attempts: 0, nextAttemptAt: start, lastAttemptAt: null, lastStatus: null, deliveredAt: null,
        });
      }
      const options = { storage, clock, secretKey, environment: 'development' as const, timeoutSeconds: 10 };
      // The lease is 40 s (timeout + 30): three 10 s requests fit; a fourth, started at +30 s, could still run at +40 s.
      const first = await deliverDueWebhooks(options);
      assert.deepEqual(claimedElsewhere, [], 'no other instance could claim a delivery while this run might still send it');
      assert.deepEqual(first, { attempted: 3, delivered: 3 });
      assert.deepEqual(served, ids.slice(0, 3));
      const left = (await storage.webhooks.list(clientId, 10)).filter((delivery) => ids.slice(3).includes(delivery.deliveryId));
      assert.deepEqual(left.map((delivery) => [delivery.attempts, delivery.lastStatus, delivery.deliveredAt]), [[0, null, null], [0, null, null]], 'the rest not attempted');
      // Their lease ends at +40 s: the next run sends them.
      clock.advanceSeconds(start + 40 - clock.nowSeconds());
      assert.deepEqual(await deliverDueWebhooks(options), { attempted: 2, delivered: 2 });
      assert.deepEqual(served, ids, 'each delivery sent once');
      assert.deepEqual(claimedElsewhere, []);
    } finally {
      await close(receiver);
      await storage.close();
    }
  });
});

describe('webhook worker: stopping', () => {
  it('stop() waits for the delivery under way only: the rest of the batch is not sent and stays due, unattempted', async () => {
    const storage = createSqliteStorage(':memory:');
    const clock = createTestClock();
    await seedDevelopmentData(storage, { brandName: 'Gatehouse', now: clock.nowSeconds(), apiAudience: 'http://localhost:3001' });
    const served: string[] = [];
    let firstArrived: () => void = () => {};
    const arrived = new Promise<void>((resolve) => (firstArrived = resolve));
    // Each answer takes 500 ms.
    const receiver = await listener((request, response) => {
      served.push(String(request.headers['webhook-id']));
      firstArrived();
      setTimeout(() => response.end(), 500);
    });
    try {
      const now = clock.nowSeconds();
      await storage.webhooks.setEndpoint({ clientId, url: `http://127.0.0.1:${receiver.port}/hooks`, secretCiphertext: encryptWebhookSecret(secretKey, clientId, newWebhookSecret()), createdAt: now });
      const ids = ['msg_stop_1', 'msg_stop_2', 'msg_stop_3'];
      for (const deliveryId of ids) {
        await storage.webhooks.enqueue({
          deliveryId, clientId, eventType: 'client.suspended', payload: '{"type":"client.suspended"}',
          createdAt: now, attempts: 0, nextAttemptAt: now, lastAttemptAt: null, lastStatus: null, deliveredAt: null,
        });
      }
      const worker = startWebhookWorker({ storage, clock, secretKey, environment: 'development', intervalSeconds: 0.02 });
      await arrived;
      const started = performance.now();
      await worker.stop();
      const waited = performance.now() - started;
      assert.deepEqual(served, ['msg_stop_1'], 'nothing started after stop()');
      assert.ok(waited < 1200, `stop() waited ${waited} ms: the one answer under way, not the batch`);
      const logged = await storage.webhooks.list(clientId, 10);
      assert.deepEqual(ids.map((id) => { const d = logged.find((entry) => entry.deliveryId === id)!; return [d.attempts, d.deliveredAt !== null]; }),
        [[1, true], [0, false], [0, false]]);
    } finally {
      await close(receiver);
      await storage.close();
    }
  });
});
