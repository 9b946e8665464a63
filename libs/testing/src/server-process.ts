import { setTimeout as sleep } from 'node:timers/promises';
import { type ChildProcess, spawn } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './free-port';
import { processWide, realProcess } from './process-wide';

/** Options every server accepts. */
export interface ServerOptions {
  /** Client port (default: a free one; a port clash at start is then retried on another port). */
  port?: number;
  /** Extra command-line arguments, appended last. */
  args?: string[];
  /** How long `start`/`restart` wait for the server to accept connections (ms). */
  startTimeoutMs?: number;
  /**
   * More environment for the server process. Pass it here rather than through `process.env`, which
   * Jest gives each test file as a copy that child processes never see.
   */
  env?: Record<string, string>;
}

const OWNER_FILE = '.parley-owner.json';
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** Every server started by this OS process and not yet disposed: pid while running, and its folder. */
const registry = processWide('servers', () => ({
  pids: new Map<number, string>(),
  dirs: new Set<string>(),
  hooked: false,
}));

/** Absolute path of an executable found on PATH or in the sbin folders, if any. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN_DIRS];
  for (const dir of dirs) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Like {@link findBinary}, but throws a message that says how to install it. */
export function requireBinary(name: string): string {
  const file = findBinary(name);
  if (!file) throw new Error(`${name} is not installed: run \`bash scripts/install-infra.sh\` (as root)`);
  return file;
}

/** Synchronously SIGKILLs every server this process started and removes their folders (exit path). */
export function killAllServers(): void {
  for (const pid of registry.pids.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  registry.pids.clear();
  for (const dir of registry.dirs) rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
  registry.dirs.clear();
}

function installCleanupHooks(): void {
  if (registry.hooked) return;
  registry.hooked = true;
  const proc = realProcess();
  proc.on('exit', killAllServers);
  // Only when the exception is fatal: under jest a failing test's exception is handled and the run goes on.
  proc.on('uncaughtExceptionMonitor', () => {
    if (proc.listenerCount('uncaughtException') === 0) killAllServers();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAllServers();
      // Re-raise so the default action (or another listener) still ends the process.
      proc.removeListener(sig, onSignal);
      if (proc.listenerCount(sig) === 0) proc.kill(proc.pid, sig);
    };
    proc.on(sig, onSignal);
  }
}

/** A fresh temp folder `parley-<kind>-XXXXXX` owned by this process (swept by later runs if we die). */
export function makeTempDir(kind: string): string {
  const dir = mkdtempSync(join(tmpdir(), `parley-${kind}-`));
  writeOwner(dir);
  return dir;
}

function writeOwner(dir: string, serverPid?: number): void {
  writeFileSync(join(dir, OWNER_FILE), JSON.stringify({ ownerPid: realProcess().pid, serverPid }));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what crashed earlier runs left behind: for every `parley-*` temp folder whose owning process
 * is gone, kills its server (only if that pid still runs with this folder on its command line) and
 * deletes the folder. Folders of live runs are never touched.
 */
export function sweepStaleServers(): void {
  const root = tmpdir();
  for (const name of readdirSync(root)) {
    if (!name.startsWith('parley-') || name.startsWith('parley-mariadb-template-')) continue;
    const dir = join(root, name);
    let owner: { ownerPid?: number; serverPid?: number };
    try {
      owner = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8'));
    } catch {
      continue; // not ours, or being created right now
    }
    if (!owner.ownerPid || isAlive(owner.ownerPid)) continue;
    if (owner.serverPid && isAlive(owner.serverPid)) {
      try {
        if (readFileSync(`/proc/${owner.serverPid}/cmdline`, 'utf8').includes(dir)) {
          process.kill(owner.serverPid, 'SIGKILL');
        }
      } catch {
        // gone meanwhile, or no /proc
      }
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `setpriv --pdeathsig KILL` makes a server die with the process that spawned it, even on kill -9. */
const setpriv = process.platform === 'linux' ? findBinary('setpriv') : undefined;

/**
 * One server process on a fixed port with a data folder: `kill()` is a crash (-9), `stop()` a graceful
 * SIGTERM, `restart()` starts it again on the same port and folder so its data survives, `dispose()`
 * stops it and deletes the folder.
 */
export abstract class ServerProcess {
  /** How long the last start or restart took until the server answered (ms). */
  startMs = 0;
  private child?: ChildProcess;
  private disposed = false;

  protected constructor(
    /** The client port it listens on (127.0.0.1). */
    readonly port: number,
    /** Its temp data folder. */
    readonly dir: string,
    /** The options it was started with. */
    protected readonly options: ServerOptions,
  ) {
    registry.dirs.add(dir);
  }

  /** The URL clients connect to. */
  abstract get url(): string;
  /** Name used in messages. */
  protected abstract get name(): string;
  /** Executable name and arguments. */
  protected abstract command(): { bin: string; args: string[] };
  /** Resolves once the server answers like a client expects; rejects otherwise. */
  protected abstract probe(): Promise<void>;

  /** One-time preparation of the data folder before the first launch. */
  protected async prepare(): Promise<void> {}

  /** Where the server's stdout and stderr go. */
  get logFile(): string {
    return join(this.dir, 'server.log');
  }

  /** Whether the process is running. */
  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Pid of the running process, if any. */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /**
   * Creates a server in a new temp folder and launches it; on failure the folder is removed, and a
   * port clash on a port we picked is retried on another free port.
   */
  protected static async boot<T extends ServerProcess>(
    kind: string,
    options: ServerOptions,
    create: (port: number, dir: string) => T,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const server = create(options.port ?? (await freePort()), makeTempDir(kind));
      try {
        await server.prepare();
        return await server.launch();
      } catch (err) {
        const clash = /address already in use|EADDRINUSE|Bind on TCP\/IP port/i.test(server.logTail(50));
        await server.dispose().catch(() => undefined);
        if (options.port !== undefined || !clash || attempt >= 3) throw err;
      }
    }
  }

  /** Spawns the process and waits (bounded) until it accepts connections. */
  protected async launch(): Promise<this> {
    if (this.disposed) throw new Error(`${this.name} on port ${this.port} was disposed`);
    if (this.running) throw new Error(`${this.name} on port ${this.port} is already running`);
    installCleanupHooks();
    const { bin, args } = this.command();
    const exe = requireBinary(bin);
    const [file, argv] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', exe, ...args]] : [exe, args];
    const out = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      writeSync(out, `--- ${new Date().toISOString()} ${exe} ${args.join(' ')}\n`);
      child = spawn(file, argv, {
        stdio: ['ignore', out, out],
        detached: false,
        env: { ...process.env, ...this.options.env },
      });
    } finally {
      closeSync(out);
    }
    let spawnError: Error | undefined;
    child.once('error', (err) => (spawnError = err));
    this.child = child;
    const pid = child.pid;
    if (pid) {
      registry.pids.set(pid, this.dir);
      child.once('exit', () => registry.pids.delete(pid));
      writeOwner(this.dir, pid);
    }

    const timeoutMs = this.options.startTimeoutMs ?? 30_000;
    const t0 = Date.now();
    let lastError: unknown;
    for (;;) {
      if (spawnError) throw new Error(`${this.name} could not be spawned: ${spawnError.message}`);
      if (!this.running) {
        const how = child.signalCode ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
        throw new Error(
          `${this.name} exited (${how}) while starting on port ${this.port} in ${this.dir}\n` +
            `--- tail of its log ---\n${this.logTail()}`,
        );
      }
      try {
        await withTimeout(this.probe(), 2_000, 'probe');
        this.startMs = Date.now() - t0;
        return this;
      } catch (err) {
        lastError = err;
      }
      if (Date.now() - t0 > timeoutMs) {
        await this.kill().catch(() => undefined);
        throw new Error(
          `${this.name} did not accept connections on port ${this.port} within ${timeoutMs} ms ` +
            `(last probe error: ${(lastError as Error)?.message})\n--- tail of its log ---\n${this.logTail()}`,
        );
      }
      await sleep(50);
    }
  }

  /** Kills the server with SIGKILL (a crash) and waits until it is gone. */
  async kill(): Promise<void> {
    if (!(await this.signal('SIGKILL', 10_000))) {
      throw new Error(`${this.name} (pid ${this.child?.pid}) did not exit after SIGKILL`);
    }
  }

  /** Stops the server with SIGTERM and waits; after `timeoutMs` it is killed with SIGKILL. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (!(await this.signal('SIGTERM', timeoutMs))) await this.kill();
  }

  /** Starts it again on the same port and data folder (stopping it first if it runs). */
  async restart(): Promise<void> {
    if (this.running) await this.stop();
    await this.launch();
  }

  /** Stops the server and removes its data folder; safe to call twice. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    try {
      await this.stop(5_000);
    } finally {
      await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
      registry.dirs.delete(this.dir);
    }
  }

  /** The last lines of the server's log, for error messages. */
  logTail(lines = 30): string {
    return tail(this.logFile, lines);
  }

  private async signal(sig: NodeJS.Signals, timeoutMs: number): Promise<boolean> {
    const child = this.child;
    if (!child || !this.running) return true;
    const exited = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    child.kill(sig);
    return exited;
  }
}

/** The last `lines` lines of a text file, or a note that it does not exist. */
export function tail(file: string, lines: number): string {
  if (!existsSync(file)) return `(no ${file})`;
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}
