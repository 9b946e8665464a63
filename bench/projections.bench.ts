import { setTimeout as sleep } from 'node:timers/promises';
/**
 * Projection throughput and read latency, on private servers started for the run:
 *   node scripts/run-ts.js bench/projections.bench.ts [events]
 * - events/s into MySQL (history) and into Redis (counters), live (a durable consumer draining a
 *   backlog, batch 500) and in rebuild (reset + replay, batch 1000);
 * - projection lag (published stream seq - projected position) p50/p99 while events arrive at a steady rate;
 * - the unread query (one Lua round trip) and the session list for a user in 1,000 conversations, p50/p99.
 */
import { encodeEvent, type ParleyEvent } from '@parley/contracts';
import { connectToNats, ensureStreams } from '@parley/event-log';
import { MariaDbServer, NatsServer, RedisServer } from '@parley/testing';
import { rebuildProjection } from '../apps/projector/src/rebuild';
import { ProjectionRunner } from '../apps/projector/src/projection-runner';
import { generateEvents, publishEvents } from '../apps/projector/src/testing/event-generator';
import { openHarness } from '../apps/projector/src/testing/projection-harness';
import { type BenchRow, quantile } from './lib';

/** Runs the benchmark and returns its figures. */
export async function projectionsBench(events = 30_000): Promise<BenchRow[]> {
  const [nats, mariadb, redis] = await Promise.all([
    NatsServer.start(),
    MariaDbServer.start(),
    RedisServer.start(),
  ]);
  const rows: BenchRow[] = [];
  const row = (c: string, value: number, unit: string) =>
    rows.push({ bench: 'projections', case: c, value, unit });
  try {
    const nc = await connectToNats({ servers: nats.url, name: 'bench' });
    await ensureStreams(await nc.jetstreamManager(), { replicas: 1 });
    const h = await openHarness(nc, `${mariadb.url}parley`, redis.url, 'im:');
    const generated = generateEvents(events, { seed: 1, users: 2_000, groups: 300 });
    const lastSeq = await publishEvents(nc.jetstream(), generated);

    // Live: each projection alone, draining the backlog through its durable consumer.
    for (const projection of [h.history, h.counters]) {
      const runner = new ProjectionRunner(nc, projection, { batchSize: 500 });
      const t0 = performance.now();
      await runner.start();
      await runner.waitForPosition(lastSeq, 300_000);
      const ms = performance.now() - t0;
      await runner.stop();
      row(`${projection.name} live (${lastSeq} events, batch 500)`, (lastSeq / ms) * 1000, 'events/s');
    }
    for (const projection of [h.history, h.counters]) {
      const r = await rebuildProjection(nc, projection, { batchSize: 1_000 });
      row(
        `${projection.name} rebuild (${r.events} events, batch 1000)`,
        (r.events / r.ms) * 1000,
        'events/s',
      );
    }

    // Lag under a steady load: both projections live while events arrive at ~`rate` events/s.
    await h.start({ batchSize: 500 });
    const rate = 3_000;
    const load = generateEvents(15_000, { seed: 2, users: 2_000, groups: 300, startAt: Date.now() });
    const lags: Record<string, number[]> = { history: [], counters: [] };
    let published = lastSeq;
    let done = false;
    const sampler = (async () => {
      while (!done) {
        for (const r of h.runners) lags[r.projection.name].push(Math.max(0, published - r.position));
        await sleep(10);
      }
    })();
    const t0 = performance.now();
    for (let i = 0; i < load.length; i += 150) {
      published = await publishEvents(nc.jetstream(), load.slice(i, i + 150), 150);
      const due = ((i + 150) / rate) * 1000 - (performance.now() - t0);
      if (due > 0) await sleep(due);
    }
    const achieved = (load.length / (performance.now() - t0)) * 1000;
    await h.waitFor(published, 120_000);
    done = true;
    await sampler;
    await h.stop();
    row(`publish rate during the lag test`, achieved, 'events/s');
    for (const [name, xs] of Object.entries(lags)) {
      row(`${name} lag p50 under load`, quantile(xs, 0.5), 'events');
      row(`${name} lag p99 under load`, quantile(xs, 0.99), 'events');
    }

    // A user in 1,000 conversations: 1,000 groups, 3 messages each, half of them read.
    const whale: ParleyEvent[] = [];
    const now = Date.now();
    for (let g = 0; g < 1_000; g++) {
      const cid = `g:whale${g}`;
      const base = { v: 1 as const, conversationId: cid, at: now + g, commandId: `w${g}` };
      whale.push({
        ...base,
        type: 'GroupCreated',
        data: { name: `W${g}`, owner: 'whale', members: ['whale', 'a', 'b'] },
      });
      for (let s = 1; s <= 3; s++) {
        whale.push({
          ...base,
          type: 'MessageSent',
          data: {
            seq: s,
            from: s === 3 ? 'whale' : 'a',
            clientMsgId: `w${g}-${s}`,
            kind: 'text',
            body: 'hi',
            mentions: [],
          },
        });
      }
      if (g % 2 === 0) {
        whale.push({
          type: 'ReadMarked',
          v: 1,
          userId: 'whale',
          at: now + g,
          commandId: `r${g}`,
          data: { conversationId: cid, readSeq: 1 },
        });
      }
    }
    // And one long conversation for history pages.
    const long = { v: 1 as const, conversationId: 'g:long', at: now, commandId: 'long' };
    whale.push({
      ...long,
      type: 'GroupCreated',
      data: { name: 'Long', owner: 'a', members: ['a', 'whale'] },
    });
    for (let s = 1; s <= 2_000; s++) {
      whale.push({
        ...long,
        commandId: `long-${s}`,
        type: 'MessageSent',
        data: { seq: s, from: 'a', clientMsgId: `l${s}`, kind: 'text', body: 'x'.repeat(120), mentions: [] },
      });
    }
    const js = nc.jetstream();
    let whaleLast = 0;
    for (let i = 0; i < whale.length; i += 256) {
      const acks = await Promise.all(
        whale
          .slice(i, i + 256)
          .map((e) =>
            js.publish(
              e.type === 'ReadMarked' ? `im.evt.user.${e.userId}` : `im.evt.conv.${e.conversationId}`,
              encodeEvent(e),
            ),
          ),
      );
      whaleLast = Math.max(whaleLast, ...acks.map((a) => a.seq));
    }
    await h.start({ batchSize: 500 });
    await h.waitFor(whaleLast, 120_000);
    await h.stop();
    const check = await h.readModel.unread('whale');
    if (check.conversations.length !== 1_001)
      throw new Error(`expected 1001 conversations, got ${check.conversations.length}`);
    for (const [name, query] of [
      ['unread', () => h.readModel.unread('whale')],
      ['sessions', () => h.readModel.sessions('whale', { limit: 50 })],
      [
        'history page of 50',
        () =>
          h.readModel.history('whale', 'g:long', {
            beforeSeq: 51 + Math.floor(Math.random() * 1_950),
            limit: 50,
          }),
      ],
    ] as const) {
      for (let i = 0; i < 50; i++) await query(); // warm up
      const times: number[] = [];
      for (let i = 0; i < 500; i++) {
        const t = performance.now();
        await query();
        times.push(performance.now() - t);
      }
      const what = name.startsWith('history') ? name : `${name} for a user in 1,000 conversations`;
      row(`${what} p50`, quantile(times, 0.5), 'ms');
      row(`${what} p99`, quantile(times, 0.99), 'ms');
    }
    await h.close();
    await nc.close();
  } finally {
    await Promise.allSettled([nats.dispose(), mariadb.dispose(), redis.dispose()]);
  }
  return rows;
}

// Run directly (node scripts/run-ts.js bench/projections.bench.ts), not when imported by another runner.
if (/projections\.bench\.ts$/.test(process.argv[1] ?? '')) {
  projectionsBench(Number(process.argv[2] ?? 30_000)).then(
    (rows) => {
      console.table(
        rows.map((r) => ({ ...r, value: r.value < 10 ? Number(r.value.toFixed(3)) : Math.round(r.value) })),
      );
      process.exit(0);
    },
    (err: Error) => {
      console.error(err.stack ?? String(err));
      process.exit(1);
    },
  );
}
