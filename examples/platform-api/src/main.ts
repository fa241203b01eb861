import { platformApiOptionsFromEnvironment } from './environment.ts';
import { startPlatformApi } from './platform-api.ts';

/**
 * Starts the sample platform API from the environment (the variables and defaults of `environment.ts`, the
 * same reading `npm start` uses): PLATFORM_API_PORT, PLATFORM_API_HOST, GATEHOUSE_ISSUER, PLATFORM_API_AUDIENCE,
 * PLATFORM_API_INTROSPECTION_CLIENT_ID / _SECRET, GATEHOUSE_URN_NAMESPACE, PLATFORM_API_VALIDATION_MODE,
 * PLATFORM_API_INTROSPECTION_CACHE_TTL_SECONDS, PLATFORM_API_PUBLIC_ORIGIN.
 */
const options = platformApiOptionsFromEnvironment(process.env);
const { validationMode } = options;
const running = await startPlatformApi({ ...options, logger: true });
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
