/**
 * Issue 12: which B-trees the WAL frames of a code exchange or a refresh rotation belong to, on SQLite, the
 * storage alone. A frame is one page written at a commit: a table's or an index's page that an operation
 * changed. Pages many operations of one commit share (a table's last page, the last leaf of a time-ordered
 * index) are written once for all of them; an index whose new entries land at random places costs about a
 * page per operation. Unlike CPU time, the count barely moves with other load on the machine, so it shows a
 * schema or key change's effect where timings cannot (bench/README.md, "eleventh session").
 *
 *   node bench/wal-frames-probe.ts [--root DIR] [--grants 10000] [--ops 3000] [--phase exchange|rotation]
 *
 * --root names a checkout (default: this one) whose storage, codec and seeder are used. The database is
 * seeded as the benchmark seeds it (bench/gatehouse-sqlite-seed.ts: codes for distinct companies, grants
 * with a token pair each), then served as the server serves it (group commit, 32 operations in flight) with
 * the checkpoint worker held off, so that every frame the phase wrote is still in the WAL to read. The
 * table names each B-tree (SQLite's `dbstat`) with its frames per operation.
 */
import { randomBytes, randomUUID, randomUUIDv7 } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { THIS_CHECKOUT, checkoutCodec, checkoutSeeder, checkoutStorage } from './checkout.ts';
import type { GrantRecord, Storage, TokenRecord } from '../packages/authorization-server/src/storage/storage.ts';

const { values } = parseArgs({
  options: {
    root: { type: 'string', default: THIS_CHECKOUT },
    grants: { type: 'string', default: '10000' },
    ops: { type: 'string', default: '3000' },
    phase: { type: 'string', default: 'exchange' },
  },
});
const root = resolve(values.root);
const grants = Number(values.grants);
const ops = Number(values.ops);
const phase = values.phase;
if (phase !== 'exchange' && phase !== 'rotation') throw new Error('--phase: exchange or rotation');
if (!(ops > 0 && grants >= ops)) throw new Error('--ops must be positive and at most --grants');
const IN_FLIGHT = 32;

const createSqliteStorage = await checkoutStorage(root);
const createOpaqueTokenCodec = await checkoutCodec(root);
const seeder = await checkoutSeeder(root);

const directory = mkdtempSync(join(tmpdir(), 'gatehouse-wal-frames-'));
const file = join(directory, 'gatehouse.sqlite');
try {
  const key = randomBytes(32);
  await seeder.prepareDatabase(file);
  const { refreshTokens } = seeder.seedGrants(file, key, grants, ops);
  const codes = seeder.seedCodes(file, key, ops).map((code) => code.code);
  const codec = createOpaqueTokenCodec(key);
  const seeded = new DatabaseSync(file, { readOnly: true });
  const { client_id: clientId } = seeded.prepare('SELECT client_id FROM authorization_codes LIMIT 1').get() as { client_id: string };
  seeded.close();

  // No checkpoint during the phase: the worker's first pass is an hour away, and the connection runs none itself.
  const storage: Storage = createSqliteStorage(file, { checkpointIntervalMilliseconds: 3_600_000 });
  await storage.users.find(randomUUID());
  const walStart = statSync(`${file}-wal`).size;
  const now = Math.floor(Date.now() / 1000);
  // As tokens/token-pair.ts mints them: the codec's digests, time-ordered access token ids (UUIDv7), random refresh token ids.
  const newPair = (grantId: string, scope: string[]): TokenRecord[] => (['access', 'refresh'] as const).map((kind) => ({
    tokenDigest: codec.mint(kind === 'access' ? 'gat' : 'grt').digest, tokenId: kind === 'access' ? randomUUIDv7() : randomUUID(), kind, grantId, clientId, scope,
    issuedAt: now, expiresAt: now + (kind === 'access' ? 900 : 5_184_000), rotatedAt: null, revokedAt: null,
  }));
  const concurrently = async (items: string[], work: (item: string) => Promise<void>) => {
    let next = 0;
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < items.length) await work(items[next++]!);
    }));
  };
  if (phase === 'exchange') {
    await concurrently(codes, async (code) => {
      const codeDigest = codec.digestOf(code, 'gac')!;
      const stored = (await storage.authorizationCodes.find(codeDigest, clientId))!.code;
      const grant: GrantRecord = {
        grantId: randomUUIDv7(), clientId, userId: stored.userId, subjectType: stored.subjectType, subjectId: stored.subjectId,
        scope: stored.scope, createdAt: now, revokedAt: null, revocationReason: null,
      };
      const issued = await storage.grants.exchangeCode(codeDigest, clientId, now, grant, newPair(grant.grantId, stored.scope), {
        type: 'token.issued', at: now, actor: `client:${clientId}`, clientId, grantId: grant.grantId, details: { grant_type: 'authorization_code' },
      });
      if (issued.outcome !== 'issued') throw new Error(`exchange answered ${issued.outcome}`);
    });
  } else {
    await concurrently(refreshTokens, async (value) => {
      const digest = codec.digestOf(value, 'grt')!;
      const { grant, token } = (await storage.tokens.findByDigest(digest))!;
      const outcome = await storage.tokens.rotateRefreshToken(digest, now, newPair(grant.grantId, token.scope), {
        type: 'refresh_token.rotated', at: now, actor: `client:${clientId}`, clientId, grantId: grant.grantId, details: {},
      }, { grantId: grant.grantId, previousDigest: digest, graceExpiresAt: now + 30, sealedSuccessor: randomBytes(220).toString('base64url') });
      if (outcome !== 'rotated') throw new Error(`rotation answered ${outcome}`);
    });
  }

  // The WAL: a 32-byte header, then frames of a 24-byte header (page number; the database's size in pages
  // on a transaction's last frame, else 0) and the page.
  const wal = readFileSync(`${file}-wal`);
  const frameBytes = 24 + wal.readUInt32BE(8);
  const pages: number[] = [];
  let commits = 0;
  for (let offset = Math.max(32, walStart); offset + frameBytes <= wal.length; offset += frameBytes) {
    pages.push(wal.readUInt32BE(offset));
    if (wal.readUInt32BE(offset + 4) !== 0) commits += 1;
  }
  const db = new DatabaseSync(file, { readOnly: true });
  const owners = new Map((db.prepare('SELECT name, pageno FROM dbstat').all() as { name: string; pageno: number }[]).map((row) => [row.pageno, row.name]));
  db.close();
  const frames = new Map<string, number>();
  for (const page of pages) {
    const owner = owners.get(page) ?? '(free pages)';
    frames.set(owner, (frames.get(owner) ?? 0) + 1);
  }
  await storage.close();

  console.log(`${root}: ${phase}, ${ops.toLocaleString('en-US')} operations on ${grants.toLocaleString('en-US')} grants, ${IN_FLIGHT} in flight: `
    + `${(pages.length / ops).toFixed(2)} WAL frames per operation, ${(ops / commits).toFixed(1)} operations per commit\n`);
  console.log('| B-tree | WAL frames per operation |');
  console.log('|---|---:|');
  for (const [name, count] of [...frames].sort((a, b) => b[1] - a[1])) console.log(`| ${name} | ${(count / ops).toFixed(3)} |`);
} finally {
  rmSync(directory, { recursive: true, force: true });
}
