/**
 * Test support: a scriptable stand-in for Gatehouse's metadata, token and revocation endpoints, for
 * behaviour the real server does not produce on demand (503s, 429s, malformed metadata). It rotates
 * refresh tokens like Gatehouse: presenting a rotated-out refresh token answers `invalid_grant`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A scripted answer of the token endpoint to a refresh request. */
export type ScriptedResponse =
  | { kind: 'success' }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'error'; status: number; error: string; description?: string };

export interface RecordedRequest {
  path: string;
  form: URLSearchParams;
  authorization: string | undefined;
}

export interface FakeAuthorizationServer {
  readonly issuer: string;
  readonly requests: RecordedRequest[];
  /** Answers to the next refresh requests, in order; when empty, refreshes succeed. */
  readonly refreshScript: ScriptedResponse[];
  /** Every access and refresh token issued so far. */
  readonly issuedTokens: string[];
  /** Metadata members to override (or `undefined` to delete). */
  metadataOverrides: Record<string, unknown>;
  expiresInSeconds: number;
  subjectUrn: string;
  /** While set, a code exchange is answered without a refresh_token (a broken server: Gatehouse always issues one). */
  omitRefreshToken: boolean;
  /** An error the revocation endpoint answers with instead of 200 (RFC 7009 §2.2.1), while set. */
  revocationError: { status: number; error: string; description?: string; headers?: Record<string, string> } | undefined;
  /** A code this server accepts once. */
  issueCode(): string;
  tokenRequests(grantType: string): RecordedRequest[];
  close(): Promise<void>;
}

export async function startFakeAuthorizationServer(): Promise<FakeAuthorizationServer> {
  const requests: RecordedRequest[] = [];
  const refreshScript: ScriptedResponse[] = [];
  const issuedTokens: string[] = [];
  const codes = new Set<string>();
  // Each code starts a grant; a grant has one current refresh token. Presenting any other token of the grant
  // (a rotated-out one) revokes the grant, as Gatehouse does without its reuse grace window.
  const grantOf = new Map<string, number>();
  const currentOf = new Map<number, string>();
  let grants = 0;
  const token = (prefix: string) => {
    const value = `${prefix}_${randomBytes(32).toString('base64url')}`;
    issuedTokens.push(value);
    return value;
  };

  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const path = new URL(request.url ?? '/', fake.issuer).pathname;
    requests.push({ path, form, authorization: request.headers.authorization });
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
    };
    const tokens = (grant: number) => {
      const refreshToken = token('rt');
      grantOf.set(refreshToken, grant);
      currentOf.set(grant, refreshToken);
      return { access_token: token('at'), token_type: 'Bearer', expires_in: fake.expiresInSeconds, refresh_token: refreshToken, scope: 'users:read', 'urn:gatehouse:params:oauth:subject_urn': fake.subjectUrn };
    };

    if (path === '/.well-known/oauth-authorization-server') {
      const metadata: Record<string, unknown> = {
        issuer: fake.issuer,
        authorization_endpoint: `${fake.issuer}/oauth/authorize`,
        token_endpoint: `${fake.issuer}/oauth/token`,
        revocation_endpoint: `${fake.issuer}/oauth/revoke`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'none'],
        authorization_response_iss_parameter_supported: true,
      };
      for (const [name, value] of Object.entries(fake.metadataOverrides)) {
        if (value === undefined) delete metadata[name];
        else metadata[name] = value;
      }
      json(200, metadata);
      return;
    }
    if (path === '/oauth/revoke') {
      const refusal = fake.revocationError;
      if (refusal) return json(refusal.status, { error: refusal.error, ...(refusal.description ? { error_description: refusal.description } : {}) }, refusal.headers);
      const grant = grantOf.get(form.get('token') ?? '');
      if (grant !== undefined && currentOf.get(grant) === form.get('token')) currentOf.delete(grant);
      response.writeHead(200).end();
      return;
    }
    if (path !== '/oauth/token') {
      response.writeHead(404).end();
      return;
    }
    const grantType = form.get('grant_type');
    if (grantType === 'authorization_code') {
      const code = form.get('code') ?? '';
      if (!codes.delete(code)) return json(400, { error: 'invalid_grant', error_description: 'unknown code' });
      const issued: Record<string, unknown> = tokens(++grants);
      if (fake.omitRefreshToken) delete issued.refresh_token;
      return json(200, issued);
    }
    if (grantType === 'refresh_token') {
      const scripted = refreshScript.shift() ?? { kind: 'success' };
      if (scripted.kind === 'status') {
        response.writeHead(scripted.status, scripted.headers ?? {}).end(scripted.body ?? '');
        return;
      }
      if (scripted.kind === 'error') return json(scripted.status, { error: scripted.error, ...(scripted.description ? { error_description: scripted.description } : {}) });
      const presented = form.get('refresh_token') ?? '';
      const grant = grantOf.get(presented);
      if (grant === undefined || currentOf.get(grant) !== presented) {
        if (grant !== undefined) currentOf.delete(grant);
        return json(400, { error: 'invalid_grant', error_description: 'refresh token was already used; the authorization is revoked' });
      }
      return json(200, tokens(grant));
    }
    json(400, { error: 'unsupported_grant_type' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const fake: FakeAuthorizationServer = {
    issuer: `http://127.0.0.1:${port}`,
    requests,
    refreshScript,
    issuedTokens,
    metadataOverrides: {},
    expiresInSeconds: 900,
    revocationError: undefined,
    omitRefreshToken: false,
    subjectUrn: 'urn:gatehouse:company:d4290d20-6495-471e-bcac-5d9e0a4d844e',
    issueCode() {
      const code = `code_${randomBytes(16).toString('base64url')}`;
      codes.add(code);
      return code;
    },
    tokenRequests: (grantType) => requests.filter((request) => request.path === '/oauth/token' && request.form.get('grant_type') === grantType),
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return fake;
}
