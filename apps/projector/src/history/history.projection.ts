import { type ParleyDatabase } from '@parley/read-model';
import { type ProjectedEvent } from '../projected-event';
import { type Projection } from '../projection';
import { type ProjectionSeed } from '../seed';
import { planHistory, seedHistoryPlan } from './history.plan';
import { HistoryWriter } from './history.writer';

/** History → MySQL: conversations, members, messages, checkpoint in one transaction per batch. */
export class HistoryProjection implements Projection {
  readonly name = 'history' as const;
  private readonly writer: HistoryWriter;

  constructor(db: ParleyDatabase) {
    this.writer = new HistoryWriter(db);
  }

  async apply(events: ProjectedEvent[], position: number): Promise<void> {
    await this.writer.write(planHistory(events), position);
  }

  async seed(seed: ProjectionSeed): Promise<void> {
    await this.writer.write(seedHistoryPlan(seed), 0);
  }

  /** Keeps the messages of events before `logStart`: the log no longer has them (the archive). */
  reset(logStart = 1): Promise<void> {
    return this.writer.reset(logStart);
  }

  position(): Promise<number> {
    return this.writer.position();
  }
}
