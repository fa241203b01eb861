/**
 * Issue 12, "flat with size": which B-trees the serving connection reads from the database file during
 * refresh rotations, on SQLite, the storage alone. A page SQLite's cache (8 MiB) does not hold is read with
 * one pread64; at 1,000,000 grants that is what a rotation has more of than at 10,000 (bench/README.md,
 * "twelfth session"). Counts, not timings: they barely move with other load on the machine.
 *
 *   node bench/page-reads-probe.ts [--root DIR] [--grants 1000000] [--pool 10000] [--cycles 2]
 *
 * Seeds `--grants` grants as the benchmark's scale phase does (bench/gatehouse-sqlite-seed.ts, a pool of
 * `--pool` current refresh tokens spread over them), then rotates the pool in queue order, 32 in flight,
 * `--cycles` times, as the scale phase's refresh workload does: the first cycles warm the cache up, the last
 * is traced. It needs `strace` (Debian: `apt-get install strace`), attached to this process's main thread
 * only (the serving connection; the checkpoint worker's thread is not traced), and names each page read with
 * SQLite's `dbstat` once the storage is closed. --root names a checkout (default: this one) whose storage,
 * codec and seeder are used.
 */
import { randomBytes, randomUUID, randomUUIDv7 } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { THIS_CHECKOUT, checkoutCodec, checkoutSeeder, checkoutStorage } from './checkout.ts';
import type { Storage, TokenRecord } from '../packages/authorization-server/src/storage/storage.ts';

const { values } = parseArgs({
  options: {
    root: { type: 'string', default: THIS_CHECKOUT },
    grants: { type: 'string', default: '1000000' },
    pool: { type: 'string', default: '10000' },
    cycles: { type: 'string', default: '2' },
  },
});
const root = resolve(values.root);
const grants = Number(values.grants);
const pool = Number(values.pool);
const cycles = Number(values.cycles);
if (!(pool > 0 && grants >= pool && Number.isInteger(cycles) && cycles >= 1)) throw new Error('--pool must be positive and at most --grants; --cycles at least 1');
const IN_FLIGHT = 32;

const createSqliteStorage = await checkoutStorage(root);
const createOpaqueTokenCodec = await checkoutCodec(root);
const seeder = await checkoutSeeder(root);

/** Starts strace on this process's main thread; resolves once it is attached, with a function that detaches it. */
async function traceReads(output: string): Promise<() => Promise<void>> {
  const strace = spawn('strace', ['-e', 'trace=pread64', '-e', 'signal=none', '-p', String(process.pid), '-o', output], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolveExit) => strace.once('exit', () => resolveExit()));
  await new Promise<void>((attached, failed) => {
    strace.once('error', (error) => failed(new Error(`strace could not start (${error.message}): apt-get install strace`)));
    strace.once('exit', (code) => failed(new Error(`strace exited with ${code} before attaching (ptrace not permitted?)`)));
    strace.stderr.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('attached')) attached();
    });
  });
  return async () => {
    strace.kill('SIGINT');
    await exited;
  };
}

const directory = mkdtempSync(join(tmpdir(), 'gatehouse-page-reads-'));
const file = join(directory, 'gatehouse.sqlite');
const trace = join(directory, 'pread64.txt');
try {
  const key = randomBytes(32);
  await seeder.prepareDatabase(file);
  const seeded = seeder.seedGrants(file, key, grants, pool);
  let queue = seeded.refreshTokens;
  const codec = createOpaqueTokenCodec(key);
  const storage: Storage = createSqliteStorage(file);
  const now = Math.floor(Date.now() / 1000);
  // As tokens/token-pair.ts mints them: the codec's digests, time-ordered access token ids (UUIDv7), random refresh token ids.
  const newPair = (grantId: string, clientId: string, scope: string[]): { tokens: TokenRecord[]; refresh: string } => {
    const access = codec.mint('gat');
    const refresh = codec.mint('grt');
    const record = (kind: 'access' | 'refresh', digest: string): TokenRecord => ({
      tokenDigest: digest, tokenId: kind === 'access' ? randomUUIDv7() : randomUUID(), kind, grantId, clientId, scope,
      issuedAt: now, expiresAt: now + (kind === 'access' ? 900 : 5_184_000), rotatedAt: null, revokedAt: null,
    });
    return { tokens: [record('access', access.digest), record('refresh', refresh.digest)], refresh: refresh.value };
  };
  /** One cycle: every token of the queue rotated once, in order; the successors, in the same order. */
  const cycle = async (tokens: string[]): Promise<string[]> => {
    const successors: string[] = new Array(tokens.length);
    let next = 0;
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < tokens.length) {
        const index = next++;
        const digest = codec.digestOf(tokens[index]!, 'grt')!;
        const { grant, token } = (await storage.tokens.findByDigest(digest, { forRotation: true }))!;
        const pair = newPair(grant.grantId, grant.clientId, token.scope);
        const outcome = await storage.tokens.rotateRefreshToken(digest, now, pair.tokens, {
          type: 'refresh_token.rotated', at: now, actor: `client:${grant.clientId}`, clientId: grant.clientId, grantId: grant.grantId, details: {},
        }, { grantId: grant.grantId, previousDigest: digest, graceExpiresAt: now + 30, sealedSuccessor: randomBytes(220).toString('base64url') });
        if (outcome !== 'rotated') throw new Error(`rotation answered ${outcome}`);
        successors[index] = pair.refresh;
      }
    }));
    return successors;
  };
  for (let i = 1; i < cycles; i++) queue = await cycle(queue);
  const detach = await traceReads(trace);
  queue = await cycle(queue);
  await detach();
  // The descriptors of the database file and its WAL: both connections' (only the main thread is traced).
  const descriptors = new Map<number, 'database' | 'wal'>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target === file) descriptors.set(Number(fd), 'database');
      else if (target === `${file}-wal`) descriptors.set(Number(fd), 'wal');
    } catch {
      // A descriptor closed while listing.
    }
  }
  await storage.close();

  const db = new DatabaseSync(file, { readOnly: true });
  const pageSize = Number((db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size);
  const owners = new Map((db.prepare('SELECT name, pageno, pagetype FROM dbstat').all() as { name: string; pageno: number; pagetype: string }[])
    .map((row) => [row.pageno, row.pagetype === 'internal' ? `${row.name} (interior)` : row.name]));
  db.close();
  const reads = new Map<string, number>();
  let databaseReads = 0;
  let walReads = 0;
  for (const line of readFileSync(trace, 'utf8').split('\n')) {
    const call = /^pread64\((\d+), .*, (\d+), (\d+)\) = \d+/.exec(line);
    if (!call) continue;
    const kind = descriptors.get(Number(call[1]));
    if (kind === 'wal') walReads += 1;
    if (kind !== 'database') continue;
    databaseReads += 1;
    const owner = owners.get(Number(call[3]) / pageSize + 1) ?? '(pages freed since)';
    reads.set(owner, (reads.get(owner) ?? 0) + 1);
  }
  const rotations = queue.length;
  console.log(`${root}: ${rotations.toLocaleString('en-US')} rotations (cycle ${cycles} of ${cycles}) of a pool of ${pool.toLocaleString('en-US')} among `
    + `${grants.toLocaleString('en-US')} grants, ${IN_FLIGHT} in flight: ${(databaseReads / rotations).toFixed(2)} page reads per rotation from the `
    + `database file, ${(walReads / rotations).toFixed(2)} from the WAL\n`);
  console.log('| B-tree (leaf pages unless said) | page reads per rotation | share |');
  console.log('|---|---:|---:|');
  for (const [name, count] of [...reads].sort((a, b) => b[1] - a[1])) {
    console.log(`| ${name} | ${(count / rotations).toFixed(3)} | ${((100 * count) / databaseReads).toFixed(1)}% |`);
  }
} finally {
  rmSync(directory, { recursive: true, force: true });
}
