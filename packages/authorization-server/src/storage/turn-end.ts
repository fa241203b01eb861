/**
 * What the batching paths that send a turn's work together share (issue 12): the SQLite read worker's
 * messages (sqlite/read-worker.ts) and PostgreSQL's statement batches (postgres/statement-batches.ts). A
 * batch that left at the first submission carried that one alone; one that leaves when the event-loop turn
 * ends (`setImmediate`, after the turn's I/O callbacks and their promise work) carries every submission of
 * the turn's requests (bench/README.md, "twentieth session").
 */

/**
 * @param task run once at the end of the turn in which the returned function was first called since `task`
 *   last ran, however often it is called meanwhile.
 * @returns the function that schedules it.
 */
export function atTurnEnd(task: () => void): () => void {
  let scheduled = false;
  return () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      task();
    });
  };
}
