import { type ParleyRedis } from '@parley/read-model';
import { type ProjectedEvent } from '../projected-event';
import { type Projection } from '../projection';
import { type ProjectionSeed } from '../seed';
import { planCounters, seedCountersPlan } from './counters.plan';
import { CountersWriter } from './counters.writer';

/** Counters → Redis: heads, members, read and own seqs, speakers; one pipeline per batch. */
export class CountersProjection implements Projection {
  readonly name = 'counters' as const;
  private readonly writer: CountersWriter;

  constructor(
    redis: ParleyRedis,
    private readonly previewMaxChars = 200,
  ) {
    this.writer = new CountersWriter(redis);
  }

  async apply(events: ProjectedEvent[], position: number): Promise<void> {
    await this.writer.write(planCounters(events, this.previewMaxChars), position);
  }

  async seed(seed: ProjectionSeed): Promise<void> {
    await this.writer.write(seedCountersPlan(seed, this.previewMaxChars), 0);
  }

  reset(): Promise<void> {
    return this.writer.reset();
  }

  position(): Promise<number> {
    return this.writer.position();
  }
}
