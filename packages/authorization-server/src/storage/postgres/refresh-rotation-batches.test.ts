/**
 * PostgreSQL's refresh rotations in batches (issue 12, migration 37, stores/refresh-rotation-batches.ts):
 * rotations of one event-loop turn, and those that queue while others are in flight, go as one call of
 * gatehouse_rotate_refresh_tokens, each
 * still the compare-and-swap of SPEC decision 8; one rotation's fault is not its neighbours'; and the
 * function's statements reach rows by index with plans made on empty tables (a new deployment).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { batchSizesDuring, createTestPostgresStorage, postgresSkipReason, TEST_DATABASE_URL } from '../../testing/postgres.ts';
import { createCompany, fixture, issueGrant, mintedPair, NOW, tokenPair, type Fixture } from '../contract/fixtures.ts';
import type { Storage, TokenRecord } from '../storage.ts';
import { createReadyRotationBatches } from '../stores/tokens.ts';
import { createRotationBatches, type PendingRotation } from '../stores/refresh-rotation-batches.ts';
import { createPostgresDriver } from './postgres-driver.ts';

const skip = await postgresSkipReason();

/** A driver on one connection of the test's own (the function's plans are that connection's). */
function driverOn(client: pg.Client) {
  return createPostgresDriver({
    query: (text, params = [], name) => client.query(name === undefined ? { text, values: params } : { name, text, values: params }),
    transaction: () => Promise.reject(new Error('not used')),
  });
}

/**
 * A new schema (tokens EMPTY) and one connection of the test's own, in a transaction whose statements keep
 * generic plans (the plans a pooled connection ends up keeping, chosen at the first call), rolled back at
 * the end. `stats` reads the tokens table's scans and index fetches so far; `insertGrantWithPair` stores a
 * grant with a live access and refresh token (`<grant id>-a`, `<grant id>-r`), the first (`…-0`) for the
 * fixture's company, the others each for a company of its own.
 */
async function withGenericPlansOnEmptySchema(body: (connection: {
  client: pg.Client; e: Fixture; stats(): Promise<{ seq_scan: number; fetched: number }>; insertGrantWithPair(grantId: string, now: number): Promise<void>;
}) => Promise<void>): Promise<void> {
  const empty = await createTestPostgresStorage();
  const e = await fixture(empty);
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${empty.schema}` });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL plan_cache_mode = force_generic_plan');
    const stats = async () => (await client.query(
      "SELECT COALESCE(seq_scan, 0)::int AS seq_scan, COALESCE(idx_tup_fetch, 0)::int AS fetched FROM pg_stat_xact_user_tables WHERE relname = 'tokens' AND schemaname = $1",
      [empty.schema],
    )).rows[0] as { seq_scan: number; fetched: number };
    const insertGrantWithPair = async (grantId: string, now: number) => {
      await client.query(
        `INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at) VALUES ($1, $2, $3, 'company', $4, 'users:read', $5::bigint)`,
        [grantId, e.client.clientId, e.user.userId, grantId.endsWith('-0') ? e.company.subjectId : `company-of-${grantId}`, now],
      );
      await client.query(
        `INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at)
         VALUES ($1 || '-a', gen_random_uuid()::text, 'access', $1, $2, 'users:read', $3::bigint, $3::bigint + 600),
                ($1 || '-r', gen_random_uuid()::text, 'refresh', $1, $2, 'users:read', $3::bigint, $3::bigint + 86400)`,
        [grantId, e.client.clientId, now],
      );
    };
    await body({ client, e, stats, insertGrantWithPair });
    await client.query('ROLLBACK');
  } finally {
    await client.end();
    await empty.close();
  }
}

describe('refresh rotations in batches (PostgreSQL, migrations 37 and 41)', { skip }, () => {
  let storage: Storage & { schema: string };
  let f: Fixture;
  before(async () => {
    storage = await createTestPostgresStorage();
    f = await fixture(storage);
  });
  after(() => storage?.close());
  /** A grant of a company of its own (a second grant of one company would supersede the first, SPEC decision 11). */
  const freshGrant = async () => issueGrant(storage, f, NOW, { subjectId: (await createCompany(storage)).subjectId });

  it('rotations that arrive together share calls, and each is still its own compare-and-swap', async () => {
    const issued = await Promise.all(Array.from({ length: 24 }, freshGrant));
    const successors = issued.map(({ grant }) => tokenPair(grant, NOW + 10));
    let outcomes: unknown[] = [];
    const sizes = await batchSizesDuring('gatehouse_rotate_refresh_tokens', async () => {
      outcomes = await Promise.all(issued.map(({ refresh }, i) => storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 10, successors[i]!, {
        type: 'refresh_token.rotated', at: NOW + 10, actor: `client:${f.client.clientId}`, clientId: f.client.clientId, grantId: issued[i]!.grant.grantId, details: { batch: i },
      })));
    });
    assert.deepEqual(outcomes, issued.map(() => 'rotated'));
    assert.equal(sizes.reduce((a, b) => a + b, 0), 24);
    assert.ok(sizes.length < 24 && Math.max(...sizes) > 1, `batches of ${sizes.join(', ')}`);
    for (const [i, { grant, access, refresh }] of issued.entries()) {
      const [newAccess, newRefresh] = successors[i]!;
      assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))!.token.rotatedAt, NOW + 10);
      assert.equal((await storage.tokens.findByDigest(access.tokenDigest))!.token.revokedAt, NOW + 10, 'the superseded access token is revoked');
      assert.equal((await storage.tokens.findByDigest(newAccess.tokenDigest))!.grant.grantId, grant.grantId);
      assert.equal((await storage.tokens.findByDigest(newRefresh.tokenDigest))!.token.rotatedAt, null);
    }
    const events = await storage.audit.list({ types: ['refresh_token.rotated'], limit: 100 });
    assert.deepEqual(events.map((event) => event.details?.batch).sort((a, b) => Number(a) - Number(b)), issued.map((_, i) => i));
  });

  it('token lookups that arrive together share calls, each answered with its own token, grant and client (or none)', async () => {
    const issued = await Promise.all(Array.from({ length: 10 }, freshGrant));
    const digests = [...issued.map(({ access }) => access.tokenDigest), 'no-such-token-digest', issued[0]!.refresh.tokenDigest];
    let found: Array<Awaited<ReturnType<Storage['tokens']['findByDigest']>>> = [];
    const sizes = await batchSizesDuring('gatehouse_tokens_by_token_digests', async () => {
      found = await Promise.all(digests.map((tokenDigest) => storage.tokens.findByDigest(tokenDigest)));
    });
    assert.equal(sizes.reduce((a, b) => a + b, 0), 12);
    assert.ok(sizes.length < 12 && Math.max(...sizes) > 1, `batches of ${sizes.join(', ')}`);
    for (const [i, { grant, access }] of issued.entries()) {
      assert.equal(found[i]?.token.tokenId, access.tokenId);
      assert.equal(found[i]?.grant.grantId, grant.grantId);
      assert.equal(found[i]?.client.clientId, f.client.clientId);
    }
    assert.equal(found[10], undefined);
    assert.equal(found[11]?.token.kind, 'refresh');
  });

  it('the same refresh token presented twice in one batch rotates once: the other is not_current and stores nothing', async () => {
    const others = await Promise.all(Array.from({ length: 6 }, freshGrant));
    const { grant, refresh } = await freshGrant();
    const first = tokenPair(grant, NOW + 20);
    const second = tokenPair(grant, NOW + 20);
    let outcomes: unknown[] = [];
    const sizes = await batchSizesDuring('gatehouse_rotate_refresh_tokens', async () => {
      outcomes = await Promise.all([
        // One turn's rotations: they leave together, as one batch, when the turn ends.
        ...others.slice(0, 2).map((o) => storage.tokens.rotateRefreshToken(o.refresh.tokenDigest, NOW + 20, tokenPair(o.grant, NOW + 20))),
        storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 20, first),
        ...others.slice(2).map((o) => storage.tokens.rotateRefreshToken(o.refresh.tokenDigest, NOW + 20, tokenPair(o.grant, NOW + 20))),
        storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 20, second),
      ]);
    });
    assert.deepEqual(sizes, [8], 'the turn\'s eight rotations, both presentations among them, in one batch');
    assert.deepEqual(outcomes, ['rotated', 'rotated', 'rotated', 'rotated', 'rotated', 'rotated', 'rotated', 'not_current']);
    assert.ok(await storage.tokens.findByDigest(first[1].tokenDigest), 'the first presentation\'s pair is stored');
    assert.equal(await storage.tokens.findByDigest(second[0].tokenDigest), undefined, 'nothing of the second');
    assert.equal(await storage.tokens.findByDigest(second[1].tokenDigest), undefined);
  });

  it("a rotation that fails fails alone: its batch runs again one by one, and the others' rotations stand", async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${storage.schema}` });
    await client.connect();
    try {
      const batches = createRotationBatches(driverOn(client), { maxInFlight: 1 });
      const [a, b, c] = await Promise.all([freshGrant(), freshGrant(), freshGrant()]);
      const rotation = (issued: Awaited<ReturnType<typeof freshGrant>>, tokens: TokenRecord[]): PendingRotation => ({ presentedDigest: issued.refresh.tokenDigest, now: NOW + 30, newTokens: tokens });
      const broken = tokenPair(c.grant, NOW + 30);
      broken[1] = { ...broken[1], tokenDigest: b.refresh.tokenDigest }; // a digest already stored: the insert violates tokens' primary key
      const outcomes = await Promise.allSettled([
        batches.submit(rotation(a, tokenPair(a.grant, NOW + 30))), // one turn: the three go as one batch, which fails and runs again one by one
        batches.submit(rotation(b, tokenPair(b.grant, NOW + 30))),
        batches.submit(rotation(c, broken)),
      ]);
      assert.deepEqual(outcomes.slice(0, 2), [{ status: 'fulfilled', value: 'rotated' }, { status: 'fulfilled', value: 'rotated' }]);
      assert.equal(outcomes[2]!.status, 'rejected');
      assert.equal(((outcomes[2] as PromiseRejectedResult).reason as { code?: string }).code, '23505');
      assert.equal((await storage.tokens.findByDigest(b.refresh.tokenDigest))!.token.rotatedAt, NOW + 30, "b's rotation stands");
      assert.equal((await storage.tokens.findByDigest(c.refresh.tokenDigest))!.token.rotatedAt, null, "c's rotation rolled back whole");
      assert.equal((await storage.tokens.findByDigest(c.access.tokenDigest))!.token.revokedAt, null);
    } finally {
      await client.end();
    }
  });

  it('with plans made while tokens was EMPTY (a new schema), a batch reaches only its own grants\' rows by index once many are stored', async () => {
    await withGenericPlansOnEmptySchema(async ({ client, e, stats, insertGrantWithPair }) => {
      const batches = createRotationBatches(driverOn(client), { maxInFlight: 1 });
      const grantRecord = (grantId: string) => ({
        grantId, clientId: e.client.clientId, userId: e.user.userId, subjectType: 'company' as const, subjectId: e.company.subjectId,
        scope: ['users:read'], createdAt: NOW, revokedAt: null, revocationReason: null,
      });
      const rotate = (grantId: string, now: number) => batches.submit({
        presentedDigest: `${grantId}-r`, now, newTokens: tokenPair(grantRecord(grantId), now),
        graceSuccessor: { grantId, previousDigest: `${grantId}-r`, sealedSuccessor: 'sealed', graceExpiresAt: now + 60 },
      });
      // The first call plans every statement of the function on the empty tables.
      await insertGrantWithPair('plan-grant-0', NOW);
      assert.equal(await rotate('plan-grant-0', NOW + 1), 'rotated');
      // Then 300 other grants, each with a live access token and refresh token.
      for (let i = 1; i <= 300; i++) await insertGrantWithPair(`plan-grant-${i}`, NOW);
      const before = await stats();
      const outcomes = await Promise.all([1, 2, 3].map((i) => rotate(`plan-grant-${i}`, NOW + 2)));
      const after = await stats();
      assert.deepEqual(outcomes, ['rotated', 'rotated', 'rotated']);
      assert.equal(after.seq_scan - before.seq_scan, 0, 'no sequential scan of tokens');
      // Per rotation: the presented token (lock, the scope check, compare-and-swap) and the grant's access token; 602
      // live tokens. Their scope is one the client is registered for (another is not rotated: README "Registering clients").
      assert.ok(after.fetched - before.fetched <= 12, `three rotations fetched ${after.fetched - before.fetched} tokens by index`);
      const revoked = await client.query("SELECT count(*)::int AS n FROM tokens WHERE revoked_at IS NOT NULL AND kind = 'access'");
      assert.equal(revoked.rows[0].n, 4, "each rotation revoked its grant's access token, and only that");
    });
  });

  // Migration 41: the read and the rotation in one call (`tokens.rotateReadyRefreshToken`).
  const conditions = () => ({ clientId: f.client.clientId, defaultResourceScopes: ['users:read', 'vendors:write'] });

  it('ready rotations that arrive together share calls, each its own read, check and compare-and-swap, and no lookup goes alone', async () => {
    const issued = await Promise.all(Array.from({ length: 24 }, freshGrant));
    const tokens = issued.map(() => mintedPair(NOW + 10));
    let outcomes: unknown[] = [];
    let lookups: number[] = [];
    const sizes = await batchSizesDuring('gatehouse_rotate_ready_refresh_tokens', async () => {
      lookups = await batchSizesDuring('gatehouse_tokens_by_token_digests', async () => {
        outcomes = (await Promise.all(issued.map(({ refresh }, i) => storage.tokens.rotateReadyRefreshToken(refresh.tokenDigest, NOW + 10, conditions(), tokens[i]!)))).map((result) => result.outcome);
      });
    });
    assert.deepEqual(outcomes, issued.map(() => 'rotated'));
    assert.deepEqual(lookups, [], 'no separate lookup');
    assert.equal(sizes.reduce((a, b) => a + b, 0), 24);
    assert.ok(sizes.length < 24 && Math.max(...sizes) > 1, `batches of ${sizes.join(', ')}`);
    for (const [i, { grant, access, refresh }] of issued.entries()) {
      assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))!.token.rotatedAt, NOW + 10);
      assert.equal((await storage.tokens.findByDigest(access.tokenDigest))!.token.revokedAt, NOW + 10, 'the superseded access token is revoked');
      assert.equal((await storage.tokens.findByDigest(tokens[i]![1]!.tokenDigest))!.grant.grantId, grant.grantId);
    }
  });

  it('with plans made while tokens was EMPTY (a new schema), a batch reaches only its own tokens and grants by index once many are stored', async () => {
    await withGenericPlansOnEmptySchema(async ({ client, e, stats, insertGrantWithPair }) => {
      const batches = createReadyRotationBatches(driverOn(client), { maxInFlight: 1 });
      const rotate = (grantId: string, now: number) => batches.submit({
        presentedDigest: `${grantId}-r`, now, conditions: { clientId: e.client.clientId, defaultResourceScopes: ['users:read'] }, newTokens: mintedPair(now),
        auditEvent: undefined, graceSuccessor: { sealedSuccessor: 'sealed', graceExpiresAt: now + 60 },
      });
      // The first call plans every statement of the function on the empty tables.
      await insertGrantWithPair('ready-grant-0', NOW);
      assert.equal((await rotate('ready-grant-0', NOW + 1)).outcome, 'rotated');
      for (let i = 1; i <= 300; i++) await insertGrantWithPair(`ready-grant-${i}`, NOW);
      const before = await stats();
      const outcomes = await Promise.all([1, 2, 3].map((i) => rotate(`ready-grant-${i}`, NOW + 2)));
      const after = await stats();
      assert.deepEqual(outcomes.map((outcome) => outcome.outcome), ['rotated', 'rotated', 'rotated']);
      assert.equal(after.seq_scan - before.seq_scan, 0, 'no sequential scan of tokens');
      // Per rotation: the presented token (read, the scope to write after the grant's lock, then its compare-and-swap)
      // and the grant's access token; 602 live tokens.
      assert.ok(after.fetched - before.fetched <= 15, `three rotations fetched ${after.fetched - before.fetched} tokens by index`);
      const revoked = await client.query("SELECT count(*)::int AS n FROM tokens WHERE revoked_at IS NOT NULL AND kind = 'access'");
      assert.equal(revoked.rows[0].n, 4, "each rotation revoked its grant's access token, and only that");
    });
  });
});
