/**
 * Group-size independence: p50 latency of one send at a time in a 10,000-member group, divided by the
 * same in a 2-member group, on one actor host (a fresh nats-server).
 */
import { type NatsConnection } from 'nats';
import { startTestActorHost } from '../apps/actors/src/actor-host.fixture';
import { connectToNats } from '@parley/event-log';
import { NatsServer } from '@parley/testing';
import { ask, type BenchRow, quantile } from './lib';

async function groupOf(nc: NatsConnection, gid: string, size: number): Promise<void> {
  const members = Array.from({ length: size }, (_, i) => `u${i}`);
  await ask(nc, `im.cmd.conv.g:${gid}.create`, { by: 'u0', name: gid, members: members.slice(1, 1000) });
  for (let i = 1000; i < size; i += 1000) {
    await ask(nc, `im.cmd.conv.g:${gid}.join`, { by: 'u0', userIds: members.slice(i, i + 1000) });
  }
}

async function sendLatencies(nc: NatsConnection, gid: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await ask(nc, `im.cmd.conv.g:${gid}.send`, {
      from: `u${i % 2}`,
      clientMsgId: `c${i}`,
      kind: 'text',
      body: 'hello',
    });
    out.push(performance.now() - t);
  }
  return out;
}

export async function groupSizeBench(): Promise<BenchRow[]> {
  const server = await NatsServer.start();
  const host = await startTestActorHost(server.url);
  const nc = await connectToNats({ servers: server.url, name: 'bench-group-size' });
  try {
    await groupOf(nc, 'small', 2);
    await groupOf(nc, 'huge', 10_000);
    await sendLatencies(nc, 'small', 200); // warm-up
    await sendLatencies(nc, 'huge', 200);
    const small: number[] = [];
    const huge: number[] = [];
    // Interleaved rounds, so drift in machine load hits both alike.
    for (let round = 0; round < 5; round++) {
      small.push(...(await sendLatencies(nc, 'small', 200)));
      huge.push(...(await sendLatencies(nc, 'huge', 200)));
    }
    const s = quantile(small, 0.5);
    const h = quantile(huge, 0.5);
    return [
      { bench: 'group-size', case: 'send p50, 2-member group', value: s, unit: 'ms' },
      { bench: 'group-size', case: 'send p50, 10,000-member group', value: h, unit: 'ms' },
      {
        bench: 'group-size',
        case: 'ratio 10,000 / 2 members',
        value: h / s,
        unit: 'ratio',
        note: 'target ≤ 1.2',
      },
    ];
  } finally {
    await nc.close();
    await host.stop();
    await server.dispose();
  }
}
