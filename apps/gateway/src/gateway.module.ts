import { Module } from '@nestjs/common';
import { ParleyConfigModule } from '@parley/config';
import { EventLogModule } from '@parley/event-log';
import { HealthController } from './health.controller';

/** The HTTP + WebSocket gateway (DESIGN §7). */
@Module({ imports: [ParleyConfigModule, EventLogModule.forRoot('gateway')], controllers: [HealthController] })
export class GatewayModule {}
