/**
 * How fast an actor rehydrates: replay one subject of 10,000 events stored among 100,000 others,
 * against a fresh nats-server started for the run. Reports the median of repeated runs and, as a
 * baseline measured in the same run, a full unfiltered scan of the stream with the same client.
 */
import { StorageType } from 'nats';
import { connectToNats, JetStreamEventLog } from '@parley/event-log';
import { NatsServer } from '@parley/testing';
import { type BenchRow, median } from './lib';

export async function readSubjectBench(): Promise<BenchRow[]> {
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
      // Same reader, every subject: the whole stream is the cost the server-side filter avoids.
      let n = 0;
      for await (const _ of log.replaySubject('b.>')) n++;
      if (n !== 110_000) throw new Error(`expected 110000 events, got ${n}`);
      scan.push(performance.now() - t);
    }
    await nc.close();
    const f = median(filtered);
    const s = median(scan);
    return [
      { bench: 'readSubject', case: '10k events of one subject among 110k', value: f, unit: 'ms' },
      { bench: 'readSubject', case: 'baseline: full scan of the 110k', value: s, unit: 'ms' },
      { bench: 'readSubject', case: 'replay rate', value: 10_000 / (f / 1000), unit: 'events/s' },
      { bench: 'readSubject', case: 'time ratio readSubject / full scan', value: f / s, unit: 'ratio' },
    ];
  } finally {
    await server.dispose();
  }
}
