import { type LoggerService } from '@nestjs/common';

/**
 * Logs a repeating condition once per interval with a count of what was suppressed, so an outage
 * produces a line every few seconds instead of one per message.
 */
export class ThrottledLog {
  private last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Pick<LoggerService, 'warn' | 'error'>,
    private readonly intervalMs = 5_000,
  ) {}

  /** Logs `message` under `key` unless the same key was logged within the interval. */
  warn(key: string, message: string): void {
    const now = Date.now();
    const seen = this.last.get(key);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    const more = seen && seen.suppressed > 0 ? ` (${seen.suppressed} similar suppressed)` : '';
    this.last.set(key, { at: now, suppressed: 0 });
    this.logger.warn(`${message}${more}`);
  }

  /** Forgets a key, e.g. when the condition cleared. */
  clear(key: string): void {
    this.last.delete(key);
  }
}
