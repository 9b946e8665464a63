import { Module } from '@nestjs/common';
import { ParleyConfigModule } from '@parley/config';
import { EventLogModule } from '@parley/event-log';

/** The projector: history into MySQL and counters into Redis, each a durable consumer of IM_EVENTS. */
@Module({ imports: [ParleyConfigModule, EventLogModule.forRoot('projector')] })
export class ProjectorModule {}
