import { type NatsConnection, StorageType, RetentionPolicy } from 'nats';
import { NatsServer } from '@parley/testing';
import { connectToNats } from './connection';
import { ensureStreams } from './streams';

describe('ensureStreams (own nats-server)', () => {
  let server: NatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await NatsServer.start();
    nc = await connectToNats({ servers: server.url, name: 'streams-test' });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  it('creates the streams, is idempotent, applies what it can update and reports drift it cannot', async () => {
    const jsm = await nc.jetstreamManager();
    // IM_INGRESS pre-exists with memory storage: a difference the server cannot update.
    await jsm.streams.add({
      name: 'IM_INGRESS',
      subjects: ['im.in.>'],
      storage: StorageType.Memory,
      retention: RetentionPolicy.Workqueue,
    });

    const first = await ensureStreams(jsm, { replicas: 1 });
    expect(first.find((r) => r.name === 'IM_EVENTS')?.action).toBe('created');
    expect(first.find((r) => r.name === 'IM_DEADLETTER')?.action).toBe('created');
    const ingress = first.find((r) => r.name === 'IM_INGRESS');
    expect(ingress?.action).toBe('drift');
    expect(ingress?.differences.join()).toContain('storage');

    const second = await ensureStreams(jsm, { replicas: 1 });
    expect(second.find((r) => r.name === 'IM_EVENTS')?.action).toBe('unchanged');
    expect(second.find((r) => r.name === 'IM_DEADLETTER')?.action).toBe('unchanged');

    const third = await ensureStreams(jsm, { replicas: 1, eventsMaxAgeMs: 86_400_000 });
    expect(third.find((r) => r.name === 'IM_EVENTS')).toMatchObject({ action: 'updated' });
    expect((await jsm.streams.info('IM_EVENTS')).config.max_age).toBe(86_400_000_000_000);

    // Replicas cannot grow beyond one on a single server: reported, not applied, stream intact.
    const fourth = await ensureStreams(jsm, { replicas: 3, eventsMaxAgeMs: 86_400_000 });
    expect(fourth.find((r) => r.name === 'IM_EVENTS')?.action).toBe('drift');
    expect((await jsm.streams.info('IM_EVENTS')).config.num_replicas).toBe(1);
  });
});
