import { Module } from '@nestjs/common';
import { ParleyConfigModule } from '@parley/config';
import { EventLogModule } from '@parley/event-log';
import { ReadModelModule } from '@parley/read-model';
import { ProjectorService } from './projector.service';
import { HistoryRetentionJob } from './retention/history-retention.job';

/**
 * The projector: history into MySQL and counters into Redis, each a durable consumer of IM_EVENTS, and
 * the history retention job beside the history projection.
 */
@Module({
  imports: [
    ParleyConfigModule,
    EventLogModule.forRoot('projector'),
    ReadModelModule.forRoot({ migrate: true, multipleStatements: true }),
  ],
  providers: [ProjectorService, HistoryRetentionJob],
  exports: [ProjectorService],
})
export class ProjectorModule {}
