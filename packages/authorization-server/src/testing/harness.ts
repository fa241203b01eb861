/**
 * Test support: a real listening authorization server on an ephemeral port with in-memory SQLite,
 * the development seed and an injectable clock; and a browserless driver for login and consent.
 */
import { hash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createAuthorizationServer } from '../authorization-server.ts';
import { createTestClock } from '../clock.ts';
import type { AuthorizationServerOptions } from '../options.ts';
import { DEVELOPMENT_SEED, seedDevelopmentData } from '../seed/development-seed.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';

export const seed = DEVELOPMENT_SEED;
export const API_AUDIENCE = 'http://localhost:3001';

export interface TestServer {
  url: string;
  issuer: string;
  app: FastifyInstance;
  storage: Storage;
  clock: ReturnType<typeof createTestClock>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * @param clock the server's time; default a test clock at 1 800 000 000 that moves only when a test moves it.
 *   Tests with other processes on the machine's clock (a CLI run as a partner runs it) pass one that follows
 *   real time (`createRealTimeTestClock`).
 */
export async function startTestServer(overrides: Partial<AuthorizationServerOptions> = {}, clock: TestServer['clock'] = createTestClock()): Promise<TestServer> {
  const storage = overrides.storage ?? createSqliteStorage(':memory:');
  await seedDevelopmentData(storage, { brandName: 'Gatehouse', now: clock.nowSeconds(), apiAudience: API_AUDIENCE });
  // The issuer names the port, so it is chosen before the server exists; another process of a parallel run may
  // take it between freePort's close and this listen (EADDRINUSE, seen in CI): then again, on another port.
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const app = await createAuthorizationServer({
      issuer, environment: 'development', storage, accessTokenAudience: API_AUDIENCE,
      tokenHmacKey: randomBytes(32), clock, logger: false, ...overrides,
    });
    try {
      await app.listen({ port, host: '127.0.0.1' });
    } catch (error) {
      await app.close();
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 5) continue;
      throw error;
    }
    return serverHandle(issuer, app, storage, clock);
  }
}

function serverHandle(issuer: string, app: FastifyInstance, storage: Storage, clock: TestServer['clock']): TestServer {
  return {
    url: issuer, issuer, app, storage, clock,
    async close() {
      await app.close();
      await storage.close();
    },
  };
}

/** A clock at the machine's time that a test can still move ahead (`advanceSeconds` adds an offset). */
export function createRealTimeTestClock(): TestServer['clock'] {
  let offsetSeconds = 0;
  return {
    nowSeconds: () => Math.floor(Date.now() / 1000) + offsetSeconds,
    advanceSeconds: (seconds: number) => {
      offsetSeconds += seconds;
    },
  };
}

export function pkcePair(): { codeVerifier: string; codeChallenge: string } {
  const codeVerifier = randomBytes(32).toString('base64url');
  return { codeVerifier, codeChallenge: hash('sha256', codeVerifier, 'base64url') };
}

/** HTTP Basic with form-urlencoded credentials (RFC 6749 §2.3.1). */
export function basic(clientId: string, clientSecret: string, encode = true): string {
  const part = (value: string) => (encode ? encodeURIComponent(value) : value);
  return `Basic ${Buffer.from(`${part(clientId)}:${part(clientSecret)}`).toString('base64')}`;
}

export const confidentialAuth = () => basic(seed.confidentialClient.id, seed.confidentialClient.secret);

/** POST a form; returns status, headers and parsed JSON (or undefined). */
export async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  const text = await response.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
}

/** A cookie-keeping browser stand-in that does not follow redirects. */
export class Browser {
  readonly cookies = new Map<string, string>();

  async request(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; text: string; location: string | undefined }> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const index = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, index), pair!.slice(index + 1));
    }
    const location = response.headers.get('location') ?? undefined;
    return { status: response.status, headers: response.headers, text: await response.text(), location };
  }

  get(url: string) {
    return this.request(url);
  }

  post(url: string, form: Record<string, string>) {
    return this.request(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
  }
}

/** The value of a hidden or named input in a page. */
export function inputValue(page: string, name: string): string | undefined {
  const match = new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"`).exec(page);
  return match ? decodeEntities(match[1]!) : undefined;
}

export function hiddenInputs(page: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const match of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) out[match[1]!] = decodeEntities(match[2]!);
  return out;
}

/**
 * What a page's language button for `locale` submits, as a browser submits it: the button's `formaction`, and the
 * hidden inputs of the one form its `form` attribute names (not the page's other forms: a confirmation's own form
 * carries `confirm=yes`, its language form does not), with `locale` added (pages/layout.ts `LanguageForm`).
 */
export function languageSwitchForm(page: string, locale: string): { action: string; body: URLSearchParams } {
  const button = new RegExp(`<button type="submit" form="([^"]+)" formaction="([^"]+)" name="locale" value="${locale}"`).exec(page);
  if (!button) throw new Error('the language switch submits no form of the page');
  const form = page.slice(page.indexOf(`id="${button[1]}"`));
  const body = new URLSearchParams();
  for (const match of form.slice(0, form.indexOf('</form>')).matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) body.append(match[1]!, decodeEntities(match[2]!));
  body.append('locale', locale);
  return { action: decodeEntities(button[2]!), body };
}

function decodeEntities(value: string): string {
  return value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

export function authorizeUrl(server: Pick<TestServer, 'url'>, parameters: Record<string, string | undefined>): string {
  const url = new URL('/oauth/authorize', server.url);
  for (const [name, value] of Object.entries(parameters)) if (value !== undefined) url.searchParams.set(name, value);
  return url.href;
}

export interface FlowOptions {
  clientId?: string;
  redirectUri?: string;
  scope?: string;
  state?: string;
  codeChallenge?: string | null;
  user?: { email: string; password: string };
  /** Subject URN to pick on the consent page; default the first option. */
  subject?: string;
  decision?: 'allow' | 'deny';
  extra?: Record<string, string>;
  browser?: Browser;
}

/**
 * Logs in (if needed) and answers the consent page; returns the final redirect's URL. Needs only the
 * server's URL, so it drives a separate instance process as well (`{ url }`).
 */
export async function authorize(server: Pick<TestServer, 'url'>, options: FlowOptions = {}): Promise<{ redirect: URL; browser: Browser; codeVerifier: string }> {
  const browser = options.browser ?? new Browser();
  const pkce = pkcePair();
  const url = authorizeUrl(server, {
    response_type: 'code',
    client_id: options.clientId ?? seed.confidentialClient.id,
    redirect_uri: options.redirectUri ?? seed.confidentialClient.redirectUri,
    scope: options.scope ?? 'users:read vendors:read',
    state: options.state ?? 'state-123',
    ...(options.codeChallenge === null ? {} : { code_challenge: options.codeChallenge ?? pkce.codeChallenge, code_challenge_method: 'S256' }),
    ...options.extra,
  });
  let page = await browser.get(url);
  if (page.status === 200 && /action="\/login[?"]/.test(page.text)) {
    const user = options.user ?? seed.users.alice;
    const login = await browser.post(new URL('/login', server.url).href, {
      _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!, email: user.email, password: user.password,
    });
    if (login.status !== 303) throw new Error(`login failed with ${login.status}`);
    page = await browser.get(new URL(login.location!, server.url).href);
  }
  if (page.status === 200 && page.text.includes('action="/oauth/authorize/decision"')) {
    const subject = options.subject ?? /<option value="([^"]+)"/.exec(page.text)?.[1];
    page = await browser.post(new URL('/oauth/authorize/decision', server.url).href, {
      ...hiddenInputs(page.text), subject: subject ?? '', decision: options.decision ?? 'allow',
    });
  }
  if (page.status !== 303 || !page.location) throw new Error(`expected a redirect, got ${page.status}: ${page.text.slice(0, 300)}`);
  return { redirect: new URL(page.location), browser, codeVerifier: pkce.codeVerifier };
}

/** A whole flow to tokens for the confidential demo client. */
export async function obtainTokens(server: Pick<TestServer, 'url'>, options: FlowOptions = {}) {
  const { redirect, codeVerifier, browser } = await authorize(server, options);
  const code = redirect.searchParams.get('code');
  if (!code) throw new Error(`no code: ${redirect.href}`);
  const response = await postForm(`${server.url}/oauth/token`, {
    grant_type: 'authorization_code', code, redirect_uri: options.redirectUri ?? seed.confidentialClient.redirectUri, code_verifier: codeVerifier,
  }, { authorization: confidentialAuth() });
  if (response.status !== 200) throw new Error(`token exchange failed: ${response.text}`);
  return { tokens: response.json as { access_token: string; refresh_token: string; scope: string; expires_in: number; [member: string]: unknown }, browser };
}

/** Introspects as the platform API's resource server (sees every access token for its audience). */
export async function introspect(server: Pick<TestServer, 'url'>, token: string, credentials = basic(seed.resourceServer.id, seed.resourceServer.secret)) {
  return (await postForm(`${server.url}/oauth/token/introspect`, { token }, { authorization: credentials })).json as Record<string, unknown>;
}
