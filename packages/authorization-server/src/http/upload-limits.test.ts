import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Browser, inputValue, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { UPLOAD_BODY_LIMIT_BYTES } from './upload-limits.ts';

/**
 * Sends a request's head and the first bytes of its body, never the rest, and resolves with the status line and
 * headers of the answer the server sends while the body is still incomplete: a server that waited for the whole
 * body would answer only at its request timeout (30 s), after this test's own timeout.
 */
function answerBeforeBody(server: TestServer, path: string, headers: Record<string, string>, firstBytes: string): Promise<{ status: number; head: string; body: string }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = received.slice(0, end);
      const length = /\r\ncontent-length: (\d+)/i.exec(head)?.[1];
      if (length !== undefined && Buffer.byteLength(received.slice(end + 4), 'latin1') < Number(length)) return;
      socket.destroy();
      resolve({ status: Number(head.split(' ')[1]), head, body: Buffer.from(received.slice(end + 4), 'latin1').toString('utf8') });
    });
    socket.on('close', () => reject(new Error(`connection closed before an answer: ${JSON.stringify(received.slice(0, 200))}`)));
    const lines = [`POST ${path} HTTP/1.1`, `host: ${hostname}:${port}`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
    socket.write(`${lines.join('\r\n')}\r\n\r\n${firstBytes}`);
  });
}

const BOUNDARY = 'gatehouse-upload-test';
const firstPart = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="logo"; filename="logo.png"\r\nContent-Type: image/png\r\n\r\n${'x'.repeat(1024)}`;

describe('multipart upload limits (http/upload-limits.ts), checked before the body is read', { timeout: 20_000 }, () => {
  let server: TestServer;
  let cookie: string;
  before(async () => {
    server = await startTestServer();
    const browser = new Browser();
    const login = await browser.get(`${server.url}/portal`);
    const answer = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: '/portal', email: seed.developer.email, password: seed.developer.password });
    assert.equal(answer.status, 303);
    cookie = [...browser.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  });
  after(() => server.close());

  for (const path of ['/portal/clients', '/portal/clients/00000000-0000-4000-8000-000000000000/logo']) {
    it(`${path}: a declared size over the limit is a 413 page before the upload is sent, and the connection is closed`, async () => {
      const answer = await answerBeforeBody(server, path, {
        cookie, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': String(UPLOAD_BODY_LIMIT_BYTES + 1),
      }, firstPart);
      assert.equal(answer.status, 413);
      assert.match(answer.head, /\r\nconnection: close/i);
      assert.match(answer.head, /\r\ncache-control: no-store/i);
      assert.match(answer.body, /The upload is too large/);
      assert.match(answer.body, /href="\/portal"/, 'a way onward');
    });

    it(`${path}: a body of undeclared size (chunked) is refused with 411, unread`, async () => {
      const answer = await answerBeforeBody(server, path, {
        cookie, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'transfer-encoding': 'chunked',
      }, `400\r\n${firstPart.slice(0, 1024)}\r\n`);
      assert.equal(answer.status, 411);
      assert.match(answer.body, /did not say its size/);
    });

    it(`${path}: without a session the sign-in step answers before the body is read (nothing parsed for an anonymous caller)`, async () => {
      const answer = await answerBeforeBody(server, path, {
        'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': String(UPLOAD_BODY_LIMIT_BYTES),
      }, firstPart);
      assert.equal(answer.status, 200);
      assert.match(answer.body, /name="password"/, 'the sign-in form');
      assert.match(answer.head, /\r\nconnection: close/i);
    });
  }

  it('a registration under the limit is still read and answered in the form', async () => {
    const browser = new Browser();
    for (const part of cookie.split('; ')) {
      const index = part.indexOf('=');
      browser.cookies.set(part.slice(0, index), part.slice(index + 1));
    }
    const page = await browser.get(`${server.url}/portal/clients/new`);
    const form = new FormData();
    form.append('_csrf', inputValue(page.text, '_csrf')!);
    form.append('client_name', '');
    form.append('logo', new Blob([new Uint8Array(2 * 1024 * 1024)], { type: 'image/png' }), 'big.png');
    const answer = await browser.request(`${server.url}/portal/clients`, { method: 'POST', body: form });
    assert.equal(answer.status, 400, 'the form again, with its errors');
    assert.match(answer.text, /id="logo-error"/);
  });
});
