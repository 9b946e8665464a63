import { type DynamicModule, Module } from '@nestjs/common';
import { ParleyConfig } from '@parley/config';
import { EventLog } from './event-log';
import { JetStreamEventLog } from './jetstream-event-log';
import { HealthBeat } from './health-beat';
import { NatsClient } from './nats-client';

/** Provides the NATS connection (named after the app) and the {@link EventLog} port bound to JetStream. */
@Module({})
export class EventLogModule {
  /** The module for one app; `appName` names its NATS connection. */
  static forRoot(appName: string): DynamicModule {
    return {
      module: EventLogModule,
      global: true,
      providers: [
        {
          provide: NatsClient,
          inject: [ParleyConfig],
          useFactory: async (config: ParleyConfig) => {
            const client = new NatsClient();
            await client.connect(config.get('NATS_URL'), `parley-${appName}`, {
              replicas: config.get('IM_STREAM_REPLICAS'),
              eventsMaxAgeMs: config.get('IM_EVENTS_MAX_AGE_MS'),
            });
            return client;
          },
        },
        {
          provide: EventLog,
          inject: [NatsClient],
          useFactory: (client: NatsClient) => new JetStreamEventLog(client.nc, client.jsm),
        },
        HealthBeat,
      ],
      exports: [NatsClient, EventLog],
    };
  }
}
