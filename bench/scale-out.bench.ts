// Throughput of sends with one and with two actor host processes (partitioned, IM_PARTITIONING=on),
// on a private nats-server: `node scripts/run-ts.js bench/scale-out.bench.ts [sends] [r3]`.
// With `r3` the log is a private 3-node cluster with streams at 3 replicas.
import { ACTOR_STATS_SUBJECT } from '@parley/contracts';
import { connectToNats } from '@parley/event-log';
import { NatsCluster, NatsServer, waitFor } from '@parley/testing';
import { type NatsConnection, RequestStrategy } from 'nats';
import { type AppProcess, ask, pool, spawnApp } from './lib';

const dec = new TextDecoder();
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
  const children: AppProcess[] = [];
  const nc = await connectToNats({ servers: urls, name: 'bench' });
  try {
    for (let h = 0; h < hosts; h++) {
      children.push(
        spawnApp('actors', {
          NATS_URL: urls,
          IM_STREAM_REPLICAS: R3 ? '3' : '1',
          IM_HOST_ID: `bench${round}-${h}`,
          LOG_LEVEL: 'error',
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
      await ask(nc, `im.cmd.conv.${cid}.create`, { by: 'u1', name: cid, members: [] }, 10_000);
    }
    let failed = 0;
    const started = Date.now();
    await pool(SENDS, IN_FLIGHT, async (i) => {
      const body = { from: 'u1', clientMsgId: `m${i}`, kind: 'text', body: `message ${i} of the bench` };
      await ask(nc, `im.cmd.conv.${cids[i % CONVERSATIONS]}.send`, body, 30_000).catch(
        (err: { code?: string }) => {
          if (err.code) throw err; // a NATS error (timeout…) aborts the run; an error reply counts as failed
          failed++;
        },
      );
    });
    const rate = Math.round(SENDS / ((Date.now() - started) / 1000));
    console.log(
      `${hosts} actor host(s): ${SENDS} sends, ${IN_FLIGHT} in flight, ${rate} msgs/s, ${failed} failed`,
    );
    return rate;
  } finally {
    await Promise.all(children.map((c) => c.stop()));
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
