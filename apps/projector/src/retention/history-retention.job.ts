import {
  type BeforeApplicationShutdown,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ParleyConfig } from '@parley/config';
import { ParleyDatabase } from '@parley/read-model';
import { HistoryRetention } from './history-retention';

/**
 * Runs {@link HistoryRetention} every `IM_HISTORY_RETENTION_EVERY_MS` in a projector that runs the
 * history projection. Passes never overlap (the next is scheduled when one ends); a failed pass is
 * logged and retried at the next interval. Shutdown stops the timer and waits for the pass in hand,
 * which stops after its current statement, before the MySQL pool closes.
 */
@Injectable()
export class HistoryRetentionJob implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('history-retention');
  private readonly retention: HistoryRetention;
  private readonly intervalMs: number;
  private timer?: NodeJS.Timeout;
  private pass?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly config: ParleyConfig,
    db: ParleyDatabase,
  ) {
    this.intervalMs = config.get('IM_HISTORY_RETENTION_EVERY_MS');
    this.retention = new HistoryRetention(db, {
      historyRetentionMs: config.get('IM_HISTORY_RETENTION_MS'),
      batchSize: config.get('IM_HISTORY_RETENTION_BATCH'),
    });
  }

  onApplicationBootstrap(): void {
    if (!this.config.get('IM_PROJECTIONS').includes('history')) return;
    this.schedule();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pass;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.pass = this.run().finally(() => {
        this.pass = undefined;
        if (!this.stopped) this.schedule();
      });
    }, this.intervalMs);
  }

  private async run(): Promise<void> {
    const started = Date.now();
    try {
      const r = await this.retention.runOnce(() => this.stopped);
      if (r.deleted > 0) {
        const before = r.cutoff > 0 ? ` sent before ${new Date(r.cutoff).toISOString()}` : '';
        this.log.log(
          `deleted ${r.deleted} messages${before} past retention in ${r.batches} batches (${Date.now() - started} ms)`,
        );
      }
    } catch (err) {
      this.log.warn(`retention pass failed, next in ${this.intervalMs} ms: ${(err as Error).message}`);
    }
  }
}
