import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createStubAuthorizationServer } from '@gatehouse/resource-server/testing';
import type { StubAuthorizationServer as StubHandler, StubIssueOptions } from '@gatehouse/resource-server/testing';

/**
 * The resource-server toolkit's stub authorization server (`@gatehouse/resource-server/testing`:
 * introspection, JWKS, revocation feed; JWT or opaque access tokens) listening on 127.0.0.1 with an
 * ephemeral port, for black-box tests and the benchmark. Only for tests; not exported from the package.
 */

export type IssueOptions = StubIssueOptions;

export interface IntrospectionCall {
  readonly tokenTypeHint: string | null;
  readonly contentType: string | null;
}

export interface StubAuthorizationServer extends Omit<StubHandler, 'handle' | 'fetch'> {
  /** Introspection requests received (with valid client authentication or not). */
  readonly calls: readonly IntrospectionCall[];
  /** Feed requests received. */
  readonly feedCalls: number;
  close(): Promise<void>;
}

export interface StubOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly audience: string;
  readonly urnNamespace?: string;
  /** Epoch milliseconds; shared with the system under test. */
  readonly now: () => number;
  /** `opaque` (default here, as the authorization server's default) or `jwt` (RFC 9068, for local mode). */
  readonly accessTokenFormat?: 'opaque' | 'jwt';
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/** Serves a web-standard handler on a Node request. */
async function serve(handler: StubHandler, request: IncomingMessage, response: ServerResponse, origin: string): Promise<void> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === 'string') headers.set(name, value);
    else if (Array.isArray(value)) for (const item of value) headers.append(name, item);
  }
  const method = request.method ?? 'GET';
  // The stub's endpoints take forms or nothing: text bodies suffice.
  const body = method === 'GET' || method === 'HEAD' ? undefined : (await readBody(request)).toString('utf8');
  const answer = await handler.handle(new Request(new URL(request.url ?? '/', origin), { method, headers, body }));
  const answerHeaders: Record<string, string> = {};
  answer.headers.forEach((value, name) => {
    answerHeaders[name] = value;
  });
  response.writeHead(answer.status, answerHeaders);
  response.end(Buffer.from(await answer.arrayBuffer()));
}

/** Starts the stub on 127.0.0.1 with an ephemeral port. */
export async function startStubAuthorizationServer(options: StubOptions): Promise<StubAuthorizationServer> {
  let handler: StubHandler | undefined;
  const server = createServer((request, response) => {
    if (handler === undefined) {
      response.writeHead(503).end();
      return;
    }
    serve(handler, request, response, issuer).catch(() => response.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const stub = await createStubAuthorizationServer({
    issuer,
    audience: options.audience,
    resourceServerClientId: options.clientId,
    resourceServerClientSecret: options.clientSecret,
    urnNamespace: options.urnNamespace,
    now: options.now,
    accessTokenFormat: options.accessTokenFormat ?? 'opaque',
  });
  handler = stub;
  return {
    issuer,
    issue: (issueOptions) => stub.issue(issueOptions),
    revoke: (token) => stub.revoke(token),
    refresh: (token) => stub.refresh(token),
    suspendClient: (clientId) => stub.suspendClient(clientId),
    rotateSigningKey: (rotation) => stub.rotateSigningKey(rotation),
    get signingKeyId() {
      return stub.signingKeyId;
    },
    requests: stub.requests,
    failures: stub.failures,
    get calls() {
      return stub.requests
        .filter((request) => request.path === '/oauth/token/introspect')
        .map((request) => ({ tokenTypeHint: request.tokenTypeHint, contentType: request.contentType }));
    },
    get feedCalls() {
      return stub.requests.filter((request) => request.path === '/oauth/revoked-access-tokens').length;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
