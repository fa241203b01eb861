import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Test double of the Gatehouse authorization server's introspection endpoint
 * (RFC 7662, contract in the platform API's brief): `POST /oauth/token/introspect`,
 * form body, HTTP Basic client authentication with form-urlencoded ID and secret
 * (RFC 6749 §2.3.1). Only for tests; not exported from the package.
 */

export interface StubTokenClaims {
  scope?: string;
  client_id?: string;
  client_name?: string;
  token_type?: string;
  exp?: number;
  iat?: number;
  sub?: string;
  aud?: string | string[];
  iss?: string;
  jti?: string;
  [member: string]: unknown;
}

export interface IssueOptions {
  readonly scope: string;
  readonly subjectUrn: string;
  readonly expiresInSeconds?: number;
  /** Members to override or add (e.g. a foreign `aud`). `undefined` values remove a member. */
  readonly claims?: StubTokenClaims;
}

export interface IntrospectionCall {
  readonly tokenTypeHint: string | null;
  readonly contentType: string | undefined;
}

export interface StubAuthorizationServer {
  readonly issuer: string;
  /** Issues an opaque access token valid for the configured audience. */
  issue(options: IssueOptions): string;
  /** Makes the authorization server answer `{"active":false}` for the token from now on. */
  revoke(token: string): void;
  /** Introspection requests received (with valid client authentication or not). */
  readonly calls: IntrospectionCall[];
  /** When set, every introspection answers this HTTP status with an empty body. */
  failWithStatus: number | undefined;
  close(): Promise<void>;
}

export interface StubOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly audience: string;
  readonly urnNamespace?: string;
  /** Epoch milliseconds; shared with the system under test. */
  readonly now: () => number;
}

/** RFC 6749 §2.3.1 / Appendix B: decode application/x-www-form-urlencoded. */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  response.end(JSON.stringify(body));
}

/** Starts the stub on 127.0.0.1 with an ephemeral port. */
export async function startStubAuthorizationServer(options: StubOptions): Promise<StubAuthorizationServer> {
  const tokens = new Map<string, StubTokenClaims>();
  const revoked = new Set<string>();
  const urnNamespace = options.urnNamespace ?? 'gatehouse';
  let issuer = '';

  function authenticates(header: string | undefined): boolean {
    const match = /^Basic ([A-Za-z0-9+/]+=*)$/.exec(header ?? '');
    if (match?.[1] === undefined) {
      return false;
    }
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const separator = decoded.indexOf(':');
    if (separator < 0) {
      return false;
    }
    return formDecode(decoded.slice(0, separator)) === options.clientId && formDecode(decoded.slice(separator + 1)) === options.clientSecret;
  }

  const server = createServer((request, response) => {
    void (async () => {
      if (request.method !== 'POST' || request.url !== '/oauth/token/introspect') {
        sendJson(response, 404, { error: 'not_found' });
        return;
      }
      const body = new URLSearchParams(await readBody(request));
      stub.calls.push({ tokenTypeHint: body.get('token_type_hint'), contentType: request.headers['content-type'] });
      if (stub.failWithStatus !== undefined) {
        response.writeHead(stub.failWithStatus);
        response.end();
        return;
      }
      if (!authenticates(request.headers.authorization)) {
        sendJson(response, 401, { error: 'invalid_client' }, { 'www-authenticate': 'Basic realm="gatehouse"' });
        return;
      }
      if (!request.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) {
        sendJson(response, 400, { error: 'invalid_request' });
        return;
      }
      const token = body.get('token') ?? '';
      const claims = tokens.get(token);
      const nowSeconds = Math.floor(options.now() / 1000);
      if (claims === undefined || revoked.has(token) || (claims.exp !== undefined && claims.exp <= nowSeconds)) {
        sendJson(response, 200, { active: false });
        return;
      }
      sendJson(response, 200, { active: true, ...claims });
    })().catch(() => {
      response.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const stub: StubAuthorizationServer = {
    issuer,
    calls: [],
    failWithStatus: undefined,
    issue(issueOptions) {
      const token = randomBytes(32).toString('base64url');
      const nowSeconds = Math.floor(options.now() / 1000);
      const claims: StubTokenClaims = {
        scope: issueOptions.scope,
        client_id: '7af385a0-284d-48c5-b225-362862085551',
        client_name: 'Ledgerly Sync',
        token_type: 'Bearer',
        exp: nowSeconds + (issueOptions.expiresInSeconds ?? 900),
        iat: nowSeconds,
        sub: 'a3e3fc33-5e1b-4cac-81ad-b7accdcd5313',
        aud: options.audience,
        iss: issuer,
        jti: randomUUID(),
        [`urn:${urnNamespace}:params:oauth:subject_urn`]: issueOptions.subjectUrn,
        ...issueOptions.claims,
      };
      tokens.set(token, JSON.parse(JSON.stringify(claims)) as StubTokenClaims);
      return token;
    },
    revoke(token) {
      revoked.add(token);
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
  return stub;
}
