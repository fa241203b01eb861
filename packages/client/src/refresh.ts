/**
 * Centralised refresh (SPEC §3 integrator rules; platform docs "centralised refresh" and "race-condition
 * prevention"). Gatehouse rotates both tokens on every refresh and treats a second use of a refresh
 * token as replay, revoking the whole grant (SPEC decision 8), so an integration must never send the
 * same refresh token twice. Layers, outermost first:
 *
 * 1. **fresh?** — an access token valid for more than `refreshMarginSeconds` is returned as is;
 * 2. **one promise per connection** — concurrent callers in this process share one in-flight refresh;
 * 3. **the refresh lock** (`lock.ts`) — callers in other processes wait for it, then re-read the store
 *    and, finding fresh tokens that another instance stored, return them without a request;
 * 4. **backoff** (`backoff.ts`) — network errors, 5xx and 429 are retried a bounded number of times;
 * 5. **one atomic write** — both new tokens are stored together, conditional on the version read under
 *    the lock, before any caller gets the new access token.
 *
 * Before any of this, the row must belong to this client: made by the configured client ID at the configured
 * issuer (`assertConnectionOwner`). A refresh token goes only to the issuer that issued it, from the client it
 * was issued to (RFC 6749 §6, §10.4); sent elsewhere it would leak, and the other server's `invalid_grant`
 * would wipe a connection whose grant is still alive at its own issuer.
 *
 * `invalid_grant` is final: the connection becomes `reauthorization_required`, its tokens are deleted,
 * an event fires, and every later call fails fast with `ReauthorizationRequiredError`.
 * Every attempt and outcome is logged with token fingerprints only.
 */
import { secretsEqual } from '@gatehouse/protocol';
import type * as oauth from 'oauth4webapi';
import { retryWithBackoff, RetriesExhaustedError, type RetryPolicy, type RetryProgress } from './backoff.ts';
import { clockMilliseconds, type Clock } from './clock.ts';
import type { TokenCipher } from './encryption.ts';
import { AuthorizationServerError, ConnectionMismatchError, ConnectionNotFoundError, LockLostError, ReauthorizationRequiredError, RefreshFailedError } from './errors.ts';
import { emitSafely, type ClientEvents } from './events.ts';
import type { RefreshLock } from './lock.ts';
import { createLogWriter, tokenFingerprint, type Logger } from './logging.ts';
import type { RowRevision, StoredConnection, TokenStore } from './token-store.ts';
import { transientFailureOf } from './transport.ts';

/** Who may use a stored connection's tokens: the configured issuer and client ID. */
export interface ConnectionOwner {
  issuer: URL;
  clientId: string;
}

/**
 * RFC 6749 §6, §10.4: a stored connection's tokens are used only by the client they were issued to, at the
 * issuer that issued them. Issuers are compared as URLs (`href`), since the configured one may carry a
 * trailing slash that the metadata's `issuer` lacks; client IDs exactly.
 */
export function ownsConnection(row: StoredConnection, owner: ConnectionOwner): boolean {
  return URL.canParse(row.issuer) && new URL(row.issuer).href === owner.issuer.href && row.clientId === owner.clientId;
}

/** @throws ConnectionMismatchError when the row was made at another issuer or by another client (`ownsConnection`). */
export function assertConnectionOwner(row: StoredConnection, owner: ConnectionOwner): void {
  if (!ownsConnection(row, owner)) throw new ConnectionMismatchError(row.connectionId, row, { issuer: owner.issuer.href, clientId: owner.clientId });
}

export interface RefresherDependencies {
  store: TokenStore;
  cipher: TokenCipher;
  lock: RefreshLock;
  clock: Clock;
  logger: Logger;
  events: ClientEvents;
  retryPolicy: RetryPolicy;
  sleep(milliseconds: number): Promise<void>;
  random(): number;
  /** Refresh this long before `expires_in` runs out, seconds. */
  refreshMarginSeconds: number;
  /** The configured issuer and client ID: only connections made by them are used (`assertConnectionOwner`). */
  owner: ConnectionOwner;
  /** Scopes lock names to one issuer and client, so two integrations sharing a lock backend never wait on each other. */
  lockNamespace: string;
  /**
   * RFC 9449: the DPoP handle of a connection's refresh (its stored key, or a new one to store with the new
   * tokens: `newKeyCiphertext`), or undefined for none. Asked once per refresh, so every retry uses one key,
   * also across the lock holds of one refresh (a lock lost and taken again) while the stored key is unchanged.
   */
  connectionDpop?(connection: StoredConnection): Promise<{ handle: oauth.DPoPHandle; newKeyCiphertext?: string } | undefined>;
  /** One refresh_token grant request; throws `TransportError` (transient) or `AuthorizationServerError`. */
  requestRefresh(refreshToken: string, dpop: { handle: oauth.DPoPHandle } | undefined): Promise<oauth.TokenEndpointResponse>;
}

/**
 * An access token and the row it came from, by generation and version (to tell, after a 401, whether it was already
 * replaced: by a refresh, or by a new connection saved under the same id, which may be at the same version).
 */
export interface AccessTokenLease {
  accessToken: string;
  version: number;
  generation: string | null;
  /** RFC 9449: the sealed key the token is bound to (`StoredConnection.dpopKeyCiphertext`). */
  dpopKeyCiphertext: string | null;
}

export interface Refresher {
  /**
   * A valid access token, refreshed first when it expires within the margin.
   * @throws ConnectionNotFoundError, ConnectionMismatchError (nothing sent, nothing changed), ReauthorizationRequiredError,
   *   RefreshFailedError, AuthorizationServerError, LockTimeoutError, LockLostError, DecryptionError, a token store error
   */
  accessToken(connectionId: string): Promise<AccessTokenLease>;
  /**
   * After the API rejected the token of the lease `rejected` (401 `invalid_token`): refreshes unless the stored
   * token was already replaced since (another version or another row, `generation`), and returns the current one.
   * Same errors.
   */
  accessTokenAfterRejection(connectionId: string, rejected: RowRevision): Promise<AccessTokenLease>;
  /** Refreshes now, whatever the expiry (e.g. the CLI's `refresh`). Same errors. */
  refreshNow(connectionId: string): Promise<StoredConnection>;
  /** Runs `work` holding the connection's refresh lock (revocation uses it, so no refresh races it). */
  withConnectionLock<T>(connectionId: string, work: () => Promise<T>): Promise<T>;
}

/** Whether two ciphertexts are the same, compared as SHA-256 digests in constant time (`secretsEqual`, @gatehouse/protocol). */
function sameCiphertext(stored: string | null, ours: string): boolean {
  return stored !== null && secretsEqual(stored, ours);
}

/** One refresh's progress across the lock holds it takes (`lockedRefresh`). */
interface RefreshProgress {
  /** The retry state: attempts failed so far and when the first started. */
  retry: RetryProgress;
  /** Refresh requests sent so far. */
  sent: number;
  /**
   * RFC 9449: the DPoP key this refresh resolved (`connectionDpop`) and the stored key it was resolved for. A
   * later hold whose row still has that stored key reuses it: when the first hold generated the connection's
   * first key and sent requests with it, the server may answer a retry from its reuse grace window with the
   * pair bound to that key, which must be stored with that key (a new one per hold: invalid_grant at the next refresh).
   */
  dpop?: { forStoredKey: string | null; value: { handle: oauth.DPoPHandle; newKeyCiphertext?: string } | undefined };
}

/** Writes of a refreshed pair: 5 attempts, waits capped at 250 ms doubling to 2 s (under 4 s of waiting in all). */
const STORE_WRITE_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMilliseconds: 250, maxDelayMilliseconds: 2_000 };

/** A store error's code (`pg`'s SQLSTATE, a Node errno name) for the log, never its message (which might quote values). */
function storeErrorCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[\w-]{1,32}$/.test(code) ? ` (${code})` : '';
}

export function createRefresher(dependencies: RefresherDependencies): Refresher {
  const { store, cipher, lock, clock, logger } = dependencies;
  const inFlight = new Map<string, Promise<StoredConnection>>();
  const lockKey = (connectionId: string) => `${dependencies.lockNamespace}|${connectionId}`;
  const log = createLogWriter(logger, clock);
  const isFresh = (row: StoredConnection) =>
    row.accessTokenExpiresAt === null || clock.nowSeconds() + dependencies.refreshMarginSeconds < row.accessTokenExpiresAt;
  const lease = (row: StoredConnection): AccessTokenLease => ({
    accessToken: cipher.open(row.accessTokenCiphertext!, { connectionId: row.connectionId, field: 'access_token' }),
    version: row.version,
    generation: row.generation,
    dpopKeyCiphertext: row.dpopKeyCiphertext,
  });

  async function readActive(connectionId: string): Promise<StoredConnection> {
    const row = await store.get(connectionId);
    if (!row) throw new ConnectionNotFoundError(connectionId);
    // Before anything is opened or sent: another issuer's or client's tokens are not ours to use.
    assertConnectionOwner(row, dependencies.owner);
    if (row.status !== 'active' || row.accessTokenCiphertext === null || row.refreshTokenCiphertext === null) {
      throw new ReauthorizationRequiredError(connectionId, row.statusReason ?? 'the connection has no tokens');
    }
    return row;
  }

  /**
   * Layer 3: the lock, taken again once when it was lost before a request could be sent (`LockLostError`). The
   * refresh's progress (requests sent, when the first was sent) carries over, so the retry budget
   * (`maxAttempts`, `maxElapsedMilliseconds`) counts every request of this refresh, whichever hold sent it.
   */
  async function lockedRefresh(connectionId: string, needsRefresh: (row: StoredConnection) => boolean, reason: string): Promise<StoredConnection> {
    const progress: RefreshProgress = { retry: { failedAttempts: 0 }, sent: 0 };
    for (let attempt = 1; ; attempt++) {
      try {
        return await lock.withLock(lockKey(connectionId), (hold) => refreshUnderLock(connectionId, needsRefresh, reason, hold?.signal, progress));
      } catch (error) {
        if (!(error instanceof LockLostError) || attempt >= 2) throw error;
      }
    }
  }

  /** Layer 2: one in-flight refresh per connection in this process. */
  function sharedRefresh(connectionId: string, needsRefresh: (row: StoredConnection) => boolean, reason: string): Promise<StoredConnection> {
    const running = inFlight.get(connectionId);
    if (running !== undefined) return running;
    const refresh = lockedRefresh(connectionId, needsRefresh, reason).finally(() => {
      if (inFlight.get(connectionId) === refresh) inFlight.delete(connectionId);
    });
    inFlight.set(connectionId, refresh);
    return refresh;
  }

  /**
   * Layers 3–5, holding the lock. `held` (the lock's signal) is checked immediately before each token
   * request: once the lock is lost nothing more is sent (`LockLostError`). A request already sent when
   * the lock is lost cannot be recalled; its new pair is still stored, by the version-checked write,
   * which is the fence: it refuses to overwrite what a later holder stored, and a later holder that
   * reads it sends nothing.
   */
  async function refreshUnderLock(
    connectionId: string, needsRefresh: (row: StoredConnection) => boolean, reason: string, held: AbortSignal | undefined,
    progress: RefreshProgress,
  ): Promise<StoredConnection> {
    const row = await readActive(connectionId);
    if (!needsRefresh(row)) {
      log({ event: 'refresh_outcome', connection_id: connectionId, outcome: 'refreshed_elsewhere', reason, access_token_expires_at: row.accessTokenExpiresAt });
      return row;
    }
    const refreshToken = cipher.open(row.refreshTokenCiphertext!, { connectionId, field: 'refresh_token' });
    const refreshTokenFingerprint = tokenFingerprint(refreshToken);

    let response: oauth.TokenEndpointResponse;
    let sentAt = clock.nowSeconds();
    let attempts = progress.sent;
    let dpop: { handle: oauth.DPoPHandle; newKeyCiphertext?: string } | undefined;
    let dpopResolved = false;
    try {
      response = await retryWithBackoff(async (attempt) => {
        sentAt = clock.nowSeconds();
        log({ event: 'refresh_attempt', connection_id: connectionId, attempt, reason, refresh_token_fingerprint: refreshTokenFingerprint });
        if (!dpopResolved) {
          if (progress.dpop !== undefined && progress.dpop.forStoredKey === row.dpopKeyCiphertext) {
            dpop = progress.dpop.value;
          } else {
            dpop = await dependencies.connectionDpop?.(row);
            progress.dpop = { forStoredKey: row.dpopKeyCiphertext, value: dpop };
          }
          dpopResolved = true;
        }
        // Immediately before sending: another instance may hold the lock now and present this same token.
        if (held?.aborted) {
          const why = held.reason instanceof LockLostError ? held.reason.message : `the refresh lock of connection "${connectionId}" was lost`;
          throw new LockLostError(progress.sent === 0
            ? `${why}; no refresh request was sent`
            : `${why}; ${progress.sent} refresh request(s) had been sent before (their outcome unknown or failed), none after the loss was seen`);
        }
        progress.sent = attempt;
        attempts = attempt;
        return dependencies.requestRefresh(refreshToken, dpop);
      }, {
        policy: dependencies.retryPolicy,
        sleep: dependencies.sleep,
        random: dependencies.random,
        // The reuse grace window is counted in the server's time; the client's clock (milliseconds, monotonic
        // where it has them) stands in for it.
        nowMilliseconds: () => clockMilliseconds(clock),
        progress: progress.retry,
        classify: transientFailureOf,
        onRetry: (attempt, failure, delay) => {
          log({ event: 'refresh_outcome', connection_id: connectionId, outcome: 'retrying', reason: failure.reason, attempt, retry_in_ms: delay });
        },
      });
    } catch (error) {
      if (error instanceof RetriesExhaustedError) {
        log({ event: 'refresh_outcome', connection_id: connectionId, outcome: 'failed', reason: error.failure.reason, attempt: error.attempts });
        throw new RefreshFailedError(connectionId, error.attempts, error.failure.reason);
      }
      if (error instanceof AuthorizationServerError && error.error === 'invalid_grant') {
        // SPEC §3: on invalid_grant stop, mark the connection unauthenticated, delete tokens, ask the user to reconnect.
        const why = `invalid_grant${error.errorDescription ? `: ${error.errorDescription}` : ''}`;
        const marked = await store.markReauthorizationRequired(connectionId, row, why, clock.nowSeconds());
        log({ event: 'refresh_outcome', connection_id: connectionId, outcome: 'reauthorization_required', reason: why, attempt: attempts });
        if (marked) emitSafely(dependencies.events, 'reauthorization_required', { connectionId, subjectUrn: row.subjectUrn, reason: why });
        throw new ReauthorizationRequiredError(connectionId, why);
      }
      if (error instanceof LockLostError) {
        log({
          event: 'refresh_outcome', connection_id: connectionId, outcome: 'lock_lost', attempt: attempts,
          reason: progress.sent === 0 ? 'before_request: nothing sent' : `before_retry: ${progress.sent} request(s) sent earlier, none after the loss was seen`,
        });
        // Nothing sent yet: the next hold starts the budget afresh.
        if (progress.sent === 0) progress.retry = { failedAttempts: 0 };
        throw error;
      }
      const why = error instanceof AuthorizationServerError ? `${error.error}${error.errorDescription ? `: ${error.errorDescription}` : ''}` : (error as Error).message;
      log({ event: 'refresh_outcome', connection_id: connectionId, outcome: 'failed', reason: why, attempt: attempts });
      throw error;
    }
    // Before storing: the server has rotated the token, so the new pair is stored all the same (the
    // version check fences the write); the loss is logged, since another instance may have sent this token too.
    if (held?.aborted) {
      log({ event: 'refresh_outcome', connection_id: connectionId, outcome: 'lock_lost', reason: 'after_request: storing the new pair with the version check', attempt: attempts });
    }

    // RFC 6749 §6: the server MAY issue a new refresh token (Gatehouse always does); if not, keep the old one.
    const newRefreshToken = response.refresh_token ?? refreshToken;
    const update = {
      accessTokenCiphertext: cipher.seal(response.access_token, { connectionId, field: 'access_token' }),
      refreshTokenCiphertext: cipher.seal(newRefreshToken, { connectionId, field: 'refresh_token' }),
      // Counted from when the request was sent, so network time only makes the estimate earlier.
      accessTokenExpiresAt: response.expires_in === undefined ? null : sentAt + response.expires_in,
      // RFC 6749 §5.1: scope omitted = as requested (unchanged).
      scope: response.scope ?? row.scope,
      updatedAt: clock.nowSeconds(),
      // RFC 9449: a key used for the first time is stored with the tokens bound to it, in the same write.
      ...(dpop?.newKeyCiphertext === undefined ? {} : { dpopKeyCiphertext: dpop.newKeyCiphertext }),
    };
    // The server has rotated the token: the new pair exists only in this process's memory until it is
    // stored, so a failing write (a dropped database connection, a failover) is tried again, a bounded
    // number of times, rather than losing the pair (SPEC §3: persist both tokens atomically).
    let saved: StoredConnection | undefined;
    let writeFailed = false;
    try {
      saved = await retryWithBackoff(() => store.replaceTokens(connectionId, row, update), {
        policy: STORE_WRITE_RETRY_POLICY, sleep: dependencies.sleep, random: dependencies.random,
        classify: (error) => {
          writeFailed = true;
          return { reason: `store_write_failed${storeErrorCode(error)}` };
        },
        onRetry: (attempt, failure, delay) => {
          log({ event: 'refresh_outcome', connection_id: connectionId, outcome: 'retrying', reason: failure.reason, attempt, retry_in_ms: delay });
        },
      });
    } catch (error) {
      const failure = error instanceof RetriesExhaustedError ? error : undefined;
      log({ event: 'refresh_outcome', connection_id: connectionId, outcome: 'failed', reason: failure?.failure.reason ?? 'store_write_failed', attempt: failure?.attempts ?? 1 });
      throw failure ? failure.cause : error;
    }
    if (!saved && writeFailed) {
      // A write whose reply was lost may have committed: its retry then fails the version check against our
      // own write. The row holding exactly this refresh's ciphertexts (compared as digests, in constant time)
      // is our pair, stored.
      const current = await store.get(connectionId);
      if (current && current.status === 'active' && sameCiphertext(current.accessTokenCiphertext, update.accessTokenCiphertext)
        && sameCiphertext(current.refreshTokenCiphertext, update.refreshTokenCiphertext)) {
        saved = current;
      }
    }
    if (!saved) {
      // The row changed under us (a reconnect replaced it): its tokens are newer than ours.
      const current = await readActive(connectionId);
      log({ event: 'refresh_outcome', connection_id: connectionId, outcome: 'refreshed_elsewhere', reason: 'store_changed_during_refresh', attempt: attempts });
      return current;
    }
    log({
      event: 'refresh_outcome', connection_id: connectionId, outcome: 'succeeded', reason, attempt: attempts,
      access_token_fingerprint: tokenFingerprint(response.access_token), refresh_token_fingerprint: tokenFingerprint(newRefreshToken),
      access_token_expires_at: saved.accessTokenExpiresAt,
    });
    emitSafely(dependencies.events, 'refreshed', { connectionId, accessTokenExpiresAt: saved.accessTokenExpiresAt });
    return saved;
  }

  return {
    async accessToken(connectionId) {
      const row = await readActive(connectionId);
      if (isFresh(row)) return lease(row);
      return lease(await sharedRefresh(connectionId, (current) => !isFresh(current), 'expiring'));
    },
    async accessTokenAfterRejection(connectionId, rejected) {
      return lease(await sharedRefresh(connectionId,
        (current) => current.generation === rejected.generation && current.version === rejected.version, 'rejected_by_api'));
    },
    async refreshNow(connectionId) {
      const { version } = await readActive(connectionId);
      return sharedRefresh(connectionId, (current) => current.version === version, 'requested');
    },
    withConnectionLock(connectionId, work) {
      return lock.withLock(lockKey(connectionId), work);
    },
  };
}
