/**
 * Test support: HTTP/1.1 over a raw socket, for requests fetch() cannot send (two headers of one name,
 * a body sent byte by byte).
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  /** Header names in lower case; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: string;
}

/** Opens a socket to the server at `url` (http only). */
export function openSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Parses the first response in `text` (Content-Length bodies only; good enough for these tests). */
export function parseRawResponse(text: string): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  const head = end === -1 ? text : text.slice(0, end);
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = end === -1 ? '' : text.slice(end + 4, end + 4 + Number(headers['content-length'] ?? text.length));
  return { status: Number(statusLine?.split(' ')[1]), headers, body };
}

/**
 * Sends one request with exactly these header lines (`[name, value]` pairs, repeats allowed) and reads
 * the response until the server closes the connection (`Connection: close` is added).
 */
export async function rawRequest(url: string, method: string, path: string, headers: [string, string][], body = ''): Promise<RawResponse> {
  const socket = await openSocket(url);
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${new URL(url).host}`, 'Connection: close', ...headers.map(([name, value]) => `${name}: ${value}`)];
  if (body) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
  await closed;
  return parseRawResponse(Buffer.concat(chunks).toString('utf8'));
}
