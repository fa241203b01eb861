/**
 * A minimal keep-alive HTTP/1.1 client for the load generator: one request at a time per connection
 * (closed loop), responses framed by Content-Length or chunked encoding, headers kept as lower-case
 * name/value pairs. Operations of several requests (authorize → consent → token) are plain async code,
 * each response is checked, and latency is taken per operation — what autocannon's fixed request
 * pipeline makes awkward — at a few microseconds of generator CPU per request.
 */
import { connect, type Socket } from 'node:net';

export interface HttpResponse {
  status: number;
  /** Lower-case names, in order; repeated headers (set-cookie) appear repeatedly. */
  headers: [string, string][];
  body: string;
}

export class ConnectionClosed extends Error {}

const CRLFCRLF = Buffer.from('\r\n\r\n');
/** How long opening a connection may take before it counts as failed, in milliseconds. */
const CONNECT_TIMEOUT_MS = 10_000;

export class HttpConnection {
  private socket!: Socket;
  private readonly host: string;
  private readonly port: number;
  private buffer: Buffer = Buffer.alloc(0);
  private waiter: { resolve: (response: HttpResponse) => void; reject: (error: Error) => void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private broken = false;
  private readonly hostHeader: string;

  private constructor(host: string, port: number) {
    this.host = host;
    this.port = port;
    this.hostHeader = `${host}:${port}`;
  }

  static async open(url: string): Promise<HttpConnection> {
    const { hostname, port } = new URL(url);
    const connection = new HttpConnection(hostname, Number(port));
    await connection.connect();
    return connection;
  }

  /**
   * Opens a new socket, settling within CONNECT_TIMEOUT_MS. Every listener is bound to its own socket and
   * ignores events once a newer socket replaced it: a destroyed socket emits 'close' a turn later, and
   * that stale 'close' used to destroy the reconnected socket before it connected, leaving this promise
   * (and the load loop awaiting it) pending forever.
   */
  private connect(): Promise<void> {
    this.buffer = Buffer.alloc(0);
    this.broken = false;
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.host, port: this.port, noDelay: true });
      this.socket = socket;
      const current = () => this.socket === socket;
      let settled = false;
      const settle = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!error) {
          resolve();
          return;
        }
        this.broken = true;
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(() => settle(new ConnectionClosed(`connect to ${this.hostHeader} timed out after ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      socket.once('connect', () => settle());
      socket.on('error', (error) => {
        if (!settled) settle(error);
        else if (current()) this.fail(error);
      });
      socket.on('data', (chunk: Buffer) => {
        if (current()) this.onData(chunk);
      });
      socket.on('close', () => {
        if (!settled) settle(new ConnectionClosed(`connection to ${this.hostHeader} closed while connecting`));
        else if (current()) this.fail(new ConnectionClosed('connection closed'));
      });
    });
  }

  /** Reconnects after an error left the connection unusable. */
  async ensureOpen(): Promise<void> {
    if (this.broken) await this.connect();
  }

  close(): void {
    this.broken = true;
    this.socket.destroy();
  }

  request(method: string, path: string, headers: Record<string, string> = {}, body = '', timeoutMs = 30_000): Promise<HttpResponse> {
    if (this.broken) return Promise.reject(new ConnectionClosed('connection is broken'));
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.hostHeader}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    if (body || method === 'POST') head += `content-length: ${Buffer.byteLength(body)}\r\n`;
    return new Promise<HttpResponse>((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.timer = setTimeout(() => this.fail(new Error('request timed out')), timeoutMs);
      this.socket.write(`${head}\r\n${body}`);
    });
  }

  private fail(error: Error): void {
    this.broken = true;
    const waiter = this.waiter;
    this.waiter = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.socket.destroy();
    waiter?.reject(error);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const response = this.parse();
    if (!response) return;
    const waiter = this.waiter;
    this.waiter = undefined;
    if (this.timer) clearTimeout(this.timer);
    if (!waiter) {
      this.fail(new Error('unexpected response'));
      return;
    }
    waiter.resolve(response);
  }

  /** One complete response from the buffer, or undefined while it is incomplete. */
  private parse(): HttpResponse | undefined {
    const buffer = this.buffer;
    const headEnd = buffer.indexOf(CRLFCRLF);
    if (headEnd < 0) return undefined;
    const lines = buffer.toString('latin1', 0, headEnd).split('\r\n');
    const status = Number(lines[0]!.slice(9, 12));
    const headers: [string, string][] = [];
    let contentLength = -1;
    let chunked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.push([name, value]);
      if (name === 'content-length') contentLength = Number(value);
      else if (name === 'transfer-encoding' && value.toLowerCase().includes('chunked')) chunked = true;
    }
    const bodyStart = headEnd + 4;
    if (!chunked) {
      const length = Math.max(0, contentLength);
      if (buffer.length < bodyStart + length) return undefined;
      const body = buffer.toString('utf8', bodyStart, bodyStart + length);
      this.buffer = buffer.subarray(bodyStart + length);
      return { status, headers, body };
    }
    const parts: Buffer[] = [];
    let offset = bodyStart;
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', offset);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buffer.toString('latin1', offset, lineEnd), 16);
      const dataStart = lineEnd + 2;
      if (buffer.length < dataStart + size + 2) return undefined;
      if (size === 0) {
        const trailerEnd = buffer.indexOf(CRLFCRLF, lineEnd);
        const end = trailerEnd === lineEnd ? lineEnd + 4 : trailerEnd < 0 ? -1 : trailerEnd + 4;
        if (end < 0) return undefined;
        this.buffer = buffer.subarray(end);
        return { status, headers, body: Buffer.concat(parts).toString('utf8') };
      }
      parts.push(buffer.subarray(dataStart, dataStart + size));
      offset = dataStart + size + 2;
    }
  }
}

export function headerValue(response: HttpResponse, name: string): string | undefined {
  for (const [key, value] of response.headers) if (key === name) return value;
  return undefined;
}

/** Every Set-Cookie of a response as name → value. */
export function responseCookies(response: HttpResponse): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const [key, value] of response.headers) {
    if (key !== 'set-cookie') continue;
    const pair = value.split(';', 1)[0]!;
    const index = pair.indexOf('=');
    if (index > 0) cookies.set(pair.slice(0, index).trim(), pair.slice(index + 1).trim());
  }
  return cookies;
}
