import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { confidentialAuth, startTestServer, type TestServer } from '../testing/harness.ts';
import { openSocket, parseRawResponse } from '../testing/raw-http.ts';
import { DEFAULT_CONNECTION_LIMITS, resolveConnectionLimits } from '../options.ts';

/** Resolves when the server closes the socket, with everything it sent. */
function closedBy(socket: Socket): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  return new Promise((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks).toString('utf8'))));
}

/** Writes `text` one byte every `intervalMilliseconds` until done or the socket closes; returns the bytes written. */
async function trickle(socket: Socket, text: string, intervalMilliseconds: number): Promise<number> {
  let written = 0;
  for (const character of text) {
    if (socket.destroyed || socket.writableEnded || socket.closed) break;
    socket.write(character);
    written++;
    await new Promise((resolve) => setTimeout(resolve, intervalMilliseconds));
  }
  return written;
}

describe('connection limits (issue 11 item 4)', () => {
  describe('timeouts', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({
        connectionLimits: { headersTimeoutMilliseconds: 300, requestTimeoutMilliseconds: 600, keepAliveTimeoutMilliseconds: 200, socketIdleTimeoutMilliseconds: 5_000 },
      });
    });
    after(() => server.close());

    it('cuts a slow sender: headers sent, then the body byte by byte, answers 408 and closes before the body is complete', { timeout: 60_000 }, async () => {
      const body = 'grant_type=refresh_token&refresh_token=' + 'x'.repeat(160);
      const socket = await openSocket(server.url);
      const closed = closedBy(socket);
      socket.write(`POST /oauth/token HTTP/1.1\r\nHost: ${new URL(server.url).host}\r\nAuthorization: ${confidentialAuth()}\r\n`
        + `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`);
      // 200 bytes at 100 ms each would take 20 s; the request timeout is 0.6 s.
      const written = await trickle(socket, body, 100);
      const response = await closed;
      assert.ok(written < body.length, `the server waited for the whole slow body (${written} bytes)`);
      if (response) assert.equal(parseRawResponse(response).status, 408);
    });

    it('cuts a client that sends its headers byte by byte', { timeout: 60_000 }, async () => {
      const head = `GET /health HTTP/1.1\r\nHost: ${new URL(server.url).host}\r\nX-Slow: ${'y'.repeat(150)}\r\n\r\n`;
      const socket = await openSocket(server.url);
      const closed = closedBy(socket);
      const written = await trickle(socket, head, 100);
      const response = await closed;
      assert.ok(written < head.length, 'the server waited for the whole slow header block');
      if (response) assert.equal(parseRawResponse(response).status, 408);
    });

    it('closes an idle keep-alive connection after its response', { timeout: 60_000 }, async () => {
      const socket = await openSocket(server.url);
      const closed = closedBy(socket);
      socket.write(`GET /health HTTP/1.1\r\nHost: ${new URL(server.url).host}\r\n\r\n`);
      const response = parseRawResponse(await closed);
      assert.equal(response.status, 200);
    });
  });

  describe('per-address connection ceiling', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ connectionLimits: { maxConnectionsPerAddress: 2 } });
    });
    after(() => server.close());

    it('closes a connection beyond the ceiling at once and keeps serving the others', { timeout: 60_000 }, async () => {
      const first = await openSocket(server.url);
      const second = await openSocket(server.url);
      const firstClosed = closedBy(first);
      void closedBy(second); // for its error listener: the second connection stays open until the end
      const third = await openSocket(server.url);
      assert.equal(await closedBy(third), '', 'the third connection got an answer');
      first.write(`GET /health HTTP/1.1\r\nHost: ${new URL(server.url).host}\r\nConnection: close\r\n\r\n`);
      assert.equal(parseRawResponse(await firstClosed).status, 200);
      // A slot freed by a closed connection is available again.
      const fourth = await openSocket(server.url);
      const fourthClosed = closedBy(fourth);
      fourth.write(`GET /health HTTP/1.1\r\nHost: ${new URL(server.url).host}\r\nConnection: close\r\n\r\n`);
      assert.equal(parseRawResponse(await fourthClosed).status, 200);
      second.destroy();
    });
  });

  describe('resolveConnectionLimits', () => {
    it('applies the documented defaults', () => {
      assert.deepEqual(resolveConnectionLimits(undefined), DEFAULT_CONNECTION_LIMITS);
      assert.deepEqual(DEFAULT_CONNECTION_LIMITS, {
        headersTimeoutMilliseconds: 10_000, requestTimeoutMilliseconds: 30_000, keepAliveTimeoutMilliseconds: 5_000,
        socketIdleTimeoutMilliseconds: 60_000, maxConnectionsPerAddress: 100,
      });
    });

    it('refuses zero or negative timeouts, a headers timeout above the request timeout, and a negative ceiling', () => {
      assert.throws(() => resolveConnectionLimits({ requestTimeoutMilliseconds: 0 }), /requestTimeoutMilliseconds/);
      assert.throws(() => resolveConnectionLimits({ keepAliveTimeoutMilliseconds: -1 }), /keepAliveTimeoutMilliseconds/);
      assert.throws(() => resolveConnectionLimits({ headersTimeoutMilliseconds: 40_000 }), /must not exceed/);
      assert.throws(() => resolveConnectionLimits({ maxConnectionsPerAddress: -1 }), /maxConnectionsPerAddress/);
      assert.equal(resolveConnectionLimits({ maxConnectionsPerAddress: 0 }).maxConnectionsPerAddress, 0);
    });
  });
});
