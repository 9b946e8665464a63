import { setTimeout as sleep } from 'node:timers/promises';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeReply } from '@parley/contracts';
import { type NatsConnection } from 'nats';

/** Small helpers shared by the benchmark scripts. */

/** The median of a list of numbers. */
export function median(xs: number[]): number {
  return quantile(xs, 0.5);
}

/** The q-quantile (0..1) of a list of numbers, nearest rank. */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Runs `task` for each index with at most `limit` running at once. */
export async function pool(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/** One printed and recorded figure. */
export interface BenchRow {
  bench: string;
  case: string;
  value: number;
  unit: string;
  note?: string;
}

/** An app (actor host, projector, gateway) running as its own process, as deployed. */
export interface AppProcess {
  child: ChildProcess;
  /** Peak resident set size so far (VmHWM), in MiB. */
  peakRssMiB(): number;
  /** CPU time (user + system) used so far, in ms. */
  cpuMs(): number;
  /** SIGTERM (graceful shutdown), resolved once it exited. */
  stop(): Promise<void>;
}

/**
 * Spawns `apps/<app>/src/main.ts` from source. BENCH_HOST_NODE_ARGS (e.g. "--cpu-prof
 * --cpu-prof-dir=/tmp/prof") is passed to node.
 */
export function spawnApp(app: 'actors' | 'projector' | 'gateway', env: Record<string, string>): AppProcess {
  const root = join(__dirname, '..');
  const nodeArgs = (process.env.BENCH_HOST_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [...nodeArgs, join(root, 'scripts/run-ts.js'), join(root, `apps/${app}/src/main.ts`)],
    { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return {
    child,
    cpuMs: () => {
      // /proc/<pid>/stat fields 14 and 15: utime and stime in clock ticks (100 per second on Linux).
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10;
    },
    peakRssMiB: () => {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : Number.NaN;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Spawns the actor host against `natsUrl` and waits until it answers commands. */
export async function spawnActorHost(
  natsUrl: string,
  nc: NatsConnection,
  env: Record<string, string> = {},
): Promise<AppProcess> {
  const host = spawnApp('actors', { NATS_URL: natsUrl, ...env });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await nc.request('im.cmd.conv.g:probe.dissolve', encoder.encode('{"by":"x"}'), { timeout: 500 });
      return host;
    } catch (err) {
      if (Date.now() > deadline || host.child.exitCode !== null) throw err;
      await sleep(200);
    }
  }
}

const encoder = new TextEncoder();

/** A command over NATS request/reply; its result, or an error naming the subject and the error reply. */
export async function ask<T = unknown>(
  nc: NatsConnection,
  subject: string,
  payload: unknown,
  timeoutMs = 60_000,
): Promise<T> {
  const m = await nc.request(subject, encoder.encode(JSON.stringify(payload)), { timeout: timeoutMs });
  const r = decodeReply<T>(m.data);
  if (!r.ok) throw new Error(`${subject}: ${JSON.stringify(r.error)}`);
  return r.result;
}
