/**
 * `@gatehouse/client`: the partner-side SDK for Gatehouse, on oauth4webapi. Start with
 * `createGatehouseClient` (gatehouse-client.ts) and the README's quick start.
 */
export { createGatehouseClient, type GatehouseClient, type GatehouseClientOptions, type RevokeOptions, type RevokeOutcome } from './gatehouse-client.ts';
export type { AuthorizationTransaction, AuthorizationUrlOptions } from './authorization.ts';
export { ConnectionTokens, parseSubjectUrn, type Connection, type SubjectType } from './connection.ts';
export { ENVIRONMENT_PRESETS, type Environment, type EnvironmentPreset } from './environments.ts';
export { createTokenCipher, formatEncryptionKeys, generateEncryptionKey, parseEncryptionKeys, type EncryptionKey, type TokenCipher } from './encryption.ts';
export type { ConnectionStatus, NewStoredConnection, RowRevision, StoredConnection, TokenStore, TokenUpdate } from './token-store.ts';
export { createMemoryTokenStore } from './stores/memory.ts';
export { createSqliteTokenStore, type SqliteTokenStoreOptions } from './stores/sqlite.ts';
export { createPostgresTokenStore, type PostgresTokenStoreOptions } from './stores/postgres.ts';
export type { LockHold, RefreshLock } from './lock.ts';
export { createMemoryLock, processMemoryLock } from './locks/memory.ts';
export { createFileLock, type FileLockOptions } from './locks/file.ts';
export { createPostgresLock, type PostgresLockOptions, type PostgresRefreshLock } from './locks/postgres.ts';
export { createRedisLock, type RedisLockClient, type RedisLockOptions } from './locks/redis.ts';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './backoff.ts';
export type { ApiRequestInit } from './resource-request.ts';
export type { ClientEventMap, ClientEvents, ConnectedEvent, ReauthorizationRequiredEvent, RefreshedEvent, RevokedEvent } from './events.ts';
export { jsonLineLogger, silentLogger, tokenFingerprint, type LogEntry, type Logger, type RefreshOutcome } from './logging.ts';
export { createManualClock, systemClock, type Clock } from './clock.ts';
export {
  AuthorizationServerError, CallbackValidationError, ConfigurationError, ConnectionMismatchError, ConnectionNotDeletedError, ConnectionNotFoundError, ConnectionNotStoredError, DecryptionError,
  DpopProofRejectedError, GatehouseClientError, InvalidApiRequestError, InvalidResponseError, LockLostError, LockTimeoutError, ReauthorizationRequiredError, RefreshFailedError,
  TransportError, type AuthorizationServerEndpoint, type InvalidApiRequestProblem,
} from './errors.ts';
export {
  createMemorySessionHandoverReplayStore, createSessionHandoverVerifier, SessionHandoverError, verifySessionHandover,
  type SessionHandover, type SessionHandoverRefusal, type SessionHandoverReplayStore, type SessionHandoverVerifier, type SessionHandoverVerifierOptions,
} from './session-handover.ts';
export { verifyWebhook, WebhookVerificationError, type GatehouseWebhookEvent } from './webhooks.ts';
