/**
 * The median of measurements: the middle value once sorted, and for an even count the upper of the two
 * middle ones, so it is always a value that was measured (a row can show that round's other figures).
 * NaN for no values.
 */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
