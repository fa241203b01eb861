/**
 * Log entries of the client: every refresh attempt and its outcome (SPEC §3: "log refresh attempts and
 * outcomes"), connections made and revoked. Tokens are never logged (SPEC §3: "never in browser storage
 * or logs"); an entry names a token by `tokenFingerprint` at most.
 */
import { hash } from 'node:crypto';
import type { Clock } from './clock.ts';

/** One log line. Member names are snake_case so JSON log pipelines see stable keys. */
export interface LogEntry {
  /** ISO 8601 time from the client's clock. */
  time: string;
  event: 'refresh_attempt' | 'refresh_outcome' | 'connected' | 'revoked' | 'revocation_attempt' | 'reauthorization_required';
  connection_id: string;
  /**
   * For `refresh_outcome`: see `RefreshOutcome`. `skipped` (`revoked`): `revoke` deleted a connection whose refresh
   * token could not be decrypted, without revoking its grant.
   */
  outcome?: RefreshOutcome | 'succeeded' | 'failed' | 'skipped';
  /** Why: an OAuth error code with its description, `network`, `http_503`, `expiring`, `rejected_by_api`… */
  reason?: string;
  /** 1-based attempt number within one refresh. */
  attempt?: number;
  /** Delay before the next attempt, milliseconds. */
  retry_in_ms?: number;
  /** `sha256:` + 8 hex characters of a token, enough to correlate, useless to an attacker. */
  access_token_fingerprint?: string;
  refresh_token_fingerprint?: string;
  /** Epoch seconds. */
  access_token_expires_at?: number | null;
}

/**
 * `succeeded`: new tokens stored. `retrying`: a transient failure, another attempt follows.
 * `failed`: gave up (transient failures exhausted, or an error that retrying cannot fix).
 * `reauthorization_required`: `invalid_grant`; tokens deleted. `refreshed_elsewhere`: after waiting for
 * the lock another caller or instance had already stored fresh tokens, so no request was made.
 * `lock_lost`: the refresh lock was lost while held (`LockLostError`); `reason` says when: `before_request: nothing
 * sent`, `before_retry: N request(s) sent earlier, none after the loss was seen` (in both, the lock is taken again
 * once, keeping the retry budget and attempt count), or `after_request: …` (the new pair is still stored, version-checked).
 */
export type RefreshOutcome = 'succeeded' | 'retrying' | 'failed' | 'reauthorization_required' | 'refreshed_elsewhere' | 'lock_lost';

/** Receives log entries; must not throw. */
export type Logger = (entry: LogEntry) => void;

/**
 * A writer that stamps entries with the clock's time and swallows a failing logger: logging never
 * breaks a refresh or a connect.
 */
export function createLogWriter(logger: Logger, clock: Clock): (entry: Omit<LogEntry, 'time'>) => void {
  return (entry) => {
    try {
      logger({ time: new Date(clock.nowSeconds() * 1000).toISOString(), ...entry });
    } catch {
      // See above.
    }
  };
}

/** The default: one JSON line per entry on stderr. */
export const jsonLineLogger: Logger = (entry) => {
  process.stderr.write(`${JSON.stringify({ source: 'gatehouse-client', ...entry })}\n`);
};

/** Drops everything (for callers that route events elsewhere). */
export const silentLogger: Logger = () => {};

/**
 * A short, non-reversible name for a token: `sha256:` and the first 8 hex characters (32 bits) of its
 * SHA-256. Tokens carry 256 random bits, so the fingerprint reveals nothing usable.
 */
export function tokenFingerprint(token: string): string {
  return `sha256:${hash('sha256', token, 'hex').slice(0, 8)}`;
}
