import { setTimeout as sleep } from 'node:timers/promises';
import { type LoggerService } from '@nestjs/common';
import { isTransientNatsError } from './errors';

/**
 * Runs `fn` until it succeeds, retrying transient NATS errors (timeouts, no responders) for up to
 * `budgetMs`: an app starting while the cluster elects leaders waits instead of crashing.
 */
export async function retryTransient<T>(
  what: string,
  fn: () => Promise<T>,
  log: Pick<LoggerService, 'warn'>,
  budgetMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientNatsError(err) || Date.now() > deadline) throw err;
      if (attempt === 1 || attempt % 10 === 0)
        log.warn(`${what} failed (${(err as Error).message}), retrying (attempt ${attempt})`);
      await sleep(500);
    }
  }
}
