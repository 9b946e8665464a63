/**
 * Sends through the actor host over NATS request/reply (ack to the sender), against the ceiling of
 * raw JetStream publishes into the same stream from the same client, both in one run on a fresh
 * nats-server. Medians of three rounds.
 */
import { connectToNats } from '@parley/event-log';
import { NatsServer } from '@parley/testing';
import { ask, type BenchRow, median, pool, quantile, spawnActorHost } from './lib';

const enc = new TextEncoder();
const IN_FLIGHT = 256;

export async function actorsBench(): Promise<BenchRow[]> {
  const server = await NatsServer.start();
  const nc = await connectToNats({ servers: server.url, name: 'bench-client' });
  // The host runs as its own process, as deployed: it must not share an event loop with the client.
  const host = await spawnActorHost(server.url, nc);
  try {
    const js = nc.jetstream();
    const groups = 50;
    for (let g = 0; g < groups; g++)
      await ask(nc, `im.cmd.conv.g:b${g}.create`, { by: 'u0', name: `b${g}`, members: ['u1'] });

    const ceiling: number[] = [];
    const spread: number[] = [];
    const hot: number[] = [];
    const latencies: number[] = [];
    const hostBusy: number[] = [];
    const hostCpuPerSend: number[] = [];
    const body = 'x'.repeat(120);
    for (let round = 0; round < 3; round++) {
      const n = 10_000;
      let t = performance.now();
      await pool(n, IN_FLIGHT, async (i) => {
        await js.publish(
          `im.evt.conv.g:ceiling${i % groups}`,
          enc.encode(JSON.stringify({ type: 'MessageSent', body })),
        );
      });
      ceiling.push(n / ((performance.now() - t) / 1000));

      t = performance.now();
      const cpu0 = host.cpuMs();
      await pool(n, IN_FLIGHT, async (i) => {
        const s = performance.now();
        await ask(nc, `im.cmd.conv.g:b${i % groups}.send`, {
          from: `u${i % 2}`,
          clientMsgId: `r${round}-${i}`,
          kind: 'text',
          body,
        });
        latencies.push(performance.now() - s);
      });
      const wall = performance.now() - t;
      spread.push(n / (wall / 1000));
      hostBusy.push((host.cpuMs() - cpu0) / wall);
      hostCpuPerSend.push(((host.cpuMs() - cpu0) / n) * 1000);

      const m = 2_000;
      t = performance.now();
      await pool(m, IN_FLIGHT, async (i) => {
        await ask(nc, 'im.cmd.conv.g:b0.send', {
          from: 'u0',
          clientMsgId: `hot${round}-${i}`,
          kind: 'text',
          body,
        });
      });
      hot.push(m / ((performance.now() - t) / 1000));
    }
    const c = median(ceiling);
    const p = median(spread);
    return [
      { bench: 'sends', case: 'ceiling: raw JetStream publish, 256 in flight', value: c, unit: 'msgs/s' },
      {
        bench: 'sends',
        case: 'Parley send over request/reply, 50 groups, 256 in flight',
        value: p,
        unit: 'msgs/s',
      },
      { bench: 'sends', case: 'ratio Parley / ceiling', value: p / c, unit: 'ratio', note: 'target ≥ 0.5' },
      {
        bench: 'sends',
        case: 'Parley send latency p50 (256 in flight)',
        value: quantile(latencies, 0.5),
        unit: 'ms',
      },
      {
        bench: 'sends',
        case: 'Parley send latency p99 (256 in flight)',
        value: quantile(latencies, 0.99),
        unit: 'ms',
      },
      { bench: 'sends', case: 'one hot group, 256 in flight', value: median(hot), unit: 'msgs/s' },
      {
        bench: 'sends',
        case: 'actor host CPU while sending (1 = one core busy)',
        value: median(hostBusy),
        unit: 'cores',
      },
      { bench: 'sends', case: 'actor host CPU per send', value: median(hostCpuPerSend), unit: 'µs' },
    ];
  } finally {
    await nc.close();
    await host.stop();
    await server.dispose();
  }
}
