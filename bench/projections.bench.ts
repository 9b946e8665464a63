import { setTimeout as sleep } from 'node:timers/promises';
/**
 * Projection throughput, lag and read latency, on private servers started for the run:
 *   node scripts/run-ts.js bench/projections.bench.ts [events | lag]
 * - events/s into MySQL (history) and into Redis (counters), live (a durable consumer draining a
 *   backlog, batch 500) and in rebuild (reset + replay, batch 1000);
 * - the unread query (one Lua round trip) and the session list for a user in 1,000 conversations, p50/p99;
 * - projection lag in ms, append → visible in each read model, under a steady 3,000 sends/s through the
 *   actor host, on fresh servers ({@link projectionLagBench}).
 */
import {
  conversationCommandSubject,
  encodeEvent,
  type ParleyEvent,
  type SendMessageResult,
} from '@parley/contracts';
import { connectToNats, ensureStreams, EVENTS_STREAM } from '@parley/event-log';
import { type ProjectionName, type ReadModel } from '@parley/read-model';
import { MariaDbServer, NatsServer, RedisServer } from '@parley/testing';
import { type NatsConnection } from 'nats';
import { rebuildProjection } from '../apps/projector/src/rebuild';
import { ProjectionRunner } from '../apps/projector/src/projection-runner';
import { generateEvents, publishEvents } from '../apps/projector/src/testing/event-generator';
import { openHarness } from '../apps/projector/src/testing/projection-harness';
import { ask, type BenchRow, quantile, spawnActorHost, spawnApp } from './lib';

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

/** The steady load of the lag test. */
const LAG = {
  /** Sends per second. */
  rate: 3_000,
  /** Groups the sends are spread over, each with `members` members who take turns. */
  groups: 200,
  members: 5,
  /** Sent at the rate before the measured window (JIT, connection pools, actor activation). */
  warmupMs: 3_000,
  measureMs: 20_000,
  /** Pause between two reads of a projection's position. */
  pollMs: 2,
  /** Bound on sends awaiting their reply (the rate is not kept when the host falls behind). */
  maxInFlight: 2_000,
};

/**
 * Projection lag in ms under a steady load of real sends, on private servers of its own: the actor host
 * and the projector each run as their own process, as deployed; this process sends ~3,000 messages/s
 * over NATS request/reply across 200 groups and reads each projection's position as readers see it
 * (MySQL checkpoint, Redis position; `ReadModel.position`, what read-your-writes polls) every ~2 ms. An
 * event's lag runs from the moment its send reply arrived here (its PubAck in the host plus one reply
 * hop) to the first read that found the position at or past its stream seq, 0 when that read came
 * before the reply.
 */
export async function projectionLagBench(): Promise<BenchRow[]> {
  const [nats, mariadb, redis] = await Promise.all([
    NatsServer.start(),
    MariaDbServer.start(),
    RedisServer.start(),
  ]);
  try {
    const nc = await connectToNats({ servers: nats.url, name: 'bench-lag' });
    const h = await openHarness(nc, `${mariadb.url}parley`, redis.url, 'im:');
    try {
      return await lagUnderLoad(
        nc,
        { NATS_URL: nats.url, MYSQL_URL: `${mariadb.url}parley`, REDIS_URL: redis.url },
        h.readModel,
      );
    } finally {
      await h.close();
      await nc.close();
    }
  } finally {
    await Promise.allSettled([nats.dispose(), mariadb.dispose(), redis.dispose()]);
  }
}

async function lagUnderLoad(
  nc: NatsConnection,
  env: { NATS_URL: string; MYSQL_URL: string; REDIS_URL: string },
  readModel: ReadModel,
): Promise<BenchRow[]> {
  const host = await spawnActorHost(env.NATS_URL, nc, env);
  // BENCH_LAG_ONLY=history|counters: the projector runs that projection alone; BENCH_LAG_SPLIT=1: one
  // projector process per projection (is a lag its own, or its share of one projector's thread?).
  const only = process.env.BENCH_LAG_ONLY as ProjectionName | undefined;
  const split = !only && process.env.BENCH_LAG_SPLIT === '1';
  const names: ProjectionName[] = only ? [only] : ['history', 'counters'];
  const projectors = (only || split ? names : [names.join(',')]).map((p) =>
    spawnApp('projector', { ...env, IM_PROJECTIONS: p }),
  );
  // Per projection, each increase of its position: [position, time it was read].
  const seen: Record<ProjectionName, Array<[number, number]>> = { history: [], counters: [] };
  const reads: Record<ProjectionName, number> = { history: 0, counters: 0 };
  let polling = true;
  const pollStart = performance.now();
  const pollers = names.map(async (name) => {
    let last = -1;
    while (polling) {
      const position = await readModel.position(name).catch(() => last);
      reads[name]++;
      if (position > last) seen[name].push([(last = position), performance.now()]);
      await sleep(LAG.pollMs);
    }
  });
  const visibleAt = (name: ProjectionName, seq: number): number => {
    const xs = seen[name];
    let [lo, hi] = [0, xs.length - 1];
    if (hi < 0 || xs[hi][0] < seq) return Number.NaN;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid][0] >= seq) hi = mid;
      else lo = mid + 1;
    }
    return xs[lo][1];
  };
  const waitVisible = async (seq: number) => {
    const deadline = Date.now() + 120_000;
    while (names.some((n) => !(visibleAt(n, seq) >= 0))) {
      if (Date.now() > deadline) throw new Error(`projections did not reach ${seq} in 120 s`);
      await sleep(20);
    }
  };
  try {
    const members = Array.from({ length: LAG.members }, (_, i) => `lm${i}`);
    const cid = (g: number) => `g:lag${g}`;
    for (let g = 0; g < LAG.groups; g++) {
      await ask(nc, conversationCommandSubject(cid(g), 'create'), {
        by: members[0],
        name: `lag${g}`,
        members: members.slice(1),
      });
    }
    const jsm = await nc.jetstreamManager();
    await waitVisible((await jsm.streams.info(EVENTS_STREAM)).state.last_seq);

    const body = 'x'.repeat(120);
    const warm = (LAG.rate * LAG.warmupMs) / 1000;
    const total = warm + (LAG.rate * LAG.measureMs) / 1000;
    const acked: Array<[number, number]> = []; // [stream seq, reply time] of the measured sends
    const latencies: number[] = [];
    let [sent, inFlight, failed, lastSeq] = [0, 0, 0, 0];
    const send = (i: number) => {
      inFlight++;
      const t = performance.now();
      const g = i % LAG.groups;
      ask<SendMessageResult>(nc, conversationCommandSubject(cid(g), 'send'), {
        from: members[Math.floor(i / LAG.groups) % LAG.members],
        clientMsgId: `lag-${i}`,
        kind: 'text',
        body,
      })
        .then(
          (r) => {
            const now = performance.now();
            lastSeq = Math.max(lastSeq, r.streamSeq);
            if (i < warm) return;
            acked.push([r.streamSeq, now]);
            latencies.push(now - t);
          },
          () => failed++,
        )
        .finally(() => inFlight--);
    };
    const projectorCpu = () => projectors.reduce((sum, p) => sum + p.cpuMs(), 0);
    const cpu0 = { projector: projectorCpu(), host: host.cpuMs(), bench: process.cpuUsage() };
    const t0 = performance.now();
    let tMeasure = t0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * LAG.rate));
      while (sent < due && inFlight < LAG.maxInFlight) {
        if (sent === warm) tMeasure = performance.now();
        send(sent++);
      }
      await sleep(1);
    }
    const wall = performance.now() - tMeasure;
    const elapsed = performance.now() - t0;
    const benchCpu = process.cpuUsage(cpu0.bench);
    const cpu = {
      projector: (projectorCpu() - cpu0.projector) / elapsed,
      host: (host.cpuMs() - cpu0.host) / elapsed,
      bench: (benchCpu.user + benchCpu.system) / 1000 / elapsed,
    };
    while (inFlight > 0) await sleep(5);
    await waitVisible(lastSeq);
    polling = false;
    await Promise.all(pollers);

    const rows: BenchRow[] = [];
    const row = (c: string, value: number, unit: string, note?: string) =>
      rows.push({ bench: 'projections', case: c, value, unit, ...(note ? { note } : {}) });
    row(
      `lag test: sends through the actor host, ${LAG.groups} groups (target ${LAG.rate}/s)`,
      (acked.length / wall) * 1000,
      'msgs/s',
    );
    if (failed > 0) row('lag test: sends that failed', failed, 'sends');
    row('lag test: send latency p50', quantile(latencies, 0.5), 'ms');
    row('lag test: send latency p99', quantile(latencies, 0.99), 'ms');
    row(
      `lag test: projector CPU, ${projectors.length} process(es) (1 = one core busy)`,
      cpu.projector,
      'cores',
    );
    row('lag test: actor host CPU', cpu.host, 'cores');
    row('lag test: load client CPU', cpu.bench, 'cores');
    for (const name of names) {
      const lags = acked.map(([seq, t]) => Math.max(0, visibleAt(name, seq) - t));
      row(`${name} lag p50, append → visible`, quantile(lags, 0.5), 'ms');
      row(`${name} lag p99, append → visible`, quantile(lags, 0.99), 'ms');
      row(
        `${name} lag max, append → visible`,
        lags.reduce((a, b) => Math.max(a, b), 0),
        'ms',
      );
      row(`${name} position read every`, (performance.now() - pollStart) / reads[name], 'ms');
    }
    return rows;
  } finally {
    polling = false;
    await Promise.all(pollers);
    await Promise.all([...projectors.map((p) => p.stop()), host.stop()]);
  }
}

// Run directly (node scripts/run-ts.js bench/projections.bench.ts), not when imported by another runner.
// `… projections.bench.ts lag` runs the lag test alone.
if (/projections\.bench\.ts$/.test(process.argv[1] ?? '')) {
  (process.argv[2] === 'lag'
    ? projectionLagBench()
    : projectionsBench(Number(process.argv[2] ?? 30_000))
  ).then(
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
