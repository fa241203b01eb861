/**
 * Resource-server benchmark (`npm run bench:resource-server`): protected-call throughput, p50/p99
 * latency and server CPU per request of the sample platform API, at concurrency 32, for
 *
 *   floor            the same route, same app, with a verifier that does no authentication (after one
 *                    fetch of the JWKS at start, as the real rows' processes make outbound requests);
 *   local            local mode (RFC 9068 JWT, ES256), one token repeated (signature verification cached);
 *   local, distinct  local mode, every request a different token (20 000 tokens round-robin, more than
 *                    the 10 000-entry verification cache holds: an ES256 verification per request);
 *   introspection    introspection mode, warm cache: one token repeated, TTL 5 s (one introspection per 5 s);
 *   introspection, cold  TTL 0 and a new token per request: one introspection round trip per request
 *                    (with one repeated token, concurrent requests would share introspections).
 *
 * One process per role, all on loopback: this orchestrator (idle while measuring), the stub
 * authorization server (introspection, JWKS, revocation feed; JWT access tokens), a fresh platform API
 * per phase, and the load generator (autocannon's programmatic API) — the generator takes most of a
 * core (BENCH-NOTES), so it must not share the server's process. Each phase: warm-up, then a
 * measurement bounded by time and by count; every response's status is checked. CPU per request is
 * `process.cpuUsage()` of the API process over the measured window divided by the responses. Rows run
 * interleaved for `--rounds` rounds (each round in a rotated order) and the table shows the median of
 * each column. The machine is shared: before each phase the run waits (up to 60 s, 4 min in all) for it
 * to be quiet; "other load" is the machine's busy CPU time (/proc/stat) not used by these processes,
 * a window with more than 30% of a core of it is measured once more (the less disturbed one is kept),
 * and "quiet rounds" counts the rounds of a row that stayed under 30%.
 *
 * Usage: node bench/resource-server.ts [--rounds 3] [--duration 10] [--warmup 3] [--connections 32]
 *        [--route /v1/users] [--max-requests 2000000] [--cpu-prof-dir DIR (profiles the API processes)]
 *        [--no-wait (do not wait for a quiet machine before each phase)]
 *        [--rows floor,local,introspection-warm (a subset of the rows; the floor is always measured;
 *         floor-no-fetch, the floor without its start-up fetch, and floor-digest, the floor plus the
 *         token's SHA-256 per request, only when named)]
 *        [--rate N (N requests per second over all connections, the same offered load for every row,
 *         instead of as fast as answers come: CPU per request then compares like with like)]
 *        [--verifier-only (no HTTP: CPU of the credential verifier's per-request calls with a cached token, against the floor's stand-in)]
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';

const ROLE = process.argv[2] ?? 'orchestrator';
const AUDIENCE = 'http://localhost:3001';
const RESOURCE_SERVER_ID = 'dbb72d5e-29fb-4cf3-80cc-78a687063942';
const RESOURCE_SERVER_SECRET = '6Q9O2m3XGCT49_h_NYPNlkxF-p9fnXsbem650ws-1sw';
const COMPANY_URN = 'urn:gatehouse:company:d4290d20-6495-471e-bcac-5d9e0a4d844e';
const SCOPE = 'users:read vendors:read accounts:read';
/** More than the local verification cache's 10 000 entries, so round-robin use always misses. */
const DISTINCT_TOKENS = 20_000;

type RowName = 'floor' | 'floor-no-fetch' | 'floor-digest' | 'local' | 'local-distinct' | 'introspection-warm' | 'introspection-cold';

interface Row {
  readonly name: RowName;
  readonly label: string;
}

const ROWS: readonly Row[] = [
  { name: 'floor', label: 'no authentication (floor)' },
  // Only with --rows: the floor without its start-up fetch, to see what that fetch changes (bench/README.md).
  { name: 'floor-no-fetch', label: 'no authentication, no outbound request' },
  // Only with --rows: the floor plus the token's SHA-256 per request, the one step of a cached check that SPEC
  // decision 9 makes unavoidable (the caches are keyed by digest): what that step alone costs in this run.
  { name: 'floor-digest', label: "no authentication, the token's SHA-256 per request" },
  { name: 'local', label: 'local mode, one token repeated' },
  { name: 'local-distinct', label: 'local mode, a new token per request' },
  { name: 'introspection-warm', label: 'introspection, warm cache (one token repeated)' },
  { name: 'introspection-cold', label: 'introspection, cold (TTL 0, a new token per request)' },
];

/* ------------------------------------------------------------------ IPC */

interface Envelope {
  readonly id: number;
  readonly body: unknown;
}

/** Sends a request to a child and resolves with its reply (messages carry an `id`). */
function createRpc(child: ChildProcess) {
  let nextId = 0;
  const pending = new Map<number, (body: unknown) => void>();
  child.on('message', (message: Envelope) => {
    pending.get(message.id)?.(message.body);
    pending.delete(message.id);
  });
  return function request<Reply>(body: unknown): Promise<Reply> {
    const id = nextId++;
    return new Promise<Reply>((resolve, reject) => {
      pending.set(id, (reply) => resolve(reply as Reply));
      child.send({ id, body } satisfies Envelope, (error) => {
        if (error) reject(error);
      });
    });
  };
}

/** In a child: answers each request with `handler`'s result. */
function serveRpc(handler: (body: any) => Promise<unknown>): void {
  process.on('message', (message: Envelope) => {
    handler(message.body).then(
      (reply) => process.send?.({ id: message.id, body: reply } satisfies Envelope),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}

/** Forks this file in another role, with IPC. */
function startChild(role: string, args: readonly string[] = [], execArgv: readonly string[] = process.execArgv): ChildProcess {
  return fork(import.meta.filename, [role, ...args], { execArgv: [...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function cpuMicroseconds(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/* ------------------------------------------------------------------ roles */

interface AuthorizationServerReady {
  readonly issuer: string;
  readonly token: string;
  readonly distinctTokens: readonly string[];
}

/** The stub authorization server: JWT access tokens, introspection, JWKS, revocation feed. */
async function runAuthorizationServer(distinctTokenCount: number): Promise<void> {
  const { startStubAuthorizationServer } = await import('../examples/platform-api/src/stub-authorization-server.ts');
  const stub = await startStubAuthorizationServer({
    clientId: RESOURCE_SERVER_ID,
    clientSecret: RESOURCE_SERVER_SECRET,
    audience: AUDIENCE,
    now: Date.now,
    accessTokenFormat: 'jwt',
  });
  const issue = () => stub.issue({ scope: SCOPE, subjectUrn: COMPANY_URN });
  const token = await issue();
  const distinctTokens: string[] = [];
  for (let index = 0; index < distinctTokenCount; index += 1) {
    distinctTokens.push(await issue());
  }
  // A few revocations, so the feed and the revoked set are not trivially empty.
  for (let index = 0; index < 100; index += 1) {
    stub.revoke(await issue());
  }
  serveRpc(async (body: { command: 'ready' | 'cpu' }) => {
    if (body.command === 'cpu') return cpuMicroseconds();
    return { issuer: stub.issuer, token, distinctTokens } satisfies AuthorizationServerReady;
  });
}

type Verifier = import('../packages/resource-server/src/index.ts').TokenVerifier;
type CredentialVerifier = import('../packages/resource-server/src/index.ts').CredentialVerifier;

/**
 * The floor's stand-ins: a token verifier (for the realm the routes name) and the credential verifier
 * every route's hook calls per request (`requireCredential`: the RFC 6750 §2 check, then
 * `verifyRequestCredential`, which reads the Authorization and DPoP fields and verifies a Bearer token,
 * a DPoP-bound token or an API key). Both return a constant token's claims and read nothing: the floor
 * replaces exactly what the real verifiers do per request, and keeps the hook, route and handler.
 */
function floorVerifiers(digest: ((token: string) => string) | undefined = undefined): { verifier: Verifier; credentials: CredentialVerifier } {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const fixedToken = {
    clientId: '7af385a0-284d-48c5-b225-362862085551',
    clientName: 'Ledgerly Sync',
    scope: SCOPE.split(' '),
    subjectType: 'company' as const,
    subjectId: 'd4290d20-6495-471e-bcac-5d9e0a4d844e',
    subjectUrn: COMPANY_URN,
    userId: 'a3e3fc33-5e1b-4cac-81ad-b7accdcd5313',
    expiresAt: nowSeconds + 3600,
    issuedAt: nowSeconds,
    tokenId: '00000000-0000-4000-8000-000000000000',
  };
  const credential = { kind: 'bearer', accessToken: fixedToken } as const;
  return {
    verifier: {
      mode: 'introspection',
      realm: AUDIENCE,
      verifyAccessToken: async () => fixedToken,
      verifyProtectedResourceRequest: async () => fixedToken,
      rejectAccessTokenOutsideHeader: () => undefined,
      clearCache: () => undefined,
      ready: () => Promise.resolve(),
      close: () => undefined,
    },
    credentials: {
      verifyCredential: async () => credential,
      verifyRequestCredential: digest === undefined
        ? async () => credential
        : async (message) => {
          // The Authorization value as the real verifier finds it (the benchmark sends it third), its token hashed.
          const authorization = message.rawHeaders[1 + message.rawHeaders.findIndex((name) => name.length === 13 && name.toLowerCase() === 'authorization')] ?? '';
          digestSink = digest(authorization.slice(7));
          return credential;
        },
      rejectAccessTokenOutsideHeader: () => undefined,
    },
  };
}

/** Keeps the floor-digest row's digests observable, so the hashing is not optimized away. */
let digestSink = '';

/** A fresh platform API for one phase; answers `cpu` with its CPU time so far, microseconds. */
async function runApi(row: RowName, issuer: string): Promise<void> {
  const { createPlatformApi, platformApiVerifierOptions } = await import('../examples/platform-api/src/platform-api.ts');
  const { createTokenVerifier } = await import('../packages/resource-server/src/index.ts');
  const base = {
    issuer,
    audience: AUDIENCE,
    introspectionClientId: RESOURCE_SERVER_ID,
    introspectionClientSecret: RESOURCE_SERVER_SECRET,
  };
  let verifier: Verifier;
  let credentialVerifier: CredentialVerifier | undefined;
  if (row === 'floor' || row === 'floor-no-fetch' || row === 'floor-digest') {
    // The real rows' processes have all made outbound requests with fetch (local mode: the JWKS and the
    // feed at start; introspection: the first request's introspection), and that alone leaves Node's
    // streams, timers and tick queue with more generic inline caches that the server's own requests then
    // pay for (measured 1–15% more API CPU per request, run to run; bench/README.md). The floor makes
    // the same start-up request, so that it differs from them only by what authentication does.
    if (row !== 'floor-no-fetch') await (await fetch(new URL('/.well-known/jwks.json', issuer))).arrayBuffer();
    const { hashAccessToken } = await import('../packages/resource-server/src/index.ts');
    ({ verifier, credentials: credentialVerifier } = floorVerifiers(row === 'floor-digest' ? hashAccessToken : undefined));
  } else {
    const local = row === 'local' || row === 'local-distinct';
    verifier = createTokenVerifier(
      platformApiVerifierOptions({
        ...base,
        validationMode: local ? 'local' : 'introspection',
        introspectionCacheTtlSeconds: row === 'introspection-cold' ? 0 : 5,
      }),
    );
  }
  await verifier.ready();
  // The real rows build their credential verifier as main.ts does (Bearer tokens and API keys).
  const app = createPlatformApi({ ...base, verifier, ...(credentialVerifier === undefined ? {} : { credentialVerifier }) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  serveRpc(async (body: { command: 'url' | 'cpu' | 'close' }) => {
    if (body.command === 'cpu') return cpuMicroseconds();
    if (body.command === 'close') {
      if (row === 'floor-digest' && digestSink.length !== 43) throw new Error('the floor-digest row hashed no token');
      verifier.close();
      await app.close();
      setImmediate(() => process.exit(0));
      return true;
    }
    return url;
  });
}

interface LoadRequest {
  readonly url: string;
  readonly tokens: readonly string[];
  readonly connections: number;
  readonly durationSeconds: number;
  readonly maxRequests: number;
  /** Requests per second over all connections (autocannon's `overallRate`); absent: as fast as answers come (closed loop). */
  readonly ratePerSecond?: number;
}

interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly p50Milliseconds: number;
  readonly p99Milliseconds: number;
  /** Responses with a status other than 200, plus connection errors and timeouts. */
  readonly errors: number;
  readonly statuses: Record<string, number>;
  /** CPU time of the load generator over the run, microseconds. */
  readonly cpuMicroseconds: number;
}

/** autocannon's programmatic API, typed here for what this benchmark uses (it ships no types). */
interface AutocannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  setupRequest?: (request: AutocannonRequest) => AutocannonRequest;
}
interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void): void;
  stop(): void;
}
type Autocannon = (
  options: { url: string; connections: number; duration: number; pipelining: number; timeout: number; requests: AutocannonRequest[]; overallRate?: number },
  done: (error: Error | null, result: { duration: number; errors: number; timeouts: number }) => void,
) => AutocannonInstance;

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN;
}

/** The load generator: one autocannon run per request, stopped by time or by count. */
async function runLoad(): Promise<void> {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  serveRpc(
    (load: LoadRequest) =>
      new Promise<LoadResult>((resolve, reject) => {
        const url = new URL(load.url);
        let next = 0;
        const tokens = load.tokens;
        const request: AutocannonRequest = {
          method: 'GET',
          path: `${url.pathname}${url.search}`,
          headers: { authorization: `Bearer ${tokens[0]}` },
          ...(tokens.length > 1
            ? { setupRequest: (current: AutocannonRequest) => ({ ...current, headers: { authorization: `Bearer ${tokens[next++ % tokens.length]}` } }) }
            : {}),
        };
        // Latencies recorded here in fractional milliseconds (autocannon's histogram keeps whole ms).
        const cpuBefore = cpuMicroseconds();
        let latencies = new Float64Array(1 << 20);
        let count = 0;
        const statuses: Record<string, number> = {};
        const instance = autocannon(
          {
            url: url.origin, connections: load.connections, duration: load.durationSeconds, pipelining: 1, timeout: 10, requests: [request],
            ...(load.ratePerSecond === undefined ? {} : { overallRate: load.ratePerSecond }),
          },
          (error, result) => {
            if (error) {
              reject(error);
              return;
            }
            const sorted = latencies.subarray(0, count).sort();
            const non200 = Object.entries(statuses).reduce((sum, [status, n]) => sum + (status === '200' ? 0 : n), 0);
            resolve({
              requests: count,
              seconds: result.duration,
              p50Milliseconds: percentile(sorted, 0.5),
              p99Milliseconds: percentile(sorted, 0.99),
              errors: non200 + result.errors + result.timeouts,
              statuses,
              cpuMicroseconds: cpuMicroseconds() - cpuBefore,
            });
          },
        );
        instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
          if (count === latencies.length) {
            const grown = new Float64Array(latencies.length * 2);
            grown.set(latencies);
            latencies = grown;
          }
          latencies[count++] = responseTimeMs;
          statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
          if (count >= load.maxRequests) instance.stop();
        });
      }),
  );
}

/* ------------------------------------------------------------------ verifier only */

/**
 * `--verifier-only`: what authentication adds per request, without HTTP and the load generator, so that
 * another session's load on this shared machine moves it far less than the HTTP rows. One process:
 * the stub authorization server, and per mode the credential verifier the platform API builds (a token
 * verifier with one cached token, and an API-key verifier) against the floor's stand-in. Each call does
 * what `requireCredential` does per request: the RFC 6750 §2 check, then `verifyRequestCredential` with
 * Node's `rawHeaders` holding a fresh Authorization string (Node's HTTP parser makes one per request),
 * awaited. CPU time (`process.cpuUsage`) per call, median of `rounds` interleaved rounds of 200 000
 * calls (after 100 000 to warm up).
 */
async function measureVerifierCalls(rounds: number): Promise<void> {
  const { startStubAuthorizationServer } = await import('../examples/platform-api/src/stub-authorization-server.ts');
  const { createApiKeyVerifier, createCredentialVerifier, createTokenVerifier } = await import('../packages/resource-server/src/index.ts');
  const stub = await startStubAuthorizationServer({
    clientId: RESOURCE_SERVER_ID,
    clientSecret: RESOURCE_SERVER_SECRET,
    audience: AUDIENCE,
    now: Date.now,
    accessTokenFormat: 'jwt',
  });
  const token = await stub.issue({ scope: SCOPE, subjectUrn: COMPANY_URN });
  const common = {
    issuer: stub.issuer,
    audience: AUDIENCE,
    introspectionClientId: RESOURCE_SERVER_ID,
    introspectionClientSecret: RESOURCE_SERVER_SECRET,
  };
  const apiKeyVerifier = createApiKeyVerifier(common);
  const tokenVerifiers = [createTokenVerifier({ ...common, mode: 'local' }), createTokenVerifier({ ...common, mode: 'introspection' })] as const;
  const verifiers: ReadonlyArray<readonly [string, CredentialVerifier]> = [
    ['no authentication (floor stand-in)', floorVerifiers().credentials],
    ['local mode, cached token', createCredentialVerifier({ tokenVerifier: tokenVerifiers[0], apiKeyVerifier })],
    ['introspection, warm cache', createCredentialVerifier({ tokenVerifier: tokenVerifiers[1], apiKeyVerifier })],
  ];
  const headerBytes = Buffer.from(`Bearer ${token}`, 'latin1');
  // As Node hands them to Fastify for autocannon's requests.
  const message = { rawHeaders: ['host', '127.0.0.1:3001', 'authorization', '', 'connection', 'keep-alive'], method: 'GET', url: '/v1/users' };
  const scopes = ['users:read'];
  const accepted = ['bearer', 'api_key'] as const;
  const query = {};
  const call = (verifier: CredentialVerifier) => {
    message.rawHeaders[3] = headerBytes.toString('latin1');
    verifier.rejectAccessTokenOutsideHeader({ realm: AUDIENCE, query, body: undefined, contentType: undefined });
    return verifier.verifyRequestCredential(message, scopes, accepted, '127.0.0.1');
  };
  const nanoseconds = new Map<string, number[]>(verifiers.map(([label]) => [label, []]));
  // Awaiting resolved promises never reaches the event loop: yield every 1 000 calls, as a server does
  // between reads, so the feed's polls and the stub's answers run (their CPU is counted too).
  const calls = 200_000;
  const run = async (verifier: CredentialVerifier, count: number) => {
    for (let index = 0; index < count; index += 1) {
      await call(verifier);
      if (index % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await Promise.all(tokenVerifiers.map((verifier) => verifier.ready()));
  for (const [, verifier] of verifiers) {
    await run(verifier, 100_000);
  }
  for (let round = 0; round < rounds; round += 1) {
    for (const [label, verifier] of round % 2 === 0 ? verifiers : [...verifiers].reverse()) {
      const before = process.cpuUsage();
      await run(verifier, calls);
      const used = process.cpuUsage(before);
      nanoseconds.get(label)?.push(((used.user + used.system) * 1000) / calls);
    }
  }
  for (const verifier of tokenVerifiers) verifier.close();
  await stub.close();
  const floor = median(nanoseconds.get(verifiers[0]?.[0] ?? '') ?? []);
  console.log(`Node ${process.version}; CPU per request's authentication (requireCredential's calls), median of ${rounds} rounds × ${calls.toLocaleString('en')} calls`);
  console.log('');
  console.log('| verifier | ns/call | over the stand-in, ns |');
  console.log('|---|---:|---:|');
  for (const [label] of verifiers) {
    const value = median(nanoseconds.get(label) ?? []);
    console.log(`| ${label} | ${Math.round(value)} | ${Math.round(value - floor)} |`);
  }
}

/* ------------------------------------------------------------------ orchestrator */

interface Measurement {
  readonly requestsPerSecond: number;
  readonly p50Milliseconds: number;
  readonly p99Milliseconds: number;
  readonly apiCpuMicrosecondsPerRequest: number;
  readonly authorizationServerCpuMicrosecondsPerRequest: number;
  readonly requests: number;
  readonly errors: number;
  /** CPU used by processes other than this benchmark's during the window, in cores (`NaN` off Linux). */
  readonly otherLoadCores: number;
}

/** Busy CPU time of the whole machine so far, seconds, from /proc/stat (`NaN` where there is none). */
function machineBusySeconds(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    // user nice system idle iowait irq softirq steal …, in USER_HZ (1/100 s on Linux).
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = fields;
    return (user + nice + system + irq + softirq) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Other load above which a measured window is taken again, cores. */
const DISTURBED_CORES = 0.3;
/** The most the whole run waits for a quiet machine, seconds. */
const MAX_TOTAL_QUIET_WAIT_SECONDS = 240;

/** Other load as a share of one core, as bench/README.md reports it. */
function formatLoad(cores: number): string {
  return Number.isNaN(cores) ? '–' : `${Math.round(cores * 100)}%`;
}

/**
 * Waits (at most `limitSeconds`) until the machine has been quiet for a second — under 0.3 cores busy
 * while this benchmark's processes are idle — and returns the seconds waited. The machine is shared.
 */
async function waitUntilQuiet(limitSeconds: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const before = machineBusySeconds();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const busy = machineBusySeconds() - before;
    const waited = (performance.now() - started) / 1000;
    if (Number.isNaN(busy) || busy < DISTURBED_CORES || waited >= limitSeconds) {
      return waited;
    }
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function waitForExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

async function orchestrate(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      connections: { type: 'string', default: '32' },
      route: { type: 'string', default: '/v1/users' },
      'max-requests': { type: 'string', default: '2000000' },
      'cpu-prof-dir': { type: 'string' },
      'no-wait': { type: 'boolean', default: false },
      rows: { type: 'string' },
      'verifier-only': { type: 'boolean', default: false },
      rate: { type: 'string' },
    },
  });
  if (values['verifier-only'] === true) {
    await measureVerifierCalls(Number(values.rounds));
    return;
  }
  // A subset of the rows (a shorter run); the floor always runs, every ratio is to it.
  const selectedRows = values.rows === undefined
    ? ROWS.filter((row) => row.name !== 'floor-no-fetch' && row.name !== 'floor-digest')
    : ROWS.filter((row) => row.name === 'floor' || values.rows?.split(',').includes(row.name));
  const rounds = Number(values.rounds);
  const durationSeconds = Number(values.duration);
  const warmupSeconds = Number(values.warmup);
  const connections = Number(values.connections);
  const maxRequests = Number(values['max-requests']);
  const route = values.route;
  const ratePerSecond = values.rate === undefined ? undefined : Number(values.rate);
  if (ratePerSecond !== undefined && !(Number.isInteger(ratePerSecond) && ratePerSecond > 0)) throw new Error(`--rate: expected requests per second, got ${values.rate}`);
  const rate = ratePerSecond === undefined ? {} : { ratePerSecond };
  const profileDirectory = values['cpu-prof-dir'];
  const apiExecArgv = (row: RowName, round: number) =>
    profileDirectory === undefined
      ? process.execArgv
      : [...process.execArgv, '--cpu-prof', `--cpu-prof-dir=${profileDirectory}`, `--cpu-prof-name=api-${row}-round${round}.cpuprofile`];

  console.log(
    `Resource-server benchmark: GET ${route}, concurrency ${connections}, ${rounds} round(s) of ${warmupSeconds} s warm-up + ${durationSeconds} s ` +
      `(or ${maxRequests} requests) per row`,
  );
  // Distinct tokens take a while to sign: only for the rows that use them.
  const needsDistinctTokens = selectedRows.some((row) => row.name === 'local-distinct' || row.name === 'introspection-cold');
  const authorizationServer = startChild('authorization-server', [String(needsDistinctTokens ? DISTINCT_TOKENS : 0)]);
  const askAuthorizationServer = createRpc(authorizationServer);
  const ready = await askAuthorizationServer<AuthorizationServerReady>({ command: 'ready' });
  const load = startChild('load');
  const askLoad = createRpc(load);
  const measurements = new Map<RowName, Measurement[]>(ROWS.map((row) => [row.name, []]));
  const waitForQuietMachine = values['no-wait'] !== true;
  let waitedSeconds = 0;

  for (let round = 1; round <= rounds; round += 1) {
    // Each round starts one row later, so no row always follows the same neighbour.
    const order = selectedRows.map((_, index) => selectedRows[(index + round - 1) % selectedRows.length] as Row);
    for (const row of order) {
      const api = startChild('api', [row.name, ready.issuer], apiExecArgv(row.name, round));
      const askApi = createRpc(api);
      const url = `${await askApi<string>({ command: 'url' })}${route}`;
      const tokens = row.name === 'local-distinct' || row.name === 'introspection-cold' ? ready.distinctTokens : [ready.token];
      // One checked call before load: the route answers 200 with this token.
      const probe = await fetch(url, { headers: { authorization: `Bearer ${tokens[0]}` } });
      if (probe.status !== 200) throw new Error(`${row.name}: probe answered ${probe.status}: ${await probe.text()}`);
      await probe.arrayBuffer().catch(() => undefined);

      if (waitForQuietMachine) {
        waitedSeconds += await waitUntilQuiet(Math.min(60, Math.max(0, MAX_TOTAL_QUIET_WAIT_SECONDS - waitedSeconds)));
      }
      await askLoad<LoadResult>({ url, tokens, connections, durationSeconds: warmupSeconds, maxRequests, ...rate } satisfies LoadRequest);

      /** One measured window: load, with the CPU of every process and of the machine around it. */
      const measure = async (): Promise<Measurement & { statuses: Record<string, number> }> => {
        const apiCpuBefore = await askApi<number>({ command: 'cpu' });
        const asCpuBefore = await askAuthorizationServer<number>({ command: 'cpu' });
        const ownCpuBefore = cpuMicroseconds();
        const busyBefore = machineBusySeconds();
        const startedAt = performance.now();
        const result = await askLoad<LoadResult>({ url, tokens, connections, durationSeconds, maxRequests, ...rate } satisfies LoadRequest);
        const wallSeconds = (performance.now() - startedAt) / 1000;
        const busySeconds = machineBusySeconds() - busyBefore;
        const ownCpu = cpuMicroseconds() - ownCpuBefore;
        const apiCpu = (await askApi<number>({ command: 'cpu' })) - apiCpuBefore;
        const asCpu = (await askAuthorizationServer<number>({ command: 'cpu' })) - asCpuBefore;
        return {
          requestsPerSecond: result.requests / result.seconds,
          p50Milliseconds: result.p50Milliseconds,
          p99Milliseconds: result.p99Milliseconds,
          apiCpuMicrosecondsPerRequest: apiCpu / result.requests,
          authorizationServerCpuMicrosecondsPerRequest: asCpu / result.requests,
          requests: result.requests,
          errors: result.errors,
          // Whatever else ran on the machine meanwhile (BENCH-NOTES: figures are only comparable on a quiet machine).
          otherLoadCores: Math.max(0, busySeconds - (apiCpu + asCpu + result.cpuMicroseconds + ownCpu) / 1e6) / wallSeconds,
          statuses: result.statuses,
        };
      };
      let measurement = await measure();
      // A disturbed window is measured once more; the less disturbed attempt is kept.
      if (measurement.otherLoadCores > DISTURBED_CORES) {
        const again = await measure();
        if (again.otherLoadCores < measurement.otherLoadCores) measurement = again;
      }
      await askApi<boolean>({ command: 'close' });
      await waitForExit(api);

      measurements.get(row.name)?.push(measurement);
      console.log(
        `  round ${round} ${row.label.padEnd(54)} ${Math.round(measurement.requestsPerSecond).toString().padStart(6)} req/s  ` +
          `p50 ${measurement.p50Milliseconds.toFixed(2)} ms  p99 ${measurement.p99Milliseconds.toFixed(2)} ms  ` +
          `API ${measurement.apiCpuMicrosecondsPerRequest.toFixed(1)} µs/req  other load ${formatLoad(measurement.otherLoadCores)}  errors ${measurement.errors}` +
          (measurement.errors > 0 ? ` ${JSON.stringify(measurement.statuses)}` : ''),
      );
    }
  }

  load.kill();
  authorizationServer.kill();
  printTable(measurements, { route, connections, rounds, durationSeconds });
}

function printTable(
  measurements: Map<RowName, Measurement[]>,
  settings: { route: string; connections: number; rounds: number; durationSeconds: number },
): void {
  const summary = (name: RowName) => {
    const list = measurements.get(name) ?? [];
    return {
      requestsPerSecond: median(list.map((m) => m.requestsPerSecond)),
      p50: median(list.map((m) => m.p50Milliseconds)),
      p99: median(list.map((m) => m.p99Milliseconds)),
      apiCpu: median(list.map((m) => m.apiCpuMicrosecondsPerRequest)),
      asCpu: median(list.map((m) => m.authorizationServerCpuMicrosecondsPerRequest)),
      requests: list.reduce((sum, m) => sum + m.requests, 0),
      errors: list.reduce((sum, m) => sum + m.errors, 0),
      quietRounds: list.filter((m) => m.otherLoadCores <= DISTURBED_CORES).length,
      // This row's CPU over the floor's in the same round, median over rounds: both windows saw about the
      // same other load, which a ratio of two medians does not guarantee on a shared machine.
      pairedCpuRatio: median(list.map((m, index) => m.apiCpuMicrosecondsPerRequest / (measurements.get('floor')?.[index]?.apiCpuMicrosecondsPerRequest ?? Number.NaN))),
      rounds: list.length,
    };
  };
  const floor = summary('floor');
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  console.log('');
  console.log(
    `Node ${process.version}, ${cpu}, ${availableParallelism()} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${new Date().toISOString().slice(0, 10)}; ` +
      `GET ${settings.route}, concurrency ${settings.connections}, median of ${settings.rounds} × ${settings.durationSeconds} s`,
  );
  console.log('');
  console.log(
    '| row | requests/s | p50 ms | p99 ms | API CPU µs/req | AS CPU µs/req | throughput vs floor | API CPU vs floor | API CPU vs floor, same round | requests (errors) | quiet rounds |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const measuredRows = ROWS.filter((row) => (measurements.get(row.name)?.length ?? 0) > 0);
  for (const row of measuredRows) {
    const s = summary(row.name);
    const throughputRatio = s.requestsPerSecond / floor.requestsPerSecond;
    const cpuRatio = s.apiCpu / floor.apiCpu;
    console.log(
      `| ${row.label} | ${Math.round(s.requestsPerSecond).toLocaleString('en')} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.apiCpu.toFixed(1)} | ${s.asCpu.toFixed(1)} | ` +
        `${(throughputRatio * 100).toFixed(0)}% | ${cpuRatio.toFixed(2)}× | ${s.pairedCpuRatio.toFixed(2)}× | ${s.requests.toLocaleString('en')} (${s.errors}) | ${s.quietRounds} of ${s.rounds} |`,
    );
  }
  const local = summary('local');
  const warm = summary('introspection-warm');
  // The targets need both target rows (a --rows subset may leave one out).
  if (local.rounds > 0 && warm.rounds > 0) {
    console.log('');
    const verdict = (ratio: number, bound: number) => (ratio <= 1 + bound ? 'met' : 'MISSED');
    // Issue 12: both modes (repeated token) within 10% of the floor's API CPU per request.
    console.log(
      `Targets by API CPU per request (the robust measure; ratios of the medians, then paired by round): local ${((local.apiCpu / floor.apiCpu - 1) * 100).toFixed(1)}% ` +
        `(${((local.pairedCpuRatio - 1) * 100).toFixed(1)}%) over the floor, within 10%: ${verdict(local.apiCpu / floor.apiCpu, 0.1)} (${verdict(local.pairedCpuRatio, 0.1)}); ` +
        `introspection (warm) ${((warm.apiCpu / floor.apiCpu - 1) * 100).toFixed(1)}% (${((warm.pairedCpuRatio - 1) * 100).toFixed(1)}%) over, ` +
        `within 10%: ${verdict(warm.apiCpu / floor.apiCpu, 0.1)} (${verdict(warm.pairedCpuRatio, 0.1)}).`,
    );
    console.log(
      `Throughput (limited by the load generator sharing the machine): local ${((1 - local.requestsPerSecond / floor.requestsPerSecond) * 100).toFixed(1)}% below the floor, ` +
        `introspection (warm) ${((1 - warm.requestsPerSecond / floor.requestsPerSecond) * 100).toFixed(1)}% below.`,
    );
  }
  // A median is undisturbed when most of its rounds were quiet (other load at most 30% of a core).
  const disturbed = measuredRows.filter((row) => {
    const s = summary(row.name);
    return s.quietRounds * 2 <= s.rounds;
  });
  if (disturbed.length > 0) {
    console.log(`Most rounds of ${disturbed.map((row) => row.label).join('; ')} ran beside other load: those medians are disturbed; rerun on a quiet machine.`);
  }
  const errors = ROWS.reduce((sum, row) => sum + summary(row.name).errors, 0);
  if (errors > 0) {
    console.log(`${errors} responses were not 200: the figures above are not valid.`);
    process.exitCode = 1;
  }
}

switch (ROLE) {
  case 'authorization-server':
    await runAuthorizationServer(Number(process.argv[3] ?? DISTINCT_TOKENS));
    break;
  case 'api':
    await runApi(process.argv[3] as RowName, process.argv[4] ?? '');
    break;
  case 'load':
    await runLoad();
    break;
  default:
    await orchestrate();
}
