import { ConfigService } from '@nestjs/config';
import { ParleyConfig, validateEnv } from '@parley/config';
import { JetStreamEventLog, JetStreamSnapshotStore, NatsClient } from '@parley/event-log';
import { ActorHostService } from './actor-host.service';

/** An actor host wired by hand (no Nest container), for tests that run several hosts in one process. */
export interface TestActorHost {
  /** The host. */
  service: ActorHostService;
  /** Its own NATS connection. */
  nats: NatsClient;
  /** Drains and closes it, like a graceful shutdown. */
  stop(): Promise<void>;
}

/** Starts an actor host on its own connection with the given environment overrides. */
export async function startTestActorHost(
  natsUrl: string,
  env: Record<string, string> = {},
): Promise<TestActorHost> {
  const settings = validateEnv({ NATS_URL: natsUrl, ...env });
  const config = new ParleyConfig(new ConfigService(settings));
  const nats = new NatsClient();
  await nats.connect(natsUrl, 'parley-actors-test', {
    replicas: 1,
    eventsMaxAgeMs: settings.IM_EVENTS_MAX_AGE_MS,
  });
  const service = new ActorHostService(
    nats,
    new JetStreamEventLog(nats.nc, nats.jsm),
    config,
    new JetStreamSnapshotStore(nats.nc),
  );
  await service.onApplicationBootstrap();
  return {
    service,
    nats,
    stop: async () => {
      await service.beforeApplicationShutdown();
      await nats.onApplicationShutdown();
    },
  };
}
