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
 * | `GATEHOUSE_DATABASE` | `./data/gatehouse.sqlite` | SQLite file, used when `DATABASE_URL` is unset |
 * | `GATEHOUSE_CLEANUP_INTERVAL_SECONDS` | `60` | how often each instance deletes expired rows (storage.ts `cleanup`); `0` turns it off |
 * | `GATEHOUSE_CLEANUP_BATCH_SIZE` | `500` | rows per delete statement of that cleanup |
 * | `GATEHOUSE_TOKEN_KEY` | generated and kept in the database in development; required otherwise | base64url, ≥ 32 bytes |
 * | `GATEHOUSE_API_AUDIENCE` | `http://localhost:3001` | `aud` of access tokens |
 * | `GATEHOUSE_ACCESS_TOKEN_FORMAT` | `opaque` | `opaque`, or `jwt` (RFC 9068) for resource servers that validate locally |
 * | `GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS` | `30` | refresh-token reuse grace window, 0..120 s; `0` turns it off (SPEC decision 8) |
 * | `GATEHOUSE_BRAND_NAME` | `Gatehouse` | brand shown on pages |
 * | `GATEHOUSE_URN_NAMESPACE` | `gatehouse` | URN namespace |
 * | `GATEHOUSE_TRUST_PROXY` | unset | Fastify `trustProxy` (e.g. `127.0.0.1`) for TLS-terminating proxies |
 * | `GATEHOUSE_SMTP_URL` | unset | `smtp://` or `smtps://` URL for password-reset e-mails; unset in development: printed to the console |
 * | `GATEHOUSE_MAIL_FROM` | `Gatehouse <no-reply@localhost>` | From address of those e-mails |
 * | `GATEHOUSE_REQUIRE_SECOND_FACTOR` | `none` | `administrators`: users who administer any subject must enrol TOTP at sign-in |
 * | `GATEHOUSE_REQUIRE_PAR` | `false` | `true` refuses authorization requests that do not come through /oauth/par (RFC 9126 §5; options.ts `requirePushedAuthorizationRequests`) |
 * | `GATEHOUSE_UPSTREAM_ISSUER` | unset | the platform's OpenID Provider (issue 10 §2); with it `GATEHOUSE_UPSTREAM_CLIENT_ID`, `GATEHOUSE_UPSTREAM_CLIENT_SECRET` and `GATEHOUSE_UPSTREAM_NAME` are required |
 * | `GATEHOUSE_UPSTREAM_SCOPE` | `openid email profile` | scopes asked of the upstream provider |
 * | `GATEHOUSE_LOCAL_PASSWORDS` | `on` | `off`: no e-mail and password login, everyone signs in through the upstream provider |
 * | `GATEHOUSE_OAUTH_RATE_LIMIT` | `1000,2000,10` | requests per client, per address, window seconds at the token, revocation and introspection endpoints (options.ts `oauthEndpointRateLimit`); `off` turns the limits off |
 *
 * The database is migrated on every start (and by `gatehouse migrate`); on PostgreSQL that is safe when
 * instances start together. The cleanup runs in every instance at once without harm: each run takes
 * only rows no other run holds. `gatehouse cleanup` runs it by hand.
 */
import { randomBytes } from 'node:crypto';
import type { Environment, LocalAccountOptions, OAuthEndpointRateLimit, UpstreamIdentityProvider } from './options.ts';

/** Which backend holds the data: SQLite for one machine, PostgreSQL for several instances. */
export type DatabaseConfiguration =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string; schema: string | undefined; poolSize: number };

export interface Configuration {
  environment: Environment;
  port: number;
  host: string;
  issuer: string;
  /** The SQLite file (`GATEHOUSE_DATABASE`); unused when `database` is PostgreSQL. */
  databasePath: string;
  database: DatabaseConfiguration;
  /** The periodic cleanup of expired rows in each instance; `intervalSeconds` 0 = off. */
  cleanup: { intervalSeconds: number; batchSize: number };
  tokenKey: Buffer | undefined;
  apiAudience: string;
  /** See AuthorizationServerOptions.accessTokenFormat. */
  accessTokenFormat: 'opaque' | 'jwt';
  /** See AuthorizationServerOptions.refreshTokenReuseGraceSeconds. */
  refreshTokenReuseGraceSeconds: number;
  brandName: string;
  urnNamespace: string;
  trustProxy: string | undefined;
  /** `GATEHOUSE_OAUTH_RATE_LIMIT`: the limits, `false` (off), or undefined for the defaults of options.ts. */
  oauthEndpointRateLimit: OAuthEndpointRateLimit | false | undefined;
  /** Issue 10 §3: `GATEHOUSE_SMTP_URL`, `GATEHOUSE_MAIL_FROM`, `GATEHOUSE_REQUIRE_SECOND_FACTOR` (options.ts LocalAccountOptions). */
  localAccounts: LocalAccountOptions;
  /** `GATEHOUSE_REQUIRE_PAR`: see AuthorizationServerOptions.requirePushedAuthorizationRequests. */
  requirePushedAuthorizationRequests: boolean;
  /** `GATEHOUSE_UPSTREAM_*` and `GATEHOUSE_LOCAL_PASSWORDS`: the upstream OpenID Provider, or null. */
  upstreamIdentityProvider: UpstreamIdentityProvider | null;
}

export function loadConfiguration(env: NodeJS.ProcessEnv = process.env): Configuration {
  const environment = (env.GATEHOUSE_ENV ?? 'development') as Environment;
  if (!['development', 'staging', 'production'].includes(environment)) {
    throw new Error(`GATEHOUSE_ENV must be development, staging or production (got "${environment}")`);
  }
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('PORT must be a port number');
  const issuer = env.GATEHOUSE_ISSUER ?? (environment === 'development' ? `http://localhost:${port}` : undefined);
  if (!issuer) throw new Error(`GATEHOUSE_ISSUER is required in ${environment}`);
  const tokenKey = env.GATEHOUSE_TOKEN_KEY ? Buffer.from(env.GATEHOUSE_TOKEN_KEY, 'base64url') : undefined;
  const databasePath = env.GATEHOUSE_DATABASE ?? './data/gatehouse.sqlite';
  let database: DatabaseConfiguration = { kind: 'sqlite', path: databasePath };
  if (env.DATABASE_URL) {
    if (!/^postgres(ql)?:\/\//.test(env.DATABASE_URL)) throw new Error('DATABASE_URL must be a postgres:// or postgresql:// URL');
    database = {
      kind: 'postgres', url: env.DATABASE_URL, schema: env.GATEHOUSE_DATABASE_SCHEMA || undefined,
      poolSize: positiveInteger(env, 'GATEHOUSE_DATABASE_POOL_SIZE', 10),
    };
  }
  const cleanup = {
    intervalSeconds: positiveInteger(env, 'GATEHOUSE_CLEANUP_INTERVAL_SECONDS', 60, { allowZero: true }),
    batchSize: positiveInteger(env, 'GATEHOUSE_CLEANUP_BATCH_SIZE', 500),
  };
  const accessTokenFormat = env.GATEHOUSE_ACCESS_TOKEN_FORMAT ?? 'opaque';
  if (accessTokenFormat !== 'opaque' && accessTokenFormat !== 'jwt') throw new Error('GATEHOUSE_ACCESS_TOKEN_FORMAT must be opaque or jwt');
  const refreshTokenReuseGraceSeconds = positiveInteger(env, 'GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS', 30, { allowZero: true });
  if (refreshTokenReuseGraceSeconds > 120) throw new Error('GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS must be at most 120 (SPEC decision 8)');
  if (!tokenKey && environment !== 'development') throw new Error(`GATEHOUSE_TOKEN_KEY is required in ${environment} (32+ random bytes, base64url)`);
  return {
    environment,
    port,
    host: env.HOST ?? (environment === 'development' ? 'localhost' : '0.0.0.0'),
    issuer,
    databasePath,
    database,
    cleanup,
    tokenKey,
    apiAudience: env.GATEHOUSE_API_AUDIENCE ?? 'http://localhost:3001',
    accessTokenFormat,
    refreshTokenReuseGraceSeconds,
    brandName: env.GATEHOUSE_BRAND_NAME ?? 'Gatehouse',
    urnNamespace: env.GATEHOUSE_URN_NAMESPACE ?? 'gatehouse',
    trustProxy: env.GATEHOUSE_TRUST_PROXY,
    oauthEndpointRateLimit: oauthEndpointRateLimit(env.GATEHOUSE_OAUTH_RATE_LIMIT),
    localAccounts: localAccounts(env),
    requirePushedAuthorizationRequests: requirePushedAuthorizationRequests(env.GATEHOUSE_REQUIRE_PAR),
    upstreamIdentityProvider: upstreamIdentityProvider(env),
  };
}

/**
 * Issue 10 §2: the upstream OpenID Provider from `GATEHOUSE_UPSTREAM_*`, or null without
 * `GATEHOUSE_UPSTREAM_ISSUER`. The https rule is checked by options.ts.
 * @throws Error naming the missing variable, or a `GATEHOUSE_LOCAL_PASSWORDS` other than on/off (off needs an upstream).
 */
function upstreamIdentityProvider(env: NodeJS.ProcessEnv): UpstreamIdentityProvider | null {
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
  return {
    issuer: env.GATEHOUSE_UPSTREAM_ISSUER,
    clientId: required('GATEHOUSE_UPSTREAM_CLIENT_ID'),
    clientSecret: required('GATEHOUSE_UPSTREAM_CLIENT_SECRET'),
    name: required('GATEHOUSE_UPSTREAM_NAME'),
    scope: env.GATEHOUSE_UPSTREAM_SCOPE || 'openid email profile',
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

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number, { allowZero = false } = {}): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) throw new Error(`${name} must be a whole number${allowZero ? ' (0 or more)' : ' of 1 or more'}`);
  return value;
}

/** The database for messages: the SQLite path, or the PostgreSQL URL without its password. */
export function describeDatabase(database: DatabaseConfiguration): string {
  if (database.kind === 'sqlite') return database.path;
  const url = new URL(database.url);
  url.password = '';
  return `${url.href}${database.schema ? ` (schema ${database.schema})` : ''}`;
}

/** A fresh token key, base64url. */
export const generateTokenKey = () => randomBytes(32).toString('base64url');

/** `GATEHOUSE_REQUIRE_PAR`: `true` or `false` (default false). */
function requirePushedAuthorizationRequests(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  throw new Error('GATEHOUSE_REQUIRE_PAR must be true or false');
}
