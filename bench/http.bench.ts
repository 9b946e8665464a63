/**
 * Sends through the gateway over HTTP (keep-alive, node:http) against the same sends over NATS
 * request/reply, in one run: private nats-server, MariaDB and Redis, the actor host, the projector
 * and the gateway each as its own process. 64 requests in flight on both paths.
 */
import { Agent, request } from 'node:http';
import { connectToNats } from '@parley/event-log';
import { freePort, MariaDbServer, NatsServer, RedisServer } from '@parley/testing';
import { ask, type BenchRow, median, pool, quantile, spawnActorHost, spawnApp } from './lib';

const IN_FLIGHT = 64;
const GROUPS = 50;
const SENDS = 3_000;
export async function httpBench(): Promise<BenchRow[]> {
  const [nats, mariadb, redis] = await Promise.all([
    NatsServer.start(),
    MariaDbServer.start(),
    RedisServer.start(),
  ]);
  const nc = await connectToNats({ servers: nats.url, name: 'bench-http' });
  const port = await freePort();
  const env = {
    NATS_URL: nats.url,
    MYSQL_URL: `${mariadb.url}parley`,
    REDIS_URL: redis.url,
    PORT: String(port),
    IM_DEV_AUTH: '1',
    IM_RATE_LIMIT_PER_SEC: '1000000',
    IM_RATE_LIMIT_BURST: '1000000',
  };
  const host = await spawnActorHost(nats.url, nc, env);
  const projector = spawnApp('projector', env);
  const gateway = spawnApp('gateway', env);
  const base = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 90_000;
    while ((await fetch(`${base}/health/ready`).catch(() => undefined))?.status !== 200) {
      if (Date.now() > deadline) throw new Error('gateway not ready');
      await new Promise((r) => setTimeout(r, 300));
    }
    const token = async (userId: string) =>
      ((await (await fetch(`${base}/v1/auth/dev-token`, post({ userId }))).json()) as { token: string })
        .token;
    const alice = await token('alice');
    const auth = { authorization: `Bearer ${alice}` };
    for (let g = 0; g < GROUPS; g++) {
      const r = await fetch(
        `${base}/v1/groups`,
        post({ groupId: `h${g}`, name: `h${g}`, members: ['bob'] }, auth),
      );
      if (r.status !== 201) throw new Error(`create: ${r.status} ${await r.text()}`);
    }
    const body = 'x'.repeat(120);
    const httpLat: number[] = [];
    const natsLat: number[] = [];
    const httpRates: number[] = [];
    const natsRates: number[] = [];
    const gatewayBusies: number[] = [];
    const clientBusies: number[] = [];
    // Three alternating rounds, medians quoted.
    for (let round = 0; round < 3; round++) {
      const gatewayCpu0 = gateway.cpuMs();
      const clientCpu0 = process.cpuUsage();
      // node:http with a keep-alive agent: fetch (undici) costs the client more CPU than the gateway.
      const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
      let t = performance.now();
      await pool(SENDS, IN_FLIGHT, async (i) => {
        const s = performance.now();
        const status = await httpPost(
          agent,
          port,
          `/v1/conversations/g:h${i % GROUPS}/messages`,
          JSON.stringify({ clientMsgId: `h${round}-${i}`, kind: 'text', body }),
          auth.authorization,
        );
        if (status !== 201) throw new Error(`send: ${status}`);
        httpLat.push(performance.now() - s);
      });
      agent.destroy();
      const httpWall = performance.now() - t;
      httpRates.push(SENDS / (httpWall / 1000));
      gatewayBusies.push((gateway.cpuMs() - gatewayCpu0) / httpWall);
      const clientUsage = process.cpuUsage(clientCpu0);
      clientBusies.push((clientUsage.user + clientUsage.system) / 1000 / httpWall);

      t = performance.now();
      await pool(SENDS, IN_FLIGHT, async (i) => {
        const s = performance.now();
        await ask(nc, `im.cmd.conv.g:h${i % GROUPS}.send`, {
          from: 'alice',
          clientMsgId: `n${round}-${i}`,
          kind: 'text',
          body,
        });
        natsLat.push(performance.now() - s);
      });
      natsRates.push(SENDS / ((performance.now() - t) / 1000));
    }
    const httpRate = median(httpRates);
    const natsRate = median(natsRates);
    const gatewayBusy = median(gatewayBusies);
    const clientBusy = median(clientBusies);
    return [
      { bench: 'http', case: 'sends over HTTP (keep-alive), 64 in flight', value: httpRate, unit: 'msgs/s' },
      { bench: 'http', case: 'HTTP send p99', value: quantile(httpLat, 0.99), unit: 'ms' },
      { bench: 'http', case: 'same sends over NATS request/reply', value: natsRate, unit: 'msgs/s' },
      { bench: 'http', case: 'NATS send p99', value: quantile(natsLat, 0.99), unit: 'ms' },
      { bench: 'http', case: 'ratio HTTP / NATS', value: httpRate / natsRate, unit: 'ratio' },
      {
        bench: 'http',
        case: 'gateway CPU while sending (1 = one core busy)',
        value: gatewayBusy,
        unit: 'cores',
      },
      {
        bench: 'http',
        case: 'gateway CPU per HTTP send',
        value: (gatewayBusy * 1e6) / httpRate,
        unit: 'µs',
      },
      { bench: 'http', case: 'bench client CPU while sending', value: clientBusy, unit: 'cores' },
    ];
  } finally {
    await Promise.all([gateway.stop(), projector.stop(), host.stop()]);
    await nc.close();
    await Promise.all([nats.dispose(), mariadb.dispose(), redis.dispose()]);
  }
}

function httpPost(
  agent: Agent,
  port: number,
  path: string,
  json: string,
  authorization: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(json),
          authorization,
        },
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.once('error', reject);
    req.end(json);
  });
}

function post(json: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(json),
  };
}
