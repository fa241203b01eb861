/**
 * Group commit for the SQLite storage (issue 12, "Group commit on SQLite").
 *
 * Every write of one event-loop turn joins ONE transaction (a batch): the first opens `BEGIN IMMEDIATE`
 * and schedules the batch's COMMIT with `setImmediate`, so the turn's operations share one COMMIT and one
 * fsync (`synchronous=FULL` stays). Inside the batch, each `transaction(work)` runs in its own SAVEPOINT:
 * when it throws, `ROLLBACK TO` + `RELEASE` undo only its own writes, the batch's other members keep
 * theirs (its undo records are kept in memory: sqlite-storage.ts, `PRAGMA temp_store`). A plain write outside `transaction` joins the batch as it is (a failing statement undoes only
 * itself: SQLite's statement-level atomicity).
 *
 * Durability is not traded away: an operation's answer waits for the commit of every batch that holds its
 * writes, or uncommitted rows it read (`settled`), and, with `flush` (wal-sync.ts: the connection runs
 * `synchronous=NORMAL` and the WAL is flushed in the thread pool), for the flush that follows that commit;
 * so does a read of rows committed but not flushed yet. A flush that fails fails its batch, and every
 * operation after it (StorageUnavailableError, 503; `/health/ready` fails): once fdatasync has failed the
 * kernel may have dropped the pages it could not write, and a later flush that succeeds proves nothing
 * about them (PostgreSQL stops for the same reason); a restart recovers from what is on disk. A COMMIT that fails (SQLITE_BUSY, SQLITE_FULL,
 * SQLITE_IOERR) rolls the batch back and rejects every member with StorageUnavailableError (503); so does
 * an error after which SQLite rolled the whole transaction back by itself. The next write opens a fresh
 * batch. A batch holds the database's write lock for one turn only: other processes (the `gatehouse` CLI)
 * wait for it as before.
 *
 * While another process holds the write lock, an operation that has written nothing yet waits for it
 * without blocking the thread: its first write finds the lock taken (one `BEGIN IMMEDIATE` attempt,
 * write-lock.ts), the operation is abandoned before it changed anything, and `settled` runs it again a few
 * milliseconds later on a timer, until the lock timeout (5 s), after which it fails with
 * StorageUnavailableError (503, SPEC decision 18). Meanwhile the event loop serves every request that needs
 * no write lock (reads, `/health`, metadata). An operation that already wrote in an earlier turn cannot be
 * run again; it waits for the lock where it is, blocking, as every write did before.
 *
 * Reads share a transaction too: outside a batch, the reads of one turn run in one read transaction (a
 * deferred `BEGIN`), ended at the turn's end or when a write opens a batch. A commit by another process
 * (the CLI) is seen from the next turn on, as the client cache's `PRAGMA data_version` check already was
 * (sqlite-storage.ts); this process's own writes always end it first. A WAL reader blocks no writer, and
 * one turn is all it holds the WAL's read mark for.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { StorageUnavailableError } from '../storage-unavailable.ts';
import { beginImmediate, isSqliteBusy } from './write-lock.ts';

/** One open transaction shared by the writes of one turn; `committed` settles when its COMMIT has run. */
interface Batch {
  readonly committed: Promise<void>;
  resolve(): void;
  reject(error: StorageUnavailableError): void;
}

export interface GroupCommit {
  /** Runs `work` (one statement that may write) in the current batch, opening one if none is open. */
  write<T>(work: () => T): T;
  /** Runs `work` (a read): when a batch is open the read may see its uncommitted rows, so the caller waits for it. */
  read<T>(work: () => T): T;
  /** Runs `work` in its own SAVEPOINT of the current batch: its writes commit with the batch, or none does. */
  transaction<T>(work: () => T): T;
  /**
   * The current batch's commit, or the last commit's flush (rejects with StorageUnavailableError when it
   * fails, and from then on); resolved when none is open or pending.
   */
  durable(): Promise<void>;
  /**
   * Calls `operation` and resolves with its result only once every batch it wrote to or read uncommitted
   * rows from has committed (across its own awaits too); rejects with StorageUnavailableError if one failed.
   */
  settled<T>(operation: () => Promise<T>): Promise<T>;
  /** Commits the open batch now (closing; or another connection of this process needs the write lock). */
  commitNow(): void;
  /**
   * Shutdown's deadline (Storage.cancelStatements): from now on no batch begins, and the operations waiting
   * for another connection's write lock fail with `refusal` (503) instead of trying again, so none commits
   * after its request was cut. The open batch, if any, still commits. @returns how many operations were waiting.
   */
  refuseNewBatches(refusal: StorageUnavailableError): number;
}

/** The running storage operation, followed across its awaits: the batches it touched, and whether it has written. */
interface Operation {
  readonly touched: Batch[];
  wrote: boolean;
}
const runningOperation = new AsyncLocalStorage<Operation>();

/**
 * An operation's first write found another connection holding the write lock: nothing of the operation was
 * written, and `settled` runs it again after a pause. A StorageUnavailableError, so that past the lock
 * timeout it is answered as one (503).
 */
class WriteLockTakenError extends StorageUnavailableError {}

/** Every group commit of this process with an open batch. */
const openGroups = new Set<GroupCommit>();

const resolved = Promise.resolve();

/**
 * Commits every open batch of this process. Another connection of the same process (a second storage on
 * the file, or migrations) would otherwise wait for a lock that only this thread can release: SQLite's
 * busy handler sleeps synchronously, the batch's COMMIT never runs, and the wait ends in SQLITE_BUSY.
 */
export function commitOpenBatches(): void {
  for (const group of [...openGroups]) group.commitNow();
}

export interface GroupCommitOptions {
  /** Runs on the connection outside any transaction before each batch begins (checkpoint-worker.ts). */
  beforeBatch?(): void;
  /**
   * Makes every write committed before the call durable (wal-sync.ts), for a connection whose COMMIT does
   * not flush by itself (`synchronous=NORMAL`). Without it a batch is done when its COMMIT returns.
   */
  flush?(): Promise<void>;
  /** How long an operation waits for another connection's write lock before it fails (503), milliseconds; default 5000. */
  lockTimeoutMilliseconds?: number;
}

export function createGroupCommit(db: DatabaseSync, options: GroupCommitOptions = {}): GroupCommit {
  const lockTimeoutMilliseconds = options.lockTimeoutMilliseconds ?? 5_000;
  let batch: Batch | undefined;
  /** The last batch whose COMMIT ran and whose flush has not completed: its rows are visible, not yet durable. */
  let unflushed: Batch | undefined;
  /** Why a flush failed: from then on nothing is answered as durable. */
  let flushFailure: StorageUnavailableError | undefined;
  let scheduledCommit: NodeJS.Immediate | undefined;
  /** Set by refuseNewBatches: why no batch may begin any more. */
  let refusal: StorageUnavailableError | undefined;
  /** Operations in `settled` waiting to try again for the write lock. */
  let waitingForLock = 0;
  /** The end of the read transaction the turn's reads share while no batch is open (see `read`). */
  let scheduledReadEnd: NodeJS.Immediate | undefined;
  const beginRead = db.prepare('BEGIN');
  // ROLLBACK, not COMMIT: it only read, and so a transaction a failed batch left open is never committed by it.
  const endRead = db.prepare('ROLLBACK');
  // One savepoint name for every operation: a nested transaction's ROLLBACK TO/RELEASE reach its own, the innermost.
  const savepoint = db.prepare('SAVEPOINT operation');
  const release = db.prepare('RELEASE operation');
  const rollbackTo = db.prepare('ROLLBACK TO operation');

  const record = (current: Batch, operation = runningOperation.getStore()) => {
    const touched = operation?.touched;
    if (touched && !touched.includes(current)) touched.push(current);
  };

  /** Ends `current` without committing it: every member fails (issue 12: never a success for a write that did not commit). */
  const abandon = (current: Batch, cause: unknown) => {
    if (batch !== current) return;
    close(current);
    try {
      if (db.isTransaction) db.exec('ROLLBACK');
    } catch {
      // The connection reports its state at the next statement; this batch has failed either way.
    }
    current.reject(cause instanceof StorageUnavailableError ? cause : new StorageUnavailableError(cause));
  };

  /** Ends the turn's read transaction, if one is open (before a batch begins, at the turn's end, at close). */
  const endReadTransaction = () => {
    if (scheduledReadEnd) clearImmediate(scheduledReadEnd);
    scheduledReadEnd = undefined;
    if (batch) return;
    openGroups.delete(group);
    // Without a batch, a transaction open on the connection is the turn's read transaction.
    if (!db.isTransaction) return;
    try {
      endRead.run();
    } catch {
      // Nothing it read is lost; the next write's join starts from a clean connection (ROLLBACK).
    }
  };

  const close = (current: Batch) => {
    if (batch === current) batch = undefined;
    openGroups.delete(group);
    if (scheduledCommit) clearImmediate(scheduledCommit);
    scheduledCommit = undefined;
  };

  /** The batch a write joins: the open one, or a new one (`BEGIN IMMEDIATE`, COMMIT scheduled for the end of the turn). */
  const join = (): Batch => {
    if (flushFailure) throw flushFailure;
    // Read once per write (an AsyncLocalStorage lookup): the batch's opening, `record` and `wrote` use it.
    const operation = runningOperation.getStore();
    // An error inside a transaction's work that the work caught may have made SQLite roll the batch back.
    if (batch && !db.isTransaction) abandon(batch, new Error('SQLite rolled the transaction back'));
    if (!batch) {
      if (refusal) throw refusal;
      commitOpenBatches();
      // A COMMIT and its ROLLBACK that both failed may have left a transaction open: start clean.
      if (db.isTransaction) db.exec('ROLLBACK');
      options.beforeBatch?.();
      // By the clock, not SQLite's busy handler: signals (SIGPROF under --cpu-prof) cut its sleeps short.
      // An operation that has written nothing yet does not wait here: `settled` runs it again on a timer.
      const mayRunAgain = operation !== undefined && !operation.wrote;
      try {
        beginImmediate(db, { wait: !mayRunAgain, timeoutMilliseconds: lockTimeoutMilliseconds });
      } catch (error) {
        if (mayRunAgain && isSqliteBusy(error)) throw new WriteLockTakenError(error);
        throw error;
      }
      let resolve!: () => void;
      let reject!: (error: StorageUnavailableError) => void;
      const committed = new Promise<void>((onResolve, onReject) => {
        resolve = onResolve;
        reject = onReject;
      });
      // Members await it; a batch whose members all failed on their own has no one to tell.
      committed.catch(() => {});
      batch = { committed, resolve, reject };
      openGroups.add(group);
      scheduledCommit = setImmediate(group.commitNow);
    }
    record(batch, operation);
    if (operation) operation.wrote = true;
    return batch;
  };

  const group: GroupCommit = {
    write(work) {
      const current = join();
      try {
        return work();
      } catch (error) {
        // SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY, SQLITE_NOMEM may roll the whole transaction back.
        if (!db.isTransaction) abandon(current, error);
        throw error;
      }
    },
    read(work) {
      if (flushFailure) throw flushFailure;
      if (batch && !db.isTransaction) abandon(batch, new Error('SQLite rolled the transaction back'));
      const current = batch;
      if (current) record(current);
      else {
        if (unflushed) record(unflushed);
        // Issue 12: outside a batch the turn's reads share one read transaction, ended with the turn (or
        // when a write opens a batch). Each statement on its own began and ended a read transaction of its
        // own: two fcntl locks and the WAL index's header checked, ~3.5 µs of a ~8 µs lookup by primary key.
        // Every read of the turn sees the database as of the turn's first read: this process's writes end it
        // first, and another process's commit is seen from the next turn on (as `PRAGMA data_version` is).
        if (!db.isTransaction) beginRead.run();
        openGroups.add(group);
        scheduledReadEnd ??= setImmediate(endReadTransaction);
      }
      try {
        return work();
      } catch (error) {
        if (current && !db.isTransaction) abandon(current, error);
        throw error;
      }
    },
    transaction(work) {
      const current = join();
      savepoint.run();
      try {
        const result = work();
        release.run();
        return result;
      } catch (error) {
        if (batch === current && db.isTransaction) {
          try {
            rollbackTo.run();
            release.run();
          } catch (rollbackError) {
            abandon(current, rollbackError);
          }
        } else {
          abandon(current, error);
        }
        throw error;
      }
    },
    durable() {
      // After a failed flush nothing is answered as durable (reads and writes throw it; the read worker waits here).
      if (flushFailure) return Promise.reject(flushFailure);
      return (batch ?? unflushed)?.committed ?? resolved;
    },
    async settled(operation) {
      let deadline: number | undefined;
      for (;;) {
        const running: Operation = { touched: [], wrote: false };
        try {
          const result = await runningOperation.run(running, operation);
          for (const current of running.touched) await current.committed;
          return result;
        } catch (error) {
          if (!(error instanceof WriteLockTakenError)) throw error;
          // Another connection holds the write lock, and nothing of this operation was written: try again
          // shortly (2–6 ms, jittered so that waiting operations do not retry in step), the thread free meanwhile.
          deadline ??= Date.now() + lockTimeoutMilliseconds;
          if (Date.now() >= deadline) throw error;
          waitingForLock++;
          try {
            await sleep(2 + Math.floor(Math.random() * 5));
          } finally {
            waitingForLock--;
          }
          if (refusal) throw refusal;
        }
      }
    },
    refuseNewBatches(why) {
      refusal = why;
      return waitingForLock;
    },
    commitNow() {
      endReadTransaction();
      const current = batch;
      if (!current) return;
      close(current);
      try {
        db.exec('COMMIT');
      } catch (error) {
        // Issue 12: a failed COMMIT fails every operation of the batch; nothing of it stays.
        try {
          if (db.isTransaction) db.exec('ROLLBACK');
        } catch {
          // As in abandon: the batch has failed either way.
        }
        current.reject(new StorageUnavailableError(error));
        return;
      }
      if (!options.flush) {
        current.resolve();
        return;
      }
      unflushed = current;
      // Flushes complete in order (wal-sync.ts), so this batch's flush also covers every earlier batch.
      options.flush().then(
        () => {
          if (unflushed === current) unflushed = undefined;
          if (flushFailure) current.reject(flushFailure);
          else current.resolve();
        },
        (error: unknown) => {
          if (unflushed === current) unflushed = undefined;
          flushFailure ??= new StorageUnavailableError(error);
          current.reject(flushFailure);
        },
      );
    },
  };
  return group;
}

/**
 * `target` with every method (of nested stores too) wrapped in `group.settled`: one wrapper over the
 * storage object, so that no method of it answers before its writes are durable.
 */
export function settledAfterCommits<T extends object>(target: T, group: GroupCommit): T {
  const wrapped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(target)) {
    if (typeof value === 'function') {
      wrapped[key] = (...args: unknown[]) => group.settled(() => value.apply(target, args));
    } else if (value !== null && typeof value === 'object') {
      wrapped[key] = settledAfterCommits(value, group);
    } else {
      wrapped[key] = value;
    }
  }
  return wrapped as T;
}
