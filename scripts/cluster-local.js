#!/usr/bin/env node
// `npm run cluster:local`: the cluster of docker-compose.yml on loopback, from the installed binaries:
// three nats-server processes clustered with JetStream (streams at 3 replicas, data in
// .data/cluster/n1..n3), MySQL and Redis (found on their default ports or started like `npm start`
// does), two actor hosts sharing the partitions, the projector and the gateway.
// Ctrl-C (or SIGTERM) stops the apps gracefully, then the servers this script started.
'use strict';
const { mkdirSync } = require('node:fs');
const path = require('node:path');
const { answers, createSupervisor, root } = require('./lib/supervisor');

const base = Number(process.env.PARLEY_CLUSTER_NATS_PORT || 4231); // clients base..base+2, routes +2000
const nodes = [1, 2, 3].map((i) => ({
  name: `n${i}`,
  client: base + i - 1,
  route: base + 2000 + i - 1,
}));
const env = {
  MYSQL_URL: 'mysql://root@127.0.0.1:3306/parley_cluster', // a log of its own: its own database
  REDIS_URL: 'redis://127.0.0.1:6379',
  IM_REDIS_PREFIX: 'imc:',
  IM_DEV_AUTH: '1',
  PORT: '3000',
  ...process.env,
  NATS_URL: nodes.map((n) => `nats://127.0.0.1:${n.client}`).join(','),
  IM_STREAM_REPLICAS: '3',
};
const dataDir = path.resolve(process.env.PARLEY_DATA_DIR || path.join(root, '.data'));
const sup = createSupervisor({ tag: 'cluster', env, dataDir });

async function startNatsCluster() {
  const routes = nodes.map((n) => `nats://127.0.0.1:${n.route}`).join(',');
  for (const n of nodes) {
    if (await answers(n.client)) throw new Error(`port ${n.client} is taken (set PARLEY_CLUSTER_NATS_PORT)`);
    const dir = path.join(dataDir, 'cluster', n.name);
    mkdirSync(dir, { recursive: true });
    sup.launch(`nats-${n.name}`, 'nats-server', [
      '-js',
      '-sd',
      dir,
      '-a',
      '127.0.0.1',
      '-p',
      String(n.client),
      '--server_name',
      n.name,
      '--cluster_name',
      'parley-local',
      '--cluster',
      `nats://127.0.0.1:${n.route}`,
      '--routes',
      routes,
    ]);
  }
  await Promise.all(nodes.map((n) => sup.waitForPort(`nats-server ${n.name}`, n.client, 15_000)));
  // JetStream answers once the members elected a meta leader.
  const { connect } = require('nats');
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const nc = await connect({ servers: env.NATS_URL.split(','), timeout: 1_000 });
      try {
        await (await nc.jetstreamManager({ timeout: 1_000 })).getAccountInfo();
        return;
      } finally {
        await nc.close();
      }
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`the NATS cluster has no JetStream meta leader: ${err.message}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

async function main() {
  sup.prepare();
  await Promise.all([startNatsCluster(), sup.ensureRedis(), sup.ensureMysql()]);
  sup.launchApp('actors1', 'actors', { IM_HOST_ID: 'actors1' });
  sup.launchApp('actors2', 'actors', { IM_HOST_ID: 'actors2' });
  sup.launchApp('projector', 'projector');
  sup.launchApp('gateway', 'gateway');
  sup.say(
    `NATS cluster: ${env.NATS_URL} (JetStream, streams at 3 replicas, data in ${path.join(dataDir, 'cluster')})`,
  );
  sup.say(`MySQL ${env.MYSQL_URL}, Redis ${env.REDIS_URL} (prefix ${env.IM_REDIS_PREFIX})`);
  sup.say(`gateway on http://127.0.0.1:${env.PORT} (Ctrl-C stops everything)`);
}

main().catch((err) => {
  process.stderr.write(`[cluster] ${err.message}\n`);
  void sup.shutdown(1);
});
