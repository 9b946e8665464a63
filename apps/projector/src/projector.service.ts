import {
  type BeforeApplicationShutdown,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ParleyConfig } from '@parley/config';
import { NatsClient } from '@parley/event-log';
import { ParleyDatabase, ParleyRedis, type ProjectionName } from '@parley/read-model';
import { CountersProjection } from './counters/counters.projection';
import { HistoryProjection } from './history/history.projection';
import { type Projection } from './projection';
import { ProjectionRunner } from './projection-runner';

/**
 * Starts the projections named in `IM_PROJECTIONS` (history, counters, or both), each its own durable
 * consumer, and stops them first at shutdown so the batch in hand is finished and acked before the
 * MySQL, Redis and NATS connections close.
 */
@Injectable()
export class ProjectorService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('projector');
  private readonly runners = new Map<ProjectionName, ProjectionRunner>();

  constructor(
    private readonly config: ParleyConfig,
    private readonly nats: NatsClient,
    private readonly db: ParleyDatabase,
    private readonly redis: ParleyRedis,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const name of this.config.get('IM_PROJECTIONS')) {
      const runner = new ProjectionRunner(this.nats.nc, this.projection(name), {
        batchSize: this.config.get('IM_PROJECTION_BATCH_SIZE'),
        ackWaitMs: this.config.get('IM_PROJECTION_ACK_WAIT_MS'),
      });
      await runner.start();
      this.runners.set(name, runner);
      this.log.log(`projection ${name} started at position ${runner.position}`);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([...this.runners.values()].map((r) => r.stop()));
    this.log.log('projections stopped');
  }

  private projection(name: ProjectionName): Projection {
    return name === 'history'
      ? new HistoryProjection(this.db)
      : new CountersProjection(this.redis, this.config.get('IM_PREVIEW_MAX_CHARS'));
  }
}
