/**
 * `npm start`: the authorization server (http://localhost:3000) and the sample platform API
 * (http://localhost:3001) in the development environment, on SQLite under ./data/, with seeded
 * development data printed at start. Ctrl-C (or SIGTERM) stops both gracefully.
 */
import { ConfigurationError, exitGracefullyOnSignals, loadConfiguration, startAuthorizationServer } from '@gatehouse/authorization-server';
import { PLATFORM_API_DEVELOPMENT_DEFAULTS, startPlatformApi } from '@gatehouse/platform-api';

// Issue 14: a configuration problem stops the start with one line per problem and exit code 2.
process.on('uncaughtException', (error) => {
  if (!(error instanceof ConfigurationError)) throw error;
  console.error(`Gatehouse cannot start: the configuration has ${error.problems.length} problem${error.problems.length === 1 ? '' : 's'}:\n${error.problems.map((problem) => `  - ${problem}`).join('\n')}`);
  process.exit(2);
});
const configuration = loadConfiguration();
const announce = (line: string) => console.log(line);
const authorizationServer = await startAuthorizationServer(configuration, { announce, logger: process.env.GATEHOUSE_LOG !== 'off' });
const platformApi = await startPlatformApi({
  port: Number(process.env.PLATFORM_API_PORT ?? PLATFORM_API_DEVELOPMENT_DEFAULTS.port),
  host: process.env.PLATFORM_API_HOST ?? PLATFORM_API_DEVELOPMENT_DEFAULTS.host,
  issuer: configuration.issuer,
  audience: configuration.apiAudience,
  introspectionClientId: process.env.PLATFORM_API_INTROSPECTION_CLIENT_ID ?? PLATFORM_API_DEVELOPMENT_DEFAULTS.introspectionClientId,
  introspectionClientSecret: process.env.PLATFORM_API_INTROSPECTION_CLIENT_SECRET ?? PLATFORM_API_DEVELOPMENT_DEFAULTS.introspectionClientSecret,
  urnNamespace: configuration.urnNamespace,
  // `local` validates JWT access tokens against the JWKS and the revocation feed; it needs GATEHOUSE_ACCESS_TOKEN_FORMAT=jwt.
  validationMode: validationMode(),
  logger: process.env.GATEHOUSE_LOG !== 'off',
});
console.log(`\nGatehouse authorization server: ${configuration.issuer} (${configuration.environment})`);
console.log(`Sample platform API:           ${platformApi.url} (${validationMode()} validation, ${configuration.accessTokenFormat} access tokens)`);
console.log('Press Ctrl-C to stop.\n');

function validationMode(): 'introspection' | 'local' {
  const mode = process.env.PLATFORM_API_VALIDATION_MODE ?? 'introspection';
  if (mode !== 'introspection' && mode !== 'local') throw new Error('PLATFORM_API_VALIDATION_MODE must be introspection or local');
  if (mode === 'local' && configuration.accessTokenFormat !== 'jwt') {
    throw new Error('PLATFORM_API_VALIDATION_MODE=local needs GATEHOUSE_ACCESS_TOKEN_FORMAT=jwt (opaque tokens can only be introspected)');
  }
  return mode;
}

// Issue 14: SIGTERM or Ctrl-C stops accepting, lets requests in flight finish within
// GATEHOUSE_SHUTDOWN_GRACE_SECONDS (default 10), then closes storage; a second signal exits at once.
exitGracefullyOnSignals(async () => {
  console.log('\nStopping...');
  await platformApi.close();
  return authorizationServer.shutDown(configuration.shutdownGraceSeconds);
});
