/**
 * Issue 12: statement batches (statement-batches.ts), without a database: what one call carries — the
 * operations of one event-loop turn together, an idle submission alone, the queue at a slot's end — and
 * how a failed batch's operations are answered.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { StorageUnavailableError } from '../storage-unavailable.ts';
import { createStatementBatches } from './statement-batches.ts';

/** A runBatch that records each call's items and answers when `release()` is called (or at once). */
function recordingRunner(options: { hold?: boolean; failWhen?: (items: number[]) => Error | undefined } = {}) {
  const calls: number[][] = [];
  const held: Array<() => void> = [];
  const runBatch = async (items: number[]): Promise<string[]> => {
    calls.push(items);
    if (options.hold) await new Promise<void>((resolve) => held.push(resolve));
    const failure = options.failWhen?.(items);
    if (failure) throw failure;
    return items.map((item) => `answer ${item}`);
  };
  const release = () => {
    for (const resolve of held.splice(0)) resolve();
  };
  return { calls, runBatch, release };
}

describe('statement batches (issue 12)', () => {
  it("sends one turn's submissions as one call, when the turn ends", async () => {
    const runner = recordingRunner();
    const batches = createStatementBatches(runner.runBatch);
    const answers = Promise.all([1, 2, 3, 4].map((item) => batches.submit(item)));
    assert.deepEqual(runner.calls, [], 'nothing sent before the turn ends');
    assert.deepEqual(await answers, ['answer 1', 'answer 2', 'answer 3', 'answer 4']);
    assert.deepEqual(runner.calls, [[1, 2, 3, 4]]);
  });

  it('sends an idle submission alone in its own turn, and turns apart in calls of their own', async () => {
    const runner = recordingRunner();
    const batches = createStatementBatches(runner.runBatch);
    assert.equal(await batches.submit(1), 'answer 1');
    const second = batches.submit(2);
    await nextTurn();
    const third = batches.submit(3);
    assert.deepEqual(await Promise.all([second, third]), ['answer 2', 'answer 3']);
    assert.deepEqual(runner.calls, [[1], [2], [3]]);
  });

  it('with every slot taken, queues what follows and sends it all when a slot ends', async () => {
    const runner = recordingRunner({ hold: true });
    const batches = createStatementBatches(runner.runBatch, { maxInFlight: 1 });
    const first = batches.submit(1);
    await nextTurn();
    assert.deepEqual(runner.calls, [[1]]);
    const later = [2, 3].map((item) => batches.submit(item));
    await nextTurn();
    const last = batches.submit(4);
    await nextTurn();
    assert.deepEqual(runner.calls, [[1]], 'the slot is taken: the rest wait, over several turns');
    runner.release();
    assert.equal(await first, 'answer 1');
    await nextTurn();
    assert.deepEqual(runner.calls, [[1], [2, 3, 4]], 'the queue, three turns of it, in one call');
    runner.release();
    assert.deepEqual(await Promise.all([...later, last]), ['answer 2', 'answer 3', 'answer 4']);
  });

  it("runs a failed batch again one by one, so one operation's fault is not its neighbours'; an outage fails them all", async () => {
    const duplicate = Object.assign(new Error('duplicate key'), { code: '23505' });
    const runner = recordingRunner({ failWhen: (items) => (items.includes(2) ? duplicate : undefined) });
    const batches = createStatementBatches(runner.runBatch);
    const outcomes = await Promise.allSettled([1, 2, 3].map((item) => batches.submit(item)));
    assert.deepEqual(outcomes, [
      { status: 'fulfilled', value: 'answer 1' }, { status: 'rejected', reason: duplicate }, { status: 'fulfilled', value: 'answer 3' },
    ]);
    assert.deepEqual(runner.calls, [[1, 2, 3], [1], [2], [3]]);

    const outage = new StorageUnavailableError(new Error('connection terminated'));
    const down = recordingRunner({ failWhen: () => outage });
    const failing = createStatementBatches(down.runBatch);
    const refused = await Promise.allSettled([1, 2].map((item) => failing.submit(item)));
    assert.deepEqual(refused.map((outcome) => outcome.status), ['rejected', 'rejected']);
    assert.deepEqual(down.calls, [[1, 2]], 'no retry one by one: the same outage for every operation');
  });

  it('runs a batch PostgreSQL cancelled (statement_timeout) again one by one, all at once: one operation waiting on a lock holds up nobody', async () => {
    const cancelled = new StorageUnavailableError(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }));
    let releaseLock: () => void = () => undefined;
    const lockReleased = new Promise<void>((resolve) => {
      releaseLock = resolve;
    });
    const calls: number[][] = [];
    const answered: number[] = [];
    const batches = createStatementBatches(async (items: number[]) => {
      calls.push(items);
      if (items.length > 1 && items.includes(2)) throw cancelled; // the batch waited on item 2's row and was cancelled
      if (items[0] === 2) {
        await lockReleased; // alone, item 2 still waits for the row, then is cancelled again
        throw cancelled;
      }
      answered.push(items[0]!);
      return items.map((item) => `answer ${item}`);
    });
    const outcomes = Promise.allSettled([1, 2, 3].map((item) => batches.submit(item)));
    for (let turn = 0; answered.length < 2 && turn < 1_000; turn++) await nextTurn();
    assert.deepEqual(answered, [1, 3], 'answered while item 2 still waits');
    releaseLock();
    assert.deepEqual(await outcomes, [
      { status: 'fulfilled', value: 'answer 1' }, { status: 'rejected', reason: cancelled }, { status: 'fulfilled', value: 'answer 3' },
    ]);
    assert.deepEqual(calls, [[1, 2, 3], [1], [2], [3]]);
  });
});
