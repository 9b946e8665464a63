import { Module } from '@nestjs/common';
import { ParleyConfigModule } from '@parley/config';
import { EventLogModule } from '@parley/event-log';
import { ActorHostService } from './actor-host.service';

/** The actor host: conversation and user actors behind NATS request/reply and IM_INGRESS. */
@Module({ imports: [ParleyConfigModule, EventLogModule.forRoot('actors')], providers: [ActorHostService] })
export class ActorsModule {}
