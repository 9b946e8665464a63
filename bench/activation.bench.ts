/**
 * Activation of long conversations (DESIGN §15), on a private nats-server:
 * - the first command to a group of 200,000 and of 1,000,000 events (spread over a year), cold, without
 *   a snapshot (full replay) and with one (snapshot + tail), side by side; also with a worst-case tail of
 *   IM_SNAPSHOT_EVERY - 1 events, and the snapshot's size and save time;
 * - the same for a "hot" group whose 100,000 messages all fall inside the 24 h dedup and recall windows
 *   (the largest state the default limits allow);
 * - peak RSS of an actor host (its own process) holding 10,000 live actors of year-long conversations
 *   (each activated from a snapshot of a 1,000,000-message state).
 * BENCH_ACTIVATION_SIZES (e.g. "200000") narrows the first part.
 */
import {
  ACTOR_STATS_SUBJECT,
  conversationEventSubject,
  type ConversationEvent,
  encodeEvent,
} from '@parley/contracts';
import {
  CONVERSATION_SNAPSHOT_VERSION,
  DEFAULT_CONVERSATION_RULES,
  evolveConversation,
  initialConversationState,
  snapshotConversation,
} from '@parley/domain';
import {
  connectToNats,
  ensureStreams,
  JetStreamEventLog,
  JetStreamSnapshotStore,
  SNAPSHOTS_BUCKET,
  snapshotKey,
} from '@parley/event-log';
import { NatsServer } from '@parley/testing';
import { type JetStreamClient, type NatsConnection } from 'nats';
import { CommandHandler } from '../apps/actors/src/command-handler';
import { ask, type BenchRow, pool, spawnActorHost } from './lib';

const DAY = 24 * 3600 * 1000;
const MEMBERS = ['alice', 'bob', 'carol', 'dave', 'erin'];

/** GroupCreated then `n` messages over the `spanMs` up to now, as the actor would have written them. */
function* longGroup(cid: string, n: number, spanMs: number): Generator<ConversationEvent> {
  const env = { v: 1 as const, conversationId: cid, commandId: 'bench' };
  const T0 = Date.now() - spanMs;
  yield { ...env, at: T0, type: 'GroupCreated', data: { name: cid, owner: 'alice', members: MEMBERS } };
  for (let seq = 1; seq <= n; seq++) {
    yield {
      ...env,
      at: T0 + Math.floor((seq * spanMs) / n),
      type: 'MessageSent',
      data: {
        seq,
        from: MEMBERS[seq % 5],
        clientMsgId: `m${seq}`,
        kind: 'text',
        body: `message ${seq}`,
        mentions: [],
      },
    };
  }
}

async function publishAll(
  js: JetStreamClient,
  subject: string,
  events: Iterable<ConversationEvent>,
): Promise<number> {
  let last = 0;
  const inflight = new Set<Promise<void>>();
  for (const e of events) {
    const p = js.publish(subject, encodeEvent(e)).then((pa) => {
      last = Math.max(last, pa.seq);
    });
    const tracked = p.finally(() => inflight.delete(tracked));
    inflight.add(tracked);
    if (inflight.size >= 256) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  return last;
}

function handler(log: JetStreamEventLog, store: JetStreamSnapshotStore, every = 0): CommandHandler {
  return new CommandHandler(log, {
    registry: { maxLiveActors: 10_000, idleMs: 600_000, maxConcurrent: 256 },
    rules: DEFAULT_CONVERSATION_RULES,
    append: { maxAttempts: 25, maxJitterMs: 5 },
    snapshots: { store, every },
  });
}

async function firstSendMs(h: CommandHandler, cid: string, clientMsgId: string): Promise<number> {
  const t = performance.now();
  await h.execute({
    target: 'conv',
    conversationId: cid,
    op: 'send',
    request: { from: 'bob', clientMsgId, kind: 'text', body: 'after a restart' },
  });
  return performance.now() - t;
}

export async function activationBench(): Promise<BenchRow[]> {
  const sizes = (process.env.BENCH_ACTIVATION_SIZES ?? '200000,1000000').split(',').map(Number);
  const server = await NatsServer.start();
  const rows: BenchRow[] = [];
  const row = (c: string, value: number, unit: string, note?: string) =>
    rows.push({ bench: 'activation', case: c, value, unit, note });
  let nc: NatsConnection | undefined;
  try {
    nc = await connectToNats({ servers: server.url, name: 'bench-activation' });
    await ensureStreams(await nc.jetstreamManager(), { replicas: 1 });
    const js = nc.jetstream();
    const log = await JetStreamEventLog.create(nc);
    const store = new JetStreamSnapshotStore(nc);
    const kv = async () => nc!.jetstream().views.kv(SNAPSHOTS_BUCKET);

    const cases: Array<{ label: string; n: number; spanMs: number }> = [
      ...sizes.map((n) => ({ label: `${n.toLocaleString('en')} events over a year`, n, spanMs: 365 * DAY })),
      { label: '100,000 events in one day (full windows)', n: 100_000, spanMs: DAY / 2 },
    ];
    for (const [i, c] of cases.entries()) {
      const cid = `g:long${i}`;
      const subject = conversationEventSubject(cid);
      process.stderr.write(`  publishing ${c.label}…\n`);
      await publishAll(js, subject, longGroup(cid, c.n, c.spanMs));

      const cold = await firstSendMs(handler(log, store), cid, 'cold');
      row(`${c.label}: first send, no snapshot (full replay)`, cold, 'ms');

      const saver = handler(log, store);
      await firstSendMs(saver, cid, 'cold'); // activates it (a duplicate: nothing appended)
      const t = performance.now();
      await saver.snapshotNow(subject);
      row(`${c.label}: snapshot save`, performance.now() - t, 'ms');
      const entry = await (await kv()).get(snapshotKey(subject));
      const header = JSON.parse(new TextDecoder().decode(entry!.value).split('\n')[0]) as {
        bytes: number;
        chunks: number;
      };
      row(`${c.label}: snapshot size (deflated)`, header.bytes / 1024, 'KiB', `${header.chunks} chunks`);

      const warm = await firstSendMs(handler(log, store), cid, 'warm');
      row(
        `${c.label}: first send from a snapshot`,
        warm,
        'ms',
        `${(cold / warm).toFixed(0)}× faster than replay`,
      );

      // Worst case between two snapshots: IM_SNAPSHOT_EVERY - 1 events of tail.
      const h = handler(log, store);
      for (let k = 0; k < 999; k++) {
        await h.execute({
          target: 'conv',
          conversationId: cid,
          op: 'send',
          request: { from: 'carol', clientMsgId: `tail${k}`, kind: 'text', body: 'tail' },
        });
      }
      row(
        `${c.label}: first send from a snapshot + 999 tail events`,
        await firstSendMs(handler(log, store), cid, 'tail'),
        'ms',
      );
    }

    // 10,000 live actors of year-long conversations, in an actor host of its own.
    process.stderr.write('  preparing 10,000 conversations with snapshots…\n');
    let template = initialConversationState('g:template');
    let position = 0;
    for (const e of longGroup('g:template', 1_000_000, 365 * DAY)) {
      template = evolveConversation(template, e, { streamSeq: ++position });
    }
    const json = snapshotConversation(template);
    const actors = Number(process.env.BENCH_ACTIVATION_ACTORS ?? 10_000);
    await pool(actors, 64, async (k) => {
      const cid = `g:year${k}`;
      const subject = conversationEventSubject(cid);
      const pa = await js.publish(
        subject,
        encodeEvent({
          v: 1,
          conversationId: cid,
          at: Date.now(),
          commandId: 'bench',
          type: 'GroupCreated',
          data: { name: cid, owner: 'alice', members: MEMBERS },
        }),
      );
      await store.save(subject, { v: CONVERSATION_SNAPSHOT_VERSION, streamSeq: pa.seq, state: json });
    });
    const host = await spawnActorHost(server.url, nc, { IM_ACTORS_MAX_LIVE: String(actors) });
    const live = async () =>
      (
        JSON.parse(
          new TextDecoder().decode(
            (await nc!.request(ACTOR_STATS_SUBJECT, undefined, { timeout: 5_000 })).data,
          ),
        ) as { conversations: number }
      ).conversations;
    try {
      const booted = host.peakRssMiB();
      await pool(actors, 128, async (k) => {
        await ask(nc!, `im.cmd.conv.g:year${k}.send`, {
          from: 'bob',
          clientMsgId: 'live',
          kind: 'text',
          body: 'hi',
        });
      });
      const peak = host.peakRssMiB();
      const kept = await live();
      row('actor host RSS after boot', booted, 'MiB');
      row(
        `actor host peak RSS, ${actors.toLocaleString('en')} activations of 1,000,000-message year-long groups`,
        peak,
        'MiB',
        `${kept} live at the end (memory budget ${process.env.IM_ACTORS_MAX_MEMORY_MB ?? 1024} MiB); ` +
          `windows of ${template.window.dedupSize} messages`,
      );
    } finally {
      await host.stop();
    }
  } finally {
    await nc?.close();
    await server.dispose();
  }
  return rows;
}
