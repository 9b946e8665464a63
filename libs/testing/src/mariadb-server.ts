import { execFile } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2/promise';
import { processWide } from './process-wide';
import { makeTempDir, requireBinary, ServerProcess, type ServerOptions, tail } from './server-process';

const run = promisify(execFile);

/** Options of {@link MariaDbServer.start}. */
export type MariaDbServerOptions = ServerOptions;

/** InnoDB settings shared by the template and every server, so no redo log is resized at start. */
const INNODB = [
  '--innodb-buffer-pool-size=64M',
  '--innodb-log-file-size=48M',
  '--innodb-flush-log-at-trx-commit=2',
];

/** Built at most once per process; other processes race safely through the rename. */
const templates = processWide('mariadb-templates', () => new Map<string, Promise<string>>());

async function mariadbVersion(): Promise<string> {
  const { stdout } = await run(requireBinary('mariadbd'), ['--version']);
  const version = /Ver\s+(\S+)/.exec(stdout)?.[1] ?? stdout.trim();
  return version.replace(/[^A-Za-z0-9.]+/g, '-').slice(0, 60);
}

/**
 * An initialised datadir (root with an empty password, no test db) under the OS temp folder, built once
 * per machine and mariadbd version: mariadb-install-db takes a while, copying the result takes
 * milliseconds. It is built in a temp folder and renamed into place, so nobody sees half a template.
 */
export async function mariaDbTemplate(): Promise<string> {
  const template = join(tmpdir(), `parley-mariadb-template-${await mariadbVersion()}`);
  if (existsSync(join(template, 'mysql', 'mysql'))) return template;
  let building = templates.get(template);
  if (!building) {
    building = buildTemplate(template);
    templates.set(template, building);
    building.catch(() => templates.delete(template));
  }
  return building;
}

async function buildTemplate(template: string): Promise<string> {
  const building = makeTempDir('mariadb-building'); // swept if we die half-way
  try {
    const args = ['--no-defaults', '--user=root', `--datadir=${join(building, 'mysql')}`];
    args.push('--auth-root-authentication-method=normal', '--skip-test-db', ...INNODB);
    try {
      await run(requireBinary('mariadb-install-db'), args, { maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      const e = err as { message: string; stdout?: string; stderr?: string };
      const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-20).join('\n');
      throw new Error(`mariadb-install-db failed: ${e.message}\n${output}`);
    }
    await rm(join(building, '.parley-owner.json'), { force: true });
    await rename(building, template);
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    // Another process renamed its template into place first: use that one.
    if (existsSync(join(template, 'mysql', 'mysql'))) return template;
    throw err;
  }
  return template;
}

/** A mariadbd with user root and an empty password on 127.0.0.1, from a copy of the template datadir. */
export class MariaDbServer extends ServerProcess {
  private constructor(port: number, dir: string, opts: MariaDbServerOptions) {
    super(port, dir, opts);
  }

  /** Starts a server on a fresh copy of the template datadir and waits until `SELECT 1` answers. */
  static async start(opts: MariaDbServerOptions = {}): Promise<MariaDbServer> {
    const o = { startTimeoutMs: 60_000, ...opts };
    return ServerProcess.boot('mariadb', o, (port, dir) => new MariaDbServer(port, dir, o));
  }

  /** `mysql://root@127.0.0.1:<port>/` (append a database name). */
  get url(): string {
    return `mysql://root@127.0.0.1:${this.port}/`;
  }

  /** mariadbd's error log (it writes there, not to stdout). */
  get errorLog(): string {
    return join(this.dir, 'mariadb.err');
  }

  protected get name(): string {
    return 'mariadbd';
  }

  protected override async prepare(): Promise<void> {
    await run('cp', ['-a', join(await mariaDbTemplate(), 'mysql'), join(this.dir, 'mysql')]);
  }

  protected command(): { bin: string; args: string[] } {
    const d = this.dir;
    const args = [
      '--no-defaults',
      '--user=root',
      `--datadir=${join(d, 'mysql')}`,
      '--bind-address=127.0.0.1',
    ];
    args.push(`--port=${this.port}`, `--socket=${join(d, 'mysql.sock')}`);
    args.push(`--pid-file=${join(d, 'mariadb.pid')}`, `--log-error=${this.errorLog}`, `--tmpdir=${d}`);
    args.push(...INNODB, '--skip-name-resolve', '--max-connections=500', '--character-set-server=utf8mb4');
    return { bin: 'mariadbd', args: [...args, ...(this.options.args ?? [])] };
  }

  /** The tails of stdout/stderr and of the error log. */
  override logTail(lines = 30): string {
    return `${super.logTail(5)}\n${tail(this.errorLog, lines)}`;
  }

  protected async probe(): Promise<void> {
    const c = await createConnection({
      host: '127.0.0.1',
      port: this.port,
      user: 'root',
      connectTimeout: 1_000,
    });
    try {
      await c.query('SELECT 1');
    } finally {
      await c.end();
    }
  }
}
