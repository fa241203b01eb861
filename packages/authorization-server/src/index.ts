export { createAuthorizationServer } from './authorization-server.ts';
export type { AuthorizationServerOptions, Brand, Environment } from './options.ts';
export { createTestClock, systemClock, type Clock } from './clock.ts';
export { ConfigurationError, loadConfiguration, generateTokenKey, type Configuration } from './configuration.ts';
export { startAuthorizationServer, type RunningAuthorizationServer } from './main.ts';
export { exitGracefullyOnSignals, shutDownGracefully } from './operations/shutdown.ts';
export { createSqliteStorage } from './storage/sqlite/sqlite-storage.ts';
export { createPostgresStorage, migratePostgres, PostgresPoolerConfigurationError, type PostgresPooler, type PostgresStorageOptions } from './storage/postgres/postgres-storage.ts';
export { openStorage, migrateStorage } from './storage/open-storage.ts';
export { AUTHORIZATION_CODE_RETENTION_SECONDS } from './storage/storage.ts';
export type * from './storage/storage.ts';
export { registerClient, registerResourceServer, RegistrationError, type ClientRegistration } from './clients/registration.ts';
export { DEVELOPMENT_SEED, seedDevelopmentData, describeDevelopmentSeed } from './seed/development-seed.ts';
export { OAuthError, type OAuthErrorCode } from './errors.ts';
export { SCOPE_CATALOGUE } from '@gatehouse/protocol';
export {
  approveClient, suspendClient, reactivateClient, deleteClient, updateClient, rotateClientSecret, setPkceException, setClientLogo,
  ClientManagementError, type ManagementContext, type ClientMetadataChanges,
} from './clients/client-management.ts';
export { createAdminToken } from './admin/admin-credentials.ts';
