import { createSecretKey } from 'node:crypto';
import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { ParleyConfig, ParleyConfigModule } from '@parley/config';
import { EventLogModule } from '@parley/event-log';
import { ReadModelModule } from '@parley/read-model';
import { ConversationsController } from './api/conversations.controller';
import { GroupsController } from './api/groups.controller';
import { AuthController } from './auth/auth.controller';
import { AuthGuard, RateLimitGuard, UserRateLimiter } from './auth/auth.guard';
import { TokenService } from './auth/token.service';
import { ActorClient } from './commands/actor-client';
import { CommandsService } from './commands/commands.service';
import { ReadYourWrites } from './commands/read-your-writes';
import { ParleyExceptionFilter } from './common/error.filter';
import { LiveHub } from './live/live-hub';
import { LiveGateway } from './live/live.gateway';
import { GatewayMetrics } from './ops/gateway-metrics';
import { OpsController } from './ops/ops.controller';
import { WebController } from './ops/web.controller';

/** The HTTP + WebSocket gateway (DESIGN §7): commands to the actors over NATS, reads from the read model. */
@Module({
  imports: [
    ParleyConfigModule,
    EventLogModule.forRoot('gateway'),
    ReadModelModule.forRoot(),
    JwtModule.registerAsync({
      inject: [ParleyConfig],
      useFactory: (config: ParleyConfig) => ({
        // A KeyObject, not the string: given a string, jsonwebtoken first tries createPublicKey on it
        // and catches the throw, on every verify (13% of the gateway's CPU per request). It accepts a
        // KeyObject wherever a secret goes; @nestjs/jwt's type only says string | Buffer.
        secret: createSecretKey(Buffer.from(config.get('IM_JWT_SECRET'))) as unknown as string,
        signOptions: { algorithm: 'HS256' },
        verifyOptions: { algorithms: ['HS256'] },
      }),
    }),
  ],
  controllers: [AuthController, GroupsController, ConversationsController, OpsController, WebController],
  providers: [
    TokenService,
    UserRateLimiter,
    // Guards run in this order: authenticate, then rate-limit by user.
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
    { provide: APP_FILTER, useClass: ParleyExceptionFilter },
    GatewayMetrics,
    ActorClient,
    ReadYourWrites,
    CommandsService,
    LiveHub,
    LiveGateway,
  ],
})
export class GatewayModule {}
