/**
 * Migration 34 (issue 12): the code exchange's supersede reaches the superseded grant's tokens by index
 * (tokens_by_grant) whatever tokens held when the plan was made, as in a new deployment. PL/pgSQL keeps a statement's plan
 * for the connection's life; one made on a small table kept scanning tokens sequentially as it grew (2.7 ms
 * of PostgreSQL CPU per flow instead of ~1.2 in the benchmark on a new schema). The scans are counted with
 * `pg_stat_xact_user_tables` around each call: this transaction's own, exact and at once (the cumulative
 * views lag). So are the grant rows it fetches by index: an empty table makes every index look alike to
 * the planner (grants_active_by_user, filtered, costs the same as the pair's own index there), and such a
 * plan would read every live grant; migration 35 changed which indexes it chooses among.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { seed, startTestServer, type TestServer } from '../../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason, TEST_DATABASE_URL } from '../../testing/postgres.ts';
import { createCompany, fixture } from '../contract/fixtures.ts';

const skip = await postgresSkipReason();

describe('gatehouse_redeem_code on small tables (migration 34)', { skip }, () => {
  let server: TestServer;
  let schema: string;
  before(async () => {
    const storage = await createTestPostgresStorage();
    schema = storage.schema;
    server = await startTestServer({ storage });
  });
  after(() => server?.close());

  it("supersedes the active grant and revokes its tokens by index, never scanning tokens nor other subjects' grants, with the generic plans a pooled connection keeps", async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
    await client.connect();
    try {
      await client.query('BEGIN');
      // The plan a pooled connection ends up keeping (PL/pgSQL's plan cache goes generic after five calls when
      // the generic plan looks no dearer), chosen here from the first call, for every statement of the function.
      await client.query('SET LOCAL plan_cache_mode = force_generic_plan');
      const start = server.clock.nowSeconds();
      // A new deployment: the seeded client, a user and a company, no grant and no token yet.
      const clientId = seed.confidentialClient.id;
      const [subject] = (await client.query("SELECT subject_type, subject_id FROM subjects WHERE subject_type = 'company' LIMIT 1")).rows;
      const [user] = (await client.query('SELECT user_id FROM users LIMIT 1')).rows;
      assert.ok(subject && user);
      const insertGrant = async (grantId: string, createdAt: number, withTokens: boolean) => {
        await client.query(
          `INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at) VALUES ($1, $2, $3, $4, $5, 'read', $6::bigint)`,
          [grantId, clientId, user.user_id, subject.subject_type, subject.subject_id, createdAt],
        );
        if (!withTokens) return;
        await client.query(
          `INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at)
           VALUES ($1 || '-a', $1 || '-a', 'access', $1, $2, 'read', $3::bigint, $3::bigint + 600), ($1 || '-r', $1 || '-r', 'refresh', $1, $2, 'read', $3::bigint, $3::bigint + 86400)`,
          [grantId, clientId, createdAt],
        );
      };
      await insertGrant('plan-test-grant-start', start, false);
      // Other companies' live grants (the same client and user): a plan that reads grants by anything but the
      // code's (client, subject) would fetch these too.
      const others = 40;
      for (let i = 0; i < others; i++) {
        await client.query(
          `INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at) VALUES ($1, $2, $3, 'company', $4, 'read', $5::bigint)`,
          [`plan-test-other-${i}`, clientId, user.user_id, `plan-test-company-${i}`, start],
        );
      }
      const grantsFetched = async () => Number((await client.query(
        "SELECT COALESCE(idx_tup_fetch, 0) AS n FROM pg_stat_xact_user_tables WHERE relname = 'grants' AND schemaname = $1", [schema],
      )).rows[0]?.n ?? 0);
      let mostGrantsFetched = 0;
      // This transaction's own counts (the test's checks below may scan tokens themselves: only the function's count).
      const sequentialScansOfTokens = async () => Number((await client.query(
        "SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'tokens' AND schemaname = $1", [schema],
      )).rows[0]?.seq_scan ?? 0);
      let functionScans = 0;
      // PL/pgSQL plans a statement for its first five executions with their values, then may keep a generic
      // plan for the connection's life: eight redemptions while tokens is empty, then three with tokens.
      for (let round = 0; round < 11; round++) {
        const now = start + 1 + round;
        const [active] = (await client.query('SELECT grant_id FROM grants WHERE revoked_at IS NULL')).rows;
        assert.ok(active, `round ${round}: an active grant to supersede`);
        await client.query(
          `INSERT INTO authorization_codes (code_digest, client_id, user_id, redirect_uri, scope, subject_type, subject_id, code_challenge, issued_at, expires_at)
           VALUES ($1, $2, $3, 'https://client.example/callback', 'read', $4, $5, NULL, $6::bigint, $6::bigint + 600)`,
          [`plan-test-code-${round}`, clientId, user.user_id, subject.subject_type, subject.subject_id, now],
        );
        const scansBefore = await sequentialScansOfTokens();
        const fetchedBefore = await grantsFetched();
        const redeemed = await client.query('SELECT * FROM gatehouse_redeem_code($1, $2, $2, $3, $4, $5, $5, true, false, NULL)', [`plan-test-code-${round}`, clientId, subject.subject_type, subject.subject_id, now]);
        functionScans += (await sequentialScansOfTokens()) - scansBefore;
        mostGrantsFetched = Math.max(mostGrantsFetched, (await grantsFetched()) - fetchedBefore);
        assert.deepEqual(redeemed.rows, [{ redeem_outcome: 'issued', replay_grant_id: null }], `round ${round}`);
        const left = await client.query('SELECT count(*)::int AS n FROM tokens WHERE grant_id = $1 AND revoked_at IS NULL', [active.grant_id]);
        assert.equal(left.rows[0].n, 0, `round ${round}: the superseded grant's tokens are revoked`);
        // What the exchange's statement then stores (stores/grants.ts): the grant the next round supersedes.
        await insertGrant(`plan-test-grant-${round}`, now, round >= 7);
      }
      const revoked = await client.query('SELECT count(*)::int AS n FROM tokens WHERE revoked_at IS NOT NULL');
      assert.equal(revoked.rows[0].n, 6, 'three superseded grants, two tokens each');
      assert.equal(functionScans, 0, 'no sequential scan of tokens in gatehouse_redeem_code');
      // Each redemption reads the pair's grants (the check, the supersede) and writes the superseded one: 5 rows
      // fetched by index here, the same before and after migration 35 merged the subject indexes.
      assert.ok(mostGrantsFetched <= 10, `a redemption fetched ${mostGrantsFetched} grants by index, of ${others + 2} live: it read other subjects' grants`);
      await client.query('ROLLBACK');
    } finally {
      await client.end();
    }
  });

  it('with plans made while grants is EMPTY (a new schema), a redemption still reads only its own pair\'s grants once the user holds many (migration 36)', async () => {
    // A storage of its own: migrated, nothing seeded, so the first redemption plans on a grants table of 0 pages.
    const storage = await createTestPostgresStorage();
    const f = await fixture(storage);
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${storage.schema}` });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL plan_cache_mode = force_generic_plan');
      const start = 1_800_000_000;
      const fetched = async () => Number((await client.query(
        "SELECT COALESCE(idx_tup_fetch, 0) AS n FROM pg_stat_xact_user_tables WHERE relname = 'grants' AND schemaname = $1", [storage.schema],
      )).rows[0]?.n ?? 0);
      const redeem = async (code: string, subjectId: string, now: number) => {
        await client.query(
          `INSERT INTO authorization_codes (code_digest, client_id, user_id, redirect_uri, scope, subject_type, subject_id, code_challenge, issued_at, expires_at)
           VALUES ($1, $2, $3, 'https://client.example/callback', 'read', 'company', $4, NULL, $5::bigint, $5::bigint + 600)`,
          [code, f.client.clientId, f.user.userId, subjectId, now],
        );
        const before = await fetched();
        const result = await client.query("SELECT * FROM gatehouse_redeem_code($1, $2, $2, 'company', $3, $4, $4, true, false, NULL)", [code, f.client.clientId, subjectId, now]);
        assert.deepEqual(result.rows, [{ redeem_outcome: 'issued', replay_grant_id: null }], code);
        return (await fetched()) - before;
      };
      const insertGrant = (grantId: string, subjectId: string, createdAt: number) => client.query(
        "INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at) VALUES ($1, $2, $3, 'company', $4, 'read', $5::bigint)",
        [grantId, f.client.clientId, f.user.userId, subjectId, createdAt],
      );
      // The first redemptions plan every statement of the function on the empty table.
      assert.equal(await redeem('empty-plan-code-0', f.company.subjectId, start), 0);
      await insertGrant('empty-plan-grant-0', f.company.subjectId, start);
      // The same user then connects 300 other companies (an accountant's firm): live grants of the same client and user.
      for (let i = 0; i < 300; i++) await insertGrant(`empty-plan-other-${i}`, (await createCompany(storage)).subjectId, start);
      // A second connection of the first company supersedes its grant: the pair's rows only, by index.
      const read = await redeem('empty-plan-code-1', f.company.subjectId, start + 1);
      assert.ok(read <= 5, `the redemption fetched ${read} grants by index, of 302 live: a plan made on the empty table read the user's grants`);
      const [superseded] = (await client.query("SELECT revocation_reason FROM grants WHERE grant_id = 'empty-plan-grant-0'")).rows;
      assert.equal(superseded?.revocation_reason, 'superseded');
      await client.query('ROLLBACK');
    } finally {
      await client.end();
      await storage.close();
    }
  });
});
