/**
 * Graceful shutdown (issue 14, "Run"): on SIGTERM (or SIGINT) the server stops accepting connections,
 * lets the requests in flight finish within a deadline (`GATEHOUSE_SHUTDOWN_GRACE_SECONDS`, default 10),
 * then closes storage and exits 0. What a request committed is answered; what it did not reach, it did
 * not do: a request is either never accepted (the client sees a refused connection, or a 503 with
 * `Connection: close` on a keep-alive connection, and may retry elsewhere) or runs to its answer.
 *
 * Past the deadline what still waits on the database is stopped first (Storage.cancelStatements: the
 * statements running on PostgreSQL, the operations waiting for SQLite's write lock), so that a request cut
 * at the deadline cannot commit afterwards (a refresh rotation waiting on a lock would otherwise commit once
 * the lock goes, with its answer lost: the client's only working refresh token would be the one it never
 * received). Their requests answer 503 within a second; then the remaining connections are
 * closed (their requests fail, which a deadline exists for: a stuck request must not hold a deploy),
 * storage is closed, and the process exits 1.
 *
 * A database that stops answering (packets dropped: no error, no reply) must not hold the process either:
 * stopping its statements, the wait for the last connections and closing storage each get a bounded time
 * (`ShutdownLimits`), after which the shutdown goes on as if they had finished, and reports a cut.
 */
import type { Server } from 'node:http';

export interface Closable {
  /** Stops accepting, waits for requests in flight (Fastify `close`: idle keep-alive connections are closed at once). */
  stopServing(): Promise<void>;
  /** The HTTP server, to cut the connections still open when the deadline passes. */
  httpServer: Pick<Server, 'closeAllConnections'>;
  /** Stops background work (the cleanup job) and closes storage; called after stopServing. */
  closeResources(): Promise<void>;
  /** At the deadline: stops storage's operations in flight (Storage.cancelStatements); @returns how many (informational). */
  cancelStatements?(): Promise<number>;
}

/** How long each step past the deadline may take, milliseconds (tests shorten them). */
export interface ShutdownLimits {
  /** After cancelling statements at the deadline, how long their requests have to send their 503 before connections are cut; also the most the cancelling itself may take. */
  answerAfterCancelMs: number;
  /** After the connections are cut, the most the server may take to report itself stopped. */
  stopAfterCutMs: number;
  /**
   * The least time closing storage (and background work: a webhook delivery, a trace export) is given: it gets
   * what is left of the grace, or this when more; past it the shutdown ends anyway, as cut.
   */
  closeResourcesMs: number;
}

const LIMITS: ShutdownLimits = { answerAfterCancelMs: 1_000, stopAfterCutMs: 2_000, closeResourcesMs: 5_000 };

/** Resolves `true` when `work` settles within `ms`, `false` when it does not (the work is left running). */
function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work.then(() => true, () => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Stops `target` gracefully.
 * @param graceSeconds how long requests in flight may take to finish; 0 cuts them at once.
 * @returns `true` when every request finished in time, `false` when the deadline cut some (or a step past it
 *   had to be given up: a database that no longer answers).
 */
export async function shutDownGracefully(target: Closable, graceSeconds: number, limits: ShutdownLimits = LIMITS): Promise<boolean> {
  const startedAt = Date.now();
  let cut = false;
  let stopped = false;
  let lastCall: NodeJS.Timeout | undefined;
  let giveUp: () => void = () => {};
  const givenUp = new Promise<void>((resolve) => {
    giveUp = resolve;
  });
  const cutConnections = () => {
    if (stopped) return;
    target.httpServer.closeAllConnections();
    // A request still waiting on a database that does not answer keeps the server from reporting itself stopped.
    lastCall = setTimeout(giveUp, limits.stopAfterCutMs);
  };
  const deadline = setTimeout(() => {
    cut = true;
    if (!target.cancelStatements) return cutConnections();
    // A second for their answers even when nothing was waiting to be stopped: an operation may be between
    // its commit and its answer (a SQLite batch opened in the deadline's own turn commits later in it).
    // Cancelling needs the database too: bounded like the rest.
    void settlesWithin(target.cancelStatements(), limits.answerAfterCancelMs).then((settled) => {
      if (stopped) return;
      if (settled) lastCall = setTimeout(cutConnections, limits.answerAfterCancelMs);
      else cutConnections();
    });
  }, graceSeconds * 1000);
  try {
    await Promise.race([target.stopServing(), givenUp]);
  } finally {
    stopped = true;
    clearTimeout(deadline);
    clearTimeout(lastCall);
  }
  const closing = target.closeResources();
  const graceLeftMs = graceSeconds * 1000 - (Date.now() - startedAt);
  if (!(await settlesWithin(closing, Math.max(graceLeftMs, limits.closeResourcesMs)))) return false;
  await closing; // a close that failed is reported (exitGracefullyOnSignals: exit 1)
  return !cut;
}

/**
 * Installs the signal handlers of a server process: the first SIGTERM or SIGINT calls `shutDown` (e.g.
 * RunningAuthorizationServer.shutDown with the configured grace) and exits with 0 when it reports every
 * request finished in time, else 1; a second signal exits at once with 1.
 */
export function exitGracefullyOnSignals(shutDown: () => Promise<boolean>, log: (message: string, details?: Record<string, unknown>) => void = () => {}): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log('second signal: exiting at once', { signal });
      process.exit(1);
    }
    stopping = true;
    log('shutting down: no new connections, finishing requests in flight', { signal });
    shutDown().then(
      (inTime) => {
        log(inTime ? 'shut down cleanly' : 'shut down after the grace deadline cut requests in flight');
        process.exit(inTime ? 0 : 1);
      },
      (error: unknown) => {
        log('shutdown failed', { error: error instanceof Error ? error.message : String(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
