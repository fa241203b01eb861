/**
 * Issue 12, "Flat with size": the cost of one refresh at the storage layer (findByDigest, then
 * rotateRefreshToken with an audit event and a grace record, as grants/refresh-token.ts does), at several
 * numbers of stored grants, without HTTP, so that what grows with the database shows apart from the rest.
 *
 *   node bench/refresh-scale-probe.ts [--sizes 10000,1000000] [--ops 2000] [--rounds 3] [--dir DIR]
 *        [--variant NAME=ROOT[;PRAGMA...][;time-ordered-ids]]... [--help]
 *
 * Each variant names a checkout (ROOT: its sqlite-storage.ts is imported) and PRAGMA statements run on
 * every connection it opens, after the storage's own (the probe wraps `DatabaseSync.prototype.exec` to
 * add them: a measuring device, never a pattern for the server). Sizes are seeded once into DIR with
 * bench/gatehouse-sqlite-seed.ts (kept for the next run when DIR is given) and copied per variant,
 * so every variant starts from the same file; rounds interleave sizes and variants so that load from
 * elsewhere on the machine falls on all of them (every run starts from a fresh copy, so the same seeded
 * tokens are current again). Prints µs per refresh, the median of the rounds and
 * the spread, and the statements one rotation executes.
 */
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { DatabaseSync, StatementSync } from 'node:sqlite';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './median.ts';
import { checkoutStorage, THIS_CHECKOUT } from './checkout.ts';
import { prepareDatabase, seedGrants } from './gatehouse-sqlite-seed.ts';
import { createOpaqueTokenCodec } from '../packages/authorization-server/src/tokens/opaque-token.ts';
import type { Storage, TokenRecord } from '../packages/authorization-server/src/storage/storage.ts';

interface Variant { name: string; root: string; pragmas: string[]; timeOrderedIds: boolean }

/** A UUIDv7 (RFC 9562 §5.7): ids minted one after another sort together, so their index entries append. */
function uuidV7(): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(Date.now(), 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
let mintTokenId: () => string = randomUUID;

const USAGE = `node bench/refresh-scale-probe.ts [--sizes 10000,1000000] [--ops 2000] [--rounds 3] [--dir DIR]
     [--variant NAME=ROOT[;PRAGMA...][;time-ordered-ids]]... [--help]`;
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,1000000' },
    ops: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    dir: { type: 'string' },
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
const dir = resolve(values.dir ?? join('/tmp', `refresh-scale-probe-${process.pid}`));
const keepSeeds = values.dir !== undefined;
const here = THIS_CHECKOUT;
const variants: Variant[] = values.variant.map((text) => {
  // Split at the first '=' only: a PRAGMA may hold one of its own (`PRAGMA cache_size=-65536`).
  const name = text.slice(0, text.indexOf('='));
  const [root, ...pragmas] = text.slice(text.indexOf('=') + 1).split(';');
  // `time-ordered-ids` in place of a PRAGMA: the new tokens' token_id are UUIDv7 instead of v4.
  return { name, root: resolve(root || here), pragmas: pragmas.filter((p) => p && p !== 'time-ordered-ids'), timeOrderedIds: pragmas.includes('time-ordered-ids') };
});
if (variants.length === 0) variants.push({ name: 'this checkout', root: here, pragmas: [], timeOrderedIds: false });

// Extra PRAGMAs after the storage's own: the storage runs `PRAGMA foreign_keys = ON` last in openDatabase.
const database = DatabaseSync.prototype as unknown as { exec(sql: string): void };
const exec = database.exec;
let extraPragmas: string[] = [];
database.exec = function (this: DatabaseSync, sql: string) {
  exec.call(this, sql);
  if (sql === 'PRAGMA foreign_keys = ON') for (const pragma of extraPragmas) this.prepare(pragma).all();
};
// Statement count of one rotation (prepared statements and exec'd ones).
let executed: string[] | undefined;
const statement = StatementSync.prototype as unknown as Record<'run' | 'get' | 'all', (...args: unknown[]) => unknown>;
for (const name of ['run', 'get', 'all'] as const) {
  const original = statement[name];
  statement[name] = function (this: StatementSync, ...args: unknown[]) {
    executed?.push(this.sourceSQL.replace(/\s+/g, ' ').trim().slice(0, 90));
    return original.apply(this, args);
  };
}

mkdirSync(dir, { recursive: true });
const tokenKey = randomBytes(32);
const pools = new Map<number, string[]>();
for (const total of sizes) {
  const seed = join(dir, `seed-${total}.sqlite`);
  const poolFile = `${seed}.pool.json`;
  if (!keepSeeds || !existsSync(poolFile)) {
    rmSync(seed, { force: true });
    await prepareDatabase(seed);
    const { refreshTokens, seconds } = seedGrants(seed, tokenKey, total, ops + 1);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(poolFile, JSON.stringify({ key: tokenKey.toString('base64url'), refreshTokens }));
    console.log(`seeded ${total} grants in ${seconds.toFixed(1)} s`);
  }
  const { readFileSync } = await import('node:fs');
  const saved = JSON.parse(readFileSync(poolFile, 'utf8')) as { key: string; refreshTokens: string[] };
  pools.set(total, saved.refreshTokens.map((value) => `${saved.key}.${value}`));
}

const codecs = new Map<string, ReturnType<typeof createOpaqueTokenCodec>>();
const codecFor = (key: string) => codecs.get(key) ?? codecs.set(key, createOpaqueTokenCodec(Buffer.from(key, 'base64url'))).get(key)!;

/** One refresh as grants/refresh-token.ts stores it; returns false when the token was not current. */
async function refresh(storage: Storage, keyed: string, now: number): Promise<boolean> {
  const dot = keyed.indexOf('.');
  const key = keyed.slice(0, dot);
  const value = keyed.slice(dot + 1);
  const codec = codecFor(key);
  const digest = codec.digestOf(value, 'grt')!;
  const found = await storage.tokens.findByDigest(digest);
  if (!found) throw new Error('seeded token not found');
  const { grant } = found;
  const records: TokenRecord[] = (['access', 'refresh'] as const).map((kind) => ({
    tokenDigest: codec.mint(kind === 'access' ? 'gat' : 'grt').digest, tokenId: mintTokenId(), kind, grantId: grant.grantId, clientId: grant.clientId,
    scope: found.token.scope, issuedAt: now, expiresAt: now + (kind === 'access' ? 900 : 5_184_000), rotatedAt: null, revokedAt: null,
  }));
  const outcome = await storage.tokens.rotateRefreshToken(digest, now, records, {
    type: 'refresh_token.rotated', at: now, actor: `client:${grant.clientId}`, clientId: grant.clientId, grantId: grant.grantId,
    details: { scope: found.token.scope.join(' '), previous_refresh_token_id: found.token.tokenId, access_token_id: records[0]!.tokenId, refresh_token_id: records[1]!.tokenId },
  }, { grantId: grant.grantId, previousDigest: digest, graceExpiresAt: now + 60, sealedSuccessor: randomBytes(220).toString('base64url') });
  return outcome === 'rotated';
}

const results = new Map<string, number[]>();
const cpuResults = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  for (const variant of variants) {
    for (const total of sizes) {
      const file = join(dir, `run-${total}.sqlite`);
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
      copyFileSync(join(dir, `seed-${total}.sqlite`), file);
      extraPragmas = variant.pragmas;
      mintTokenId = variant.timeOrderedIds ? uuidV7 : randomUUID;
      const createSqliteStorage = await checkoutStorage(variant.root);
      const storage = createSqliteStorage(file);
      const tokens = pools.get(total)!.slice(0, ops + 1);
      const now = Math.floor(Date.now() / 1000);
      if (round === 0 && total === sizes[0]) {
        executed = [];
        await refresh(storage, tokens[0]!, now);
        console.log(`${variant.name}: one refresh executes ${executed.length} statements:\n  ${executed.join('\n  ')}`);
        executed = undefined;
      }
      const started = performance.now();
      const cpuBefore = process.cpuUsage();
      for (const token of tokens.slice(1)) if (!(await refresh(storage, token, now))) throw new Error('rotation lost');
      const cpu = process.cpuUsage(cpuBefore);
      const micros = ((performance.now() - started) * 1000) / (tokens.length - 1);
      // CPU time (user + system: page reads and writes are system time) shows the work a refresh does
      // even when other load on the machine stretches the wall clock.
      const cpuMicros = (cpu.user + cpu.system) / (tokens.length - 1);
      const systemMicros = cpu.system / (tokens.length - 1);
      await storage.close();
      const label = `${variant.name} · ${total}`;
      results.set(label, [...(results.get(label) ?? []), micros]);
      cpuResults.set(label, [...(cpuResults.get(label) ?? []), cpuMicros]);
      console.log(`round ${round + 1} ${label}: ${micros.toFixed(0)} µs/refresh wall, ${cpuMicros.toFixed(0)} µs CPU (${systemMicros.toFixed(0)} system)`);
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    }
  }
}
for (const [title, table] of [['wall', results], ['CPU (user + system)', cpuResults]] as const) {
  console.log(`\nmedian ${title} µs per refresh (min–max over rounds):`);
  for (const variant of variants) {
    const small = median(table.get(`${variant.name} · ${sizes[0]}`)!);
    for (const total of sizes) {
      const values = table.get(`${variant.name} · ${total}`)!;
      const m = median(values);
      console.log(`  ${variant.name} · ${total}: ${m.toFixed(0)} µs (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})${total === sizes[0] ? '' : ` ${m > small ? '+' : ''}${(((m - small) / small) * 100).toFixed(1)}% vs ${sizes[0]}`}`);
    }
  }
}
if (!keepSeeds) rmSync(dir, { recursive: true, force: true });
