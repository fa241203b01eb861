/**
 * Starts the example partner app (after `npm start` runs Gatehouse and the platform API).
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | `GATEHOUSE_ENV` | `development` | also decides the cookie's Secure flag |
 * | `GATEHOUSE_ISSUER` / `GATEHOUSE_API_URL` | the development preset (`http://localhost:3000` / `:3001`) | required outside development |
 * | `PARTNER_APP_CLIENT_ID` | the dev seed's "Ledgerly Sync" in development | the registered client |
 * | `PARTNER_APP_CLIENT_SECRET` | none: required | its secret, from the environment only |
 * | `PARTNER_APP_SCOPE` | `users:read vendors:read` | scopes to request |
 * | `PARTNER_APP_PUBLIC_URL` | `http://localhost:8080` | redirect URI = this + `/callback` (registered exactly) |
 * | `PARTNER_APP_PORT` / `PARTNER_APP_HOST` | `8080` / `localhost` | where to listen |
 * | `PARTNER_APP_DATABASE` | `./data/partner-app.sqlite` | the encrypted token store |
 * | `PARTNER_APP_ENCRYPTION_KEYS` | development: a key file beside the database | `keyId:base64url,…`, current first; required outside development |
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createSqliteTokenStore, formatEncryptionKeys, generateEncryptionKey, type Environment } from '@gatehouse/client';
import { startPartnerApp } from './partner-app.ts';

const DEVELOPMENT_CLIENT_ID = '7af385a0-284d-48c5-b225-362862085551';

function fail(message: string): never {
  process.stderr.write(`partner-app: ${message}\n`);
  process.exit(2);
}

const environment = (process.env.GATEHOUSE_ENV ?? 'development') as Environment;
const development = environment === 'development';
const clientId = process.env.PARTNER_APP_CLIENT_ID ?? (development ? DEVELOPMENT_CLIENT_ID : fail('set PARTNER_APP_CLIENT_ID'));
const clientSecret = process.env.PARTNER_APP_CLIENT_SECRET
  || fail(`set PARTNER_APP_CLIENT_SECRET${development ? ' (the dev seed\'s "Ledgerly Sync" secret is in docs/dev-seed.md)' : ''}`);
const database = process.env.PARTNER_APP_DATABASE ?? './data/partner-app.sqlite';
mkdirSync(dirname(database), { recursive: true });

let encryptionKeys = process.env.PARTNER_APP_ENCRYPTION_KEYS;
if (!encryptionKeys) {
  if (!development) fail('set PARTNER_APP_ENCRYPTION_KEYS (keyId:base64url of 32 random bytes)');
  // Development only: a key file next to the database, so restarts can read what earlier runs stored.
  const keyFile = `${database}.keys`;
  if (!existsSync(keyFile)) writeFileSync(keyFile, formatEncryptionKeys([generateEncryptionKey('dev')]), { mode: 0o600 });
  encryptionKeys = readFileSync(keyFile, 'utf8').trim();
}

const port = Number(process.env.PARTNER_APP_PORT ?? 8080);
const host = process.env.PARTNER_APP_HOST ?? 'localhost';
const publicUrl = process.env.PARTNER_APP_PUBLIC_URL ?? `http://localhost:${port}`;
const running = await startPartnerApp({
  environment,
  publicUrl,
  port, host, logger: true,
  gatehouse: {
    ...(process.env.GATEHOUSE_ISSUER ? { issuer: process.env.GATEHOUSE_ISSUER } : {}),
    ...(process.env.GATEHOUSE_API_URL ? { apiUrl: process.env.GATEHOUSE_API_URL } : {}),
    clientId, clientSecret,
    scope: process.env.PARTNER_APP_SCOPE ?? 'users:read vendors:read',
    store: createSqliteTokenStore({ path: database }),
    encryptionKeys,
  },
});
// The address people open is the public one (behind a proxy outside development); where it listens, beside it.
process.stdout.write(`Partner app at ${publicUrl}, listening on ${running.url} (open it and press "Connect with Gatehouse")\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void running.close().then(() => process.exit(0)));
