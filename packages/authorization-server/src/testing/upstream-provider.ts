/**
 * Test support for issue 10 §2: a real OpenID Provider that no one here wrote (`oidc-provider`, its
 * in-memory adapter and its own development login and consent pages) on 127.0.0.1 with an ephemeral port,
 * standing in for the platform's identity provider; and a browserless driver through those pages.
 *
 * The provider's HTTP server listens first (so Gatehouse can be configured with its issuer), and the
 * provider itself is created once Gatehouse's redirect URI is known (`attach`).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

/** The claims the provider releases for one account (its login name is the account id and `sub`). */
export interface UpstreamAccount {
  email: string;
  email_verified: boolean;
  name: string;
}

export interface TestUpstreamProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  accounts: Map<string, UpstreamAccount>;
  /** Creates the provider with one confidential client whose redirect URI is `redirectUri`. */
  attach(redirectUri: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the provider's HTTP (or, with `tls`, HTTPS) server on 127.0.0.1.
 * @param tls a certificate and key for `127.0.0.1` (the run-it-for-real test trusts it via NODE_EXTRA_CA_CERTS).
 */
export async function startUpstreamProvider(options: { tls?: { cert: string; key: string } } = {}): Promise<TestUpstreamProvider> {
  let handler: ((request: IncomingMessage, response: ServerResponse) => void) | undefined;
  const listener = (request: IncomingMessage, response: ServerResponse) => {
    if (handler) handler(request, response);
    else response.writeHead(503).end();
  };
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, listener) : createHttpServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const issuer = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const accounts = new Map<string, UpstreamAccount>();
  const clientId = 'gatehouse';
  const clientSecret = 'upstream-test-client-secret-0123456789abcdef';
  return {
    issuer, clientId, clientSecret, accounts,
    async attach(redirectUri) {
      const { privateKey } = await generateKeyPair('RS256', { extractable: true });
      const provider = new Provider(issuer, {
        clients: [{
          client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri],
          grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic',
        }],
        jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'upstream-test-key', alg: 'RS256', use: 'sig' }] },
        cookies: { keys: ['upstream-test-cookie-key-0123456789'] },
        claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
        features: { devInteractions: { enabled: true } },
        ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
        async findAccount(_context: unknown, accountId: string) {
          const account = accounts.get(accountId);
          return account && { accountId, async claims() { return { sub: accountId, ...account }; } };
        },
      });
      handler = provider.callback();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A fetch with a cookie jar per host (enough for the provider's and Gatehouse's cookies on 127.0.0.1); `jar` is open to tests. */
export function cookieFetch() {
  const jar = new Map<string, Map<string, string>>();
  const hostOf = (url: string) => new URL(url).host;
  const send = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const cookies = jar.get(hostOf(url)) ?? new Map<string, string>();
    const header = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string> ?? {}), ...(header ? { cookie: header } : {}) } });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const index = pair!.indexOf('=');
      const name = pair!.slice(0, index).trim();
      const value = pair!.slice(index + 1).trim();
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line) || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
    jar.set(hostOf(url), cookies);
    return response;
  };
  return Object.assign(send, { jar, cookiesOf: (url: string) => jar.get(hostOf(url)) ?? new Map<string, string>() });
}

/**
 * Follows redirects from `url` (GET), through the provider's development login (as `accountId`) and consent
 * pages, until a response that is not a redirect or whose target starts with `stopAt`.
 * @returns the last response and its URL (for a stop: the redirect's target, not fetched).
 */
export async function followThroughUpstream(
  fetchWithCookies: ReturnType<typeof cookieFetch>, url: string, accountId: string, options: { stopAt?: string; abort?: boolean } = {},
): Promise<{ url: string; response?: Response }> {
  let current = url;
  for (let hop = 0; hop < 20; hop++) {
    if (options.stopAt && current.startsWith(options.stopAt)) return { url: current };
    const response = await fetchWithCookies(current);
    if (response.status >= 300 && response.status < 400) {
      current = new URL(response.headers.get('location')!, current).href;
      continue;
    }
    const interaction = /\/interaction\/([A-Za-z0-9_-]+)$/.exec(new URL(current).pathname);
    if (response.status === 200 && interaction) {
      const page = await response.text();
      if (options.abort) {
        current = new URL(`/interaction/${interaction[1]}/abort`, current).href;
        continue;
      }
      const form: Record<string, string> = page.includes('name="login"')
        ? { prompt: 'login', login: accountId, password: 'any' }
        : { prompt: 'consent' };
      const submitted = await fetchWithCookies(current, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
      if (submitted.status < 300 || submitted.status >= 400) return { url: current, response: submitted };
      current = new URL(submitted.headers.get('location')!, current).href;
      continue;
    }
    return { url: current, response };
  }
  throw new Error('too many redirects');
}
