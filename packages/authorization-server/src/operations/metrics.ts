/**
 * Prometheus metrics (issue 14, "Observe") with prom-client, one registry per server (tests run many).
 *
 * | metric | type | labels | what |
 * |---|---|---|---|
 * | `gatehouse_http_request_duration_seconds` | histogram | `route`, `method`, `status` | every request; `_count` is the request count (`route` is the route pattern, `unmatched` for 404s) |
 * | `gatehouse_tokens_issued_total` | counter | `grant_type` | successful token responses |
 * | `gatehouse_oauth_errors_total` | counter | `error`, `client_id` | JSON OAuth error responses; `client_id` only once the client authenticated (else empty), so attackers cannot grow the label set |
 * | `gatehouse_refresh_token_reuse_detected_total` | counter | | rotated-out or expired refresh tokens presented again (SPEC decision 8) |
 * | `gatehouse_revocations_total` | counter | `kind` (`grant`, `access_token`) | revocations (RFC 7009, disconnects, admin) |
 * | `gatehouse_logins_total` | counter | `outcome` (`success`, `failure`, `throttled`) | `POST /login` |
 * | `gatehouse_rate_limit_refusals_total` | counter | `route` | 429 answers |
 * | `gatehouse_audit_events_total` | counter | `type` | every audit event recorded |
 * | `gatehouse_storage_operation_duration_seconds` | histogram | `operation` | storage calls (`tokens.findByDigest`, …) |
 * | `gatehouse_storage_operation_errors_total` | counter | `operation` | storage calls that threw |
 * | `gatehouse_cleanup_deleted_rows_total` / `gatehouse_cleanup_failures_total` | counter | | the periodic cleanup job |
 *
 * No label ever holds a token, code, secret or user identifier. The hot path costs one histogram observe
 * per request: label children are looked up in nested maps keyed by strings Fastify already holds.
 */
import { createServer, type Server } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { authenticateAdministrator, presentedAdminTokenDigest } from '../admin/admin-credentials.ts';
import { isStorageUnavailable } from '../storage/storage-unavailable.ts';
import type { ConnectionPoolStats, Storage } from '../storage/storage.ts';
import { wrapStorageOperations } from '../storage/wrap-storage.ts';

/** OAuth errors raised after the client authenticated: only these carry its `client_id` label. */
const AUTHENTICATED_CLIENT_ERRORS = new Set(['invalid_grant', 'invalid_scope', 'unauthorized_client', 'unsupported_grant_type']);
const ERROR_CODE = /^\{"error":"([a-z_]{1,40})"/;
const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface GatehouseMetrics {
  readonly registry: Registry;
  readonly httpRequestDuration: Histogram<'route' | 'method' | 'status'>;
  readonly tokensIssued: Counter<'grant_type'>;
  readonly oauthErrors: Counter<'error' | 'client_id'>;
  readonly refreshTokenReuseDetected: Counter;
  readonly revocations: Counter<'kind'>;
  readonly logins: Counter<'outcome'>;
  readonly rateLimitRefusals: Counter<'route'>;
  readonly auditEvents: Counter<'type'>;
  readonly storageOperationDuration: StorageOperationHistogram;
  readonly storageOperationErrors: Counter<'operation'>;
  readonly cleanupDeletedRows: Counter;
  readonly cleanupFailures: Counter;
  /** Issue 14, pool saturation: PostgreSQL connections by state (total, idle, waiting, max), read at each scrape. */
  readonly storagePoolConnections: Gauge<'state'>;
  /** Where storagePoolConnections reads from (trackConnectionPool); none on SQLite. */
  poolSource: (() => ConnectionPoolStats) | undefined;
  /** Issue 12: uses noted and not yet written (storage/last-use-recorder.ts), by kind, read at each scrape. */
  readonly lastUsesPending: Gauge<'kind'>;
  /** Where lastUsesPending reads from (trackLastUses): each kind's pending count. */
  lastUsesSource: (() => Record<string, number>) | undefined;
}

/**
 * A fresh registry with every Gatehouse metric.
 * @param options.processMetrics also collect prom-client's process metrics (CPU, memory, event-loop lag,
 *   GC); off by default so tests starting many servers do not start many monitors.
 */
export function createMetrics(options: { processMetrics?: boolean } = {}): GatehouseMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const metrics: GatehouseMetrics = {
    registry,
    httpRequestDuration: new Histogram({ name: 'gatehouse_http_request_duration_seconds', help: 'HTTP requests by route pattern, method and status; _count counts them', labelNames: ['route', 'method', 'status'], buckets: SECONDS_BUCKETS, registers }),
    tokensIssued: new Counter({ name: 'gatehouse_tokens_issued_total', help: 'Token responses by grant type', labelNames: ['grant_type'], registers }),
    oauthErrors: new Counter({ name: 'gatehouse_oauth_errors_total', help: 'OAuth error responses by error code and (authenticated) client', labelNames: ['error', 'client_id'], registers }),
    refreshTokenReuseDetected: new Counter({ name: 'gatehouse_refresh_token_reuse_detected_total', help: 'Refresh tokens presented after rotation or expiry (the grant was revoked)', registers }),
    revocations: new Counter({ name: 'gatehouse_revocations_total', help: 'Revocations by kind', labelNames: ['kind'], registers }),
    logins: new Counter({ name: 'gatehouse_logins_total', help: 'Login attempts by outcome', labelNames: ['outcome'], registers }),
    rateLimitRefusals: new Counter({ name: 'gatehouse_rate_limit_refusals_total', help: 'Requests refused with 429 by route', labelNames: ['route'], registers }),
    auditEvents: new Counter({ name: 'gatehouse_audit_events_total', help: 'Audit events recorded by type', labelNames: ['type'], registers }),
    storageOperationDuration: new StorageOperationHistogram('gatehouse_storage_operation_duration_seconds', 'Storage operations by name', SECONDS_BUCKETS, registry),
    storageOperationErrors: new Counter({ name: 'gatehouse_storage_operation_errors_total', help: 'Storage operations that failed, by name', labelNames: ['operation'], registers }),
    cleanupDeletedRows: new Counter({ name: 'gatehouse_cleanup_deleted_rows_total', help: 'Expired rows deleted by the cleanup job', registers }),
    cleanupFailures: new Counter({ name: 'gatehouse_cleanup_failures_total', help: 'Cleanup job runs that failed', registers }),
    storagePoolConnections: new Gauge({
      name: 'gatehouse_storage_pool_connections', help: 'PostgreSQL pool connections by state: total, idle, waiting (requests queued for one) and max', labelNames: ['state'], registers,
      collect() {
        const stats = metrics.poolSource?.();
        if (!stats) return;
        for (const state of ['total', 'idle', 'waiting', 'max'] as const) this.set({ state }, stats[state]);
      },
    }),
    poolSource: undefined,
    lastUsesPending: new Gauge({
      name: 'gatehouse_last_uses_pending', help: 'Last uses noted and not yet written (grants, api_keys, sessions): written every second; growing while the database fails', labelNames: ['kind'], registers,
      collect() {
        for (const [kind, pending] of Object.entries(metrics.lastUsesSource?.() ?? {})) this.set({ kind }, pending);
      },
    }),
    lastUsesSource: undefined,
  };
  return metrics;
}

/** Issue 14: the pool-saturation gauge reads `storage`'s pool at each scrape (PostgreSQL; nothing on SQLite). */
export function trackConnectionPool(metrics: GatehouseMetrics, storage: Storage): void {
  if (storage.connectionPool) metrics.poolSource = () => storage.connectionPool!();
}

/** Issue 12: the pending-uses gauge reads the server's last-use recorders at each scrape. */
export function trackLastUses(metrics: GatehouseMetrics, recorders: Record<string, { readonly pendingCount: number }>): void {
  metrics.lastUsesSource = () => Object.fromEntries(Object.entries(recorders).map(([kind, recorder]) => [kind, recorder.pendingCount]));
}

type Observer = { observe(seconds: number): void };

/** Counts and times every request of `app`, and derives the token, error, login and rate-limit counters from its answers. */
export function instrumentHttp(app: FastifyInstance, metrics: GatehouseMetrics): void {
  // route → method → status → histogram child: no label object or key string per request.
  const children = new Map<string, Map<string, Map<number, Observer>>>();
  const child = (route: string, method: string, status: number): Observer => {
    let byMethod = children.get(route);
    if (!byMethod) children.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let found = byStatus.get(status);
    if (!found) byStatus.set(status, (found = metrics.httpRequestDuration.labels(route, method, String(status))));
    return found;
  };
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    child(route, request.method, status).observe(reply.elapsedTime / 1000);
    if (route === '/oauth/token' && status === 200) {
      const grantType = (request.body as Record<string, unknown> | undefined)?.grant_type;
      if (grantType === 'authorization_code' || grantType === 'refresh_token') metrics.tokensIssued.inc({ grant_type: grantType });
    } else if (route === '/login' && request.method === 'POST') {
      metrics.logins.inc({ outcome: status === 303 ? 'success' : status === 429 ? 'throttled' : 'failure' });
    }
    if (status === 429) metrics.rateLimitRefusals.inc({ route });
    done();
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    if (reply.statusCode >= 400 && typeof payload === 'string') {
      const error = ERROR_CODE.exec(payload)?.[1];
      if (error) metrics.oauthErrors.inc({ error, client_id: AUTHENTICATED_CLIENT_ERRORS.has(error) ? clientIdOf(request) : '' });
    }
    done(null, payload);
  });
}

/** The client id of a request: its HTTP Basic user name (RFC 6749 §2.3.1), else the `client_id` form field. */
function clientIdOf(request: FastifyRequest): string {
  const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(request.headers.authorization ?? '');
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    try {
      return colon > 0 ? decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')).slice(0, 64) : '';
    } catch {
      return '';
    }
  }
  const clientId = (request.body as Record<string, unknown> | undefined)?.client_id;
  return typeof clientId === 'string' ? clientId.slice(0, 64) : '';
}

/** One `operation` label value of a StorageOperationHistogram: its bucket counts (not cumulative), sum and count. */
class OperationSeries {
  readonly labels: { operation: string };
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  /** Not in the output until observed (again, after a reset), as prom-client does. */
  listed = false;
  private readonly histogram: StorageOperationHistogram;
  constructor(operation: string, bucketCount: number, histogram: StorageOperationHistogram) {
    this.histogram = histogram;
    this.labels = { operation };
    this.counts = new Float64Array(bucketCount);
  }

  /** @param seconds a finite duration. */
  observe(seconds: number): void {
    if (!this.listed) this.histogram.list(this);
    const { upperBounds } = this.histogram;
    for (let index = 0; index < upperBounds.length; index++) {
      if (seconds <= upperBounds[index]!) {
        this.counts[index]!++;
        break;
      }
    }
    this.sum += seconds;
    this.count += 1;
  }
}

/**
 * `gatehouse_storage_operation_duration_seconds`, a histogram with one label, `operation`, observed on every
 * storage call. prom-client's Histogram validates and hashes the label set and allocates a closure and an
 * object on each observation (~1–3% of an introspection's CPU, issue 12); here each operation's series is
 * an object held by its wrapper, so an observation is a bucket search and three additions. Its output is
 * prom-client's for a Histogram (registered like one: `get`, `getForPromString`, `reset`), sample for
 * sample and in the same order; operations/metrics.test.ts compares the two.
 */
export class StorageOperationHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames = ['operation'];
  private readonly all = new Map<string, OperationSeries>();
  private listed: OperationSeries[] = [];
  readonly name: string;
  readonly help: string;
  readonly upperBounds: readonly number[];
  constructor(name: string, help: string, upperBounds: readonly number[], registry: Registry) {
    this.name = name;
    this.help = help;
    this.upperBounds = upperBounds;
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series of one operation (made once; keep it). */
  series(operation: string): OperationSeries {
    let found = this.all.get(operation);
    if (!found) this.all.set(operation, (found = new OperationSeries(operation, this.upperBounds.length, this)));
    return found;
  }

  /** Called by a series at its first observation (since the last reset): the output lists series in that order. */
  list(series: OperationSeries): void {
    series.listed = true;
    this.listed.push(series);
  }

  /** prom-client Registry.resetMetrics: every series back to nothing observed. */
  reset(): void {
    for (const series of this.all.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
      series.listed = false;
    }
    this.listed = [];
  }

  /** What prom-client's Histogram.getForPromString returns: per series, the cumulative buckets, `+Inf`, `_sum`, `_count`. */
  getForPromString() {
    const values: { labels: Record<string, string | number>; sharedLabels: Record<string, string>; value: number; metricName: string; exemplar: null | undefined }[] = [];
    for (const series of this.listed) {
      let cumulative = 0;
      this.upperBounds.forEach((le, index) => {
        cumulative += series.counts[index]!;
        values.push({ labels: { le }, sharedLabels: series.labels, value: cumulative, metricName: `${this.name}_bucket`, exemplar: null });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: series.labels, value: series.count, metricName: `${this.name}_bucket`, exemplar: null });
      values.push({ labels: {}, sharedLabels: series.labels, value: series.sum, metricName: `${this.name}_sum`, exemplar: undefined });
      values.push({ labels: {}, sharedLabels: series.labels, value: series.count, metricName: `${this.name}_count`, exemplar: undefined });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** What prom-client's Histogram.get returns (getMetricsAsJSON): the same values, the label sets merged. */
  get() {
    const data = this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })),
    };
  }
}

/**
 * The storage operations that record audit events, and the event each call recorded (undefined: none) given
 * its arguments and result: `audit.record` itself, and the operations that commit their event with their
 * write (issue 12; a revocation's, issue 15 §5: storage.ts GrantRevocationEffects).
 */
const AUDITED_OPERATIONS: Record<string, (args: unknown[], result: unknown) => unknown> = {
  'audit.record': (args) => args[0],
  // The consent that issued a code (consent.granted, consent.reused) commits with it.
  'authorizationCodes.create': (args, result) => (result === true ? args[1] : undefined),
  'grants.issueForCode': (args, result) => (result === 'issued' ? args[3] : undefined),
  // The consent decision's code and its event, stored with the interaction's consume.
  'interactions.consumeWithCode': (args, result) => ((result as { codeCreated?: unknown } | undefined)?.codeCreated === true ? args[4] : undefined),
  'tokens.rotateRefreshToken': (args, result) => (result === 'rotated' ? args[3] : undefined),
  // The event as recorded (with the token's grant and scope) is part of the result.
  'tokens.rotateReadyRefreshToken': (_args, result) => ((result as { outcome?: unknown; auditEvent?: unknown }).outcome === 'rotated' ? (result as { auditEvent?: unknown }).auditEvent : undefined),
  'grants.exchangeCode': (args, result) => ((result as { outcome?: unknown }).outcome === 'issued' ? args[5] : undefined),
  // The event as recorded (with the code's scope) is part of the result.
  'grants.exchangeReadyCode': (_args, result) => ((result as { outcome?: unknown; auditEvent?: unknown }).outcome === 'issued' ? (result as { auditEvent?: unknown }).auditEvent : undefined),
  'grants.revoke': (args, result) => (result === true ? (args[3] as { auditEvent?: unknown } | undefined)?.auditEvent : undefined),
  'tokens.revokeAccessToken': (args, result) => (result === true ? args[2] : undefined),
  // A suspension's or deletion's event (built from what it revoked) is part of the result.
  'clients.changeStatus': (_args, result) => (result as { auditEvent?: unknown } | undefined)?.auditEvent,
};

/**
 * The storage operations that revoke many grants at once (a client deleted, or its secret rotated with
 * `revoke_grants`; a company or organization deleted), and how many each call revoked: they record no
 * `grant.revoked` event per grant, and `gatehouse_revocations_total` counts every revocation.
 */
const BULK_GRANT_REVOCATIONS: Record<string, (result: unknown) => number> = {
  'grants.revokeAllOfClient': (result) => (typeof result === 'number' ? result : 0),
  'clients.changeStatus': (result) => {
    const changed = result as { grantsRevoked?: unknown } | undefined;
    return typeof changed?.grantsRevoked === 'number' ? changed.grantsRevoked : 0;
  },
  'directory.deleteSubject': (result) => {
    const deleted = result as { outcome?: unknown; grantsRevoked?: unknown } | undefined;
    return deleted?.outcome === 'deleted' && typeof deleted.grantsRevoked === 'number' ? deleted.grantsRevoked : 0;
  },
};

/**
 * The storage with every operation timed (and its failures counted), and the audit events it records
 * counted by type (`audit.record`, and the events committed with a write: `AUDITED_OPERATIONS`).
 */
export function instrumentStorage(storage: Storage, metrics: GatehouseMetrics): Storage {
  const countAudit = (event: unknown) => {
    const type = (event as { type?: unknown } | undefined)?.type;
    if (typeof type !== 'string') return;
    metrics.auditEvents.inc({ type });
    if (type === 'refresh_token.reuse_detected') metrics.refreshTokenReuseDetected.inc();
    else if (type === 'grant.revoked') metrics.revocations.inc({ kind: 'grant' });
    else if (type === 'access_token.revoked') metrics.revocations.inc({ kind: 'access_token' });
  };
  return wrapStorageOperations(storage, (operation, call) => {
    const duration = metrics.storageOperationDuration.series(operation);
    const errors = metrics.storageOperationErrors.labels(operation);
    // Chosen once here, not by comparing the operation's name on every call (issue 12).
    const audited = AUDITED_OPERATIONS[operation];
    const bulkRevocation = BULK_GRANT_REVOCATIONS[operation];
    return async (...args: unknown[]) => {
      const started = performance.now();
      try {
        const result = await call(...args);
        duration.observe((performance.now() - started) / 1000);
        if (audited) countAudit(audited(args, result));
        if (bulkRevocation) {
          const revoked = bulkRevocation(result);
          if (revoked > 0) metrics.revocations.inc({ kind: 'grant' }, revoked);
        }
        return result;
      } catch (error) {
        errors.inc();
        throw error;
      }
    };
  });
}

/** How long a verified admin token keeps reading `/metrics` while the database is unreachable, ms. */
const METRICS_OUTAGE_TRUST_MILLISECONDS = 15 * 60_000;

/**
 * `GET /metrics` on the application, for administrator bearer tokens (the admin API's credentials,
 * `gatehouse admins create-token`): 401 with `WWW-Authenticate: Bearer` otherwise (RFC 6750 §3).
 */
export function registerMetricsRoute(app: FastifyInstance, metrics: GatehouseMetrics, storage: Storage): void {
  // Admin token digests this instance verified, with when (ms): while the database is unreachable a token
  // verified in the last 15 minutes still reads the metrics, which the outage's alerts are made of
  // (docs/prometheus-alerts.yml); any other request waits for the database (503).
  const verifiedAt = new Map<string, number>();
  app.get('/metrics', async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'no-store');
    const digest = presentedAdminTokenDigest(request.headers.authorization);
    let administrator: boolean;
    try {
      administrator = (await authenticateAdministrator(storage, request.headers.authorization)) !== undefined;
      if (administrator && digest !== undefined) {
        if (verifiedAt.size >= 100 && !verifiedAt.has(digest)) verifiedAt.clear();
        verifiedAt.set(digest, Date.now());
      }
    } catch (error) {
      // Trusted from its last verification, never renewed without the database.
      const verified = digest === undefined ? undefined : verifiedAt.get(digest);
      if (!isStorageUnavailable(error) || verified === undefined || Date.now() - verified > METRICS_OUTAGE_TRUST_MILLISECONDS) throw error;
      administrator = true;
    }
    if (!administrator) {
      const challenge = request.headers.authorization ? 'Bearer realm="metrics", error="invalid_token"' : 'Bearer realm="metrics"';
      return reply.code(401).header('www-authenticate', challenge).send({ error: 'invalid_token', error_description: 'an administrator bearer token is required' });
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}

/**
 * `GATEHOUSE_METRICS_PORT`: the metrics alone on their own port, without authentication (for a scraper
 * on a private network; never expose it publicly). Answers `GET /metrics`; anything else is 404.
 */
export async function startMetricsServer(metrics: GatehouseMetrics, port: number, host: string): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' }).end(text),
      () => response.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${typeof address === 'object' && address ? address.port : port}/metrics`;
  return { server, url, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
