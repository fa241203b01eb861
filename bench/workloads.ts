/**
 * What each phase sends and checks, for Gatehouse, oidc-provider and the floors. Every response is
 * checked (status and content); a failed check ends its operation as an error.
 */
import { createHash, randomBytes } from 'node:crypto';
import { headerValue, responseCookies, type HttpConnection, type HttpResponse } from './http-client.ts';
import { Failure, PoolExhausted, type Workload } from './load.ts';

export interface Endpoints {
  system: string;
  token: string;
  introspection: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

export interface TokenPair {
  access: string[];
  refresh: string[];
}

const FORM = 'application/x-www-form-urlencoded';

/** RFC 6749 §2.3.1: form-urlencoded, then base64. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
}

function parseJson(body: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(body) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function describe(step: string, response: HttpResponse): Failure {
  const json = parseJson(response.body);
  // An HTML answer (a login page refusing with 429, an error page) is named by its title.
  const title = json ? undefined : /<title>([^<]*)<\/title>/.exec(response.body)?.[1];
  const what = typeof json?.error === 'string'
    ? `${json.error}${typeof json.error_description === 'string' ? ` (${json.error_description})` : ''}`
    : title !== undefined ? `page "${decodeEntities(title).trim()}"` : response.body.slice(0, 60).replace(/\s+/g, ' ');
  return new Failure(`${step}: ${response.status} ${what}`);
}

/** The token response must carry a new access token and refresh token. */
function tokens(step: string, response: HttpResponse): { access_token: string; refresh_token: string } {
  const json = response.status === 200 ? parseJson(response.body) : undefined;
  if (typeof json?.access_token !== 'string' || typeof json.refresh_token !== 'string') throw describe(step, response);
  return json as { access_token: string; refresh_token: string };
}

/** Authorization-code exchange, each code once; the tokens obtained feed introspection and refresh. */
export function codeExchange(endpoints: Endpoints, codes: { code: string; verifier: string }[], harvest: TokenPair): Workload {
  let next = 0;
  const headers = { 'content-type': FORM, authorization: basicAuthorization(endpoints.clientId, endpoints.clientSecret) };
  const redirectUri = encodeURIComponent(endpoints.redirectUri);
  return {
    system: endpoints.system,
    work: 'code exchange',
    requestsPerOp: 1,
    async run(connection) {
      const item = codes[next++];
      if (!item) throw new PoolExhausted();
      const response = await connection.request('POST', endpoints.token, headers,
        `grant_type=authorization_code&code=${item.code}&redirect_uri=${redirectUri}&code_verifier=${item.verifier}`);
      const issued = tokens('exchange', response);
      harvest.access.push(issued.access_token);
      harvest.refresh.push(issued.refresh_token);
    },
  };
}

/**
 * Shuffles `items` in place (Fisher–Yates) and returns them: a refresh pool in random order (the scale group,
 * `--refresh-order random`).
 */
export function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/**
 * Refresh rotation, each refresh token presented once. The pool is a queue of the grants' current
 * refresh tokens; a rotation's new refresh token goes to the back, so a grant is refreshed again only
 * after every other grant of the pool (never two requests for one grant in flight).
 */
export function refreshRotation(endpoints: Endpoints, refreshTokens: string[]): Workload & { pending(): string[] } {
  let queue = [...refreshTokens];
  let head = 0;
  const headers = { 'content-type': FORM, authorization: basicAuthorization(endpoints.clientId, endpoints.clientSecret) };
  return {
    system: endpoints.system,
    work: 'refresh rotation',
    requestsPerOp: 1,
    async run(connection) {
      if (head >= queue.length) throw new PoolExhausted();
      const token = queue[head++]!;
      if (head > 200_000) {
        queue = queue.slice(head);
        head = 0;
      }
      const response = await connection.request('POST', endpoints.token, headers, `grant_type=refresh_token&refresh_token=${token}`);
      queue.push(tokens('refresh', response).refresh_token);
    },
    /** The current refresh tokens not presented yet, in queue order (to continue in a later phase). */
    pending: () => queue.slice(head),
  };
}

/** Introspection of active opaque access tokens by the client they were issued to. */
export function introspection(endpoints: Endpoints, accessTokens: string[]): Workload {
  let next = 0;
  const headers = { 'content-type': FORM, authorization: basicAuthorization(endpoints.clientId, endpoints.clientSecret) };
  return {
    system: endpoints.system,
    work: 'introspection',
    requestsPerOp: 1,
    async run(connection) {
      const token = accessTokens[next++ % accessTokens.length]!;
      const response = await connection.request('POST', endpoints.introspection, headers, `token=${token}&token_type_hint=access_token`);
      const json = response.status === 200 ? parseJson(response.body) : undefined;
      if (json?.active !== true || json.client_id !== endpoints.clientId) throw describe('introspection', response);
    },
  };
}

function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function cookieHeader(cookies: Map<string, string>): string {
  let header = '';
  for (const [name, value] of cookies) header += `${header ? '; ' : ''}${name}=${value}`;
  return header;
}

function decodeEntities(value: string): string {
  return value.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** A form's hidden inputs (the CSRF token and the carried authorization parameters). */
export function hiddenInputs(page: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const match of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) out[match[1]!] = decodeEntities(match[2]!);
  return out;
}

/** `code` from the redirect to the client, checking `state`. */
function codeFromRedirect(step: string, endpoints: Endpoints, response: HttpResponse, state: string): string {
  const location = headerValue(response, 'location');
  if (response.status !== 303 && response.status !== 302) throw describe(step, response);
  if (!location?.startsWith(endpoints.redirectUri)) throw new Failure(`${step}: redirected to ${location?.slice(0, 60)}`);
  const url = new URL(location);
  const code = url.searchParams.get('code');
  if (!code) throw new Failure(`${step}: ${url.searchParams.get('error') ?? 'no code'}`);
  if (url.searchParams.get('state') !== state) throw new Failure(`${step}: state mismatch`);
  return code;
}

async function exchangeCode(connection: HttpConnection, endpoints: Endpoints, headers: Record<string, string>, code: string, verifier: string): Promise<void> {
  const response = await connection.request('POST', endpoints.token, headers,
    `grant_type=authorization_code&code=${encodeURIComponent(code)}&redirect_uri=${encodeURIComponent(endpoints.redirectUri)}&code_verifier=${verifier}`);
  tokens('flow exchange', response);
}

/**
 * Gatehouse, with an existing login session: GET /oauth/authorize (prompt=consent: the consent page)
 * → POST /oauth/authorize/decision (allow: the redirect with the code) → POST /oauth/token. Three requests.
 *
 * Each operation borrows one of `sessions`, each of its own user administering one company of its own
 * (flow-users.ts), and gives it back when done: there are more sessions than connections, so no two flows
 * in flight share a (client, subject). Flows for one subject would rightly outdate each other's codes
 * (SPEC decisions 6 and 11) and measure `invalid_grant` answers instead of flows.
 */
export function gatehouseFlow(endpoints: Endpoints, sessions: Map<string, string>[], scope: string): Workload {
  const query = `response_type=code&client_id=${endpoints.clientId}&redirect_uri=${encodeURIComponent(endpoints.redirectUri)}`
    + `&scope=${encodeURIComponent(scope)}&prompt=consent&code_challenge_method=S256`;
  const tokenHeaders = { 'content-type': FORM, authorization: basicAuthorization(endpoints.clientId, endpoints.clientSecret) };
  const idle = [...sessions];
  return {
    system: endpoints.system,
    work: 'flow with session',
    requestsPerOp: 3,
    async run(connection) {
      const session = idle.pop();
      if (!session) throw new Failure('no idle login session');
      try {
        const { verifier, challenge } = pkcePair();
        const state = randomBytes(12).toString('base64url');
        const cookies = new Map(session);
        const page = await connection.request('GET', `/oauth/authorize?${query}&state=${state}&code_challenge=${challenge}`, { cookie: cookieHeader(cookies) });
        if (page.status !== 200 || !page.body.includes('action="/oauth/authorize/decision"')) {
          throw new Failure(`authorize: ${page.status}${/action="\/login[?"]/.test(page.body) ? ' (login page: no session)' : ''}`);
        }
        for (const [name, value] of responseCookies(page)) cookies.set(name, value);
        const subjects = [...page.body.matchAll(/<option value="([^"]+)"/g)];
        if (subjects.length !== 1) throw new Failure(`authorize: ${subjects.length} subjects on the consent page, expected the user's one company`);
        const form = new URLSearchParams({ ...hiddenInputs(page.body), subject: subjects[0]![1]!, decision: 'allow' }).toString();
        const decision = await connection.request('POST', '/oauth/authorize/decision', { 'content-type': FORM, cookie: cookieHeader(cookies) }, form);
        const code = codeFromRedirect('decision', endpoints, decision, state);
        await exchangeCode(connection, endpoints, tokenHeaders, code, verifier);
      } finally {
        idle.push(session);
      }
    },
  };
}

/**
 * oidc-provider, with an existing login session: GET /auth (prompt=consent) → GET /interaction/:uid (the
 * auto-consent interaction) → GET /auth/:uid (resume: the redirect with the code) → POST /token. Four
 * requests: its consent is an interaction the application answers, here without a page.
 *
 * oidc-provider gives the session a new identifier at every resume (session fixation defence), so, like
 * browsers, each operation borrows one of several login sessions and keeps the cookies it is sent back.
 */
export function oidcFlow(endpoints: Endpoints, sessions: Map<string, string>[], scope: string): Workload {
  const query = `response_type=code&client_id=${endpoints.clientId}&redirect_uri=${encodeURIComponent(endpoints.redirectUri)}`
    + `&scope=${encodeURIComponent(scope)}&prompt=consent&code_challenge_method=S256`;
  const tokenHeaders = { 'content-type': FORM, authorization: basicAuthorization(endpoints.clientId, endpoints.clientSecret) };
  const idle = [...sessions];
  const follow = (step: string, response: HttpResponse, expected: string): string => {
    const location = headerValue(response, 'location');
    if (response.status !== 303 || !location?.includes(expected)) throw new Failure(`${step}: ${response.status} → ${location?.slice(0, 60)}`);
    return new URL(location, 'http://127.0.0.1').pathname;
  };
  const keep = (response: HttpResponse, session: Map<string, string>, cookies: Map<string, string>) => {
    for (const [name, value] of responseCookies(response)) (name.startsWith('_session') ? session : cookies).set(name, value);
  };
  return {
    system: endpoints.system,
    work: 'flow with session',
    requestsPerOp: 4,
    async run(connection) {
      const session = idle.pop();
      if (!session) throw new Failure('no idle login session');
      try {
        const { verifier, challenge } = pkcePair();
        const state = randomBytes(12).toString('base64url');
        const cookies = new Map<string, string>();
        const header = () => `${cookieHeader(session)}${cookies.size ? `; ${cookieHeader(cookies)}` : ''}`;
        const authorize = await connection.request('GET', `/auth?${query}&state=${state}&code_challenge=${challenge}`, { cookie: header() });
        keep(authorize, session, cookies);
        const interactionPath = follow('authorize', authorize, '/interaction/');
        const interaction = await connection.request('GET', interactionPath, { cookie: header() });
        keep(interaction, session, cookies);
        const resumePath = follow('interaction', interaction, '/auth/');
        const resume = await connection.request('GET', resumePath, { cookie: header() });
        keep(resume, session, cookies);
        const code = codeFromRedirect('resume', endpoints, resume, state);
        await exchangeCode(connection, endpoints, tokenHeaders, code, verifier);
      } finally {
        idle.push(session);
      }
    },
  };
}

/** Gatehouse password logins (argon2id): POST /login with a valid CSRF token; success is a 303 with a session cookie. */
export function passwordLogins(system: string, csrf: { cookie: string; token: string; returnTo: string }, user: { email: string; password: string }): Workload {
  const body = new URLSearchParams({ _csrf: csrf.token, return_to: csrf.returnTo, email: user.email, password: user.password }).toString();
  const headers = { 'content-type': FORM, cookie: csrf.cookie };
  return {
    system,
    work: 'password login (argon2id)',
    requestsPerOp: 1,
    async run(connection) {
      const response = await connection.request('POST', '/login', headers, body);
      if (response.status !== 303 || !responseCookies(response).has('gatehouse_session')) throw describe('login', response);
    },
  };
}

/** The floors: POST a small JSON document, expect `{"ok":true,...}`. */
export function floorPost(system: string, work: string): Workload {
  let sent = 0;
  const headers = { 'content-type': 'application/json' };
  return {
    system,
    work,
    requestsPerOp: 1,
    async run(connection) {
      const response = await connection.request('POST', '/items', headers, `{"name":"item-${sent++}","quantity":3,"tags":["a","b"]}`);
      if (response.status !== 200 || !response.body.startsWith('{"ok":true')) throw describe('floor', response);
    },
  };
}
