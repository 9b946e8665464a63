import { ErrorCode, ParleyError } from '@parley/contracts';

/** How hard an actor tries before answering CONFLICT. */
export interface AppendPolicy {
  /** Attempts per command (decide + append), at least 1. */
  maxAttempts: number;
  /** Upper bound of the random pause between attempts, in ms (spreads racing hosts apart). */
  maxJitterMs: number;
  /** Called on each expected-sequence conflict (metrics). */
  onConflict?: () => void;
}

/** One attempt's result: finished, or try again (after a conflict or a duplicate id). */
export type Attempt<T> = { done: T } | { retry: true; conflict?: boolean };

/** Runs attempts until one finishes; after `maxAttempts` conflicts the command fails with CONFLICT. */
export async function appendWithRetry<T>(
  policy: AppendPolicy,
  attempt: () => Promise<Attempt<T>>,
): Promise<T> {
  for (let i = 1; ; i++) {
    const r = await attempt();
    if ('done' in r) return r.done;
    if (r.conflict) policy.onConflict?.();
    if (i >= policy.maxAttempts) {
      throw new ParleyError(
        ErrorCode.CONFLICT,
        `gave up after ${i} attempts: other writers kept appending first`,
      );
    }
    if (r.conflict && policy.maxJitterMs > 0)
      await new Promise((res) => setTimeout(res, Math.random() * policy.maxJitterMs));
  }
}
