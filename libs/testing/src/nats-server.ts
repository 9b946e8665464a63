import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'nats';
import { ServerProcess, type ServerOptions } from './server-process';

/** Options of {@link NatsServer.start}. */
export interface NatsServerOptions extends ServerOptions {
  /** Server name (required, and unique, in a JetStream cluster). */
  serverName?: string;
  /** Cluster name; with `clusterPort` and `routes` makes the server a cluster member. */
  clusterName?: string;
  /** Port for routes from the other members. */
  clusterPort?: number;
  /** Route URLs of all members (`nats://127.0.0.1:<clusterPort>`). */
  routes?: string[];
  /** Largest message in bytes (default 2 MiB, so a 1 MiB body reaches Parley and gets its error). */
  maxPayload?: number;
  /** More configuration, appended to the server's config file (e.g. an `authorization` block). */
  config?: string;
  /** The user the readiness probe connects as, when `config` requires authentication. */
  probeUser?: { user: string; pass: string };
}

/** A nats-server with JetStream (`-js -sd <dir>/js`) on 127.0.0.1, isolated in a temp folder. */
export class NatsServer extends ServerProcess {
  private constructor(port: number, dir: string, opts: NatsServerOptions) {
    super(port, dir, opts);
  }

  /** Starts a server and waits until JetStream answers (a cluster member: until it takes clients). */
  static async start(opts: NatsServerOptions = {}): Promise<NatsServer> {
    return ServerProcess.boot('nats', opts, (port, dir) => new NatsServer(port, dir, opts));
  }

  /** `nats://127.0.0.1:<port>`. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Whether it was started as a cluster member. */
  get clustered(): boolean {
    return this.opts.clusterPort !== undefined;
  }

  private get opts(): NatsServerOptions {
    return this.options;
  }

  protected get name(): string {
    return `nats-server${this.opts.serverName ? ` ${this.opts.serverName}` : ''}`;
  }

  protected override async prepare(): Promise<void> {
    writeFileSync(
      join(this.dir, 'nats.conf'),
      `max_payload: ${this.opts.maxPayload ?? 2 * 1024 * 1024}\n${this.opts.config ?? ''}\n`,
    );
  }

  protected command(): { bin: string; args: string[] } {
    const o = this.opts;
    const args = ['-c', join(this.dir, 'nats.conf'), '-js', '-sd', join(this.dir, 'js')];
    args.push('-a', '127.0.0.1', '-p', String(this.port));
    if (o.serverName) args.push('--server_name', o.serverName);
    if (o.clusterName) args.push('--cluster_name', o.clusterName);
    if (o.clusterPort !== undefined) args.push('--cluster', `nats://127.0.0.1:${o.clusterPort}`);
    if (o.routes?.length) args.push('--routes', o.routes.join(','));
    return { bin: 'nats-server', args: [...args, ...(o.args ?? [])] };
  }

  protected async probe(): Promise<void> {
    const nc = await connect({ servers: this.url, reconnect: false, timeout: 1_000, ...this.opts.probeUser });
    try {
      // A cluster member needs a meta leader before JetStream answers: NatsCluster waits for that.
      if (this.clustered) await nc.flush();
      else await nc.jetstreamManager({ timeout: 1_000 }); // checks the JetStream API by default
    } finally {
      await nc.close();
    }
  }
}
