// Shared by scripts/start.js and scripts/cluster-local.js: finds or starts the servers (nats-server,
// redis-server, mariadbd) from the installed binaries into a data folder, launches the apps as child
// processes with prefixed output, and stops everything in order (apps first, then servers) on Ctrl-C.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, writeFileSync } = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const SERVER_NAMES = /^(nats|redis|mariadb)/;

/** True when something accepts TCP connections on host:port. */
function answers(port, host = '127.0.0.1', timeoutMs = 500) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The port of the first URL in a (comma-separated) list. */
function portOf(url, fallback) {
  const first = url.split(',')[0].trim();
  return Number(new URL(first).port || fallback);
}

/**
 * A supervisor for one script run: `tag` prefixes its own lines, `env` is what the children get,
 * `dataDir` holds the servers it starts.
 */
function createSupervisor({ tag, env, dataDir }) {
  const started = []; // child processes this run owns: [{ name, child }]
  let stopping = false;

  const say = (line) => process.stdout.write(`[${tag}] ${line}\n`);

  async function waitForPort(name, port, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await answers(port)) return;
      if (stopping) throw new Error('stopping');
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${name} did not open port ${port} within ${timeoutMs} ms (see ${dataDir})`);
  }

  function run(cmd, args, opts = {}) {
    const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
  }

  /** Spawns a long-running child whose output is prefixed with its name; its exit stops everything. */
  function launch(name, cmd, args, extraEnv = {}) {
    const child = spawn(cmd, args, {
      cwd: root,
      env: { ...env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const prefix = (stream, out) => {
      let rest = '';
      stream.on('data', (chunk) => {
        const lines = (rest + chunk.toString()).split('\n');
        rest = lines.pop();
        for (const l of lines) out.write(`[${name}] ${l}\n`);
      });
    };
    prefix(child.stdout, process.stdout);
    prefix(child.stderr, process.stderr);
    started.push({ name, child });
    child.on('exit', (code, signal) => {
      if (!stopping) {
        say(`${name} exited (${signal || code}); stopping everything`);
        void shutdown(1);
      }
    });
    return child;
  }

  /** Launches an app from source (`apps/<app>/src/main.ts`). */
  function launchApp(name, app, extraEnv = {}) {
    return launch(
      name,
      process.execPath,
      [path.join(root, 'scripts', 'run-ts.js'), `apps/${app}/src/main.ts`],
      extraEnv,
    );
  }

  /** One standalone nats-server with JetStream on NATS_URL's port, unless one answers there. */
  async function ensureNats() {
    const port = portOf(env.NATS_URL, 4222);
    if (await answers(port)) return say(`nats-server answers on ${port}`);
    const dir = path.join(dataDir, 'nats');
    mkdirSync(dir, { recursive: true });
    say(`starting nats-server (JetStream) on ${port}, data in ${dir}`);
    launch('nats', 'nats-server', [
      '-js',
      '-sd',
      path.join(dir, 'js'),
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
    ]);
    await waitForPort('nats-server', port, 15_000);
  }

  async function ensureRedis() {
    const port = portOf(env.REDIS_URL, 6379);
    if (await answers(port)) return say(`redis-server answers on ${port}`);
    const dir = path.join(dataDir, 'redis');
    mkdirSync(dir, { recursive: true });
    say(`starting redis-server on ${port}, data in ${dir}`);
    launch('redis', 'redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
    ]);
    await waitForPort('redis-server', port, 15_000);
  }

  async function ensureMysql() {
    const port = portOf(env.MYSQL_URL, 3306);
    if (!(await answers(port))) {
      const dir = path.join(dataDir, 'mariadb');
      const datadir = path.join(dir, 'data');
      if (!existsSync(path.join(datadir, 'mysql'))) {
        mkdirSync(dir, { recursive: true });
        say(`initialising a MariaDB data folder in ${datadir}`);
        run(
          'mariadb-install-db',
          [
            '--no-defaults',
            '--user=root',
            `--datadir=${datadir}`,
            '--auth-root-authentication-method=normal',
            '--skip-test-db',
          ],
          { stdio: 'ignore' },
        );
      }
      say(`starting mariadbd on ${port}`);
      launch('mariadb', 'mariadbd', [
        '--no-defaults',
        '--user=root',
        `--datadir=${datadir}`,
        '--bind-address=127.0.0.1',
        `--port=${port}`,
        `--socket=${path.join(dir, 'mysql.sock')}`,
        `--pid-file=${path.join(dir, 'mariadb.pid')}`,
        `--log-error=${path.join(dir, 'mariadb.err')}`,
      ]);
      await waitForPort('mariadbd', port, 60_000);
    } else {
      say(`MySQL answers on ${port}`);
    }
    // The apps create the database (utf8mb4_unicode_ci) and run the migrations themselves, retrying the
    // login while the server finishes starting.
  }

  /** Dependencies on a fresh clone, the Debian packages when missing, the data folder. */
  function prepare() {
    process.on('SIGINT', () => void shutdown(0));
    process.on('SIGTERM', () => void shutdown(0));
    if (!existsSync(path.join(root, 'node_modules', '.package-lock.json'))) {
      say('installing dependencies (npm ci)');
      run('npm', ['ci', '--no-audit', '--no-fund']);
    }
    run('bash', [path.join(root, 'scripts', 'install-infra.sh')]);
    process.env.PATH = `${process.env.PATH}:/usr/sbin:/sbin`;
    env.PATH = process.env.PATH;
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(path.join(dataDir, '.gitignore'), '*\n');
  }

  /** Apps first (they drain), then the servers started here; then exits with `code`. */
  async function shutdown(code) {
    if (stopping) return;
    stopping = true;
    say('stopping: apps first (they drain), then the servers started here');
    await stopAll(
      started.filter((s) => !SERVER_NAMES.test(s.name)),
      20_000,
    );
    await stopAll(
      started.filter((s) => SERVER_NAMES.test(s.name)),
      20_000,
    );
    process.exit(code);
  }

  function stopAll(list, graceMs) {
    return Promise.all(
      list.map(
        ({ child }) =>
          new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }

  return {
    say,
    run,
    launch,
    launchApp,
    waitForPort,
    ensureNats,
    ensureRedis,
    ensureMysql,
    prepare,
    shutdown,
  };
}

module.exports = { root, answers, portOf, createSupervisor };
