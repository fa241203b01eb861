/**
 * Configuration from environment variables, for `npm start`, the CLI and deployments.
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | `GATEHOUSE_ENV` | `development` | `development`, `staging` or `production` (SPEC §2) |
 * | `PORT` | `3000` | listening port |
 * | `HOST` | `localhost` (development), `0.0.0.0` otherwise | listening address |
 * | `GATEHOUSE_ISSUER` | `http://localhost:<PORT>` in development; required otherwise | issuer URL |
 * | `GATEHOUSE_DATABASE` | `./data/gatehouse.sqlite` | SQLite file |
 * | `GATEHOUSE_TOKEN_KEY` | generated and kept in the database in development; required otherwise | base64url, ≥ 32 bytes |
 * | `GATEHOUSE_API_AUDIENCE` | `http://localhost:3001` | `aud` of access tokens |
 * | `GATEHOUSE_BRAND_NAME` | `Gatehouse` | brand shown on pages |
 * | `GATEHOUSE_URN_NAMESPACE` | `gatehouse` | URN namespace |
 * | `GATEHOUSE_TRUST_PROXY` | unset | Fastify `trustProxy` (e.g. `127.0.0.1`) for TLS-terminating proxies |
 */
import { randomBytes } from 'node:crypto';
import type { Environment } from './options.ts';

export interface Configuration {
  environment: Environment;
  port: number;
  host: string;
  issuer: string;
  databasePath: string;
  tokenKey: Buffer | undefined;
  apiAudience: string;
  brandName: string;
  urnNamespace: string;
  trustProxy: string | undefined;
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
  if (!tokenKey && environment !== 'development') throw new Error(`GATEHOUSE_TOKEN_KEY is required in ${environment} (32+ random bytes, base64url)`);
  return {
    environment,
    port,
    host: env.HOST ?? (environment === 'development' ? 'localhost' : '0.0.0.0'),
    issuer,
    databasePath: env.GATEHOUSE_DATABASE ?? './data/gatehouse.sqlite',
    tokenKey,
    apiAudience: env.GATEHOUSE_API_AUDIENCE ?? 'http://localhost:3001',
    brandName: env.GATEHOUSE_BRAND_NAME ?? 'Gatehouse',
    urnNamespace: env.GATEHOUSE_URN_NAMESPACE ?? 'gatehouse',
    trustProxy: env.GATEHOUSE_TRUST_PROXY,
  };
}

/** A fresh token key, base64url. */
export const generateTokenKey = () => randomBytes(32).toString('base64url');
