import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLastUseRecorder } from './last-use-recorder.ts';
import type { RecordedUse, Storage } from './storage.ts';
import { resolveOptions } from '../options.ts';
import { systemClock } from '../clock.ts';

/** A recorder whose timer a test ticks by hand, and the batches it wrote. */
function recorderWithManualTimer(options: Parameters<typeof createLastUseRecorder>[1] = {}, fail: () => boolean = () => false) {
  const batches: RecordedUse[][] = [];
  let tick: () => void = () => {};
  let stopped = false;
  const recorder = createLastUseRecorder(async (uses) => {
    if (fail()) throw new Error('database unavailable');
    batches.push(uses);
  }, {
    ...options,
    startTimer: (run) => {
      tick = run;
      return { stop: () => { stopped = true; } };
    },
  });
  return { recorder, batches, tick: () => tick(), stopped: () => stopped };
}

describe('last-use recorder (issue 12: uses written off the answer\'s path)', () => {
  it('writes each id once, with the latest time noted for it, in one batch per flush; an idle flush writes nothing', async () => {
    const { recorder, batches } = recorderWithManualTimer();
    recorder.note('a', 100);
    recorder.note('b', 101);
    recorder.note('a', 103);
    recorder.note('a', 102); // an earlier time never replaces a later one
    assert.equal(recorder.pendingCount, 2);
    await recorder.flush();
    assert.deepEqual(batches, [[{ id: 'a', usedAt: 103 }, { id: 'b', usedAt: 101 }]]);
    assert.equal(recorder.pendingCount, 0);
    await recorder.flush();
    assert.equal(batches.length, 1, 'nothing pending: no statement');
  });

  it('the timer\'s tick writes what was noted; close() stops the timer and writes what is left', async () => {
    const { recorder, batches, tick, stopped } = recorderWithManualTimer();
    recorder.note('a', 100);
    tick();
    await recorder.flush(); // waits for the tick's write
    assert.deepEqual(batches, [[{ id: 'a', usedAt: 100 }]]);
    recorder.note('b', 110);
    await recorder.close();
    assert.equal(stopped(), true);
    assert.deepEqual(batches[1], [{ id: 'b', usedAt: 110 }]);
  });

  it('after close() a use is not kept: nothing would ever write it', async () => {
    const { recorder, batches } = recorderWithManualTimer();
    recorder.note('a', 100);
    await recorder.close();
    recorder.note('b', 110);
    assert.equal(recorder.pendingCount, 0);
    await recorder.flush();
    await recorder.close(); // idempotent
    assert.deepEqual(batches, [[{ id: 'a', usedAt: 100 }]]);
  });

  it('splits a flush into batches of batchSize ids (one statement each)', async () => {
    const { recorder, batches } = recorderWithManualTimer({ batchSize: 2 });
    for (const id of ['a', 'b', 'c', 'd', 'e']) recorder.note(id, 1);
    await recorder.flush();
    assert.deepEqual(batches.map((batch) => batch.map((use) => use.id)), [['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('a failed write throws nothing, keeps its uses (the later time of each) for the next flush, and is reported once per outage', async () => {
    let down = true;
    const reported: unknown[] = [];
    const { recorder, batches } = recorderWithManualTimer({ onFlushError: (error) => reported.push(error) }, () => down);
    recorder.note('a', 100);
    await recorder.flush();
    recorder.note('a', 90);
    recorder.note('b', 95);
    await recorder.flush();
    assert.equal(reported.length, 1, 'once per outage');
    assert.equal(recorder.pendingCount, 2);
    down = false;
    await recorder.flush();
    assert.deepEqual(batches, [[{ id: 'a', usedAt: 100 }, { id: 'b', usedAt: 95 }]]);
    down = true;
    recorder.note('c', 120);
    await recorder.flush();
    assert.equal(reported.length, 2, 'a new outage is reported again');
  });

  it('holds at most maxPending ids: a new id beyond them is dropped, a pending id still moves forward', async () => {
    const { recorder, batches } = recorderWithManualTimer({ maxPending: 2 });
    recorder.note('a', 1);
    recorder.note('b', 1);
    recorder.note('c', 1);
    recorder.note('a', 5);
    assert.equal(recorder.pendingCount, 2);
    await recorder.flush();
    assert.deepEqual(batches, [[{ id: 'a', usedAt: 5 }, { id: 'b', usedAt: 1 }]]);
  });

  it('writes are never overlapped: a flush waits for the one under way', async () => {
    let release: () => void = () => {};
    const started: RecordedUse[][] = [];
    const recorder = createLastUseRecorder((uses) => {
      started.push(uses);
      return new Promise((resolve) => { release = resolve; });
    }, { startTimer: () => ({ stop() {} }) });
    recorder.note('a', 1);
    const first = recorder.flush();
    recorder.note('b', 2);
    const second = recorder.flush();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(started.length, 1, 'the second write waits');
    release();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(started[1], [{ id: 'b', usedAt: 2 }]);
    release();
    await second;
  });

  it('close() waits at most closeWaitMs for a write that does not finish (a database that does not answer holds no shutdown)', async () => {
    const recorder = createLastUseRecorder(() => new Promise(() => {}), { closeWaitMs: 50, startTimer: () => ({ stop() {} }) });
    recorder.note('a', 1);
    const started = performance.now();
    await recorder.close();
    const waitedMs = performance.now() - started;
    assert.ok(waitedMs >= 40 && waitedMs < 2000, String(waitedMs));
  });

  it('refuses settings that are not whole numbers ≥ 1', () => {
    const write = async () => {};
    assert.throws(() => createLastUseRecorder(write, { flushIntervalMs: 0 }), /flushIntervalMs must be a positive integer/);
    assert.throws(() => createLastUseRecorder(write, { batchSize: 1.5 }), /batchSize must be a positive integer/);
    assert.throws(() => createLastUseRecorder(write, { maxPending: -1 }), /maxPending must be a positive integer/);
    assert.throws(() => createLastUseRecorder(write, { closeWaitMs: 0 }), /closeWaitMs must be a positive integer/);
  });

  it('the server\'s lastUseFlushIntervalMs option: 1000 by default, a whole number of milliseconds 1..60000', () => {
    const base = { issuer: 'http://localhost:3000', environment: 'development' as const, accessTokenAudience: 'x', tokenHmacKey: Buffer.alloc(32), storage: {} as Storage };
    assert.equal(resolveOptions(base, systemClock).lastUseFlushIntervalMs, 1000);
    assert.equal(resolveOptions({ ...base, lastUseFlushIntervalMs: 60_000 }, systemClock).lastUseFlushIntervalMs, 60_000);
    for (const wrong of [0, 1.5, 60_001]) {
      assert.throws(() => resolveOptions({ ...base, lastUseFlushIntervalMs: wrong }, systemClock), /lastUseFlushIntervalMs must be a whole number of milliseconds, 1\.\.60000/);
    }
  });
});
