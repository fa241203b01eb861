import { createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { isUuid, secretsEqual } from '@gatehouse/protocol';

/**
 * A stub of the Gatehouse authorization server's resource-server-facing endpoints, as a web-standard
 * handler (`Request` → `Response`), so one implementation serves an injected `fetch` in unit tests
 * and a real listening server (examples/platform-api) alike:
 *
 * - `POST /oauth/token/introspect` (RFC 7662; form body; `client_secret_basic` with form-urlencoded
 *   ID and secret, RFC 6749 §2.3.1) → `{ active: false }` or the token's members;
 * - `GET /.well-known/jwks.json` (RFC 7517) → the published ES256 keys;
 * - `GET /oauth/revoked-access-tokens?since=<epoch seconds>[&after=<jti>]` (Basic) → `{ revoked: [{ jti,
 *   exp, revoked_at }], next_since, next_after?, server_time }`, ascending by `revoked_at` then `jti`, at
 *   most 1 000 entries (a full page names its last `jti` in `next_after`), tokens already expired omitted;
 *   401 `invalid_client` on bad credentials.
 *
 * Access tokens are RFC 9068 JWTs signed with jose (header `{ alg: 'ES256', typ: 'at+jwt', kid }`) or
 * opaque random strings. Revoking, refreshing (superseding) and suspending a client behave as at the
 * real server: the token turns inactive and its `jti` enters the feed. Only for tests.
 */

/** How {@link StubAuthorizationServer.issue} signs a token the real server would never issue. */
export type ForgedSigning =
  /** `alg: none`, empty signature (RFC 7519 §6). */
  | 'alg-none'
  /** HS256 keyed with the published public key's PEM: the algorithm-confusion attack. */
  | 'hs256-public-key'
  /** RS256 with a key of its own, under the published `kid`. */
  | 'rs256'
  /** ES256 with a key that is not published, under its own `kid`. */
  | 'unpublished-key'
  /** ES256 with a key that is not published, under the published `kid`. */
  | 'wrong-key-same-kid';

export interface StubIssueOptions {
  readonly scope: string;
  readonly subjectUrn: string;
  /** Default the demo confidential client `7af385a0-…`. */
  readonly clientId?: string;
  /** Default `Ledgerly Sync`. */
  readonly clientName?: string;
  /** Default 900. */
  readonly expiresInSeconds?: number;
  /** Members to override or add (e.g. a foreign `aud`); an `undefined` value removes the member. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** JWT header `typ`; default `at+jwt`. */
  readonly typ?: string;
  /** Sign a JWT the authorization server would not have issued; such tokens are unknown to introspection. */
  readonly forge?: ForgedSigning;
}

/** One request the stub received. */
export interface StubRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** Whether valid resource-server credentials came with it. */
  readonly authenticated: boolean;
  readonly contentType: string | null;
  /** The introspection body's `token_type_hint`, else `null`. */
  readonly tokenTypeHint: string | null;
}

/** HTTP statuses the stub answers instead of its normal answer, per endpoint (e.g. 500 to simulate an outage). */
export interface StubFailures {
  introspection?: number | undefined;
  revocationFeed?: number | undefined;
  jwks?: number | undefined;
}

export interface StubAuthorizationServerOptions {
  /** The issuer identifier the stub claims (where it will be reachable). */
  readonly issuer: string;
  /** `aud` of the tokens it issues. */
  readonly audience: string;
  /** The only credentials introspection and the feed accept. */
  readonly resourceServerClientId: string;
  readonly resourceServerClientSecret: string;
  /** Default `gatehouse`. */
  readonly urnNamespace?: string;
  /** Clock, epoch milliseconds; shared with the system under test. */
  readonly now: () => number;
  /** `jwt` (RFC 9068, the default) or `opaque`. */
  readonly accessTokenFormat?: 'jwt' | 'opaque';
}

export interface StubAuthorizationServer {
  readonly issuer: string;
  /** The endpoints, as a web-standard handler. */
  handle(request: Request): Promise<Response>;
  /** `fetch` served by {@link handle}, for injecting into a verifier without sockets. */
  readonly fetch: (url: string, init?: RequestInit) => Promise<Response>;
  /** Issues an access token for the configured audience. */
  issue(options: StubIssueOptions): Promise<string>;
  /** Revokes one access token (RFC 7009): inactive from now on, and listed in the feed. */
  revoke(token: string): void;
  /** A refresh: issues a new access token with the same grant and supersedes (revokes) the old one. */
  refresh(token: string): Promise<string>;
  /** Suspends a client: every token of it is revoked (and listed in the feed), as the real server does. */
  suspendClient(clientId: string): void;
  /** Generates a new signing key with a new `kid`; by default the previous key stays published. */
  rotateSigningKey(options?: { readonly keepPrevious?: boolean }): Promise<void>;
  /** The `kid` tokens are signed with now. */
  readonly signingKeyId: string;
  /** The requests received, in order. */
  readonly requests: StubRequest[];
  readonly failures: StubFailures;
}

/** The Gatehouse feed contract's page size. */
const FEED_PAGE_SIZE = 1000;

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

interface IssuedToken {
  readonly members: Record<string, unknown>;
  readonly jti: string;
  readonly clientId: string;
  readonly exp: number;
  revokedAt: number | undefined;
}

interface FeedEntry {
  readonly jti: string;
  readonly exp: number;
  readonly revoked_at: number;
}

async function createSigningKey(kidPrefix = ''): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = `${kidPrefix}${await calculateJwkThumbprint(publicJwk)}`;
  return { kid, privateKey, publicJwk: { ...publicJwk, kid, alg: 'ES256', use: 'sig' } };
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** RFC 6749 §2.3.1 / Appendix B: decode application/x-www-form-urlencoded. */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return Response.json(body, { status, headers: { 'cache-control': 'no-store', ...headers } });
}

/** Creates the stub (generates its first signing key). */
export async function createStubAuthorizationServer(options: StubAuthorizationServerOptions): Promise<StubAuthorizationServer> {
  const urnNamespace = options.urnNamespace ?? 'gatehouse';
  const format = options.accessTokenFormat ?? 'jwt';
  const nowSeconds = () => Math.floor(options.now() / 1000);
  const tokens = new Map<string, IssuedToken>();
  const feed: FeedEntry[] = [];
  let signingKey = await createSigningKey();
  let publishedKeys: SigningKey[] = [signingKey];
  let rsaKey: CryptoKey | undefined;
  const requests: StubRequest[] = [];
  const failures: StubFailures = {};

  function authenticates(header: string | null): boolean {
    const match = /^Basic ([A-Za-z0-9+/]+=*)$/.exec(header ?? '');
    if (match?.[1] === undefined) {
      return false;
    }
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const separator = decoded.indexOf(':');
    if (separator < 0) {
      return false;
    }
    try {
      return (
        formDecode(decoded.slice(0, separator)) === options.resourceServerClientId &&
        // As a real authorization server must (SPEC decision 9): the secret compared in constant time.
        secretsEqual(formDecode(decoded.slice(separator + 1)), options.resourceServerClientSecret)
      );
    } catch {
      return false;
    }
  }

  function revokeIssued(token: IssuedToken): void {
    if (token.revokedAt !== undefined) {
      return;
    }
    token.revokedAt = nowSeconds();
    feed.push({ jti: token.jti, exp: token.exp, revoked_at: token.revokedAt });
  }

  async function sign(members: Record<string, unknown>, typ: string, forge: ForgedSigning | undefined): Promise<string> {
    switch (forge) {
      case undefined:
        return new SignJWT(members).setProtectedHeader({ alg: 'ES256', typ, kid: signingKey.kid }).sign(signingKey.privateKey);
      case 'alg-none':
        return `${base64url({ alg: 'none', typ, kid: signingKey.kid })}.${base64url(members)}.`;
      case 'hs256-public-key': {
        const { kty, crv, x, y } = signingKey.publicJwk;
        const pem = createPublicKey({ key: { kty, crv, x, y }, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
        return new SignJWT(members).setProtectedHeader({ alg: 'HS256', typ, kid: signingKey.kid }).sign(new TextEncoder().encode(String(pem)));
      }
      case 'rs256': {
        rsaKey ??= (await generateKeyPair('RS256')).privateKey;
        return new SignJWT(members).setProtectedHeader({ alg: 'RS256', typ, kid: signingKey.kid }).sign(rsaKey);
      }
      case 'unpublished-key': {
        const other = await createSigningKey('unpublished-');
        return new SignJWT(members).setProtectedHeader({ alg: 'ES256', typ, kid: other.kid }).sign(other.privateKey);
      }
      case 'wrong-key-same-kid': {
        const other = await createSigningKey();
        return new SignJWT(members).setProtectedHeader({ alg: 'ES256', typ, kid: signingKey.kid }).sign(other.privateKey);
      }
    }
  }

  async function issueToken(issueOptions: StubIssueOptions): Promise<string> {
    const issuedAt = nowSeconds();
    const members: Record<string, unknown> = {
      iss: options.issuer,
      aud: options.audience,
      sub: 'a3e3fc33-5e1b-4cac-81ad-b7accdcd5313',
      client_id: issueOptions.clientId ?? '7af385a0-284d-48c5-b225-362862085551',
      client_name: issueOptions.clientName ?? 'Ledgerly Sync',
      scope: issueOptions.scope,
      jti: randomUUID(),
      iat: issuedAt,
      exp: issuedAt + (issueOptions.expiresInSeconds ?? 900),
      [`urn:${urnNamespace}:params:oauth:subject_urn`]: issueOptions.subjectUrn,
    };
    for (const [name, value] of Object.entries(issueOptions.claims ?? {})) {
      if (value === undefined) {
        delete members[name];
      } else {
        members[name] = value;
      }
    }
    const token = format === 'opaque' && issueOptions.forge === undefined
      ? randomBytes(32).toString('base64url')
      : await sign(members, issueOptions.typ ?? 'at+jwt', issueOptions.forge);
    // A forged token is unknown to the authorization server: introspection answers inactive.
    if (issueOptions.forge === undefined) {
      tokens.set(token, {
        // RFC 9449 §6.2: a token bound with cnf.jkt introspects as token_type DPoP.
        members: { token_type: members['cnf'] === undefined ? 'Bearer' : 'DPoP', ...members },
        jti: String(members['jti']),
        clientId: String(members['client_id']),
        exp: Number(members['exp']),
        revokedAt: undefined,
      });
    }
    return token;
  }

  async function introspection(request: Request): Promise<Response> {
    const contentType = request.headers.get('content-type');
    const body = new URLSearchParams(await request.text());
    const authenticated = authenticates(request.headers.get('authorization'));
    record(request, authenticated, body.get('token_type_hint'));
    if (failures.introspection !== undefined) {
      return new Response(null, { status: failures.introspection });
    }
    if (!authenticated) {
      return json(401, { error: 'invalid_client' }, { 'www-authenticate': 'Basic realm="gatehouse"' });
    }
    if (!contentType?.startsWith('application/x-www-form-urlencoded')) {
      return json(400, { error: 'invalid_request' });
    }
    const issued = tokens.get(body.get('token') ?? '');
    const exp = issued?.members['exp'];
    if (issued === undefined || issued.revokedAt !== undefined || (typeof exp === 'number' && exp <= nowSeconds())) {
      return json(200, { active: false });
    }
    return json(200, { active: true, ...issued.members });
  }

  function revocationFeed(request: Request, query: URLSearchParams): Response {
    const authenticated = authenticates(request.headers.get('authorization'));
    record(request, authenticated, null);
    if (failures.revocationFeed !== undefined) {
      return new Response(null, { status: failures.revocationFeed });
    }
    if (!authenticated) {
      return json(401, { error: 'invalid_client' }, { 'www-authenticate': 'Basic realm="gatehouse"' });
    }
    const since = Number(query.get('since'));
    if (!/^\d+$/.test(query.get('since') ?? '')) {
      return json(400, { error: 'invalid_request', error_description: 'since must be epoch seconds' });
    }
    const after = query.get('after');
    if (after !== null && !isUuid(after)) {
      return json(400, { error: 'invalid_request', error_description: 'after must be the jti of a feed entry' });
    }
    const serverTime = nowSeconds();
    // As the real server: by revoked_at then jti; `since` alone inclusive, with `after` past that entry.
    const entries = feed
      .filter((entry) => (after === null ? entry.revoked_at >= since : entry.revoked_at > since || (entry.revoked_at === since && entry.jti > after)))
      .filter((entry) => entry.exp > serverTime)
      .sort((a, b) => a.revoked_at - b.revoked_at || (a.jti < b.jti ? -1 : a.jti > b.jti ? 1 : 0))
      .slice(0, FEED_PAGE_SIZE);
    // Continue from the last entry's second, or from the same `since` when there was nothing; a full page
    // names its last entry, after which the next page starts.
    const last = entries.at(-1);
    const nextSince = last?.revoked_at ?? since;
    return json(200, { revoked: entries, next_since: nextSince, ...(entries.length === FEED_PAGE_SIZE ? { next_after: last?.jti } : {}), server_time: serverTime });
  }

  function record(request: Request, authenticated: boolean, tokenTypeHint: string | null): void {
    const url = new URL(request.url);
    requests.push({
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      authenticated,
      contentType: request.headers.get('content-type'),
      tokenTypeHint,
    });
  }

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method === 'POST' && url.pathname === '/oauth/token/introspect') {
      return introspection(request);
    }
    if (request.method === 'GET' && url.pathname === '/oauth/revoked-access-tokens') {
      return revocationFeed(request, url.searchParams);
    }
    if (request.method === 'GET' && url.pathname === '/.well-known/jwks.json') {
      record(request, false, null);
      if (failures.jwks !== undefined) {
        return new Response(null, { status: failures.jwks });
      }
      return json(200, { keys: publishedKeys.map((key) => key.publicJwk) }, { 'cache-control': 'public, max-age=300' });
    }
    return json(404, { error: 'not_found' });
  }

  const stub: StubAuthorizationServer = {
    issuer: options.issuer,
    handle,
    fetch: (url, init) => handle(new Request(url, init)),
    issue: issueToken,
    revoke(token) {
      const issued = tokens.get(token);
      if (issued !== undefined) {
        revokeIssued(issued);
      }
    },
    async refresh(token) {
      const issued = tokens.get(token);
      if (issued === undefined) {
        throw new Error('refresh of a token the stub did not issue');
      }
      const members = issued.members;
      const next = await issueToken({
        scope: String(members['scope']),
        subjectUrn: String(members[`urn:${urnNamespace}:params:oauth:subject_urn`]),
        clientId: issued.clientId,
        clientName: typeof members['client_name'] === 'string' ? members['client_name'] : undefined,
      });
      revokeIssued(issued);
      return next;
    },
    suspendClient(clientId) {
      for (const issued of tokens.values()) {
        if (issued.clientId === clientId) {
          revokeIssued(issued);
        }
      }
    },
    async rotateSigningKey(rotation) {
      signingKey = await createSigningKey();
      publishedKeys = rotation?.keepPrevious === false ? [signingKey] : [...publishedKeys, signingKey];
    },
    get signingKeyId() {
      return signingKey.kid;
    },
    requests,
    failures,
  };
  return stub;
}
