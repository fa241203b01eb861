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

/** After cancelling statements at the deadline, how long their requests have to send their 503 before connections are cut. */
const ANSWER_AFTER_CANCEL_MS = 1_000;

/**
 * Stops `target` gracefully.
 * @param graceSeconds how long requests in flight may take to finish; 0 cuts them at once.
 * @returns `true` when every request finished in time, `false` when the deadline cut some.
 */
export async function shutDownGracefully(target: Closable, graceSeconds: number): Promise<boolean> {
  let cut = false;
  let stopped = false;
  let lastCall: NodeJS.Timeout | undefined;
  const cutConnections = () => {
    if (!stopped) target.httpServer.closeAllConnections();
  };
  const deadline = setTimeout(() => {
    cut = true;
    if (!target.cancelStatements) return cutConnections();
    // A second for their answers even when nothing was waiting to be stopped: an operation may be between
    // its commit and its answer (a SQLite batch opened in the deadline's own turn commits later in it).
    target.cancelStatements().then(
      () => {
        lastCall = setTimeout(cutConnections, ANSWER_AFTER_CANCEL_MS);
      },
      () => cutConnections(),
    );
  }, graceSeconds * 1000);
  try {
    await target.stopServing();
  } finally {
    stopped = true;
    clearTimeout(deadline);
    clearTimeout(lastCall);
  }
  await target.closeResources();
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
