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
 * | `GATEHOUSE_BRAND_NAME` | `Gatehouse` | brand shown on pages |
 * | `GATEHOUSE_URN_NAMESPACE` | `gatehouse` | URN namespace |
 * | `GATEHOUSE_TRUST_PROXY` | unset | Fastify `trustProxy` (e.g. `127.0.0.1`) for TLS-terminating proxies |
 * | `GATEHOUSE_SHUTDOWN_GRACE_SECONDS` | `10` | on SIGTERM, how long requests in flight may take to finish (operations/shutdown.ts) |
 *
 * The database is migrated on every start (and by `gatehouse migrate`); on PostgreSQL that is safe when
 * instances start together. The cleanup runs in every instance at once without harm: each run takes
 * only rows no other run holds. `gatehouse cleanup` runs it by hand.
 */
import { randomBytes } from 'node:crypto';
import type { Environment } from './options.ts';

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
  brandName: string;
  urnNamespace: string;
  trustProxy: string | undefined;
  /** Issue 14: on SIGTERM, seconds requests in flight may take before their connections are cut; 0 = at once. */
  shutdownGraceSeconds: number;
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
    brandName: env.GATEHOUSE_BRAND_NAME ?? 'Gatehouse',
    urnNamespace: env.GATEHOUSE_URN_NAMESPACE ?? 'gatehouse',
    trustProxy: env.GATEHOUSE_TRUST_PROXY,
    shutdownGraceSeconds: positiveInteger(env, 'GATEHOUSE_SHUTDOWN_GRACE_SECONDS', 10, { allowZero: true }),
  };
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
