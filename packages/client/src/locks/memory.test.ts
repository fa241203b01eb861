import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryLock } from './memory.ts';

describe('memory lock (one process)', { timeout: 10_000 }, () => {
  it('runs holders of one key one at a time, in arrival order', async () => {
    const lock = createMemoryLock();
    const order: string[] = [];
    let inside = 0;
    await Promise.all(['a', 'b', 'c'].map((name) => lock.withLock('k', async () => {
      inside++;
      assert.equal(inside, 1);
      order.push(name);
      await new Promise((resolve) => setImmediate(resolve));
      inside--;
    })));
    assert.deepEqual(order, ['a', 'b', 'c']);
  });

  it('does not serialize different keys, and releases when the work throws', async () => {
    const lock = createMemoryLock();
    const held = Promise.withResolvers<void>();
    const first = lock.withLock('one', () => held.promise);
    assert.equal(await lock.withLock('two', async () => 'independent'), 'independent');
    held.resolve();
    await first;
    await assert.rejects(lock.withLock('one', async () => {
      throw new Error('boom');
    }), /boom/);
    assert.equal(await lock.withLock('one', async () => 'released'), 'released');
  });
});
