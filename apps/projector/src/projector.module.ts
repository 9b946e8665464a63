import { Module } from '@nestjs/common';
import { ParleyConfigModule } from '@parley/config';
import { EventLogModule } from '@parley/event-log';
import { ReadModelModule } from '@parley/read-model';
import { ProjectorService } from './projector.service';

/** The projector: history into MySQL and counters into Redis, each a durable consumer of IM_EVENTS. */
@Module({
  imports: [
    ParleyConfigModule,
    EventLogModule.forRoot('projector'),
    ReadModelModule.forRoot({ migrate: true, multipleStatements: true }),
  ],
  providers: [ProjectorService],
  exports: [ProjectorService],
})
export class ProjectorModule {}
