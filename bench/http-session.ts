/**
 * Setting up what the load phases need through the real HTTP flows, with fetch and a cookie jar:
 * a Gatehouse login session (and a CSRF cookie and token for the login phase), and an oidc-provider
 * login session plus one real authorization code (the template of its seeded codes).
 */
import { createHash, randomBytes } from 'node:crypto';
import { DEVELOPMENT_SEED } from '../packages/authorization-server/src/seed/development-seed.ts';
import { basicAuthorization, hiddenInputs, type Endpoints } from './workloads.ts';

/** A setup request (and reading its body) that takes longer than this fails, in milliseconds: a run never hangs on one. */
const REQUEST_TIMEOUT_MS = 30_000;

export class CookieJar {
  readonly cookies = new Map<string, string>();

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  absorb(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const index = pair!.indexOf('=');
      const name = pair!.slice(0, index).trim();
      const expired = attributes.some((attribute) => /^\s*(max-age=0|expires=thu, 01 jan 1970)/i.test(attribute));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, pair!.slice(index + 1).trim());
    }
  }

  async request(url: string, init: RequestInit = {}): Promise<{ status: number; location: string | undefined; text: string }> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', this.header());
    const response = await fetch(url, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    this.absorb(response);
    return { status: response.status, location: response.headers.get('location') ?? undefined, text: await response.text() };
  }
}

function inputValue(page: string, name: string): string | undefined {
  return hiddenInputs(page)[name];
}

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizeQuery(endpoints: Endpoints, scope: string, challenge: string, state: string, loginHint?: string): string {
  return new URLSearchParams({
    response_type: 'code', client_id: endpoints.clientId, redirect_uri: endpoints.redirectUri, scope, state,
    code_challenge: challenge, code_challenge_method: 'S256', prompt: 'consent', ...(loginHint === undefined ? {} : { login_hint: loginHint }),
  }).toString();
}

/**
 * Logs `user` in to Gatehouse through the login page. Returns the session and CSRF cookies, and the
 * CSRF cookie + token + return_to the login phase posts with.
 */
export async function gatehouseLogin(baseUrl: string, endpoints: Endpoints, scope: string, user: { email: string; password: string }) {
  const jar = new CookieJar();
  const page = await jar.request(`${baseUrl}/oauth/authorize?${authorizeQuery(endpoints, scope, pkce().challenge, 'login-state')}`);
  const token = inputValue(page.text, '_csrf');
  const returnTo = inputValue(page.text, 'return_to');
  if (page.status !== 200 || !token || !returnTo) throw new Error(`Gatehouse: expected the login page, got ${page.status}`);
  const csrf = { cookie: `gatehouse_csrf=${jar.cookies.get('gatehouse_csrf')}`, token, returnTo };
  const login = await jar.request(`${baseUrl}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: token, return_to: returnTo, email: user.email, password: user.password }),
  });
  if (login.status !== 303 || !jar.cookies.has('gatehouse_session')) throw new Error(`Gatehouse: login failed with ${login.status}`);
  return { session: new Map(jar.cookies), csrf };
}

/**
 * One whole oidc-provider flow through its interactions (login, then consent) and the code exchange.
 * Leaves a login session (returned) and, in the provider's store, the code and grant the benchmark copies.
 * `account`: the account the session belongs to (sent as `login_hint`, which the benchmark's login
 * interaction signs in, bench/servers.ts); default the benchmark's one account.
 */
export async function oidcLogin(baseUrl: string, endpoints: Endpoints, scope: string, account?: string) {
  const jar = new CookieJar();
  const { verifier, challenge } = pkce();
  let response = await jar.request(`${baseUrl}/auth?${authorizeQuery(endpoints, scope, challenge, 'login-state', account)}`);
  for (let hop = 0; hop < 10 && response.location && !response.location.startsWith(endpoints.redirectUri); hop++) {
    response = await jar.request(new URL(response.location, baseUrl).href);
  }
  if (!response.location?.startsWith(endpoints.redirectUri)) throw new Error(`oidc-provider: the flow did not reach the redirect URI (${response.status} ${response.text.slice(0, 200)})`);
  const code = new URL(response.location).searchParams.get('code');
  if (!code) throw new Error(`oidc-provider: no code in ${response.location}`);
  const exchange = await fetch(`${baseUrl}${endpoints.token}`, {
    method: 'POST',
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuthorization(endpoints.clientId, endpoints.clientSecret) },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: endpoints.redirectUri, code_verifier: verifier }),
  });
  const tokens = (await exchange.json()) as Record<string, unknown>;
  if (exchange.status !== 200 || typeof tokens.refresh_token !== 'string') throw new Error(`oidc-provider: exchange failed: ${JSON.stringify(tokens)}`);
  const session = new Map([...jar.cookies].filter(([name]) => name.startsWith('_session')));
  if (session.size === 0) throw new Error('oidc-provider: no session cookie');
  return { session, tokens };
}

export const GATEHOUSE_CLIENT = DEVELOPMENT_SEED.confidentialClient;
