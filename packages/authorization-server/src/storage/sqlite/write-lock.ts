/**
 * Taking SQLite's write lock with a wait measured by the clock (issue 12).
 *
 * `busy_timeout` makes SQLite sleep and retry while another connection holds the write lock, but its busy
 * handler adds up the sleeps it *asked* for, not the time that passed: a signal cuts each sleep short
 * (`usleep` returns on EINTR), so under a steady stream of signals the timeout runs out almost at once.
 * Measured: with `--cpu-prof` (V8's sampler sends SIGPROF every few hundred µs) a 5 s `busy_timeout` gave
 * up after ~60 ms, and the request failed with 503. `beginImmediate` keeps trying `BEGIN IMMEDIATE`
 * until a deadline by the wall clock, sleeping briefly between attempts with `Atomics.wait` (which resumes
 * its wait after a signal until its own timeout has passed). SQLite's own busy handler is off during the
 * attempts (`busy_timeout` 0, restored after), so that this loop is the only wait, and so that a caller that
 * must not block the thread can make one attempt (`wait: false`) and wait elsewhere (group-commit.ts: the
 * event loop keeps serving while another process holds the lock).
 */
import type { DatabaseSync } from 'node:sqlite';

/** SQLite's primary result code for "another connection holds the lock" (https://sqlite.org/rescode.html). */
const SQLITE_BUSY = 5;

export interface BeginImmediateOptions {
  /** How long to keep trying, in milliseconds of wall-clock time from the first attempt (default 5000: the storage's busy_timeout). */
  timeoutMilliseconds?: number;
  /**
   * false: one attempt, and SQLITE_BUSY at once if another connection holds the lock (the caller waits
   * without blocking the thread). Default true: retry until the deadline.
   */
  wait?: boolean;
  /** The pause between attempts, in milliseconds (default 2–6, jittered so that waiting processes do not retry in step). */
  sleep?(milliseconds: number): void;
  /** The clock, in milliseconds (default `Date.now`); tests replace it. */
  now?(): number;
}

/** Whether `error` is node:sqlite's SQLITE_BUSY (primary code 5, any extended code). */
export function isSqliteBusy(error: unknown): boolean {
  if (!(error instanceof Error) || (error as { code?: unknown }).code !== 'ERR_SQLITE_ERROR') return false;
  const errcode = (error as { errcode?: unknown }).errcode;
  return typeof errcode === 'number' && (errcode & 0xff) === SQLITE_BUSY;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread for `milliseconds`; Atomics.wait's timeout is absolute, a signal does not shorten it. */
const sleepSync = (milliseconds: number): void => {
  Atomics.wait(sleeper, 0, 0, milliseconds);
};

/**
 * Per connection: the SQL that turns SQLite's busy handler off and back on to the connection's own timeout.
 * Run with `exec` each time: SQLite applies `PRAGMA busy_timeout = N` when the statement is compiled, so a
 * prepared one run again changes nothing.
 */
const busyHandlers = new WeakMap<DatabaseSync, { off: string; on: string }>();

function busyHandlerOf(db: DatabaseSync): { off: string; on: string } {
  let handler = busyHandlers.get(db);
  if (!handler) {
    const timeout = Number((db.prepare('PRAGMA busy_timeout').get() as { timeout?: unknown } | undefined)?.timeout ?? 0);
    handler = { off: 'PRAGMA busy_timeout = 0', on: `PRAGMA busy_timeout = ${Math.max(0, Math.trunc(timeout))}` };
    busyHandlers.set(db, handler);
  }
  return handler;
}

/**
 * Runs `BEGIN IMMEDIATE` on `db`; while it fails with SQLITE_BUSY, sleeps a few milliseconds and tries
 * again, until `timeoutMilliseconds` of wall-clock time have passed since the first attempt (with
 * `wait: false`, one attempt only).
 * @throws the last SQLITE_BUSY error once the deadline has passed, or at once with `wait: false` (callers
 *   translate it: sqlite-unavailable.ts, 503 per SPEC decision 18); any other error at once.
 */
export function beginImmediate(db: DatabaseSync, options: BeginImmediateOptions = {}): void {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? sleepSync;
  const deadline = now() + (options.timeoutMilliseconds ?? 5_000);
  const busyHandler = busyHandlerOf(db);
  db.exec(busyHandler.off);
  try {
    for (;;) {
      try {
        db.exec('BEGIN IMMEDIATE');
        return;
      } catch (error) {
        if (!isSqliteBusy(error) || options.wait === false || now() >= deadline) throw error;
      }
      sleep(Math.min(2 + Math.floor(Math.random() * 5), Math.max(1, deadline - now())));
    }
  } finally {
    db.exec(busyHandler.on);
  }
}
