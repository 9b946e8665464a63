import { Logger } from '@nestjs/common';
import { connect, type NatsConnection } from 'nats';

/** Options for {@link connectToNats}. */
export interface NatsConnectOptions {
  /** Server URLs, as a list or a comma-separated string (`NATS_URL`). */
  servers: string | string[];
  /** Connection name shown by the server's monitoring. */
  name: string;
  /** How long to keep trying the first connect before failing, in ms (default 30 s). */
  firstConnectTimeoutMs?: number;
}

/** Splits a comma-separated server list into trimmed URLs. */
export function parseServerList(servers: string | string[]): string[] {
  const list = Array.isArray(servers) ? servers : servers.split(',');
  return list.map((s) => s.trim()).filter((s) => s.length > 0);
}

/**
 * Connects to a list of NATS servers and reconnects forever afterwards: a restarted server or a
 * failed-over cluster node is a transient condition for Parley, never a reason to exit.
 */
export async function connectToNats(opts: NatsConnectOptions): Promise<NatsConnection> {
  const log = new Logger(`nats:${opts.name}`);
  const servers = parseServerList(opts.servers);
  const deadline = Date.now() + (opts.firstConnectTimeoutMs ?? 30_000);
  for (;;) {
    try {
      const nc = await connect({
        servers,
        name: opts.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        reconnectJitter: 100,
        pingInterval: 10_000,
        maxPingOut: 3,
        // Otherwise every request and publish captures a stack trace up front (an Error per call):
        // 20% of the actor host's CPU in the send benchmark.
        noAsyncTraces: true,
      });
      void watchStatus(nc, log);
      return nc;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      log.warn(`cannot reach ${servers.join(',')} yet: ${(err as Error).message}; retrying`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function watchStatus(nc: NatsConnection, log: Logger): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === 'disconnect' || s.type === 'reconnect') log.warn(`${s.type} ${String(s.data)}`);
    else if (s.type === 'error') log.error(`connection error ${String(s.data)}`);
  }
}
