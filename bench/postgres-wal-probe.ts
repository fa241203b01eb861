/**
 * Issue 12: the WAL PostgreSQL writes per refresh rotation and per code exchange, the storage alone (no
 * HTTP). The one statement of each (`gatehouse_rotate_refresh_tokens`, `gatehouse_redeem_code`) runs under
 * `EXPLAIN (ANALYZE, WAL)`, which executes it and counts the WAL records, full-page images and bytes of
 * that statement alone, so other sessions' writes on a shared server do not enter the count (unlike
 * `pg_current_wal_lsn()` differences). Each data-modifying part of the statement is a ModifyTable node
 * (its counters include its scans); their sum is the statement's. The rotations' function (migration 37)
 * is one Result node whose counters are its statements'; a call of several rotations counts as that many. Full-page images depend on when the
 * last checkpoint was, so compare records and bytes.
 *
 *   node bench/postgres-wal-probe.ts [ROOT] [--grants 300] [--rotations-per-grant 4]
 *
 * ROOT names a checkout (default: this one) whose storage, migrations and contract fixtures are used, on
 * a fresh schema of the test database (GATEHOUSE_TEST_DATABASE_URL), dropped afterwards. This script
 * wraps `pg.Client.prototype.query` to add EXPLAIN and to hand the store the answer it expects: a
 * measuring device, never a pattern for the server.
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { THIS_CHECKOUT } from './checkout.ts';

const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = argv.indexOf(name);
  return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1]! : fallback;
};
const root = resolve(argv[0] && !argv[0].startsWith('--') ? argv[0] : THIS_CHECKOUT);
const grants = Number(option('--grants', '300'));
const rotationsPerGrant = Number(option('--rotations-per-grant', '4'));
const source = join(root, 'packages/authorization-server/src');
const { createTestPostgresStorage } = await import(join(source, 'testing/postgres.ts')) as typeof import('../packages/authorization-server/src/testing/postgres.ts');
const fx = await import(join(source, 'storage/contract/fixtures.ts')) as typeof import('../packages/authorization-server/src/storage/contract/fixtures.ts');

type Kind = 'rotation' | 'exchange';
interface Tally { statements: number; records: number; fullPages: number; bytes: number }
const tallies = new Map<Kind, Tally>();
let measuring = false;
/** The answer each store expects from its statement (EXPLAIN returns the plan instead). */
const answers: Record<Kind, Record<string, unknown>> = { rotation: { rotated: [true] }, exchange: { redeem_outcome: 'issued', replay_grant_id: null } };

type Query = (this: pg.Client, config: unknown, values?: unknown, callback?: unknown) => unknown;
const query = pg.Client.prototype.query as unknown as Query;
(pg.Client.prototype as unknown as { query: Query }).query = function (config, values, callback) {
  const text = typeof config === 'string' ? config : (config as { text?: unknown } | undefined)?.text;
  const kind: Kind | undefined = !measuring || typeof text !== 'string' ? undefined
    : text.startsWith('SELECT gatehouse_rotate_refresh_tokens(') ? 'rotation' : text.startsWith('WITH redeemed AS') ? 'exchange' : undefined;
  if (!kind) return query.call(this, config, values, callback);
  if (typeof values === 'function') [callback, values] = [values, undefined];
  const parameters = typeof config === 'string' ? values : ((config as { values?: unknown }).values ?? values);
  const answered = (query.call(this, { text: `EXPLAIN (ANALYZE, WAL, FORMAT JSON) ${text}`, values: parameters }) as Promise<pg.QueryResult>).then((result) => {
    const tally = tallies.get(kind) ?? tallies.set(kind, { statements: 0, records: 0, fullPages: 0, bytes: 0 }).get(kind)!;
    // A rotations call: one per presented digest (its first parameter).
    const rotations = kind === 'rotation' ? (parameters as unknown[][])[0]!.length : 1;
    tally.statements += rotations;
    const visit = (node: Record<string, unknown>) => {
      if (node['Node Type'] === 'ModifyTable' || (node['Node Type'] === 'Result' && node.Plans === undefined)) {
        tally.records += Number(node['WAL Records']);
        tally.fullPages += Number(node['WAL FPI']);
        tally.bytes += Number(node['WAL Bytes']);
      } else {
        for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) visit(child);
      }
    };
    visit(result.rows[0]['QUERY PLAN'][0].Plan);
    result.rows = [kind === 'rotation' ? { rotated: Array.from({ length: rotations }, () => true) } : answers[kind]];
    return result;
  });
  if (typeof callback !== 'function') return answered;
  answered.then((result) => callback(null, result), (error) => callback(error));
  return undefined;
};

const report = (label: string, kind: Kind) => {
  const tally = tallies.get(kind)!;
  const per = (value: number, digits: number) => (value / tally.statements).toFixed(digits);
  console.log(`| ${label} | ${tally.statements} | ${per(tally.records, 1)} | ${per(tally.fullPages, 2)} | ${per(tally.bytes, 0)} |`);
  tallies.delete(kind);
};

const storage = await createTestPostgresStorage();
try {
  const f = await fx.fixture(storage);
  const chains = [];
  for (let i = 0; i < grants; i++) {
    const { grant, refresh } = await fx.issueGrant(storage, f, fx.NOW, { subjectId: (await fx.createCompany(storage)).subjectId });
    chains.push({ grant, current: refresh });
  }
  console.log(`${root}, ${grants} grants\n\n| operation | statements | WAL records/op | full-page images/op | WAL bytes/op |\n|---|---:|---:|---:|---:|`);
  for (let round = 1; round <= rotationsPerGrant; round++) {
    const now = fx.NOW + round * 10;
    measuring = true;
    // As grants/refresh-token.ts rotates: the new pair, an audit event and a grace successor (SPEC decision 8).
    for (const chain of chains) {
      const pair = fx.tokenPair(chain.grant, now);
      await storage.tokens.rotateRefreshToken(chain.current.tokenDigest, now, pair, {
        type: 'refresh_token.rotated', at: now, actor: `client:${f.client.clientId}`, clientId: f.client.clientId, grantId: chain.grant.grantId, details: { scope: 'bench' },
      }, { grantId: chain.grant.grantId, previousDigest: chain.current.tokenDigest, graceExpiresAt: now + 60, sealedSuccessor: randomBytes(220).toString('base64url') });
      chain.current = pair[1];
    }
    measuring = false;
    report(`rotation ${round} of each grant`, 'rotation');
  }
  for (let i = 0; i < grants; i++) {
    const company = await fx.createCompany(storage);
    const code = fx.codeRecord(f, { issuedAt: fx.NOW, expiresAt: fx.NOW + 60, subjectId: company.subjectId });
    await storage.authorizationCodes.create(code);
    const grant = fx.grantRecord(f, { createdAt: fx.NOW, subjectId: company.subjectId });
    measuring = true;
    await storage.grants.exchangeCode(code.codeDigest, f.client.clientId, fx.NOW, grant, fx.tokenPair(grant, fx.NOW), {
      type: 'token.issued', at: fx.NOW, actor: `client:${f.client.clientId}`, clientId: f.client.clientId, grantId: grant.grantId, details: { scope: 'bench' },
    });
    measuring = false;
  }
  report('code exchange', 'exchange');
} finally {
  measuring = false;
  await storage.close();
}
