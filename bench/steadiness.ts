/**
 * How steady the machine was during a run, read from the work every round repeats unchanged: the JSON
 * floor and the in-memory peer do the same amount of work in each round, so when one's throughput moves
 * by a large factor between rounds the machine changed under the run (a noisy neighbour, a throttled
 * virtual CPU), and the ratios of that run describe the machine as much as the code.
 */

/** Throughput that moves by more than this factor between rounds (highest ÷ lowest) marks the run unsteady. */
export const UNSTEADY_SPREAD = 1.25;

export interface ReferenceRounds {
  /** What was measured, as the table names it (`oidc-provider 9 · memory · introspection`). */
  label: string;
  /** Its throughput in each round, operations per second. */
  opsPerSecond: readonly number[];
}

/** The references whose throughput moved by more than `maxSpread` between rounds, with their range. */
export function unsteadyReferences(references: readonly ReferenceRounds[], maxSpread = UNSTEADY_SPREAD): { label: string; lowest: number; highest: number; spread: number }[] {
  return references.flatMap(({ label, opsPerSecond }) => {
    const measured = opsPerSecond.filter((value) => Number.isFinite(value) && value > 0);
    if (measured.length < 2) return [];
    const lowest = Math.min(...measured);
    const highest = Math.max(...measured);
    const spread = highest / lowest;
    return spread > maxSpread ? [{ label, lowest, highest, spread }] : [];
  });
}
