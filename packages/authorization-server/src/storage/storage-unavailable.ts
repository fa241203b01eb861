/**
 * The one error a storage throws when its database cannot be reached or cannot take the operation right
 * now (connection refused, reset or terminated, pool connect timeout, database shutting down or full;
 * SQLite busy, I/O error, disk full). SPEC decision 18: the server answers it with
 * `503 temporarily_unavailable` and `Retry-After`, never a 500 or a crash; the operation had no effect
 * (a transaction that did not commit is rolled back by the database).
 *
 * Anything else a storage throws (a constraint violation, a bug) stays as it is and becomes a 500.
 */
export class StorageUnavailableError extends Error {
  constructor(cause: unknown) {
    // Only the driver's message, never parameters (they may hold digests): drivers do not put values in these messages.
    super(`storage unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'StorageUnavailableError';
  }
}

/** The predicate every error renderer uses: is this the storage being unreachable (→ 503) rather than a fault (→ 500)? */
export function isStorageUnavailable(error: unknown): error is StorageUnavailableError {
  return error instanceof StorageUnavailableError;
}
