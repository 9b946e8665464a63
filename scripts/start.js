#!/usr/bin/env node
// `npm start`: the whole system on one machine. Installs dependencies on a fresh clone, uses
// nats-server, MariaDB/MySQL and Redis where NATS_URL, MYSQL_URL and REDIS_URL point (default ports)
// when they answer, otherwise starts them from the installed binaries into .data/ (installing the
// Debian packages when missing), then runs the actor host, the projector and the gateway.
// Ctrl-C (or SIGTERM) stops the apps gracefully, then the servers this script started.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, writeFileSync } = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dataDir = path.resolve(process.env.PARLEY_DATA_DIR || path.join(root, '.data'));
const env = {
  NATS_URL: 'nats://127.0.0.1:4222',
  MYSQL_URL: 'mysql://root@127.0.0.1:3306/parley',
  REDIS_URL: 'redis://127.0.0.1:6379',
  IM_DEV_AUTH: '1',
  ...process.env,
};
const started = []; // child processes this script owns: [{ name, child }]
let stopping = false;

function say(line) {
  process.stdout.write(`[start] ${line}\n`);
}

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

/** Spawns a long-running child whose output is prefixed with its name. */
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

function portOf(url, fallback) {
  const first = url.split(',')[0].trim();
  return Number(new URL(first).port || fallback);
}

async function ensureNats() {
  const port = portOf(env.NATS_URL, 4222);
  if (await answers(port)) return say(`nats-server answers on ${port}`);
  const dir = path.join(dataDir, 'nats');
  mkdirSync(dir, { recursive: true });
  say(`starting nats-server (JetStream) on ${port}, data in ${dir}`);
  launch('nats', 'nats-server', ['-js', '-sd', path.join(dir, 'js'), '-a', '127.0.0.1', '-p', String(port)]);
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
  // The apps run migrations, but a database must exist for them to connect to.
  const mysql = require('mysql2/promise');
  const url = new URL(env.MYSQL_URL);
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'parley';
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const c = await mysql.createConnection({
        host: url.hostname,
        port,
        user: decodeURIComponent(url.username) || 'root',
        password: decodeURIComponent(url.password),
      });
      await c.query(`CREATE DATABASE IF NOT EXISTS \`${database.replace(/`/g, '')}\` CHARACTER SET utf8mb4`);
      await c.end();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  say('stopping: apps first (they drain), then the servers started here');
  const apps = started.filter((s) => !['nats', 'redis', 'mariadb'].includes(s.name));
  const servers = started.filter((s) => ['nats', 'redis', 'mariadb'].includes(s.name));
  await stopAll(apps, 20_000);
  await stopAll(servers, 20_000);
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

async function main() {
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
  await Promise.all([ensureNats(), ensureRedis(), ensureMysql()]);
  for (const app of ['actors', 'projector', 'gateway']) {
    launch(app, process.execPath, [path.join(root, 'scripts', 'run-ts.js'), `apps/${app}/src/main.ts`]);
  }
  say(`gateway on http://127.0.0.1:${env.PORT || 3000} (Ctrl-C stops everything)`);
}

main().catch((err) => {
  process.stderr.write(`[start] ${err.message}\n`);
  void shutdown(1);
});
