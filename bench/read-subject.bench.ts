/**
 * How fast an actor rehydrates: replay one subject of 10,000 events stored among 100,000 others,
 * against a fresh nats-server started for the run. Prints the median of repeated runs and, as a
 * baseline measured in the same run, a full unfiltered scan of the stream with the same client.
 */
import { DeliverPolicy, StorageType } from 'nats';
import { NatsServer } from '@parley/testing';
import { connectToNats, JetStreamEventLog } from '@parley/event-log';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const server = await NatsServer.start();
  try {
    const nc = await connectToNats({ servers: server.url, name: 'bench' });
    const jsm = await nc.jetstreamManager();
    const js = nc.jetstream();
    await jsm.streams.add({ name: 'B', subjects: ['b.>'], storage: StorageType.File });
    const enc = new TextEncoder();
    const payload = (i: number) =>
      enc.encode(JSON.stringify({ type: 'MessageSent', v: 1, data: { seq: i, body: 'x'.repeat(120) } }));
    let inFlight: Array<Promise<unknown>> = [];
    for (let i = 0; i < 110_000; i++) {
      inFlight.push(js.publish(i % 11 === 0 ? 'b.conv.target' : `b.conv.o${i % 997}`, payload(i)));
      if (inFlight.length >= 256) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
    await Promise.all(inFlight);

    const log = new JetStreamEventLog(nc, jsm, { stream: 'B' });
    const filtered: number[] = [];
    const scan: number[] = [];
    for (let run = 0; run < 5; run++) {
      let t = performance.now();
      const events = await log.readSubject('b.conv.target');
      filtered.push(performance.now() - t);
      if (events.length !== 10_000) throw new Error(`expected 10000 events, got ${events.length}`);

      t = performance.now();
      const c = await js.consumers.get('B', { deliver_policy: DeliverPolicy.All });
      const it = await c.consume({ max_messages: 2_000 });
      let n = 0;
      for await (const m of it) if (++n === 110_000 || m.info.pending === 0) break;
      await c.delete().catch(() => undefined);
      scan.push(performance.now() - t);
    }
    const f = median(filtered);
    const s = median(scan);
    console.table([
      {
        case: 'readSubject 10k of 110k (filtered ordered consumer)',
        ms: f.toFixed(1),
        'events/s': Math.round(10_000 / (f / 1000)),
      },
      { case: 'baseline: full scan of 110k', ms: s.toFixed(1), 'events/s': Math.round(110_000 / (s / 1000)) },
    ]);
    console.log(`ratio readSubject / full scan time: ${(f / s).toFixed(3)}`);
    await nc.close();
  } finally {
    await server.dispose();
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
