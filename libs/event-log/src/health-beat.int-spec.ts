import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigService } from '@nestjs/config';
import { ParleyConfig, validateEnv } from '@parley/config';
import { NatsServer, waitFor } from '@parley/testing';
import { HEALTH_BEAT_MS, HealthBeat } from './health-beat';
import { NatsClient } from './nats-client';

describe('HealthBeat (own nats-server)', () => {
  it('touches IM_HEALTH_FILE while NATS answers, and stops touching it when NATS is gone', async () => {
    const server = await NatsServer.start();
    const dir = mkdtempSync(join(tmpdir(), 'parley-beat-'));
    const file = join(dir, 'health');
    const nats = new NatsClient();
    await nats.connect(server.url, 'beat-test', { replicas: 1 });
    const config = new ParleyConfig(new ConfigService(validateEnv({ IM_HEALTH_FILE: file })));
    const beat = new HealthBeat(nats, config);
    try {
      beat.onApplicationBootstrap();
      await waitFor(() => statSync(file, { throwIfNoEntry: false }) !== undefined, {
        message: 'the first beat',
      });
      const first = statSync(file).mtimeMs;
      await waitFor(() => statSync(file).mtimeMs > first, {
        timeoutMs: HEALTH_BEAT_MS * 3,
        message: 'a second beat',
      });

      await server.kill();
      await new Promise((r) => setTimeout(r, 1_000)); // a beat already in flight may still land
      const last = statSync(file).mtimeMs;
      await new Promise((r) => setTimeout(r, HEALTH_BEAT_MS * 2 + 500));
      expect(statSync(file).mtimeMs).toBe(last);
    } finally {
      beat.onApplicationShutdown();
      await nats.nc.close();
      await server.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
