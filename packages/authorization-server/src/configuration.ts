/**
 * Configuration from environment variables, for `npm start`, the CLI and deployments.
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | `GATEHOUSE_ENV` | `development` | `development`, `staging` or `production` (SPEC §2) |
 * | `PORT` | `3000` | listening port |
 * | `HOST` | `localhost` (development), `0.0.0.0` otherwise | listening address |
 * | `GATEHOUSE_ISSUER` | `http://localhost:<PORT>` in development; required otherwise | issuer URL |
 * | `DATABASE_URL` | unset | `postgres://user[:password]@host[:port]/database`: use PostgreSQL (several instances may share it) |
 * | `GATEHOUSE_DATABASE_SCHEMA` | `public` | PostgreSQL schema holding Gatehouse's tables (created if missing) |
 * | `GATEHOUSE_DATABASE_POOL_SIZE` | `10` | PostgreSQL connections per instance |
 * | `GATEHOUSE_CLIENT_CACHE_ENTRIES` | `10000` | PostgreSQL: client records cached per instance (storage/client-cache.ts), and the resource catalogue with them (storage/resource-cache.ts), kept fresh by LISTEN/NOTIFY on one extra connection; `0` turns both caches and that connection off (needed behind a transaction-mode pooler, where LISTEN does not work) |
 * | `GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS` | `10000` | PostgreSQL: longest a statement (lock waits included) may run before it is cancelled and the request answered 503 with `Retry-After`; `0` turns it off |
 * | `GATEHOUSE_DATABASE_POOLER` | `none` | PostgreSQL: `transaction` when `DATABASE_URL` reaches a pooler in transaction mode (PgBouncer `pool_mode = transaction`): no startup parameters, no named prepared statements, no LISTEN (the client cache off); `search_path` and `statement_timeout` then come from the role or the pooler, and the start checks the schema (storage/postgres/postgres-storage.ts `pooler`) |
 * | `GATEHOUSE_DATABASE` | `./data/gatehouse.sqlite` | SQLite file, used when `DATABASE_URL` is unset |
 * | `GATEHOUSE_RATE_LIMIT_COUNTERS` | `memory` (SQLite), `shared` (PostgreSQL) | where the OAuth endpoints' request counters live. SQLite: `memory` in the server process (counts per process, no write per request), `database` in the file (shared by several processes on it, a write per hit). PostgreSQL, always shared by every instance through the database: `shared` counts in each instance and adds its hits in one statement per flush interval (other instances' hits seen up to one interval late), `database` writes every hit (exact: one round trip for the address, one more for the client once authenticated) |
 * | `GATEHOUSE_RATE_LIMIT_FLUSH_INTERVAL_MS` | `250` | PostgreSQL with `shared` counters: milliseconds between an instance's flushes of its hits (10 to 60000): how late other instances' hits may be seen |
 * | `GATEHOUSE_CLEANUP_INTERVAL_SECONDS` | `60` | how often each instance deletes expired rows (storage.ts `cleanup`); `0` turns it off |
 * | `GATEHOUSE_CLEANUP_BATCH_SIZE` | `500` | rows per delete statement of that cleanup |
 * | `GATEHOUSE_TOKEN_KEY` | generated and kept in the database in development; required otherwise | base64url, ≥ 32 bytes |
 * | `GATEHOUSE_API_AUDIENCE` | `http://localhost:3001` | `aud` of access tokens |
 * | `GATEHOUSE_ACCESS_TOKEN_FORMAT` | `opaque` | `opaque`, or `jwt` (RFC 9068) for resource servers that validate locally |
 * | `GATEHOUSE_BRAND_NAME` | `Gatehouse` | brand shown on pages |
 * | `GATEHOUSE_URN_NAMESPACE` | `gatehouse` | URN namespace |
 * | `GATEHOUSE_TRUST_PROXY` | unset | Fastify `trustProxy` (e.g. `127.0.0.1`) for TLS-terminating proxies |
 * | `GATEHOUSE_AUDIT_RETENTION_DAYS` | unset (keep forever) | the cleanup deletes audit events older than this many days |
 * | `GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_DAYS` | `30` | the cleanup deletes delivered and given-up webhook deliveries older than this many days (1..3650; issue 15 §5) |
 * | `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES` | `false` | `true` in staging: partner webhooks may name and reach loopback, private and link-local addresses, as in development; refused in production (webhooks/webhook-secret.ts privateWebhookTargetsAllowed) |
 * | `GATEHOUSE_METRICS_PORT` | unset | serve Prometheus metrics on this port (no authentication) instead of `GET /metrics` with an administrator token |
 * | `GATEHOUSE_AUDIT_STREAM` | unset | `stdout` or `file:/absolute/path`: every audit event, once recorded, also as a JSON line (operations/audit-stream.ts) |
 * | `GATEHOUSE_SHUTDOWN_GRACE_SECONDS` | `10` | on SIGTERM, how long requests in flight may take to finish (operations/shutdown.ts) |
 * | `GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS` | `30` | refresh-token reuse grace window, 0..120 s; `0` turns it off (SPEC decision 8) |
 * | `GATEHOUSE_SMTP_URL` | unset | `smtp://` or `smtps://` URL for password-reset e-mails; unset in development: printed to the console |
 * | `GATEHOUSE_MAIL_FROM` | `Gatehouse <no-reply@localhost>` | From address of those e-mails |
 * | `GATEHOUSE_REQUIRE_SECOND_FACTOR` | `none` | `administrators`: users who administer any subject must enrol TOTP at sign-in |
 * | `GATEHOUSE_REQUIRE_PAR` | `false` | `true` refuses authorization requests that do not come through /oauth/par (RFC 9126 §5; options.ts `requirePushedAuthorizationRequests`) |
 * | `GATEHOUSE_DPOP_NONCE_REQUIRED` | `false` | `true`: DPoP proofs at the token endpoint must carry a server nonce (RFC 9449 §8; options.ts `dpopNonceRequired`) |
 * | `GATEHOUSE_UPSTREAM_ISSUER` | unset | the platform's OpenID Provider (issue 10 §2); with it `GATEHOUSE_UPSTREAM_CLIENT_ID`, `GATEHOUSE_UPSTREAM_CLIENT_SECRET` and `GATEHOUSE_UPSTREAM_NAME` are required |
 * | `GATEHOUSE_UPSTREAM_SCOPE` | `openid email profile` | scopes asked of the upstream provider |
 * | `GATEHOUSE_LOCAL_PASSWORDS` | `on` | `off`: no e-mail and password login, everyone signs in through the upstream provider |
 * | `GATEHOUSE_TEAM_INVITATIONS_PER_HOUR` | `20` | partner-team invitations one team may send in an hour, 1 to 1000 (options.ts `teamInvitationsPerHour`); there is no unlimited |
 * | `GATEHOUSE_OAUTH_RATE_LIMIT` | `1000,2000,10` | requests per client, per address, window seconds at the token, revocation and introspection endpoints (options.ts `oauthEndpointRateLimit`); `off` turns the limits off |
 *
 * The database is migrated on every start (and by `gatehouse migrate`); on PostgreSQL that is safe when
 * instances start together. The cleanup runs in every instance at once without harm: each run takes
 * only rows no other run holds. `gatehouse cleanup` runs it by hand.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { parseAuditStreamSetting, type AuditStreamTarget } from './operations/audit-stream.ts';
import { DEFAULT_TEAM_INVITATIONS_PER_HOUR, MAX_TEAM_INVITATIONS_PER_HOUR, type Environment, type LocalAccountOptions, type OAuthEndpointRateLimit, type UpstreamIdentityProvider } from './options.ts';
import type { RateLimitCounters } from './storage/sqlite/sqlite-storage.ts';
import type { PostgresRateLimitCounters } from './storage/postgres/postgres-storage.ts';

/**
 * Which backend holds the data: SQLite for one machine, PostgreSQL for several instances. SQLite's
 * `rateLimitCounters` is `GATEHOUSE_RATE_LIMIT_COUNTERS` when set (unset: `memory`, sqlite-storage.ts);
 * PostgreSQL's is `shared` unless it is `database` (postgres-storage.ts).
 */
export type DatabaseConfiguration =
  | { kind: 'sqlite'; path: string; rateLimitCounters?: RateLimitCounters }
  | {
    kind: 'postgres'; url: string; schema: string | undefined; poolSize: number; clientCacheEntries: number; statementTimeoutMillis: number;
    /** What DATABASE_URL reaches (postgres-storage.ts `pooler`). */
    pooler: 'none' | 'transaction';
    rateLimitCounters: PostgresRateLimitCounters; rateLimitFlushIntervalMs: number;
  };

export interface Configuration {
  environment: Environment;
  port: number;
  host: string;
  issuer: string;
  /** The SQLite file (`GATEHOUSE_DATABASE`); unused when `database` is PostgreSQL. */
  databasePath: string;
  database: DatabaseConfiguration;
  /**
   * The periodic cleanup of expired rows in each instance; `intervalSeconds` 0 = off. `auditRetentionSeconds`
   * (issue 14): audit events older than it are deleted too; undefined keeps them forever.
   */
  cleanup: { intervalSeconds: number; batchSize: number; auditRetentionSeconds?: number;
    /** Issue 15 §5: finished webhook deliveries older than it are deleted; default 30 days. */
    webhookDeliveryRetentionSeconds?: number };
  tokenKey: Buffer | undefined;
  apiAudience: string;
  /** See AuthorizationServerOptions.accessTokenFormat. */
  accessTokenFormat: 'opaque' | 'jwt';
  brandName: string;
  urnNamespace: string;
  trustProxy: string | undefined;
  /** Issue 14: on SIGTERM, seconds requests in flight may take before their connections are cut; 0 = at once. */
  shutdownGraceSeconds: number;
  /** Issue 14: Prometheus metrics on their own port (unauthenticated); undefined = `GET /metrics` for administrator tokens. */
  metricsPort: number | undefined;
  /** Issue 14: `GATEHOUSE_AUDIT_STREAM`, where audit events are streamed as JSON lines; undefined = not streamed. */
  auditStream: AuditStreamTarget | undefined;
  /** See AuthorizationServerOptions.refreshTokenReuseGraceSeconds. */
  refreshTokenReuseGraceSeconds: number;
  /** `GATEHOUSE_TEAM_INVITATIONS_PER_HOUR`: see AuthorizationServerOptions.teamInvitationsPerHour. */
  teamInvitationsPerHour: number;
  /** `GATEHOUSE_OAUTH_RATE_LIMIT`: the limits, `false` (off), or undefined for the defaults of options.ts. */
  oauthEndpointRateLimit: OAuthEndpointRateLimit | false | undefined;
  /** Issue 10 §3: `GATEHOUSE_SMTP_URL`, `GATEHOUSE_MAIL_FROM`, `GATEHOUSE_REQUIRE_SECOND_FACTOR` (options.ts LocalAccountOptions). */
  localAccounts: LocalAccountOptions;
  /** `GATEHOUSE_REQUIRE_PAR`: see AuthorizationServerOptions.requirePushedAuthorizationRequests. */
  requirePushedAuthorizationRequests: boolean;
  /** `GATEHOUSE_DPOP_NONCE_REQUIRED`: see AuthorizationServerOptions.dpopNonceRequired. */
  dpopNonceRequired?: boolean;
  /** `GATEHOUSE_UPSTREAM_*` and `GATEHOUSE_LOCAL_PASSWORDS`: the upstream OpenID Provider, or null. */
  upstreamIdentityProvider: UpstreamIdentityProvider | null;
  /** `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES`: see AuthorizationServerOptions.webhookAllowPrivateAddresses. */
  webhookAllowPrivateAddresses: boolean;
}

/**
 * Issue 14: every problem of a configuration at once, one message each (what, the value with secrets
 * masked, what is allowed). `problems` holds them; `message` lists them one a line.
 */
export class ConfigurationError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(problems.length === 1 ? problems[0]! : `${problems.length} configuration problems:\n${problems.map((problem) => `- ${problem}`).join('\n')}`);
    this.name = 'ConfigurationError';
    this.problems = problems;
  }
}

/**
 * Reads and validates every variable.
 * @throws ConfigurationError listing every problem found (not just the first).
 */
export function loadConfiguration(env: NodeJS.ProcessEnv = process.env): Configuration {
  const problems: string[] = [];
  const environment = (env.GATEHOUSE_ENV ?? 'development') as Environment;
  if (!['development', 'staging', 'production'].includes(environment)) {
    problems.push(`GATEHOUSE_ENV must be development, staging or production (got ${shown(environment)})`);
  }
  const port = integerSetting(env, 'PORT', 3000, 0, 65535, problems, 'a port number (0 to 65535)');
  const issuer = env.GATEHOUSE_ISSUER ?? (environment === 'development' ? `http://localhost:${port}` : undefined);
  if (!issuer) problems.push(`GATEHOUSE_ISSUER is required in ${environment} (an https URL without query, fragment or trailing "/")`);
  else problems.push(...issuerProblems(issuer, environment, env.GATEHOUSE_ISSUER !== undefined));
  let tokenKey: Buffer | undefined;
  if (env.GATEHOUSE_TOKEN_KEY !== undefined) {
    // The value is a secret: its length is shown, never the value.
    tokenKey = Buffer.from(env.GATEHOUSE_TOKEN_KEY, 'base64url');
    if (!/^[A-Za-z0-9_-]+$/.test(env.GATEHOUSE_TOKEN_KEY) || tokenKey.length < 32) {
      problems.push(`GATEHOUSE_TOKEN_KEY must be base64url of 32 or more random bytes (got ${maskedSecret(env.GATEHOUSE_TOKEN_KEY)}); make one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`);
    }
  } else if (environment !== 'development') {
    // Issue 14: production and staging refuse the development default (a key generated and kept in the database).
    problems.push(`GATEHOUSE_TOKEN_KEY is required in ${environment} (32+ random bytes, base64url): the generated development key is refused`);
  }
  const databasePath = env.GATEHOUSE_DATABASE ?? './data/gatehouse.sqlite';
  // SPEC decision 18's counters need no durability: SQLite keeps them in memory unless several processes share
  // the file; PostgreSQL instances share them, by default without a round trip per request (issue 12).
  const rateLimitCounters = env.GATEHOUSE_RATE_LIMIT_COUNTERS || undefined;
  if (rateLimitCounters !== undefined && rateLimitCounters !== 'memory' && rateLimitCounters !== 'database' && rateLimitCounters !== 'shared') {
    problems.push(`GATEHOUSE_RATE_LIMIT_COUNTERS must be memory, database or shared (got ${shown(rateLimitCounters)})`);
  }
  let database: DatabaseConfiguration = {
    kind: 'sqlite', path: databasePath, ...(rateLimitCounters === 'memory' || rateLimitCounters === 'database' ? { rateLimitCounters } : {}),
  };
  if (!env.DATABASE_URL && rateLimitCounters === 'shared') {
    problems.push('GATEHOUSE_RATE_LIMIT_COUNTERS=shared is for PostgreSQL only: on SQLite use memory (one server process per file) or database');
  }
  if (env.DATABASE_URL) {
    if (rateLimitCounters === 'memory') {
      problems.push('GATEHOUSE_RATE_LIMIT_COUNTERS=memory is for SQLite only: PostgreSQL instances share their counters in the database (shared or database)');
    }
    // Never echoed: it may hold a password.
    if (!/^postgres(ql)?:\/\//.test(env.DATABASE_URL)) problems.push('DATABASE_URL must be a postgres:// or postgresql:// URL (value not shown: it may hold a password)');
    else if (!URL.canParse(env.DATABASE_URL)) problems.push('DATABASE_URL is not a well-formed URL: check its port and percent-encode special characters in the user name and password (value not shown: it may hold a password)');
    database = {
      kind: 'postgres', url: env.DATABASE_URL, schema: env.GATEHOUSE_DATABASE_SCHEMA || undefined,
      poolSize: integerSetting(env, 'GATEHOUSE_DATABASE_POOL_SIZE', 10, 1, 1000, problems),
      clientCacheEntries: integerSetting(env, 'GATEHOUSE_CLIENT_CACHE_ENTRIES', 10_000, 0, 1_000_000, problems),
      statementTimeoutMillis: integerSetting(env, 'GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS', 10_000, 0, 600_000, problems),
      pooler: env.GATEHOUSE_DATABASE_POOLER === 'transaction' ? 'transaction' : 'none',
      rateLimitCounters: rateLimitCounters === 'database' ? 'database' : 'shared',
      rateLimitFlushIntervalMs: integerSetting(env, 'GATEHOUSE_RATE_LIMIT_FLUSH_INTERVAL_MS', 250, 10, 60_000, problems),
    };
    if (env.GATEHOUSE_DATABASE_POOLER !== undefined && env.GATEHOUSE_DATABASE_POOLER !== '' && !['none', 'transaction'].includes(env.GATEHOUSE_DATABASE_POOLER)) {
      problems.push(`GATEHOUSE_DATABASE_POOLER must be none or transaction (got ${shown(env.GATEHOUSE_DATABASE_POOLER)})`);
    }
    if (database.pooler === 'transaction' && env.GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS !== undefined && env.GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS !== '') {
      problems.push('GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS cannot be applied behind a transaction pooler (GATEHOUSE_DATABASE_POOLER=transaction): set statement_timeout for the role (ALTER ROLE <user> SET statement_timeout = \'10s\') or in the pooler, and unset it');
    }
    if (database.pooler === 'transaction' && env.GATEHOUSE_CLIENT_CACHE_ENTRIES !== undefined && env.GATEHOUSE_CLIENT_CACHE_ENTRIES !== '' && env.GATEHOUSE_CLIENT_CACHE_ENTRIES !== '0') {
      problems.push('GATEHOUSE_CLIENT_CACHE_ENTRIES must be 0 or unset behind a transaction pooler (GATEHOUSE_DATABASE_POOLER=transaction): the cache is kept fresh by LISTEN, which a transaction pooler does not keep');
    }
    if (database.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(database.schema)) {
      problems.push(`GATEHOUSE_DATABASE_SCHEMA must be a lowercase identifier (letters, digits, "_"; got ${shown(database.schema)})`);
    }
  }
  const cleanup = {
    intervalSeconds: integerSetting(env, 'GATEHOUSE_CLEANUP_INTERVAL_SECONDS', 60, 0, 86_400, problems),
    batchSize: integerSetting(env, 'GATEHOUSE_CLEANUP_BATCH_SIZE', 500, 1, 100_000, problems),
    ...(env.GATEHOUSE_AUDIT_RETENTION_DAYS
      ? { auditRetentionSeconds: integerSetting(env, 'GATEHOUSE_AUDIT_RETENTION_DAYS', 0, 1, 36_500, problems, 'a whole number of days from 1 to 36500 (unset keeps audit events forever)') * 86_400 }
      : {}),
    // Issue 15 §5: unset leaves the cleanup job's default (30 days, storage/cleanup-job.ts).
    ...(env.GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_DAYS
      ? { webhookDeliveryRetentionSeconds: integerSetting(env, 'GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_DAYS', 30, 1, 3650, problems) * 86_400 }
      : {}),
  };
  const accessTokenFormat = env.GATEHOUSE_ACCESS_TOKEN_FORMAT ?? 'opaque';
  if (accessTokenFormat !== 'opaque' && accessTokenFormat !== 'jwt') problems.push(`GATEHOUSE_ACCESS_TOKEN_FORMAT must be opaque or jwt (got ${shown(accessTokenFormat)})`);
  const apiAudience = env.GATEHOUSE_API_AUDIENCE ?? 'http://localhost:3001';
  if (!URL.canParse(apiAudience)) problems.push(`GATEHOUSE_API_AUDIENCE must be an absolute URL (got ${shown(apiAudience)})`);
  const urnNamespace = env.GATEHOUSE_URN_NAMESPACE ?? 'gatehouse';
  if (!/^[a-z][a-z0-9-]*$/.test(urnNamespace)) problems.push(`GATEHOUSE_URN_NAMESPACE must be lowercase letters, digits and "-", starting with a letter (got ${shown(urnNamespace)})`);
  const brandName = env.GATEHOUSE_BRAND_NAME ?? 'Gatehouse';
  if (brandName.trim() === '' || brandName.length > 100) problems.push(`GATEHOUSE_BRAND_NAME must be 1 to 100 characters (got ${shown(brandName)})`);
  const shutdownGraceSeconds = integerSetting(env, 'GATEHOUSE_SHUTDOWN_GRACE_SECONDS', 10, 0, 3600, problems);
  // SPEC decision 8: the refresh-token reuse grace window.
  const refreshTokenReuseGraceSeconds = integerSetting(env, 'GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS', 30, 0, 120, problems, 'a whole number of seconds from 0, at most 120 (SPEC decision 8)');
  // Issue 13 "Partner teams": bounded, never off (each invitation may create a directory user and e-mails any address).
  const teamInvitationsPerHour = integerSetting(env, 'GATEHOUSE_TEAM_INVITATIONS_PER_HOUR', DEFAULT_TEAM_INVITATIONS_PER_HOUR, 1, MAX_TEAM_INVITATIONS_PER_HOUR, problems,
    `a whole number of invitations from 1 to ${MAX_TEAM_INVITATIONS_PER_HOUR} (there is no unlimited)`);
  const metricsPort = env.GATEHOUSE_METRICS_PORT ? integerSetting(env, 'GATEHOUSE_METRICS_PORT', 0, 1, 65535, problems, 'a port number (1 to 65535)') : undefined;
  if (metricsPort !== undefined && metricsPort === port) problems.push(`GATEHOUSE_METRICS_PORT must differ from PORT (both ${port})`);
  if (env.GATEHOUSE_TRUST_PROXY && !trustsOnlyAddresses(env.GATEHOUSE_TRUST_PROXY)) {
    problems.push(`GATEHOUSE_TRUST_PROXY must be proxy addresses, comma-separated: IPs, CIDR ranges (10.0.0.0/8), or loopback, linklocal, uniquelocal (got ${shown(env.GATEHOUSE_TRUST_PROXY)})`);
  }
  const auditStream = env.GATEHOUSE_AUDIT_STREAM ? parseAuditStreamSetting(env.GATEHOUSE_AUDIT_STREAM) : undefined;
  if (auditStream && 'problem' in auditStream) problems.push(auditStream.problem);
  // Each of these settings' parsers throws its one problem: listed with the others (one line each, exit 2).
  const setting = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch (error) {
      problems.push((error as Error).message);
      return undefined;
    }
  };
  const oauthRateLimit = setting(() => oauthEndpointRateLimit(env.GATEHOUSE_OAUTH_RATE_LIMIT));
  const localAccountOptions = setting(() => localAccounts(env));
  const requirePar = setting(() => requirePushedAuthorizationRequests(env.GATEHOUSE_REQUIRE_PAR));
  const upstream = setting(() => upstreamIdentityProvider(env, environment));
  const dpopNonce = setting(() => dpopNonceRequired(env.GATEHOUSE_DPOP_NONCE_REQUIRED));
  const webhookPrivate = setting(() => webhookAllowPrivateAddresses(env.GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES, environment));
  if (problems.length > 0) throw new ConfigurationError(problems);
  return {
    environment,
    port,
    host: env.HOST ?? (environment === 'development' ? 'localhost' : '0.0.0.0'),
    issuer: issuer!,
    databasePath,
    database,
    cleanup,
    tokenKey,
    apiAudience,
    accessTokenFormat: accessTokenFormat as Configuration['accessTokenFormat'],
    brandName,
    urnNamespace,
    trustProxy: env.GATEHOUSE_TRUST_PROXY,
    shutdownGraceSeconds,
    metricsPort,
    auditStream: auditStream as AuditStreamTarget | undefined,
    refreshTokenReuseGraceSeconds,
    oauthEndpointRateLimit: oauthRateLimit,
    teamInvitationsPerHour,
    localAccounts: localAccountOptions!,
    requirePushedAuthorizationRequests: requirePar!,
    upstreamIdentityProvider: upstream!,
    dpopNonceRequired: dpopNonce!,
    webhookAllowPrivateAddresses: webhookPrivate!,
  };
}

/**
 * What Fastify's `trustProxy` (proxy-addr) takes as a list: IP addresses, CIDR ranges (a prefix length, or an
 * IPv4 netmask), and its names `loopback`, `linklocal`, `uniquelocal`. Anything else made it throw at start.
 */
function trustsOnlyAddresses(value: string): boolean {
  return value.split(',').map((entry) => entry.trim()).every((entry) => {
    if (entry === 'loopback' || entry === 'linklocal' || entry === 'uniquelocal') return true;
    const [address = '', range, extra] = entry.split('/');
    const family = isIP(address);
    if (family === 0 || extra !== undefined) return false;
    if (range === undefined) return true;
    return (/^\d{1,3}$/.test(range) && Number(range) <= (family === 4 ? 32 : 128)) || (family === 4 && isIP(range) === 4);
  });
}

/** SPEC decision 17 and RFC 8414 §2: the issuer's problems (production refuses an http issuer). */
function issuerProblems(issuer: string, environment: Environment, fromEnvironment: boolean): string[] {
  if (!URL.canParse(issuer)) return [`GATEHOUSE_ISSUER must be an absolute URL (got ${shown(issuer)})`];
  const url = new URL(issuer);
  const problems: string[] = [];
  if (environment !== 'development' && url.protocol !== 'https:') problems.push(`GATEHOUSE_ISSUER must be https in ${environment} (got ${shown(issuer)})`);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') problems.push(`GATEHOUSE_ISSUER must be an http(s) URL (got ${shown(issuer)})`);
  if (fromEnvironment && (url.search || url.hash || issuer.endsWith('/'))) {
    problems.push(`GATEHOUSE_ISSUER must have no query, fragment or trailing "/" (RFC 8414 §2; got ${shown(issuer)})`);
  }
  return problems;
}

/** A whole number from `min` to `max`, or `fallback` when unset or empty; a problem otherwise. */
function integerSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number, problems: string[], allowed = `a whole number from ${min} to ${max}`): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    problems.push(`${name} must be ${allowed} (got ${shown(raw)})`);
    return fallback;
  }
  return value;
}

/** A value quoted for a message, cut to 100 characters. */
const shown = (value: string) => JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
/** A secret for messages: its length only. */
const maskedSecret = (value: string) => `a value of ${value.length} characters, not shown`;

/**
 * Issue 14, `gatehouse config check`: the effective configuration as name/value rows, secrets masked (the
 * token key shows only whether it is set and its length; the database URL loses its password).
 */
export function describeConfiguration(configuration: Configuration): Array<[string, string]> {
  return [
    ['GATEHOUSE_ENV', configuration.environment],
    ['PORT', String(configuration.port)],
    ['HOST', configuration.host],
    ['GATEHOUSE_ISSUER', configuration.issuer],
    ['database', `${configuration.database.kind} ${describeDatabase(configuration.database)}`],
    ...(configuration.database.kind === 'sqlite' ? [
      ['GATEHOUSE_RATE_LIMIT_COUNTERS', configuration.database.rateLimitCounters === 'database'
        ? 'database (shared by every process on the file; a write per request)' : 'memory (this process only; nothing written)'] as [string, string],
    ] : []),
    ...(configuration.database.kind === 'postgres' ? [
      ['GATEHOUSE_RATE_LIMIT_COUNTERS', configuration.database.rateLimitCounters === 'database'
        ? 'database (shared by every instance; a write per request)'
        : `shared (every instance's hits added to the database every ${configuration.database.rateLimitFlushIntervalMs} ms; other instances' hits seen up to that late)`] as [string, string],
      ...(configuration.database.rateLimitCounters === 'shared' ? [['GATEHOUSE_RATE_LIMIT_FLUSH_INTERVAL_MS', String(configuration.database.rateLimitFlushIntervalMs)] as [string, string]] : []),
      ['GATEHOUSE_DATABASE_POOL_SIZE', String(configuration.database.poolSize)] as [string, string],
      ['GATEHOUSE_DATABASE_POOLER', configuration.database.pooler === 'transaction'
        ? 'transaction (a pooler in transaction mode: search_path and statement_timeout are the role\'s or the pooler\'s, checked at start; no named statements, no LISTEN)'
        : 'none (PostgreSQL itself, or a pooler in session mode)'] as [string, string],
      ['GATEHOUSE_CLIENT_CACHE_ENTRIES', configuration.database.clientCacheEntries === 0 || configuration.database.pooler === 'transaction' ? '0 (client records and the resource catalogue read from the database every time)' : String(configuration.database.clientCacheEntries)] as [string, string],
      ...(configuration.database.pooler === 'transaction' ? [] : [['GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS', configuration.database.statementTimeoutMillis === 0 ? '0 (statements may run as long as they like)' : String(configuration.database.statementTimeoutMillis)] as [string, string]]),
    ] : []),
    ['GATEHOUSE_CLEANUP_INTERVAL_SECONDS', String(configuration.cleanup.intervalSeconds)],
    ['GATEHOUSE_CLEANUP_BATCH_SIZE', String(configuration.cleanup.batchSize)],
    ['GATEHOUSE_AUDIT_RETENTION_DAYS', configuration.cleanup.auditRetentionSeconds === undefined ? 'unset (audit events kept forever)' : String(configuration.cleanup.auditRetentionSeconds / 86_400)],
    ['GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_DAYS', String((configuration.cleanup.webhookDeliveryRetentionSeconds ?? 30 * 86_400) / 86_400)],
    ['GATEHOUSE_TOKEN_KEY', configuration.tokenKey ? `set (${configuration.tokenKey.length} bytes, not shown)` : 'unset (development: generated and kept in the database)'],
    ['GATEHOUSE_API_AUDIENCE', configuration.apiAudience],
    ['GATEHOUSE_ACCESS_TOKEN_FORMAT', configuration.accessTokenFormat],
    ['GATEHOUSE_BRAND_NAME', configuration.brandName],
    ['GATEHOUSE_URN_NAMESPACE', configuration.urnNamespace],
    ['GATEHOUSE_TRUST_PROXY', configuration.trustProxy ?? 'unset'],
    ['GATEHOUSE_SHUTDOWN_GRACE_SECONDS', String(configuration.shutdownGraceSeconds)],
    ['GATEHOUSE_METRICS_PORT', configuration.metricsPort === undefined ? 'unset (GET /metrics with an administrator token)' : String(configuration.metricsPort)],
    ['GATEHOUSE_AUDIT_STREAM', configuration.auditStream === undefined ? 'unset' : configuration.auditStream.kind === 'stdout' ? 'stdout' : `file:${configuration.auditStream.path}`],
    ['GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS', String(configuration.refreshTokenReuseGraceSeconds)],
    ['GATEHOUSE_OAUTH_RATE_LIMIT', configuration.oauthEndpointRateLimit === false ? 'off'
      : configuration.oauthEndpointRateLimit === undefined ? 'unset (the defaults: 1000 per client, 2000 per address, in 10 s)'
        : `${configuration.oauthEndpointRateLimit.maxRequestsPerClient},${configuration.oauthEndpointRateLimit.maxRequestsPerAddress},${configuration.oauthEndpointRateLimit.windowSeconds}`],
    ['GATEHOUSE_TEAM_INVITATIONS_PER_HOUR', String(configuration.teamInvitationsPerHour)],
    ['GATEHOUSE_REQUIRE_PAR', String(configuration.requirePushedAuthorizationRequests)],
    ['GATEHOUSE_DPOP_NONCE_REQUIRED', String(configuration.dpopNonceRequired ?? false)],
    ['GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES', configuration.environment === 'development' ? 'development: loopback and private webhook targets allowed'
      : configuration.webhookAllowPrivateAddresses ? 'true (partner webhooks may reach loopback, private and link-local addresses)' : 'false (partner webhooks reach public addresses only)'],
    ['GATEHOUSE_REQUIRE_SECOND_FACTOR', configuration.localAccounts.requireSecondFactor ?? 'none'],
    // The SMTP URL's host only: its user name and password are secrets.
    ['GATEHOUSE_SMTP_URL', configuration.localAccounts.smtpUrl === undefined
      ? (configuration.environment === 'development' ? 'unset (e-mails printed to the console)' : 'unset (no e-mail is sent: password-reset links are not delivered; mail/mailer.ts)')
      : `set (${smtpHost(configuration.localAccounts.smtpUrl)}, credentials not shown)`],
    ['GATEHOUSE_MAIL_FROM', configuration.localAccounts.mailFrom ?? 'unset (Gatehouse <no-reply@localhost>)'],
    ...(configuration.upstreamIdentityProvider === null ? [['GATEHOUSE_UPSTREAM_ISSUER', 'unset (no sign-in through an identity provider)'] as [string, string]] : [
      ['GATEHOUSE_UPSTREAM_ISSUER', configuration.upstreamIdentityProvider.issuer] as [string, string],
      ['GATEHOUSE_UPSTREAM_CLIENT_ID', configuration.upstreamIdentityProvider.clientId] as [string, string],
      ['GATEHOUSE_UPSTREAM_CLIENT_SECRET', `set (${configuration.upstreamIdentityProvider.clientSecret.length} characters, not shown)`] as [string, string],
      ['GATEHOUSE_UPSTREAM_NAME', configuration.upstreamIdentityProvider.name] as [string, string],
      ['GATEHOUSE_UPSTREAM_SCOPE', configuration.upstreamIdentityProvider.scope ?? 'openid email profile'] as [string, string],
    ]),
    ['GATEHOUSE_LOCAL_PASSWORDS', configuration.upstreamIdentityProvider?.localPasswords === false ? 'off' : 'on'],
  ];
}

/** The host (and port) of an SMTP URL, without its credentials; `unparsable` for a value that is not a URL. */
function smtpHost(smtpUrl: string): string {
  return URL.canParse(smtpUrl) ? `${new URL(smtpUrl).protocol}//${new URL(smtpUrl).host}` : 'unparsable';
}

/** The database for messages: the SQLite path, or the PostgreSQL URL without its password. */
export function describeDatabase(database: DatabaseConfiguration): string {
  if (database.kind === 'sqlite') return database.path;
  const url = new URL(database.url);
  url.password = '';
  // pg-connection-string also takes the password (and a key's passphrase) from the query string.
  for (const name of [...url.searchParams.keys()]) if (/pass|secret|token/i.test(name)) url.searchParams.delete(name);
  return `${url.href}${database.schema ? ` (schema ${database.schema})` : ''}`;
}

/** Every variable loadConfiguration reads (`gatehouse config check` warns about other GATEHOUSE_* names: typos). */
export const CONFIGURATION_VARIABLES = [
  'GATEHOUSE_ENV', 'PORT', 'HOST', 'GATEHOUSE_ISSUER', 'DATABASE_URL', 'GATEHOUSE_DATABASE_SCHEMA', 'GATEHOUSE_DATABASE_POOL_SIZE', 'GATEHOUSE_CLIENT_CACHE_ENTRIES', 'GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS', 'GATEHOUSE_DATABASE_POOLER',
  'GATEHOUSE_DATABASE', 'GATEHOUSE_RATE_LIMIT_COUNTERS', 'GATEHOUSE_RATE_LIMIT_FLUSH_INTERVAL_MS', 'GATEHOUSE_CLEANUP_INTERVAL_SECONDS', 'GATEHOUSE_CLEANUP_BATCH_SIZE', 'GATEHOUSE_TOKEN_KEY', 'GATEHOUSE_API_AUDIENCE',
  'GATEHOUSE_ACCESS_TOKEN_FORMAT', 'GATEHOUSE_BRAND_NAME', 'GATEHOUSE_URN_NAMESPACE', 'GATEHOUSE_TRUST_PROXY', 'GATEHOUSE_SHUTDOWN_GRACE_SECONDS',
  'GATEHOUSE_METRICS_PORT', 'GATEHOUSE_AUDIT_RETENTION_DAYS', 'GATEHOUSE_AUDIT_STREAM',
  'GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_DAYS', 'GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES', 'GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS', 'GATEHOUSE_OAUTH_RATE_LIMIT', 'GATEHOUSE_TEAM_INVITATIONS_PER_HOUR', 'GATEHOUSE_REQUIRE_PAR',
  'GATEHOUSE_DPOP_NONCE_REQUIRED', 'GATEHOUSE_SMTP_URL', 'GATEHOUSE_MAIL_FROM', 'GATEHOUSE_REQUIRE_SECOND_FACTOR', 'GATEHOUSE_LOCAL_PASSWORDS',
  'GATEHOUSE_UPSTREAM_ISSUER', 'GATEHOUSE_UPSTREAM_CLIENT_ID', 'GATEHOUSE_UPSTREAM_CLIENT_SECRET', 'GATEHOUSE_UPSTREAM_NAME', 'GATEHOUSE_UPSTREAM_SCOPE',
  // Read by scripts/start.ts, the test harness, or (OTEL_*) the OpenTelemetry exporter, not by loadConfiguration.
  'GATEHOUSE_LOG', 'GATEHOUSE_TEST_DATABASE_URL', 'GATEHOUSE_TEST_REDIS_URL',
  // Read by the partner side (gatehouse-connect and the example partner app; README "The SDK, the
  // `gatehouse-connect` CLI and the example partner app"), which a shell may hold beside the server's settings.
  'GATEHOUSE_CLIENT_ID', 'GATEHOUSE_CLIENT_SECRET', 'GATEHOUSE_API_URL', 'GATEHOUSE_REDIRECT_URI', 'GATEHOUSE_SCOPE',
  'GATEHOUSE_CONNECT_DIR', 'GATEHOUSE_CONNECT_ENCRYPTION_KEYS',
];

/** A fresh token key, base64url. */
export const generateTokenKey = () => randomBytes(32).toString('base64url');

/**
 * Issue 10 §2: the upstream OpenID Provider from `GATEHOUSE_UPSTREAM_*`, or null without
 * `GATEHOUSE_UPSTREAM_ISSUER`. The https rule is checked by options.ts.
 * @throws Error naming the missing variable, or a `GATEHOUSE_LOCAL_PASSWORDS` other than on/off (off needs an upstream).
 */
function upstreamIdentityProvider(env: NodeJS.ProcessEnv, environment: string): UpstreamIdentityProvider | null {
  const localPasswords = env.GATEHOUSE_LOCAL_PASSWORDS ?? 'on';
  if (localPasswords !== 'on' && localPasswords !== 'off') throw new Error('GATEHOUSE_LOCAL_PASSWORDS must be on or off');
  if (!env.GATEHOUSE_UPSTREAM_ISSUER) {
    if (localPasswords === 'off') throw new Error('GATEHOUSE_LOCAL_PASSWORDS=off needs GATEHOUSE_UPSTREAM_ISSUER (else no one could sign in)');
    return null;
  }
  const required = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`${name} is required with GATEHOUSE_UPSTREAM_ISSUER`);
    return value;
  };
  // The start's own checks (options.ts checkUpstreamIdentityProvider), said here with the variables' names.
  const issuer = env.GATEHOUSE_UPSTREAM_ISSUER;
  const issuerUrl = URL.canParse(issuer) ? new URL(issuer) : undefined;
  if (!issuerUrl) throw new Error(`GATEHOUSE_UPSTREAM_ISSUER must be an absolute URL (got ${shown(issuer)})`);
  if (issuerUrl.protocol !== 'https:' && !(environment === 'development' && issuerUrl.protocol === 'http:')) {
    throw new Error(`GATEHOUSE_UPSTREAM_ISSUER must be https in ${environment} (got ${shown(issuer)}; a private CA is trusted through NODE_EXTRA_CA_CERTS)`);
  }
  const scope = env.GATEHOUSE_UPSTREAM_SCOPE || 'openid email profile';
  if (!scope.split(' ').includes('openid')) throw new Error(`GATEHOUSE_UPSTREAM_SCOPE must include openid (OpenID Connect Core §3.1.2.1; got ${shown(scope)})`);
  return {
    issuer,
    clientId: required('GATEHOUSE_UPSTREAM_CLIENT_ID'),
    clientSecret: required('GATEHOUSE_UPSTREAM_CLIENT_SECRET'),
    name: required('GATEHOUSE_UPSTREAM_NAME'),
    scope,
    localPasswords: localPasswords === 'on',
  };
}

/** Issue 10 §3: mail delivery and the second-factor policy of local accounts. */
function localAccounts(env: NodeJS.ProcessEnv): LocalAccountOptions {
  const smtpUrl = env.GATEHOUSE_SMTP_URL || undefined;
  if (smtpUrl && !/^smtps?:\/\//.test(smtpUrl)) throw new Error('GATEHOUSE_SMTP_URL must be an smtp:// or smtps:// URL');
  const requireSecondFactor = env.GATEHOUSE_REQUIRE_SECOND_FACTOR || 'none';
  if (requireSecondFactor !== 'none' && requireSecondFactor !== 'administrators') throw new Error('GATEHOUSE_REQUIRE_SECOND_FACTOR must be none or administrators');
  return { ...(smtpUrl ? { smtpUrl } : {}), ...(env.GATEHOUSE_MAIL_FROM ? { mailFrom: env.GATEHOUSE_MAIL_FROM } : {}), requireSecondFactor };
}

/** `off`, or `<per client>,<per address>,<window seconds>` (whole numbers of 1 or more); unset or empty: the defaults. */
function oauthEndpointRateLimit(raw: string | undefined): OAuthEndpointRateLimit | false | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  if (raw.trim() === 'off') return false;
  const values = raw.split(',').map((part) => Number(part.trim()));
  if (values.length !== 3 || values.some((value) => !Number.isSafeInteger(value) || value < 1)) {
    throw new Error('GATEHOUSE_OAUTH_RATE_LIMIT must be "off" or "<per client>,<per address>,<window seconds>", whole numbers of 1 or more (e.g. 1000,2000,10)');
  }
  const [maxRequestsPerClient, maxRequestsPerAddress, windowSeconds] = values as [number, number, number];
  return { windowSeconds, maxRequestsPerClient, maxRequestsPerAddress };
}

/** `GATEHOUSE_REQUIRE_PAR`: `true` or `false` (default false). */
function requirePushedAuthorizationRequests(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  throw new Error('GATEHOUSE_REQUIRE_PAR must be true or false');
}

/**
 * `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES`: `true` or `false` (default false). `true` is refused in production:
 * there partner webhooks reach public addresses only, with no way around it (an SSRF into the platform's network).
 */
function webhookAllowPrivateAddresses(value: string | undefined, environment: string): boolean {
  if (value === undefined || value === '' || value === 'false') return false;
  if (value !== 'true') throw new Error(`GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES must be true or false (got ${shown(value)})`);
  if (environment === 'production') {
    throw new Error('GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true is refused in production: partner webhooks there reach public addresses only (loopback, private, link-local and metadata addresses never); unset it');
  }
  return true;
}

/** `GATEHOUSE_DPOP_NONCE_REQUIRED`: `true` or `false` (default false; RFC 9449 §8). */
function dpopNonceRequired(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  throw new Error('GATEHOUSE_DPOP_NONCE_REQUIRED must be true or false');
}
