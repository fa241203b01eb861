import { PLATFORM_API_DEVELOPMENT_DEFAULTS, startPlatformApi } from './platform-api.ts';
import type { ValidationMode } from './platform-api.ts';

/**
 * Starts the sample platform API from the environment:
 * PLATFORM_API_PORT (3001), PLATFORM_API_HOST (localhost), GATEHOUSE_ISSUER
 * (http://localhost:3000), PLATFORM_API_AUDIENCE (http://localhost:3001),
 * PLATFORM_API_INTROSPECTION_CLIENT_ID / _SECRET (the dev-seed credentials; also the revocation
 * feed's in local mode), GATEHOUSE_URN_NAMESPACE (gatehouse),
 * PLATFORM_API_VALIDATION_MODE (`introspection`, or `local` for JWT access tokens),
 * PLATFORM_API_INTROSPECTION_CACHE_TTL_SECONDS (5, introspection mode),
 * PLATFORM_API_PUBLIC_ORIGIN (the audience's origin: where clients call the API, for DPoP proofs' htu).
 */

function validationModeFromEnv(name: string): ValidationMode {
  const raw = process.env[name];
  if (raw === undefined || raw === '' || raw === 'introspection') {
    return 'introspection';
  }
  if (raw === 'local') {
    return 'local';
  }
  throw new TypeError(`${name} must be "introspection" or "local"`);
}

function numberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new TypeError(`${name} must be a non-negative number`);
  }
  return value;
}

const env = process.env;
const validationMode = validationModeFromEnv('PLATFORM_API_VALIDATION_MODE');
const running = await startPlatformApi({
  port: numberFromEnv('PLATFORM_API_PORT', PLATFORM_API_DEVELOPMENT_DEFAULTS.port),
  host: env['PLATFORM_API_HOST'] || PLATFORM_API_DEVELOPMENT_DEFAULTS.host,
  issuer: env['GATEHOUSE_ISSUER'] || PLATFORM_API_DEVELOPMENT_DEFAULTS.issuer,
  audience: env['PLATFORM_API_AUDIENCE'] || PLATFORM_API_DEVELOPMENT_DEFAULTS.audience,
  introspectionClientId: env['PLATFORM_API_INTROSPECTION_CLIENT_ID'] || PLATFORM_API_DEVELOPMENT_DEFAULTS.introspectionClientId,
  introspectionClientSecret: env['PLATFORM_API_INTROSPECTION_CLIENT_SECRET'] || PLATFORM_API_DEVELOPMENT_DEFAULTS.introspectionClientSecret,
  urnNamespace: env['GATEHOUSE_URN_NAMESPACE'] || undefined,
  validationMode,
  introspectionCacheTtlSeconds: numberFromEnv('PLATFORM_API_INTROSPECTION_CACHE_TTL_SECONDS', 5),
  publicOrigin: env['PLATFORM_API_PUBLIC_ORIGIN'] || undefined,
  logger: true,
});
running.app.log.info({ url: running.url, validationMode }, 'platform API ready');

let stopping = false;
async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    return;
  }
  stopping = true;
  running.app.log.info({ signal }, 'platform API stopping');
  // A stuck keep-alive connection must not keep the process alive forever.
  setTimeout(() => process.exit(1), 10_000).unref();
  await running.close();
}
process.once('SIGINT', (signal) => void stop(signal));
process.once('SIGTERM', (signal) => void stop(signal));
