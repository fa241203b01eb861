/** bench/turns.ts: groups run one at a time and hand over after each phase, round robin. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inTurns, type Turns } from '../../bench/turns.ts';

/** A group of `phases` phases, logging each step; `running` checks that no two groups ever run at once. */
function group(name: string, phases: number, log: string[], running: { count: number }, failAt?: number) {
  return async (turns: Turns) => {
    for (let phase = 1; phase <= phases; phase++) {
      running.count += 1;
      assert.equal(running.count, 1, 'one group at a time');
      await new Promise((resolve) => setTimeout(resolve, 1)); // work that awaits (I/O) keeps the turn
      log.push(`${name}${phase}`);
      running.count -= 1;
      if (phase === failAt) throw new Error(`${name} failed`);
      await turns.passTurn();
    }
  };
}

describe('bench turns', () => {
  it('runs one phase of each group in turn, in the order given, and lets the longer groups finish', async () => {
    const log: string[] = [];
    const running = { count: 0 };
    await inTurns([group('a', 2, log, running), group('b', 3, log, running), group('c', 1, log, running)]);
    assert.deepEqual(log, ['a1', 'b1', 'c1', 'a2', 'b2', 'b3']);
  });

  it('a group that throws hands over; the others finish, then the error is thrown', async () => {
    const log: string[] = [];
    const running = { count: 0 };
    await assert.rejects(inTurns([group('a', 3, log, running, 2), group('b', 3, log, running)]), /a failed/);
    assert.deepEqual(log, ['a1', 'b1', 'a2', 'b2', 'b3']);
  });

  it('passTurn with no other group waiting continues at once', async () => {
    const log: string[] = [];
    await inTurns([group('solo', 3, log, { count: 0 })]);
    assert.deepEqual(log, ['solo1', 'solo2', 'solo3']);
  });
});
