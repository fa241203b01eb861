/**
 * `npm run bench`: the authorization server benchmark (see bench/README.md, "Authorization server").
 *
 * In one run, on this machine, at concurrency 32, each phase warmed up and then bounded by a count and
 * a time: Gatehouse on SQLite, Gatehouse on PostgreSQL (when its storage exists), oidc-provider in memory
 * and on PostgreSQL (durable, bench/oidc-postgres-adapter.ts), and two floors (bare Fastify JSON POST;
 * the same route with one SQLite insert, WAL). Servers run in their own processes on 127.0.0.1; this
 * process is the load generator. The servers' groups take turns phase by phase (bench/turns.ts: the peer's
 * refresh rotation, then Gatehouse's on SQLite, on PostgreSQL, the durable peer's, then the next phase; the
 * exchange and the introspection of its tokens make one turn), so the two sides of a ratio are measured
 * seconds apart; the floors run first and the scale group last. Prints the table, writes it into bench/README.md between the result
 * markers (full runs only). A phase with more than 0.1% failed operations fails the run (FAILED lines,
 * exit status 1, README untouched): see MAX_ERROR_RATE.
 *
 *   node bench/authorization-server.ts [--quick] [--only floors,oidc-provider,gatehouse-sqlite,scale,gatehouse-postgres,oidc-provider-postgres]
 *                                      [--phases floor,exchange,introspection,refresh,flow,login] [--seconds N] [--warmup N]
 *                                      [--profile DIR] [--no-readme] [--no-wait] [--token-age N] [--refresh-order issue|random]
 *
 * --quick    1 s warm-up + 3 s phases and a 100,000-grant scale phase: a smoke test, not figures.
 * --phases   only these phases of the selected groups (default all). introspection and refresh use the
 *            tokens the exchange phase obtains, so they need `exchange`; the scale group is refresh only.
 * --seconds, --warmup  the measured and warm-up seconds of every phase (logins too), for short checks.
 * --token-age  waits N seconds between the exchange and the introspection of its tokens (in the same
 *            turn). Past 60, each grant's first introspection records its use (once per grant per
 *            minute, endpoints/introspection.ts): the workload of a resource server whose tokens live
 *            for minutes. Not part of a full run.
 * --refresh-order  the order in which the refresh phase presents the tokens the exchange phase obtained.
 *            `issue` (the default): the order they were issued in, as clients refresh when their access
 *            tokens expire, a fixed lifetime after the exchange; later cycles keep it (each successor goes to
 *            the back). `random`: shuffled once, as a measure of how much Gatehouse gains from that order
 *            (the old pair's rows and the grants' index entries are neighbours then; bench/README.md,
 *            "twenty-sixth session"). Not part of a full run. The scale group always presents its pool in
 *            random order (see scale()).
 * --profile  writes a V8 CPU profile (the profiler `node --cpu-prof` drives) of every measured Gatehouse
 *            phase into DIR; summarize with `node bench/profile-summary.ts FILE`. Profiling slows the
 *            server, so a profiled run never updates the README.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEVELOPMENT_SEED } from '../packages/authorization-server/src/seed/development-seed.ts';
import { BENCH_SCOPE, OIDC_ACCOUNT, OIDC_CLIENT, OIDC_SCOPE } from './config.ts';
import { FLOW_USER_COUNT, FLOW_USERS } from './flow-users.ts';
import { gatehouseLogin, oidcLogin } from './http-session.ts';
import { dropOidcPostgresSchema } from './oidc-postgres-adapter.ts';
import { median } from './median.ts';
import { measure, postgresBackgroundPids, processCpuMicros, waitUntilQuiet, type Limits, type Measurement, type Workload } from './load.ts';
import { ServerProcess } from './server-process.ts';
import type { Role, RoleArguments } from './servers.ts';
import { UNSTEADY_SPREAD, unsteadyReferences } from './steadiness.ts';
import { inTurns, type Turns } from './turns.ts';
import { codeExchange, floorPost, gatehouseFlow, introspection, oidcFlow, passwordLogins, refreshRotation, shuffled, type Endpoints, type TokenPair } from './workloads.ts';

const GROUPS = ['floors', 'oidc-provider', 'gatehouse-sqlite', 'scale', 'gatehouse-postgres', 'oidc-provider-postgres'] as const;
type Group = (typeof GROUPS)[number];
/** The phases of a group (README "What each phase does"): the floors' request, then the servers' work. */
const PHASES = ['floor', 'exchange', 'introspection', 'refresh', 'flow', 'login'] as const;
type Phase = (typeof PHASES)[number];

const SYSTEM = {
  sqlite: 'Gatehouse · SQLite',
  postgres: 'Gatehouse · PostgreSQL',
  oidc: 'oidc-provider 9 · memory',
  floorJson: 'floor · Fastify JSON POST',
  floorFull: 'floor · + SQLite insert (FULL)',
  floorNormal: 'floor · + SQLite insert (NORMAL)',
  oidcPostgres: 'oidc-provider 9 · PostgreSQL (durable)',
} as const;

const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const README = fileURLToPath(new URL('./README.md', import.meta.url));

interface Arguments {
  quick: boolean;
  only: Set<Group>;
  phases: Set<Phase>;
  /** --seconds / --warmup: every phase's measured and warm-up seconds, instead of the defaults. */
  seconds: number | undefined;
  warmupSeconds: number | undefined;
  profileDir: string | undefined;
  writeReadme: boolean;
  waitQuiet: boolean;
  /** --rounds: how many times every selected group runs (default 3 for a full run, else 1). */
  rounds: number;
  /** --token-age: seconds between the exchange and the introspection of its tokens (default 0). */
  tokenAgeSeconds: number;
  /** --refresh-order: the order in which the refresh phase first presents its pool (default issue). */
  refreshOrder: 'issue' | 'random';
}

function seconds(option: string, value: string | undefined, minimum: number): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < minimum) throw new Error(`${option}: expected a number of seconds ≥ ${minimum}, got ${value}`);
  return parsed;
}

function parseArguments(argv: string[]): Arguments {
  const parsed: Arguments = {
    quick: false, only: new Set(GROUPS), phases: new Set(PHASES), seconds: undefined, warmupSeconds: undefined,
    profileDir: undefined, writeReadme: true, waitQuiet: true, rounds: 0, tokenAgeSeconds: 0, refreshOrder: 'issue',
  };
  let partial = false;
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i]!;
    if (argument === '--quick') parsed.quick = true;
    else if (argument === '--no-readme') parsed.writeReadme = false;
    else if (argument === '--no-wait') parsed.waitQuiet = false;
    else if (argument === '--profile') parsed.profileDir = argv[++i];
    else if (argument === '--rounds') {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value < 1) throw new Error(`--rounds: expected a whole number ≥ 1, got ${argv[i]}`);
      parsed.rounds = value;
    }
    else if (argument === '--seconds') {
      partial = true;
      parsed.seconds = seconds(argument, argv[++i], 1);
    } else if (argument === '--warmup') {
      partial = true;
      parsed.warmupSeconds = seconds(argument, argv[++i], 0);
    } else if (argument === '--token-age') {
      partial = true;
      parsed.tokenAgeSeconds = seconds(argument, argv[++i], 0);
    } else if (argument === '--refresh-order') {
      const order = argv[++i];
      if (order !== 'issue' && order !== 'random') throw new Error(`--refresh-order: expected issue or random, got ${order}`);
      if (order !== 'issue') partial = true;
      parsed.refreshOrder = order;
    } else if (argument === '--only') {
      partial = true;
      const names = (argv[++i] ?? '').split(',').filter(Boolean);
      for (const name of names) if (!GROUPS.includes(name as Group)) throw new Error(`--only: unknown group ${name} (${GROUPS.join(', ')})`);
      parsed.only = new Set(names as Group[]);
    } else if (argument === '--phases') {
      partial = true;
      const names = (argv[++i] ?? '').split(',').filter(Boolean);
      for (const name of names) if (!PHASES.includes(name as Phase)) throw new Error(`--phases: unknown phase ${name} (${PHASES.join(', ')})`);
      parsed.phases = new Set(names as Phase[]);
    } else throw new Error(`unknown argument ${argument}`);
  }
  // Introspection and rotation present the tokens the exchange phase obtained (mainPhases).
  if ((parsed.phases.has('introspection') || parsed.phases.has('refresh')) && !parsed.phases.has('exchange')) {
    throw new Error('--phases: introspection and refresh use the tokens the exchange phase obtains; add exchange');
  }
  if (parsed.quick || partial || parsed.profileDir) parsed.writeReadme = false;
  // A full run repeats everything three times: one pass cannot decide a target near its line on this
  // shared machine (full runs 40 minutes apart moved by ±25–35% with no change in between).
  if (parsed.rounds === 0) parsed.rounds = parsed.writeReadme ? 3 : 1;
  return parsed;
}

const args = parseArguments(process.argv.slice(2));
// V8 writes no profile into a missing directory, and says nothing.
if (args.profileDir) mkdirSync(args.profileDir, { recursive: true });
const shortened = (limits: Limits): Limits => ({ ...limits, seconds: args.seconds ?? limits.seconds, warmupSeconds: args.warmupSeconds ?? limits.warmupSeconds });
const phase: Limits = shortened(args.quick ? { warmupSeconds: 1, seconds: 3, maxOps: 2_000_000 } : { warmupSeconds: 3, seconds: 10, maxOps: 2_000_000 });
const loginPhase: Limits = shortened(args.quick ? { warmupSeconds: 1, seconds: 3, maxOps: 20_000 } : { warmupSeconds: 2, seconds: 8, maxOps: 20_000 });
const SCALE = args.quick ? [10_000, 100_000] : [10_000, 1_000_000];
const SCALE_POOL = 10_000;
/** Codes seeded for the exchange phase: more than warm-up + phase use at the fastest rate expected. */
const CODE_POOL = { gatehouse: args.quick ? 15_000 : 60_000, oidc: args.quick ? 30_000 : 150_000, oidcPostgres: args.quick ? 15_000 : 60_000 };

const workDirectory = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
const results: Measurement[] = [];
/** The round (1…args.rounds) each measurement was taken in. */
const roundOf = new Map<Measurement, number>();
let currentRound = 1;
/** While the servers' groups take turns (main): each measured phase hands over to the next group. */
let turns: Turns | undefined;
const notes: string[] = [];
const running = new Set<ServerProcess>();
/** Before each phase, wait up to 60 s for other work on the machine to end; at most this long in all. */
let quietBudgetSeconds = args.waitQuiet ? 240 : 0;
const log = (line: string) => process.stderr.write(`${line}\n`);

async function start(role: Role, roleArguments: RoleArguments = {}): Promise<ServerProcess> {
  const server = await ServerProcess.start(role, roleArguments, join(workDirectory, `${role}.log`));
  running.add(server);
  return server;
}

async function stop(server: ServerProcess): Promise<void> {
  await server.stop();
  running.delete(server);
}

type DatabaseCpu = (() => Promise<Map<number, number>>) | undefined;

/**
 * A phase whose operations fail more often than this (in its window or its warm-up, in any attempt) fails
 * the run: it measured refusals, not work. Every response is checked (workloads.ts), so an error is a
 * non-2xx answer where the work expects success (or a wrong one): the server refusing what the benchmark
 * should not provoke (a limit, a superseded code), or a bug. 0.1% leaves room for nothing systematic.
 */
const MAX_ERROR_RATE = 0.001;
/** The phases over MAX_ERROR_RATE, one line each (phase, counts, the commonest errors). */
const failedPhases: string[] = [];

function checkErrors(result: Measurement, attempt: number): void {
  const over = (errors: number, ok: number) => errors > 0 && errors / (errors + ok) > MAX_ERROR_RATE;
  const share = (errors: number, ok: number) => `${errors} errors in ${(errors + ok).toLocaleString('en-US')} operations (${((100 * errors) / (errors + ok)).toFixed(1)}%)`;
  const parts: string[] = [];
  if (over(result.errors, result.ok)) parts.push(`${share(result.errors, result.ok)}: ${result.errorSummary}`);
  if (over(result.warmupErrors, result.warmupOk)) parts.push(`warm-up ${share(result.warmupErrors, result.warmupOk)}: ${result.warmupErrorSummary}`);
  // A connection given up or cut off (load.ts drive) fails the phase at any error rate: the server stopped answering.
  if (result.lostConnections > 0) parts.push(`${result.lostConnections} connection(s) lost (could not reconnect, or cut off after the time was up)`);
  if (parts.length) failedPhases.push(`${result.system} · ${result.work}${attempt > 1 ? ` (attempt ${attempt})` : ''}: ${parts.join('; ')}`);
}

/** A phase during which other processes used more than this much CPU (% of one core) is repeated. */
const DISTURBED_PERCENT = 30;
const MAX_ATTEMPTS = args.quick || args.profileDir ? 1 : 2;

/**
 * Measures one phase. When other work on the machine disturbed it (see DISTURBED_PERCENT), it is repeated
 * with a fresh workload from `make`, up to MAX_ATTEMPTS times, and the least disturbed attempt is kept.
 * Then, while the groups take turns, hands over to the next group, unless `keepTurn` (this group's next
 * phase must follow at once).
 */
async function run(server: ServerProcess, make: () => Workload | Promise<Workload>, limits: Limits = phase, databaseCpu?: DatabaseCpu, afterEach?: () => void, keepTurn = false): Promise<Measurement> {
  let kept: Measurement | undefined;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    if (quietBudgetSeconds > 0) {
      const waited = await waitUntilQuiet(Math.min(60, quietBudgetSeconds), 0.25, (busy) => log(`  waiting for the machine to be quiet (${(busy * 100).toFixed(0)}% of a core busy elsewhere)…`));
      quietBudgetSeconds -= waited;
    }
    const workload = await make();
    const profilePath = args.profileDir && workload.system.startsWith('Gatehouse')
      ? join(args.profileDir, `${workload.system}-${workload.work}${args.rounds > 1 ? `-round-${currentRound}` : ''}`.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase() + '.cpuprofile')
      : undefined;
    log(`  ${workload.system} · ${workload.work}${args.rounds > 1 ? ` (round ${currentRound} of ${args.rounds})` : ''}${attempt > 1 ? ` (attempt ${attempt})` : ''} …`);
    const result = await measure(server, workload, limits, { profilePath, databaseCpu });
    afterEach?.();
    checkErrors(result, attempt);
    log(`    ${Math.round(result.opsPerSecond).toLocaleString('en-US')} ops/s, ${result.errors} errors${result.errors ? ` (${result.errorSummary})` : ''}`
      + `${result.warmupErrors ? `, ${result.warmupErrors} in the warm-up (${result.warmupErrorSummary})` : ''}, `
      + `${result.cpuMicrosPerOp.toFixed(0)} µs CPU/op${result.databaseCpuMicrosPerOp === undefined ? '' : ` + ${result.databaseCpuMicrosPerOp.toFixed(0)} µs PostgreSQL`}, `
      + `other load ${result.otherCpuPercent.toFixed(0)}% of a core, ended by ${result.endedBy}`);
    if (!kept || result.otherCpuPercent < kept.otherCpuPercent) kept = result;
    if (result.otherCpuPercent <= DISTURBED_PERCENT) break;
    if (attempt < MAX_ATTEMPTS) log(`    disturbed by other load on the machine: repeating`);
  }
  results.push(kept!);
  roundOf.set(kept!, currentRound);
  // Paired groups (bench/turns.ts): the next group measures the same phase now, seconds after this one.
  if (!keepTurn) await turns?.passTurn();
  return kept!;
}

// ---------------------------------------------------------------------------------------------------

async function floors(): Promise<void> {
  if (!args.phases.has('floor')) return;
  log('floors');
  const json = await start('floor-json');
  await run(json, () => floorPost(SYSTEM.floorJson, 'small JSON POST'));
  await stop(json);
  for (const [role, system] of [['floor-sqlite-full', SYSTEM.floorFull], ['floor-sqlite-normal', SYSTEM.floorNormal]] as const) {
    const databasePath = join(workDirectory, `${role}.sqlite`);
    const server = await start(role, { databasePath });
    await run(server, () => floorPost(system, 'JSON POST + 1 insert'));
    await stop(server);
    removeDatabase(databasePath);
  }
}

async function oidcProvider(): Promise<void> {
  log('oidc-provider');
  const server = await start('oidc-provider');
  await oidcPhases(server, SYSTEM.oidc, CODE_POOL.oidc);
  await stop(server);
}

/** oidc-provider's phases (the same for both stores): its login sessions, its seeded codes, mainPhases. */
async function oidcPhases(server: ServerProcess, system: string, codePool: number, databaseCpu?: DatabaseCpu): Promise<void> {
  const endpoints: Endpoints = {
    system, token: '/token', introspection: '/token/introspection',
    clientId: OIDC_CLIENT.id, clientSecret: OIDC_CLIENT.secret, redirectUri: OIDC_CLIENT.redirectUri,
  };
  // One login session per connection and then some: oidc-provider renews the session id at every flow.
  // Each of its own account, as each of Gatehouse's flow sessions is its own user's (flow-users.ts).
  const sessions: Map<string, string>[] = [];
  for (let i = 0; i < FLOW_USER_COUNT; i++) sessions.push((await oidcLogin(server.url, endpoints, OIDC_SCOPE, `${OIDC_ACCOUNT}-${i}`)).session);
  const moreCodes = () => server.call<Code[]>('seed-codes', { count: codePool });
  const before = await server.call<Record<string, number>>('interactions');
  await mainPhases(server, endpoints, args.phases.has('exchange') ? await moreCodes() : [], moreCodes, oidcFlow(endpoints, sessions, OIDC_SCOPE), databaseCpu);
  if (!args.phases.has('flow')) return;
  // The flow must do Gatehouse's flow's work: a consent on an existing login session, never a login.
  const after = await server.call<Record<string, number>>('interactions');
  const consents = (after.consent ?? 0) - (before.consent ?? 0);
  const logins = (after.login ?? 0) - (before.login ?? 0);
  log(`    ${system}: the flow phases answered ${consents.toLocaleString('en-US')} consent and ${logins} login interactions`);
  if (logins > 0 || consents === 0) failedPhases.push(`${system} · flow with session: ${consents} consent and ${logins} login interactions (expected consents only)`);
}

/**
 * Exchange → introspection (the access tokens obtained) → refresh rotation (the refresh tokens obtained) → flow,
 * those of them --phases selects.
 */
async function mainPhases(
  server: ServerProcess, endpoints: Endpoints, codes: Code[], moreCodes: () => Promise<Code[]>,
  flow: Workload, databaseCpu?: DatabaseCpu,
): Promise<void> {
  if (args.phases.has('exchange')) await tokenPhases(server, endpoints, codes, moreCodes, databaseCpu);
  if (args.phases.has('flow')) await run(server, () => flow, phase, databaseCpu);
}

async function tokenPhases(server: ServerProcess, endpoints: Endpoints, codes: Code[], moreCodes: () => Promise<Code[]>, databaseCpu?: DatabaseCpu): Promise<void> {
  const harvest: TokenPair = { access: [], refresh: [] };
  // A repeated exchange phase gets a fresh pool of codes (each code is used once).
  let first = true;
  // The introspection follows its own exchange at once, in the same turn: its tokens are then seconds old, as
  // they always were here. Minutes old (after the other groups' exchanges), an introspection also records its
  // grant's use (once per grant per minute, endpoints/introspection.ts): a different workload, which
  // --token-age measures on purpose.
  await run(server, async () => {
    const pool = first ? codes : await moreCodes();
    first = false;
    return codeExchange(endpoints, pool, harvest);
  }, phase, databaseCpu, undefined, args.phases.has('introspection'));
  const accessTokens = harvest.access.slice();
  if (args.phases.has('introspection') && args.tokenAgeSeconds > 0) {
    log(`    waiting ${args.tokenAgeSeconds} s: the tokens' age at their introspection (--token-age)`);
    await new Promise((resolve) => setTimeout(resolve, args.tokenAgeSeconds * 1000));
  }
  if (args.phases.has('introspection')) await run(server, () => introspection(endpoints, accessTokens), phase, databaseCpu);
  if (!args.phases.has('refresh')) return;
  // A repeated refresh phase continues the queue: every refresh token is still presented once.
  let refreshPool = args.refreshOrder === 'random' ? shuffled(harvest.refresh) : harvest.refresh;
  let refresh: ReturnType<typeof refreshRotation> | undefined;
  await run(server, () => (refresh = refreshRotation(endpoints, refreshPool)), phase, databaseCpu, () => {
    refreshPool = refresh!.pending();
  });
}

type Code = { code: string; verifier: string };

function gatehouseEndpoints(system: string): Endpoints {
  const client = DEVELOPMENT_SEED.confidentialClient;
  return {
    system, token: '/oauth/token', introspection: '/oauth/token/introspect',
    clientId: client.id, clientSecret: client.secret, redirectUri: client.redirectUri,
  };
}

async function gatehouseRest(
  server: ServerProcess, endpoints: Endpoints, codes: Code[], moreCodes: () => Promise<Code[]>, databaseCpu?: DatabaseCpu,
): Promise<void> {
  // A login session per flow user (the flow phase's pool); the login phase posts with the first one's CSRF pair.
  const logins = await Promise.all((args.phases.has('flow') ? FLOW_USERS : FLOW_USERS.slice(0, 1)).map((user) => gatehouseLogin(server.url, endpoints, BENCH_SCOPE, user)));
  const { csrf } = logins[0]!;
  await mainPhases(server, endpoints, codes, moreCodes, gatehouseFlow(endpoints, logins.map((login) => login.session), BENCH_SCOPE), databaseCpu);
  if (args.phases.has('login')) await run(server, () => passwordLogins(endpoints.system, csrf, DEVELOPMENT_SEED.users.alice), loginPhase, databaseCpu);
}

async function gatehouseSqlite(): Promise<void> {
  log('Gatehouse on SQLite');
  const databasePath = join(workDirectory, 'gatehouse.sqlite');
  const tokenKey = randomBytes(32).toString('base64url');
  const seeder = await start('seed-sqlite', { databasePath, tokenKey });
  await seeder.call('prepare');
  const codes = args.phases.has('exchange') ? await seeder.call<Code[]>('seed-codes', { count: CODE_POOL.gatehouse }) : [];
  await stop(seeder);
  const server = await start('gatehouse-sqlite', { databasePath, tokenKey });
  // More codes for a repeated exchange phase: a seeding process writes them while the server is idle (WAL).
  const moreCodes = async () => {
    const more = await start('seed-sqlite', { databasePath, tokenKey });
    try {
      return await more.call<Code[]>('seed-codes', { count: CODE_POOL.gatehouse });
    } finally {
      await stop(more);
    }
  };
  await gatehouseRest(server, gatehouseEndpoints(SYSTEM.sqlite), codes, moreCodes);
  await stop(server);
  removeDatabase(databasePath);
}

/**
 * Refresh rotation with 10,000 and with 1,000,000 grants stored (seeded directly), the same 10,000-grant
 * pool for both, presented in random order: the pool's grants are old grants whose clients refresh at times
 * that have nothing to do with when the grants were made. (Until the twenty-sixth session the pool went in
 * the order the grants were made: at 10,000 the pool is every grant, so consecutive rotations shared their
 * grant rows' and index entries' pages, which at 1,000,000, one grant in a hundred, they cannot: a gain from
 * the order, not from the size. bench/README.md, "twenty-sixth session".) After the first pass over the
 * pool every grant's tokens come back in the order they were issued, as in the refresh phase. Both servers
 * stay up and the phases alternate (small, large, small, large), so a burst of load from elsewhere on the
 * machine does not fall on one size only; the verdict takes each size's best.
 */
async function scale(): Promise<void> {
  if (!args.phases.has('refresh')) return;
  log('Gatehouse on SQLite: scale');
  const prepared: { total: number; server: ServerProcess; refreshTokens: string[]; databasePath: string }[] = [];
  try {
    for (const total of SCALE) {
      const databasePath = join(workDirectory, `scale-${total}.sqlite`);
      const tokenKey = randomBytes(32).toString('base64url');
      const seeder = await start('seed-sqlite', { databasePath, tokenKey });
      await seeder.call('prepare');
      const { refreshTokens, seconds } = await seeder.call<{ refreshTokens: string[]; seconds: number }>('seed-grants', { total, poolSize: SCALE_POOL });
      await stop(seeder);
      shuffled(refreshTokens);
      const megabytes = databaseBytes(databasePath) / 1024 / 1024;
      log(`  seeded ${total.toLocaleString('en-US')} grants (${(total * 2).toLocaleString('en-US')} tokens) in ${seconds.toFixed(1)} s; database ${megabytes.toFixed(0)} MiB`);
      if (currentRound === 1) notes.push(`Scale: ${total.toLocaleString('en-US')} grants (each with an access and a refresh token) seeded in ${seconds.toFixed(1)} s; database file ${megabytes.toFixed(0)} MiB.`);
      prepared.push({ total, server: await start('gatehouse-sqlite', { databasePath, tokenKey }), refreshTokens, databasePath });
    }
    for (const round of [1, 2]) {
      for (const { total, server, refreshTokens } of prepared) {
        const endpoints = gatehouseEndpoints(`${SYSTEM.sqlite} · ${total.toLocaleString('en-US')} grants (round ${round})`);
        // Round 2 continues the queue of round 1: every token is still presented once.
        let workload: ReturnType<typeof refreshRotation> | undefined;
        await run(server, () => (workload = refreshRotation(endpoints, refreshTokens)), phase, undefined, () => {
          refreshTokens.splice(0, refreshTokens.length, ...workload!.pending());
        });
      }
    }
  } finally {
    for (const { server, databasePath } of prepared) {
      await stop(server);
      removeDatabase(databasePath);
    }
  }
}

/** Why the PostgreSQL rows cannot run, or undefined when they can. */
async function postgresUnavailable(): Promise<string | undefined> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return `PostgreSQL at ${POSTGRES_URL.replace(/\/\/[^@]*@/, '//…@')} is not reachable (${(error as Error).message})`;
  } finally {
    await client.end().catch(() => {});
  }
}

async function gatehousePostgres(): Promise<void> {
  log('Gatehouse on PostgreSQL');
  const notReady = await postgresUnavailable();
  if (notReady) {
    const message = `Gatehouse on PostgreSQL: skipped — ${notReady}.`;
    log(`  ${message}`);
    notes.push(message);
    return;
  }
  const schema = `bench_${process.pid}_${Date.now().toString(36)}`;
  const tokenKey = randomBytes(32).toString('base64url');
  // application_name tells this run's backends apart from anyone else's on the same PostgreSQL.
  const applicationName = `gatehouse_bench_${process.pid}`;
  const postgresUrl = `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}application_name=${applicationName}`;
  const roleArguments: RoleArguments = { postgresUrl, postgresSchema: schema, tokenKey };
  const { default: pg } = await import('pg');
  const monitor = new pg.Client({ connectionString: POSTGRES_URL, query_timeout: 30_000 });
  await monitor.connect();
  // PostgreSQL's CPU for this server: its pooled backends plus the shared background writers.
  const databaseCpu = async () => {
    const { rows } = await monitor.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
    return processCpuMicros([...rows.map((row) => row.pid), ...postgresBackgroundPids()]);
  };
  try {
    const seeder = await start('seed-postgres', roleArguments);
    await seeder.call('prepare');
    const codes = args.phases.has('exchange') ? await seeder.call<Code[]>('seed-codes', { count: CODE_POOL.gatehouse }) : [];
    await stop(seeder);
    const server = await start('gatehouse-postgres', roleArguments);
    const moreCodes = async () => {
      const more = await start('seed-postgres', roleArguments);
      try {
        return await more.call<Code[]>('seed-codes', { count: CODE_POOL.gatehouse });
      } finally {
        await stop(more);
      }
    };
    await gatehouseRest(server, gatehouseEndpoints(SYSTEM.postgres), codes, moreCodes, databaseCpu);
    await stop(server);
  } finally {
    await monitor.end();
    const cleaner = await start('seed-postgres', roleArguments);
    await cleaner.call('drop').catch((error: unknown) => log(`  could not drop schema ${schema}: ${String(error)}`));
    await stop(cleaner);
  }
}

/**
 * oidc-provider on PostgreSQL (durable): the same peer and phases as the memory row, its store
 * bench/oidc-postgres-adapter.ts in a fresh schema (`bench_oidc_<pid>_<time>`) of the same database
 * Gatehouse's PostgreSQL row uses, dropped at the end. Its CPU is counted like Gatehouse's: the server
 * process plus its backends (by application_name) and PostgreSQL's background writers.
 */
async function oidcProviderPostgres(): Promise<void> {
  log('oidc-provider on PostgreSQL (durable)');
  const notReady = await postgresUnavailable();
  if (notReady) {
    const message = `oidc-provider on PostgreSQL: skipped — ${notReady}.`;
    log(`  ${message}`);
    notes.push(message);
    return;
  }
  const schema = `bench_oidc_${process.pid}_${Date.now().toString(36)}`;
  const applicationName = `oidc_provider_bench_${process.pid}`;
  const postgresUrl = `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}application_name=${applicationName}`;
  const { default: pg } = await import('pg');
  const monitor = new pg.Client({ connectionString: POSTGRES_URL, query_timeout: 30_000 });
  await monitor.connect();
  const databaseCpu = async () => {
    const { rows } = await monitor.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
    return processCpuMicros([...rows.map((row) => row.pid), ...postgresBackgroundPids()]);
  };
  try {
    // The role creates the schema when it starts (and fails to start if it exists already).
    const server = await start('oidc-provider-postgres', { postgresUrl, postgresSchema: schema });
    await oidcPhases(server, SYSTEM.oidcPostgres, CODE_POOL.oidcPostgres, databaseCpu);
    await stop(server);
  } finally {
    await dropOidcPostgresSchema(monitor, schema).catch((error: unknown) => log(`  could not drop schema ${schema}: ${String(error)}`));
    await monitor.end();
  }
}

function databaseBytes(path: string): number {
  let total = 0;
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(path + suffix)) total += statSync(path + suffix).size;
  return total;
}

function removeDatabase(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
}

// ---------------------------------------------------------------------------------------------------

const integer = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–');
const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
const ratio = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? '' : `${value.toFixed(2)}×`);

/** Every round's measurement of `work` by `system`, in the order taken. */
function measurements(system: string, work: string): Measurement[] {
  return results.filter((result) => result.system === system && result.work === work);
}

/** The round whose throughput is the median of `system`'s rounds of `work` (bench/median.ts). */
function find(system: string, work: string): Measurement | undefined {
  const all = measurements(system, work);
  if (all.length === 0) return undefined;
  const middle = median(all.map((result) => result.opsPerSecond));
  return all.find((result) => result.opsPerSecond === middle);
}

/**
 * `system` against `peerSystem` on `work`: the ratio of their throughputs in each round both were measured
 * in (minutes apart, not a whole run apart), and the median of those ratios.
 */
function ratios(system: string, peerSystem: string, work: string): { each: number[]; median: number } | undefined {
  const peers = new Map(measurements(peerSystem, work).map((result) => [roundOf.get(result), result]));
  const each = measurements(system, work).flatMap((result) => {
    const peer = peers.get(roundOf.get(result));
    return peer ? [result.opsPerSecond / peer.opsPerSecond] : [];
  });
  return each.length ? { each, median: median(each) } : undefined;
}

function table(): string {
  const json = find(SYSTEM.floorJson, 'small JSON POST');
  const full = find(SYSTEM.floorFull, 'JSON POST + 1 insert');
  const byRound = args.rounds > 1;
  const lines = [
    `| system | work | req/op | ops/s${byRound ? ' (median) | ops/s by round' : ''} | errors | p50 ms | p99 ms | server CPU µs/op | peak RSS MiB | other load | × oidc-provider | × oidc-provider PostgreSQL | ÷ JSON floor | ÷ insert floor (FULL) |`,
    `|---|---|---:|---:|${byRound ? '---:|' : ''}---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
  ];
  // One row per system and work, by system in the order the systems were first measured (the groups take
  // turns, so their results arrive interleaved phase by phase), each system's works in the order measured.
  const systems = [...new Set(results.map((result) => result.system))];
  const rows = new Map<string, Measurement>();
  for (const system of systems) {
    for (const result of results) {
      const key = `${result.system}\u0000${result.work}`;
      if (result.system === system && !rows.has(key)) rows.set(key, find(result.system, result.work)!);
    }
  }
  for (const result of rows.values()) {
    const gatehouse = result.system.startsWith('Gatehouse');
    const peer = gatehouse ? ratios(result.system, SYSTEM.oidc, result.work) : undefined;
    // Like with like: Gatehouse on PostgreSQL against oidc-provider on the same PostgreSQL (both durable).
    const durablePeer = result.system === SYSTEM.postgres ? ratios(result.system, SYSTEM.oidcPostgres, result.work) : undefined;
    const rounds = measurements(result.system, result.work);
    const cpu = result.databaseCpuMicrosPerOp === undefined
      ? integer(result.cpuMicrosPerOp)
      : `${integer(result.cpuMicrosPerOp)} + ${integer(result.databaseCpuMicrosPerOp)} pg`;
    lines.push([
      '', result.system, result.work, String(result.requestsPerOp), integer(result.opsPerSecond),
      ...(args.rounds > 1 ? [rounds.map((round) => integer(round.opsPerSecond)).join(' · ')] : []),
      `${result.errors}${result.warmupErrors ? ` (+${result.warmupErrors} warm-up)` : ''}`,
      fixed(result.p50Ms, 2), fixed(result.p99Ms, 2), cpu, fixed(result.peakRssMiB, 0), `${fixed(result.otherCpuPercent, 0)}%`,
      ratio(peer?.median),
      ratio(durablePeer?.median),
      gatehouse && json ? ratio(result.opsPerSecond / json.opsPerSecond) : '',
      gatehouse && full ? ratio(result.opsPerSecond / full.opsPerSecond) : '',
      '',
    ].join(' | ').trim());
  }
  return lines.join('\n');
}

/** Issue 12's table: ratios against oidc-provider in memory in the same run. */
const ISSUE_12_TARGETS: Array<[work: string, sqlite: number, postgres: number]> = [
  // work, SQLite (durable), PostgreSQL
  ['refresh rotation', 1.0, 0.6],
  ['code exchange', 1.0, 0.5],
  ['introspection', 2.0, 1.0],
  ['flow with session', 2.0, 1.0],
];
/** The work every server does (the targets' rows): the durable-peer verdicts and the steadiness references. */
const SERVER_WORKS = ISSUE_12_TARGETS.map(([work]) => work);

interface Verdict {
  target: string;
  met: boolean | undefined;
  detail: string;
}

function verdicts(): Verdict[] {
  const out: Verdict[] = [];
  const against = (system: string, work: string, wanted: number, label: string, peerSystem: string = SYSTEM.oidc) => {
    const ours = find(system, work);
    const peer = find(peerSystem, work);
    const each = ratios(system, peerSystem, work);
    const target = `${label}: ${work} ≥ ${wanted}× oidc-provider${peerSystem === SYSTEM.oidcPostgres ? ' on PostgreSQL (durable)' : ''}`;
    if (!ours || !peer || !each) {
      out.push({ target, met: undefined, detail: 'not measured in this run' });
      return;
    }
    const errors = measurements(system, work).reduce((sum, result) => sum + result.errors, 0);
    const rounds = each.each.length > 1 ? `median of ${each.each.map((value) => ratio(value)).join(', ')}; ` : '';
    out.push({
      target, met: each.median >= wanted && errors === 0,
      detail: `${each.median.toFixed(2)}× (${rounds}${integer(ours.opsPerSecond)} vs ${integer(peer.opsPerSecond)} ops/s${each.each.length > 1 ? ', medians' : ''}${errors ? `, ${errors} errors` : ''})`,
    });
  };
  for (const [work, sqlite] of ISSUE_12_TARGETS) against(SYSTEM.sqlite, work, sqlite, 'SQLite');
  for (const [work, , postgres] of ISSUE_12_TARGETS) against(SYSTEM.postgres, work, postgres, 'PostgreSQL');
  // Issue 12: Gatehouse on PostgreSQL ≥ 2× oidc-provider on the same PostgreSQL, on every row.
  for (const work of SERVER_WORKS) against(SYSTEM.postgres, work, 2, 'PostgreSQL', SYSTEM.oidcPostgres);
  const best = (total: number) => results
    .filter((result) => result.system.startsWith(`${SYSTEM.sqlite} · ${total.toLocaleString('en-US')} grants`) && result.work === 'refresh rotation')
    .sort((a, b) => b.opsPerSecond - a.opsPerSecond)[0];
  const [small, large] = SCALE.map(best);
  if (small && large) {
    // Issue 12, "flat with size": at least 90% of the small database's throughput (faster is fine).
    const change = large.opsPerSecond / small.opsPerSecond - 1;
    out.push({ target: `scale: ${SCALE[1]!.toLocaleString('en-US')} grants within 10% of ${SCALE[0]!.toLocaleString('en-US')}`, met: change >= -0.10, detail: `${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)}% (${integer(large.opsPerSecond)} vs ${integer(small.opsPerSecond)} ops/s)` });
  } else {
    out.push({ target: 'scale: 1,000,000 grants within 10% of 10,000', met: undefined, detail: 'not measured in this run' });
  }
  return out;
}

/**
 * A note when the work every round repeats unchanged (the JSON floor, the in-memory peer) moved by more than
 * UNSTEADY_SPREAD between rounds (bench/steadiness.ts): the machine changed under the run.
 */
function steadinessNote(): string[] {
  if (args.rounds < 2) return [];
  const references = [
    { system: SYSTEM.floorJson, work: 'small JSON POST' },
    ...SERVER_WORKS.map((work) => ({ system: SYSTEM.oidc, work })),
  ].map(({ system, work }) => ({ label: `${system} · ${work}`, opsPerSecond: measurements(system, work).map((result) => result.opsPerSecond) }));
  const unsteady = unsteadyReferences(references);
  if (unsteady.length === 0) return [];
  const moved = unsteady.map(({ label, lowest, highest, spread }) => `${label} ${integer(lowest)}–${integer(highest)} ops/s (${spread.toFixed(2)}×)`);
  return [`**Unsteady machine**: work that every round repeats unchanged moved by more than ${Math.round((UNSTEADY_SPREAD - 1) * 100)}% between rounds — ${moved.join('; ')}. This run's ratios say as much about the machine as about the code.`];
}

function report(): string {
  const steadiness = steadinessNote();
  const verdictLines = verdicts().map((verdict) => `- ${verdict.met === undefined ? '–' : verdict.met ? 'met' : '**missed**'}: ${verdict.target} — ${verdict.detail}`);
  const cpuModel = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return [
    `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · ${cpus().length} × ${cpuModel} · Node ${process.versions.node} · concurrency 32 · `
      + `${phase.warmupSeconds} s warm-up + ${phase.seconds} s per phase (logins ${loginPhase.seconds} s)`
      + ' · the servers take turns phase by phase'
      + `${args.rounds > 1 ? ` · ${args.rounds} rounds: every group ${args.rounds} times in turn; a row is its median round, a ratio the median of the rounds' ratios` : ''}`
      + `${args.quick ? ' · QUICK (smoke test, not figures)' : ''}`,
    '',
    table(),
    '',
    'Targets:',
    '',
    ...verdictLines,
    ...(notes.length || steadiness.length ? ['', ...[...steadiness, ...new Set(notes)].map((note) => `- ${note}`)] : []),
  ].join('\n');
}

function writeReadme(text: string): void {
  const start = '<!-- authorization-server-results:start -->';
  const end = '<!-- authorization-server-results:end -->';
  if (!existsSync(README)) {
    log(`bench/README.md does not exist: results not kept`);
    return;
  }
  const readme = readFileSync(README, 'utf8');
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) {
    log('bench/README.md has no authorization-server result markers: results not kept');
    return;
  }
  writeFileSync(README, `${readme.slice(0, from + start.length)}\n${text}\n${readme.slice(to)}`);
  log('results kept in bench/README.md');
}

async function main(): Promise<void> {
  const started = performance.now();
  // The servers' groups take turns phase by phase (bench/turns.ts): a ratio's two sides are measured seconds
  // apart. The floors come first and the scale group last, each on its own.
  const paired: [Group, () => Promise<void>][] = [
    ['oidc-provider', oidcProvider], ['gatehouse-sqlite', gatehouseSqlite], ['gatehouse-postgres', gatehousePostgres],
    ['oidc-provider-postgres', oidcProviderPostgres],
  ];
  try {
    for (currentRound = 1; currentRound <= args.rounds; currentRound++) {
      if (args.rounds > 1) log(`round ${currentRound} of ${args.rounds}`);
      if (args.only.has('floors')) await floors();
      await inTurns(paired.filter(([group]) => args.only.has(group)).map(([, step]) => async (groupTurns) => {
        turns = groupTurns;
        await step();
      }));
      turns = undefined;
      if (args.only.has('scale')) await scale();
    }
  } finally {
    for (const server of running) await server.stop();
    rmSync(workDirectory, { recursive: true, force: true });
  }
  const text = report();
  process.stdout.write(`\n${text}\n\n`);
  log(`total ${((performance.now() - started) / 1000 / 60).toFixed(1)} min`);
  if (failedPhases.length) {
    // Loudly, last, and with a failing exit status: a table of refusals must not pass for figures.
    log(`\nFAILED: ${failedPhases.length} phase(s) with more than ${MAX_ERROR_RATE * 100}% failed operations${args.writeReadme ? ' (bench/README.md not updated)' : ''}:`);
    for (const line of failedPhases) log(`FAILED: ${line}`);
    process.exitCode = 1;
    return;
  }
  if (args.writeReadme) writeReadme(text);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    for (const server of running) await server.stop();
    rmSync(workDirectory, { recursive: true, force: true });
    process.exit(130);
  });
}

main().catch(async (error: unknown) => {
  console.error(error);
  log(`\nFAILED: the run stopped: ${error instanceof Error ? error.message.split('\n', 1)[0] : String(error)}`);
  for (const server of running) await server.stop();
  rmSync(workDirectory, { recursive: true, force: true });
  process.exit(1);
});
