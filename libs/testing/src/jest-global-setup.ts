import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { MariaDbServer } from './mariadb-server';
import { NatsServer } from './nats-server';
import { RedisServer } from './redis-server';
import { findBinary, type ServerProcess, sweepStaleServers } from './server-process';
import { SHARED_INFRA_ENV } from './shared-infra';

/** The binaries the harness runs (looked up on PATH and in the sbin folders); docker-compose only validates the cluster file. */
export const INFRA_BINARIES = [
  'nats-server',
  'redis-server',
  'mariadbd',
  'mariadb-install-db',
  'docker-compose',
] as const;

/** Where globalSetup leaves the servers for globalTeardown (both run in jest's main process). */
export const SHARED_SERVERS_KEY = Symbol.for('parley.testing.sharedServers');

/** Runs `scripts/install-infra.sh` when a binary is missing; throws if they are still missing. */
export function ensureInfraInstalled(): void {
  const missing = () => INFRA_BINARIES.filter((b) => !findBinary(b));
  if (missing().length === 0) return;
  const script = join(__dirname, '..', '..', '..', 'scripts', 'install-infra.sh');
  const r = spawnSync('bash', [script], {
    stdio: 'inherit',
    env: { ...process.env, PARLEY_NEED_COMPOSE: '1' },
  });
  const still = missing();
  if (r.status !== 0 || still.length > 0) {
    throw new Error(
      `installing the test servers failed (${script} exited with ${r.status ?? r.signal}` +
        `${r.error ? `: ${r.error.message}` : ''}); missing: ${still.join(', ') || 'none'}`,
    );
  }
}

/** Jest globalSetup: one nats-server, redis-server and mariadbd for the whole run, started in parallel. */
export default async function globalSetup(): Promise<void> {
  sweepStaleServers();
  ensureInfraInstalled();
  const t0 = Date.now();
  const results = await Promise.allSettled([NatsServer.start(), RedisServer.start(), MariaDbServer.start()]);
  const servers = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.allSettled(servers.map((s) => s.dispose()));
    throw failed.reason;
  }
  const [nats, redis, mariadb] = servers as [NatsServer, RedisServer, MariaDbServer];
  (globalThis as Record<symbol, ServerProcess[]>)[SHARED_SERVERS_KEY] = servers;
  process.env[SHARED_INFRA_ENV.natsUrl] = nats.url;
  process.env[SHARED_INFRA_ENV.redisUrl] = redis.url;
  process.env[SHARED_INFRA_ENV.mysqlUrl] = mariadb.url;
  if (process.env.PARLEY_TEST_VERBOSE) {
    const each = servers.map((s) => `${s.url} ${s.startMs} ms`).join(', ');
    process.stderr.write(`\nparley test servers up in ${Date.now() - t0} ms: ${each}\n`);
  }
}
