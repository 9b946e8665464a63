import { setTimeout as sleep } from 'node:timers/promises';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  ACTOR_STATS_SUBJECT,
  conversationEventSubject,
  decodeEvent,
  type Reply as ContractReply,
} from '@parley/contracts';
import { connectToNats, ensureStreams, EVENTS_STREAM, JetStreamEventLog } from '@parley/event-log';
import { createTestDatabase, NatsCluster, sharedInfra, uniqueName, waitFor } from '@parley/testing';
import { type NatsConnection, RequestStrategy } from 'nats';
import { openHarness, type ProjectionHarness } from '../apps/projector/src/testing/projection-harness';
import { command } from './support/system';

const dec = new TextDecoder();
const ROOT = join(__dirname, '..');

const GROUPS = Array.from({ length: 20 }, (_, i) => `g:fault${i}`);
const USERS = ['u0', 'u1', 'u2', 'u3', 'u4'];
const WORKERS = 16;
const MAX_OPS = 20_000;
const OP_BUDGET_MS = 40_000; // an operation is retried (same payload) until answered or this long
const LEASE_TTL_MS = 6_000;

type Reply = ContractReply<Record<string, number>>;

interface HostStats {
  hostId?: string;
  partitions?: number[];
  conflicts: number;
}

/** Every actor host answers on the stats subject (no queue group). */
async function hostStats(nc: NatsConnection): Promise<HostStats[]> {
  const out: HostStats[] = [];
  const replies = await nc.requestMany(ACTOR_STATS_SUBJECT, undefined, {
    strategy: RequestStrategy.Timer,
    maxWait: 700,
  });
  for await (const m of replies) out.push(JSON.parse(dec.decode(m.data)) as HostStats);
  return out;
}

/**
 * DESIGN §8, issue 7: a 3-node cluster (streams at R3, nats-server 2.9.10), two actor host processes
 * holding partition leases, the projections in this process; a steady load of sends and markReads;
 * the stream leader's nats-server and one actor host are killed with -9, then both come back.
 */
describe('scale-out under faults (3-node NATS cluster, two actor host processes)', () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;
  let projector: ProjectionHarness;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    cluster = await NatsCluster.start(3);
    nc = await connectToNats({ servers: cluster.urls, name: 'fault-test' });
    await ensureStreams(await nc.jetstreamManager(), { replicas: 3 });
    const infra = sharedInfra();
    projector = await openHarness(
      nc,
      await createTestDatabase(infra.mysqlUrl, uniqueName('scaleout')),
      infra.redisUrl,
      `${uniqueName('scaleout')}:`,
    );
    await projector.start({ batchSize: 200 });
  }, 120_000);

  afterAll(async () => {
    children.forEach((c) => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL'));
    await projector?.close();
    await nc?.close();
    await cluster?.dispose();
  });

  function spawnHost(hostId: string): ChildProcess {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'scripts/run-ts.js'), join(ROOT, 'apps/actors/src/main.ts')],
      {
        env: {
          ...process.env,
          NATS_URL: cluster.urls,
          IM_STREAM_REPLICAS: '3',
          IM_HOST_ID: hostId,
          IM_LEASE_TTL_MS: String(LEASE_TTL_MS),
          LOG_LEVEL: 'error',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    children.push(child);
    return child;
  }

  function request(subject: string, body: unknown): Promise<Reply> {
    return command<Record<string, number>>(nc, subject, body);
  }

  /** Retries one operation with the same payload (dedup makes that safe) until it is answered. */
  async function settle(subject: string, body: unknown): Promise<Reply | undefined> {
    const deadline = Date.now() + OP_BUDGET_MS;
    while (Date.now() < deadline) {
      try {
        const r = await request(subject, body);
        if (r.ok || (r.error.code !== 'UNAVAILABLE' && r.error.code !== 'CONFLICT')) return r;
      } catch {
        // No responders or a timeout during a failover: not answered, try again.
      }
      await sleep(100);
    }
    return undefined;
  }

  it('every acknowledged message is in the log and MySQL exactly once, seqs have no gap, unread matches the model', async () => {
    spawnHost('A');
    spawnHost('B');
    await waitFor(
      async () => {
        const s = await hostStats(nc);
        return s.length === 2 && s.every((h) => h.partitions?.length === 16);
      },
      { timeoutMs: 90_000, intervalMs: 250, message: 'two hosts with 16 partitions each' },
    );
    for (const g of GROUPS) {
      const r = await settle(`im.cmd.conv.${g}.create`, { by: 'u0', name: g, members: USERS.slice(1) });
      expect(r?.ok).toBe(true);
    }

    // The model, from acknowledged operations only.
    const acked = new Map<string, { cid: string; seq: number }>(); // clientMsgId → where it landed
    const lastAcked = new Map<string, number>(GROUPS.map((g) => [g, 0]));
    const readSeq = new Map<string, number>(); // `${user} ${cid}` → highest readSeq answered
    const ownLast = new Map<string, number>(); // `${user} ${cid}` → seq of the user's latest message
    let sent = 0;
    let reads = 0;
    let unsettled = 0;
    let refused = 0;
    let ops = 0;
    let stop = false;
    let seed = 7;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };

    const worker = async (w: number) => {
      for (let i = 0; !stop && ops < MAX_OPS; i++) {
        ops++;
        const cid = GROUPS[rand(GROUPS.length)];
        const user = USERS[rand(USERS.length)];
        if (rand(4) > 0) {
          const clientMsgId = `w${w}-${i}`;
          sent++;
          const r = await settle(`im.cmd.conv.${cid}.send`, {
            from: user,
            clientMsgId,
            kind: 'text',
            body: clientMsgId,
          });
          if (!r) unsettled++;
          else if (!r.ok) refused++;
          else {
            acked.set(clientMsgId, { cid, seq: r.result.seq });
            lastAcked.set(cid, Math.max(lastAcked.get(cid)!, r.result.seq));
            ownLast.set(`${user} ${cid}`, Math.max(ownLast.get(`${user} ${cid}`) ?? 0, r.result.seq));
          }
        } else {
          reads++;
          const seq = 1 + rand(Math.max(1, lastAcked.get(cid)!));
          const r = await settle(`im.cmd.user.${user}.read`, { conversationId: cid, seq });
          if (!r) unsettled++;
          else if (!r.ok) refused++;
          else readSeq.set(`${user} ${cid}`, Math.max(readSeq.get(`${user} ${cid}`) ?? 0, r.result.readSeq));
        }
      }
    };
    const started = Date.now();
    const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));

    // Steady state: two hosts, no conflicts.
    await sleep(6_000);
    const before = await hostStats(nc);
    const conflictsBefore = before.reduce((s, h) => s + h.conflicts, 0);
    const ackedBeforeKills = acked.size;

    // Kill -9 the IM_EVENTS leader's nats-server and host B, together.
    const jsm = await nc.jetstreamManager();
    const leader = (await jsm.streams.info(EVENTS_STREAM)).cluster?.leader;
    const victim = cluster.servers.find((s, i) => `n${i + 1}` === leader) ?? cluster.servers[0];
    const hostB = children[1];
    await Promise.all([victim.kill(), new Promise((r) => (hostB.once('exit', r), hostB.kill('SIGKILL')))]);
    const killedAt = Date.now();
    await sleep(4_000);
    await victim.restart();
    spawnHost('B2');
    // A takes B's partitions when their leases expire; then B2 gets its share back.
    let rebalancedMs = 0;
    await waitFor(
      async () => {
        const s = await hostStats(nc);
        const ok = s.length === 2 && s.every((h) => h.partitions?.length === 16);
        if (ok) rebalancedMs = Date.now() - killedAt;
        return ok;
      },
      { timeoutMs: 90_000, intervalMs: 250, message: 'A and B2 with 16 partitions each' },
    );
    await sleep(4_000);
    stop = true;
    await load;
    const loadMs = Date.now() - started;

    // Everything the load wrote is projected. A request the client gave up on during the failover may
    // still be appended by a host after the load stopped: wait until the stream is quiet.
    let lastSeq = -1;
    await waitFor(
      async () => {
        const seen = lastSeq;
        lastSeq = (await jsm.streams.info(EVENTS_STREAM)).state.last_seq;
        await projector.waitFor(lastSeq, 60_000);
        return seen === lastSeq;
      },
      { timeoutMs: 90_000, intervalMs: 2_000, message: 'the stream to be quiet and projected' },
    );

    // The log: seqs 1..N per conversation, each acknowledged send exactly once at its acknowledged seq.
    const log = await JetStreamEventLog.create(nc);
    const logged = new Map<string, { cid: string; seq: number }>();
    let inLog = 0;
    for (const cid of GROUPS) {
      const seqs: number[] = [];
      for (const e of await log.readSubject(conversationEventSubject(cid))) {
        const ev = decodeEvent(e.data);
        if (ev.type !== 'MessageSent') continue;
        seqs.push(ev.data.seq);
        expect(logged.has(ev.data.clientMsgId)).toBe(false);
        logged.set(ev.data.clientMsgId, { cid, seq: ev.data.seq });
      }
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      inLog += seqs.length;
    }
    let lost = 0;
    for (const [id, at] of acked) if (JSON.stringify(logged.get(id)) !== JSON.stringify(at)) lost++;

    // MySQL: the same messages, once each.
    const rows = (await projector.db.dataSource.query(
      `SELECT conversation_id, seq, client_msg_id FROM messages WHERE conversation_id LIKE 'g:fault%'`,
    )) as Array<{ conversation_id: string; seq: number; client_msg_id: string }>;
    const inMysql = new Map(
      rows.map((r) => [r.client_msg_id, { cid: r.conversation_id, seq: Number(r.seq) }]),
    );
    expect(rows.length).toBe(inLog);
    expect(inMysql.size).toBe(rows.length);
    for (const [id, at] of logged) expect(inMysql.get(id)).toEqual(at);

    // Redis unread counts against the model: lastSeq − max(readSeq, joinSeq 0, own latest message).
    const lastByCid = new Map(GROUPS.map((g) => [g, 0]));
    for (const { cid, seq } of logged.values()) lastByCid.set(cid, Math.max(lastByCid.get(cid)!, seq));
    let compared = 0;
    for (const u of USERS) {
      const summary = await projector.readModel.unread(u);
      const got = new Map(summary.conversations.map((c) => [c.conversationId, c.unread]));
      for (const cid of GROUPS) {
        const effective = Math.max(readSeq.get(`${u} ${cid}`) ?? 0, ownLast.get(`${u} ${cid}`) ?? 0);
        expect({ u, cid, unread: got.get(cid) }).toEqual({
          u,
          cid,
          unread: Math.max(0, lastByCid.get(cid)! - effective),
        });
        compared++;
      }
    }

    const after = await hostStats(nc);
    console.log(
      `scale-out faults: ${sent} sends and ${reads} reads over ${(loadMs / 1000).toFixed(1)} s ` +
        `(${ackedBeforeKills} sends acknowledged before the kills); sent ${sent}, acknowledged ${acked.size}, ` +
        `in the log ${inLog}, in MySQL ${rows.length}, lost: ${lost}; unsettled ${unsettled}, refused ${refused}; ` +
        `conflicts before the kills ${conflictsBefore}, after ${after.reduce((s, h) => s + h.conflicts, 0)}; ` +
        `killed nats ${leader} (stream leader) and host B; back to 16/16 in ${rebalancedMs} ms ` +
        `(lease ttl ${LEASE_TTL_MS} ms); ${compared} unread counts compared`,
    );
    expect(conflictsBefore).toBe(0);
    expect(lost).toBe(0);
    expect(unsettled).toBe(0);
    expect(refused).toBe(0);
    expect(acked.size).toBe(sent);
    expect(inLog).toBe(acked.size);
  }, 200_000);
});
