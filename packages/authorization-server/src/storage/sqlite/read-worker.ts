/**
 * Token lookups off the event loop (issue 12: SQLite introspection). The server's connection runs every
 * statement on the event loop, and an introspection is mostly one primary-key lookup (the token with its
 * grant): measured, the lookup and what wraps it were a fifth of an introspection's CPU, and the in-process
 * read was what SQLite's row had on top of PostgreSQL's, which sends the lookups that queue as one statement
 * to another process (bench/README.md, "sixteenth session"). This worker thread does the same for SQLite:
 * its own read-only connection to the database file answers the lookups that queued while one batch was
 * under way, all of them in one read transaction, and the event loop only sends digests and receives rows.
 * What crosses the threads is kept small, because every message costs both threads a wake-up and a copy: a
 * batch leaves at the end of the event-loop turn (`setImmediate`), so every lookup of the turn's requests is
 * in it, not only those after the first; its SELECT texts go once each, not once per lookup; and rows come
 * back as arrays of values with their column names once per statement (measured on a 2 × AMD EPYC VM,
 * `bench/README.md` "twentieth session": 14.6 lookups per message instead of 11.6, and an object's keys
 * copied per row made a batch's copy twice as slow as its values alone).
 *
 * What a lookup here sees: everything committed before it ran (WAL readers see the last commit), and never
 * an open batch's uncommitted rows. The answer waits for `durable()` (group-commit.ts): a row committed but
 * not flushed yet is not answered before its flush, and a failed flush fails the lookup, as on the server's
 * connection. A token reaches its client only after the commit that stored it, so the client's next
 * introspection finds it; an introspection concurrent with a revocation's open batch answers the state
 * before it, as it would had it run a moment earlier. Only lookups that no write follows come here
 * (introspection, revocation's lookup: its UPDATE re-checks the state); the refresh grant's reads stay on
 * the server's connection, inside its rotation's transaction.
 *
 * Until the worker has opened its connection (it starts with the first lookup), and for good should it
 * fail, lookups run on the server's connection as before (`fallback`): nothing the worker does takes a
 * lookup down with it. In-memory databases have no worker (another connection cannot see them).
 */
import { Worker } from 'node:worker_threads';
import type { SQLInputValue } from 'node:sqlite';
import { atTurnEnd } from '../turn-end.ts';

type Row = Record<string, SQLInputValue>;

export interface ReadWorker {
  /** The row of `text` (a SELECT with one parameter) for `parameter`, answered once `durable()` settles. */
  get(text: string, parameter: string): Promise<Row | undefined>;
  /** Lookups the worker answered (tests). */
  readonly served: number;
  /** Batches (messages) the worker answered (tests). */
  readonly batches: number;
  /** Settles when the worker's connection is open (or the worker failed to start). */
  readonly started: Promise<void>;
  /** Ends the worker after it closed its connection. */
  close(): Promise<void>;
}

export interface ReadWorkerOptions {
  /** Runs the lookup on the server's connection: before the worker is ready, or after it failed. */
  fallback(text: string, parameter: string): Row | undefined;
  /** The commit and flush of everything this process committed so far (group-commit.ts `durable`). */
  durable(): Promise<void>;
  /** Called once if the worker fails (tests, logs); lookups then stay on the server's connection. */
  onFailure?(error: unknown): void;
}

/** A batch as it crosses to the worker: each SELECT text once, then (index into `texts`, parameter) pairs. */
interface BatchMessage {
  texts: string[];
  lookups: (number | string)[];
}

/** A batch's answer: per lookup its row's values or null (none), and its statement's column names. */
interface AnswerMessage {
  ready?: true;
  rows?: (SQLInputValue[] | null)[];
  columns?: string[][];
  error?: string;
}

interface Pending {
  text: string;
  parameter: string;
  resolve(row: Row | undefined): void;
  reject(error: unknown): void;
}

/** The worker's loop, from its source text (see checkpoint-worker.ts: a .ts worker would load the type stripper too). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.path, { readOnly: true });
db.exec('PRAGMA busy_timeout = 5000');
db.exec('PRAGMA cache_size = -8192');
// text → { statement, columns }: rows as arrays of values, named by the statement's columns on the other side.
const statements = new Map();
const prepared = (text) => {
  let entry = statements.get(text);
  if (!entry) {
    const statement = db.prepare(text);
    statement.setReturnArrays(true);
    entry = { statement, columns: statement.columns().map((column) => column.name) };
    statements.set(text, entry);
  }
  return entry;
};
const begin = db.prepare('BEGIN');
const commit = db.prepare('COMMIT');
parentPort.on('message', (message) => {
  if (message === 'stop') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    // One read transaction for the batch: one snapshot, one WAL read mark, taken and let go here.
    begin.run();
    try {
      const { texts, lookups } = message;
      const entries = texts.map(prepared);
      const rows = [];
      const columns = [];
      for (let i = 0; i < lookups.length; i += 2) {
        const entry = entries[lookups[i]];
        rows.push(entry.statement.get(lookups[i + 1]) ?? null);
        // The statement's one array each time: the copy sends it once and refers to it after.
        columns.push(entry.columns);
      }
      parentPort.postMessage({ rows, columns });
    } finally {
      commit.run();
    }
  } catch (error) {
    parentPort.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
});
parentPort.postMessage({ ready: true });
`;

/** The batch's message: each text once, each lookup by its text's index. */
function batchMessage(batch: Pending[]): BatchMessage {
  const texts: string[] = [];
  const lookups: (number | string)[] = [];
  for (const entry of batch) {
    let index = texts.indexOf(entry.text);
    if (index < 0) index = texts.push(entry.text) - 1;
    lookups.push(index, entry.parameter);
  }
  return { texts, lookups };
}

/**
 * Makes rows as the server's connection returns them (the values under their column names) for one
 * statement's columns. Each row starts as a copy of one object that already has every column, so all of a
 * statement's rows share one shape and each value lands in a property that exists: built a property at a
 * time instead, a 23-column row cost ~4 µs of an introspection on the event loop (3.7% of a V8 profile).
 */
function rowMaker(columns: string[]): (values: SQLInputValue[]) => Row {
  const shape: Row = {};
  for (const column of columns) shape[column] = null;
  return (values) => {
    const row = { ...shape };
    for (let i = 0; i < columns.length; i++) row[columns[i]!] = values[i]!;
    return row;
  };
}

/** A read worker for the WAL database file at `path`, started by the first lookup. */
export function createReadWorker(path: string, options: ReadWorkerOptions): ReadWorker {
  let worker: Worker | undefined;
  let state: 'idle' | 'starting' | 'ready' | 'failed' | 'closed' = 'idle';
  let served = 0;
  let batches = 0;
  let queue: Pending[] = [];
  let inFlight: Pending[] | undefined;
  let exited: Promise<void> = Promise.resolve();
  let markStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });

  /** On the server's connection: a row of an open batch is answered after its commit, as every read waits (group-commit.ts). */
  const lookUpHere = async (text: string, parameter: string): Promise<Row | undefined> => {
    const row = options.fallback(text, parameter);
    await options.durable();
    return row;
  };
  const answerHere = (entries: Pending[]) => {
    for (const entry of entries) lookUpHere(entry.text, entry.parameter).then(entry.resolve, entry.reject);
  };
  const fail = (error: unknown) => {
    if (state === 'failed' || state === 'closed') return;
    state = 'failed';
    markStarted();
    options.onFailure?.(error);
    // What the worker had and what waited for it: answered here, as every lookup from now on.
    const waiting = [...(inFlight ?? []), ...queue];
    inFlight = undefined;
    queue = [];
    answerHere(waiting);
    void worker?.terminate();
  };
  const pump = () => {
    if (state !== 'ready' || inFlight || queue.length === 0) return;
    inFlight = queue;
    queue = [];
    // Referenced while a batch is out: a process with nothing else to do (a CLI command) waits for its answer.
    worker!.ref();
    worker!.postMessage(batchMessage(inFlight));
  };
  /** Sends the queue at the end of this event-loop turn, with every lookup the turn adds meanwhile. */
  const pumpAtTurnEnd = atTurnEnd(pump);
  const start = () => {
    state = 'starting';
    // execArgv []: the source is CommonJS, and a worker inherits the process's flags (`--input-type=module`
    // made it ES module source, where `require` is undefined, and the worker failed at its first line).
    worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { path } });
    // A process that never closes its storage still exits.
    worker.unref();
    exited = new Promise<void>((resolve) => worker!.once('exit', () => resolve()));
    worker.on('message', (message: AnswerMessage) => {
      if (message.ready) {
        if (state !== 'starting') return;
        state = 'ready';
        markStarted();
        pump();
        return;
      }
      const batch = inFlight;
      inFlight = undefined;
      worker!.unref();
      if (!batch) return;
      if (message.error !== undefined) {
        // The statement failed there (say, SQLITE_BUSY past busy_timeout): the server's connection answers
        // these, with its own error translation (503), and the worker takes the next batch.
        answerHere(batch);
      } else {
        served += batch.length;
        batches += 1;
        // Rows committed before the read may not be flushed yet: answered once they are (or failed with it).
        const rows = message.rows!;
        const columns = message.columns!;
        options.durable().then(
          () => {
            // One maker per statement of the batch: its column array arrives once and is shared by its lookups.
            const makers = new Map<string[], (values: SQLInputValue[]) => Row>();
            for (const [i, entry] of batch.entries()) {
              const values = rows[i]!;
              if (values === null) {
                entry.resolve(undefined);
                continue;
              }
              const statementColumns = columns[i]!;
              let make = makers.get(statementColumns);
              if (!make) makers.set(statementColumns, make = rowMaker(statementColumns));
              entry.resolve(make(values));
            }
          },
          (error: unknown) => {
            for (const entry of batch) entry.reject(error);
          },
        );
      }
      pumpAtTurnEnd();
    });
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (state !== 'closed') fail(Object.assign(new Error('the read worker exited'), { exitCode: code }));
    });
  };

  return {
    get(text, parameter) {
      if (state === 'idle') start();
      if (state !== 'ready') return lookUpHere(text, parameter);
      return new Promise((resolve, reject) => {
        queue.push({ text, parameter, resolve, reject });
        if (!inFlight) pumpAtTurnEnd();
      });
    },
    get served() {
      return served;
    },
    get batches() {
      return batches;
    },
    started,
    async close() {
      const running = state === 'ready' || state === 'starting';
      state = 'closed';
      markStarted();
      const waiting = [...(inFlight ?? []), ...queue];
      inFlight = undefined;
      queue = [];
      answerHere(waiting);
      if (running && worker) {
        // Keeps the process alive until the worker has closed its connection.
        worker.ref();
        worker.postMessage('stop');
        await exited;
      }
    },
  };
}
