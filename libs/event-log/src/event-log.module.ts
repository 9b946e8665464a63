import { type DynamicModule, Module } from '@nestjs/common';
import { ParleyConfig } from '@parley/config';
import { EventLog } from './event-log';
import { JetStreamEventLog } from './jetstream-event-log';
import { HealthBeat } from './health-beat';
import { JetStreamSnapshotStore } from './jetstream-snapshot-store';
import { NatsClient } from './nats-client';
import { SnapshotStore } from './snapshot-store';

/**
 * Provides the NATS connection (named after the app), the {@link EventLog} port bound to JetStream, and
 * the {@link SnapshotStore} on the IM_SNAPSHOTS bucket (created by the actor hosts, bound by the others).
 */
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
        {
          provide: SnapshotStore,
          inject: [NatsClient, ParleyConfig],
          useFactory: (client: NatsClient, config: ParleyConfig) =>
            new JetStreamSnapshotStore(client.nc, {
              replicas: config.get('IM_STREAM_REPLICAS'),
              create: appName === 'actors',
            }),
        },
        HealthBeat,
      ],
      exports: [NatsClient, EventLog, SnapshotStore],
    };
  }
}
