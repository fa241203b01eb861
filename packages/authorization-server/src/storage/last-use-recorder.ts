/**
 * Last-use times written off the answer's path (issue 12, "one commit, fewest statements per request").
 *
 * An introspection of an access token older than a minute records its grant's use (`grants.lastUsedAt`,
 * the connected apps page), an API key's use its key's (`apiKeys.lastUsedAt`), and a request with a login
 * session its visit (`lastSeenAt`, the sessions page), at most once a minute each. Written as the answer's
 * own statement, that was a commit the answer waited for: with every token a minute old, introspections on
 * PostgreSQL fell to a quarter of their rate (bench/README.md, seventeenth session). The time is
 * informational, so it need not be durable before the answer: the caller notes the use here (synchronous,
 * no I/O) and every `flushIntervalMs` (default 1 s) the uses noted since go to storage in one statement per
 * `batchSize` ids (`grants.recordUses`, `apiKeys.recordUses`, `loginSessions.touch`), each id once with the
 * latest time noted for it. One recorder per kind of use (server-context.ts `lastUses`).
 *
 * What this gives up, deliberately: a use noted in the last interval before the process dies (SIGKILL, a
 * crash) is lost, and a page read on any instance shows a use up to one interval late. A graceful stop
 * (`close()`, the server's `onClose`) writes what is pending, waiting at most `closeWaitMs` (default 2 s)
 * for it: a database that does not answer must not hold a shutdown for the sake of an informational time.
 *
 * A failed write (database unavailable, statement timeout) throws nothing: its uses go back to the pending
 * ones (keeping the later time of each id), `onFlushError` is told once per outage, and the next tick
 * retries. Memory is bounded: at `maxPending` ids a use of an id not yet pending is dropped (its time is
 * informational; the next use a minute later records it), which only happens while writes fail.
 */

import type { RecordedUse } from './storage.ts';
import { startPeriodicFlush, type StartTimer } from './periodic-flush.ts';

/** Default of `flushIntervalMs`: how late a recorded use may reach storage. */
export const DEFAULT_LAST_USE_FLUSH_INTERVAL_MS = 1000;
/** Default of `batchSize`: ids per statement. */
export const DEFAULT_LAST_USE_BATCH_SIZE = 1000;
/** Default of `maxPending`: ids held while writes fail. */
export const DEFAULT_LAST_USE_MAX_PENDING = 100_000;
/** Default of `closeWaitMs`: how long `close()` waits for its last write. */
export const DEFAULT_LAST_USE_CLOSE_WAIT_MS = 2000;

export interface LastUseRecorderOptions {
  /** Milliseconds between writes (a whole number ≥ 1; default DEFAULT_LAST_USE_FLUSH_INTERVAL_MS). */
  flushIntervalMs?: number;
  /** Ids per statement (a whole number ≥ 1; default DEFAULT_LAST_USE_BATCH_SIZE). */
  batchSize?: number;
  /** Ids held at most (a whole number ≥ 1; default DEFAULT_LAST_USE_MAX_PENDING). */
  maxPending?: number;
  /** Milliseconds `close()` waits for its last write before it gives up waiting (default DEFAULT_LAST_USE_CLOSE_WAIT_MS). */
  closeWaitMs?: number;
  /** Told the first failed write of an outage (default: nothing). */
  onFlushError?: (error: unknown) => void;
  /** Starts the periodic write (tests replace it to write by hand). Default: an unref'd `setInterval`. */
  startTimer?: StartTimer;
}

export interface LastUseRecorder {
  /** Notes a use; written at the next flush. Synchronous; never throws. After `close()`, ignored. */
  note(id: string, usedAt: number): void;
  /** Writes what is pending now (after a write already under way). Never throws: a failure keeps the uses pending. */
  flush(): Promise<void>;
  /**
   * Stops the timer and writes what is pending once (a failure is reported, not thrown); resolves when that
   * write finished or after `closeWaitMs`, whichever is first.
   */
  close(): Promise<void>;
  /** Ids noted and not yet written. */
  readonly pendingCount: number;
}

const isWholeNumber = (value: number) => Number.isInteger(value) && value >= 1;

/**
 * @param write stores one batch of distinct ids (one statement); may throw.
 * @throws RangeError when `flushIntervalMs`, `batchSize`, `maxPending` or `closeWaitMs` is not a whole number ≥ 1.
 */
export function createLastUseRecorder(write: (uses: RecordedUse[]) => Promise<void>, options: LastUseRecorderOptions = {}): LastUseRecorder {
  const flushIntervalMs = options.flushIntervalMs ?? DEFAULT_LAST_USE_FLUSH_INTERVAL_MS;
  const batchSize = options.batchSize ?? DEFAULT_LAST_USE_BATCH_SIZE;
  const maxPending = options.maxPending ?? DEFAULT_LAST_USE_MAX_PENDING;
  const closeWaitMs = options.closeWaitMs ?? DEFAULT_LAST_USE_CLOSE_WAIT_MS;
  if (!isWholeNumber(flushIntervalMs)) throw new RangeError('flushIntervalMs must be a positive integer');
  if (!isWholeNumber(batchSize)) throw new RangeError('batchSize must be a positive integer');
  if (!isWholeNumber(maxPending)) throw new RangeError('maxPending must be a positive integer');
  if (!isWholeNumber(closeWaitMs)) throw new RangeError('closeWaitMs must be a positive integer');
  /** id → the latest time noted for it. */
  let pending = new Map<string, number>();
  let failing = false;
  let closed = false;

  const note = (id: string, usedAt: number) => {
    // After close() nothing would ever write it (a request that ends during shutdown): dropped, as a use noted
    // in the last interval before a crash is.
    if (closed) return;
    const earlier = pending.get(id);
    if (earlier === undefined) {
      if (pending.size >= maxPending) return;
      pending.set(id, usedAt);
    } else if (usedAt > earlier) {
      pending.set(id, usedAt);
    }
  };

  const send = async () => {
    if (pending.size === 0) return; // an idle recorder sends nothing
    const sending = [...pending].map(([id, usedAt]) => ({ id, usedAt }));
    pending = new Map();
    for (let start = 0; start < sending.length; start += batchSize) {
      try {
        await write(sending.slice(start, start + batchSize));
        failing = false;
      } catch (error) {
        // This batch and the ones after it wait for the next tick; a use noted meanwhile keeps the later time.
        for (const use of sending.slice(start)) note(use.id, use.usedAt);
        if (!failing) options.onFlushError?.(error);
        failing = true;
        return;
      }
    }
  };

  // A slow write is not overlapped: the next tick sends what piled up (periodic-flush.ts).
  const { flush, stop } = startPeriodicFlush(send, flushIntervalMs, options.startTimer);

  return {
    note,
    flush,
    async close() {
      if (closed) return;
      closed = true;
      stop();
      let waited: NodeJS.Timeout | undefined;
      await Promise.race([flush(), new Promise<void>((resolve) => {
        waited = setTimeout(resolve, closeWaitMs);
        waited.unref();
      })]);
      clearTimeout(waited);
    },
    get pendingCount() {
      return pending.size;
    },
  };
}
