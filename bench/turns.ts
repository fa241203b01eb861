/**
 * Groups that take turns (bench/authorization-server.ts): each group's code runs alone, and a group hands
 * over at `passTurn()` (after a measured phase) to the next one waiting, round robin. So the peer's refresh
 * rotation, Gatehouse on SQLite's and Gatehouse on PostgreSQL's are measured one after the other,
 * seconds apart, instead of whole groups minutes apart: on a machine whose speed drifts, the two sides of a
 * ratio see the same machine. Nothing of one group (its seeding, its logins, its phases) overlaps another's.
 */
export interface Turns {
  /** Hands over to the next group waiting and resolves when this group's turn comes again (at once if none waits). */
  passTurn(): Promise<void>;
}

/**
 * Runs `groups` in turns, in the order given (the first starts, the others wait for their first turn).
 * A group that ends, or throws, hands over for good.
 * @returns when every group has ended.
 * @throws the first error a group threw, once every group has ended.
 */
export async function inTurns(groups: readonly ((turns: Turns) => Promise<void>)[]): Promise<void> {
  const waiting: (() => void)[] = [];
  const wait = () => new Promise<void>((resolve) => waiting.push(resolve));
  const handOver = () => waiting.shift()?.();
  const turns: Turns = {
    async passTurn() {
      if (waiting.length === 0) return;
      const mine = wait();
      handOver();
      await mine;
    },
  };
  // Queued now, in order: the second group's first turn comes first.
  const firstTurns = groups.map((_, index) => (index === 0 ? Promise.resolve() : wait()));
  const outcomes = await Promise.allSettled(groups.map(async (group, index) => {
    await firstTurns[index];
    try {
      await group(turns);
    } finally {
      handOver();
    }
  }));
  const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed) throw failed.reason;
}
