// Throughput of sends with one and with two actor host processes (partitioned, IM_PARTITIONING=on),
// on a private nats-server: `node scripts/run-ts.js bench/scale-out.bench.ts [sends] [r3]`.
// With `r3` the log is a private 3-node cluster with streams at 3 replicas.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { ACTOR_STATS_SUBJECT } from '@parley/contracts';
import { connectToNats } from '@parley/event-log';
import { NatsCluster, NatsServer, waitFor } from '@parley/testing';
import { type NatsConnection, RequestStrategy } from 'nats';

const enc = new TextEncoder();
const dec = new TextDecoder();
const ROOT = join(__dirname, '..');
const SENDS = Number(process.argv[2] ?? 20_000);
const R3 = process.argv[3] === 'r3';
const IN_FLIGHT = 256;
const CONVERSATIONS = 64;

async function hostsServing(nc: NatsConnection): Promise<number[]> {
  const out: number[] = [];
  for await (const m of await nc.requestMany(ACTOR_STATS_SUBJECT, undefined, {
    strategy: RequestStrategy.Timer,
    maxWait: 500,
  }))
    out.push(((JSON.parse(dec.decode(m.data)) as { partitions?: number[] }).partitions ?? []).length);
  return out;
}

async function run(urls: string, hosts: number, round: number): Promise<number> {
  const children: ChildProcess[] = [];
  const nc = await connectToNats({ servers: urls, name: 'bench' });
  try {
    for (let h = 0; h < hosts; h++) {
      children.push(
        spawn(process.execPath, [join(ROOT, 'scripts/run-ts.js'), join(ROOT, 'apps/actors/src/main.ts')], {
          env: {
            ...process.env,
            NATS_URL: urls,
            IM_STREAM_REPLICAS: R3 ? '3' : '1',
            IM_HOST_ID: `bench${round}-${h}`,
            LOG_LEVEL: 'error',
          },
          stdio: ['ignore', 'ignore', 'inherit'],
        }),
      );
    }
    const share = Math.ceil(32 / hosts);
    await waitFor(
      async () => {
        const s = await hostsServing(nc);
        return s.length === hosts && s.every((n) => n >= 32 / hosts && n <= share);
      },
      { timeoutMs: 60_000, intervalMs: 200, message: `${hosts} hosts sharing the partitions` },
    );
    const cids = Array.from({ length: CONVERSATIONS }, (_, i) => `g:b${round}x${i}`);
    for (const cid of cids) {
      await nc.request(
        `im.cmd.conv.${cid}.create`,
        enc.encode(JSON.stringify({ by: 'u1', name: cid, members: [] })),
        {
          timeout: 10_000,
        },
      );
    }
    let next = 0;
    let failed = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < SENDS) {
          const i = next++;
          const body = { from: 'u1', clientMsgId: `m${i}`, kind: 'text', body: `message ${i} of the bench` };
          const m = await nc.request(
            `im.cmd.conv.${cids[i % CONVERSATIONS]}.send`,
            enc.encode(JSON.stringify(body)),
            {
              timeout: 30_000,
            },
          );
          if (!(JSON.parse(dec.decode(m.data)) as { ok: boolean }).ok) failed++;
        }
      }),
    );
    const rate = Math.round(SENDS / ((Date.now() - started) / 1000));
    console.log(
      `${hosts} actor host(s): ${SENDS} sends, ${IN_FLIGHT} in flight, ${rate} msgs/s, ${failed} failed`,
    );
    return rate;
  } finally {
    await Promise.all(children.map((c) => new Promise((r) => (c.once('exit', r), c.kill('SIGTERM')))));
    await nc.close();
  }
}

void (async () => {
  const infra = R3 ? await NatsCluster.start(3) : await NatsServer.start();
  const urls = infra instanceof NatsCluster ? infra.urls : infra.url;
  try {
    const one = await run(urls, 1, 1);
    const two = await run(urls, 2, 2);
    console.log(
      `scale-out (${R3 ? '3-node cluster, R3' : 'one nats-server, R1'}): 1 host ${one} msgs/s, 2 hosts ${two} msgs/s`,
    );
  } finally {
    await infra.dispose();
  }
})();
