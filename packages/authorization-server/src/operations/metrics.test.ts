import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { Histogram, Registry } from 'prom-client';
import { createAdminToken } from '../admin/admin-credentials.ts';
import {
  authorizeUrl, Browser, confidentialAuth, inputValue, obtainTokens, pkcePair, postForm, seed, startTestServer,
} from '../testing/harness.ts';
import { createPostgresStorage } from '../storage/postgres/postgres-storage.ts';
import { dropTestSchema, newTestSchema, postgresSkipReason, TEST_DATABASE_URL } from '../testing/postgres.ts';
import { parse } from 'yaml';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import { createMetrics, instrumentHttp, startMetricsServer, StorageOperationHistogram } from './metrics.ts';
import { StorageUnavailableError } from '../storage/storage-unavailable.ts';

/** The value of one sample in Prometheus text (labels exactly as printed), or undefined when absent. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('Prometheus metrics (issue 14)', () => {
  it('GET /metrics needs an administrator bearer token: 401 with WWW-Authenticate: Bearer, and no metrics, without one', async () => {
    const server = await startTestServer();
    try {
      const none = await fetch(`${server.url}/metrics`);
      assert.equal(none.status, 401);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="metrics"');
      assert.ok(!(await none.text()).includes('gatehouse_'));
      const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${'A'.repeat(43)}` } });
      assert.equal(wrong.status, 401);
      assert.match(wrong.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    } finally {
      await server.close();
    }
  });

  it('keeps answering a token it verified while the database is unreachable (the outage alerts need the metrics); a token never verified waits for the database (503)', async () => {
    // The admin credentials' lookup fails while `down` (as an unreachable database makes it), patched before
    // the server wraps the storage.
    const storage = createSqliteStorage(':memory:');
    let down = false;
    const findByDigest = storage.adminCredentials.findByDigest.bind(storage.adminCredentials);
    storage.adminCredentials.findByDigest = (digest) => (down ? Promise.reject(new StorageUnavailableError(new Error('connection refused'))) : findByDigest(digest));
    const server = await startTestServer({ storage });
    try {
      const { token } = await createAdminToken(server.storage, 'ops-outage', server.clock.nowSeconds());
      const { token: other } = await createAdminToken(server.storage, 'ops-other', server.clock.nowSeconds());
      const scrape = (value: string) => fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${value}` } });
      assert.equal((await scrape(token)).status, 200, 'verified once, with the database up');
      down = true;
      const during = await scrape(token);
      assert.equal(during.status, 200);
      assert.match(await during.text(), /gatehouse_/);
      assert.equal((await scrape(other)).status, 503, 'never verified here: no metrics without the database');
      assert.equal((await scrape('A'.repeat(43))).status, 503);
      down = false;
      assert.equal((await scrape('A'.repeat(43))).status, 401, 'the database back: a wrong token is refused again');
    } finally {
      await server.close();
    }
  });

  it('counts the grants a bulk revocation revoked (a secret rotated with revoke_grants, a client or company deleted) in gatehouse_revocations_total', async () => {
    const server = await startTestServer();
    try {
      const { token } = await createAdminToken(server.storage, 'ops-bulk', server.clock.nowSeconds());
      const admin = (method: string, path: string, body?: unknown) => fetch(`${server.url}/admin/v1${path}`, {
        method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const grants = async () => sample(await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text(), 'gatehouse_revocations_total', 'kind="grant"') ?? 0;
      await obtainTokens(server, { subject: `urn:gatehouse:company:${seed.companies[0].id}`, scope: 'users:read' });
      await obtainTokens(server, { subject: `urn:gatehouse:company:${seed.companies[1].id}`, scope: 'users:read' });
      const before = await grants();
      const rotated = await admin('POST', `/clients/${seed.confidentialClient.id}/secret`, { revoke_grants: true });
      assert.equal(rotated.status, 200);
      const revoked = (await rotated.json()).grants_revoked as number;
      assert.ok(revoked >= 2, `revoked ${revoked}`);
      assert.equal(await grants(), before + revoked);
    } finally {
      await server.close();
    }
  });

  it('counts what a client deletion (clients.changeStatus, one transaction) revoked and its audit event', async () => {
    const server = await startTestServer();
    try {
      const { token } = await createAdminToken(server.storage, 'ops-delete', server.clock.nowSeconds());
      const scrape = async () => (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
      await obtainTokens(server, { subject: `urn:gatehouse:company:${seed.companies[0].id}`, scope: 'users:read' });
      const before = await scrape();
      const deleted = await fetch(`${server.url}/admin/v1/clients/${seed.confidentialClient.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      assert.equal(deleted.status, 200);
      assert.equal((await deleted.json()).grants_revoked, 1);
      const after = await scrape();
      const count = (text: string, name: string, labels: string) => sample(text, name, labels) ?? 0;
      assert.equal(count(after, 'gatehouse_revocations_total', 'kind="grant"'), count(before, 'gatehouse_revocations_total', 'kind="grant"') + 1);
      assert.equal(count(after, 'gatehouse_audit_events_total', 'type="client.deleted"'), count(before, 'gatehouse_audit_events_total', 'type="client.deleted"') + 1);
    } finally {
      await server.close();
    }
  });

  it('after a flow the counters moved: requests, tokens per grant type, OAuth errors per code and client, reuse, revocations, logins, storage', async () => {
    // No reuse grace window: the replayed refresh token below must count as reuse at once (SPEC decision 8).
    const server = await startTestServer({ refreshTokenReuseGraceSeconds: 0 });
    try {
      const { token: adminToken } = await createAdminToken(server.storage, 'ops', server.clock.nowSeconds());
      const scrape = async () => {
        const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
        assert.equal(response.status, 200);
        assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
        return response.text();
      };
      const before = await scrape();
      assert.equal(sample(before, 'gatehouse_tokens_issued_total', 'grant_type="authorization_code"'), undefined);

      // A failed login, then a whole flow (a successful login, a code exchange), a refresh, a reuse, a revocation.
      const browser = new Browser();
      const page = await browser.get(authorizeUrl(server, {
        response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri, scope: 'users:read',
        state: 'metrics', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256',
      }));
      const failed = await browser.post(`${server.url}/login`, {
        _csrf: inputValue(page.text, '_csrf')!, return_to: inputValue(page.text, 'return_to')!, email: seed.users.alice.email, password: 'wrong-password',
      });
      assert.equal(failed.status, 401);
      const { tokens } = await obtainTokens(server);
      const refresh = (token: string) => postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: token }, { authorization: confidentialAuth() });
      const rotated = await refresh(tokens.refresh_token);
      assert.equal(rotated.status, 200);
      assert.equal((await postForm(`${server.url}/oauth/revoke`, { token: rotated.json.access_token }, { authorization: confidentialAuth() })).status, 200);
      const reused = await refresh(tokens.refresh_token);
      assert.equal(reused.json.error, 'invalid_grant');

      const after = await scrape();
      assert.equal(sample(after, 'gatehouse_tokens_issued_total', 'grant_type="authorization_code"'), 1);
      assert.equal(sample(after, 'gatehouse_tokens_issued_total', 'grant_type="refresh_token"'), 1);
      assert.equal(sample(after, 'gatehouse_http_request_duration_seconds_count', 'route="/oauth/token",method="POST",status="200"'), 2);
      assert.equal(sample(after, 'gatehouse_http_request_duration_seconds_count', 'route="/oauth/token",method="POST",status="400"'), 1);
      assert.equal(sample(after, 'gatehouse_oauth_errors_total', `error="invalid_grant",client_id="${seed.confidentialClient.id}"`), 1);
      assert.equal(sample(after, 'gatehouse_refresh_token_reuse_detected_total'), 1);
      assert.equal(sample(after, 'gatehouse_revocations_total', 'kind="access_token"'), 1);
      assert.equal(sample(after, 'gatehouse_logins_total', 'outcome="failure"'), 1);
      assert.equal(sample(after, 'gatehouse_logins_total', 'outcome="success"'), 1);
      assert.equal(sample(after, 'gatehouse_audit_events_total', 'type="refresh_token.rotated"'), 1);
      // Events committed with their operation's write count too: the consent with its code, the exchange's issue.
      assert.equal(sample(after, 'gatehouse_audit_events_total', 'type="consent.granted"'), 1);
      assert.equal(sample(after, 'gatehouse_audit_events_total', 'type="token.issued"'), 1);
      assert.ok((sample(after, 'gatehouse_storage_operation_duration_seconds_count', 'operation="tokens.findByDigest"') ?? 0) >= 1);
      // Issue 12: the refresh read and rotated its token in one storage operation; the reuse was read by the
      // same operation (not ready: rotated already) and answered without another lookup.
      assert.equal(sample(after, 'gatehouse_storage_operation_duration_seconds_count', 'operation="tokens.rotateReadyRefreshToken"'), 2);
      // SPEC decision 19 spirit: no token, code or secret in any label.
      for (const secret of [tokens.access_token, tokens.refresh_token, rotated.json.refresh_token, seed.confidentialClient.secret, adminToken]) {
        assert.ok(!after.includes(secret));
      }
    } finally {
      await server.close();
    }
  });

  it('labels OAuth errors raised before the client authenticated with an empty client_id (attackers cannot grow the label set)', async () => {
    const server = await startTestServer();
    try {
      const { token: adminToken } = await createAdminToken(server.storage, 'ops', server.clock.nowSeconds());
      const forged = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: 'x' }, { authorization: `Basic ${Buffer.from('attacker-chosen-id:nope').toString('base64')}` });
      assert.equal(forged.json.error, 'invalid_client');
      const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } })).text();
      assert.equal(sample(text, 'gatehouse_oauth_errors_total', 'error="invalid_client",client_id=""'), 1);
      assert.ok(!text.includes('attacker-chosen-id'));
    } finally {
      await server.close();
    }
  });

  it('counts 429 answers as rate-limit refusals per route', async () => {
    const metrics = createMetrics();
    const app = Fastify();
    instrumentHttp(app, metrics);
    app.post('/oauth/token', async (_request, reply) => reply.code(429).send({ error: 'slow_down' }));
    await app.inject({ method: 'POST', url: '/oauth/token' });
    const text = await metrics.registry.metrics();
    assert.equal(sample(text, 'gatehouse_rate_limit_refusals_total', 'route="/oauth/token"'), 1);
    await app.close();
  });

  it('serves the metrics alone on their own port (GATEHOUSE_METRICS_PORT), and nothing else there', async () => {
    const metrics = createMetrics();
    metrics.tokensIssued.inc({ grant_type: 'refresh_token' });
    const served = await startMetricsServer(metrics, 0, '127.0.0.1');
    try {
      const response = await fetch(served.url);
      assert.equal(response.status, 200);
      assert.equal(sample(await response.text(), 'gatehouse_tokens_issued_total', 'grant_type="refresh_token"'), 1);
      assert.equal((await fetch(served.url.replace('/metrics', '/oauth/token'))).status, 404);
    } finally {
      await served.close();
    }
  });

  it('the sample Grafana dashboard (docs/grafana-dashboard.json) queries only metrics that exist', async () => {
    const dashboard = readFileSync(new URL('../../../../docs/grafana-dashboard.json', import.meta.url), 'utf8');
    const used = new Set([...dashboard.matchAll(/gatehouse_[a-z_]+/g)].map(([name]) => name.replace(/_(bucket|count|sum)$/, '')));
    const known = new Set((await createMetrics().registry.getMetricsAsJSON()).map((metric) => metric.name));
    assert.ok(used.size >= 10);
    for (const name of used) assert.ok(known.has(name), `${name} is not a Gatehouse metric`);
  });
});

describe('the sample Prometheus alerting rules (docs/prometheus-alerts.yml)', () => {
  it('parse as a rule file whose every rule names only metrics, labels and storage operations that exist', async () => {
    const rules = parse(readFileSync(new URL('../../../../docs/prometheus-alerts.yml', import.meta.url), 'utf8')) as {
      groups: Array<{ name: string; rules: Array<{ alert: string; expr: string; for?: string; labels: { severity: string }; annotations: { summary: string; description: string } }> }>;
    };
    const all = rules.groups.flatMap((group) => group.rules);
    assert.ok(all.length >= 6);
    const { registry } = createMetrics();
    const known = new Set((await registry.getMetricsAsJSON()).map((metric) => metric.name));
    const storage = createSqliteStorage(':memory:');
    try {
      for (const rule of all) {
        assert.match(rule.alert, /^Gatehouse[A-Z][A-Za-z]+$/);
        assert.ok(['critical', 'warning'].includes(rule.labels.severity), rule.alert);
        assert.ok(rule.annotations.summary && rule.annotations.description, rule.alert);
        if (rule.for !== undefined) assert.match(rule.for, /^\d+[smh]$/, rule.alert);
        const names = [...rule.expr.matchAll(/gatehouse_[a-z_]+/g)].map(([name]) => name.replace(/_(bucket|count|sum)$/, ''));
        assert.ok(names.length > 0 || rule.expr.includes('up{'), `${rule.alert} names a Gatehouse metric`);
        for (const name of names) {
          assert.ok(known.has(name), `${rule.alert}: ${name} is not a Gatehouse metric`);
          const labels = (registry.getSingleMetric(name) as unknown as { labelNames?: string[] }).labelNames ?? [];
          // Each label matched next to the metric is one of its labels.
          for (const [, selector] of rule.expr.matchAll(new RegExp(`${name}(?:_bucket|_count|_sum)?\\{([^}]*)\\}`, 'g'))) {
            for (const [, label] of selector!.matchAll(/([a-z_]+)\s*=~?/g)) {
              assert.ok(labels.includes(label!), `${rule.alert}: ${name} has no label ${label} (${labels.join(', ')})`);
            }
          }
        }
        // Storage operations named by an `operation` matcher are operations of the storage contract.
        for (const [, operations] of rule.expr.matchAll(/operation=~"([^"]+)"/g)) {
          for (const operation of operations!.split('|')) {
            const [group, member] = operation.split('.') as [keyof typeof storage, string];
            assert.equal(typeof (storage[group] as unknown as Record<string, unknown>)?.[member], 'function', `${rule.alert}: ${operation} is not a storage operation`);
          }
        }
      }
    } finally {
      await storage.close();
    }
  });
});

describe('Prometheus metrics: last uses pending (issue 12)', () => {
  it('reports the uses noted and not yet written, by kind, at each scrape: 1 after an introspection that notes one, 0 once written', async () => {
    const server = await startTestServer({ lastUseFlushIntervalMs: 60_000 });
    try {
      const { token } = await createAdminToken(server.storage, 'ops', server.clock.nowSeconds());
      const scrape = async () => (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
      const { tokens } = await obtainTokens(server);
      server.clock.advanceSeconds(300); // older than a minute: its introspection notes its grant's use
      assert.equal((await postForm(`${server.url}/oauth/token/introspect`, { token: tokens.access_token }, { authorization: confidentialAuth() })).json.active, true);
      const noted = await scrape();
      assert.equal(sample(noted, 'gatehouse_last_uses_pending', 'kind="grants"'), 1);
      assert.equal(sample(noted, 'gatehouse_last_uses_pending', 'kind="api_keys"'), 0);
      await server.app.flushLastUses();
      assert.equal(sample(await scrape(), 'gatehouse_last_uses_pending', 'kind="grants"'), 0);
    } finally {
      await server.close();
    }
  });
});

describe('Prometheus metrics: PostgreSQL pool saturation (issue 14)', { skip: await postgresSkipReason() }, () => {
  it('reports the pool\'s connections by state at each scrape; SQLite reports none', async () => {
    const schema = newTestSchema();
    const server = await startTestServer({ storage: await createPostgresStorage(TEST_DATABASE_URL, { schema, poolSize: 4 }) });
    try {
      const { token } = await createAdminToken(server.storage, 'ops', server.clock.nowSeconds());
      const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
      assert.equal(sample(text, 'gatehouse_storage_pool_connections', 'state="max"'), 4);
      assert.ok((sample(text, 'gatehouse_storage_pool_connections', 'state="total"') ?? 0) >= 1, 'the scrape itself used a connection');
      assert.equal(sample(text, 'gatehouse_storage_pool_connections', 'state="waiting"'), 0);
    } finally {
      await server.close();
      await dropTestSchema(schema);
    }
    const sqlite = await startTestServer();
    try {
      const { token } = await createAdminToken(sqlite.storage, 'ops', sqlite.clock.nowSeconds());
      const text = await (await fetch(`${sqlite.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
      assert.equal(sample(text, 'gatehouse_storage_pool_connections', 'state="max"'), undefined);
    } finally {
      await sqlite.close();
    }
  });
});

describe('the storage-operation histogram (issue 12: a cheaper recording path, the same output)', () => {
  it('prints exactly what a prom-client Histogram prints for the same observations, before and after a reset, as text and as JSON', async () => {
    const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    const reference = new Registry();
    const ours = new Registry();
    const name = 'gatehouse_storage_operation_duration_seconds';
    const histogram = new Histogram({ name, help: 'Storage operations by name', labelNames: ['operation'], buckets, registers: [reference] });
    const fast = new StorageOperationHistogram(name, 'Storage operations by name', buckets, ours);
    const observe = (operation: string, seconds: number) => {
      histogram.labels(operation).observe(seconds);
      fast.series(operation).observe(seconds);
    };
    assert.equal(await ours.metrics(), await reference.metrics(), 'nothing observed');
    fast.series('clients.find'); // a series asked for but never observed is not printed
    for (const [operation, seconds] of [
      ['tokens.findByDigest', 0.0004], ['grants.recordUse', 0.001], ['tokens.findByDigest', 0.0123456789], ['rateLimits.hit', 12],
      ['tokens.findByDigest', 0.1 + 0.2], ['grants.recordUse', 0], ['audit.record', 2.5], ['tokens.findByDigest', 1e-7],
    ] as const) observe(operation, seconds);
    assert.equal(await ours.metrics(), await reference.metrics());
    assert.deepEqual(await ours.getMetricsAsJSON(), await reference.getMetricsAsJSON());
    reference.resetMetrics();
    ours.resetMetrics();
    assert.equal(await ours.metrics(), await reference.metrics(), 'after a reset');
    observe('grants.recordUse', 0.003);
    observe('tokens.findByDigest', 0.02);
    assert.equal(await ours.metrics(), await reference.metrics(), 'observed again after a reset: listed in the new order');
  });
});
