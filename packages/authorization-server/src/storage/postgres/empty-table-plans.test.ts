/**
 * Migration 36 (issue 12): the generic plans a pooled connection keeps, made on empty tables (a new
 * deployment, a new schema), reach rows through an index condition, never by reading a partial index whole.
 * On an empty table every plan costs about the same, and PostgreSQL may read a partial index whole for any
 * query that implies its condition: the rotation's "revoke the superseded access token" (grant_id, kind =
 * 'access', revoked_at IS NULL) used to read tokens_access_by_expiry whole there, every live access token per
 * rotation for as long as the plan was kept. The functions' statements are checked by what they fetch
 * (gatehouse_redeem_code: redeem-code-plans.test.ts; gatehouse_rotate_refresh_tokens, which now holds that
 * statement: refresh-rotation-batches.test.ts): EXPLAIN does not show a function's plans.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { confidentialAuth, obtainTokens, postForm, startTestServer, type TestServer } from '../../testing/harness.ts';
import { createTestPostgresStorage, observeQueriesDuring, postgresSkipReason, TEST_DATABASE_URL } from '../../testing/postgres.ts';
import type { Storage } from '../storage.ts';

const skip = await postgresSkipReason();

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

/** Every scan of the plan: `<node type> <relation or index>` and whether it has an index condition. */
function scans(node: PlanNode, found: Array<{ scan: string; indexCond: boolean }> = []): Array<{ scan: string; indexCond: boolean }> {
  if (/Scan/.test(node['Node Type'])) found.push({ scan: `${node['Node Type']} ${node['Index Name'] ?? node['Relation Name'] ?? ''}`.trim(), indexCond: node['Index Cond'] !== undefined });
  for (const child of node.Plans ?? []) scans(child, found);
  return found;
}

describe('generic plans made on empty tables (migration 36)', { skip }, () => {
  let storage: Storage & { schema: string };
  let client: pg.Client;
  before(async () => {
    storage = await createTestPostgresStorage();
    await storage.users.find('00000000-0000-4000-8000-000000000000'); // migrated, nothing stored
    client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${storage.schema} -c plan_cache_mode=force_generic_plan` });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await storage?.close();
  });

  // A prepared statement's plan under force_generic_plan is the generic one whatever values EXECUTE passes
  // (EXPLAIN of a statement with bound parameters would plan for those values instead).
  let statements = 0;
  const planOf = async (sql: string, parameters: number) => {
    const name = `plan_${statements++}`;
    await client.query(`PREPARE ${name} AS ${sql}`);
    const result = await client.query(`EXPLAIN (FORMAT JSON) EXECUTE ${name}(${Array.from({ length: parameters }, () => 'NULL').join(', ')})`);
    return scans((result.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan);
  };

  it('the queries the partial indexes are for still use them, by an index condition: by user, by expiry, by due cleanup, by pair', async () => {
    const cases: Array<[string, number, RegExp]> = [
      ['SELECT grant_id FROM grants WHERE user_id = $1 AND revoked_at IS NULL', 1, /grants_active_by_user/],
      ["SELECT x.ctid FROM tokens x WHERE x.kind = 'access' AND x.expires_at <= $1 ORDER BY x.expires_at LIMIT 100", 1, /tokens_access_by_expiry/],
      ["SELECT x.ctid FROM tokens x WHERE x.kind = 'refresh' AND COALESCE(x.cleanup_after, x.expires_at) <= $1 ORDER BY COALESCE(x.cleanup_after, x.expires_at) LIMIT 100", 1, /tokens_refresh_cleanup/],
      ['SELECT grant_id FROM grants WHERE client_id = $1 AND subject_type = $2 AND subject_id = $3 AND revoked_at IS NULL', 3, /grants_one_active/],
      ['SELECT code_digest FROM authorization_codes WHERE grant_id IS NULL AND user_id = $1', 1, /authorization_codes_unredeemed_by_user/],
      ['SELECT code_digest FROM authorization_codes WHERE grant_id IS NULL AND subject_type = $1 AND subject_id = $2', 2, /authorization_codes_unredeemed_by_subject/],
    ];
    for (const [sql, parameters, index] of cases) {
      const found = await planOf(sql, parameters);
      assert.ok(found.some(({ scan, indexCond }) => index.test(scan) && indexCond), `${sql}: ${JSON.stringify(found)}`);
    }
  });

  it("gatehouse_revoke_grant's statements (migration 42, with its settings) reach the grant and its tokens by an index condition only", async () => {
    // EXPLAIN does not show a function's plans: its statements, as it runs them (enable_seqscan = off, generic).
    await client.query('SET enable_seqscan = off');
    try {
      const statements: Array<[string, number, RegExp]> = [
        ['UPDATE grants SET revoked_at = GREATEST($2, created_at), revocation_reason = $3 WHERE grant_id = $1 AND revoked_at IS NULL', 3, /grants_pkey/],
        [`WITH revoked AS (UPDATE tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL)
            UPDATE grants SET cleanup_after = (SELECT COALESCE(max(t.expires_at), 0) FROM tokens t WHERE t.grant_id = grants.grant_id)
            WHERE grant_id = $1 AND revoked_at IS NOT NULL`, 2, /tokens_by_grant/],
      ];
      for (const [sql, parameters, index] of statements) {
        const found = await planOf(sql, parameters);
        assert.ok(found.some(({ scan, indexCond }) => index.test(scan) && indexCond), `${sql}: ${JSON.stringify(found)}`);
        assert.deepEqual(found.filter(({ scan, indexCond }) => !indexCond || /Seq Scan/.test(scan)), [], `${sql}: every scan by an index condition`);
      }
      const source = (await client.query("SELECT prosrc FROM pg_proc WHERE proname = 'gatehouse_revoke_grant' AND pronamespace = $1::regnamespace", [storage.schema])).rows[0]?.prosrc as string;
      for (const [sql] of statements) assert.ok(source.replace(/\s+/g, ' ').includes(sql.replace(/\$1/g, 'p_grant_id').replace(/\$2/g, 'p_now').replace(/\$3/g, 'p_reason').replace(/\s+/g, ' ')), `the function runs: ${sql}`);
    } finally {
      await client.query('RESET enable_seqscan');
    }
  });
});

describe('every named statement of a flow, a refresh, an introspection and a revocation, planned generic on empty tables (migration 36)', { skip }, () => {
  it('reaches the tables it reads by an index condition, never by reading an index whole nor a hot table sequentially', async () => {
    // The statements the server names (so that each pooled connection keeps their plans), as it sends them.
    const named = new Map<string, string>();
    let server: TestServer | undefined;
    try {
      await observeQueriesDuring((_client, config) => {
        if (typeof config === 'object' && config !== null && typeof (config as { name?: unknown }).name === 'string') {
          named.set((config as { name: string }).name, (config as { text: string }).text);
        }
      }, async () => {
        server = await startTestServer({ storage: await createTestPostgresStorage() });
        const { tokens } = await obtainTokens(server);
        const refreshed = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
        assert.equal(refreshed.status, 200);
        assert.equal((await postForm(`${server.url}/oauth/token/introspect`, { token: refreshed.json.access_token }, { authorization: confidentialAuth() })).json.active, true);
        assert.equal((await postForm(`${server.url}/oauth/revoke`, { token: refreshed.json.refresh_token }, { authorization: confidentialAuth() })).status, 200);
      });
    } finally {
      await server?.close();
    }
    for (const name of ['gatehouse_tokens_by_token_digests', 'gatehouse_rotate_ready_refresh_tokens', 'gatehouse_find_client']) assert.ok(named.has(name), `${name} among ${[...named.keys()].join(', ')}`);

    // A new deployment: migrated, nothing stored.
    const empty = await createTestPostgresStorage();
    await empty.users.find('00000000-0000-4000-8000-000000000000');
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${empty.schema} -c plan_cache_mode=force_generic_plan` });
    await client.connect();
    const hot = /^(tokens|grants|authorization_codes|audit_events|login_sessions|interactions|refresh_token_grace|rate_limit_windows|dpop_proofs)$/;
    const problems: string[] = [];
    try {
      for (const [name, text] of named) {
        const parameters = Math.max(0, ...[...text.matchAll(/\$(\d+)/g)].map((match) => Number(match[1])));
        await client.query(`PREPARE ${name} AS ${text}`);
        const result = await client.query(`EXPLAIN (FORMAT JSON) EXECUTE ${name}(${Array.from({ length: parameters }, () => 'NULL').join(', ')})`);
        const plan = (result.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan;
        for (const node of nodes(plan)) {
          if (/Index( Only)? Scan/.test(node['Node Type']) && node['Index Cond'] === undefined) problems.push(`${name}: ${node['Node Type']} of ${node['Index Name']} without an index condition`);
          if (node['Node Type'] === 'Seq Scan' && hot.test(node['Relation Name'] ?? '')) problems.push(`${name}: Seq Scan of ${node['Relation Name']}`);
        }
      }
    } finally {
      await client.end();
      await empty.close();
    }
    assert.deepEqual(problems, [], `of ${named.size} named statements`);
  });
});

function nodes(node: PlanNode, found: PlanNode[] = []): PlanNode[] {
  found.push(node);
  for (const child of node.Plans ?? []) nodes(child, found);
  return found;
}
