#!/usr/bin/env node
// `npm start`: the whole system on one machine. Installs dependencies on a fresh clone, uses
// nats-server, MariaDB/MySQL and Redis where NATS_URL, MYSQL_URL and REDIS_URL point (default ports)
// when they answer, otherwise starts them from the installed binaries into .data/ (installing the
// Debian packages when missing), then runs the actor host, the projector and the gateway.
// Ctrl-C (or SIGTERM) stops the apps gracefully, then the servers this script started.
'use strict';
const path = require('node:path');
const { createSupervisor, root } = require('./lib/supervisor');

const env = {
  NATS_URL: 'nats://127.0.0.1:4222',
  MYSQL_URL: 'mysql://root@127.0.0.1:3306/parley',
  REDIS_URL: 'redis://127.0.0.1:6379',
  IM_DEV_AUTH: '1',
  ...process.env,
};
const dataDir = path.resolve(process.env.PARLEY_DATA_DIR || path.join(root, '.data'));
const sup = createSupervisor({ tag: 'start', env, dataDir });

async function main() {
  sup.prepare();
  await Promise.all([sup.ensureNats(), sup.ensureRedis(), sup.ensureMysql()]);
  for (const app of ['actors', 'projector', 'gateway']) sup.launchApp(app, app);
  sup.say(
    `gateway on http://127.0.0.1:${env.PORT || 3000} (web client /, API docs /docs; Ctrl-C stops everything)`,
  );
}

main().catch((err) => {
  process.stderr.write(`[start] ${err.message}\n`);
  void sup.shutdown(1);
});
