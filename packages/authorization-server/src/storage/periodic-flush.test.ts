import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startPeriodicFlush } from './periodic-flush.ts';

describe('periodic flush (the background writers\' shared timer and one-send-at-a-time rule)', () => {
  it('a tick sends; a tick while a send is under way skips; flush() waits for the one under way, then sends; stop() stops the timer', async () => {
    let tick: () => void = () => {};
    let stopped = false;
    let sends = 0;
    const releases: Array<() => void> = [];
    const periodic = startPeriodicFlush(() => {
      sends++;
      return new Promise<void>((resolve) => releases.push(resolve));
    }, 1000, (run, intervalMs) => {
      assert.equal(intervalMs, 1000);
      tick = run;
      return { stop: () => { stopped = true; } };
    });
    tick();
    assert.equal(sends, 1);
    tick();
    assert.equal(sends, 1, 'under way: the tick skips');
    const flushed = periodic.flush();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(sends, 1, 'flush() waits for the send under way');
    releases[0]!();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(sends, 2, 'then sends');
    releases[1]!();
    await flushed;
    periodic.stop();
    assert.equal(stopped, true);
  });

  it('settled() waits for the send under way and starts none; with none under way it resolves at once', async () => {
    let tick: () => void = () => {};
    let sends = 0;
    let release: () => void = () => {};
    const periodic = startPeriodicFlush(() => {
      sends++;
      return new Promise<void>((resolve) => { release = resolve; });
    }, 1000, (run) => {
      tick = run;
      return { stop: () => {} };
    });
    await periodic.settled();
    assert.equal(sends, 0, 'nothing under way: nothing sent');
    tick();
    let settled = false;
    const waiting = periodic.settled().then(() => { settled = true; });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'waits for the send under way');
    release();
    await waiting;
    assert.equal(sends, 1, 'and starts no other');
  });

  it('settled() resolves when the send under way rejects (flush() rejects with it)', async () => {
    let fail: (error: Error) => void = () => {};
    const periodic = startPeriodicFlush(() => new Promise<void>((_, reject) => { fail = reject; }), 1000, () => ({ stop: () => {} }));
    const flushed = periodic.flush().then(() => 'sent', (error: Error) => error.message);
    await new Promise((resolve) => setImmediate(resolve));
    const waiting = periodic.settled();
    fail(new Error('storage unavailable'));
    await waiting;
    assert.equal(await flushed, 'storage unavailable');
  });
});
