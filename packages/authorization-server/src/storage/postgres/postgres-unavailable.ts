/**
 * Which node-postgres errors mean "PostgreSQL cannot be reached or cannot serve right now" (→
 * StorageUnavailableError, 503) rather than a fault of the statement (→ 500).
 */
import { StorageUnavailableError } from '../storage-unavailable.ts';

/** Socket errors of the connection to the server (Node system error codes). */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN',
]);

/**
 * PostgreSQL SQLSTATEs (Appendix A): class 08 connection exception; class 53 insufficient resources
 * (53100 disk full, 53200 out of memory, 53300 too many connections); 57014 query canceled
 * (our `statement_timeout`: a lock or the database stuck beyond it, or an operator's `pg_cancel_backend`),
 * 57P01 admin shutdown (`pg_terminate_backend`, fast shutdown), 57P02 crash shutdown, 57P03 cannot connect
 * now (starting up or in recovery), 57P04 database dropped, 57P05 idle session timeout. And what a new
 * connection meets when the database is there but will not take it, which an operator fixes without
 * restarting Gatehouse: 3D000 the database does not exist (dropped, renamed), class 28 the role or its
 * password is refused (rotated), 25006 a read-only transaction (a failover left us on a standby).
 */
const UNAVAILABLE_SQLSTATE = /^(08[0-9A-Z]{3}|53[0-9A-Z]{3}|57014|57P0[12345]|3D000|28[0-9A-Z]{3}|25006)$/;

/** 55000 (object not in prerequisite state) is unavailability only as a refused connection: `ALLOW_CONNECTIONS false`. */
const NOT_ACCEPTING_CONNECTIONS = /is not currently accepting connections$/;

/**
 * node-postgres raises these without a code: the socket ended (backend terminated, proxy cut), the pool
 * waited `connectionTimeoutMillis` for a connection, or a client whose connection failed was used again.
 */
const DRIVER_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /is not queryable$/,
];

export function isPostgresUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_ERROR_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
  if (code === '55000' && NOT_ACCEPTING_CONNECTIONS.test(error.message)) return true;
  if (error instanceof AggregateError) return error.errors.some(isPostgresUnavailable); // a host with several addresses, each refused
  return DRIVER_MESSAGES.some((message) => message.test(error.message));
}

/** The error to throw for `error`: a StorageUnavailableError when PostgreSQL is unreachable, else `error` itself. */
export function postgresStorageError(error: unknown): unknown {
  if (error instanceof StorageUnavailableError) return error;
  return isPostgresUnavailable(error) ? new StorageUnavailableError(error) : error;
}

/**
 * Whether `error` is a statement PostgreSQL cancelled (57014: our `statement_timeout`, or an operator's
 * `pg_cancel_backend`) rather than a connection or the server failing. Unavailable all the same (503), but
 * it may be one row's lock and not the database: a batch of operations cancelled so is worth running again
 * one by one (statement-batches.ts), where a lost connection is not.
 */
export function isStatementCancelled(error: unknown): boolean {
  const cause = error instanceof StorageUnavailableError ? error.cause : error;
  return cause instanceof Error && (cause as { code?: unknown }).code === '57014';
}
