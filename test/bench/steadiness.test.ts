/** bench/steadiness.ts: which repeated, unchanged work moved too much between rounds to trust a run's ratios. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UNSTEADY_SPREAD, unsteadyReferences } from '../../bench/steadiness.ts';

describe('bench steadiness', () => {
  it('names the references whose throughput moved by more than the spread between rounds, with their range', () => {
    const found = unsteadyReferences([
      { label: 'floor · Fastify JSON POST · small JSON POST', opsPerSecond: [29_136, 30_821, 30_955] },
      { label: 'oidc-provider 9 · memory · introspection', opsPerSecond: [3_058, 6_402, 6_194] },
    ]);
    assert.deepEqual(found.map(({ label, lowest, highest }) => ({ label, lowest, highest })), [
      { label: 'oidc-provider 9 · memory · introspection', lowest: 3_058, highest: 6_402 },
    ]);
    assert.ok(found[0]!.spread > 2.09 && found[0]!.spread < 2.1);
  });

  it('needs two measured rounds, and a spread of exactly the limit is steady', () => {
    assert.deepEqual(unsteadyReferences([{ label: 'one round', opsPerSecond: [1_000] }]), []);
    assert.deepEqual(unsteadyReferences([{ label: 'a failed round', opsPerSecond: [1_000, 0, Number.NaN] }]), []);
    assert.deepEqual(unsteadyReferences([{ label: 'at the limit', opsPerSecond: [1_000, 1_000 * UNSTEADY_SPREAD] }]), []);
  });
});
