import { writeFile } from 'node:fs/promises';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ParleyConfig } from '@parley/config';
import { NatsClient } from './nats-client';
import { settlesWithin } from './timing';

/** How often the heartbeat file is touched; a container healthcheck allows a few missed beats. */
export const HEALTH_BEAT_MS = 5_000;

/**
 * Liveness for apps without an HTTP port (actor hosts, projector): while the NATS connection is up,
 * touches the file named by `IM_HEALTH_FILE` every {@link HEALTH_BEAT_MS}. A healthcheck calls the app
 * unhealthy when the file is older than a few beats: the process died, its event loop is stuck, or it
 * lost NATS. Does nothing when `IM_HEALTH_FILE` is unset.
 */
@Injectable()
export class HealthBeat implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private readonly file: string | undefined;
  private readonly log = new Logger('health');

  constructor(
    private readonly nats: NatsClient,
    config: ParleyConfig,
  ) {
    this.file = config.get('IM_HEALTH_FILE') || undefined;
  }

  onApplicationBootstrap(): void {
    if (!this.file) return;
    const file = this.file;
    const beat = async () => {
      if (this.nats.nc.isClosed()) return;
      // A flush is a round trip to the server: the beat proves NATS answers, not only that we run.
      const answered = await settlesWithin(this.nats.nc.flush(), HEALTH_BEAT_MS).catch(() => false);
      if (!answered) return;
      await writeFile(file, String(Date.now())).catch((err: Error) =>
        this.log.warn(`cannot write ${file}: ${err.message}`),
      );
    };
    void beat();
    this.timer = setInterval(() => void beat(), HEALTH_BEAT_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
