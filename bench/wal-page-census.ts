/**
 * Issue 12: which B-trees one group-commit batch of refresh rotations writes, page by page. Runs two
 * batches of `--batch` rotations (as bench/storage-operations.ts calls rotateRefreshToken: new pair, audit
 * event, grace record) on a copy of a seed that storage-operations.ts kept (`--dir`), checkpoints the first
 * (TRUNCATE), then reads the page number of every WAL frame the second wrote and names its B-tree and page
 * type from SQLite's `dbstat` table. Each distinct page is one frame of the commit (a WAL write system
 * call, and the checkpoint's copy of it later): the measure of what a schema change saves.
 *
 * The rotated grants are the seed's pool's first ones, neighbours in the order they were made (`--refresh-order
 * issue`, the default), or drawn from it at random (`random`, as the HTTP benchmark's scale group presents them).
 *
 *   node bench/wal-page-census.ts --seed DIR/seed-0-10000.sqlite [--root CHECKOUT] [--batch 32] [--refresh-order issue|random]
 */
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes, randomUUID, randomUUIDv7 } from 'node:crypto';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { THIS_CHECKOUT, checkoutCodec, checkoutStorage } from './checkout.ts';
import { shuffled } from './workloads.ts';
import type { Storage, TokenRecord, TokenWithGrant } from '../packages/authorization-server/src/storage/storage.ts';

const { values } = parseArgs({
  options: { seed: { type: 'string' }, root: { type: 'string' }, batch: { type: 'string', default: '32' }, 'refresh-order': { type: 'string', default: 'issue' } },
});
if (!values.seed) throw new Error('usage: node bench/wal-page-census.ts --seed DIR/seed-0-10000.sqlite [--root CHECKOUT] [--batch 32] [--refresh-order issue|random]');
if (values['refresh-order'] !== 'issue' && values['refresh-order'] !== 'random') throw new Error('--refresh-order: expected issue or random');
const root = resolve(values.root ?? THIS_CHECKOUT);
const batch = Number(values.batch);
const pool = JSON.parse(readFileSync(`${values.seed}.pool.json`, 'utf8')) as { key: string; refreshTokens: string[] };
const file = join('/tmp', `wal-page-census-${process.pid}.sqlite`);
copyFileSync(values.seed, file);

const createSqliteStorage = await checkoutStorage(root);
const createOpaqueTokenCodec = await checkoutCodec(root);
const codec = createOpaqueTokenCodec(Buffer.from(pool.key, 'base64url'));
// The worker would checkpoint between the batches at a time of its choosing: it starts after a day.
const storage: Storage = createSqliteStorage(file, { checkpointIntervalMilliseconds: 86_400_000 });
const now = Math.floor(Date.now() / 1000);
const found: [string, TokenWithGrant][] = [];
const chosen = values['refresh-order'] === 'issue'
  ? pool.refreshTokens.slice(0, 2 * batch)
  : shuffled([...pool.refreshTokens]).slice(0, 2 * batch);
for (const value of chosen) {
  const digest = codec.digestOf(value, 'grt')!;
  found.push([digest, (await storage.tokens.findByDigest(digest))!]);
}
const rotate = (items: [string, TokenWithGrant][]) => Promise.all(items.map(([digest, { grant, token }]) => {
  const pair: TokenRecord[] = (['access', 'refresh'] as const).map((kind) => ({
    tokenDigest: codec.mint(kind === 'access' ? 'gat' : 'grt').digest, tokenId: kind === 'access' ? randomUUIDv7() : randomUUID(), kind, grantId: grant.grantId, clientId: grant.clientId,
    scope: token.scope, issuedAt: now, expiresAt: now + (kind === 'access' ? 900 : 5_184_000), rotatedAt: null, revokedAt: null,
  }));
  return storage.tokens.rotateRefreshToken(digest, now, pair, {
    type: 'refresh_token.rotated', at: now, actor: `client:${grant.clientId}`, clientId: grant.clientId, grantId: grant.grantId,
    details: { scope: token.scope.join(' '), previous_refresh_token_id: token.tokenId, access_token_id: pair[0]!.tokenId, refresh_token_id: pair[1]!.tokenId },
  }, { grantId: grant.grantId, previousDigest: digest, graceExpiresAt: now + 60, sealedSuccessor: randomBytes(220).toString('base64url') });
}));
const probe = new DatabaseSync(file);
await rotate(found.slice(0, batch));
probe.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get();
await rotate(found.slice(batch));

const wal = readFileSync(`${file}-wal`);
const pageSize = wal.readUInt32BE(8);
const pages = new Set<number>();
for (let offset = 32; offset + 24 + pageSize <= wal.length; offset += 24 + pageSize) pages.add(wal.readUInt32BE(offset));
const names = new Map<number, string>();
for (const row of probe.prepare('SELECT name, pagetype, pageno FROM dbstat').all()) names.set(Number(row.pageno), `${String(row.name)} ${String(row.pagetype)}`);
const counts = new Map<string, number>();
for (const page of pages) counts.set(names.get(page) ?? '(free)', (counts.get(names.get(page) ?? '(free)') ?? 0) + 1);
console.log(`${pages.size} pages written for ${batch} rotations in one commit (${root}, ${values['refresh-order']} order)`);
for (const [name, count] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`${String(count).padStart(5)}  ${name}`);
probe.close();
await storage.close();
for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
