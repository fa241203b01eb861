import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { atTurnEnd } from './turn-end.ts';

describe('atTurnEnd (issue 12: a turn\'s work sent together)', () => {
  it('runs the task once when the turn ends, however often the turn scheduled it, and again for a later turn', async () => {
    let runs = 0;
    const schedule = atTurnEnd(() => {
      runs += 1;
    });
    schedule();
    schedule();
    await Promise.resolve();
    schedule(); // the turn's promise work schedules too
    assert.equal(runs, 0, 'not before the turn ends');
    await nextTurn();
    assert.equal(runs, 1);
    schedule();
    await nextTurn();
    assert.equal(runs, 2, 'a later turn: once more');
  });
});
