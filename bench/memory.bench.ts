/**
 * Memory of an actor host with the default live-actor cap (10,000): touch BENCH_CONVERSATIONS distinct
 * conversations (default 1,000,000; one send to a new direct chat each), then read the host process's
 * peak RSS. The host runs as its own process on a fresh nats-server.
 */
import { connectToNats } from '@parley/event-log';
import { NatsServer } from '@parley/testing';
import { ask, type BenchRow, pool, spawnActorHost } from './lib';

export async function memoryBench(): Promise<BenchRow[]> {
  const total = Number(process.env.BENCH_CONVERSATIONS ?? 1_000_000);
  const server = await NatsServer.start();
  const nc = await connectToNats({ servers: server.url, name: 'bench-memory' });
  const host = await spawnActorHost(server.url, nc);
  try {
    const afterBoot = host.peakRssMiB();
    const t = performance.now();
    await pool(total, 256, async (i) => {
      await ask(nc, `im.cmd.conv.d:a${i}:b${i}.send`, {
        from: `a${i}`,
        clientMsgId: 'c',
        kind: 'text',
        body: 'hi',
      });
    });
    const seconds = (performance.now() - t) / 1000;
    return [
      { bench: 'memory', case: 'actor host RSS after boot', value: afterBoot, unit: 'MiB' },
      {
        bench: 'memory',
        case: `actor host peak RSS after ${total.toLocaleString('en')} conversations (cap 10,000)`,
        value: host.peakRssMiB(),
        unit: 'MiB',
      },
      { bench: 'memory', case: 'first sends to new conversations', value: total / seconds, unit: 'msgs/s' },
    ];
  } finally {
    await host.stop();
    await nc.close();
    await server.dispose();
  }
}
