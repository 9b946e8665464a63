/** Small helpers shared by the benchmark scripts. */

/** The median of a list of numbers. */
export function median(xs: number[]): number {
  return quantile(xs, 0.5);
}

/** The q-quantile (0..1) of a list of numbers, nearest rank. */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Runs `task` for each index with at most `limit` running at once. */
export async function pool(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/** One printed and recorded figure. */
export interface BenchRow {
  bench: string;
  case: string;
  value: number;
  unit: string;
  note?: string;
}
