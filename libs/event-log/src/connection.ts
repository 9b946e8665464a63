import { setTimeout as sleep } from 'node:timers/promises';
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

/** Server URLs without credentials, plus the `user:pass` found in them (nats.js ignores URL credentials). */
export interface ServerCredentials {
  /** The URLs with any `user:pass@` removed. */
  servers: string[];
  /** User name from the URLs, if any. */
  user?: string;
  /** Password from the URLs, if any. */
  pass?: string;
}

/**
 * Takes `nats://user:pass@host:4222` apart: one NATS user per app is configured through NATS_URL
 * (docker-compose.yml), and every URL of the list must carry the same credentials (or none).
 */
export function splitCredentials(servers: string[]): ServerCredentials {
  let user: string | undefined;
  let pass: string | undefined;
  const plain = servers.map((s) => {
    const m = /^([a-z]+:\/\/)([^@/]*)@(.*)$/i.exec(s);
    if (!m) return s;
    const [name, password = ''] = m[2].split(':');
    const u = decodeURIComponent(name);
    const p = decodeURIComponent(password);
    if ((user !== undefined && user !== u) || (pass !== undefined && pass !== p)) {
      throw new Error('NATS_URL: every server must carry the same user:pass');
    }
    user = u;
    pass = p;
    return `${m[1]}${m[3]}`;
  });
  return { servers: plain, user, pass };
}

/**
 * Connects to a list of NATS servers and reconnects forever afterwards: a restarted server or a
 * failed-over cluster node is a transient condition for Parley, never a reason to exit.
 */
export async function connectToNats(opts: NatsConnectOptions): Promise<NatsConnection> {
  const log = new Logger(`nats:${opts.name}`);
  const { servers, user, pass } = splitCredentials(parseServerList(opts.servers));
  const deadline = Date.now() + (opts.firstConnectTimeoutMs ?? 30_000);
  for (;;) {
    try {
      const nc = await connect({
        servers,
        ...(user !== undefined ? { user, pass } : {}),
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
      await sleep(500);
    }
  }
}

async function watchStatus(nc: NatsConnection, log: Logger): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === 'disconnect' || s.type === 'reconnect') log.warn(`${s.type} ${String(s.data)}`);
    else if (s.type === 'error') log.error(`connection error ${String(s.data)}`);
  }
}
