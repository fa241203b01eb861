/**
 * `npm start`: the authorization server (http://localhost:3000) and the sample platform API
 * (http://localhost:3001) in the development environment, on SQLite under ./data/, with seeded
 * development data printed at start. Ctrl-C (or SIGTERM) stops both gracefully.
 */
import { ConfigurationError, exitGracefullyOnSignals, loadConfiguration, startAuthorizationServer } from '@gatehouse/authorization-server';
import { platformApiOptionsFromEnvironment, startPlatformApi, type PlatformApiEnvironmentOptions } from '@gatehouse/platform-api';

// Issue 14: a configuration problem stops the start with one line per problem and exit code 2; an operating
// problem while starting (the port taken, the database unreachable) with one line and exit code 1. Once
// started, an uncaught error is what it always was.
let starting = true;
process.on('uncaughtException', (error) => {
  if (error instanceof ConfigurationError) {
    console.error(`Gatehouse cannot start: the configuration has ${error.problems.length} problem${error.problems.length === 1 ? '' : 's'}:\n${error.problems.map((problem) => `  - ${problem}`).join('\n')}`);
    process.exit(2);
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (starting && ((typeof code === 'string' && /^E[A-Z]+$/.test(code)) || error.name === 'StorageUnavailableError' || error.name === 'PostgresPoolerConfigurationError')) {
    console.error(`Gatehouse cannot start: ${error.message}`);
    process.exit(1);
  }
  throw error;
});
const configuration = loadConfiguration();
// The platform API reads its variables as `node examples/platform-api/src/main.ts` does (one function), with
// the authorization server's issuer, URN namespace and API audience as its defaults.
let platformApiOptions: PlatformApiEnvironmentOptions;
try {
  platformApiOptions = platformApiOptionsFromEnvironment(process.env, configuration);
  if (platformApiOptions.validationMode === 'local' && configuration.accessTokenFormat !== 'jwt') {
    throw new TypeError('PLATFORM_API_VALIDATION_MODE=local needs GATEHOUSE_ACCESS_TOKEN_FORMAT=jwt (opaque tokens can only be introspected)');
  }
} catch (error) {
  console.error(`Gatehouse cannot start: ${(error as Error).message}`);
  process.exit(2);
}
const announce = (line: string) => console.log(line);
const authorizationServer = await startAuthorizationServer(configuration, { announce, logger: process.env.GATEHOUSE_LOG !== 'off' });
// `local` validates JWT access tokens against the JWKS and the revocation feed; it needs GATEHOUSE_ACCESS_TOKEN_FORMAT=jwt.
const platformApi = await startPlatformApi({ ...platformApiOptions, logger: process.env.GATEHOUSE_LOG !== 'off' });
console.log(`\nGatehouse authorization server: ${configuration.issuer} (${configuration.environment})`);
console.log(`Sample platform API:           ${platformApi.url} (${platformApiOptions.validationMode} validation, ${configuration.accessTokenFormat} access tokens; audience ${platformApiOptions.audience}${platformApiOptions.publicOrigin ? `, DPoP htu origin ${platformApiOptions.publicOrigin}` : ''})`);
console.log('Press Ctrl-C to stop.\n');
starting = false;

// Issue 14: SIGTERM or Ctrl-C stops accepting, lets requests in flight finish within
// GATEHOUSE_SHUTDOWN_GRACE_SECONDS (default 10), then closes storage; a second signal exits at once.
exitGracefullyOnSignals(async () => {
  console.log('\nStopping...');
  await platformApi.close();
  return authorizationServer.shutDown(configuration.shutdownGraceSeconds);
});
