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

/** An actor host running as its own process (as deployed), with a way to read its peak RSS. */
export interface HostProcess {
  child: import('node:child_process').ChildProcess;
  /** Peak resident set size so far (VmHWM), in MiB. */
  peakRssMiB(): number;
  /** CPU time (user + system) used so far, in ms. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/** Spawns `apps/actors/src/main.ts` against `natsUrl` and waits until it answers commands. */
export async function spawnActorHost(
  natsUrl: string,
  nc: import('nats').NatsConnection,
  env: Record<string, string> = {},
): Promise<HostProcess> {
  const { spawn } = await import('node:child_process');
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const root = join(__dirname, '..');
  const child = spawn(
    process.execPath,
    [join(root, 'scripts/run-ts.js'), join(root, 'apps/actors/src/main.ts')],
    {
      env: { ...process.env, NATS_URL: natsUrl, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await nc.request('im.cmd.conv.g:probe.dissolve', new TextEncoder().encode('{"by":"x"}'), {
        timeout: 500,
      });
      break;
    } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
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
