/**
 * The shutdown's bounds past the deadline (operations/shutdown.ts): a database that stops answering (no
 * error, no reply) must not keep a stopping process alive. Each step is a promise that never settles here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shutDownGracefully, type Closable } from './shutdown.ts';

const QUICK = { answerAfterCancelMs: 5, stopAfterCutMs: 5, closeResourcesMs: 5 };
const never = () => new Promise<never>(() => {});

describe('shutDownGracefully past the deadline, with a database that no longer answers', () => {
  it('gives up on stopping statements, on the last requests and on closing storage, and reports a cut', async () => {
    let cuts = 0;
    const target: Closable = {
      stopServing: never, // a request waits on the database forever
      httpServer: { closeAllConnections: () => void cuts++ },
      closeResources: never, // the pool's end waits on it too
      cancelStatements: never, // and so does cancelling
    };
    assert.equal(await shutDownGracefully(target, 0, QUICK), false);
    assert.equal(cuts, 1, 'the connections were cut');
  });

  it('without cancelStatements: the same bounds', async () => {
    const target: Closable = { stopServing: never, httpServer: { closeAllConnections: () => {} }, closeResources: never };
    assert.equal(await shutDownGracefully(target, 0, QUICK), false);
  });

  it('gives a slow close what is left of the grace: a webhook delivery finishing within it is no cut', async () => {
    const slowClose: Closable = {
      stopServing: async () => {}, httpServer: { closeAllConnections: () => assert.fail('nothing to cut') },
      closeResources: () => new Promise<void>((resolve) => setTimeout(resolve, 50)), // ten times closeResourcesMs
    };
    assert.equal(await shutDownGracefully(slowClose, 30, QUICK), true);
  });

  it('reports a clean stop as clean, and a close that fails as a failure', async () => {
    const clean: Closable = { stopServing: async () => {}, httpServer: { closeAllConnections: () => assert.fail('nothing to cut') }, closeResources: async () => {} };
    assert.equal(await shutDownGracefully(clean, 10, QUICK), true);
    const failing: Closable = { ...clean, closeResources: async () => { throw new Error('close failed'); } };
    await assert.rejects(shutDownGracefully(failing, 10, QUICK), /close failed/);
  });
});
