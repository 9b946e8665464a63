/** One place where a projection disagrees with the log. */
export interface Difference {
  /** Which store and key, e.g. `mysql conversations[g:team].owner`. */
  where: string;
  /** What the log says. */
  expected: unknown;
  /** What the store holds. */
  actual: unknown;
}

/** Records a difference when `expected` and `actual` are not the same (compared as JSON). */
export type Diff = (where: string, expected: unknown, actual: unknown) => void;

/** A {@link Diff} collecting into `out`. */
export function differ(out: Difference[]): Diff {
  return (where, expected, actual) => {
    if (JSON.stringify(expected) !== JSON.stringify(actual)) out.push({ where, expected, actual });
  };
}

/** The object with its keys in order (so JSON comparisons ignore insertion order). */
export function sortObject<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
