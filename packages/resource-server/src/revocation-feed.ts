import { clientSecretBasicAuthorization } from './client-authentication.ts';
import type { FetchFunction } from './introspection.ts';
import { IntrospectionUnavailableError } from './introspection-unavailable-error.ts';
import type { IntrospectionFailureReason } from './introspection-unavailable-error.ts';
import type { ScheduleTimer, TimerHandle } from './timer.ts';

/**
 * Entries per page of `GET /oauth/revoked-access-tokens` (the Gatehouse contract): a page with
 * exactly this many entries means "ask again with `since=next_since`".
 */
export const REVOCATION_FEED_PAGE_SIZE = 1000;

/**
 * A guard against a feed that never ends: 10 000 pages (ten million revocations) in one poll. The start-up
 * catch-up reads the revocations of one access-token lifetime (15 min) in one poll: this covers about
 * 11 000 revocations per second sustained (each refresh rotation supersedes an access token).
 */
export const DEFAULT_MAX_PAGES_PER_POLL = 10_000;

/**
 * Each poll re-reads at least this many seconds before the authorization server's time, seconds.
 * A revocation is stamped with `revoked_at` before its transaction commits; with concurrent
 * transactions one stamped earlier can commit after a poll has already read a later one, and a cursor
 * taken from `next_since` alone would step over it for good. Re-read entries are merged by `jti`.
 * `revoked_at` comes from the clock of the authorization-server instance that revoked: instances sharing a
 * database must keep their clocks within this many seconds of each other (README, SPEC decision 7).
 */
export const REVOCATION_FEED_LOOKBACK_SECONDS = 10;

/** `{issuer}/oauth/revoked-access-tokens`, keeping any path of the issuer. */
export function defaultRevocationFeedEndpoint(issuer: string): string {
  const base = issuer.endsWith('/') ? issuer : `${issuer}/`;
  return new URL('oauth/revoked-access-tokens', base).href;
}

export interface RevocationFeedOptions {
  /** Absolute URL of `GET /oauth/revoked-access-tokens`. */
  readonly revocationFeedEndpoint: string;
  /** The resource server's own credentials (SPEC decision 14), sent as `client_secret_basic`. */
  readonly clientId: string;
  readonly clientSecret: string;
  /** Time between the starts of two polls, seconds. */
  readonly pollIntervalSeconds: number;
  /** Refuse to answer (fail closed) when the last successful poll was sent longer ago than this, seconds. */
  readonly maxStalenessSeconds: number;
  /** The longest access-token lifetime the authorization server issues, seconds: the start-up catch-up window. */
  readonly maxAccessTokenLifetimeSeconds: number;
  /** Tolerance on `exp`, seconds: revoked entries are kept until `exp` plus this, as long as a token can pass. */
  readonly clockSkewSeconds: number;
  /** Abort one page request after this many milliseconds. */
  readonly pollTimeoutMilliseconds: number;
  /** Full pages one poll follows before it fails; default {@link DEFAULT_MAX_PAGES_PER_POLL}. */
  readonly maxPagesPerPoll?: number;
  /** Clock, epoch milliseconds. */
  readonly now: () => number;
  readonly fetch: FetchFunction | undefined;
  readonly scheduleTimer: ScheduleTimer;
}

/**
 * The resource server's view of the authorization server's revoked access tokens (SPEC decision 7,
 * local mode): every revoked or superseded access token's `jti`, kept until its `exp`.
 */
export interface RevocationFeed {
  /** Starts polling: the catch-up poll at once, then one poll every interval. Idempotent. */
  start(): void;
  /** Stops polling; a poll in flight finishes but schedules nothing. Idempotent. */
  stop(): void;
  /**
   * Resolves once a poll has succeeded (the start-up catch-up is complete). Rejects if the feed is
   * stopped before that. Never times out on its own: callers that must not wait forever race it.
   */
  ready(): Promise<void>;
  /** True once a poll has succeeded. */
  readonly caughtUp: boolean;
  /** While no poll has succeeded, waits for the poll in flight (if any); never rejects. */
  waitForCatchUp(): Promise<void>;
  /**
   * Whether the access token with this `jti` was revoked or superseded.
   *
   * @param nowMs the clock the caller already read, epoch milliseconds; default `now()`.
   * @throws {IntrospectionUnavailableError} 503 `revocation_feed_stale` when no poll has succeeded,
   *   or the last successful one was sent more than `maxStalenessSeconds` ago: a token might have been
   *   revoked that we have not heard of, so we refuse rather than guess (fail closed).
   */
  isRevoked(jti: string, nowMs?: number): boolean;
  /** Polls now, outside the schedule (joins a poll in flight). Never rejects; failures are recorded. */
  poll(): Promise<void>;
  /** Revoked `jti`s currently remembered. */
  readonly revokedCount: number;
}

interface RevocationFeedEntry {
  readonly jti: string;
  /** Epoch seconds. */
  readonly exp: number;
}

interface RevocationFeedPage {
  readonly revoked: readonly RevocationFeedEntry[];
  /** Epoch seconds of the authorization server; the `since` of the next request. */
  readonly nextSince: number;
  /** On a full page, the `jti` of its last entry: the `after` of the next request (within `nextSince`). */
  readonly nextAfter: string | undefined;
  /** The authorization server's clock when it answered, epoch seconds, when sent. */
  readonly serverTime: number | undefined;
}

/** Why one poll failed; the detail names no token or secret. */
class RevocationFeedFailure extends Error {
  readonly reason: IntrospectionFailureReason;

  constructor(reason: IntrospectionFailureReason, detail: string) {
    super(detail);
    this.reason = reason;
  }
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * Validates one page: `{ revoked: [{ jti, exp, revoked_at }], next_since, next_after?, server_time }`.
 * Any deviation fails the whole poll: an entry we cannot read could be a revocation we would miss.
 */
function readPage(body: unknown): RevocationFeedPage {
  const page = body as { revoked?: unknown; next_since?: unknown; next_after?: unknown; server_time?: unknown } | null;
  if (typeof page !== 'object' || page === null || !Array.isArray(page.revoked) || !isFiniteNumber(page.next_since)) {
    throw new RevocationFeedFailure('unexpected_response', 'revocation feed answer lacks revoked[] or next_since');
  }
  if (page.next_after !== undefined && (typeof page.next_after !== 'string' || page.next_after === '')) {
    throw new RevocationFeedFailure('unexpected_response', 'revocation feed answer has a next_after that is not a jti');
  }
  const revoked: RevocationFeedEntry[] = [];
  for (const entry of page.revoked as unknown[]) {
    const { jti, exp, revoked_at: revokedAt } = (entry ?? {}) as { jti?: unknown; exp?: unknown; revoked_at?: unknown };
    if (typeof jti !== 'string' || jti === '' || !isFiniteNumber(exp) || !isFiniteNumber(revokedAt)) {
      throw new RevocationFeedFailure('unexpected_response', 'revocation feed entry lacks jti, exp or revoked_at');
    }
    revoked.push({ jti, exp });
  }
  return { revoked, nextSince: page.next_since, nextAfter: page.next_after, serverTime: isFiniteNumber(page.server_time) ? page.server_time : undefined };
}

/** Names a fetch failure without copying response bodies. */
function classifyFetchFailure(error: unknown): RevocationFeedFailure {
  if (error instanceof RevocationFeedFailure) {
    return error;
  }
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return new RevocationFeedFailure('timeout', 'revocation feed request timed out');
  }
  if (error instanceof Error) {
    const code = (error.cause as { code?: unknown } | undefined)?.code;
    return new RevocationFeedFailure('network_error', `revocation feed request failed: ${error.name}: ${error.message}${typeof code === 'string' ? ` (${code})` : ''}`);
  }
  return new RevocationFeedFailure('network_error', 'revocation feed request failed');
}

/**
 * Creates the revocation feed client of local mode.
 *
 * Protocol (the Gatehouse contract): `GET {endpoint}?since=<epoch seconds>[&after=<jti>]` with HTTP Basic
 * resource-server credentials → 200 `{ revoked: [{ jti, exp, revoked_at }], next_since, next_after?,
 * server_time }`, ascending by `revoked_at` then `jti`, at most {@link REVOCATION_FEED_PAGE_SIZE} entries
 * (a full page means "ask again with `since=next_since&after=next_after`", which continues after its last
 * entry even within one second; entries may repeat across polls, so they are merged by `jti`); expired
 * tokens are omitted; 401 `invalid_client` on bad credentials.
 *
 * The bound: the first poll asks from `now − maxAccessTokenLifetimeSeconds − clockSkewSeconds` (every
 * revocation of a token that could still be presented), later polls from the previous `next_since`,
 * but never later than {@link REVOCATION_FEED_LOOKBACK_SECONDS} before the previous `server_time`.
 * A poll's knowledge is dated by when its first request was **sent** (the answer reflects the
 * authorization server's state no earlier than that), and {@link RevocationFeed.isRevoked} refuses to
 * answer once that date is more than `maxStalenessSeconds` old. A token revoked at time R is therefore
 * refused from the first poll sent after R — within `pollIntervalSeconds` while the feed answers — and
 * never accepted later than R + `maxStalenessSeconds`, even when the feed is down (then every token is
 * refused with 503 until it answers again).
 */
export function createRevocationFeed(options: RevocationFeedOptions): RevocationFeed {
  const fetchFunction = options.fetch ?? ((url: string, init: RequestInit) => fetch(url, init));
  const authorization = clientSecretBasicAuthorization(options.clientId, options.clientSecret);
  const pollIntervalMs = options.pollIntervalSeconds * 1000;
  const maxStalenessMs = options.maxStalenessSeconds * 1000;
  const maxPagesPerPoll = options.maxPagesPerPoll ?? DEFAULT_MAX_PAGES_PER_POLL;
  /** jti → exp (epoch seconds). */
  const revoked = new Map<string, number>();
  /** `since` of the next poll; `undefined` until a poll succeeded (then the catch-up window applies). */
  let cursor: number | undefined;
  /** When the first request of the last successful poll was sent, epoch milliseconds. */
  let lastSuccessSentAtMs: number | undefined;
  let lastFailure: RevocationFeedFailure | undefined;
  let inFlight: Promise<void> | undefined;
  let timer: TimerHandle | undefined;
  let started = false;
  let stopped = false;

  let resolveReady: () => void = () => undefined;
  let rejectReady: (error: Error) => void = () => undefined;
  const readyPromise = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // Nobody may be waiting on ready(); a rejection on stop must not become an unhandled rejection.
  readyPromise.catch(() => undefined);

  async function fetchPage(since: number, after: string | undefined): Promise<RevocationFeedPage> {
    const url = new URL(options.revocationFeedEndpoint);
    url.searchParams.set('since', String(since));
    if (after !== undefined) url.searchParams.set('after', after);
    let response: Response;
    try {
      response = await fetchFunction(url.href, {
        method: 'GET',
        headers: { authorization, accept: 'application/json' },
        // A redirect would carry our credentials elsewhere; the endpoint is configured, not discovered.
        redirect: 'manual',
        signal: AbortSignal.timeout(options.pollTimeoutMilliseconds),
      });
    } catch (error) {
      throw classifyFetchFailure(error);
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      const reason = response.status === 401 ? 'client_authentication_failed' : 'unexpected_response';
      throw new RevocationFeedFailure(reason, `revocation feed answered HTTP ${response.status}`);
    }
    let body: unknown;
    try {
      body = await response.json();
    } catch (error) {
      if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
        throw classifyFetchFailure(error);
      }
      throw new RevocationFeedFailure('unexpected_response', 'revocation feed answer is not JSON');
    }
    return readPage(body);
  }

  function forgetExpired(): void {
    const nowSeconds = options.now() / 1000;
    for (const [jti, exp] of revoked) {
      // Until exp + skew a token can still pass the exp check, so its revocation must be remembered.
      if (exp + options.clockSkewSeconds <= nowSeconds) {
        revoked.delete(jti);
      }
    }
  }

  async function pollOnce(): Promise<void> {
    const sentAtMs = options.now();
    let since = cursor ?? Math.floor(sentAtMs / 1000) - options.maxAccessTokenLifetimeSeconds - options.clockSkewSeconds;
    /** Within the second `since`, the last entry read: set only while following full pages. */
    let after: string | undefined;
    try {
      for (let pages = 1; ; pages += 1) {
        const page = await fetchPage(since, after);
        // Merged page by page: a revocation is honoured as soon as it is read.
        for (const entry of page.revoked) {
          revoked.set(entry.jti, entry.exp);
        }
        if (page.revoked.length < REVOCATION_FEED_PAGE_SIZE) {
          const serverTime = page.serverTime ?? page.nextSince;
          since = Math.min(page.nextSince, serverTime - REVOCATION_FEED_LOOKBACK_SECONDS);
          break;
        }
        // A full page names its last entry (`next_after`), and the next page starts after it: a second with
        // more revocations than a page (a burst of rotations, a client's tokens revoked at once) is read
        // through. Without `next_after` (an authorization server before it), only a later `next_since` moves
        // on; a full page that moves neither would be asked for again forever.
        const advances = page.nextSince > since || (page.nextAfter !== undefined && page.nextSince === since && (after === undefined || page.nextAfter > after));
        if (!advances) {
          throw new RevocationFeedFailure('unexpected_response', `revocation feed sent a full page without advancing past ${since}${after === undefined ? '' : ` after ${after}`}`);
        }
        if (pages >= maxPagesPerPoll) {
          throw new RevocationFeedFailure('unexpected_response', `revocation feed sent more than ${maxPagesPerPoll} full pages`);
        }
        since = page.nextSince;
        after = page.nextAfter;
      }
    } catch (error) {
      lastFailure = classifyFetchFailure(error);
      return;
    }
    cursor = since;
    lastSuccessSentAtMs = sentAtMs;
    lastFailure = undefined;
    forgetExpired();
  }

  function poll(): Promise<void> {
    if (inFlight === undefined) {
      inFlight = pollOnce().finally(() => {
        inFlight = undefined;
      });
    }
    return inFlight;
  }

  /**
   * One scheduled cycle: poll, then schedule the next poll one interval after this one started.
   * `ready()` resolves only after the next poll is scheduled, so a test that awaits it and then moves
   * its clock finds the timer in place.
   */
  async function cycle(): Promise<void> {
    timer = undefined;
    const startedAtMs = options.now();
    await poll();
    if (!stopped) {
      timer = options.scheduleTimer(cycle, Math.max(0, startedAtMs + pollIntervalMs - options.now()));
    }
    if (lastSuccessSentAtMs !== undefined) {
      resolveReady();
    }
  }

  return {
    start() {
      if (started || stopped) {
        return;
      }
      started = true;
      void cycle();
    },
    stop() {
      if (stopped) {
        return;
      }
      stopped = true;
      timer?.cancel();
      timer = undefined;
      rejectReady(new Error('the revocation feed was stopped before its first successful poll'));
    },
    ready() {
      return readyPromise;
    },
    get caughtUp() {
      return lastSuccessSentAtMs !== undefined;
    },
    async waitForCatchUp() {
      if (lastSuccessSentAtMs === undefined && inFlight !== undefined) {
        await inFlight;
      }
    },
    isRevoked(jti, nowMs) {
      const ageMs = lastSuccessSentAtMs === undefined ? Number.POSITIVE_INFINITY : (nowMs ?? options.now()) - lastSuccessSentAtMs;
      if (ageMs > maxStalenessMs) {
        const failure = lastFailure === undefined ? '' : `; last failure: ${lastFailure.message}`;
        const age = lastSuccessSentAtMs === undefined ? 'has not been read yet' : `was last read ${(ageMs / 1000).toFixed(1)} s ago`;
        throw new IntrospectionUnavailableError(
          'revocation_feed_stale',
          `the revocation feed ${age} (bound ${options.maxStalenessSeconds} s)${failure}`,
        );
      }
      return revoked.has(jti);
    },
    async poll() {
      await poll();
      if (lastSuccessSentAtMs !== undefined) {
        resolveReady();
      }
    },
    get revokedCount() {
      return revoked.size;
    },
  };
}
