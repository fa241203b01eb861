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
});
