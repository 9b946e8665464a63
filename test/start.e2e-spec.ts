import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { connect } from 'nats';
import { freePort, waitFor } from '@parley/testing';
import { command } from './support/system';

const root = resolve(__dirname, '..');

function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = netConnect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), done(true)));
    s.once('error', () => done(false));
  });
}

/**
 * `npm start` end to end, on free ports so it never meets the machine's own servers: it starts
 * nats-server, mariadbd and redis-server into its data folder, then the three apps; the system
 * answers commands; SIGINT stops the apps and then the servers, and the script exits 0.
 */
describe('npm start (scripts/start.js)', () => {
  let child: ChildProcess | undefined;
  let dataDir: string;

  afterAll(() => {
    // When the test failed half-way, kill start.js with everything it started (its own process
    // group): killing start.js alone would leave its servers and apps running.
    if (child?.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts the servers and the apps, serves a command, and stops everything on SIGINT', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'parley-start-'));
    const [nats, mysql, redis, http] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    let output = '';
    child = spawn(process.execPath, [join(root, 'scripts/start.js')], {
      cwd: root,
      detached: true, // its own process group, see afterAll
      env: {
        ...process.env,
        PARLEY_DATA_DIR: dataDir,
        NATS_URL: `nats://127.0.0.1:${nats}`,
        MYSQL_URL: `mysql://root@127.0.0.1:${mysql}/parley`,
        REDIS_URL: `redis://127.0.0.1:${redis}`,
        PORT: String(http),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((done) => child!.once('exit', (code) => done(code)));

    // An early exit ends the wait at once (waitFor would keep an error thrown here until its timeout).
    await waitFor(
      async () => {
        if (child!.exitCode !== null) return true;
        const r = await fetch(`http://127.0.0.1:${http}/health/ready`).catch(() => undefined);
        return r?.status === 200;
      },
      { timeoutMs: 120_000, intervalMs: 500, message: 'the gateway to be ready' },
    );
    if (child.exitCode !== null) throw new Error(`start.js exited early:\n${output}`);

    const nc = await connect({ servers: `nats://127.0.0.1:${nats}` });
    try {
      const ask = (subject: string, body: unknown) => command(nc, subject, body, 10_000);
      // The apps boot in parallel: the actor host may subscribe a moment after the gateway is ready
      // (until then NATS answers "no responders").
      let created: unknown;
      await waitFor(
        async () => {
          created = await ask('im.cmd.conv.g:start.create', { by: 'alice', name: 'Start', members: ['bob'] });
          return true;
        },
        { timeoutMs: 60_000, intervalMs: 250, message: 'the actor host to answer' },
      );
      expect(created).toMatchObject({ ok: true, result: { conversationId: 'g:start' } });
      expect(
        await ask('im.cmd.conv.g:start.send', {
          from: 'alice',
          clientMsgId: 'c1',
          kind: 'text',
          body: 'hello',
        }),
      ).toMatchObject({ ok: true, result: { seq: 1, duplicate: false } });
    } finally {
      await nc.close();
    }
    // The projector ran its migrations and projected the message into MySQL.
    const db = await createConnection({ host: '127.0.0.1', port: mysql, user: 'root', database: 'parley' });
    try {
      await waitFor(
        async () => {
          const [rows] = await db.query('SELECT body FROM messages WHERE conversation_id = ? AND seq = 1', [
            'g:start',
          ]);
          return (rows as Array<{ body: string }>)[0]?.body === 'hello';
        },
        { timeoutMs: 30_000, message: 'the message in MySQL' },
      );
    } finally {
      await db.end();
    }

    child.kill('SIGINT');
    expect(await exited).toBe(0);
    for (const port of [nats, mysql, redis, http]) expect(await portOpen(port)).toBe(false);
    expect(output).toContain('starting nats-server');
    expect(output).toContain('starting mariadbd');
  }, 240_000);
});
