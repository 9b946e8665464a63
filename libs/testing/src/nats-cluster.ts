import { connect } from 'nats';
import { freePort } from './free-port';
import { NatsServer } from './nats-server';
import { waitFor } from './shared-infra';

/** Options of {@link NatsCluster.start}. */
export interface NatsClusterOptions {
  /** Extra arguments for every member. */
  args?: string[];
  /** How long to wait for every member to see a JetStream meta leader (ms). */
  readyTimeoutMs?: number;
}

async function jetStreamAnswers(url: string): Promise<boolean> {
  const nc = await connect({ servers: url, reconnect: false, timeout: 1_000 });
  try {
    await (await nc.jetstreamManager({ timeout: 1_000 })).getAccountInfo();
    return true;
  } finally {
    await nc.close();
  }
}

/**
 * Clustered JetStream nats-servers on 127.0.0.1 (names n1..nN, cluster `parley`, each routed to all),
 * from fresh folders, for replicated streams.
 */
export class NatsCluster {
  private constructor(
    /** The members n1..nN, in order. */
    readonly servers: NatsServer[],
  ) {}

  /** Starts `size` members and waits until JetStream has a meta leader seen through every member. */
  static async start(size = 3, opts: NatsClusterOptions = {}): Promise<NatsCluster> {
    const ports = [];
    for (let i = 0; i < size; i++) ports.push({ client: await freePort(), route: await freePort() });
    const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`);
    const started = await Promise.allSettled(
      ports.map((p, i) =>
        NatsServer.start({
          port: p.client,
          serverName: `n${i + 1}`,
          clusterName: 'parley',
          clusterPort: p.route,
          routes,
          args: opts.args,
        }),
      ),
    );
    const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const cluster = new NatsCluster(servers);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    try {
      if (failed) throw failed.reason;
      for (const s of servers) {
        await waitFor(() => jetStreamAnswers(s.url), {
          timeoutMs: opts.readyTimeoutMs ?? 30_000,
          intervalMs: 100,
          message: `a JetStream meta leader seen from ${s.url}`,
        });
      }
      return cluster;
    } catch (err) {
      const logs = servers.map((s) => `--- tail of ${s.url} log ---\n${s.logTail(10)}`).join('\n');
      await cluster.dispose();
      throw new Error(`NATS cluster did not become ready: ${(err as Error).message}\n${logs}`);
    }
  }

  /** Comma-separated client URLs of every member (what `NATS_URL` takes). */
  get urls(): string {
    return this.servers.map((s) => s.url).join(',');
  }

  /** Stops every member and removes their folders. */
  async dispose(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.dispose()));
  }
}
