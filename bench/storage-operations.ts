/**
 * Issue 12: what the hot storage operations cost SQLite, without HTTP. Times token lookup
 * (`tokens.findByDigest`), refresh rotation (`tokens.rotateRefreshToken` with the new pair, an audit event
 * and a grace record, as grants/refresh-token.ts calls it) and code exchange (`grants.exchangeCode`, as
 * grants/authorization-code.ts calls it) on a temporary database file served as the server serves it
 * (WAL flushed before each answer, group commit, the checkpoint worker), at each number of stored grants.
 *
 *   node bench/storage-operations.ts [--sizes 10000,1000000] [--ops 2000] [--rounds 3] [--in-flight 32]
 *        [--rotations-per-grant 1] [--refresh-order issue|random] [--dir DIR] [--no-split] [--variant NAME=ROOT[;PRAGMA...]]... [--help]
 *
 * Operations are issued `--in-flight` at a time (each worker awaits its answer, then issues the next), so
 * group commit batches them as it batches concurrent HTTP requests. `--rotations-per-grant R` rotates
 * ops / R grants R times each (a grant's revoked access tokens accumulate, as in the HTTP benchmark).
 * `--refresh-order random` shuffles the pool (the HTTP benchmark's scale group does); `issue` (the default) keeps
 * the order its grants were made and their tokens issued.
 * Trust CPU per operation: it is `process.cpuUsage()` over the phase divided by its operations (user +
 * system, every thread of the process: the checkpoint worker's copies count, as they do in the server);
 * "main" is the event loop's thread alone (`process.threadCpuUsage()`). Wall-clock rates (ops/s) mean little on a loaded machine.
 * Each variant × size runs `--rounds` times from a fresh copy of the same seeded file (rounds interleave
 * variants and sizes, so load from elsewhere falls on all of them); the table gives medians. "KiB
 * written/read per op" are the bytes the process moved through write/read system calls (/proc/self/io):
 * WAL frames and the checkpoint's copies of them, and page reads that missed SQLite's cache; other load
 * leaves them alone, so they show a schema change's effect when CPU time is too noisy to (on a shared
 * 2-core machine CPU per op moved by ±25% between identical runs: compare only across interleaved rounds).
 * Every run starts with SQLite's page cache cold (a fresh connection on a fresh copy), as after a restart.
 *
 * The per-statement split comes from one more run per variant × size, instrumented (each statement's
 * `run`/`get`/`all`/`exec` timed with the thread's CPU clock): the instrumentation adds its own cost, so its
 * total is above the untimed runs'; read it as shares and statement counts, not as the cost.
 *
 * A variant names a checkout (ROOT: its storage and its seeder are imported, so a schema change seeds
 * and serves with its own migrations) and PRAGMA statements run on every connection the storage opens,
 * after its own (this script wraps `DatabaseSync.prototype.exec` to add them: a measuring device, never
 * a pattern for the server). Seeds are kept in DIR per checkout and size when `--dir` is given (seeding
 * 1,000,000 grants takes minutes; later checkouts migrate a copy of the first's seed, see seedFor).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes, randomUUID, randomUUIDv7 } from 'node:crypto';
import { DatabaseSync, StatementSync } from 'node:sqlite';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './median.ts';
import { shuffled } from './workloads.ts';
import { checkoutCodec, checkoutSeeder, checkoutStorage, THIS_CHECKOUT } from './checkout.ts';
import type { GrantRecord, Storage, TokenRecord } from '../packages/authorization-server/src/storage/storage.ts';

type Phase = 'lookup' | 'rotation' | 'exchange';
const PHASES: readonly Phase[] = ['lookup', 'rotation', 'exchange'];

interface Variant { name: string; root: string; pragmas: string[] }

const USAGE = `node bench/storage-operations.ts [--sizes 10000,1000000] [--ops 2000] [--rounds 3] [--in-flight 32]
     [--rotations-per-grant 1] [--refresh-order issue|random] [--dir DIR] [--no-split] [--variant NAME=ROOT[;PRAGMA...]]... [--help]`;
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,1000000' },
    ops: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    'in-flight': { type: 'string', default: '32' },
    'rotations-per-grant': { type: 'string', default: '1' },
    'refresh-order': { type: 'string', default: 'issue' },
    dir: { type: 'string' },
    'no-split': { type: 'boolean', default: false },
    variant: { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const sizes = values.sizes.split(',').map(Number);
const ops = Number(values.ops);
const rounds = Number(values.rounds);
const inFlight = Number(values['in-flight']);
const rotationsPerGrant = Number(values['rotations-per-grant']);
const refreshOrder = values['refresh-order'];
if (refreshOrder !== 'issue' && refreshOrder !== 'random') throw new Error(`--refresh-order: expected issue or random, got ${refreshOrder}`);
const split = !values['no-split'];
const dir = resolve(values.dir ?? join('/tmp', `storage-operations-${process.pid}`));
const keepSeeds = values.dir !== undefined;
const here = THIS_CHECKOUT;
const variants: Variant[] = values.variant.map((text) => {
  const name = text.slice(0, text.indexOf('='));
  const [root, ...pragmas] = text.slice(text.indexOf('=') + 1).split(';');
  return { name, root: resolve(root || here), pragmas: pragmas.filter(Boolean) };
});
if (variants.length === 0) variants.push({ name: 'this checkout', root: here, pragmas: [] });

// Extra PRAGMAs after the storage's own: openDatabase runs `PRAGMA foreign_keys = ON` last.
const database = DatabaseSync.prototype as unknown as { exec(sql: string): void };
const exec = database.exec;
let extraPragmas: string[] = [];
database.exec = function (this: DatabaseSync, sql: string) {
  exec.call(this, sql);
  if (sql === 'PRAGMA foreign_keys = ON') for (const pragma of extraPragmas) this.prepare(pragma).all();
};

/** The instrumented run's tally: statement → count, main-thread CPU µs, wall µs. */
interface Tally { count: number; cpu: number; wall: number }
let tally: Map<string, Tally> | undefined;
const threadCpu = () => {
  const usage = process.threadCpuUsage();
  return usage.user + usage.system;
};
const timed = <T>(label: string, work: () => T): T => {
  if (!tally) return work();
  const cpu = threadCpu();
  const wall = performance.now();
  try {
    return work();
  } finally {
    const entry = tally.get(label) ?? tally.set(label, { count: 0, cpu: 0, wall: 0 }).get(label)!;
    entry.count += 1;
    entry.cpu += threadCpu() - cpu;
    entry.wall += (performance.now() - wall) * 1000;
  }
};
const statementLabel = (sql: string) => sql.replace(/\s+/g, ' ').trim().replace(/\(\?, \?, [?, ]+\)(, \(\?, \?, [?, ]+\))*/g, '(…)').slice(0, 72);
const statement = StatementSync.prototype as unknown as Record<'run' | 'get' | 'all', (...args: unknown[]) => unknown>;
for (const name of ['run', 'get', 'all'] as const) {
  const original = statement[name];
  statement[name] = function (this: StatementSync, ...args: unknown[]) {
    return tally ? timed(statementLabel(this.sourceSQL), () => original.apply(this, args)) : original.apply(this, args);
  };
}
const instrumentedExec = database.exec;
database.exec = function (this: DatabaseSync, sql: string) {
  return tally ? timed(`exec ${statementLabel(sql)}`, () => instrumentedExec.call(this, sql)) : instrumentedExec.call(this, sql);
};

/**
 * Bytes this process wrote and read through system calls (Linux /proc/self/io `wchar`, `rchar`): the WAL
 * frames a commit writes (page size + 24 bytes each), the checkpoint's copies of them into the database
 * file, and page reads that miss SQLite's cache. Unlike CPU time, load elsewhere on the machine leaves
 * them alone, so they show a schema change's effect where CPU time is too noisy. Zero elsewhere.
 */
function ioBytes(): { written: number; read: number } {
  try {
    const text = readFileSync('/proc/self/io', 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    return { written: field('wchar'), read: field('rchar') };
  } catch {
    return { written: 0, read: 0 };
  }
}

/** Runs `work` on each item, `inFlight` at a time, as concurrent requests would. */
async function concurrently<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(inFlight, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

interface Seed { file: string; key: string; refreshTokens: string[]; codes: string[] }

/**
 * Seeds (or finds, with --dir) the file of `total` grants plus `ops` codes for `root`'s schema. The first
 * checkout's seed is made with its seeder; every other checkout's is a copy of it that the checkout's
 * storage migrates on open (its migrations must extend the first's), so all variants hold the same rows.
 */
async function seedFor(root: string, rootIndex: number, total: number): Promise<Seed> {
  const file = join(dir, `seed-${rootIndex}-${total}.sqlite`);
  const poolFile = `${file}.pool.json`;
  if (rootIndex > 0 && (!keepSeeds || !existsSync(poolFile))) {
    const first = join(dir, `seed-0-${total}.sqlite`);
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    copyFileSync(first, file);
    const createSqliteStorage = await checkoutStorage(root);
    await createSqliteStorage(file).close();
    copyFileSync(`${first}.pool.json`, poolFile);
  }
  if (!keepSeeds || !existsSync(poolFile)) {
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    const seeder = await checkoutSeeder(root);
    const key = randomBytes(32);
    await seeder.prepareDatabase(file);
    const { refreshTokens, seconds } = seeder.seedGrants(file, key, total, ops);
    const codes = seeder.seedCodes(file, key, ops).map((code) => code.code);
    writeFileSync(poolFile, JSON.stringify({ key: key.toString('base64url'), refreshTokens, codes }));
    console.log(`seeded ${total} grants and ${ops} codes for ${root} in ${seconds.toFixed(1)} s`);
  }
  const saved = JSON.parse(readFileSync(poolFile, 'utf8')) as Omit<Seed, 'file'>;
  if (saved.refreshTokens.length < ops || saved.codes.length < ops) throw new Error(`${poolFile} was seeded for fewer than ${ops} ops`);
  // A seed kept from a run with more ops serves this one's first `ops`: every phase runs exactly `ops`.
  return { file, key: saved.key, refreshTokens: saved.refreshTokens.slice(0, ops), codes: saved.codes.slice(0, ops) };
}

/** One run of the three phases on a fresh copy of `seed`; returns CPU and wall per phase. */
async function runOnce(variant: Variant, seed: Seed, file: string) {
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  copyFileSync(seed.file, file);
  extraPragmas = variant.pragmas;
  const createSqliteStorage = await checkoutStorage(variant.root);
  const createOpaqueTokenCodec = await checkoutCodec(variant.root);
  const codec = createOpaqueTokenCodec(Buffer.from(seed.key, 'base64url'));
  const seeded = new DatabaseSync(seed.file, { readOnly: true });
  const { client_id: clientId } = seeded.prepare('SELECT client_id FROM authorization_codes LIMIT 1').get() as { client_id: string };
  seeded.close();
  const storage: Storage = createSqliteStorage(file);
  const now = Math.floor(Date.now() / 1000);
  const refreshDigests = seed.refreshTokens.map((value) => codec.digestOf(value, 'grt')!);
  // A new shuffle for every run: rounds interleave variants and sizes, so no variant keeps one lucky order.
  if (refreshOrder === 'random') shuffled(refreshDigests);
  const found = new Map<string, { grant: GrantRecord; scope: string[]; tokenId: string }>();
  const newPair = (grantId: string, clientId: string, scope: string[]): TokenRecord[] => (['access', 'refresh'] as const).map((kind) => ({
    tokenDigest: codec.mint(kind === 'access' ? 'gat' : 'grt').digest, tokenId: kind === 'access' ? randomUUIDv7() : randomUUID(), kind, grantId, clientId, scope,
    issuedAt: now, expiresAt: now + (kind === 'access' ? 900 : 5_184_000), rotatedAt: null, revokedAt: null,
  }));
  const work: Record<Phase, () => Promise<void>> = {
    lookup: () => concurrently(refreshDigests, async (digest) => {
      const token = await storage.tokens.findByDigest(digest);
      if (!token) throw new Error('a seeded refresh token was not found');
      found.set(digest, { grant: token.grant, scope: token.token.scope, tokenId: token.token.tokenId });
    }),
    // As bench/workloads.ts refreshes: a queue of current refresh tokens, each rotation's successor to the
    // back, so each of ops / --rotations-per-grant grants is rotated that many times (its revoked access
    // tokens pile up as they do under load, until cleanup removes them at expiry).
    rotation: () => {
      const queue = refreshDigests.slice(0, Math.ceil(refreshDigests.length / rotationsPerGrant));
      if (queue.length < inFlight) throw new Error('--rotations-per-grant leaves fewer grants than --in-flight');
      return concurrently(refreshDigests, async () => {
        const digest = queue.shift()!;
        const { grant, scope, tokenId } = found.get(digest)!;
        const records = newPair(grant.grantId, grant.clientId, scope);
        const outcome = await storage.tokens.rotateRefreshToken(digest, now, records, {
          type: 'refresh_token.rotated', at: now, actor: `client:${grant.clientId}`, clientId: grant.clientId, grantId: grant.grantId,
          details: { scope: scope.join(' '), previous_refresh_token_id: tokenId, access_token_id: records[0]!.tokenId, refresh_token_id: records[1]!.tokenId },
        }, { grantId: grant.grantId, previousDigest: digest, graceExpiresAt: now + 60, sealedSuccessor: randomBytes(220).toString('base64url') });
        if (outcome !== 'rotated') throw new Error(`rotation answered ${outcome}`);
        found.set(records[1]!.tokenDigest, { grant, scope, tokenId: records[1]!.tokenId });
        queue.push(records[1]!.tokenDigest);
      });
    },
    // With the token endpoint's read before it redeems (authorizationCodes.find), as authorization-code.ts does.
    exchange: () => concurrently(seed.codes, async (code) => {
      const codeDigest = codec.digestOf(code, 'gac')!;
      const stored = await storage.authorizationCodes.find(codeDigest, clientId);
      if (!stored) throw new Error('a seeded code was not found');
      const grant: GrantRecord = {
        grantId: randomUUIDv7(), clientId, userId: stored.code.userId, subjectType: stored.code.subjectType, subjectId: stored.code.subjectId,
        scope: stored.code.scope, createdAt: now, revokedAt: null, revocationReason: null,
      };
      const records = newPair(grant.grantId, clientId, stored.code.scope);
      const issued = await storage.grants.exchangeCode(codeDigest, clientId, now, grant, records, {
        type: 'token.issued', at: now, actor: `client:${clientId}`, clientId, grantId: grant.grantId,
        details: { grant_type: 'authorization_code', scope: stored.code.scope.join(' '), access_token_id: records[0]!.tokenId, refresh_token_id: records[1]!.tokenId },
      });
      if (issued.outcome !== 'issued') throw new Error(`exchange answered ${issued.outcome}`);
    }),
  };
  const result = {} as Record<Phase, { cpu: number; main: number; wall: number; written: number; read: number; statements: Map<string, Tally> | undefined }>;
  for (const phase of PHASES) {
    if (split && instrumented) tally = new Map();
    const io = ioBytes();
    const cpu = process.cpuUsage();
    const main = threadCpu();
    const started = performance.now();
    await work[phase]();
    const used = process.cpuUsage(cpu);
    const count = ops;
    const ioAfter = ioBytes();
    result[phase] = {
      cpu: (used.user + used.system) / count, main: (threadCpu() - main) / count, wall: (performance.now() - started) / 1000 / count,
      written: (ioAfter.written - io.written) / count, read: (ioAfter.read - io.read) / count, statements: tally,
    };
    tally = undefined;
  }
  await storage.close();
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  return result;
}

let instrumented = false;
mkdirSync(dir, { recursive: true });
const roots = [...new Set(variants.map((variant) => variant.root))];
const seeds = new Map<string, Seed>();
for (const [index, root] of roots.entries()) for (const total of sizes) seeds.set(`${root} ${total}`, await seedFor(root, index, total));

const samples = new Map<string, { cpu: number; main: number; wall: number; written: number; read: number }[]>();
const splits = new Map<string, Map<string, Tally>>();
const runFile = join(dir, 'run.sqlite');
for (let round = 0; round < rounds + (split ? 1 : 0); round++) {
  instrumented = round === rounds;
  for (const variant of variants) {
    for (const total of sizes) {
      const result = await runOnce(variant, seeds.get(`${variant.root} ${total}`)!, runFile);
      for (const phase of PHASES) {
        const key = `${variant.name}|${total}|${phase}`;
        const { statements, ...sample } = result[phase];
        if (instrumented) splits.set(key, statements!);
        else samples.set(key, [...(samples.get(key) ?? []), sample]);
      }
      const line = PHASES.map((phase) => `${phase} ${result[phase].cpu.toFixed(0)} µs`).join(', ');
      console.log(`${instrumented ? 'instrumented' : `round ${round + 1}`} ${variant.name} · ${total}: CPU per op ${line}`);
    }
  }
}

console.log(`\nMedian of ${rounds} rounds, ${ops} ops per phase, ${inFlight} in flight. CPU µs per op (user + system, whole process; main thread alone; min–max of the rounds), ops/s by the wall clock:\n`);
console.log('| variant | grants | operation | CPU µs/op | main thread µs/op | range | KiB written/op | KiB read/op | ops/s |');
console.log('|---|---:|---|---:|---:|---|---:|---:|---:|');
for (const variant of variants) {
  for (const total of sizes) {
    for (const phase of PHASES) {
      const values = samples.get(`${variant.name}|${total}|${phase}`)!;
      const cpus = values.map((value) => value.cpu);
      console.log(`| ${variant.name} | ${total.toLocaleString('en')} | ${phase} | ${median(cpus).toFixed(0)} | ${median(values.map((value) => value.main)).toFixed(0)} | ${Math.min(...cpus).toFixed(0)}–${Math.max(...cpus).toFixed(0)} | ${(median(values.map((value) => value.written)) / 1024).toFixed(1)} | ${(median(values.map((value) => value.read)) / 1024).toFixed(1)} | ${(1 / median(values.map((value) => value.wall))).toFixed(0)} |`);
    }
  }
}
if (split) {
  for (const [key, statements] of splits) {
    const [name, total, phase] = key.split('|') as [string, string, Phase];
    if (phase === 'lookup') continue;
    const entries = [...statements.entries()].sort((a, b) => b[1].cpu - a[1].cpu);
    const sum = entries.reduce((s, [, t]) => s + t.cpu, 0);
    const count = ops;
    console.log(`\nStatement split (instrumented run), ${name} · ${Number(total).toLocaleString('en')} grants · ${phase}: ${(sum / count).toFixed(0)} µs of statement CPU per op`);
    console.log('| statement | per op | CPU µs/op | share | wall µs/op |');
    console.log('|---|---:|---:|---:|---:|');
    for (const [label, t] of entries) {
      if (t.cpu / count < 0.5) continue;
      console.log(`| \`${label}\` | ${(t.count / count).toFixed(2)} | ${(t.cpu / count).toFixed(1)} | ${((t.cpu / sum) * 100).toFixed(0)}% | ${(t.wall / count).toFixed(1)} |`);
    }
  }
}
if (!keepSeeds) rmSync(dir, { recursive: true, force: true });
