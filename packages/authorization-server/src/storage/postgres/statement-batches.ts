/**
 * Hot writes sent to PostgreSQL together when they have to wait (issue 12: group commit on PostgreSQL). An
 * operation is sent at the end of the event-loop turn that submitted it (`setImmediate`), with every other
 * operation the turn submitted, while fewer than `maxInFlight` calls are under way; the ones that arrive
 * meanwhile queue, and the next free slot sends every queued one (up to `maxBatchSize`) as ONE statement:
 * one round trip, one executor start-up, one commit (one WAL flush) for all of them. Nothing waits for a
 * batch to fill: an idle server sends each operation alone, a busy one shares those costs. Sent at once
 * instead, the first operations of a busy turn each took a slot of their own (2026-12-06, twentieth
 * session: token lookups 16 instead of 32–61 µs of PostgreSQL CPU per introspection, bench/README.md).
 *
 * A batch is one statement: all of it commits or none, and each caller's answer comes after that commit.
 * A batch that fails for anything but an unreachable database (StorageUnavailableError: the same for
 * every operation in it) runs again one operation at a time, so that one operation's fault (say, a
 * duplicate key) is not its neighbours'. So does a batch PostgreSQL cancelled (`statement_timeout`): the
 * database may be stuck, but more often one operation waits on a row another transaction holds (a long
 * revocation), and its neighbours should not answer 503 for it. The operations then run at once, each
 * alone, so that the one still waiting holds up nobody (a stuck database fails them all, each after its
 * own timeout or the pool's wait for a connection). Used by the refresh rotation (stores/refresh-rotation-batches.ts)
 * and the code exchange (stores/grants.ts).
 */
import { StorageUnavailableError } from '../storage-unavailable.ts';
import { isStatementCancelled } from './postgres-unavailable.ts';
import { atTurnEnd } from '../turn-end.ts';

export interface StatementBatchOptions {
  /** Calls under way at once; the rest queue and go together. Default 2 (DEFAULT_BATCHES_IN_FLIGHT). */
  maxInFlight?: number;
  /** Operations per call at most. Default 64. */
  maxBatchSize?: number;
}

/**
 * Two: measured on the two-core bench machine (bench/README.md, fourteenth session), 1 to 4 refresh
 * rotation calls in flight all beat one statement per rotation by 1.5–2×, and 2 was best. It leaves the
 * rest of the pool (10 connections by default) to every other operation.
 */
export const DEFAULT_BATCHES_IN_FLIGHT = 2;

export interface StatementBatches<I, O> {
  /** The operation's answer, once the statement that carried it has committed. */
  submit(item: I): Promise<O>;
}

/** `runBatch` sends its items as one statement and answers each, in their order. */
export function createStatementBatches<I, O>(runBatch: (items: I[]) => Promise<O[]>, options: StatementBatchOptions = {}): StatementBatches<I, O> {
  const maxInFlight = options.maxInFlight ?? DEFAULT_BATCHES_IN_FLIGHT;
  const maxBatchSize = options.maxBatchSize ?? 64;
  const queue: Array<{ item: I; resolve(answer: O): void; reject(error: unknown): void }> = [];
  let inFlight = 0;

  const send = async (batch: typeof queue) => {
    try {
      const answers = await runBatch(batch.map((entry) => entry.item));
      for (const [i, entry] of batch.entries()) entry.resolve(answers[i]!);
    } catch (error) {
      if (batch.length === 1 || (error instanceof StorageUnavailableError && !isStatementCancelled(error))) {
        for (const entry of batch) entry.reject(error);
        return;
      }
      // Rare: each alone, all at once, within this batch's slot.
      await Promise.all(batch.map(async (entry) => {
        try {
          entry.resolve((await runBatch([entry.item]))[0]!);
        } catch (alone) {
          entry.reject(alone);
        }
      }));
    }
  };
  const pump = () => {
    while (queue.length > 0 && inFlight < maxInFlight) {
      const batch = queue.splice(0, maxBatchSize);
      inFlight++;
      void send(batch).finally(() => {
        inFlight--;
        pump();
      });
    }
  };
  /** The turn's submissions go together: sent when the turn ends, if a slot is free then. */
  const pumpAtTurnEnd = atTurnEnd(pump);
  return {
    submit(item) {
      return new Promise((resolve, reject) => {
        queue.push({ item, resolve, reject });
        if (inFlight < maxInFlight) pumpAtTurnEnd(); // else a slot's end sends the queue
      });
    },
  };
}
